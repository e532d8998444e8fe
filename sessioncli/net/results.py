"""What a store returns, and the clock error (both re-exported by net.client); reads: net/retrieved.py."""

from __future__ import annotations

from dataclasses import dataclass

from sessioncli.errors import ProtocolError


@dataclass(frozen=True)
class StoreOutcome:
    hash: str
    stored_on: list[str]  # ed25519 hex of the members whose signed answer says they hold it
    expiry_ms: int
    timestamp_ms: int
    requests: int = 1  # store requests sent (the first, plus the extra ones of the redundancy rule)


class ClockError(ProtocolError):
    """Service nodes keep refusing our timestamps (HTTP 406): a clock problem, not a network one."""
