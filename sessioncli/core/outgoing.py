"""What a DM send carries besides text: the quote of `--reply-to`, disappearing settings; and the
index entries of what was sent (so later replies, reactions and unsends find it)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from sessioncli.core.msgindex import IndexedMessage, MessageIndex
from sessioncli.errors import SessionCliError, UsageError

if TYPE_CHECKING:
    from sessioncli.core.dispatch import Outgoing
    from sessioncli.core.send import ContentBuilder, SendResult
    from sessioncli.protocol.message_build import QuotedMessage


def quoted(folder: Path, msg_hash: str, recipients: Sequence[str]) -> QuotedMessage:
    """The message `--reply-to HASH` quotes; it must belong to the conversation replied in."""
    from sessioncli.protocol.message_build import QuotedMessage

    found = MessageIndex(folder).get(msg_hash)
    other = [r for r in recipients if r != found.conversation]
    if other:
        raise UsageError(
            f"--reply-to {found.hash}: that message is in the conversation with "
            f"{found.conversation[:10]}…, not with {other[0][:10]}…"
        )
    return QuotedMessage(found.timestamp_ms, found.author, found.text)


def content_builder(
    folder: Path, recipients: Sequence[str], outgoing: Outgoing
) -> ContentBuilder | None:
    """None for a plain text message; else what core.send.send_messages should build: the text
    with its quote, disappearing settings, attachment pointers and profile picture."""
    if (
        outgoing.reply_to is None
        and outgoing.disappear is None
        and not outgoing.attachments
        and outgoing.profile_picture is None
    ):
        return None
    from sessioncli.protocol import attachment_message

    quote = quoted(folder, outgoing.reply_to, recipients) if outgoing.reply_to else None

    def build(timestamp_ms: int, sync_target: str | None) -> bytes:
        # the sync copy is marked like the message, so our other devices show and delete it alike
        return attachment_message.build_content(
            outgoing.body,
            timestamp_ms,
            attachments=outgoing.attachments,
            profile=outgoing.profile_picture,
            display_name=outgoing.display_name,
            sync_target=sync_target,
            quote=quote,
            expiration=outgoing.disappear,
        )

    return build


def index_sent(folder: Path, our_id: str, body: str | None, results: Sequence[SendResult]) -> None:
    """Remember what was sent; never fails the send (the index is a convenience)."""
    entries = [
        IndexedMessage(
            hash=r.hash,
            timestamp_ms=r.timestamp_ms,
            author=our_id,
            conversation=r.recipient,
            outgoing=True,
            expires_at_ms=r.expires_at_ms or r.timestamp_ms,
            text=body,
            sync_hash=r.sync_hash,
        )
        for r in results
        if r.ok and r.hash
    ]
    try:
        MessageIndex(folder).add(entries)
    except (SessionCliError, OSError):
        pass
