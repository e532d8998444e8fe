"""Parameter parsing shared by the storage RPC methods: pubkeys, integers, namespaces, hashes."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from sessioncli.devnet.rpc.framing import bad


def pubkey(params: dict[str, Any]) -> str:
    value = params.get("pubkey")
    if not isinstance(value, str) or len(value) != 66:
        raise bad("pubkey must be 66 hex characters")
    try:
        bytes.fromhex(value)
    except ValueError:
        raise bad("pubkey must be 66 hex characters") from None
    return value.lower()


def integer(params: dict[str, Any], name: str, default: int | None = None) -> int:
    value = params.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int):
        if value is None:
            raise bad(f"missing required parameter '{name}'")
        raise bad(f"'{name}' must be an integer")
    return value


def namespace(params: dict[str, Any], allow_all: bool = False) -> int | None:
    value = params.get("namespace", 0)
    if allow_all and value == "all":
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not -32768 <= value <= 32767:
        raise bad("namespace must be an integer in [-32768, 32767]")
    return value


def ns_text(ns: int | None) -> str:
    """Namespace as it appears in signed strings: empty for 0, "all" for every namespace."""
    if ns is None:
        return "all"
    return "" if ns == 0 else str(ns)


def hashes(params: dict[str, Any]) -> list[str]:
    messages = params.get("messages")
    if (
        not isinstance(messages, list)
        or not messages
        or not all(isinstance(h, str) and h for h in messages)
    ):
        raise bad("messages must be a non-empty list of message hashes")
    return list(messages)


def decode_bytes(value: str, size: int) -> bytes | None:
    """Hex or base64 (padded or not) of exactly `size` bytes."""
    if len(value) == 2 * size:
        try:
            return bytes.fromhex(value)
        except ValueError:
            pass
    try:
        raw = base64.b64decode(value + "=" * (-len(value) % 4), validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw if len(raw) == size else None


def is_public_outbox(ns: int) -> bool:
    return ns < 0 and (-ns) % 20 == 1
