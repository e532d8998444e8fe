"""One-to-one messages, protocol v1 (SPEC §2): pad, sign, seal, wrap, size limits, storage hash.

Building Content lives in `message_build`, decoding in `message_decode`, the decoded shapes in
`message_models`; their public names are importable from here too, as before the split.
"""

from __future__ import annotations

import base64
from typing import Final

from sessioncli.errors import UsageError
from sessioncli.protocol import crypto
from sessioncli.protocol.ids import Identity, InvalidSessionId, parse_session_id
from sessioncli.protocol.message_build import (
    Expiration,
    ExpirationMode,
    QuotedMessage,
    build_message_request_response,
    build_reaction_content,
    build_read_receipt,
    build_text_content,
    build_unsend_request,
)
from sessioncli.protocol.message_decode import classify_content, decode_dm, open_dm, unpad
from sessioncli.protocol.message_models import (
    DECODE_REASONS,
    MAX_STORE_BYTES,
    Attachment,
    DecodedMessage,
    DecodeReason,
    Kind,
    MessageDecodeError,
    MessageTooLarge,
    Quote,
    Reaction,
)
from sessioncli.protocol.proto import session_pb2 as pb

__all__ = [
    "DECODE_REASONS",
    "MAX_STORE_BYTES",
    "PAD_BLOCK",
    "SOURCE_DEVICE",
    "Attachment",
    "DecodeReason",
    "DecodedMessage",
    "Expiration",
    "ExpirationMode",
    "Kind",
    "MessageDecodeError",
    "MessageTooLarge",
    "Quote",
    "QuotedMessage",
    "Reaction",
    "build_message_request_response",
    "build_reaction_content",
    "build_read_receipt",
    "build_text_content",
    "build_unsend_request",
    "check_size",
    "classify_content",
    "decode_dm",
    "encode_dm",
    "encoded_size",
    "max_body_bytes",
    "message_hash",
    "open_dm",
    "pad",
    "sign_and_seal",
    "store_data_size",
    "unpad",
    "wrap_envelope",
]

# --- limits and constants --------------------------------------------------------------------

PAD_BLOCK: Final = 160
SOURCE_DEVICE: Final = 1
_SIG_LEN: Final = 64
_ED_PK_LEN: Final = 32
_SEALED_OVERHEAD: Final = 32 + 16  # ephemeral X25519 pk + Poly1305 tag
_EPHEMERAL_KEY: Final = b"SessionBoxEphemeralHashKey"
_MAX_UINT64: Final = 2**64 - 1

# --- padding ---------------------------------------------------------------------------------


def _check_timestamp(timestamp_ms: int) -> None:
    if not 0 < timestamp_ms <= _MAX_UINT64:
        raise ValueError(f"timestamp_ms must be a positive uint64, got {timestamp_ms}")


def pad(content: bytes) -> bytes:
    """content || 0x80 || zeros, to a multiple of 160 bytes (libsession; k zeros may be 160)."""
    zeros = PAD_BLOCK - ((len(content) + 1) % PAD_BLOCK)
    return content + b"\x80" + bytes(zeros)


# --- size checks -----------------------------------------------------------------------------


def store_data_size(data_b64: str) -> int:
    """Raw byte length of canonical padded base64 text (what the storage server counts)."""
    n = len(data_b64)
    return n // 4 * 3 - (2 if data_b64.endswith("==") else 1 if data_b64.endswith("=") else 0)


def check_size(data_b64: str) -> None:
    """Raise MessageTooLarge if the store `data` would exceed MAX_STORE_BYTES."""
    size = store_data_size(data_b64)
    if size > MAX_STORE_BYTES:
        raise MessageTooLarge(size)


def encoded_size(content_len: int, timestamp_ms: int = _MAX_UINT64) -> int:
    """Exact raw store-data size of a DM whose serialized Content has `content_len` bytes."""
    padded = content_len + 1 + (PAD_BLOCK - ((content_len + 1) % PAD_BLOCK))
    sealed = padded + _ED_PK_LEN + _SIG_LEN + _SEALED_OVERHEAD
    return len(_wrap(bytes(sealed), timestamp_ms))


def max_body_bytes(
    *,
    display_name: str | None = None,
    sync_target: str | None = None,
    timestamp_ms: int = _MAX_UINT64,
) -> int:
    """Largest UTF-8 body (in bytes) that `build_text_content` + `encode_dm` can send.

    The default timestamp is the widest possible, so the answer is safe for any send time.
    """

    def fits(n: int) -> bool:
        content = build_text_content(
            "a" * n, timestamp_ms, display_name=display_name, sync_target=sync_target
        )
        return encoded_size(len(content), timestamp_ms) <= MAX_STORE_BYTES

    lo, hi = 0, MAX_STORE_BYTES  # fits(lo) (for lo=0 vacuously), not fits(hi)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if fits(mid):
            lo = mid
        else:
            hi = mid
    return lo


