"""The per-network cache folder: node pool, swarms, paths, clock offsets (atomic, flock-protected).

Losing or damaging any of these files costs time, never correctness: unreadable content is
ignored and rebuilt from the network.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sessioncli import state

POOL = "pool.json"
SWARMS = "swarms.json"
PATHS = "paths.json"
CLOCK = "clock.json"


class NetCache:
    def __init__(self, root: Path, network: str) -> None:
        self.dir = root / network
        self._lock_path = self.dir / ".lock"

    def read(self, name: str) -> Any:
        return state.read_json(self.dir / name, default=None)

    def write(self, name: str, value: Any) -> None:
        with state.file_lock(self._lock_path, wait=10.0, what="the network cache"):
            state.atomic_write_json(self.dir / name, value)

    def merge_swarm(self, key: str, entry: dict[str, Any] | None) -> None:
        """Read-modify-write one swarm entry so parallel processes keep each other's swarms."""
        with state.file_lock(self._lock_path, wait=10.0, what="the network cache"):
            current = state.read_json(self.dir / SWARMS, default=None)
            swarms = current if isinstance(current, dict) else {}
            if entry is None:
                swarms.pop(key, None)
            else:
                swarms[key] = entry
            state.atomic_write_json(self.dir / SWARMS, swarms)
