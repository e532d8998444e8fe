"""The group Keys object (ns 12): rekey, supplements, loading key messages, expiry, pending key (GROUPS-V2.md §3)."""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

from sessioncli.protocol import crypto
from sessioncli.protocol.groups import bencode
from sessioncli.protocol.groups.bencode import BencodeError, BtValue
from sessioncli.protocol.groups.multi_encrypt import decrypt_for_multiple, encrypt_for_multiple
from sessioncli.protocol.ids import parse_session_id, x25519_pubkey_of

KEY_EXPIRY_MS: Final = 2 * 30 * 24 * 3600 * 1000  # 60 days (libsession KEY_EXPIRY)
MESSAGE_KEY_MULTIPLE: Final = 75  # member key list padded with junk to a multiple of this
_SEED_HASH_KEY: Final = b"SessionGroupKeySeed"
_GEN_HASH_KEY: Final = b"SessionGroupKeyGen"
_ADMIN_HASH_KEY: Final = b"SessionGroupKeyAdminKey"
_MEMBER_DOMAIN: Final = "SessionGroupKeyMemberKey"
_JUNK_HASH_KEY: Final = b"SessionGroupJunkMembers"
_ENC_LEN: Final = 32 + 16
_MIN_SUPPLEMENT_LEN: Final = 52 + 16  # smallest encrypted {g,k,t} dict


class KeysError(ValueError):
    """A Keys message is malformed, unsigned or wrongly signed, or we lack the key to act."""


@dataclass(frozen=True, order=True)
class KeyInfo:
    """One group encryption key; `timestamp_ms` is the swarm time its message was stored."""

    generation: int
    timestamp_ms: int
    key: bytes = field(repr=False)


@dataclass(frozen=True)
class PendingKey:
    """A key we made in rekey() but have not yet read back from the swarm."""

    generation: int
    key: bytes = field(repr=False)
    message: bytes = field(repr=False)


def _seed_hash(group_seed: bytes, key: bytes) -> bytes:
    return crypto.blake2b(group_seed, 32, key=key)


