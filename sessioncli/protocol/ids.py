"""Session IDs and the account identity derived from a seed (seed -> Ed25519 -> X25519 -> 05 id)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# protocol.crypto (and with it PyNaCl, ~8 ms) is imported where keys are derived, not here:
# checking a Session ID (contacts, a bash Tab on a contact name) needs no cryptography.

SESSION_ID_PREFIX = "05"
SESSION_ID_HEX_LEN = 66

_HEX = re.compile(r"[0-9a-fA-F]*")


class InvalidSessionId(ValueError):
    """A string that is not a valid 05-prefixed Session ID; the message says exactly why."""


def parse_session_id(text: str) -> str:
    """Return the normalised (lowercase) Session ID or raise InvalidSessionId naming the problem."""
    value = text.strip()
    if not value:
        raise InvalidSessionId("empty Session ID")
    if not _HEX.fullmatch(value):
        bad = next(c for c in value if c not in "0123456789abcdefABCDEF")
        raise InvalidSessionId(f"Session ID must be hexadecimal (found {bad!r})")
    if len(value) != SESSION_ID_HEX_LEN:
        raise InvalidSessionId(
            f"Session ID must be {SESSION_ID_HEX_LEN} hex characters (05 + 64), got {len(value)}"
        )
    value = value.lower()
    if not value.startswith(SESSION_ID_PREFIX):
        raise InvalidSessionId(
            f"Session ID must start with 05 (got {value[:2]}; 03 is a group, 15/25 are blinded ids)"
        )
    return value


def is_session_id(text: str) -> bool:
    try:
        parse_session_id(text)
    except InvalidSessionId:
        return False
    return True


def x25519_pubkey_of(session_id: str) -> bytes:
    """The 32-byte X25519 public key inside a (valid) Session ID."""
    return bytes.fromhex(parse_session_id(session_id)[2:])


@dataclass(frozen=True)
class Identity:
    """An account's keys. Secret fields never appear in repr()."""

    seed: bytes = field(repr=False)  # 16 bytes (or 32 for legacy long seeds)
    ed25519_public: bytes = field(repr=False)
    ed25519_secret: bytes = field(repr=False)  # 64 bytes: ed seed || public key
    x25519_public: bytes = field(repr=False)
    x25519_secret: bytes = field(repr=False)
    session_id: str = ""

    @classmethod
    def from_seed(cls, seed: bytes) -> Identity:
        if len(seed) == 16:
            ed_seed = seed + bytes(16)
        elif len(seed) == 32:
            ed_seed = seed
        else:
            raise ValueError(f"seed must be 16 or 32 bytes, got {len(seed)}")
        from sessioncli.protocol import crypto

        ed_pk, ed_sk = crypto.ed25519_keypair_from_seed(ed_seed)
        x_pk = crypto.ed25519_pk_to_x25519(ed_pk)
        x_sk = crypto.ed25519_sk_to_x25519(ed_sk)
        return cls(
            seed=seed,
            ed25519_public=ed_pk,
            ed25519_secret=ed_sk,
            x25519_public=x_pk,
            x25519_secret=x_sk,
            session_id=SESSION_ID_PREFIX + x_pk.hex(),
        )

    @property
    def ed25519_seed(self) -> bytes:
        return self.ed25519_secret[:32]

    def __repr__(self) -> str:
        return f"Identity(session_id={self.session_id!r})"
