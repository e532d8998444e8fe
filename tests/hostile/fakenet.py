"""An in-process stand-in for NetworkClient.retrieve/poll_swarm: pages of stored messages from named nodes."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from sessioncli.net.retrieved import RetrievedMessage, RetrieveOutcome, SwarmPoll
from sessioncli.protocol.snode import Node


def node(i: int) -> Node:
    return Node(f"127.{i}.0.1", 443, f"{i:02x}" * 32, f"{i:02x}" * 32, 1)


@dataclass
class FakeNet:
    """Every node holds the same `messages` (oldest first); polls rotate over `nodes`.

    Like a storage server, a node returns what follows `last_hash`, or everything when it does
    not know that hash; `page` messages per answer, with `more` set when some remain.
    """

    messages: list[RetrievedMessage] = field(default_factory=list)
    nodes: list[Node] = field(default_factory=lambda: [node(1)])
    page: int = 100
    calls: int = 0

    def retrieve(
        self, identity: object, *, cursors: dict[str, str], **_: object
    ) -> RetrieveOutcome:
        served_by = self.nodes[self.calls % len(self.nodes)]
        self.calls += 1
        last = cursors.get(served_by.pubkey_ed25519)
        hashes = [m.hash for m in self.messages]
        start = hashes.index(last) + 1 if last in hashes else 0
        chunk = self.messages[start : start + self.page]
        more = start + self.page < len(self.messages)
        return RetrieveOutcome(node=served_by, messages=chunk, more=more)

    def _page(self, served_by: Node, cursors: dict[str, str]) -> RetrieveOutcome:
        last = cursors.get(served_by.pubkey_ed25519)
        hashes = [m.hash for m in self.messages]
        start = hashes.index(last) + 1 if last in hashes else 0
        chunk = self.messages[start : start + self.page]
        return RetrieveOutcome(served_by, chunk, start + self.page < len(self.messages))

    def poll_swarm(
        self, identity: object, *, cursors: dict[str, str], only: object = None, **_: object
    ) -> SwarmPoll:
        """Every node (those in `only`, if given) answers from its own cursor."""
        asked = [n for n in self.nodes if only is None or n.pubkey_ed25519 in only]  # type: ignore[operator]
        self.calls += len(asked)
        return SwarmPoll(pages=[self._page(n, cursors) for n in asked], requests=len(asked))

    def swarm(self, session_id: str, **_: object) -> list[Node]:
        return list(self.nodes)

    def now_ms(self) -> int:
        return int(time.time() * 1000)

    def close(self) -> None:
        pass


def stored(msg_hash: str, data: str, ttl_ms: int = 3_600_000) -> RetrievedMessage:
    now = int(time.time() * 1000)
    return RetrievedMessage(hash=msg_hash, timestamp_ms=now, expiration_ms=now + ttl_ms, data=data)
