"""The DM sender for `core.dispatch`: adapts dispatch targets to `core.send.send_messages`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from sessioncli.core import send as send_core
from sessioncli.core.recipients import Target

if TYPE_CHECKING:
    from sessioncli.core.dispatch import Outgoing, SendContext, SendOutcome


def send_targets(
    ctx: SendContext, targets: Sequence[Target], outgoing: Outgoing
) -> list[SendOutcome]:
    recipients = [send_core.Recipient(t.address, t.name) for t in targets]
    return list(
        send_core.send_messages(
            ctx.identity,
            ctx.net,
            recipients,
            outgoing.body,
            ttl_ms=outgoing.ttl_ms,
            display_name=outgoing.display_name,
            state_folder=ctx.state_folder,
            sync_copy=outgoing.sync_copy,
            build_content=_content_builder(outgoing),
        )
    )


def _content_builder(outgoing: Outgoing) -> send_core.ContentBuilder | None:
    """Attachments and a profile picture go in the DataMessage of the DM and of its sync copy."""
    if not outgoing.attachments and outgoing.profile_picture is None:
        return None
    from sessioncli.protocol import attachment_message

    def build(timestamp_ms: int, sync_target: str | None) -> bytes:
        return attachment_message.build_content(
            outgoing.body,
            timestamp_ms,
            attachments=outgoing.attachments,
            profile=outgoing.profile_picture,
            display_name=outgoing.display_name,
            sync_target=sync_target,
        )

    return build
