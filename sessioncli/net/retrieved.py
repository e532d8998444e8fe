"""What the network client's reads return: retrieved messages, one member's page, a swarm poll."""

from __future__ import annotations

from dataclasses import dataclass, field

from sessioncli.protocol.snode import Node


@dataclass(frozen=True)
class RetrievedMessage:
    hash: str
    timestamp_ms: int
    expiration_ms: int
    data: str  # base64


@dataclass(frozen=True)
class RetrieveOutcome:
    node: Node
    messages: list[RetrievedMessage]
    more: bool


@dataclass(frozen=True)
class SwarmPoll:
    """One retrieve from each member asked: the pages that came back, and the members that did
    not answer (ed25519 hex -> why), with the number of onion requests it took."""

    pages: list[RetrieveOutcome]
    failed: dict[str, str] = field(default_factory=dict)
    requests: int = 0
