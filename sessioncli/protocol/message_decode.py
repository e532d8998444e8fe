"""Decoding incoming one-to-one messages (SPEC §2.2): unwrap, open, verify, unpad, classify."""

from __future__ import annotations

import binascii
from functools import lru_cache
from typing import Any, Final, Literal

from google.protobuf.message import Message

from sessioncli.protocol import crypto
from sessioncli.protocol.ids import Identity
from sessioncli.protocol.message_models import (
    Attachment,
    DecodedMessage,
    DecodeReason,
    Kind,
    MessageDecodeError,
    Quote,
    Reaction,
)
from sessioncli.protocol.proto import session_pb2 as pb

_SIG_LEN: Final = 64
_ED_PK_LEN: Final = 32
_V2_PREFIX: Final = b"\x00\x02"


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
        return classify_content(
            content, content_bytes, sender, ed_pk.hex(), timestamp, legacy=not sig_ts
        )
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


def classify_content(
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
        kind = "reaction" if dm.HasField("reaction") else "text"
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
