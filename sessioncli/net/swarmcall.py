"""One call to an account's swarm: members tried in turn, 421 followed, 406 handled, errors chosen."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from sessioncli.errors import ProtocolError, SessionCliError
from sessioncli.net.clock import NetworkClock
from sessioncli.net.executor import MAX_ATTEMPTS, Executor
from sessioncli.net.policy import Blame, CallLog, Deadline, PathTrouble
from sessioncli.net.pool import NodePool
from sessioncli.net.results import ClockError
from sessioncli.net.swarms import SwarmCache
from sessioncli.protocol import onion, rpc, rpc_answers
from sessioncli.protocol.snode import Node

# a swarm call may spend a few paths on each member (a failure on a path whose hops failed too
# is not pinned on the target: see Blame) and still stop
MAX_SWARM_ATTEMPTS = 4 * MAX_ATTEMPTS
_REFUSED = (400, 401, 403, 404)

T = TypeVar("T")


@dataclass(frozen=True)
class Recipe(Generic[T]):
    """What a swarm call sends and what it takes as success.

    `make(node)` builds the request for a member; `accept(node, reply)` turns a 200 into the
    result (None: not acknowledged, try another member); `order(members)` says who goes first;
    after a 406, `after_clock_refusal(node)` says whether `make` now builds a new request
    (without it, `make` signs with the current time).
    """

    what: str
    make: Callable[[Node], rpc.RpcRequest]
    accept: Callable[[Node, onion.SnodeReply], T | None]
    order: Callable[[list[Node]], list[Node]]
    after_clock_refusal: Callable[[Node], bool] | None = None


@dataclass
class SwarmLookup:
    """How a call learns and updates an account's swarm (wired by the client)."""

    get: Callable[[str, Deadline, bool], list[Node]]  # (sid, deadline, refresh)
    put: Callable[[str, list[Node]], None]


@dataclass(frozen=True)
class Parts:
    """What the call recipes (storing, polling) work with; wired once by the client."""

    ex: Executor
    lookup: SwarmLookup
    pool: NodePool
    swarms: SwarmCache
    clock: NetworkClock
    rng: random.Random  # orders swarm members (not cryptographic: see NetworkClient)


