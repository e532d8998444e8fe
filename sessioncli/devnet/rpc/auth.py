"""Who may act on an account: request signatures (SPEC §4.3), subaccount tokens (GROUPS-V2 §4.3)
and the signature-time windows.

Mirrors the behaviour of `verify_signature` in session-storage-server
`oxenss/rpc/request_handler.cpp` and `signed_subaccount_token::verify`
(`oxenss/crypto/subaccount.cpp`)."""

from __future__ import annotations

from enum import IntFlag

from sessioncli.devnet import crypto
from sessioncli.devnet.node import Node
from sessioncli.devnet.rpc.fields import Auth
from sessioncli.devnet.rpc.framing import RpcError

SIGNATURE_TOLERANCE_MS = 60_000
FORWARDED_TOLERANCE_MS = 70_000


class Access(IntFlag):
    """Subaccount token flag bits (byte 1 of the token)."""

    NONE = 0
    READ = 1
    WRITE = 2
    DELETE = 4
    ANY_PREFIX = 8


def window_ms(forwarded: bool) -> int:
    return FORWARDED_TOLERANCE_MS if forwarded else SIGNATURE_TOLERANCE_MS


def signed(*parts: str | int | bytes) -> bytes:
    """The signed message: text and integers (in decimal) and raw bytes, concatenated."""
    out = bytearray()
    for part in parts:
        if isinstance(part, bytes):
            out += part
        else:
            out += str(part).encode()
    return bytes(out)


def verified(
    node: Node,
    account: str,
    auth: Auth,
    access: Access,
    message: bytes,
    *,
    skip_revoke: bool = False,
) -> bool:
    """Whether `auth` proves the account owner (or a subaccount it granted `access`) signed."""
    raw = bytes.fromhex(account)
    prefix, key = raw[0], raw[1:]
    if prefix == 0x05 and auth.pubkey_ed25519 is not None:
        # The Ed25519 key must be the one this Session ID's X25519 key was derived from.
        if crypto.ed25519_to_x25519(auth.pubkey_ed25519) != key:
            return False
        key = auth.pubkey_ed25519
    # Every other case (03 groups, 05 without pubkey_ed25519, any other prefix): the 32 bytes
    # after the prefix are the Ed25519 key itself.
    if auth.subaccount is not None:
        assert auth.subaccount_sig is not None
        token = auth.subaccount
        assert node.store is not None
        if not skip_revoke and node.store.is_revoked(account, token):
            return False
        if token[0] != prefix and not token[1] & Access.ANY_PREFIX:
            return False
        if token[1] & access != access:
            return False
        if not crypto.verify_ed25519(auth.subaccount_sig, token, key):
            return False
        key = token[4:36]
    return crypto.verify_ed25519(auth.signature, message, key)


def require_signature(
    node: Node,
    account: str,
    auth: Auth,
    access: Access,
    failure: str,
    *parts: str | int | bytes,
    skip_revoke: bool = False,
) -> None:
    """401 with `failure` (the method's own text) unless the signature over `parts` verifies."""
    if not verified(node, account, auth, access, signed(*parts), skip_revoke=skip_revoke):
        raise RpcError(401, failure)


def check_window(node: Node, ts: int, tolerance_ms: int, failure: str) -> None:
    """406 with `failure` when `ts` is further than `tolerance_ms` from the node's clock."""
    now = node.now_ms()
    if ts < now - tolerance_ms or ts > now + tolerance_ms:
        raise RpcError(406, failure)


def require_timely_signature(
    node: Node,
    account: str,
    auth: Auth,
    access: Access,
    method: str,
    timestamp: int,
    *parts: str | int | bytes,
    skip_revoke: bool = False,
) -> None:
    """A signed request's timestamp within the signature tolerance (406), then its signature
    over `method` and `parts` (401), each failing with upstream's "<method> ..." text."""
    check_window(
        node, timestamp, SIGNATURE_TOLERANCE_MS, f"{method} timestamp too far from current time"
    )
    require_signature(
        node,
        account,
        auth,
        access,
        f"{method} signature verification failed",
        method,
        *parts,
        skip_revoke=skip_revoke,
    )
