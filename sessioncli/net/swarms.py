"""The swarm cache: which members hold an account's messages, most recently used kept, on disk."""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from sessioncli.net.cache import SWARMS, NetCache
from sessioncli.net.pool import NodePool, nodes_from_json
from sessioncli.protocol import swarm as swarm_math
from sessioncli.protocol.snode import Node

SWARM_MAX_AGE_MS = 24 * 3600 * 1000
MAX_SWARMS = 2000  # cached swarms (one per recipient): the most recently used/fetched stay
MIN_SWARM_NODES = 3
SMALL_SWARM_OK_MS = 60_000  # a swarm smaller than MIN_SWARM_NODES is trusted this long


def computed_swarm(pool: NodePool, sid: str, now_ms: int) -> list[Node]:
    """The swarm worked out from the pool (SPEC §5: the nearest swarm_id on the ring to the
    key's swarm space) without a get_swarm round trip, when the pool is not due for a refresh,
    every node in it knows its swarm_id and the swarm has MIN_SWARM_NODES; else []. An
    out-of-date swarm costs a 421, whose answer replaces it, as it replaces a fetched swarm
    that moved. (100 new recipients were 100 get_swarm onion requests.)"""
    if pool.needs_bootstrap() or pool.needs_refresh(now_ms):
        return []  # the network call refreshes the pool first
    nodes = pool.nodes()
    if any(n.swarm_id is None for n in nodes):
        return []
    members = swarm_math.swarm_members(sid, nodes)
    return members if len(members) >= MIN_SWARM_NODES else []


class SwarmCache:
    """session id -> (fetched at, members), in order of use (the first is evicted first)."""

    def __init__(self, cache: NetCache, *, limit: int = MAX_SWARMS) -> None:
        self._cache = cache
        self._lock = threading.Lock()
        # nodes: list[Node] once used, until then the cached JSON (a list of dicts), see _nodes
        self._entries: OrderedDict[str, tuple[int, list[Any]]] = OrderedDict()
        self.limit = limit
        self._dirty: set[str] = set()  # changed, not yet written (see _save)
        self._save_lock = threading.Lock()

    def load(self) -> None:
        """The cached swarms; each one's nodes are checked and built when it is first used
        (Node.from_json validates every address: 2,000 cached swarms took ~100 ms to load,
        for a send that uses one or two of them)."""
        raw = self._cache.read(SWARMS)
        if not isinstance(raw, dict):
            return
        entries = []
        for sid, entry in raw.items():
            if isinstance(entry, dict) and isinstance(entry.get("at_ms"), int):
                nodes = entry.get("nodes")
                if isinstance(nodes, list) and nodes:
                    entries.append((sid, (entry["at_ms"], nodes)))
        with self._lock:
            self._entries = OrderedDict(sorted(entries, key=lambda kv: kv[1][0]))
            self._trim()

    def _nodes(self, sid: str) -> list[Node] | None:
        """The entry's nodes, built from their JSON on first use; None if none is valid (the
        entry is then dropped, as load() used to drop it). Hold self._lock."""
        entry = self._entries.get(sid)
        if entry is None:
            return None
        at, nodes = entry
        if nodes and not isinstance(nodes[0], Node):
            nodes = nodes_from_json(nodes)
            if not nodes:
                del self._entries[sid]
                return None
            self._entries[sid] = (at, nodes)
        return nodes

    def sids(self) -> list[str]:
        with self._lock:
            return list(self._entries)

    def get(self, sid: str) -> list[Node] | None:
        """The cached members (any age); marks the entry as used."""
        with self._lock:
            nodes = self._nodes(sid)
            if nodes is None:
                return None
            self._entries.move_to_end(sid)
            return list(nodes)

    def fresh(self, sid: str, now_ms: int) -> list[Node] | None:
        """The cached members if recent and numerous enough to rely on; marks the entry used."""
        with self._lock:
            nodes = self._nodes(sid)
            if nodes is None:
                return None
            self._entries.move_to_end(sid)
            at = self._entries[sid][0]
        age = now_ms - at
        enough = len(nodes) >= MIN_SWARM_NODES or (nodes and age < SMALL_SWARM_OK_MS)
        return list(nodes) if age < SWARM_MAX_AGE_MS and enough else None

    def put(self, sid: str, nodes: list[Node], now_ms: int) -> None:
        with self._lock:
            self._entries.pop(sid, None)
            self._entries[sid] = (now_ms, list(nodes))
            self._trim()
        self._save(sid)

    def remember(self, sid: str, nodes: list[Node], now_ms: int) -> None:
        """`put` for this process only: the entry is used like any other but not written (a
        swarm worked out from the pool costs nothing to work out again)."""
        with self._lock:
            self._entries.pop(sid, None)
            self._entries[sid] = (now_ms, list(nodes))
            self._trim()

    def forget_node(self, ed: str) -> None:
        with self._lock:
            touched = [
                sid for sid, (_, ns) in self._entries.items() if any(_ed(n) == ed for n in ns)
            ]
            for sid in touched:
                at, ns = self._entries[sid]
                self._entries[sid] = (at, [n for n in ns if _ed(n) != ed])
        if touched:
            self._save(*touched)

    def _trim(self) -> None:
        while len(self._entries) > self.limit:
            self._entries.popitem(last=False)

    def _save(self, *sids: str) -> None:
        """Write these entries, and whatever other threads changed meanwhile, to the file.

        One thread writes at a time; a thread that finds a write going on leaves its entries
        to that writer (which looks again after each write) and goes on at once. A send to 100
        recipients fetching 100 swarms on 8 threads made 100 locked read-modify-writes of the
        whole file, with the threads queued on the flock; now it makes a few. flush() (at the
        client's close) writes what is still pending."""
        with self._lock:
            self._dirty.update(sids)
        while self._save_lock.acquire(blocking=False):
            try:
                self._write_dirty()
            finally:
                self._save_lock.release()
            with self._lock:
                if not self._dirty:
                    return

    def flush(self) -> None:
        with self._save_lock:
            self._write_dirty()

    def _write_dirty(self) -> None:
        with self._lock:
            dirty, self._dirty = self._dirty, set()
            values = {sid: _entry_json(self._entries.get(sid)) for sid in dirty}
        if values:
            self._cache.merge_swarms(values, limit=self.limit)


def _ed(node: Node | Any) -> Any:
    """A node's ed25519 hex, whether it is built yet or still its cached JSON."""
    if isinstance(node, Node):
        return node.pubkey_ed25519
    return node.get("pubkey_ed25519") if isinstance(node, dict) else None


def _entry_json(entry: tuple[int, list[Any]] | None) -> dict[str, object] | None:
    if entry is None:
        return None
    return {
        "at_ms": entry[0],
        "nodes": [n.to_json() if isinstance(n, Node) else n for n in entry[1]],
    }
