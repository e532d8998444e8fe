"""A DM's Content with AttachmentPointers and a profile picture (SPEC §3, §7), on top of the text Content."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from sessioncli.protocol import message
from sessioncli.protocol.message_build import build_visible_content
from sessioncli.protocol.protowire import bytes_field, fixed64_field, string_field, uint32_field


@dataclass(frozen=True)
class Pointer:
    """An uploaded attachment as the DataMessage carries it (desktop's AttachmentPointer)."""

    url: str
    key: bytes = field(repr=False)
    size: int
    digest: bytes = field(default=b"", repr=False)
    content_type: str | None = None
    file_name: str | None = None
    width: int | None = None
    height: int | None = None
    file_id: int = 0  # deprecated_id: desktop puts the numeric file id here, 0 if not numeric

    def encode(self) -> bytes:
        """The serialized AttachmentPointer (fields in number order, as session_pb2 writes them)."""
        out = fixed64_field(1, self.file_id)  # deprecated_id
        if self.content_type:
            out += string_field(2, self.content_type)
        if self.key:  # a community's room files are not encrypted: no key (as desktop sends)
            out += bytes_field(3, self.key)
        out += uint32_field(4, self.size)
        if self.digest:
            out += bytes_field(6, self.digest)
        if self.file_name is not None:
            out += string_field(7, self.file_name)
        if self.width and self.height:
            out += uint32_field(9, self.width) + uint32_field(10, self.height)
        return out + string_field(101, self.url)


@dataclass(frozen=True)
class ProfilePicture:
    """profile.profilePicture (the file URL) and DataMessage.profileKey (its 32-byte key)."""

    url: str
    key: bytes = field(repr=False)
    updated_s: int | None = None  # profile.lastProfileUpdateSeconds


def build_content(
    body: str,
    timestamp_ms: int,
    *,
    attachments: Sequence[Pointer] = (),
    profile: ProfilePicture | None = None,
    display_name: str | None = None,
    sync_target: str | None = None,
    quote: message.QuotedMessage | None = None,
    expiration: message.Expiration | None = None,
) -> bytes:
    """Serialized Content as `message.build_text_content` makes it, plus pointers and picture.

    The body may be empty when there are attachments (official apps send files without text).
    """
    if not body and not attachments:
        raise ValueError("a message needs a body or an attachment")
    return build_visible_content(
        body,
        timestamp_ms,
        display_name=display_name,
        sync_target=sync_target,
        quote=quote,
        expiration=expiration,
        attachments=[p.encode() for p in attachments],
        picture_url=None if profile is None else profile.url,
        picture_key=None if profile is None else profile.key,
        picture_updated_s=None if profile is None else profile.updated_s,
    )
