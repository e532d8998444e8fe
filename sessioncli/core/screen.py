"""What a DM receive consumes without showing (blocked senders, unsent messages), and what it
remembers of what it shows (the message index, unsend requests, read receipts to send).

`core.receive.Receiver` calls `page()` once per fetched page (which decodes it ahead, so that
an unsend request later in the page hides the message it takes back even though the message
comes first) and `hidden()` before each emit; the CLI wraps its emit with `observe()` and calls
`flush()` after each poll.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sessioncli.core import msgindex, requests
from sessioncli.errors import SessionCliError

if TYPE_CHECKING:
    from sessioncli.core.records import Record
    from sessioncli.net.retrieved import RetrievedMessage
    from sessioncli.protocol.ids import Identity
    from sessioncli.protocol.message import DecodedMessage, MessageDecodeError

# kinds a reply, a reaction or an unsend can point at
_INDEXED_KINDS = frozenset({"text", "community_invitation"})


@dataclass
class Screen:
    folder: Path
    identity: Identity
    blocked: set[str] = field(default_factory=set)
    unsent: set[str] = field(default_factory=set)
    hidden_counts: dict[str, int] = field(default_factory=dict)
    to_index: list[msgindex.IndexedMessage] = field(default_factory=list)
    unsends: list[tuple[str, int, int]] = field(default_factory=list)  # author, ts, expiry
    read: dict[str, list[int]] = field(default_factory=dict)  # sender -> timestamps shown

    @classmethod
    def open(cls, folder: Path, identity: Identity) -> Screen:
        try:
            unsent = msgindex.MessageIndex(folder).unsent()
        except (SessionCliError, OSError):
            unsent = set()
        return cls(folder, identity, blocked=requests.blocked(folder), unsent=unsent)

    def page(
        self, items: Sequence[RetrievedMessage], seen: Collection[str]
    ) -> dict[str, DecodedMessage | MessageDecodeError]:
        """Decode the page's new items ahead (the receiver reuses them); note its unsends."""
        from sessioncli.protocol.message import MessageDecodeError, decode_dm

        out: dict[str, DecodedMessage | MessageDecodeError] = {}
        for item in items:
            if item.hash in seen or item.hash in out:
                continue
            try:
                m = decode_dm(self.identity, item.data)
            except MessageDecodeError as exc:
                out[item.hash] = exc
                continue
            out[item.hash] = m
            if _is_valid_unsend(m):
                assert m.unsend_timestamp_ms is not None
                self.unsent.add(msgindex.unsent_key(m.sender, m.unsend_timestamp_ms))
        return out

    def hidden(self, m: DecodedMessage) -> str | None:
        """Why this message is consumed without being shown, or None to show it."""
        if m.sender in self.blocked and m.sender != self.identity.session_id:
            reason = "blocked"
        elif m.kind != "unsend" and msgindex.unsent_key(m.sender, m.timestamp_ms) in self.unsent:
            reason = "unsent"
        else:
            return None
        self.hidden_counts[reason] = self.hidden_counts.get(reason, 0) + 1
        return reason

    def observe(
        self,
        emit: Callable[[Record], None],
        shows: Callable[[dict[str, Any]], bool] | None = None,
    ) -> Callable[[Record], bool]:
        """`emit` the records `shows` lets through, and remember every one (a hidden record is
        consumed too, and can still be replied to; only a printed one counts as read).
        Returns whether it was shown: a source counts hidden ones neither in its total nor
        against `limit` (core/records.py)."""

        def wrapped(record: Record) -> bool:
            rec = record.to_json()
            printed = shows is None or shows(rec)
            if printed:
                emit(record)
            self.shown(rec, printed=printed)
            return printed

        return wrapped

    def shown(self, rec: dict[str, Any], *, printed: bool = True) -> None:
        if rec.get("source") != "dm":
            return
        kind, sender, ts = rec.get("kind"), rec.get("from"), rec.get("timestamp_ms")
        if not isinstance(sender, str) or not isinstance(ts, int):
            return
        expiry = rec.get("expires_at_ms") or ts
        if kind in _INDEXED_KINDS and isinstance(rec.get("hash"), str):
            self.to_index.append(
                msgindex.IndexedMessage(
                    hash=rec["hash"],
                    timestamp_ms=ts,
                    author=sender,
                    conversation=rec.get("conversation") or sender,
                    outgoing=bool(rec.get("outgoing")),
                    expires_at_ms=expiry,
                    text=rec.get("body"),
                )
            )
            if printed and not rec.get("outgoing"):
                self.read.setdefault(sender, []).append(ts)
        unsend_ts = rec.get("unsend_timestamp_ms")
        if kind == "unsend" and isinstance(unsend_ts, int) and rec.get("unsend_author") == sender:
            self.unsends.append((sender, unsend_ts, expiry))

    def flush(self) -> None:
        """Write what was shown to the index (best effort: it must never cost a message)."""
        index = msgindex.MessageIndex(self.folder)
        try:
            index.add(self.to_index)
            for author, ts, expiry in self.unsends:
                index.note_unsent(author, ts, expiry)
        except (SessionCliError, OSError):
            pass
        self.to_index.clear()
        self.unsends.clear()

    def take_read(self) -> dict[str, list[int]]:
        read, self.read = self.read, {}
        return read


def _is_valid_unsend(m: DecodedMessage) -> bool:
    # only the author may take a message back (desktop checks the same)
    return m.kind == "unsend" and m.unsend_timestamp_ms is not None and m.unsend_author == m.sender


def requests_filter(folder: Path) -> Callable[[dict[str, Any]], bool]:
    """`receive --requests`: only DMs from senders we have not approved (core/records.py)."""
    from sessioncli.core.records import RecordFilter

    flt = RecordFilter(requests_only=True, include_control=True)
    approved = requests.is_approved(folder)
    return lambda rec: flt.shows(rec, approved=approved)
