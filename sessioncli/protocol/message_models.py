"""What a decoded one-to-one message is (kinds, quote, attachment, reaction) and why one is dropped."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final, Literal, get_args

from sessioncli.errors import ProtocolError

Kind = Literal[
    "text",
    "reaction",
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

    def disappears_at_ms(self, read_at_ms: int | None = None) -> int | None:
        """When the apps delete it: sent time + timer (after send) or read time + timer (after
        read; None until `read_at_ms` is known). None for a message that does not disappear."""
        if not self.expiration_timer_s or self.expiration_type is None:
            return None
        start = self.timestamp_ms if self.expiration_type == "delete_after_send" else read_at_ms
        return None if start is None else start + self.expiration_timer_s * 1000

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
            "disappears_at_ms": self.disappears_at_ms(),
            "legacy": self.legacy,
        }
