"""Groups on disk: the name index (config folder, no secrets) and each group's sealed state (0600).

A group's secrets — the admin seed, our memberAuthData and the Keys state — never touch the disk
in the clear: every group's state is one file `<identity state>/groups/<03 id>.sealed`, encrypted
with XChaCha20-Poly1305 under a key derived from the identity's Ed25519 seed, so nothing in it is
readable without the identity (issue 18 §3). The index (`groups.json`: name -> 03 id) holds no
secret; it is what the shared name namespace (core/names.py) reads.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from sessioncli import state
from sessioncli.core import names
from sessioncli.core.recipients import Target
from sessioncli.errors import ConfigError, UsageError

KIND = "group"  # this module's kind of name in sessioncli.core.names
_STATE_KEY: Final = b"sessioncli-group-state-v1"
_FORMAT: Final = 1


@dataclass(frozen=True)
class GroupEntry:
    """One named group in the index."""

    name: str
    group_id: str
    added_ms: int


def _read(item: Any) -> GroupEntry:
    entry = GroupEntry(str(item["name"]), str(item["group_id"]), int(item["added_ms"]))
    if len(entry.group_id) != 66 or not entry.group_id.startswith("03"):
        raise ValueError(entry.group_id)
    return entry


def _write(e: GroupEntry) -> dict[str, Any]:
    return {"name": e.name, "group_id": e.group_id, "added_ms": e.added_ms}


_INDEX = names.NameStore(
    kind=KIND,
    plural="groups",
    read=_read,
    write=_write,
    name_of=lambda e: e.name,
    list_command="sessioncli group list",
)


def index_path() -> Path:
    return _INDEX.path()


def list_entries() -> list[GroupEntry]:
    return _INDEX.entries()


def lookup_name(name: str) -> Target | None:
    """The group target of a group name (case-insensitive), for sessioncli.core.names."""
    found = _INDEX.find(name)
    return None if found is None else Target("group", found.group_id, name=found.name)


def lookup_id(group_id: str) -> Target | None:
    for e in _INDEX.load().values():
        if e.group_id == group_id.lower():
            return Target("group", e.group_id, name=e.name)
    return None


def all_names() -> list[str]:
    return _INDEX.names()


def entry_for(name_or_id: str) -> GroupEntry:
    """The index entry for a group name or 03 id; UsageError (exit 2) if unknown."""
    index = _INDEX.load()
    text = name_or_id.strip()
    found = index.get(text.casefold())
    if found is None:
        found = next((e for e in index.values() if e.group_id == text.lower()), None)
    if found is None:
        raise UsageError(f"unknown group {text!r}", hints=("see: sessioncli group list",))
    return found


def register(name: str, group_id: str) -> GroupEntry:
    """Name a group (the name is claimed in the shared namespace)."""
    name = names.check_name(name, kind=KIND)

    def refuse_named_group(index: dict[str, GroupEntry]) -> None:
        if any(e.group_id == group_id for e in index.values()):
            raise UsageError(f"group {group_id[:10]}… already has a name")

    return _INDEX.add(
        GroupEntry(name, group_id, int(time.time() * 1000)), refuse=refuse_named_group
    )


def free_name(wanted: str) -> str:
    """`wanted` made into a valid name nobody holds: the invite's group name, or name-2, name-3…"""
    base = "".join(c if c.isprintable() and not c.isspace() and c != "," else "-" for c in wanted)
    base = base.lstrip("-@")[:60] or "group"
    candidate, n = base, 1
    while names.looks_like_id(candidate) or names.owner(candidate) is not None:
        n += 1
        candidate = f"{base}-{n}"
    return names.check_name(candidate, kind=KIND)


def unregister(group_id: str) -> GroupEntry | None:
    with _INDEX.changing() as index:
        found = next((k for k, e in index.items() if e.group_id == group_id), None)
        return None if found is None else index.pop(found)


# --- sealed per-group state ------------------------------------------------------------------


@dataclass
class GroupSecrets:
    """Everything we keep about one group. Secret fields never appear in repr()."""

    group_id: str
    status: str  # "invited" (an invite waits for accept/decline) | "joined" | "removed"
    name: str = ""  # the group's own name (Info, or the invite's)
    group_seed: bytes | None = field(default=None, repr=False)  # admins only
    auth_data: bytes | None = field(default=None, repr=False)  # members only (memberAuthData)
    inviter: str | None = None
    invited_at_ms: int = 0
    keys_dump: bytes = field(default=b"", repr=False)
    info_dump: bytes = b""
    members_dump: bytes = b""
    kicked: bool = False


