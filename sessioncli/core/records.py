"""The receive record shared by every source (DMs, communities, groups) and the filters on it.

A record is what `receive --json` prints, one JSON object per message. Every source produces the
same core keys (documented in docs/records.md); a source adds its own keys beside them, never
renames or drops a core key. Filters are applied here, once, to the JSON form, so that the CLI,
the daemon and the Python API filter alike.

Filtering decides what is *shown*; a record that a filter hides is still consumed (marked
received), exactly like one that is shown: cursors only move forwards, and a hidden message
left unconsumed would block every later one. Run one receive per identity.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any, Protocol

from sessioncli.core.recipients import Source

CORE_KEYS: tuple[str, ...] = (
    "source",  # "dm" | "community" | "community_dm" | "group"
    "kind",  # the kind of message: text, reaction, unsend, receipt, group_invite, ...
    "hash",  # stable id of the record (DM/group: the storage hash; community: "<room>/<id>")
    "from",  # the sender's id (05…, or 15… blinded in communities)
    "from_name",  # the sender's display name, or null
    "contact",  # our contact name for the sender, or null
    "conversation",  # where to reply: a 05/03 id or the community URL
    "outgoing",  # our own message (a sync copy or our own post)
    "timestamp_ms",
    "received_at_ms",
    "expires_at_ms",  # null where the source has no expiry (communities)
    "body",  # text, or null for messages without text
)

# Kinds that carry no text for a person: never printed as an empty line in tables/TSV.
CONTROL_KINDS: frozenset[str] = frozenset(
    {"message_request_response", "typing", "data_extraction", "unknown"}
)


class Record(Protocol):
    """Anything a source hands out: it knows its JSON form."""

    def to_json(self) -> dict[str, Any]: ...


class ReceiveSource(Protocol):
    """One poller (our DM swarm, one community server, one group): polls, emits, commits itself.

    `poll` fetches everything new, calls `emit` for each record in order (emit writes and
    flushes; it may raise BrokenPipeError), marks each record received right after `emit`
    returns, and returns how many records it emitted. `emit` returns False for a record a
    filter hid: it is marked received all the same, but counts neither in the return value nor
    against `limit` (`receive --max N` counts shown records). An exception from `emit` leaves
    that record unmarked.
    """

    def poll(self, emit: Callable[[Record], bool | None], *, limit: int | None = None) -> int: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class RecordFilter:
    """Which records to show. Empty collections mean "no restriction"."""

    kinds: Collection[str] = ()
    senders: Collection[str] = ()  # ids or contact names, compared case-insensitively
    conversations: Collection[str] = ()  # names (contact/community/group) or ids/URLs
    sources: Collection[Source] = ()
    contacts_only: bool = False
    requests_only: bool = False  # only senders we have not approved (DMs)
    include_control: bool = False  # show control kinds (JSON shows them unless filtered)

    def shows(self, record: dict[str, Any], *, approved: Callable[[str], bool]) -> bool:
        if self.sources and record.get("source") not in self.sources:
            return False
        if self.kinds and record.get("kind") not in self.kinds:
            return False
        if self.senders and not _matches(self.senders, record.get("from"), record.get("contact")):
            return False
        if self.conversations and not _matches(
            self.conversations,
            record.get("conversation"),
            record.get("community"),
            record.get("group"),
            record.get("group_id"),
            record.get("contact") if record.get("source") == "dm" else None,
        ):
            return False
        if self.contacts_only and record.get("contact") is None:
            return False
        if self.requests_only:
            sender = record.get("from")
            if record.get("source") != "dm" or not isinstance(sender, str) or approved(sender):
                return False
        return not (
            not self.include_control and not self.kinds and record.get("kind") in CONTROL_KINDS
        )


def _matches(wanted: Collection[str], *values: Any) -> bool:
    folded = {w.casefold() for w in wanted}
    return any(isinstance(v, str) and v.casefold() in folded for v in values)
