"""Building the serialized Content of outgoing one-to-one messages (SPEC §3), field by field.

Every builder sets `sigTimestamp` (receivers drop a Content without it or with another value than
the envelope's) and returns the serialized protobuf, ready for `message.encode_dm`. The bytes are
written by `protowire` in field-number order, exactly what `session_pb2`'s SerializeToString makes
of the same fields (tests/unit/test_protowire.py compares them): a send never imports the protobuf
runtime, whose import was ~13 ms of every send's start-up.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal

from sessioncli.errors import UsageError
from sessioncli.protocol.ids import InvalidSessionId, parse_session_id
from sessioncli.protocol.protowire import (
    bool_field,
    bytes_field,
    string_field,
    uint32_field,
    uint64_field,
)

_MAX_UINT64: Final = 2**64 - 1

ExpirationMode = Literal["delete_after_read", "delete_after_send"]

# session.proto's enum values (Content.ExpirationType, DataMessage.Reaction.Action,
# ReceiptMessage.Type); the tests check them against session_pb2.
_EXPIRATION_TYPE: Final[dict[ExpirationMode, int]] = {
    "delete_after_read": 1,
    "delete_after_send": 2,
}
_REACT: Final = 0
_REMOVE: Final = 1
_RECEIPT_READ: Final = 1

# Field numbers, by message (session.proto).
_CONTENT_DATA_MESSAGE: Final = 1
_CONTENT_RECEIPT: Final = 5
_CONTENT_UNSEND: Final = 9
_CONTENT_MRR: Final = 10
_CONTENT_EXPIRATION_TYPE: Final = 12
_CONTENT_EXPIRATION_TIMER: Final = 13
_CONTENT_SIG_TIMESTAMP: Final = 15
_DM_BODY: Final = 1
_DM_ATTACHMENTS: Final = 2
_DM_PROFILE_KEY: Final = 6
_DM_QUOTE: Final = 8
_DM_REACTION: Final = 11
_DM_PROFILE: Final = 101
_DM_SYNC_TARGET: Final = 105
_PROFILE_DISPLAY_NAME: Final = 1
_PROFILE_PICTURE: Final = 2
_PROFILE_UPDATED: Final = 3
_MRR_IS_APPROVED: Final = 1
_MRR_PROFILE: Final = 3


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


def _text_field(number: int, value: str, what: str) -> bytes:
    try:
        return string_field(number, value)
    except UnicodeError as exc:
        raise UsageError(f"{what} is not valid UTF-8 text") from exc


def _session_id(text: str, what: str) -> str:
    try:
        return parse_session_id(text)
    except InvalidSessionId as exc:
        raise UsageError(f"{what}: {exc}") from exc


def _profile_field(number: int, display_name: str | None) -> bytes:
    """LokiProfile{displayName} as field `number`, nothing without a name."""
    if display_name is None:
        return b""
    name = _text_field(_PROFILE_DISPLAY_NAME, display_name, "the display name")
    return bytes_field(number, name)


def _finish(fields: bytes, timestamp_ms: int, expiration: Expiration | None) -> bytes:
    """Content: `fields` (those numbered below 12), then expiration and sigTimestamp."""
    if expiration is not None:
        if not 0 < expiration.seconds < 2**32:
            raise ValueError("expiration timer must be a positive uint32 of seconds")
        # Desktop (ExpirableMessage.contentProto) sets both fields on every message of a
        # conversation with disappearing messages on; the receiver deletes by them.
        fields += uint64_field(_CONTENT_EXPIRATION_TYPE, _EXPIRATION_TYPE[expiration.mode])
        fields += uint32_field(_CONTENT_EXPIRATION_TIMER, expiration.seconds)
    return fields + uint64_field(_CONTENT_SIG_TIMESTAMP, timestamp_ms)


def _data_message(inner: bytes, profile: bytes, sync_target: str | None) -> bytes:
    """Content.dataMessage: `inner` (its fields numbered below 101), profile, syncTarget."""
    fields = inner + profile
    if sync_target is not None:
        fields += string_field(_DM_SYNC_TARGET, sync_target)
    return bytes_field(_CONTENT_DATA_MESSAGE, fields)


def _quote(quote: QuotedMessage) -> bytes:
    fields = uint64_field(1, quote.timestamp_ms)
    fields += string_field(2, _session_id(quote.author, "quoted author"))
    if quote.text:
        fields += _text_field(3, quote.text, "the quoted text")
    return bytes_field(_DM_QUOTE, fields)


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
    return build_visible_content(
        body,
        timestamp_ms,
        display_name=display_name,
        sync_target=sync_target,
        quote=quote,
        expiration=expiration,
    )


def build_visible_content(
    body: str,
    timestamp_ms: int,
    *,
    display_name: str | None = None,
    sync_target: str | None = None,
    quote: QuotedMessage | None = None,
    expiration: Expiration | None = None,
    attachments: Sequence[bytes] = (),
    picture_url: str | None = None,
    picture_key: bytes | None = None,
    picture_updated_s: int | None = None,
) -> bytes:
    """`build_text_content`'s Content plus DataMessage.attachments (each a serialized
    AttachmentPointer), profileKey and profile.profilePicture/lastProfileUpdateSeconds; an empty
    body is left out (files without text, as the official apps send them)."""
    _check_timestamp(timestamp_ms)
    profile = b""
    if display_name is not None:
        profile = _text_field(_PROFILE_DISPLAY_NAME, display_name, "the display name")
    target = None if sync_target is None else _session_id(sync_target, "sync target")
    inner = _text_field(_DM_BODY, body, "the message") if body else b""
    inner += b"".join(bytes_field(_DM_ATTACHMENTS, pointer) for pointer in attachments)
    if picture_key is not None:
        inner += bytes_field(_DM_PROFILE_KEY, picture_key)
    if quote is not None:
        inner += _quote(quote)
    if picture_url is not None:
        profile += string_field(_PROFILE_PICTURE, picture_url)
    if picture_updated_s is not None:
        profile += uint64_field(_PROFILE_UPDATED, picture_updated_s)
    if display_name is not None or picture_url is not None or picture_updated_s is not None:
        profile = bytes_field(_DM_PROFILE, profile)
    return _finish(_data_message(inner, profile, target), timestamp_ms, expiration)


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
    profile = _profile_field(_DM_PROFILE, display_name)
    target = None if sync_target is None else _session_id(sync_target, "sync target")
    reaction = uint64_field(1, message_timestamp_ms)
    reaction += string_field(2, _session_id(author, "reaction author"))
    reaction += _text_field(3, emoji, "the emoji")
    reaction += uint64_field(4, _REMOVE if remove else _REACT)
    inner = bytes_field(_DM_REACTION, reaction)
    return _finish(_data_message(inner, profile, target), timestamp_ms, None)


def build_unsend_request(timestamp_ms: int, *, message_timestamp_ms: int, author: str) -> bytes:
    """Content{unsendRequest{timestamp: the message's sent timestamp, author: its author}}."""
    _check_timestamp(timestamp_ms)
    _check_timestamp(message_timestamp_ms)
    unsend = uint64_field(1, message_timestamp_ms)
    unsend += string_field(2, _session_id(author, "unsend author"))
    return _finish(bytes_field(_CONTENT_UNSEND, unsend), timestamp_ms, None)


def build_read_receipt(timestamp_ms: int, message_timestamps: Sequence[int]) -> bytes:
    """Content{receiptMessage{type: READ, timestamp: [sent timestamps of the messages read]}}."""
    _check_timestamp(timestamp_ms)
    if not message_timestamps:
        raise ValueError("a read receipt covers at least one message")
    receipt = uint64_field(1, _RECEIPT_READ)
    for ts in message_timestamps:
        _check_timestamp(ts)
        receipt += uint64_field(2, ts)  # proto2 repeated scalars are not packed
    return _finish(bytes_field(_CONTENT_RECEIPT, receipt), timestamp_ms, None)


def build_message_request_response(timestamp_ms: int, *, display_name: str | None = None) -> bytes:
    """Serialized Content{messageRequestResponse{isApproved: true, profile?}, sigTimestamp}.

    Official clients send this when the user replies to (accepts) a message request.
    """
    _check_timestamp(timestamp_ms)
    mrr = bool_field(_MRR_IS_APPROVED, True) + _profile_field(_MRR_PROFILE, display_name)
    return _finish(bytes_field(_CONTENT_MRR, mrr), timestamp_ms, None)