def _folder(identity_folder: Path) -> Path:
    return identity_folder / "groups"


def state_path(identity_folder: Path, group_id: str) -> Path:
    return _folder(identity_folder) / f"{group_id}.sealed"


def state_lock(identity_folder: Path) -> Path:
    return _folder(identity_folder) / ".lock"


def _state_key(ed25519_seed: bytes) -> bytes:
    from sessioncli.protocol import crypto

    return crypto.blake2b(ed25519_seed, 32, key=_STATE_KEY)


def seal(ed25519_seed: bytes, secrets: GroupSecrets) -> bytes:
    from sessioncli.protocol import crypto
    from sessioncli.protocol.groups import bencode

    body = bencode.encode(
        {
            b"v": _FORMAT,
            b"id": secrets.group_id,
            b"st": secrets.status,
            b"n": secrets.name,
            b"K": secrets.group_seed or b"",
            b"s": secrets.auth_data or b"",
            b"by": secrets.inviter or "",
            b"at": secrets.invited_at_ms,
            b"k": secrets.keys_dump,
            b"i": secrets.info_dump,
            b"m": secrets.members_dump,
            b"x": 1 if secrets.kicked else 0,
        }
    )
    return crypto.xchacha20_encrypt(_state_key(ed25519_seed), body)


def unseal(ed25519_seed: bytes, blob: bytes, group_id: str) -> GroupSecrets:
    from sessioncli.protocol import crypto
    from sessioncli.protocol.groups import bencode

    try:
        fields = bencode.decode(crypto.xchacha20_decrypt(_state_key(ed25519_seed), blob))
    except (crypto.CryptoError, bencode.BencodeError):
        raise ConfigError(
            f"group state for {group_id[:10]}… cannot be read with this identity",
            hints=("it belongs to another identity, or the file is damaged",),
        ) from None
    if (
        not isinstance(fields, dict)
        or fields.get(b"v") != _FORMAT
        or fields.get(b"id") != group_id.encode()
    ):
        raise ConfigError(f"group state for {group_id[:10]}… is not in a format this version reads")

    def text(key: bytes) -> str:
        v = fields.get(key)
        return v.decode("utf-8", "replace") if isinstance(v, bytes) else ""

    def raw(key: bytes) -> bytes:
        v = fields.get(key)
        return v if isinstance(v, bytes) else b""

    at = fields.get(b"at")
    return GroupSecrets(
        group_id=group_id,
        status=text(b"st"),
        name=text(b"n"),
        group_seed=raw(b"K") or None,
        auth_data=raw(b"s") or None,
        inviter=text(b"by") or None,
        invited_at_ms=at if isinstance(at, int) else 0,
        keys_dump=raw(b"k"),
        info_dump=raw(b"i"),
        members_dump=raw(b"m"),
        kicked=fields.get(b"x") == 1,
    )


def save(identity_folder: Path, ed25519_seed: bytes, secrets: GroupSecrets) -> None:
    state.atomic_write_bytes(
        state_path(identity_folder, secrets.group_id), seal(ed25519_seed, secrets), mode=0o600
    )


def load(identity_folder: Path, ed25519_seed: bytes, group_id: str) -> GroupSecrets | None:
    try:
        blob = state_path(identity_folder, group_id).read_bytes()
    except FileNotFoundError:
        return None
    return unseal(ed25519_seed, blob, group_id)


def load_all(identity_folder: Path, ed25519_seed: bytes) -> list[GroupSecrets]:
    folder = _folder(identity_folder)
    out: list[GroupSecrets] = []
    for path in sorted(folder.glob("03*.sealed")) if folder.is_dir() else []:
        got = load(identity_folder, ed25519_seed, path.name.removesuffix(".sealed"))
        if got is not None:
            out.append(got)
    return out


def delete(identity_folder: Path, group_id: str) -> bool:
    try:
        state_path(identity_folder, group_id).unlink()
    except FileNotFoundError:
        return False
    return True
