"""The node pool: known service nodes, when they were fetched, and their persistent strikes."""

from __future__ import annotations

import random
import threading
from typing import Any

from sessioncli.errors import ProtocolError
from sessioncli.net.cache import POOL, NetCache
from sessioncli.protocol.snode import Node

STRIKES_TO_DROP_NODE = 3
MIN_POOL = 8  # a pool this small is fetched again from a seed
POOL_MAX_AGE_MS = 6 * 3600 * 1000
POOL_RETRY_MS = 30 * 60 * 1000  # after a failed refresh, keep the old pool this long


def nodes_from_json(raw: Any) -> list[Node]:
    """The valid nodes of a cached list (damaged entries are skipped: a cache costs only time)."""
    if not isinstance(raw, list):
        return []
    out = []
    for item in raw:
        try:
            out.append(Node.from_json(item))
        except ProtocolError:
            continue
    return out


class NodePool:
    """Nodes by ed25519 hex, with their strikes (failures seen across runs); its own lock.

    A node struck STRIKES_TO_DROP_NODE times is dropped; the caller then forgets it everywhere
    else (swarms, paths). Network I/O never happens here: only the cache file.
    """

    def __init__(self, cache: NetCache) -> None:
        self._cache = cache
        self._lock = threading.Lock()
        self._nodes: dict[str, Node] = {}
        self._strikes: dict[str, int] = {}
        self.fetched_at = 0
        self.refresh_failed_at = 0

    def load(self) -> None:
        raw = self._cache.read(POOL)
        if not isinstance(raw, dict):
            return
        with self._lock:
            self._nodes = {n.pubkey_ed25519: n for n in nodes_from_json(raw.get("nodes"))}
            at, failed = raw.get("fetched_at_ms"), raw.get("refresh_failed_at_ms")
            self.fetched_at = at if isinstance(at, int) else 0
            self.refresh_failed_at = failed if isinstance(failed, int) else 0
            strikes = raw.get("strikes")
            if isinstance(strikes, dict):
                self._strikes = {
                    k: v for k, v in strikes.items() if isinstance(v, int) and k in self._nodes
                }

    def save(self) -> None:
        with self._lock:
            value = {
                "fetched_at_ms": self.fetched_at,
                "refresh_failed_at_ms": self.refresh_failed_at,
                "nodes": [n.to_json() for n in self._nodes.values()],
                "strikes": dict(self._strikes),
            }
        self._cache.write(POOL, value)

    def nodes(self) -> list[Node]:
        with self._lock:
            return list(self._nodes.values())

    def has(self, ed: str) -> bool:
        with self._lock:
            return ed in self._nodes

    def size(self) -> int:
        with self._lock:
            return len(self._nodes)

    def strikes(self) -> dict[str, int]:
        with self._lock:
            return dict(self._strikes)

    def replace(self, nodes: list[Node], now_ms: int) -> None:
        with self._lock:
            self._nodes = {n.pubkey_ed25519: n for n in nodes}
            self.fetched_at = now_ms
            self.refresh_failed_at = 0
            self._strikes = {k: v for k, v in self._strikes.items() if k in self._nodes}
        self.save()

    def refresh_failed(self, now_ms: int) -> None:
        with self._lock:
            self.refresh_failed_at = now_ms
        self.save()

    def strike(self, ed: str, count: int = 1) -> bool:
        """Count a failure against `ed`; True when it is dropped (the caller forgets it)."""
        with self._lock:
            strikes = self._strikes.get(ed, 0) + count
            self._strikes[ed] = strikes
        if strikes >= STRIKES_TO_DROP_NODE:
            return True
        self.save()
        return False

    def clear_strikes(self, eds: tuple[str, ...] | list[str]) -> None:
        """`eds` just worked (a probe, or an onion request through them): their old failures
        no longer count, so a node struck during a passing fault is not dropped later."""
        with self._lock:
            struck = [ed for ed in eds if ed in self._strikes]
            for ed in struck:
                del self._strikes[ed]
        if struck:
            self.save()

    def drop(self, ed: str) -> None:
        with self._lock:
            self._nodes.pop(ed, None)
            self._strikes.pop(ed, None)
        self.save()

    def needs_bootstrap(self) -> bool:
        return self.size() <= MIN_POOL

    def needs_refresh(self, now_ms: int) -> bool:
        """Old, and the last failed refresh (if any) long enough ago."""
        with self._lock:
            old = now_ms - self.fetched_at > POOL_MAX_AGE_MS
            return old and now_ms - self.refresh_failed_at > POOL_RETRY_MS

    def ranked(self, nodes: list[Node], rng: random.Random) -> list[Node]:
        """Random order, nodes with fewer recent failures first (spreads load, avoids the sick)."""
        out = list(nodes)
        rng.shuffle(out)
        strikes = self.strikes()
        return sorted(out, key=lambda n: strikes.get(n.pubkey_ed25519, 0))
