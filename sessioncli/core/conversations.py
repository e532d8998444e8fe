"""Per-identity conversation state: who approved whom (message requests), shared by send and receive."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any, TypeVar

from sessioncli import state

T = TypeVar("T")


@dataclass(frozen=True)
class Conversation:
    peer: str
    approved_by_us: bool = False  # we wrote to them or accepted their request
    approved_us: bool = False  # they wrote to us or sent an approval
    pending_request: bool = False  # they wrote first and we have not answered yet
    warned_unapproved: bool = False  # the one-time stderr warning was shown
    last_sent_ms: int | None = None
    last_received_ms: int | None = None


def identity_state_dir(network_key: str, session_id: str) -> Path:
    return state.state_dir() / network_key / session_id


def network_identity_dir(network: str | None, session_id: str) -> Path:
    """The identity's state folder on `network` (a --network value), moving old state over.

    State used to be keyed by a network file's name alone; the first use under the new key
    renames the old folder (receive cursors, seen hashes, approvals), so nothing is received
    twice. Where two networks shared an old name, the first one used takes that state.
    """
    from sessioncli.core import settings

    key = settings.network_key(network)
    legacy = settings.legacy_network_key(network)
    if legacy is not None and legacy != key:
        move_legacy_state(state.state_dir(), legacy, key)
    return identity_state_dir(key, session_id)


# What conversations.json stores of each Conversation (dataclasses.asdict deep-copies every field
# and cost ~70 us per peer: a quarter of a second for a state of 3,000 peers, on every send).
_STORED = tuple(f.name for f in fields(Conversation) if f.name != "peer")


def move_legacy_state(root: Path, legacy: str, key: str) -> None:
    old, new = root / legacy, root / key
    if new.exists() or not old.is_dir():
        return
    with state.file_lock(root / ".migrate.lock", what="the state folder"):
        if new.exists() or not old.is_dir():
            return  # another process moved it while we waited
        import os

        os.rename(old, new)  # open files and held locks inside it move along (same inodes)


class ConversationStore:
    """conversations.json under the identity's state folder; every change is locked and atomic."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / "conversations.json"
        self.lock = folder / ".conversations.lock"

    def _load(self) -> dict[str, Conversation]:
        raw: Any = state.read_json(self.path, {})
        out: dict[str, Conversation] = {}
        peers = raw.get("peers", {}) if isinstance(raw, dict) else None
        if not isinstance(peers, dict):
            return out  # damaged bookkeeping starts over; it must never cost a message
        for peer, item in peers.items():
            if not isinstance(item, dict):
                continue
            try:
                out[peer] = Conversation(
                    peer=peer,
                    approved_by_us=bool(item.get("approved_by_us", False)),
                    approved_us=bool(item.get("approved_us", False)),
                    pending_request=bool(item.get("pending_request", False)),
                    warned_unapproved=bool(item.get("warned_unapproved", False)),
                    last_sent_ms=_opt_int(item.get("last_sent_ms")),
                    last_received_ms=_opt_int(item.get("last_received_ms")),
                )
            except (TypeError, ValueError):
                continue
        return out

    def all(self) -> dict[str, Conversation]:
        return self._load()

    def get(self, peer: str) -> Conversation:
        return self._load().get(peer) or Conversation(peer)

    def update(self, change: Callable[[dict[str, Conversation]], T]) -> T:
        with state.file_lock(self.lock, what="the conversation state"):
            convs = self._load()
            result = change(convs)
            value = {
                "version": 1,
                "peers": {p: {k: getattr(c, k) for k in _STORED} for p, c in sorted(convs.items())},
            }
            # compact: json's C encoder (an indent makes it use the pure-Python one, which
            # took ~50 ms per write once a thousand peers were listed); fsynced as before
            data = json.dumps(value, separators=(",", ":"), sort_keys=True) + "\n"
            state.atomic_write_bytes(self.path, data.encode("utf-8"))
        return result

    def note_received(self, peer: str, timestamp_ms: int, *, approval: bool) -> None:
        def change(convs: dict[str, Conversation]) -> None:
            convs[peer] = _received(convs.get(peer) or Conversation(peer), timestamp_ms, approval)

        self.update(change)


def _received(c: Conversation, timestamp_ms: int, approval: bool) -> Conversation:
    """A message from the peer (`approval`: a MessageRequestResponse) arrived."""
    return replace(
        c,
        approved_us=True,
        pending_request=(not c.approved_by_us) and not approval,
        last_received_ms=max(timestamp_ms, c.last_received_ms or 0),
    )


class ReceivedNotes:
    """note_received for a batch of messages (one receive page), in as few writes as it takes.

    What a message changes that matters (they approved us; whether their conversation is a
    pending request) is written at once, as note_received does; a message that changes only
    last_received_ms waits for flush() (receive calls it once per page, before the cursor
    commit). A drain of 1,000 messages from one peer was 1,000 locked, fsynced rewrites of
    conversations.json; now it is two. A kill -9 in the middle of a page can lose only those
    last_received_ms values (read by nothing but `conversations`): the approval flags were
    already on disk. The result equals applying note_received message by message: the flags
    depend on the last message of each peer only, last_received_ms is a maximum."""

    def __init__(self, store: ConversationStore) -> None:
        self.store = store
        self._pending: dict[str, tuple[int, bool]] = {}  # peer -> (newest, last was approval)
        self._known: dict[str, Conversation] | None = None  # as of our last read or write

    def note(self, peer: str, timestamp_ms: int, *, approval: bool) -> None:
        prev = self._pending.get(peer)
        self._pending[peer] = (max(timestamp_ms, prev[0]) if prev else timestamp_ms, approval)
        if self._known is None:
            self._known = self.store.all()
        c = self._known.get(peer) or Conversation(peer)
        after = _received(c, timestamp_ms, approval)
        if (after.approved_us, after.pending_request) != (c.approved_us, c.pending_request):
            self.flush()

    def flush(self) -> None:
        if not self._pending:
            return
        pending, self._pending = self._pending, {}

        def change(convs: dict[str, Conversation]) -> None:
            for peer, (ts, approval) in pending.items():
                convs[peer] = _received(convs.get(peer) or Conversation(peer), ts, approval)
            self._known = dict(convs)

        self.store.update(change)


def _opt_int(value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError("not an int")
    return value
