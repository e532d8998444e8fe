"""Group invites that arrive as DMs: verified, kept (core/groups.record_invite), shown as `group_invite`.

`receive` passes every record through `InviteHook` before printing it. A DM whose content is a
GroupUpdateMessage invite becomes a `group_invite` record once its admin signature checks out
(and the invite is kept until `group accept`/`decline`); a forged one is consumed, never shown,
and counted in `stats` (for -v). Every other record passes through untouched.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sessioncli.core.receive import PollStats
from sessioncli.errors import SessionCliError

if TYPE_CHECKING:
    from sessioncli.core.groups import GroupContext, GroupView


@dataclass(frozen=True)
class InviteRecord:
    """The DM record of an invite, with the group it invites to (no secret: no auth data)."""

    dm: dict[str, Any]  # the DM record's JSON (docs/records.md core keys)
    group: GroupView
    inviter_approved: bool

    def to_json(self) -> dict[str, Any]:
        return {
            **self.dm,
            "kind": "group_invite",
            "body": None,
            "group_id": self.group.group_id,
            "group_name": self.group.group_name or self.group.name,
            "inviter": self.dm.get("from"),
            "inviter_approved": self.inviter_approved,
        }


class InviteHook:
    """Record -> record (an invite DM becomes an InviteRecord), or None for a forged invite."""

    def __init__(self, gctx: GroupContext, approved: Callable[[str], bool]) -> None:
        self.gctx = gctx
        self.approved = approved
        self.stats = PollStats()

    def __call__(self, record: Any) -> Any:
        from sessioncli.core import groups
        from sessioncli.protocol.groups.control import ControlError

        message = getattr(record, "message", None)
        raw = getattr(message, "raw_content", None)
        if message is None or not isinstance(raw, bytes) or message.kind != "unknown":
            return record
        control = groups.control_of(raw)
        if control is None or control.kind != "invite":
            return record
        try:
            view = groups.record_invite(self.gctx, control, message.sender, message.timestamp_ms)
        except ControlError:
            self.stats.dropped += 1
            reason = "group_invite_bad_signature"
            self.stats.drop_reasons[reason] = self.stats.drop_reasons.get(reason, 0) + 1
            return None
        except SessionCliError:
            return record  # could not be kept (e.g. the state folder): shown as it came
        return InviteRecord(record.to_json(), view, self.approved(message.sender))


def receive_hook(gctx: GroupContext, approved: Callable[[str], bool]) -> InviteHook:
    return InviteHook(gctx, approved)
