"""The DM sender for `core.dispatch`: adapts dispatch targets to `core.send.send_messages`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from sessioncli.core import outgoing as outgoing_extras
from sessioncli.core import send as send_core
from sessioncli.core.recipients import Target

if TYPE_CHECKING:
    from sessioncli.core.dispatch import Outgoing, SendContext, SendOutcome


def send_targets(
    ctx: SendContext, targets: Sequence[Target], outgoing: Outgoing
) -> list[SendOutcome]:
    recipients = [send_core.Recipient(t.address, t.name) for t in targets]
    # a reply or a disappearing message is refused here, before anything is sent
    content = outgoing_extras.content_builder(
        ctx.state_folder, [t.address for t in targets], outgoing
    )
    results = send_core.send_messages(
        ctx.identity,
        ctx.net,
        recipients,
        outgoing.body,
        ttl_ms=outgoing.ttl_ms,
        display_name=outgoing.display_name,
        state_folder=ctx.state_folder,
        sync_copy=outgoing.sync_copy,
        content=content,
    )
    outgoing_extras.index_sent(ctx.state_folder, ctx.identity.session_id, outgoing.body, results)
    return list(results)