@dataclass
class GroupKeys:
    """Our view of a group's keys. `group_sk` (seed || pk) makes us an admin; None: a member."""

    group_pk: bytes
    user_ed_sk: bytes = field(repr=False)
    group_sk: bytes | None = field(default=None, repr=False)
    keys: list[KeyInfo] = field(default_factory=list, repr=False)
    active: dict[int, set[str]] = field(default_factory=dict)
    pending: PendingKey | None = field(default=None, repr=False)

    @property
    def admin(self) -> bool:
        return self.group_sk is not None

    def _group_x(self) -> bytes:
        return crypto.ed25519_pk_to_x25519(self.group_pk)

    def _require_admin(self) -> bytes:
        if self.group_sk is None:
            raise KeysError("only an admin (holding the group secret key) can do this")
        return self.group_sk

    def encryption_key(self) -> bytes:
        """The key for new configs and messages: the pending key during a rekey, else the newest."""
        if self.pending is not None:
            return self.pending.key
        if not self.keys:
            raise KeysError("no group keys are known yet")
        return self.keys[-1].key

    def decryption_keys(self) -> list[bytes]:
        """Every usable key, newest first (pending first), for configs and messages."""
        out = [self.pending.key] if self.pending is not None else []
        return out + [k.key for k in reversed(self.keys)]

    @property
    def current_generation(self) -> int:
        if self.pending is not None:
            return self.pending.generation
        return self.keys[-1].generation if self.keys else 0

    def needs_rekey(self) -> bool:
        """Two different keys share the highest generation (two admins rekeyed at once)."""
        return (
            self.admin
            and len(self.keys) >= 2
            and self.keys[-1].generation == self.keys[-2].generation
        )

    def active_hashes(self) -> set[str]:
        return set().union(*self.active.values()) if self.active else set()

    # --- admin: making key messages ----------------------------------------------------------

    def rekey(self, member_session_ids: Sequence[str]) -> bytes:
        """A new full Keys message for these members (every member, admins too); the key is pending."""
        group_sk = self._require_admin()
        sids = sorted(parse_session_id(s) for s in member_session_ids)
        gen = self.keys[-1].generation + 1 if self.keys else 0
        h2 = _seed_hash(group_sk[:32], _SEED_HASH_KEY)
        h1 = crypto.blake2b("".join(sids).encode() + str(gen).encode() + h2, 56, key=_GEN_HASH_KEY)
        enc_key, nonce = h1[:32], h1[32:]
        admin_key = _seed_hash(group_sk[:32], _ADMIN_HASH_KEY)
        member_keys = encrypt_for_multiple(
            [enc_key],
            [x25519_pubkey_of(s) for s in sids],
            nonce,
            crypto.ed25519_sk_to_x25519(group_sk),
            self._group_x(),
            _MEMBER_DOMAIN,
            ignore_invalid=True,
        )
        junk = -len(member_keys) % MESSAGE_KEY_MULTIPLE
        if junk:
            seed = crypto.blake2b(h1 + group_sk, 32, key=_JUNK_HASH_KEY)
            blob = crypto.deterministic_random(_ENC_LEN * junk, seed)
            member_keys += [blob[i : i + _ENC_LEN] for i in range(0, len(blob), _ENC_LEN)]
        body: dict[bytes, BtValue] = {
            b"#": nonce,
            b"G": gen,
            b"K": crypto.xchacha20_seal(admin_key, nonce, enc_key),
            b"k": list(member_keys),
        }
        message = self._signed(body)
        self.pending = PendingKey(gen, enc_key, message)
        return message

    def key_supplement(self, session_ids: Sequence[str]) -> bytes:
        """A supplemental Keys message giving these (new) members every key we hold."""
        group_sk = self._require_admin()
        if not self.keys:
            raise KeysError("no keys to supplement")
        sids = [parse_session_id(s) for s in session_ids]
        inner = bencode.encode(
            [{b"g": k.generation, b"k": k.key, b"t": k.timestamp_ms} for k in self.keys]
        )
        h2 = _seed_hash(group_sk[:32], _SEED_HASH_KEY)
        nonce = crypto.blake2b("".join(sids).encode() + inner + h2, 24, key=_GEN_HASH_KEY)
        cts = encrypt_for_multiple(
            [inner],
            [x25519_pubkey_of(s) for s in sids],
            nonce,
            crypto.ed25519_sk_to_x25519(group_sk),
            self._group_x(),
            _MEMBER_DOMAIN,
            ignore_invalid=True,
        )
        if not cts:
            raise KeysError("no valid session ids to supplement")
        body: dict[bytes, BtValue] = {b"#": nonce, b"+": list(cts), b"G": self.keys[-1].generation}
        return self._signed(body)

    def _signed(self, body: dict[bytes, BtValue]) -> bytes:
        unsigned = bencode.encode(body)
        sig = crypto.sign(self._require_admin(), bencode.signing_bytes(unsigned))
        return bencode.append_signature(unsigned, sig)

    # --- everyone: reading key messages ------------------------------------------------------

    def _member_secret(self) -> tuple[bytes, bytes]:
        return crypto.ed25519_sk_to_x25519(self.user_ed_sk), crypto.ed25519_pk_to_x25519(
            self.user_ed_sk[32:]
        )

    def load_key_message(self, msg_hash: str, data: bytes, timestamp_ms: int) -> bool:
        """Read a Keys message stored at `timestamp_ms`; True if it gave us a key. Raises KeysError."""
        try:
            signed = bencode.decode_signed_dict(data)
        except BencodeError as exc:
            raise KeysError(f"Keys message is not valid bencode: {exc}") from exc
        if signed.signature is None or not crypto.verify(
            self.group_pk, signed.signed_bytes, signed.signature
        ):
            raise KeysError("Keys message is not signed by the group key")
        f = signed.fields
        nonce = f.get(b"#")
        if not isinstance(nonce, bytes) or len(nonce) != 24:
            raise KeysError("Keys message has no valid nonce")
        if b"+" in f:
            found, max_gen = self._read_supplement(f, nonce)
        else:
            found, max_gen = self._read_full(f, nonce, timestamp_ms)
        pending = self.pending
        if pending is not None and found and self.admin:
            # our pending rekey came back (or a newer generation superseded it)
            superseded = found[0].generation > pending.generation or found[0].key == pending.key
            self.pending = None if superseded else pending
        for k in found:
            self._insert(msg_hash, k)
        if not found:
            self.active.setdefault(max_gen, set()).add(msg_hash)
            self._remove_expired()
        return bool(found)

    def _read_supplement(self, f: dict[bytes, BtValue], nonce: bytes) -> tuple[list[KeyInfo], int]:
        cts = f[b"+"]
        if not isinstance(cts, list) or not all(
            isinstance(c, bytes) and len(c) >= _MIN_SUPPLEMENT_LEN for c in cts
        ):
            raise KeysError("supplemental key message has an invalid key info entry")
        gen = f.get(b"G")
        if not isinstance(gen, int):
            raise KeysError("supplemental key message has no max generation (G)")
        found: list[KeyInfo] = []
        if not self.admin:
            x_sk, x_pk = self._member_secret()
            plain = decrypt_for_multiple(
                (c for c in cts if isinstance(c, bytes)),
                nonce,
                x_sk,
                x_pk,
                self._group_x(),
                _MEMBER_DOMAIN,
            )
            if plain is not None:
                found = _parse_key_list(plain)
        return found, gen

    def _read_full(
        self, f: dict[bytes, BtValue], nonce: bytes, timestamp_ms: int
    ) -> tuple[list[KeyInfo], int]:
        gen = f.get(b"G")
        if not isinstance(gen, int) or gen < 0:
            raise KeysError("Keys message has no valid generation (G)")
        admin_ct = f.get(b"K")
        if not isinstance(admin_ct, bytes) or len(admin_ct) != _ENC_LEN:
            raise KeysError("Keys message has an invalid admin key (K)")
        key: bytes | None = None
        if self.group_sk is not None:
            admin_key = _seed_hash(self.group_sk[:32], _ADMIN_HASH_KEY)
            try:
                key = crypto.xchacha20_open(admin_key, nonce, admin_ct)
            except crypto.CryptoError as exc:
                raise KeysError("cannot decrypt the admin key of a Keys message") from exc
        # the member list is checked by admins too, so everyone rejects the same messages
        member_cts = f.get(b"k")
        if not isinstance(member_cts, list):
            raise KeysError("Keys message has no member key list (k)")
        if not all(isinstance(c, bytes) and len(c) == _ENC_LEN for c in member_cts):
            raise KeysError("Keys message has an invalid member key length")
        if len(member_cts) % MESSAGE_KEY_MULTIPLE:
            raise KeysError("member key list has the wrong size (missing junk padding?)")
        if key is None:
            x_sk, x_pk = self._member_secret()
            cts = (c for c in member_cts if isinstance(c, bytes))
            key = decrypt_for_multiple(cts, nonce, x_sk, x_pk, self._group_x(), _MEMBER_DOMAIN)
        if key is None or len(key) != 32:
            return [], gen
        return [KeyInfo(gen, timestamp_ms, key)], gen

    def _insert(self, msg_hash: str, new: KeyInfo) -> None:
        if any(k.generation == new.generation and k.key == new.key for k in self.keys):
            self.active.setdefault(new.generation, set()).add(msg_hash)
            return  # same key again (maybe with another timestamp): not a new key
        at = bisect.bisect_left(self.keys, new)
        if (
            len(self.keys) >= 2
            and at == 0
            and new.generation < self.keys[0].generation
            and self.keys[0].timestamp_ms + KEY_EXPIRY_MS < self.keys[-1].timestamp_ms
        ):
            return  # older than keys that have already expired: stale
        self.active.setdefault(new.generation, set()).add(msg_hash)
        self.keys.insert(at, new)
        self._remove_expired()

    def _remove_expired(self) -> None:
        """Drop a generation once a newer one has existed for 60 days (by the newest key's time)."""
        keep_from = 0
        i = 0
        while len(self.keys) >= 2:
            j = i + 1
            while j < len(self.keys) and self.keys[j].generation == self.keys[i].generation:
                i, j = j, j + 1
            if j >= len(self.keys):
                break
            if self.keys[j].timestamp_ms + KEY_EXPIRY_MS < self.keys[-1].timestamp_ms:
                keep_from = j
            else:
                break
            i = j
        del self.keys[:keep_from]
        if self.keys:
            oldest = self.keys[0].generation
            self.active = {g: h for g, h in self.active.items() if g >= oldest}
        else:
            self.active = {}

    # --- local state ----------------------------------------------------------------------

    def dump(self) -> bytes:
        """Our local state (secret: it holds keys), in libsession's dump layout."""
        state: dict[bytes, BtValue] = {
            b"A": [[g, *sorted(h.encode() for h in hs)] for g, hs in sorted(self.active.items())],
            b"L": [{b"g": k.generation, b"k": k.key, b"t": k.timestamp_ms} for k in self.keys],
        }
        if self.pending is not None:
            state[b"P"] = {
                b"c": self.pending.message,
                b"g": self.pending.generation,
                b"k": self.pending.key,
            }
        return bencode.encode(state)

    @classmethod
    def load(
        cls, dump: bytes, *, group_pk: bytes, user_ed_sk: bytes, group_sk: bytes | None
    ) -> GroupKeys:
        try:
            state = bencode.decode(dump)
        except BencodeError as exc:
            raise KeysError("invalid Keys dump") from exc
        if not isinstance(state, dict):
            raise KeysError("invalid Keys dump")
        keys = cls(group_pk, user_ed_sk, group_sk)
        for row in _list(state.get(b"A")):
            if isinstance(row, list) and row and isinstance(row[0], int):
                keys.active[row[0]] = {h.decode() for h in row[1:] if isinstance(h, bytes)}
        keys.keys = _parse_key_list(bencode.encode(_list(state.get(b"L"))))
        pending = state.get(b"P")
        if isinstance(pending, dict):
            c, g, k = pending.get(b"c"), pending.get(b"g"), pending.get(b"k")
            if (
                isinstance(c, bytes)
                and isinstance(g, int)
                and isinstance(k, bytes)
                and len(k) == 32
            ):
                keys.pending = PendingKey(g, k, c)
        return keys


def _list(value: BtValue | None) -> list[BtValue]:
    return value if isinstance(value, list) else []


def _parse_key_list(raw: bytes) -> list[KeyInfo]:
    try:
        items = bencode.decode(raw)
    except BencodeError as exc:
        raise KeysError("invalid key list") from exc
    if not isinstance(items, list):
        raise KeysError("invalid key list")
    out: list[KeyInfo] = []
    for item in items:
        if not isinstance(item, dict):
            raise KeysError("invalid key list entry")
        g, k, t = item.get(b"g"), item.get(b"k"), item.get(b"t")
        if not isinstance(g, int) or not isinstance(t, int):
            raise KeysError("key list entry lacks its generation or timestamp")
        if not isinstance(k, bytes) or len(k) != 32:
            raise KeysError("key list entry has a key of the wrong size")
        out.append(KeyInfo(g, t, k))
    return sorted(out)
