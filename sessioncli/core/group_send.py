"""Posting to groups: the group sender for core/dispatch.py (`send NAME "text"` to a 03 group)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sessioncli.core.recipients import Target
from sessioncli.errors import SessionCliError

if TYPE_CHECKING:
    from sessioncli.core.dispatch import Outgoing, SendContext, SendOutcome
    from sessioncli.core.groups import GroupContext


@dataclass(frozen=True)
class GroupSendResult:
    """One group's result, with the same JSON keys as a DM plus `group_id`."""

    recipient: str  # the 03 id
    recipient_name: str | None
    ok: bool
    hash: str | None = None
    timestamp_ms: int = 0
    expires_at_ms: int | None = None
    error: str | None = None
    exit_code: int = 0
    warnings: tuple[str, ...] = field(default=())
    first_contact: bool = False

    @property
    def label(self) -> str:
        return self.recipient_name or self.recipient

    def to_json(self) -> dict[str, Any]:
        return {
            "source": "group",
            "recipient": self.recipient,
            "recipient_name": self.recipient_name,
            "group_id": self.recipient,
            "ok": self.ok,
            "hash": self.hash,
            "timestamp_ms": self.timestamp_ms,
            "expires_at_ms": self.expires_at_ms,
            "stored_on": [],
            "error": self.error,
        }


def post_text(gctx: GroupContext, target: Target, outgoing: Outgoing) -> GroupSendResult:
    """Sync the group's keys, then post `outgoing.body` with the newest key (admin or member)."""
    from sessioncli.core import groups
    from sessioncli.core.group_state import Removed
    from sessioncli.protocol.message import build_text_content

    try:
        group = groups._open(gctx, target.name or target.address)
        if group.secrets.status != "joined":
            raise SessionCliError(f"group {target.label!r} is an invite: accept it first")
        if group.sync(gctx.swarm, configs=False).kicked or group.secrets.kicked:
            groups._save(gctx, group)
            raise Removed(f"we were removed from group {target.label!r}: posting is refused")
        groups._save(gctx, group)
        ts = gctx.swarm.now_ms()
        content = build_text_content(outgoing.body, ts, display_name=outgoing.display_name)
        h = groups.post_content(gctx, group, content, ts)
    except SessionCliError as exc:
        return GroupSendResult(
            target.address, target.name, False, error=exc.message, exit_code=int(exc.exit_code)
        )
    return GroupSendResult(
        group.secrets.group_id,
        target.name,
        True,
        hash=h,
        timestamp_ms=ts,
        expires_at_ms=ts + groups.MESSAGE_TTL_MS,
    )


def send_targets(
    ctx: SendContext, targets: Sequence[Target], outgoing: Outgoing
) -> list[SendOutcome]:
    """core.dispatch's entry point (to be listed in dispatch._SENDERS under "group")."""
    from sessioncli.core.group_net import NetGroupSwarm
    from sessioncli.core.groups import GroupContext

    gctx = GroupContext(
        ctx.identity, NetGroupSwarm(ctx.net), ctx.state_folder, outgoing.display_name
    )
    return [post_text(gctx, t, outgoing) for t in targets]
