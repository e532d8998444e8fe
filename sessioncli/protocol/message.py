"""One-to-one messages, protocol v1 (SPEC §2): pad, sign, seal, wrap, size limits, storage hash.

Building Content lives in `message_build`, decoding in `message_decode`, the decoded shapes in
`message_models`; their public names are importable from here too, as before the split. The
decoding names load on first use (PEP 562 `__getattr__`): a send decodes nothing, and neither
they nor the protobuf runtime under them are imported by one.
"""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Final

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
from sessioncli.protocol.protowire import bytes_field, last_varint, string_field, uint64_field

if TYPE_CHECKING:
    from sessioncli.protocol.message_decode import classify_content, decode_dm, open_dm, unpad
    from sessioncli.protocol.message_models import (
        DECODE_REASONS,
        Attachment,
        DecodedMessage,
        DecodeReason,
        Kind,
        MessageDecodeError,
        Quote,
        Reaction,
    )

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


def __getattr__(name: str) -> object:
    """The decoding names, imported when first asked for (then cached in this module)."""
    value: object
    if name in _DECODE_NAMES:
        from sessioncli.protocol import message_decode

        value = getattr(message_decode, name)
    elif name in _MODEL_NAMES:
        from sessioncli.protocol import message_models

        value = getattr(message_models, name)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | _DECODE_NAMES | _MODEL_NAMES)


_DECODE_NAMES: Final = frozenset({"classify_content", "decode_dm", "open_dm", "unpad"})
_MODEL_NAMES: Final = frozenset(
    {
        "DECODE_REASONS",
        "Attachment",
        "DecodeReason",
        "DecodedMessage",
        "Kind",
        "MessageDecodeError",
        "Quote",
        "Reaction",
    }
)

# --- limits and constants --------------------------------------------------------------------

PAD_BLOCK: Final = 160
SOURCE_DEVICE: Final = 1
_SIG_LEN: Final = 64
_ED_PK_LEN: Final = 32
_SEALED_OVERHEAD: Final = 32 + 16  # ephemeral X25519 pk + Poly1305 tag
_EPHEMERAL_KEY: Final = b"SessionBoxEphemeralHashKey"
_MAX_UINT64: Final = 2**64 - 1
_ENVELOPE_SESSION_MESSAGE: Final = 6  # Envelope.Type
_WEBSOCKET_REQUEST: Final = 1  # WebSocketMessage.Type
_CONTENT_SIG_TIMESTAMP: Final = 15  # Content.sigTimestamp's field number

MAX_STORE_BYTES: Final = 76_800
"""Largest `data` (raw bytes, after base64 decoding) a storage server accepts in `store`."""


class MessageTooLarge(UsageError):
    """The encoded message would exceed the storage server's limit on `data`."""

    def __init__(self, size: int, limit: int = MAX_STORE_BYTES) -> None:
        super().__init__(
            f"message too large: it would need {size} bytes of store data, "
            f"the network accepts at most {limit} bytes",
            hints=("shorten the message (the limit counts the encrypted, padded message)",),
        )
        self.size = size
        self.limit = limit


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
    # Envelope{type SESSION_MESSAGE, timestamp, sourceDevice, content}, then
    # WebSocketMessage{type REQUEST, request{verb, path, body, id 0}}: every field set, in
    # field-number order, as session_pb2 serializes them (tests/unit/test_protowire.py).
    envelope = (
        uint64_field(1, _ENVELOPE_SESSION_MESSAGE)
        + uint64_field(5, timestamp_ms)
        + uint64_field(7, SOURCE_DEVICE)
        + bytes_field(8, sealed)
    )
    request = (
        string_field(1, verb)
        + string_field(2, path)
        + bytes_field(3, envelope)
        + uint64_field(4, 0)
    )
    return uint64_field(1, _WEBSOCKET_REQUEST) + bytes_field(2, request)


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
        # Content.sigTimestamp, read off the top level (the builders made the rest)
        sig_ts = last_varint(content, _CONTENT_SIG_TIMESTAMP) or 0
    except ValueError as exc:
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
