"""Per-call failure policy, pure: the deadline, 69 vs 75, who is to blame, when to race a path."""

from __future__ import annotations

import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from sessioncli.errors import NetworkUnavailable, SessionCliError, TemporaryFailure


class Deadline:
    """The end of one call (or of a whole command): every wait inside it is capped by it.

    One object is passed down to every request the call makes, from any thread: nothing writes
    to it after construction, so sharing it needs no lock. `now` is injected by tests.
    """

    def __init__(self, seconds: float, *, now: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self._now = now
        self.end = now() + seconds

    def remaining(self) -> float:
        return self.end - self._now()

    def expired(self) -> bool:
        return self.remaining() <= 0.05

    def cap(self, seconds: float) -> float:
        """`seconds`, or less when the deadline is nearer (never below 50 ms)."""
        return max(0.05, min(seconds, self.remaining()))

    def sub(self, seconds: float) -> Deadline:
        """A deadline of its own, ending after `seconds` or with this one, whichever is first."""
        return Deadline(max(0.0, min(seconds, self.remaining())), now=self._now)


Timeout = float | Deadline | None  # what a public call accepts: seconds, a shared deadline, default


PathKey = tuple[str, ...]  # ed25519 hex of a path's hops, guard first
# A target is the best explanation of its failures only after this many failed paths: with two,
# two junk relays met on its two paths (of the 8 of 15 junk nodes of the soak's junk scenario)
# made the one healthy member of a swarm look guilty, and the send gave up with time left. Not
# blaming a sick member costs little: members that failed less go first anyway (SwarmCall).
BLAME_AFTER_PATHS = 3
Verdict = Literal["path", "target", "nopath"]  # where one failed attempt leaves the call
_HEX = frozenset("0123456789abcdef")


class PathTrouble(Exception):
    """One attempt failed on its path (already counted in the call's Blame and CallLog).

    `verdict`: "target" when the target is now to blame (skip it), "nopath" when no path could
    be had (the call stops), else "path" (try again on another path).
    """

    def __init__(self, verdict: Verdict = "path") -> None:
        super().__init__(verdict)
        self.verdict: Verdict = verdict


@dataclass
class CallLog:
    """What went wrong during one call: the last failure (for the message) and whether any node
    answered. The exit code rule (README, "Exit codes"): 69 (NetworkUnavailable) when no seed or
    service node gave any HTTP answer during the whole command, whatever the deadline did: every
    attempt was refused, unreachable, or silent until its time ran out; 75 (TemporaryFailure) as
    soon as something answered, even with an error or junk. So the same fault always ends the
    same way, and a deadline that expires first does not change the code."""

    answered: bool = False
    clock_refusals: int = 0
    last: str = "no attempt was made"

    def fail(self, message: str, *, answered: bool = False) -> None:
        self.last = message
        self.answered |= answered

    def error(self, what: str, *, network_answered: bool = False) -> SessionCliError:
        if self.answered or network_answered:
            return TemporaryFailure(
                f"{what} failed: {self.last}",
                hints=("the network answered but not successfully in time; retry later",),
            )
        return NetworkUnavailable(
            f"{what} failed: {self.last}",
            hints=("no service node could be reached; check connectivity, --network and --proxy",),
        )


def named_node(status: int, text: str) -> str | None:
    """The node a relay's 502 names ("Next node not found: <hex>", or the newer "Next node is
    currently unreachable: <hex>"), lower-case; None for any other answer."""
    if status != 502 or not text.startswith("Next node") or ":" not in text:
        return None
    named = text.rsplit(":", 1)[-1].strip().lower()
    return named if len(named) == 64 and set(named) <= _HEX else None


@dataclass
class Blame:
    """One call's evidence about nodes, as scores: no I/O, no clock, no randomness.

    A failure past the guard (junk, a relayed 5xx) counts once against every node that may have
    caused it: the relays, the guard unless a direct probe cleared it, and the target when the
    path is vouched for (its guard was tested in this call, or a probe cleared it). A target is
    to blame once it failed on BLAME_AFTER_PATHS paths and no hop of those paths failed as
    often: it is then the best explanation (no hop of those paths failed a direct probe either), and its failures
    stop counting against those hops. A path that failed is spent for the call; a guard not
    cleared is not used as a guard again in it, unless no other is left (may_guard_again).
    Fresh paths rank nodes by (shunned, sick, score): `shun` holds the other members of the
    swarm being called, whose faults would be taken for the target's; `sick` the nodes that failed a direct probe in this call, or gave no HTTP
    answer at all as a guard (a direct request too).
    """

    shun: frozenset[str] = frozenset()
    sick: set[str] = field(default_factory=set)  # failed a direct probe or request in this call
    fresh_only: bool = False  # a guard failed: only paths built in this call from now on
    spent: set[PathKey] = field(default_factory=set)
    no_guard: set[str] = field(default_factory=set)
    vouched: set[PathKey] = field(default_factory=set)
    score: Counter[str] = field(default_factory=Counter)
    second_chance: set[str] = field(default_factory=set)  # barred guards probed again
    busy: set[PathKey] = field(default_factory=set)  # carrying a request now (see Hedge)
    _on: dict[str, list[PathKey]] = field(default_factory=dict)
    _blamed: set[str] = field(default_factory=set)
    _named_by: dict[str, set[str]] = field(default_factory=dict)

    def built(self, path: PathKey) -> None:
        """`path` was built in this call: its guard answered a direct test just now."""
        self.vouched.add(path)

    def guard_failed(self, path: PathKey) -> None:
        """No (usable) answer from the guard: the path is spent, the guard barred as a guard,
        and cached paths are no longer trusted in this call: their guards, tested in some
        earlier run, may be as sick (a fresh path's guard answers a direct probe first)."""
        self.spent.add(path)
        self.no_guard.add(path[0])
        self.fresh_only = True

    def downstream_failed(self, path: PathKey, target: str, *, guard_cleared: bool = False) -> bool:
        """Junk or a relayed error on `path` to `target` (`target` "" for a server); True when
        the target is now to blame."""
        self.spent.add(path)
        if not guard_cleared:
            self.no_guard.add(path[0])
        hops = path[1:] if guard_cleared else path
        self.score.update(hops)
        if target and (guard_cleared or path in self.vouched):
            self.score[target] += 1
            self._on.setdefault(target, []).append(hops)
        return bool(target) and self.to_blame(target)

    def named(self, path: PathKey, named: str, target: str = "") -> bool:
        """A 502 on `path` says "next node not found: `named`". Only the hop just before the
        named node (the guard, a relay, or for the target the last relay) can have said it:
        relays pass an error back as it is. A guard that said it is barred as a guard (see
        guard_failed); a relay that said it counts once, as a suspect. The named target is
        to blame once two different hops said it (a junk or broken relay names its next hop
        whoever that is: one report named every member of a swarm in turn, and a send gave up
        in 3 s with a healthy member left). True when the target is now to blame."""
        chain = [*path, target] if target else list(path)
        at = chain.index(named) if named in chain[1:] else 1  # a stranger: the guard said it
        reporter = chain[at - 1]
        if at == 1:
            self.guard_failed(path)
        else:
            self.spent.add(path)
            self.score[reporter] += 1
        if not target or named != target:
            return False
        self._named_by.setdefault(target, set()).add(reporter)
        if len(self._named_by[target]) >= 2:
            self._blamed.add(target)
        return target in self._blamed

    def probe_failed(self, ed: str) -> None:
        """`ed` answered a direct probe badly or not at all: the last choice as a hop, and the
        likelier cause of any failure it was on."""
        self.sick.add(ed)

    def may_guard_again(self, ed: str) -> bool:
        """When no unbarred node is left to guard a fresh path, `ed` may be probed once more:
        it was barred for a failure on its path (a relay's 502 or 504, junk from further on,
        which any hop may have caused), not for its own silence or a failed probe (sick), and
        it has not had this second chance in this call (a guard that is the culprit fails
        again and stays barred, so a call cannot go round in circles)."""
        return ed in self.no_guard and ed not in self.sick and ed not in self.second_chance

    def guard_again(self, ed: str) -> None:
        """`ed` answered a direct probe again: it may guard a fresh path (see may_guard_again)."""
        self.second_chance.add(ed)
        self.no_guard.discard(ed)

    def to_blame(self, target: str) -> bool:
        if target in self._blamed:
            return True
        n, failed = self.score[target], self._on.get(target, [])
        if len(failed) < BLAME_AFTER_PATHS or any(
            self.score[h] >= n or h in self.sick for hops in failed for h in hops
        ):
            return False
        self._blamed.add(target)
        for hops in failed:  # the target explains these failures: clear its hops
            self.score.subtract(hops)
        return True

    def usable(self, path: PathKey, avoid: str = "") -> bool:
        """A cached path that may carry this call's next attempt (never through `avoid`)."""
        if self.fresh_only and path not in self.vouched:
            return False
        if path in self.spent or path in self.busy:
            return False
        return path[0] not in self.no_guard and avoid not in path

    def clean(self, path: PathKey) -> bool:
        """No hop of `path` has failed in this call (on a path, or a direct probe)."""
        return all(self.score[h] <= 0 and h not in self.sick for h in path)

    def rank(self, ed: str) -> tuple[bool, bool, int]:
        """Sort key for the nodes of a fresh path (persistent strikes break ties after it)."""
        return (ed in self.shun, ed in self.sick, max(0, self.score[ed]))


# Hedging (see Executor.send): figures measured on the devnet (loopback, 2 loaded cores): a healthy
# onion request answers in 2-40 ms, a store waits up to the swarm's replication timeout (2 s) when
# members hang, and a path through a hung relay fails after the relays' own timeout (3 s; real
# nodes wait longer), while our attempt waits a third of the deadline for a guard that does not
# answer at all. A second path raced after a few times the slowest recent answer rarely doubles a
# healthy request, and turns "wait for the relay to give up, then start over" into one overlap.
HEDGE_FIRST_SECONDS = 1.5  # before any answer in this process (a real first request: ~0.5-1 s)
HEDGE_FLOOR_SECONDS = 0.5
HEDGE_FACTOR = 3.0
HEDGE_SAMPLES = 8


class Hedge:
    """When to race a second path for an idempotent request that has not answered yet: after
    HEDGE_FACTOR times the slowest of the last HEDGE_SAMPLES answers (HEDGE_FIRST_SECONDS before
    any), never sooner than HEDGE_FLOOR_SECONDS, and by half the attempt's cap at the latest.
    No clock: durations are measured by the caller. Its own lock (calls run in parallel)."""

    def __init__(
        self,
        *,
        first: float = HEDGE_FIRST_SECONDS,
        floor: float = HEDGE_FLOOR_SECONDS,
        factor: float = HEDGE_FACTOR,
        samples: int = HEDGE_SAMPLES,
    ) -> None:
        self.first, self.floor, self.factor = first, floor, factor
        self._recent: deque[float] = deque(maxlen=samples)
        self._lock = threading.Lock()

    def observe(self, seconds: float) -> None:
        """A request answered properly after `seconds`."""
        with self._lock:
            self._recent.append(seconds)

    def delay(self, attempt_cap: float) -> float:
        with self._lock:
            slowest = max(self._recent, default=None)
        wait = self.first if slowest is None else max(self.floor, self.factor * slowest)
        return min(wait, attempt_cap / 2)
