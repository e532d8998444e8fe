"""What the network client's public calls return, and the clock error (re-exported by net.client)."""

from __future__ import annotations

from dataclasses import dataclass, field

from sessioncli.errors import ProtocolError
from sessioncli.protocol.snode import Node


@dataclass(frozen=True)
class StoreOutcome:
    hash: str
    stored_on: list[str]  # ed25519 hex of the members whose signed answer says they hold it
    expiry_ms: int
    timestamp_ms: int
    requests: int = 1  # store requests sent (the first, plus the extra ones of the redundancy rule)


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


@dataclass(frozen=True)
class PathTest:
    path: list[Node]
    ok: bool
    rtt_ms: float | None
    error: str | None


class ClockError(ProtocolError):
    """Service nodes keep refusing our timestamps (HTTP 406): a clock problem, not a network one."""
