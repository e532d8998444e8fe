"""Onion paths: the cached set, a pure hop picker (one node per /24), and building fresh paths."""

from __future__ import annotations

import contextlib
import random
import threading
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass
from typing import NoReturn

from sessioncli.errors import NetworkUnavailable, SessionCliError, TemporaryFailure
from sessioncli.net.cache import PATHS, NetCache
from sessioncli.net.guards import Probe, Prober, find_guards
from sessioncli.net.policy import Blame, CallLog, Deadline, PathKey, PathTrouble
from sessioncli.net.pool import NodePool, nodes_from_json
from sessioncli.net.transport import CONNECTIONS_PER_HOST
from sessioncli.protocol.snode import Node

PATH_COUNT = 2  # desktop: desiredGuardCount
HOPS = 3  # guard + 2 relays; the target is a fourth node
STRIKES_TO_DROP_PATH = 3


@dataclass(eq=False)
class Path:
    nodes: list[Node]
    failures: int = 0
    in_flight: int = 0  # requests of this process on it now (PathSet.took / landed)

    @property
    def key(self) -> PathKey:
        return tuple(n.pubkey_ed25519 for n in self.nodes)

    def has(self, ed: str) -> bool:
        return any(n.pubkey_ed25519 == ed for n in self.nodes)


def pick_path(
    best: Sequence[Path], last_ok: Path | None, rng: random.Random, capacity: int
) -> Path:
    """Of equally good paths: the one that last answered while its guard still has a kept-alive
    connection free (`capacity` requests at once: one TLS session serves every request of a
    command), else the least busy one (ties at random). A send to 100 recipients used to put
    all its parallel requests on the last path that answered, and each request beyond its
    guard's kept connections paid a handshake of its own."""
    if last_ok is not None and last_ok in best and last_ok.in_flight < capacity:
        return last_ok
    least = min(p.in_flight for p in best)
    return rng.choice([p for p in best if p.in_flight == least])


def pick_hops(
    guard: Node,
    ranked: Sequence[Node],
    used_subnets: Collection[str],
    exclude: Collection[str] = (),
    hops: int = HOPS,
) -> list[Node] | None:
    """`guard` and then relays, best-ranked first, none in `exclude` (ed25519 hex): each relay
    in a /24 that no path uses yet (`used_subnets`, the guard's own included); when too few such
    nodes are left, the rule is kept within this path only. None when even that fails."""
    out = [guard]
    subnets = set(used_subnets) | {guard.subnet24}
    skip = set(exclude) | {guard.pubkey_ed25519}
    for n in ranked:
        if len(out) == hops:
            break
        if n.pubkey_ed25519 not in skip and n.subnet24 not in subnets:
            out.append(n)
            subnets.add(n.subnet24)
    if len(out) < hops:  # not enough distinct /24s across paths: keep the rule per path
        here = {h.subnet24 for h in out}
        for n in ranked:
            if len(out) == hops:
                break
            if n.pubkey_ed25519 not in skip and n not in out and n.subnet24 not in here:
                out.append(n)
                here.add(n.subnet24)
    return out if len(out) == hops else None


class PathSet:
    """The cached paths (about PATH_COUNT) with their strikes in this process; its own lock."""

    def __init__(self, cache: NetCache) -> None:
        self._cache = cache
        self._lock = threading.Lock()
        self._paths: list[Path] = []

    def load(self, pool: NodePool) -> None:
        raw = self._cache.read(PATHS)
        if not isinstance(raw, dict) or not isinstance(raw.get("paths"), list):
            return
        loaded = [nodes_from_json(p) for p in raw["paths"]]
        with self._lock:
            self._paths = [
                Path(ns)
                for ns in loaded
                if len(ns) == HOPS and all(pool.has(n.pubkey_ed25519) for n in ns)
            ]

    def save(self) -> None:
        with self._lock:
            value = {"paths": [[n.to_json() for n in p.nodes] for p in self._paths]}
        self._cache.write(PATHS, value)

    def snapshot(self) -> list[Path]:
        with self._lock:
            return list(self._paths)

    def count(self) -> int:
        with self._lock:
            return len(self._paths)

    def add(self, paths: list[Path]) -> None:
        with self._lock:
            self._paths.extend(paths)
        self.save()

    def clear(self) -> None:
        with self._lock:
            self._paths = []

    def keep(self, wanted: Callable[[Path], bool]) -> bool:
        """Keep only the paths `wanted` says; True (and saved) when some went."""
        with self._lock:
            before = len(self._paths)
            self._paths = [p for p in self._paths if wanted(p)]
            changed = len(self._paths) != before
        if changed:
            self.save()
        return changed

    def took(self, path: Path) -> None:
        """A request of this process is on `path` now (see pick_path)."""
        with self._lock:
            path.in_flight += 1

    def landed(self, path: Path) -> None:
        with self._lock:
            path.in_flight -= 1

    def succeeded(self, path: Path) -> None:
        with self._lock:
            path.failures = 0
            self.last_ok = path

    last_ok: Path | None = None  # the path of this process's last answered request (see choose)

    def strike(self, path: Path, *, drop: bool = False) -> None:
        """SPEC §6: a path that failed STRIKES_TO_DROP_PATH times (or `drop`) is dropped."""
        with self._lock:
            path.failures += 1
            if not (drop or path.failures >= STRIKES_TO_DROP_PATH) or path not in self._paths:
                return
            self._paths.remove(path)
        self.save()


