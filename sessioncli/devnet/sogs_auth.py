"""X-SOGS-* request authentication (SPEC §8, pysogs routes/auth.py): who is asking, or why not."""

from __future__ import annotations

import base64
import binascii
import time
from dataclasses import dataclass

from sessioncli.devnet import sogs_crypto
from sessioncli.devnet.lsrpc import HttpReply, HttpRequest
from sessioncli.devnet.sogs_store import SogsStore

TIMESTAMP_WINDOW = 24 * 3600
_HEADERS = ("x-sogs-pubkey", "x-sogs-nonce", "x-sogs-timestamp", "x-sogs-signature")


@dataclass(frozen=True)
class AuthUser:
    session_id: str  # "15…" (blinded) or "05…" (from an unblinded 00 key)
    blinded: bool


class AuthFailure(Exception):
    """The request carries auth headers that do not hold; `reply` is what pysogs answers."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.reply = HttpReply.text(code, message)


def _decode(value: str, size: int) -> bytes:
    """pysogs' decode_hex_or_b64: 2·size hex digits, or base64 (padded or not) of size bytes."""
    if len(value) == 2 * size:
        try:
            return bytes.fromhex(value)
        except ValueError:
            pass
    try:
        raw = base64.b64decode(value + "=" * (-len(value) % 4), validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != size:
        raise ValueError(f"expected {size} bytes")
    return raw


def authenticate(
    request: HttpRequest,
    store: SogsStore,
    server_pk: bytes,
    require_blinded: bool,
    now: float | None = None,
) -> AuthUser | None:
    """None for a request without any X-SOGS-* header; raises AuthFailure like pysogs.

    Order of checks, as upstream: all four headers (400), pubkey form and prefix (400), blinding
    required (400), nonce/signature/timestamp encoding (400), timestamp ±24 h (425), nonce reuse
    (425; the nonce is spent even if the signature then fails), signature (401)."""
    now = time.time() if now is None else now
    values = [request.headers.get(h, "") for h in _HEADERS]
    missing = sum(1 for v in values if not v)
    if missing == 4:
        return None
    if missing:
        raise AuthFailure(
            400, f"Invalid authentication headers: missing {missing}/4 required X-SOGS-* headers"
        )
    pk_text, nonce_text, ts_text, sig_text = values
    session_id, pubkey = _identity(pk_text, require_blinded)
    nonce = _field(nonce_text, 16, "X-SOGS-Nonce must be 16 bytes (encoded as base64 or hex)")
    signature = _field(sig_text, 64, "X-SOGS-Signature is not base64[88]")
    try:
        ts = int(ts_text)
    except ValueError:
        raise AuthFailure(
            400, "Invalid authentication: X-SOGS-Timestamp is not a valid timestamp"
        ) from None
    if not now - TIMESTAMP_WINDOW <= ts <= now + TIMESTAMP_WINDOW:
        raise AuthFailure(
            425, "Invalid authentication: X-SOGS-Timestamp is too far from current time"
        )
    if not store.use_nonce(session_id, nonce, now):
        raise AuthFailure(425, "Invalid authentication: X-SOGS-Nonce cannot be reused")
    message = sogs_crypto.signed_message(
        server_pk, nonce, ts_text, request.method, request.target, request.body
    )
    if not sogs_crypto.verify(signature, message, pubkey):
        raise AuthFailure(401, "Invalid authentication: X-SOGS-Signature verification failed")
    store.touch_user(session_id, now)
    return AuthUser(session_id, session_id.startswith("15"))


def _field(text: str, size: int, complaint: str) -> bytes:
    try:
        return _decode(text, size)
    except ValueError:
        raise AuthFailure(400, f"Invalid authentication: {complaint}") from None


def _identity(pk_text: str, require_blinded: bool) -> tuple[str, bytes]:
    try:
        raw = _decode(pk_text, 33)
    except ValueError:
        raise AuthFailure(
            400, "Invalid authentication: X-SOGS-Pubkey is not a valid 66-hex digit id"
        ) from None
    # Released pysogs takes 15 (blinded) and 00 (unblinded) keys; 25 keys are refused (SPEC §8).
    if raw[0] not in (0x00, 0x15):
        raise AuthFailure(400, "Invalid authentication: X-SOGS-Pubkey must be 00- or 15- prefixed")
    pubkey = raw[1:]
    if not sogs_crypto.is_valid_point(pubkey):
        raise AuthFailure(
            400, "Invalid authentication: given X-SOGS-Pubkey is not a valid Ed25519 pubkey"
        )
    if raw[0] == 0x15:
        return "15" + pubkey.hex(), pubkey
    if require_blinded:
        raise AuthFailure(
            400, "Invalid authentication: this server requires the use of blinded ids"
        )
    session_id = sogs_crypto.unblinded_session_id(pubkey)
    if session_id is None:
        raise AuthFailure(
            400, "Invalid authentication: given X-SOGS-Pubkey is not a valid Ed25519 pubkey"
        )
    return session_id, pubkey
