"""Checked readers of decoded JSON values: each returns the type asked for or raises ProtocolError."""

from __future__ import annotations

from typing import Any

from sessioncli.errors import ProtocolError


def json_object(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ProtocolError(f"{what}: expected a JSON object, got {type(value).__name__}")
    return value


def json_int(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ProtocolError(f"{what}: expected an integer")
    return value


def json_str(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise ProtocolError(f"{what}: expected a string")
    return value


def json_hex32(value: Any, what: str) -> str:
    """A 32-byte key as 64 hex characters, lowercased."""
    text = json_str(value, what).lower()
    if len(text) != 64:
        raise ProtocolError(f"{what}: expected 64 hex characters")
    try:
        bytes.fromhex(text)
    except ValueError:
        raise ProtocolError(f"{what}: not hex") from None
    return text