class PathManager:
    """Builds paths from the pool (guards probed first) and picks one for each attempt."""

    def __init__(
        self,
        pool: NodePool,
        paths: PathSet,
        *,
        prober: Prober,
        ensure_pool: Callable[[Deadline], None],
        learned: Callable[[Node, Probe], None],
        rng: random.Random,
    ) -> None:
        self.pool = pool
        self.paths = paths
        self._prober = prober
        self._ensure_pool = ensure_pool
        self._learned = learned  # strikes a failed probe, keeps a good one's time
        self._rng = rng
        self._build_lock = threading.Lock()

    @contextlib.contextmanager
    def building(self, deadline: Deadline) -> Iterator[None]:
        """Hold the lock that serialises path building and pool bootstrap, waiting no longer
        than the deadline (another thread may be stuck on a slow network)."""
        if not self._build_lock.acquire(timeout=max(0.0, deadline.remaining())):
            raise TemporaryFailure(
                "timed out waiting for another request to build onion paths",
                hints=("the network is slow; retry later or raise --timeout",),
            )
        try:
            yield
        finally:
            self._build_lock.release()

    def ensure(self, deadline: Deadline, blame: Blame | None = None) -> list[Path]:
        """Build paths up to PATH_COUNT; returns those built now."""
        self._ensure_pool(deadline)
        if self.paths.count() >= PATH_COUNT:
            return []
        with self.building(deadline):
            missing = PATH_COUNT - self.paths.count()
            if missing > 0:
                return self.build(missing, deadline, blame or Blame())
        return []

    def build(
        self, missing: int, deadline: Deadline, blame: Blame, avoid: Collection[str] = ()
    ) -> list[Path]:
        """`missing` fresh paths of nodes outside the current paths and `avoid`, guards not
        barred by `blame`; nodes are taken by blame.rank, then persistent strikes (the sick
        and the shunned last, not excluded). The caller holds `building`."""
        current = self.paths.snapshot()
        used = {n.pubkey_ed25519 for p in current for n in p.nodes} | set(avoid)
        used_subnets = {n.subnet24 for p in current for n in p.nodes}
        candidates = [n for n in self.pool.nodes() if n.pubkey_ed25519 not in used]
        self._rng.shuffle(candidates)
        strikes = self.pool.strikes()
        candidates.sort(
            key=lambda n: (*blame.rank(n.pubkey_ed25519), strikes.get(n.pubkey_ed25519, 0))
        )
        guard_candidates = [
            n
            for n in candidates
            if n.subnet24 not in used_subnets and n.pubkey_ed25519 not in blame.no_guard
        ]
        guards, probes = find_guards(guard_candidates, missing, deadline, self._prober)
        if not guards:  # every unbarred candidate failed, or none was left: second chances
            guards, more = self._guard_again(
                candidates, used_subnets, probes, missing, deadline, blame
            )
            probes += more
        for node, result in probes:
            self._learned(node, result)
        failed = {n.pubkey_ed25519 for n, r in probes if r.state != "ok"}
        for ed in failed:
            blame.probe_failed(ed)
        candidates = [n for n in candidates if n.pubkey_ed25519 not in failed]
        if not guards:
            raise NetworkUnavailable(
                "no guard node answered a direct test request",
                hints=(
                    f"tested {len(probes)} of the {self.pool.size()} nodes in the pool, none"
                    " answered properly; check connectivity and --proxy",
                ),
            )
        fresh = self._assemble(guards, candidates, used_subnets)
        if not fresh:
            raise NetworkUnavailable(
                f"not enough service nodes in distinct /24 subnets to build a {HOPS}-hop path"
            )
        for p in fresh:
            blame.built(p.key)
        self.paths.add(fresh)
        return fresh

    def _guard_again(
        self,
        ranked: list[Node],
        used_subnets: set[str],
        probes: list[tuple[Node, Probe]],
        missing: int,
        deadline: Deadline,
        blame: Blame,
    ) -> tuple[list[Node], list[tuple[Node, Probe]]]:
        """Guards from the nodes barred in this call for their path's failure, not their own
        (Blame.may_guard_again), probed once more. Under relay 502s every guard of a failed
        path is barred though a relay may have answered for it, and with the nodes of the
        cached paths taken, no unbarred node may be left: the call gave up ("no guard node
        answered") while healthy nodes and healthy paths existed."""
        tested = {n.pubkey_ed25519 for n, _ in probes}
        again = [
            n
            for n in ranked
            if n.subnet24 not in used_subnets
            and n.pubkey_ed25519 not in tested
            and blame.may_guard_again(n.pubkey_ed25519)
        ]
        if not again or deadline.expired():
            return [], []
        guards, seen = find_guards(again, missing, deadline, self._prober)
        for g in guards:
            blame.guard_again(g.pubkey_ed25519)
        return guards, seen

    @staticmethod
    def _assemble(guards: list[Node], ranked: list[Node], used_subnets: set[str]) -> list[Path]:
        subnets = set(used_subnets) | {g.subnet24 for g in guards}
        taken = {g.pubkey_ed25519 for g in guards}
        out = []
        for guard in guards:
            hops = pick_hops(guard, ranked, subnets - {guard.subnet24}, taken)
            if hops is None:
                continue
            out.append(Path(hops))
            taken.update(h.pubkey_ed25519 for h in hops)
            subnets.update(h.subnet24 for h in hops)
        return out

    def choose(
        self, avoid: str, label: str, blame: Blame, log: CallLog, deadline: Deadline
    ) -> Path:
        """A cached path not through `avoid` and not spent in this call, preferring one whose
        hops have not failed in it; else a fresh one, which takes the place of the paths that
        failed in this call (so the cache keeps about PATH_COUNT)."""
        try:
            self.ensure(deadline, blame)
        except SessionCliError as exc:
            if not blame.spent:
                raise  # the first attempt: the cause (seeds, pool, guards) is the call's error
            # topping the cache up failed, but a path still in it may carry this attempt
            if not any(blame.usable(p.key, avoid) for p in self.paths.snapshot()):
                _no_path(label, exc, log)
        usable = [p for p in self.paths.snapshot() if blame.usable(p.key, avoid)]
        clean = [p for p in usable if blame.clean(p.key)]
        if clean:  # a path that failed in an earlier call of this process goes last
            best = [p for p in clean if not p.failures] or clean
            # the path that last answered, if usable and not full: its guard connection is
            # open, so every request of a command can share one TLS session (a handshake costs
            # more than a warm onion round trip); the first request of each process picks at
            # random
            return pick_path(best, self.paths.last_ok, self._rng, CONNECTIONS_PER_HOST)
        try:
            with self.building(deadline):
                self.paths.keep(lambda p: p.key not in blame.spent)
                if self.paths.count() >= PATH_COUNT:  # the new one takes the place of one
                    # not trusted in this call (see Blame.fresh_only), else of a usable one
                    doubtful = [p for p in self.paths.snapshot() if blame.fresh_only]
                    spare = [p for p in doubtful if p.key not in blame.vouched] or usable
                    if spare:
                        self.paths.keep(lambda p: p is not spare[0])
                (fresh,) = self.build(1, deadline, blame, avoid={avoid} - {""})
        except SessionCliError as exc:
            if usable:
                return self._rng.choice(usable)
            _no_path(label, exc, log)
        return fresh


def _no_path(label: str, exc: SessionCliError, log: CallLog) -> NoReturn:
    """After failures in this call no new path could be built: the call stops, and its error
    is chosen from everything that happened (see CallLog)."""
    log.fail(f"no new path to {label}: {exc.message}")
    raise PathTrouble("nopath") from None
