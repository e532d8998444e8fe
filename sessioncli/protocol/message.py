"""One-to-one messages, protocol v1 (SPEC §2): build Content, pad, sign, seal, wrap; and the exact reverse."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Final, Literal, get_args

from google.protobuf.message import Message

from sessioncli.errors import ProtocolError, UsageError
from sessioncli.protocol import crypto
from sessioncli.protocol.ids import Identity, InvalidSessionId, parse_session_id
from sessioncli.protocol.proto import session_pb2 as pb

# --- limits and constants --------------------------------------------------------------------

MAX_STORE_BYTES: Final = 76_800
"""Largest `data` (raw bytes, after base64 decoding) a storage server accepts in `store`."""

PAD_BLOCK: Final = 160
SOURCE_DEVICE: Final = 1
_SIG_LEN: Final = 64
_ED_PK_LEN: Final = 32
_SEALED_OVERHEAD: Final = 32 + 16  # ephemeral X25519 pk + Poly1305 tag
_EPHEMERAL_KEY: Final = b"SessionBoxEphemeralHashKey"
_V2_PREFIX: Final = b"\x00\x02"
_MAX_UINT64: Final = 2**64 - 1

Kind = Literal[
    "text",
    "message_request_response",
    "receipt",
    "typing",
    "unsend",
    "data_extraction",
    "community_invitation",
    "unknown",
]

DecodeReason = Literal[
    "bad_base64",
    "not_websocket_message",
    "not_envelope",
    "sealed_box_failed",
    "bad_signature",
    "timestamp_mismatch",
    "bad_padding",
    "v2_unsupported",
    "bad_content",
]
DECODE_REASONS: Final[frozenset[str]] = frozenset(get_args(DecodeReason))


# --- errors ----------------------------------------------------------------------------------


class MessageDecodeError(ProtocolError):
    """An incoming message that must be dropped; `reason` is one of DECODE_REASONS."""

    def __init__(self, reason: DecodeReason, detail: str = "") -> None:
        if reason not in DECODE_REASONS:  # pragma: no cover - guards the fixed set
            raise ValueError(f"unknown decode reason {reason!r}")
        text = f"message dropped: {reason}"
        super().__init__(f"{text} ({detail})" if detail else text)
        self.reason: DecodeReason = reason
        self.detail = detail


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


def pad(content: bytes) -> bytes:
    """content || 0x80 || zeros, to a multiple of 160 bytes (libsession; k zeros may be 160)."""
    zeros = PAD_BLOCK - ((len(content) + 1) % PAD_BLOCK)
    return content + b"\x80" + bytes(zeros)


def unpad(padded: bytes) -> bytes:
    """Strip trailing zeros and one 0x80 marker. Accepts the 160k and the older 160k-1 layouts.

    Like libsession and desktop, a message whose last non-zero byte is not 0x80 is taken as
    unpadded. A message with nothing but zeros (or nothing at all) raises `bad_padding`.
    """
    end = len(padded.rstrip(b"\x00"))
    if end == 0:
        raise MessageDecodeError("bad_padding", "no content before the padding")
    if padded[end - 1] == 0x80:
        return padded[: end - 1]
    return padded


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


# --- building Content ------------------------------------------------------------------------


def _check_timestamp(timestamp_ms: int) -> None:
    if not 0 < timestamp_ms <= _MAX_UINT64:
        raise ValueError(f"timestamp_ms must be a positive uint64, got {timestamp_ms}")


def _set_text(target: Message, name: str, value: str, what: str) -> None:
    try:
        setattr(target, name, value)
    except (UnicodeError, ValueError, TypeError) as exc:
        raise UsageError(f"{what} is not valid UTF-8 text") from exc


def build_text_content(
    body: str,
    timestamp_ms: int,
    *,
    display_name: str | None = None,
    sync_target: str | None = None,
) -> bytes:
    """Serialized Content{dataMessage{body, profile.displayName?, syncTarget?}, sigTimestamp}."""
    _check_timestamp(timestamp_ms)
    if not body:
        raise UsageError("the message is empty")
    content = pb.Content()
    dm = content.dataMessage
    _set_text(dm, "body", body, "the message")
    if display_name is not None:
        _set_text(dm.profile, "displayName", display_name, "the display name")
    if sync_target is not None:
        try:
            dm.syncTarget = parse_session_id(sync_target)
        except InvalidSessionId as exc:
            raise UsageError(f"sync target: {exc}") from exc
    content.sigTimestamp = timestamp_ms
    return content.SerializeToString()


def build_message_request_response(timestamp_ms: int, *, display_name: str | None = None) -> bytes:
    """Serialized Content{messageRequestResponse{isApproved: true, profile?}, sigTimestamp}.

    Official clients send this when the user replies to (accepts) a message request.
    """
    _check_timestamp(timestamp_ms)
    content = pb.Content()
    mrr = content.messageRequestResponse
    mrr.isApproved = True
    if display_name is not None:
        _set_text(mrr.profile, "displayName", display_name, "the display name")
    content.sigTimestamp = timestamp_ms
    return content.SerializeToString()


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


# --- decoded results -------------------------------------------------------------------------


@dataclass(frozen=True)
class Quote:
    """The message being replied to."""

    timestamp_ms: int
    author: str
    text: str | None = None

    def to_json_dict(self) -> dict[str, Any]:
        return {"timestamp_ms": self.timestamp_ms, "author": self.author, "text": self.text}


@dataclass(frozen=True)
class Attachment:
    """Metadata of an attachment (file server pointer); the key and digest stay out of JSON."""

    url: str | None
    content_type: str | None
    file_name: str | None
    size: int | None
    width: int | None = None
    height: int | None = None
    caption: str | None = None
    voice_message: bool = False
    file_id: int = 0
    key: bytes = field(default=b"", repr=False)
    digest: bytes = field(default=b"", repr=False)

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "content_type": self.content_type,
            "file_name": self.file_name,
            "size": self.size,
            "width": self.width,
            "height": self.height,
            "caption": self.caption,
            "voice_message": self.voice_message,
        }


@dataclass(frozen=True)
class Reaction:
    """An emoji reaction to (or its removal from) the message sent at `timestamp_ms` by `author`."""

    timestamp_ms: int
    author: str
    emoji: str | None
    action: Literal["react", "remove"]

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "timestamp_ms": self.timestamp_ms,
            "author": self.author,
            "emoji": self.emoji,
            "action": self.action,
        }


@dataclass(frozen=True)
class DecodedMessage:
    """A verified incoming one-to-one message. Fields not relevant to `kind` are None/empty."""

    sender: str  # 05 Session ID, derived from the verified Ed25519 key
    sender_ed25519: str  # hex
    timestamp_ms: int  # Envelope timestamp (= sigTimestamp when present): the message's id
    kind: Kind
    body: str | None = None
    display_name: str | None = None
    profile_picture: str | None = None
    sync_target: str | None = None
    quote: Quote | None = None
    attachments: tuple[Attachment, ...] = ()
    reaction: Reaction | None = None
    receipt_type: Literal["delivery", "read"] | None = None
    receipt_timestamps: tuple[int, ...] = ()
    typing: Literal["started", "stopped"] | None = None
    unsend_timestamp_ms: int | None = None
    unsend_author: str | None = None
    data_extraction: Literal["screenshot", "media_saved"] | None = None
    community_url: str | None = None  # a community invitation: the room URL with its key
    community_name: str | None = None
    approved: bool | None = None
    expiration_type: Literal["delete_after_read", "delete_after_send"] | None = None
    expiration_timer_s: int | None = None
    legacy: bool = False  # sender set no sigTimestamp (pre-2025 clients)
    raw_content: bytes = field(default=b"", repr=False)

    def to_json_dict(self) -> dict[str, Any]:
        """Every field but raw_content, snake_case, JSON-ready (stable keys; absent -> null)."""
        return {
            "sender": self.sender,
            "sender_ed25519": self.sender_ed25519,
            "timestamp_ms": self.timestamp_ms,
            "kind": self.kind,
            "body": self.body,
            "display_name": self.display_name,
            "profile_picture": self.profile_picture,
            "sync_target": self.sync_target,
            "quote": self.quote.to_json_dict() if self.quote else None,
            "attachments": [a.to_json_dict() for a in self.attachments],
            "reaction": self.reaction.to_json_dict() if self.reaction else None,
            "receipt_type": self.receipt_type,
            "receipt_timestamps": list(self.receipt_timestamps),
            "typing": self.typing,
            "unsend_timestamp_ms": self.unsend_timestamp_ms,
            "unsend_author": self.unsend_author,
            "data_extraction": self.data_extraction,
            "community_url": self.community_url,
            "community_name": self.community_name,
            "approved": self.approved,
            "expiration_type": self.expiration_type,
            "expiration_timer_s": self.expiration_timer_s,
            "legacy": self.legacy,
        }


# --- decoding --------------------------------------------------------------------------------


def _parse(cls: type[Message], data: bytes, reason: DecodeReason) -> Any:
    # Untrusted bytes: whatever the protobuf runtime raises (DecodeError, RecursionError on
    # deep nesting, ...) means the same thing to us.
    try:
        msg = cls.FromString(data)
    except Exception as exc:
        raise MessageDecodeError(reason, f"{cls.__name__}: {exc}") from exc
    # Python's parser does not enforce `required`; official clients (C++, protobufjs) do.
    if not msg.IsInitialized():
        raise MessageDecodeError(reason, f"{cls.__name__} lacks required fields")
    return msg


def _text(value: str | bytes) -> str:
    # proto2 string fields with invalid UTF-8 come back as bytes from the upb runtime.
    return value if isinstance(value, str) else value.decode("utf-8", "replace")


def _opt_text(msg: Message, name: str) -> str | None:
    return _text(getattr(msg, name)) if msg.HasField(name) else None


def _opt_int(msg: Message, name: str) -> int | None:
    return int(getattr(msg, name)) if msg.HasField(name) else None


@lru_cache(maxsize=4096)
def _session_id_of(ed_pk: bytes) -> str:
    # The conversion costs as much as opening the box (a subgroup check); senders repeat.
    return "05" + crypto.ed25519_pk_to_x25519(ed_pk).hex()


def open_dm(recipient: Identity, sealed: bytes) -> tuple[bytes, bytes]:
    """Open the sealed box and verify the signature: (padded plaintext, sender Ed25519 pk)."""
    try:
        pt = crypto.box_seal_open(sealed, recipient.x25519_public, recipient.x25519_secret)
    except crypto.CryptoError as exc:
        raise MessageDecodeError("sealed_box_failed", "not encrypted to this account") from exc
    if len(pt) < _ED_PK_LEN + _SIG_LEN:
        raise MessageDecodeError("bad_signature", "plaintext too short to hold a signature")
    split = len(pt) - _ED_PK_LEN - _SIG_LEN
    msg, ed_pk, sig = pt[:split], pt[split : split + _ED_PK_LEN], pt[split + _ED_PK_LEN :]
    if not crypto.verify(ed_pk, msg + ed_pk + recipient.x25519_public, sig):
        raise MessageDecodeError("bad_signature", "signature does not verify")
    return msg, ed_pk


def decode_dm(recipient: Identity, data_b64: str) -> DecodedMessage:
    """Decode, decrypt and verify one retrieved message (SPEC §2.2). Raises MessageDecodeError."""
    try:
        # Storage servers send canonical padded base64: anything else is not theirs.
        raw = binascii.a2b_base64(data_b64, strict_mode=True)
    except (binascii.Error, ValueError, TypeError) as exc:
        raise MessageDecodeError("bad_base64", str(exc)) from exc
    if raw[:1] == b"\x00":
        if raw[:2] == _V2_PREFIX:
            raise MessageDecodeError("v2_unsupported", "Session protocol v2 (PFS) message")
        raise MessageDecodeError("not_websocket_message", "reserved protocol version byte")

    ws = _parse(pb.WebSocketMessage, raw, "not_websocket_message")
    if not ws.HasField("request") or not ws.request.body:
        raise MessageDecodeError("not_websocket_message", "no request body")
    env = _parse(pb.Envelope, ws.request.body, "not_envelope")
    if not env.content:
        raise MessageDecodeError("not_envelope", "no content")

    padded, ed_pk = open_dm(recipient, env.content)
    try:
        sender = _session_id_of(ed_pk)
    except crypto.CryptoError as exc:  # libsodium also refuses keys outside the main subgroup
        raise MessageDecodeError("bad_signature", "sender key is not a usable point") from exc

    content_bytes = unpad(padded)
    content = _parse(pb.Content, content_bytes, "bad_content")
    timestamp = int(env.timestamp)
    sig_ts = int(content.sigTimestamp)
    if sig_ts and timestamp and sig_ts != timestamp:
        raise MessageDecodeError(
            "timestamp_mismatch", f"envelope says {timestamp}, signed content says {sig_ts}"
        )
    try:
        return _classify(content, content_bytes, sender, ed_pk.hex(), timestamp, legacy=not sig_ts)
    except MessageDecodeError:
        raise
    except Exception as exc:  # pragma: no cover - defensive: never leak another type
        raise MessageDecodeError("bad_content", str(exc)) from exc


_EXPIRATION: Final[dict[int, Literal["delete_after_read", "delete_after_send"]]] = {
    pb.Content.DELETE_AFTER_READ: "delete_after_read",
    pb.Content.DELETE_AFTER_SEND: "delete_after_send",
}


def _attachment(ptr: pb.AttachmentPointer) -> Attachment:
    return Attachment(
        url=_opt_text(ptr, "url"),
        content_type=_opt_text(ptr, "contentType"),
        file_name=_opt_text(ptr, "fileName"),
        size=_opt_int(ptr, "size"),
        width=_opt_int(ptr, "width"),
        height=_opt_int(ptr, "height"),
        caption=_opt_text(ptr, "caption"),
        voice_message=bool(ptr.flags & pb.AttachmentPointer.VOICE_MESSAGE),
        file_id=int(ptr.deprecated_id),
        key=bytes(ptr.key),
        digest=bytes(ptr.digest),
    )


def _is_visible(dm: pb.DataMessage) -> bool:
    return bool(
        dm.HasField("body")
        or len(dm.attachments)
        or dm.HasField("quote")
        or dm.HasField("reaction")
        or len(dm.preview)
    )


def _classify(
    content: pb.Content,
    raw: bytes,
    sender: str,
    sender_ed: str,
    timestamp: int,
    *,
    legacy: bool,
) -> DecodedMessage:
    fields: dict[str, Any] = {
        "sender": sender,
        "sender_ed25519": sender_ed,
        "timestamp_ms": timestamp,
        "legacy": legacy,
        "raw_content": raw,
        "expiration_type": _EXPIRATION.get(content.expirationType),
        "expiration_timer_s": _opt_int(content, "expirationTimer"),
    }
    kind: Kind = "unknown"
    dm = content.dataMessage
    if content.HasField("dataMessage"):
        if dm.HasField("profile"):
            fields["display_name"] = _opt_text(dm.profile, "displayName")
            fields["profile_picture"] = _opt_text(dm.profile, "profilePicture")
        fields["sync_target"] = _opt_text(dm, "syncTarget")
    if content.HasField("dataMessage") and _is_visible(dm):
        kind = "text"
        fields["body"] = _opt_text(dm, "body")
        if dm.HasField("quote"):
            q = dm.quote
            fields["quote"] = Quote(int(q.id), _text(q.author), _opt_text(q, "text"))
        fields["attachments"] = tuple(_attachment(a) for a in dm.attachments)
        if dm.HasField("reaction"):
            r = dm.reaction
            action: Literal["react", "remove"] = (
                "remove" if r.action == pb.DataMessage.Reaction.REMOVE else "react"
            )
            fields["reaction"] = Reaction(int(r.id), _text(r.author), _opt_text(r, "emoji"), action)
    elif content.HasField("dataMessage") and dm.HasField("communityInvitation"):
        # Official apps send invitations as visible messages without a body.
        kind = "community_invitation"
        fields["community_url"] = _text(dm.communityInvitation.url)
        fields["community_name"] = _text(dm.communityInvitation.name)
    elif content.HasField("messageRequestResponse"):
        kind = "message_request_response"
        mrr = content.messageRequestResponse
        fields["approved"] = bool(mrr.isApproved)
        if mrr.HasField("profile"):
            fields["display_name"] = _opt_text(mrr.profile, "displayName")
            fields["profile_picture"] = _opt_text(mrr.profile, "profilePicture")
    elif content.HasField("receiptMessage"):
        kind = "receipt"
        rm = content.receiptMessage
        fields["receipt_type"] = "read" if rm.type == pb.ReceiptMessage.READ else "delivery"
        fields["receipt_timestamps"] = tuple(int(t) for t in rm.timestamp)
    elif content.HasField("typingMessage"):
        kind = "typing"
        stopped = content.typingMessage.action == pb.TypingMessage.STOPPED
        fields["typing"] = "stopped" if stopped else "started"
    elif content.HasField("unsendRequest"):
        kind = "unsend"
        fields["unsend_timestamp_ms"] = int(content.unsendRequest.timestamp)
        fields["unsend_author"] = _text(content.unsendRequest.author)
    elif content.HasField("dataExtractionNotification"):
        kind = "data_extraction"
        den = content.dataExtractionNotification
        shot = den.type == pb.DataExtractionNotification.SCREENSHOT
        fields["data_extraction"] = "screenshot" if shot else "media_saved"
    return DecodedMessage(kind=kind, **fields)


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
