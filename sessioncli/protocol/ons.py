"""Session names (ONS, SPEC §4.4): the `ons_resolve` request for a name and the decryption of its answer.

The name is lowercased; the request carries only BLAKE2b-32(name) (base64), so the node never
sees the name; the answer's `encrypted_value` opens with XChaCha20-Poly1305 under
BLAKE2b-32(name, key=BLAKE2b-32(name)) and must hold 33 bytes: a 05 Session ID.
"""

from __future__ import annotations

import base64
from typing import Any, Final

from sessioncli.errors import ProtocolError
from sessioncli.protocol import crypto
from sessioncli.protocol.ids import InvalidSessionId, parse_session_id

ONS_TYPE_SESSION: Final = 0  # oxend's ONS type for a Session ID
_NONCE_LEN: Final = 24


class OnsReplyError(ProtocolError):
    """A node's ons_resolve answer that is malformed or does not decrypt."""


def name_hash(name: str) -> bytes:
    return crypto.blake2b(name.lower().encode("utf-8"), size=32)


def resolve_params(name: str) -> dict[str, Any]:
    """The params of `oxend_request` endpoint `ons_resolve` for `name`."""
    return {"type": ONS_TYPE_SESSION, "name_hash": base64.b64encode(name_hash(name)).decode()}


def decrypt_value(name: str, ciphertext: bytes, nonce: bytes) -> str:
    """The Session ID a name's encrypted value holds (the libsession vector's computation)."""
    lowered = name.lower().encode("utf-8")
    key = crypto.blake2b(lowered, size=32, key=crypto.blake2b(lowered, size=32))
    if len(nonce) != _NONCE_LEN:
        raise OnsReplyError(f"ONS nonce must be {_NONCE_LEN} bytes, got {len(nonce)}")
    try:
        plain = crypto.xchacha20_decrypt(key, nonce + ciphertext)
    except crypto.CryptoError as exc:
        raise OnsReplyError("the ONS answer does not decrypt for this name") from exc
    if len(plain) != 33:
        raise OnsReplyError(f"the ONS answer holds {len(plain)} bytes, not a Session ID")
    try:
        return parse_session_id(plain.hex())
    except InvalidSessionId as exc:
        raise OnsReplyError(f"the ONS answer is not a Session ID: {exc}") from exc


def parse_resolve_reply(name: str, body: Any) -> str | None:
    """The Session ID from an `ons_resolve` reply body, or None when the name is not registered.

    As desktop reads it: `{"result": {"encrypted_value": hex, "nonce": hex}}`; a result without an
    encrypted value means that nothing is registered under the name.
    """
    result = body.get("result") if isinstance(body, dict) else None
    if result is not None and not isinstance(result, dict):
        raise OnsReplyError("ons_resolve: result is not an object")
    value = (result or {}).get("encrypted_value")
    if not value:
        return None
    nonce = (result or {}).get("nonce")
    if not isinstance(value, str) or not isinstance(nonce, str):
        raise OnsReplyError("ons_resolve: encrypted_value and nonce must be hex strings")
    try:
        return decrypt_value(name, bytes.fromhex(value), bytes.fromhex(nonce))
    except ValueError as exc:
        raise OnsReplyError("ons_resolve: encrypted_value or nonce is not hex") from exc