# --- encoding --------------------------------------------------------------------------------


def sign_and_seal(
    sender: Identity, recipient_x25519: bytes, plaintext: bytes, *, deterministic: bool = False
) -> bytes:
    """crypto_box_seal(plaintext || ed_pk || Ed25519(plaintext || ed_pk || Y), Y)."""
    ed_pk = sender.ed25519_public
    sig = crypto.sign(sender.ed25519_secret, plaintext + ed_pk + recipient_x25519)
    inner = plaintext + ed_pk + sig
    if not deterministic:
        return crypto.box_seal(inner, recipient_x25519)
    seed = crypto.blake2b(
        sender.ed25519_seed + recipient_x25519 + plaintext, size=32, key=_EPHEMERAL_KEY
    )
    return crypto.box_seal_deterministic(inner, recipient_x25519, seed)


def _wrap(sealed: bytes, timestamp_ms: int, *, verb: str = "", path: str = "") -> bytes:
    envelope = pb.Envelope(
        type=pb.Envelope.SESSION_MESSAGE,
        timestamp=timestamp_ms,
        sourceDevice=SOURCE_DEVICE,
        content=sealed,
    )
    ws = pb.WebSocketMessage(type=pb.WebSocketMessage.REQUEST)
    request = ws.request
    request.verb = verb
    request.path = path
    request.body = envelope.SerializeToString()
    request.id = 0
    return ws.SerializeToString()


def wrap_envelope(sealed: bytes, timestamp_ms: int, *, verb: str = "", path: str = "") -> bytes:
    """Serialized WebSocketMessage{REQUEST, request{verb, path, body=Envelope, id 0}}."""
    _check_timestamp(timestamp_ms)
    return _wrap(sealed, timestamp_ms, verb=verb, path=path)


def encode_dm(
    sender: Identity,
    recipient_session_id: str,
    content: bytes,
    timestamp_ms: int,
    *,
    deterministic: bool = False,
) -> str:
    """Base64 `data` for a store request to the recipient's swarm (namespace 0).

    `content` is a serialized Content whose sigTimestamp equals `timestamp_ms` (receivers drop
    anything else; a mismatch raises ValueError here). `deterministic` derives the ephemeral key
    from the inputs (SPEC §2.1; tests only). Raises UsageError for a bad recipient and
    MessageTooLarge when the result would exceed MAX_STORE_BYTES.
    """
    _check_timestamp(timestamp_ms)
    try:
        recipient_x = bytes.fromhex(parse_session_id(recipient_session_id)[2:])
    except InvalidSessionId as exc:
        raise UsageError(f"recipient: {exc}") from exc
    try:
        sig_ts = pb.Content.FromString(content).sigTimestamp
    except Exception as exc:
        raise ValueError("content is not a serialized Content protobuf") from exc
    if sig_ts != timestamp_ms:
        raise ValueError(
            f"content.sigTimestamp is {sig_ts}, must equal timestamp_ms {timestamp_ms}"
        )
    size = encoded_size(len(content), timestamp_ms)
    if size > MAX_STORE_BYTES:
        raise MessageTooLarge(size)
    sealed = sign_and_seal(sender, recipient_x, pad(content), deterministic=deterministic)
    return base64.b64encode(_wrap(sealed, timestamp_ms)).decode("ascii")


# --- storage-server message hash -------------------------------------------------------------


def message_hash(pubkey_hex_66: str, namespace: int, data: bytes) -> str:
    """Storage-server hash of a stored message (SPEC §4.4), 43 chars of unpadded base64.

    BLAKE2b-32(prefix byte || 32-byte pubkey || ascii(namespace) unless 0 || raw data), where
    `data` is the base64-decoded store `data`.
    """
    try:
        pubkey = bytes.fromhex(pubkey_hex_66)
    except ValueError as exc:
        raise ValueError("pubkey must be 66 hex characters") from exc
    if len(pubkey) != 33:
        raise ValueError(f"pubkey must be 66 hex characters, got {len(pubkey_hex_66)}")
    ns = str(namespace).encode("ascii") if namespace else b""
    digest = crypto.blake2b(pubkey + ns + data, size=32)
    return base64.b64encode(digest).decode("ascii").rstrip("=")
