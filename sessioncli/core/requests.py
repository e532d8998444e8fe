"""Message requests: accept (send the approval, as replying does), decline, block and unblock a sender.

Approval state lives in conversations.json (core/conversations.py); the block list is
`blocked.json` in the identity's state folder. A blocked sender's messages are consumed by
receive without being shown (counted with -v). Declining only forgets the pending request, as
desktop's decline does: nothing is sent, and a new message makes a new request.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sessioncli import state
from sessioncli.core.conversations import Conversation, ConversationStore
from sessioncli.errors import ConfigError

if TYPE_CHECKING:
    from sessioncli.net.client import NetworkClient
    from sessioncli.protocol.ids import Identity


@dataclass(frozen=True)
class RequestChange:
    session_id: str
    action: str  # accept | decline | block | unblock
    approval_sent: bool = False
    changed: bool = True

    def to_json(self) -> dict[str, Any]:
        return {
            "session_id": self.session_id,
            "action": self.action,
            "approval_sent": self.approval_sent,
            "changed": self.changed,
        }


def _blocked_path(folder: Path) -> Path:
    return folder / "blocked.json"


def _read_blocked(folder: Path) -> dict[str, Any]:
    # A damaged block list is an error, never an empty one: that would show blocked senders.
    path = _blocked_path(folder)
    missing = object()
    raw: Any = state.read_json(path, missing)
    if raw is missing and not path.exists():
        return {}
    items = raw.get("blocked") if isinstance(raw, dict) else None
    if not isinstance(items, dict):
        raise ConfigError(
            f"block list {path} is damaged", hints=("fix or remove it (then block again)",)
        )
    return items


def blocked(folder: Path) -> set[str]:
    return {str(k) for k in _read_blocked(folder)}


def _set_blocked(folder: Path, sid: str, on: bool) -> bool:
    state.ensure_dir(folder)
    with state.file_lock(folder / ".blocked.lock", what="the block list"):
        items = dict(_read_blocked(folder))
        was = sid in items
        if on:
            items.setdefault(sid, int(time.time() * 1000))
        else:
            items.pop(sid, None)
        state.atomic_write_json(_blocked_path(folder), {"version": 1, "blocked": items})
    return was != on


def _forget_request(folder: Path, sid: str) -> bool:
    def change(convs: dict[str, Conversation]) -> bool:
        c = convs.get(sid) or Conversation(sid)
        convs[sid] = replace(c, pending_request=False)
        return c.pending_request

    return ConversationStore(folder).update(change)


def block(folder: Path, sid: str) -> RequestChange:
    changed = _set_blocked(folder, sid, True)
    _forget_request(folder, sid)
    return RequestChange(sid, "block", changed=changed)


def unblock(folder: Path, sid: str) -> RequestChange:
    return RequestChange(sid, "unblock", changed=_set_blocked(folder, sid, False))


def decline(folder: Path, sid: str) -> RequestChange:
    return RequestChange(sid, "decline", changed=_forget_request(folder, sid))


def accept(
    identity: Identity,
    net: NetworkClient,
    folder: Path,
    sid: str,
    *,
    display_name: str | None,
    ttl_ms: int,
) -> RequestChange:
    """Send MessageRequestResponse{isApproved} (what replying sends first) and mark it approved."""
    from sessioncli.protocol import message

    def encode(t: int) -> str:
        mrr = message.build_message_request_response(t, display_name=display_name)
        return message.encode_dm(identity, sid, mrr, t)

    ts = net.now_ms()
    net.store(sid, encode(ts), ttl_ms=ttl_ms, timestamp_ms=ts, reencode=encode)

    def change(convs: dict[str, Conversation]) -> bool:
        c = convs.get(sid) or Conversation(sid)
        convs[sid] = replace(c, approved_by_us=True, pending_request=False)
        return not c.approved_by_us

    changed = ConversationStore(folder).update(change)
    _set_blocked(folder, sid, False)  # accepting someone blocked unblocks them
    return RequestChange(sid, "accept", approval_sent=True, changed=changed)


def is_approved(folder: Path) -> Any:
    """A function: does this sender count as approved by us (for `receive --requests`)?"""
    convs = ConversationStore(folder).all()

    def approved(sid: str) -> bool:
        c = convs.get(sid)
        return bool(c and c.approved_by_us)

    return approved
