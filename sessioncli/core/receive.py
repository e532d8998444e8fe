"""Receiving: poll our swarm, decode, dedupe, hand each message out, then commit the cursor.

Order of operations (what makes "at least once to stdout, never twice across runs" hold):
fetch a page from every member -> drop hashes already seen -> decode -> emit (the caller writes
and flushes) -> append the hash to the seen journal -> after the pages, move each member's
cursor past what is seen, then write cursors + seen set atomically.
A process killed anywhere repeats at most the one message being written when it died.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sessioncli import state
from sessioncli.core.conversations import ConversationStore, ReceivedNotes
from sessioncli.errors import SessionCliError, TemporaryFailure

if TYPE_CHECKING:
    from sessioncli.core.screen import Screen
    from sessioncli.net.client import NetworkClient
    from sessioncli.net.policy import Deadline
    from sessioncli.net.retrieved import RetrievedMessage, RetrieveOutcome
    from sessioncli.protocol.ids import Identity
    from sessioncli.protocol.message import DecodedMessage, MessageDecodeError

MAX_PAGES_PER_POLL = 200
SEEN_GRACE_MS = 3_600_000  # keep a hash a little past its expiry: clocks differ between nodes
RETENTION_MS = 14 * 24 * 3_600_000  # the longest a DM stays on the network (SPEC §4.4: max TTL)
MAX_KEEP_MS = 31 * 24 * 3_600_000  # a node claiming a later expiry is not believed beyond this


@dataclass(frozen=True)
class Received:
    hash: str
    message: DecodedMessage
    received_at_ms: int
    expires_at_ms: int
    outgoing: bool  # our own sync copy of something we sent from another device or run
    contact: str | None = None

    def to_json(self) -> dict[str, Any]:
        m = self.message
        data = m.to_json_dict()
        out: dict[str, Any] = {
            "source": "dm",
            "hash": self.hash,
            "from": m.sender,
            "from_name": m.display_name,
            "contact": self.contact,
            "conversation": (m.sync_target or m.sender) if self.outgoing else m.sender,
            "outgoing": self.outgoing,
            "timestamp_ms": m.timestamp_ms,
            "received_at_ms": self.received_at_ms,
            "expires_at_ms": self.expires_at_ms,
            "kind": m.kind,
            "body": m.body,
            "disappears_at_ms": m.disappears_at_ms(read_at_ms=self.received_at_ms),
        }
        for key, value in data.items():
            if key not in out and key not in ("sender", "display_name"):
                out[key] = value
        return out


@dataclass
class PollStats:
    emitted: int = 0
    duplicates: int = 0
    dropped: int = 0
    own_skipped: int = 0
    pages: int = 0
    requests: int = 0  # HTTP requests the polls took (all members polled: the cost of it)
    polls: int = 0
    drop_reasons: dict[str, int] = field(default_factory=dict)
    unreachable: dict[str, str] = field(default_factory=dict)  # last poll: member -> why


class ReceiveState:
    """Cursors (last_hash per node) and the seen-hash set of one identity on one network."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.path = folder / "receive.json"
        self.journal = folder / "seen.journal"
        self.cursors: dict[str, str] = {}
        self.seen: dict[str, int] = {}
        self._journal_fd: int | None = None

    def load(self) -> None:
        raw: Any = state.read_json(self.path, {})
        if isinstance(raw, dict):
            cur = raw.get("cursors", {})
            if isinstance(cur, dict):
                self.cursors = {str(k): str(v) for k, v in cur.items() if isinstance(v, str)}
            seen = raw.get("seen", {})
            if isinstance(seen, dict):
                self.seen = {str(k): int(v) for k, v in seen.items() if isinstance(v, int)}
        # Hashes printed after the last full commit (the process may have died since).
        try:
            with open(self.journal, encoding="ascii", errors="replace") as fh:
                for line in fh:
                    parts = line.strip().split("\t")
                    if len(parts) == 2 and parts[1].isdigit():
                        try:
                            self.seen[parts[0]] = int(parts[1])
                        except ValueError:  # a damaged line (e.g. beyond int's digit limit)
                            continue
        except FileNotFoundError:
            pass

    def mark_seen(self, msg_hash: str, expires_at_ms: int) -> None:
        """Record a hash durably at once (an append survives kill -9 without an fsync)."""
        self.seen[msg_hash] = expires_at_ms
        if self._journal_fd is None:
            state.ensure_dir(self.folder)
            self._journal_fd = os.open(self.journal, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        os.write(self._journal_fd, f"{msg_hash}\t{expires_at_ms}\n".encode("ascii"))

    def commit(self, now_ms: int) -> None:
        self.seen = {h: e for h, e in self.seen.items() if e + SEEN_GRACE_MS >= now_ms}
        state.atomic_write_json(
            self.path, {"version": 1, "cursors": self.cursors, "seen": self.seen}
        )
        if self._journal_fd is not None:
            os.ftruncate(self._journal_fd, 0)
        else:
            with contextlib.suppress(FileNotFoundError):
                os.truncate(self.journal, 0)

    def close(self) -> None:
        if self._journal_fd is not None:
            os.close(self._journal_fd)
            self._journal_fd = None


@contextlib.contextmanager
def receive_lock(folder: Path, session_id: str) -> Iterator[None]:
    with contextlib.ExitStack() as stack:
        # Only a lock that is held means another receive: a TemporaryFailure raised by the body
        # (a network timeout, a 5xx) must reach the user as what it is.
        try:
            stack.enter_context(
                state.file_lock(folder / "receive.lock", wait=None, what="the receive state")
            )
        except TemporaryFailure:
            raise TemporaryFailure(
                f"another sessioncli receive is running for {session_id[:10]}…",
                hints=("only one receive per identity and network may run at a time",),
            ) from None
        yield


@dataclass
class FollowHealth:
    """Whether a --follow loop is blind (its polls keep failing), as facts for the CLI to print:
    `failed()` is True once, at the BLIND_AFTER-th failure in a row; `answered()` is True once,
    at the first success after that."""

    blind_after: int = 3
    in_a_row: int = 0
    blind: bool = False

    def failed(self) -> bool:
        self.in_a_row += 1
        if self.in_a_row >= self.blind_after and not self.blind:
            self.blind = True
            return True
        return False

    def answered(self) -> bool:
        self.in_a_row = 0
        was, self.blind = self.blind, False
        return was


@dataclass
class Rotation:
    """Which members a --follow poll asks after the first (which asks them all): the next
    ceil(n / EVERY) in turn, so that each member is asked at least every EVERY polls."""

    every: int = 5
    _next: int = 0

    def pick(self, members: list[str]) -> list[str]:
        if not members:
            return []
        count = max(1, math.ceil(len(members) / self.every))
        start = self._next % len(members)
        self._next = start + count
        return [members[(start + i) % len(members)] for i in range(count)]


class Receiver:
    """Polls the identity's swarm; not thread-safe; hold `receive_lock` while using it.

    Each poll asks every member of the swarm (or those given), in parallel, each from its own
    cursor, and hands out the union once. `after_fetch` is a test hook (crash-safety tests:
    it dies like kill -9 right after a fetch that brought messages).
    """

    def __init__(
        self,
        identity: Identity,
        net: NetworkClient,
        folder: Path,
        *,
        include_own: bool = False,
        commit: bool = True,
        contact_name: Callable[[str], str | None] | None = None,
        after_fetch: Callable[[], None] | None = None,
        deadline: Deadline | None = None,
        screen: Screen | None = None,
    ) -> None:
        self.identity = identity
        self.net = net
        self.state = ReceiveState(folder)
        self.state.load()
        self.conversations = ReceivedNotes(ConversationStore(folder))
        self.include_own = include_own
        self.commit_enabled = commit
        self.contact_name = contact_name or (lambda _sid: None)
        self.after_fetch = after_fetch
        self.deadline = deadline  # one for the whole command (without --follow), else per poll
        self.stats = PollStats()
        self.rotation = Rotation()
        self.screen = screen  # blocked senders, unsent messages (core/screen.py)

    def poll(
        self,
        emit: Callable[[Received], bool | None],
        *,
        limit: int | None = None,
        only: Collection[str] | None = None,
    ) -> int:
        """Fetch everything new from the swarm's members (`only` those, if given); returns how
        many messages were emitted. Fails (69/75) only when no member answered."""
        emitted = 0
        ask = None if only is None else list(only)
        for _ in range(MAX_PAGES_PER_POLL):
            result = self.net.poll_swarm(
                self.identity, cursors=dict(self.state.cursors), only=ask, timeout=self.deadline
            )
            self.stats.pages += len(result.pages)
            self.stats.requests += result.requests
            self.stats.unreachable = dict(result.failed)
            if self.after_fetch is not None and any(p.messages for p in result.pages):
                self.after_fetch()
            left = None if limit is None else limit - emitted
            try:
                got, complete = self._hand_out(result.pages, emit, left)
            finally:
                self._flush_notes()  # the page's conversation notes, before its cursors
            emitted += got
            self._commit()
            ask = [p.node.pubkey_ed25519 for p in result.pages if p.more]
            if not complete or not ask:
                break
        return emitted

    def poll_follow(
        self, emit: Callable[[Received], bool | None], *, limit: int | None = None
    ) -> int:
        """One --follow poll: every member the first time, then the next few in turn."""
        if not self.stats.polls:
            self.stats.polls += 1
            return self.poll(emit, limit=limit)
        self.stats.polls += 1
        try:
            members = [n.pubkey_ed25519 for n in self.net.swarm(self.identity.session_id)]
        except SessionCliError:
            members = []
        return self.poll(emit, limit=limit, only=self.rotation.pick(members) or None)

    def _hand_out(
        self,
        pages: list[RetrieveOutcome],
        emit: Callable[[Received], bool | None],
        limit: int | None,
    ) -> tuple[int, bool]:
        """The union of the pages, oldest first, each message once; then every member's cursor
        moves past what is now seen. (emitted, True unless `limit` stopped it)."""
        union: dict[str, RetrievedMessage] = {}
        for page in pages:
            for item in page.messages:
                if item.hash in union or item.hash in self.state.seen:
                    self.stats.duplicates += 1
                union.setdefault(item.hash, item)
        emitted, complete = 0, True
        ordered = sorted(union.values(), key=lambda m: m.timestamp_ms)
        ahead = self.screen.page(ordered, self.state.seen) if self.screen else {}
        for item in ordered:
            if item.hash in self.state.seen:
                continue
            if limit is not None and emitted >= limit:
                complete = False
                break
            emitted += self._one(item, emit, ahead.get(item.hash))
        for page in pages:
            self._advance(page)
        return emitted, complete

    def _one(
        self,
        item: RetrievedMessage,
        emit: Callable[[Received], bool | None],
        pre: DecodedMessage | MessageDecodeError | None = None,
    ) -> int:
        """Decode (or take the screen's decoding), filter and emit one new message; 1 if it was
        emitted."""
        from sessioncli.protocol.message import MessageDecodeError, decode_dm

        try:
            if isinstance(pre, MessageDecodeError):
                raise pre
            decoded = pre or decode_dm(self.identity, item.data)
        except MessageDecodeError as exc:
            # Never shown; remembered so that it is not decoded (and counted) again.
            self.stats.dropped += 1
            self.stats.drop_reasons[exc.reason] = self.stats.drop_reasons.get(exc.reason, 0) + 1
            self._remember(item.hash, item.expiration_ms)
            return 0
        outgoing = decoded.sender == self.identity.session_id
        if outgoing and not self.include_own:
            self.stats.own_skipped += 1
            self._remember(item.hash, item.expiration_ms)
            return 0
        if self.screen and self.screen.hidden(decoded):  # consumed, not shown
            self._remember(item.hash, item.expiration_ms)
            return 0
        received = Received(
            hash=item.hash,
            message=decoded,
            received_at_ms=int(time.time() * 1000),
            expires_at_ms=item.expiration_ms,
            outgoing=outgoing,
            contact=self.contact_name(decoded.sender),
        )
        # writes and flushes (BrokenPipeError if the reader left); False: a filter hid it, which
        # consumes it like a shown one but does not count it
        shown = emit(received)
        self._remember(item.hash, item.expiration_ms)
        if not outgoing:
            self._note_conversation(decoded)
        if shown is False:
            return 0
        self.stats.emitted += 1
        return 1

    def _remember(self, msg_hash: str, expires_at_ms: int) -> None:
        # kept for the whole retention time whatever the node said: a member new to the swarm
        # (no cursor) answers with the whole inbox, and each copy must be known as seen
        now = int(time.time() * 1000)
        keep = min(max(expires_at_ms, now + RETENTION_MS), now + MAX_KEEP_MS)
        if self.commit_enabled:
            self.state.mark_seen(msg_hash, keep)
        else:
            self.state.seen[msg_hash] = keep

    def _advance(self, page: RetrieveOutcome) -> None:
        """The member's cursor: its last message such that it and all before it are seen."""
        node = page.node.pubkey_ed25519
        for item in page.messages:
            if item.hash not in self.state.seen:
                break
            self.state.cursors[node] = item.hash

    def _commit(self) -> None:
        if self.commit_enabled:
            self.state.commit(self.net.now_ms())

    def _note_conversation(self, m: DecodedMessage) -> None:
        if m.kind not in ("text", "message_request_response"):
            return
        try:
            self.conversations.note(
                m.sender, m.timestamp_ms, approval=m.kind == "message_request_response"
            )
        except SessionCliError:
            pass  # approval bookkeeping must never cost a message

    def _flush_notes(self) -> None:
        try:
            self.conversations.flush()
        except SessionCliError:
            pass  # as above

    def close(self) -> None:
        self.state.close()
