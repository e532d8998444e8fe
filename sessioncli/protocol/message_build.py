"""Building the serialized Content of outgoing one-to-one messages (SPEC §3), field by field.

Every builder sets `sigTimestamp` (receivers drop a Content without it or with another value than
the envelope's) and returns the serialized protobuf, ready for `message.encode_dm`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal

from google.protobuf.message import Message

from sessioncli.errors import UsageError
from sessioncli.protocol.ids import InvalidSessionId, parse_session_id
from sessioncli.protocol.proto import session_pb2 as pb

_MAX_UINT64: Final = 2**64 - 1

ExpirationMode = Literal["delete_after_read", "delete_after_send"]

_EXPIRATION_TYPE: Final[dict[ExpirationMode, int]] = {
    "delete_after_read": pb.Content.DELETE_AFTER_READ,
    "delete_after_send": pb.Content.DELETE_AFTER_SEND,
}


@dataclass(frozen=True)
class Expiration:
    """A disappearing message: Content.expirationType and expirationTimer (seconds)."""

    mode: ExpirationMode
    seconds: int


@dataclass(frozen=True)
class QuotedMessage:
    """The message a reply quotes: its sent timestamp, its author's Session ID, its text."""

    timestamp_ms: int
    author: str
    text: str | None = None


def _check_timestamp(timestamp_ms: int) -> None:
    if not 0 < timestamp_ms <= _MAX_UINT64:
        raise ValueError(f"timestamp_ms must be a positive uint64, got {timestamp_ms}")


def _set_text(target: Message, name: str, value: str, what: str) -> None:
    try:
        setattr(target, name, value)
    except (UnicodeError, ValueError, TypeError) as exc:
        raise UsageError(f"{what} is not valid UTF-8 text") from exc


def _session_id(text: str, what: str) -> str:
    try:
        return parse_session_id(text)
    except InvalidSessionId as exc:
        raise UsageError(f"{what}: {exc}") from exc


def _finish(content: pb.Content, timestamp_ms: int, expiration: Expiration | None) -> bytes:
    if expiration is not None:
        if not 0 < expiration.seconds < 2**32:
            raise ValueError("expiration timer must be a positive uint32 of seconds")
        # Desktop (ExpirableMessage.contentProto) sets both fields on every message of a
        # conversation with disappearing messages on; the receiver deletes by them.
        content.expirationType = _EXPIRATION_TYPE[expiration.mode]  # type: ignore[assignment]
        content.expirationTimer = expiration.seconds
    content.sigTimestamp = timestamp_ms
    return content.SerializeToString()


def _data_message(
    content: pb.Content, display_name: str | None, sync_target: str | None
) -> pb.DataMessage:
    dm = content.dataMessage
    if display_name is not None:
        _set_text(dm.profile, "displayName", display_name, "the display name")
    if sync_target is not None:
        dm.syncTarget = _session_id(sync_target, "sync target")
    return dm


def build_text_content(
    body: str,
    timestamp_ms: int,
    *,
    display_name: str | None = None,
    sync_target: str | None = None,
    quote: QuotedMessage | None = None,
    expiration: Expiration | None = None,
) -> bytes:
    """Content{dataMessage{body, quote?, profile.displayName?, syncTarget?}, expiration?,
    sigTimestamp}.

    A quote carries id (the quoted message's sent timestamp) and author; its text goes in field 3,
    which libsession and the mobile apps read and desktop (which finds the original by id and
    author in its own database) ignores.
    """
    _check_timestamp(timestamp_ms)
    if not body:
        raise UsageError("the message is empty")
    content = pb.Content()
    dm = _data_message(content, display_name, sync_target)
    _set_text(dm, "body", body, "the message")
    if quote is not None:
        dm.quote.id = quote.timestamp_ms
        dm.quote.author = _session_id(quote.author, "quoted author")
        if quote.text:
            _set_text(dm.quote, "text", quote.text, "the quoted text")
    return _finish(content, timestamp_ms, expiration)


def build_reaction_content(
    timestamp_ms: int,
    *,
    message_timestamp_ms: int,
    author: str,
    emoji: str,
    remove: bool = False,
    display_name: str | None = None,
    sync_target: str | None = None,
) -> bytes:
    """Content{dataMessage{reaction{id, author, emoji, action}, profile?, syncTarget?}}.

    As desktop sends it: a visible message without a body whose reaction points at the message
    by its sent timestamp and its author; removing sends the same emoji with action REMOVE.
    """
    _check_timestamp(timestamp_ms)
    _check_timestamp(message_timestamp_ms)
    content = pb.Content()
    dm = _data_message(content, display_name, sync_target)
    r = dm.reaction
    r.id = message_timestamp_ms
    r.author = _session_id(author, "reaction author")
    _set_text(r, "emoji", emoji, "the emoji")
    r.action = pb.DataMessage.Reaction.REMOVE if remove else pb.DataMessage.Reaction.REACT
    return _finish(content, timestamp_ms, None)


def build_unsend_request(timestamp_ms: int, *, message_timestamp_ms: int, author: str) -> bytes:
    """Content{unsendRequest{timestamp: the message's sent timestamp, author: its author}}."""
    _check_timestamp(timestamp_ms)
    _check_timestamp(message_timestamp_ms)
    content = pb.Content()
    content.unsendRequest.timestamp = message_timestamp_ms
    content.unsendRequest.author = _session_id(author, "unsend author")
    return _finish(content, timestamp_ms, None)


def build_read_receipt(timestamp_ms: int, message_timestamps: Sequence[int]) -> bytes:
    """Content{receiptMessage{type: READ, timestamp: [sent timestamps of the messages read]}}."""
    _check_timestamp(timestamp_ms)
    if not message_timestamps:
        raise ValueError("a read receipt covers at least one message")
    content = pb.Content()
    content.receiptMessage.type = pb.ReceiptMessage.READ
    for ts in message_timestamps:
        _check_timestamp(ts)
        content.receiptMessage.timestamp.append(ts)
    return _finish(content, timestamp_ms, None)


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
    return _finish(content, timestamp_ms, None)
