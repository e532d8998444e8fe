"""Read receipts for `receive --read-receipts`: one ReceiptMessage per sender per run, retried later.

As the apps do, a receipt covers every message of one sender read together (batched: one
`ReceiptMessage{READ, timestamps}` per sender, at most BATCH timestamps each). A receipt that
cannot be sent stays in `receipts.json` (state folder) and is sent with the next run's; the
caller reports it as a warning. Senders whose message request we have not accepted get none:
a receipt would tell a stranger that we read their request (desktop's
`sendReadReceiptsIfNeeded` skips blocked senders and incoming requests alike; like desktop, no
sync copy goes to our own swarm).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sessioncli import state
from sessioncli.core.settings import DEFAULT_TTL_MS
from sessioncli.errors import SessionCliError

if TYPE_CHECKING:
    from sessioncli.net.client import NetworkClient
    from sessioncli.protocol.ids import Identity

BATCH = 1000
MAX_PENDING_PER_SENDER = 5000


@dataclass
class ReceiptReport:
    sent: dict[str, int] = field(default_factory=dict)  # sender -> timestamps acknowledged
    failed: dict[str, str] = field(default_factory=dict)  # sender -> why (kept for next run)


def _path(folder: Path) -> Path:
    return folder / "receipts.json"


def _load(folder: Path) -> dict[str, list[int]]:
    raw: Any = state.read_json(_path(folder), {})
    pending = raw.get("pending", {}) if isinstance(raw, dict) else {}
    if not isinstance(pending, dict):
        return {}
    return {
        str(k): [t for t in v if isinstance(t, int) and t > 0]
        for k, v in pending.items()
        if isinstance(v, list)
    }


def merge(a: Mapping[str, list[int]], b: Mapping[str, list[int]]) -> dict[str, list[int]]:
    """Per sender, the sorted union of timestamps (newest MAX_PENDING_PER_SENDER kept)."""
    out: dict[str, list[int]] = {}
    for src in (a, b):
        for sender, stamps in src.items():
            out.setdefault(sender, []).extend(stamps)
    return {s: sorted(set(t))[-MAX_PENDING_PER_SENDER:] for s, t in out.items() if t}


def send_receipts(
    identity: Identity,
    net: NetworkClient,
    folder: Path,
    read: Mapping[str, list[int]],
    *,
    approved: Callable[[str], bool],
) -> ReceiptReport:
    """Send receipts for `read` plus those left from earlier runs; keep what failed."""
    report = ReceiptReport()
    state.ensure_dir(folder)
    with state.file_lock(folder / ".receipts.lock", what="the pending read receipts"):
        todo = merge(_load(folder), {s: t for s, t in read.items() if approved(s)})
        left: dict[str, list[int]] = {}
        for sender, stamps in todo.items():
            done = 0
            try:
                while done < len(stamps):
                    _send_one(identity, net, sender, stamps[done : done + BATCH])
                    done = min(len(stamps), done + BATCH)
                report.sent[sender] = done
            except SessionCliError as exc:
                report.failed[sender] = exc.message
                left[sender] = stamps[done:]
                if done:
                    report.sent[sender] = done
        state.atomic_write_json(
            _path(folder), {"version": 1, "pending": {s: t for s, t in left.items() if t}}
        )
    return report


def _send_one(identity: Identity, net: NetworkClient, sender: str, stamps: list[int]) -> None:
    from sessioncli.protocol import message

    def encode(t: int) -> str:
        return message.encode_dm(identity, sender, message.build_read_receipt(t, stamps), t)

    ts = net.now_ms()
    net.store(sender, encode(ts), ttl_ms=DEFAULT_TTL_MS, timestamp_ms=ts, reencode=encode)
