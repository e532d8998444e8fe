"""A DM's Content with AttachmentPointers and a profile picture (SPEC §3, §7), on top of the text Content."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sessioncli.protocol import message

if TYPE_CHECKING:
    from sessioncli.protocol.proto import session_pb2 as pb


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

    def to_proto(self) -> pb.AttachmentPointer:
        from sessioncli.protocol.proto import session_pb2 as pb

        ptr = pb.AttachmentPointer(deprecated_id=self.file_id, size=self.size)
        if self.key:  # a community's room files are not encrypted: no key (as desktop sends)
            ptr.key = self.key
        ptr.url = self.url
        if self.digest:
            ptr.digest = self.digest
        if self.content_type:
            ptr.contentType = self.content_type
        if self.file_name is not None:
            ptr.fileName = self.file_name
        if self.width and self.height:
            ptr.width = self.width
            ptr.height = self.height
        return ptr


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
    # The text builder refuses an empty body; a placeholder keeps its checks for the rest.
    base = message.build_text_content(
        body or " ",
        timestamp_ms,
        display_name=display_name,
        sync_target=sync_target,
        quote=quote,
        expiration=expiration,
    )
    if body and not attachments and profile is None:
        # a reply or a disappearing message: the text Content is all of it (no protobuf runtime)
        return base
    from sessioncli.protocol.proto import session_pb2 as pb

    content = pb.Content.FromString(base)
    dm = content.dataMessage
    if not body:
        if not attachments:
            raise ValueError("a message needs a body or an attachment")
        dm.ClearField("body")
    for p in attachments:
        dm.attachments.append(p.to_proto())
    if profile is not None:
        dm.profile.profilePicture = profile.url
        if profile.updated_s is not None:
            dm.profile.lastProfileUpdateSeconds = profile.updated_s
        dm.profileKey = profile.key
    return content.SerializeToString()
