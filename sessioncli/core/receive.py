"""Receiving: poll our swarm, decode, dedupe, hand each message out, then commit the cursor.

Order of operations (what makes "at least once to stdout, never twice across runs" hold):
fetch a page -> drop hashes already seen -> decode -> emit (the caller writes and flushes) ->
append the hash to the seen journal -> after the page, write cursors + seen set atomically.
A process killed anywhere repeats at most the one message being written when it died.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sessioncli import state
from sessioncli.core.conversations import ConversationStore
from sessioncli.errors import SessionCliError, TemporaryFailure

if TYPE_CHECKING:
    from sessioncli.core.screen import Screen
    from sessioncli.net.client import NetworkClient
    from sessioncli.protocol.ids import Identity
    from sessioncli.protocol.message import DecodedMessage

MAX_PAGES_PER_POLL = 200
SEEN_GRACE_MS = 3_600_000  # keep a hash a little past its expiry: clocks differ between nodes


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
    drop_reasons: dict[str, int] = field(default_factory=dict)


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


class Receiver:
    """Polls the identity's swarm; not thread-safe; hold `receive_lock` while using it."""

    def __init__(
        self,
        identity: Identity,
        net: NetworkClient,
        folder: Path,
        *,
        include_own: bool = False,
        commit: bool = True,
        contact_name: Callable[[str], str | None] | None = None,
        screen: Screen | None = None,
    ) -> None:
        self.identity = identity
        self.net = net
        self.state = ReceiveState(folder)
        self.state.load()
        self.conversations = ConversationStore(folder)
        self.include_own = include_own
        self.commit_enabled = commit
        self.contact_name = contact_name or (lambda _sid: None)
        self.stats = PollStats()
        self.screen = screen  # blocked senders, unsent messages (core/screen.py)

    def poll(self, emit: Callable[[Received], bool | None], *, limit: int | None = None) -> int:
        """Fetch everything new from one swarm member; returns how many messages were emitted."""
        from sessioncli.protocol.message import MessageDecodeError, decode_dm

        emitted = 0
        for _ in range(MAX_PAGES_PER_POLL):
            outcome = self.net.retrieve(self.identity, cursors=dict(self.state.cursors))
            self.stats.pages += 1
            if outcome.messages and os.environ.get("SESSIONCLI_FAULT") == "crash-after-fetch":
                # Fault injection for the crash-safety tests: die like `kill -9` right after a
                # fetch, before anything is printed or committed.
                os._exit(137)
            node = outcome.node.pubkey_ed25519
            ahead = self.screen.page(outcome.messages, self.state.seen) if self.screen else {}
            stopped_early = False
            for item in outcome.messages:
                if limit is not None and emitted >= limit:
                    stopped_early = True
                    break
                if item.hash in self.state.seen:
                    self.stats.duplicates += 1
                    self._advance(node, item.hash)
                    continue
                try:
                    pre = ahead.get(item.hash)
                    if isinstance(pre, MessageDecodeError):
                        raise pre
                    decoded = pre or decode_dm(self.identity, item.data)
                except MessageDecodeError as exc:
                    # Never shown; remembered so that it is not decoded (and counted) again.
                    self.stats.dropped += 1
                    self.stats.drop_reasons[exc.reason] = (
                        self.stats.drop_reasons.get(exc.reason, 0) + 1
                    )
                    self._remember(item.hash, item.expiration_ms)
                    self._advance(node, item.hash)
                    continue
                outgoing = decoded.sender == self.identity.session_id
                if outgoing and not self.include_own:
                    self.stats.own_skipped += 1
                    self._remember(item.hash, item.expiration_ms)
                    self._advance(node, item.hash)
                    continue
                if self.screen and self.screen.hidden(decoded):  # consumed, not shown
                    self._remember(item.hash, item.expiration_ms)
                    self._advance(node, item.hash)
                    continue
                received = Received(
                    hash=item.hash,
                    message=decoded,
                    received_at_ms=int(time.time() * 1000),
                    expires_at_ms=item.expiration_ms,
                    outgoing=outgoing,
                    contact=self.contact_name(decoded.sender),
                )
                # emit writes and flushes (BrokenPipeError if the reader left); False: a filter
                # hid it, so it is consumed but does not count against `limit`.
                shown = emit(received)
                self._remember(item.hash, item.expiration_ms)
                self._advance(node, item.hash)
                if shown is not False:
                    emitted += 1
                    self.stats.emitted += 1
                if not outgoing:
                    self._note_conversation(decoded)
            self._commit()
            if stopped_early or not outcome.more:
                break
        return emitted

    def _remember(self, msg_hash: str, expires_at_ms: int) -> None:
        if self.commit_enabled:
            self.state.mark_seen(msg_hash, expires_at_ms)
        else:
            self.state.seen[msg_hash] = expires_at_ms

    def _advance(self, node: str, msg_hash: str) -> None:
        self.state.cursors[node] = msg_hash

    def _commit(self) -> None:
        if self.commit_enabled:
            self.state.commit(self.net.now_ms())

    def _note_conversation(self, m: DecodedMessage) -> None:
        if m.kind not in ("text", "message_request_response"):
            return
        try:
            self.conversations.note_received(
                m.sender, m.timestamp_ms, approval=m.kind == "message_request_response"
            )
        except SessionCliError:
            pass  # approval bookkeeping must never cost a message

    def close(self) -> None:
        self.state.close()
