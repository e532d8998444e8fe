"""The address book: names for Session IDs, stored in the config folder with atomic, locked writes."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sessioncli import state
from sessioncli.core import names
from sessioncli.core.recipients import Target
from sessioncli.errors import ConfigError, UsageError
from sessioncli.protocol.ids import InvalidSessionId, parse_session_id

KIND = "contact"  # this module's kind of name in sessioncli.core.names


@dataclass(frozen=True)
class Contact:
    name: str
    session_id: str
    added_ms: int


def contacts_path() -> Path:
    return state.config_dir() / "contacts.json"


def _lock_path() -> Path:
    return state.config_dir() / ".contacts.lock"


def check_name(name: str) -> str:
    return names.check_name(name, kind=KIND)


def check_id(text: str) -> str:
    try:
        return parse_session_id(text)
    except InvalidSessionId as exc:
        raise UsageError(f"invalid Session ID {text!r}: {exc}") from None


def _load(path: Path) -> dict[str, Contact]:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return {}
    import json

    try:
        data: Any = json.loads(raw.decode("utf-8"))
        entries = data["contacts"]
        out: dict[str, Contact] = {}
        for item in entries:
            c = Contact(
                str(item["name"]), parse_session_id(str(item["session_id"])), int(item["added_ms"])
            )
            out[c.name.casefold()] = c
        return out
    except (ValueError, KeyError, TypeError, OverflowError, RecursionError, InvalidSessionId):
        raise ConfigError(
            f"contacts file {path} is damaged",
            hints=("fix or remove it; sessioncli never rewrites a file it cannot read",),
        ) from None


def _save(path: Path, contacts: dict[str, Contact]) -> None:
    items = sorted(contacts.values(), key=lambda c: c.name.casefold())
    state.atomic_write_json(
        path,
        {
            "version": 1,
            "contacts": [
                {"name": c.name, "session_id": c.session_id, "added_ms": c.added_ms} for c in items
            ],
        },
    )


def list_contacts() -> list[Contact]:
    return sorted(_load(contacts_path()).values(), key=lambda c: c.name.casefold())


def get(name: str) -> Contact:
    found = _load(contacts_path()).get(name.casefold())
    if found is None:
        raise UsageError(f"unknown contact {name!r}", hints=("see: sessioncli contacts list",))
    return found


def add(name: str, session_id: str) -> Contact:
    name = check_name(name)
    sid = check_id(session_id)
    path = contacts_path()
    with names.names_lock(), state.file_lock(_lock_path(), what="the contacts file"):
        contacts = _load(path)
        if name.casefold() in contacts:
            raise UsageError(f"a contact named {contacts[name.casefold()].name!r} already exists")
        names.claim(name, kind=KIND)
        contact = Contact(name, sid, int(time.time() * 1000))
        contacts[name.casefold()] = contact
        _save(path, contacts)
    return contact


def remove(name: str) -> Contact:
    path = contacts_path()
    with state.file_lock(_lock_path(), what="the contacts file"):
        contacts = _load(path)
        found = contacts.pop(name.casefold(), None)
        if found is None:
            raise UsageError(f"unknown contact {name!r}")
        _save(path, contacts)
    return found


def rename(old: str, new: str) -> Contact:
    new = check_name(new)
    path = contacts_path()
    with names.names_lock(), state.file_lock(_lock_path(), what="the contacts file"):
        contacts = _load(path)
        found = contacts.pop(old.casefold(), None)
        if found is None:
            raise UsageError(f"unknown contact {old!r}")
        if new.casefold() in contacts:
            raise UsageError(f"a contact named {contacts[new.casefold()].name!r} already exists")
        if new.casefold() != old.casefold():
            names.claim(new, kind=KIND)
        renamed = Contact(new, found.session_id, found.added_ms)
        contacts[new.casefold()] = renamed
        _save(path, contacts)
    return renamed


def lookup_name(name: str) -> Target | None:
    """The DM target of a contact name (case-insensitive), for sessioncli.core.names."""
    found = _load(contacts_path()).get(name.casefold())
    return None if found is None else Target("dm", found.session_id, name=found.name)


def all_names() -> list[str]:
    return [c.name for c in list_contacts()]


def resolve_recipient(text: str) -> tuple[str, str | None]:
    """(Session ID, contact name or None) for a Session ID or a contact name."""
    value = text.strip()
    if names.looks_like_id(value):
        return check_id(value), None
    try:
        contact = get(value)
    except UsageError:
        raise UsageError(
            f"unknown recipient {text!r}: not a Session ID and not a contact",
            hints=("add it with: sessioncli contacts add NAME SESSION_ID",),
        ) from None
    return contact.session_id, contact.name


_names_by_id: tuple[tuple[int, int, int, int], dict[str, str]] | None = None


def name_for(session_id: str) -> str | None:
    """The contact name of a Session ID. receive asks once per message, so the file is parsed
    again only when it changed (inode, size or mtime: every save replaces it)."""
    global _names_by_id
    path = contacts_path()
    try:
        st = path.stat()
        key: tuple[int, int, int, int] | None = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
    except OSError:
        key = None
    if key is None or _names_by_id is None or _names_by_id[0] != key:
        try:
            contacts = _load(path)
        except ConfigError:
            return None
        found: dict[str, str] = {}
        for c in contacts.values():
            found.setdefault(c.session_id, c.name)
        if key is None:
            return found.get(session_id)
        _names_by_id = (key, found)
    return _names_by_id[1].get(session_id)
