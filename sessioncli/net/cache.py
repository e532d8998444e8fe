"""The per-network cache folder: node pool, swarms, paths, clock offsets (atomic, flock-protected).

Losing or damaging any of these files costs time, never correctness: unreadable content is
ignored and rebuilt from the network. So they are written atomically (rename) but not fsynced.
"""

from __future__ import annotations

import json
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
            _write(self.dir / name, value)

    def merge_swarm(
        self, key: str, entry: dict[str, Any] | None, *, limit: int | None = None
    ) -> None:
        """merge_swarms for one entry."""
        self.merge_swarms({key: entry}, limit=limit)

    def merge_swarms(
        self, entries: dict[str, dict[str, Any] | None], *, limit: int | None = None
    ) -> None:
        """Read-modify-write swarm entries (None: remove it) so parallel processes keep each
        other's swarms.

        With `limit`, only that many entries stay: those with the newest `at_ms` (a swarm is
        fetched again when used after a day, so the newest are the ones in use).
        """
        with state.file_lock(self._lock_path, wait=10.0, what="the network cache"):
            current = state.read_json(self.dir / SWARMS, default=None)
            swarms = current if isinstance(current, dict) else {}
            for key, entry in entries.items():
                if entry is None:
                    swarms.pop(key, None)
                else:
                    swarms[key] = entry
            if limit is not None and len(swarms) > limit:
                order = list(swarms)  # ties: the later written wins; the entries given stay
                rank = {k: (k in entries, _at_ms(swarms[k]), i) for i, k in enumerate(order)}
                keep = set(sorted(order, key=rank.__getitem__, reverse=True)[:limit])
                swarms = {k: swarms[k] for k in order if k in keep}
            _write(self.dir / SWARMS, swarms)


def _write(path: Path, value: Any) -> None:
    """Compact JSON (json's C encoder; an indent makes it use the pure-Python one: a swarms.json
    of 2,000 swarms took ~50 ms to write), atomically, without fsync (see the module doc)."""
    data = json.dumps(value, separators=(",", ":")).encode("utf-8")
    state.atomic_write_bytes(path, data, durable=False)


def _at_ms(entry: Any) -> int:
    at = entry.get("at_ms") if isinstance(entry, dict) else None
    return at if isinstance(at, int) and not isinstance(at, bool) else -1
