"""The devnet's Session-name registry (ONS) and oxend's `ons_resolve` answer in its real form.

oxend keeps, per name, the owner's value encrypted under a key only the name opens (SPEC §4.4,
libsession `decrypt_ons_response`): key = BLAKE2b-32(name, key = BLAKE2b-32(name)),
XChaCha20-Poly1305-IETF over the 33-byte Session ID with a 24-byte nonce chosen at registration.
Names are looked up by `name_hash` = base64 of BLAKE2b-32(lowercase name) (oxen-core
`ons::name_to_hash`, which requires the name already lower-cased; the apps lower-case it)."""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nacl import bindings as sodium

from sessioncli.devnet.crypto import blake2b
from sessioncli.devnet.errors import DevnetUsageError

SESSION_TYPE = 0
# Session/wallet names: letters, digits, '_' and '-', not starting or ending with '-'; 1-64 chars
# (oxen-core `ons::validate_ons_name` for the session type; desktop uses the same rule).
_NAME = re.compile(r"[a-z0-9_]([a-z0-9_-]{0,62}[a-z0-9_])?")
_SESSION_ID = re.compile(r"05[0-9a-f]{64}")


class OnsError(ValueError):
    """A resolve request oxend refuses; the text is what it answers."""


def name_hash(name: str) -> bytes:
    return blake2b(name.lower().encode())


def value_key(name: str) -> bytes:
    lowered = name.lower().encode()
    return blake2b(lowered, key=blake2b(lowered))


def encrypt_value(name: str, session_id: bytes, nonce: bytes) -> bytes:
    return bytes(
        sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(session_id, None, nonce, value_key(name))
    )


@dataclass(frozen=True)
class Record:
    name: str
    session_id: str
    nonce: bytes

    def resolved(self) -> dict[str, str]:
        sealed = encrypt_value(self.name, bytes.fromhex(self.session_id), self.nonce)
        return {"encrypted_value": sealed.hex(), "nonce": self.nonce.hex()}


class Registry:
    """Names by hash, kept in `path` (JSON) so a restarted devnet still knows them."""

    def __init__(self, path: Path | None = None) -> None:
        self._path = path
        self._lock = threading.Lock()
        self._by_hash: dict[bytes, Record] = {}
        if path is not None:
            self._load(path)

    def add(self, name: str, session_id: str) -> dict[str, Any]:
        lowered = name.lower()
        if not _NAME.fullmatch(lowered):
            raise DevnetUsageError(
                f"invalid Session name {name!r}: 1-64 of a-z 0-9 _ -, not starting or ending "
                "with '-'"
            )
        sid = session_id.lower()
        if not _SESSION_ID.fullmatch(sid):
            raise DevnetUsageError(f"not a Session ID (05 and 64 hex digits): {session_id!r}")
        record = Record(lowered, sid, os.urandom(24))
        with self._lock:
            self._by_hash[name_hash(lowered)] = record
            self._save()
        return self.describe(record)

    def names(self) -> list[dict[str, Any]]:
        with self._lock:
            records = sorted(self._by_hash.values(), key=lambda r: r.name)
        return [self.describe(r) for r in records]

    @staticmethod
    def describe(record: Record) -> dict[str, Any]:
        return {
            "name": record.name,
            "session_id": record.session_id,
            "name_hash": base64.b64encode(name_hash(record.name)).decode(),
        }

    def resolve(self, params: dict[str, Any]) -> dict[str, Any]:
        """oxend `ons_resolve`: `{"encrypted_value", "nonce"}`, or `{}` for an unknown name."""
        kind = params.get("type", SESSION_TYPE)
        if isinstance(kind, bool) or not isinstance(kind, int):
            raise OnsError("Invalid ONS type: expected an integer")
        wanted = _hash_param(params.get("name_hash"))
        with self._lock:
            record = self._by_hash.get(wanted)
        if record is None or kind != SESSION_TYPE:
            return {}
        return record.resolved()

    def _load(self, path: Path) -> None:
        try:
            rows = json.loads(path.read_text())
        except (OSError, ValueError):
            return
        for row in rows if isinstance(rows, list) else []:
            try:
                record = Record(
                    str(row["name"]), str(row["session_id"]), bytes.fromhex(row["nonce"])
                )
            except (KeyError, TypeError, ValueError):
                continue
            self._by_hash[name_hash(record.name)] = record

    def _save(self) -> None:
        if self._path is None:
            return
        rows = [
            {"name": r.name, "session_id": r.session_id, "nonce": r.nonce.hex()}
            for r in self._by_hash.values()
        ]
        tmp = self._path.with_name(f".{self._path.name}.tmp")
        tmp.write_text(json.dumps(rows, indent=1) + "\n")
        os.replace(tmp, self._path)


def _hash_param(value: Any) -> bytes:
    """`name_hash`: 32 bytes as base64 (43 or 44 characters) or 64 hex digits."""
    if isinstance(value, str):
        if len(value) == 64:
            try:
                return bytes.fromhex(value)
            except ValueError:
                pass
        if len(value) in (43, 44):
            try:
                raw = base64.b64decode(value.rstrip("=") + "=", validate=True)
            except (binascii.Error, ValueError):
                raw = b""
            if len(raw) == 32:
                return raw
    raise OnsError("Invalid name_hash: expected hash as 64 hex digits or 43/44 base64 characters")
