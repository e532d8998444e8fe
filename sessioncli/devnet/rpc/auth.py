"""Who may act on an account: request signatures (SPEC §4.3) and the signature-time window."""

from __future__ import annotations

from typing import Any

from sessioncli.devnet import crypto
from sessioncli.devnet.node import Node
from sessioncli.devnet.rpc.framing import RpcError, bad
from sessioncli.devnet.rpc.params import decode_bytes

SIG_WINDOW_MS = 60_000
FORWARDED_WINDOW_MS = 70_000


def window_ms(forwarded: bool) -> int:
    return FORWARDED_WINDOW_MS if forwarded else SIG_WINDOW_MS


def check_time(node: Node, timestamp: int, forwarded: bool, method: str) -> None:
    if abs(timestamp - node.now_ms()) > window_ms(forwarded):
        raise RpcError(406, f"{method} timestamp too far from current time; check your clock")


def verify(params: dict[str, Any], pubkey: str, signed: str) -> None:
    """Ed25519 signature of `signed` by the account (SPEC §4.3), or 401."""
    if "subaccount" in params:
        raise RpcError(401, "subaccount authentication is not supported by the devnet")
    sig_text = params.get("signature")
    if not isinstance(sig_text, str):
        raise RpcError(401, "signature required")
    signature = decode_bytes(sig_text, 64)
    if signature is None:
        raise RpcError(401, "invalid signature encoding")
    account = bytes.fromhex(pubkey)
    prefix, key32 = account[0], account[1:]
    ed_text = params.get("pubkey_ed25519")
    if ed_text is not None:
        if prefix != 0x05:
            raise bad("pubkey_ed25519 is only permitted for 05 pubkeys")
        ed_pk = decode_bytes(ed_text, 32) if isinstance(ed_text, str) else None
        if ed_pk is None:
            raise bad("pubkey_ed25519 must be 64 hex characters")
        if crypto.ed25519_to_x25519(ed_pk) != key32:
            raise RpcError(401, "pubkey_ed25519 does not match pubkey")
    elif prefix == 0x05:
        # No Ed25519 key given: an XEd25519 signature checks against the positive Edwards point.
        ed_pk = crypto.x25519_to_positive_ed25519(key32)
    else:
        ed_pk = key32
    if not crypto.verify_ed25519(signature, signed.encode(), ed_pk):
        raise RpcError(401, "Signature verification failed")
