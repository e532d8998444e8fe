"""Network time: offsets between our clock and each service node's `t`, and the time to sign with."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

LocalClock = Callable[[], float]  # seconds since the epoch, like time.time
_FRESH_MS = 24 * 3600 * 1000
_KEEP = 25
_DISAGREE_MS = 5000  # a fresh sample this far from the saved offsets: the local clock was changed
_DISAGREE_QUORUM = 2  # ... once at least this many fresh samples, and most of them, say so


class NetworkClock:
    """Per-node offsets (node time - local time); the network offset is their median.

    A request signed for a node uses that node's own offset when we know it, so one node whose
    clock is off does not break signatures, and a host whose clock is off still signs correctly.
    Offsets loaded from disk are trusted until fresh samples disagree with them (the node's own
    saved offset, else their median) by more than a few seconds: once at least two, and most of
    the fresh samples, do, the user has set the clock since, and every saved offset is dropped in
    favour of fresh ones (one skewed node alone cannot do that).

    A node that refused our time (406) has a clock of its own: the offset learnt then serves for
    signing to that node only and stays out of the median (and out of the saved-offsets check),
    so a few skewed nodes, e.g. most of one swarm, cannot move the time we stamp messages with.
    It rejoins the median once a sample of it agrees with the others again.
    """

    def __init__(self, local: LocalClock | None = None) -> None:
        self._local = local or time.time
        self._lock = threading.Lock()
        self._offsets: dict[str, tuple[int, int]] = {}  # ed25519 -> (offset_ms, observed local ms)
        self._saved: set[str] = set()  # nodes whose offset was loaded, not observed since
        self._refused: set[str] = set()  # nodes that refused our time: their own clock
        # fresh samples (of nodes not refusing our time) that agree / disagree with saved offsets
        self._agree: set[str] = set()
        self._disagree: set[str] = set()
        self.dirty = False

    def local_ms(self) -> int:
        return int(self._local() * 1000)

    def observe(self, node: str, t_ms: int, *, refused: bool = False) -> None:
        """A node's time; `refused`: it has just refused ours (see the class docstring)."""
        local = self.local_ms()
        offset = t_ms - local
        with self._lock:
            if refused:
                self._refused.add(node)
            elif node in self._refused:
                others = [o for k, (o, _) in self._offsets.items() if k not in self._refused]
                if others and abs(offset - _median(others)) <= _DISAGREE_MS:
                    self._refused.discard(node)
            saved = [
                self._offsets[k][0]
                for k in self._saved
                if k in self._offsets and k not in self._refused
            ]
            if saved and node not in self._refused:
                own = self._offsets[node][0] if node in self._saved else None
                reference = own if own is not None else _median(saved)
                if abs(offset - reference) > _DISAGREE_MS:
                    self._agree.discard(node)
                    self._disagree.add(node)
                else:
                    self._disagree.discard(node)
                    self._agree.add(node)
                # one skewed node must not throw away what we knew: only a majority of fresh
                # samples (at least two) that disagree with the saved offsets, and agree among
                # themselves on a new offset, does
                moved = {k: self._offsets[k][0] for k in self._disagree if k in self._offsets}
                moved[node] = offset
                moved = {k: o for k, o in moved.items() if k in self._disagree}
                if moved:
                    centre = _median(moved.values())
                    moved = {k: o for k, o in moved.items() if abs(o - centre) <= _DISAGREE_MS}
                if len(moved) >= _DISAGREE_QUORUM and len(moved) > len(self._agree):
                    for k in self._saved:
                        self._offsets.pop(k, None)
                        self._refused.discard(k)
                    self._saved.clear()
                    self._agree.clear()
                    self._disagree.clear()
                    self.dirty = True
            elif node in self._refused:
                self._disagree.discard(node)
                self._agree.discard(node)
            self._saved.discard(node)
            old = self._offsets.get(node)
            self._offsets[node] = (offset, local)
            if old is None or abs(old[0] - offset) > 2000:
                self.dirty = True
            if len(self._offsets) > _KEEP:
                oldest = min(self._offsets, key=lambda k: self._offsets[k][1])
                del self._offsets[oldest]
                self._refused.discard(oldest)
                self._agree.discard(oldest)
                self._disagree.discard(oldest)
                self._saved.discard(oldest)

    def offset_ms(self) -> int:
        """The network's offset: the median of recent samples, leaving out nodes that refused
        our time (unless those are all we have: then the network has told us nothing else)."""
        local = self.local_ms()
        with self._lock:
            fresh = {k: o for k, (o, at) in self._offsets.items() if local - at < _FRESH_MS}
            public = [o for k, o in fresh.items() if k not in self._refused]
        chosen = public or list(fresh.values())
        return int(_median(chosen)) if chosen else 0

    def refused(self) -> set[str]:
        """Nodes known to have refused our time (they run a clock of their own)."""
        with self._lock:
            return set(self._refused)

    def samples_this_run(self) -> int:
        """How many nodes gave their time in this process and count for the median."""
        with self._lock:
            return sum(1 for k in self._offsets if k not in self._saved | self._refused)

    def now_ms(self) -> int:
        return self.local_ms() + self.offset_ms()

    def known(self) -> bool:
        """Whether any recent sample exists (else offset_ms() is a guess of 0)."""
        local = self.local_ms()
        with self._lock:
            return any(local - at < _FRESH_MS for _, at in self._offsets.values())

    def node_offset_ms(self, node: str) -> int | None:
        with self._lock:
            entry = self._offsets.get(node)
        if entry is None or self.local_ms() - entry[1] >= _FRESH_MS:
            return None
        return entry[0]

    def now_for(self, node: str) -> int:
        """The time `node` believes it is (its own offset if known, else the network's)."""
        own = self.node_offset_ms(node)
        return self.local_ms() + (own if own is not None else self.offset_ms())

    def to_json(self) -> dict[str, Any]:
        with self._lock:
            self.dirty = False
            return {
                "offsets": {k: [o, at] for k, (o, at) in self._offsets.items()},
                "refused": sorted(self._refused & set(self._offsets)),
            }

    def load_json(self, obj: Any) -> None:
        if not isinstance(obj, dict) or not isinstance(obj.get("offsets"), dict):
            return
        with self._lock:
            for k, v in obj["offsets"].items():
                if (
                    isinstance(k, str)
                    and isinstance(v, list)
                    and len(v) == 2
                    and all(isinstance(x, int) and not isinstance(x, bool) for x in v)
                    and k not in self._offsets
                ):
                    self._offsets[k] = (v[0], v[1])
                    self._saved.add(k)
            refused = obj.get("refused")
            if isinstance(refused, list):
                self._refused |= {k for k in refused if isinstance(k, str) and k in self._saved}


def _median(values: Iterable[int] | Iterable[float]) -> float:
    """statistics.median (the mean of the middle two for an even count), without importing
    statistics, fractions and decimal on every command's start-up (~5 ms)."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("median of no values")
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2