class SwarmCall(Generic[T]):
    """Send to members of `sid`'s swarm until the recipe accepts an answer.

    421 replaces the cached swarm and moves on to the new one; 406 learns that node's time and
    retries it once (see Recipe); 5xx and path trouble move to another member; 400/401/403/404
    stop at once. With `only`, the call keeps to those members (it does not follow a 421 to
    others, nor ask for the swarm again) and makes at most `max_attempts` attempts.
    """

    def __init__(
        self,
        ex: Executor,
        swarms: SwarmLookup,
        sid: str,
        recipe: Recipe[T],
        deadline: Deadline,
        *,
        only: list[Node] | None = None,
        max_attempts: int = MAX_SWARM_ATTEMPTS,
        blame: Blame | None = None,
    ) -> None:
        self.ex, self.swarms, self.sid, self.recipe = ex, swarms, sid, recipe
        self.deadline = deadline
        self.restricted = only is not None
        self.members = list(only) if only is not None else swarms.get(sid, deadline, False)
        self.max_attempts = max_attempts
        self.log = CallLog()
        self.blame = blame or Blame(shun=frozenset(n.pubkey_ed25519 for n in self.members))
        self.tried: set[str] = set()
        self.failures: Counter[str] = Counter()  # failed attempts per member in this call
        self.clock_retried: set[str] = set()
        self.attempts = 0
        self.moved = False  # a member answered 421
        self.stopped = False

    def run(self) -> T:
        while self.attempts < self.max_attempts and not self.deadline.expired():
            target = self._next()
            if target is None:
                break
            self.attempts += 1
            value = self._attempt(target)
            if value is not None:
                return value
            if self.stopped:
                break
        raise self._error()

    def _next(self) -> Node | None:
        """The next member: those that failed less often in this call first (each gets its
        turn); when all were tried, the swarm is asked for again once (it may have moved)."""
        candidates = self.recipe.order(
            [n for n in self.members if n.pubkey_ed25519 not in self.tried]
        )
        candidates.sort(key=lambda n: self.failures[n.pubkey_ed25519])
        if candidates:
            return candidates[0]
        if self.restricted or not self.attempts or self.log.clock_refusals:
            return None
        try:
            fresh = self.swarms.get(self.sid, self.deadline, True)
        except SessionCliError:
            return None
        self.members = [n for n in fresh if n.pubkey_ed25519 not in self.tried]
        return self._next() if self.members else None

    def _attempt(self, target: Node) -> T | None:
        ed = target.pubkey_ed25519
        try:
            reply = self.ex.send(
                target, self.recipe.make(target), self.deadline, self.log, self.blame
            )
        except PathTrouble as trouble:
            self.failures[ed] += 1
            if trouble.verdict == "nopath":
                self.stopped = True
            elif trouble.verdict == "target":  # named by a 502, or the best explanation
                self.tried.add(ed)
                self.ex.strike(ed)
            return None
        if reply.status == 200:
            return self._on_ok(target, reply)
        text = rpc_answers.error_text(reply.body)
        self.log.fail(f"{target.address}: HTTP {reply.status} {text}", answered=True)
        if reply.status == 421:
            self._on_421(target, reply)
        elif reply.status in (406, 425):
            self._on_clock_refusal(target)
        elif reply.status in _REFUSED:
            raise ProtocolError(
                f"{self.recipe.what} refused by {target.address}: HTTP {reply.status} {text}",
                hints=("the request was rejected as invalid; this is likely a client bug",)
                if reply.status in (400, 401)
                else (),
            )
        else:
            self.tried.add(ed)
            self.ex.strike(ed)
        return None

    def _on_ok(self, target: Node, reply: onion.SnodeReply) -> T | None:
        try:
            value = self.recipe.accept(target, reply)
        except ProtocolError as exc:
            self.log.fail(f"{target.address}: {exc}", answered=True)
            value = None
        if value is None:
            self.tried.add(target.pubkey_ed25519)
            if not self.log.last.startswith(target.address):
                self.log.fail(
                    f"{target.address} did not acknowledge {self.recipe.what}", answered=True
                )
        return value

    def _on_421(self, target: Node, reply: onion.SnodeReply) -> None:
        self.tried.add(target.pubkey_ed25519)
        self.moved = True
        try:
            moved = rpc_answers.parse_swarm(reply.body).nodes
        except ProtocolError:
            moved = []
        if moved:
            self.swarms.put(self.sid, moved)
        if self.restricted:
            return
        self.members = moved or self.swarms.get(self.sid, self.deadline, True)

    def _on_clock_refusal(self, target: Node) -> None:
        ed = target.pubkey_ed25519
        after = self.recipe.after_clock_refusal
        if (
            ed not in self.clock_retried
            and self.ex.learn_time(target, self.deadline, self.blame)
            and (after is None or after(target))
        ):
            self.clock_retried.add(ed)
            self.attempts -= 1
            return
        self.log.clock_refusals += 1
        self.tried.add(ed)

    def _error(self) -> SessionCliError:
        what = f"{self.recipe.what} for {self.sid[:10]}…"
        if not self.log.clock_refusals:
            return self.ex.error(self.log, what)
        offset = self.ex.clock.offset_ms() / 1000
        hint = (
            f"this computer's clock is {abs(offset):.0f} s {'behind' if offset > 0 else 'ahead of'}"
            " the network; synchronise it (e.g. enable NTP) and retry"
            if abs(offset) >= 30
            else "the nodes' clocks disagree with the request's timestamp by more than they allow"
        )
        return ClockError(
            f"{self.recipe.what}: service nodes refused our timestamp (HTTP 406: check your clock)",
            hints=(hint,),
        )
