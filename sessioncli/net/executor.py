"""One onion request over one path, what its failure means (the table below), and calls to any node.

Persistent effects of a failed attempt (the per-call evidence goes to policy.Blame):

| what came back                         | Blame                          | persistent                    |
|----------------------------------------|--------------------------------|-------------------------------|
| no HTTP answer from the guard          | path spent, guard barred, sick | path dropped, guard struck    |
| a relayed error (502/504/...)          | every hop (and a vouched       | path strike (3 drop it)       |
|                                        | target) scored                 |                               |
| a 502 naming a node                    | path spent; the hop before it  | named node out of every path, |
|                                        | suspect (barred if the guard); | struck (3 strikes: forgotten) |
|                                        | the target blamed when named   |                               |
|                                        | by two different hops          |                               |
| a request that went through            |                                | its nodes' strikes cleared    |
| junk (does not decrypt, too large)     | probe ok: relays and target    | path dropped; a guard whose   |
|                                        | scored; else guard barred      | probe failed is struck        |
"""

from __future__ import annotations

import contextlib
import queue
import random
import threading
import time
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from typing import NoReturn, TypeVar

from sessioncli.errors import NetworkUnavailable, ProtocolError, SessionCliError
from sessioncli.net.clock import NetworkClock
from sessioncli.net.guards import GUARD_TEST_TIMEOUT, Prober
from sessioncli.net.paths import Path, PathManager
from sessioncli.net.policy import Blame, CallLog, Deadline, Hedge, PathTrouble, named_node
from sessioncli.net.pool import NodePool
from sessioncli.net.transport import HttpResponse, TransportError, WatchedTransport
from sessioncli.protocol import onion, rpc, rpc_answers
from sessioncli.protocol.snode import Node

# Attempts per call (a swarm call makes 4x as many: see swarmcall). The deadline is meant to be
# the limit, not this: with 9 of 15 nodes answering 8 MB of junk, each attempt costs ~0.45 s and
# a send used up 32 swarm attempts in 14 s of its 20 with the healthy member still untried.
MAX_ATTEMPTS = 12
CLOCK_SAMPLES = 5  # a network time checked after a 406 rests on this many nodes' answers
MIN_ATTEMPT_SECONDS = 2.0
# a storage reply is at most one retrieve page (SPEC §4.4: max_size, by default a fifth of
# 7.8 MB) twice base64-encoded: more than this is junk, and reading 16 MB of it costs seconds
SNODE_REPLY_MAX_BYTES = 8 << 20
# Requests that may go out twice with the effect of one (see Executor.send): a store of the
# same signed data is the same message (same hash), the others only read.
RACED_METHODS = frozenset({"store", "retrieve", "get_swarm", "info"})

T = TypeVar("T")


@dataclass(eq=False)
class _Flight:
    """One onion POST: its path and onion, when it left, and how it ended (an answer or not)."""

    path: Path
    built: onion.OnionRequest
    started: float
    resp: HttpResponse | None = None
    error: TransportError | None = None


def _attempt_cap(deadline: Deadline) -> float:
    """How long one attempt may wait for its guard's answer. Relays answer for the hops behind
    them (502/504 within their own timeouts), so only a guard that took the request and then
    went quiet waits this long (one that never completes the handshake is cut off sooner: see
    transport.DIRECT_CONNECT_SECONDS); a race (Hedge) starts a second path well before it."""
    return deadline.cap(max(MIN_ATTEMPT_SECONDS, deadline.seconds / 3))


class Executor:
    """Sends onion requests; applies the table above. Thread-safe (its collaborators lock)."""

    def __init__(
        self,
        transport: WatchedTransport,
        paths: PathManager,
        pool: NodePool,
        clock: NetworkClock,
        *,
        prober: Prober,
        strike_node: Callable[[str], None],
        forget_node: Callable[[str], None],
        rng: random.Random,
        trace: Callable[[str], None] | None = None,
        hedge: Hedge | None = None,
    ) -> None:
        self._trace = trace
        self.hedge = hedge or Hedge()
        self.transport = transport
        self.paths = paths
        self.pool = pool
        self.clock = clock
        self._prober = prober
        self._strike_node = strike_node
        self._forget_node = forget_node
        self._rng = rng

    def strike(self, ed: str) -> None:
        """A persistent strike against a node (3 drop it everywhere)."""
        self._strike_node(ed)

    def error(self, log: CallLog, what: str) -> SessionCliError:
        return log.error(what, network_answered=self.transport.answered)

    def send(
        self,
        target: Node,
        request: rpc.RpcRequest,
        deadline: Deadline,
        log: CallLog,
        blame: Blame | None = None,
        *,
        path: Path | None = None,
        clock_refused: bool = False,
    ) -> onion.SnodeReply:
        """`request` to `target` over one path (a chosen one unless given); a failure on the
        way raises PathTrouble. `clock_refused`: the target just refused our time (406), so
        the time it reports is kept for signing to it only (see NetworkClock).

        An idempotent request (RACED_METHODS: the same store twice stores one message, same
        hash) on a chosen path that has not answered after Hedge.delay is raced on a second
        path to the same target; the first proper answer wins, and a failure waits for the
        other attempt if one is still out. Only the HTTP exchanges run in threads: all the
        bookkeeping (Blame, CallLog, paths, strikes) happens here, in the caller's thread."""
        blame = blame if blame is not None else Blame()
        race = path is None and request.method in RACED_METHODS
        if path is None:
            path = self.paths.choose(target.pubkey_ed25519, target.address, blame, log, deadline)
        body = request.to_json()
        landed: queue.Queue[_Flight] = queue.Queue()
        flying = [self._launch(path, target, body, deadline, landed, threaded=race)]
        delay: float | None = self.hedge.delay(_attempt_cap(deadline)) if race else None
        against = target.pubkey_ed25519  # whom a failure counts against (see below)
        while True:
            try:
                flight = landed.get(timeout=delay)
            except queue.Empty:  # the hedge delay passed with no answer: a second path
                delay = None
                second = self._second_path(target, blame, log, deadline, flying)
                if second is not None:
                    flying.append(self._launch(second, target, body, deadline, landed))
                continue
            flying.remove(flight)
            try:
                return self._landed(
                    flight, target, request.method, deadline, log, blame, clock_refused, against
                )
            except PathTrouble as trouble:
                if trouble.verdict != "path" or not flying:
                    raise
                # the other attempt of the race may still get through; if it fails too, that
                # counts against its hops only: two failures of one attempt would otherwise
                # make a healthy target look like the best explanation twice as fast
                against = ""

    def _launch(
        self,
        path: Path,
        target: Node,
        body: bytes,
        deadline: Deadline,
        landed: queue.Queue[_Flight],
        *,
        threaded: bool = True,
    ) -> _Flight:
        """Build the onion for `path` and POST it to its guard (in a daemon thread when
        `threaded`: one abandoned after the other attempt won does not hold up the exit)."""
        hop = onion.Hop.from_hex(target.pubkey_ed25519, target.pubkey_x25519)
        built = onion.build_snode_request(_hops(path), hop, body)
        flight = _Flight(path, built, time.monotonic())
        guard, timeout = path.nodes[0], _attempt_cap(deadline)
        self.paths.paths.took(path)  # until it lands: parallel senders then pick another path

        def fly() -> None:
            try:
                flight.resp = self.transport.post(
                    f"https://{guard.ip}:{guard.port}/onion_req/v2",
                    built.body,
                    timeout=timeout,
                    content_type="application/octet-stream",
                    max_bytes=SNODE_REPLY_MAX_BYTES,
                )
            except TransportError as exc:
                flight.error = exc
            finally:
                self.paths.paths.landed(path)
                landed.put(flight)

        if threaded:
            try:
                threading.Thread(target=fly, daemon=True).start()
            except BaseException:  # no thread, no flight: it must not count as one for ever
                self.paths.paths.landed(path)
                raise
        else:
            fly()
        return flight

    def _second_path(
        self, target: Node, blame: Blame, log: CallLog, deadline: Deadline, flying: list[_Flight]
    ) -> Path | None:
        """Another path for a race (never one carrying this request already), or None."""
        busy = {f.path.key for f in flying}
        blame.busy |= busy
        try:
            return self.paths.choose(target.pubkey_ed25519, target.address, blame, log, deadline)
        except (PathTrouble, SessionCliError):
            return None
        finally:
            blame.busy -= busy

    def _landed(
        self,
        flight: _Flight,
        target: Node,
        method: str,
        deadline: Deadline,
        log: CallLog,
        blame: Blame,
        clock_refused: bool,
        against: str,
    ) -> onion.SnodeReply:
        """One attempt's exchange is over: its reply, or PathTrouble (the table above), whose
        evidence counts against the target only when `against` names it."""
        path, ed = flight.path, target.pubkey_ed25519
        resp = flight.resp
        self._trace_line(path, f"{method} on {target.address}", flight.started, resp)
        if resp is None:
            self._silent(path, flight.error, deadline, log, blame, against)
        if resp.status != 200:
            self._relay_error(path, resp, log, blame, against)
        try:
            reply = onion.decrypt_snode_reply(flight.built, resp.body)
        except ProtocolError as exc:
            where = f"path via {path.nodes[0].address}: {exc}"
            self._junk(path, against, deadline, log, blame, where)
        self.hedge.observe(time.monotonic() - flight.started)
        self.paths.paths.succeeded(path)
        self.pool.clear_strikes([*path.key, ed])
        t = rpc_answers.network_time(reply.body)
        if t is not None:
            self.clock.observe(ed, t, refused=clock_refused)
        return reply

    def send_v4(
        self,
        server: onion.ServerTarget,
        v4: onion.V4Request,
        deadline: Deadline,
        log: CallLog,
        blame: Blame,
        max_bytes: int | None,
    ) -> onion.V4Reply:
        """`v4` to `server` behind the last hop of a chosen path."""
        path = self.paths.choose("", server.host, blame, log, deadline)
        built = onion.build_server_request(_hops(path), server, v4)
        with self._traced(path, f"request to {server.host}", time.monotonic()):
            resp = self._post(path, built, deadline, log, blame, "", max_bytes)
        try:
            reply = onion.decrypt_v4_reply(built, resp.body)
        except ProtocolError as exc:
            where = f"path via {path.nodes[0].address} to {server.host}: {exc}"
            self._junk(path, "", deadline, log, blame, where)
        self.paths.paths.succeeded(path)
        self.pool.clear_strikes(path.key)
        return reply

    @contextlib.contextmanager
    def _traced(self, path: Path, what: str, started: float) -> Iterator[None]:
        """One `-v` line per onion request: the path guard first, what for, the outcome, time."""
        if self._trace is None:
            yield
            return
        hops = " -> ".join(n.address for n in path.nodes)
        outcome = "failed"
        try:
            yield
            outcome = "answered"
        finally:
            ms = round((time.monotonic() - started) * 1000)
            self._trace(f"onion request: {what} via {hops}: {outcome} in {ms} ms")

    def _post(
        self,
        path: Path,
        built: onion.OnionRequest,
        deadline: Deadline,
        log: CallLog,
        blame: Blame,
        target: str,
        max_bytes: int | None,
    ) -> HttpResponse:
        """POST an onion to the guard of `path`: its HTTP-200 answer, or PathTrouble (or
        NetworkUnavailable when the proxy fails). `target`: the node the onion is for ("" for
        a server), whom a failure may count against."""
        guard = path.nodes[0]
        try:
            resp = self.transport.post(
                f"https://{guard.ip}:{guard.port}/onion_req/v2",
                built.body,
                timeout=_attempt_cap(deadline),
                content_type="application/octet-stream",
                max_bytes=max_bytes,
            )
        except TransportError as exc:
            self._silent(path, exc, deadline, log, blame, target)
        if resp.status != 200:
            self._relay_error(path, resp, log, blame, target)
        return resp

    def _silent(
        self,
        path: Path,
        exc: TransportError | None,
        deadline: Deadline,
        log: CallLog,
        blame: Blame,
        target: str,
    ) -> NoReturn:
        """The guard gave no HTTP answer (or too large a one, or the proxy failed)."""
        guard = path.nodes[0]
        where = f"guard {guard.address}: {exc}"
        if exc is not None and exc.kind == "proxy":
            log.fail(where)
            raise NetworkUnavailable(f"proxy failed: {exc}") from None
        if exc is not None and exc.kind == "oversize":
            self._junk(path, target, deadline, log, blame, where)
        # No answer at all (refused, reset, TLS, or silence): a relay or target in trouble
        # is answered for by the relays (502/504 after a few seconds), so it is the guard.
        # It failed a direct request as surely as a failed probe: it is also the last choice
        # as a relay of a fresh path (a hung guard taken as a relay cost another attempt).
        log.fail(where)
        blame.guard_failed(path.key)
        blame.probe_failed(guard.pubkey_ed25519)
        self.paths.paths.strike(path, drop=True)
        self._strike_node(guard.pubkey_ed25519)
        raise PathTrouble from None

    def _trace_line(self, path: Path, what: str, started: float, resp: HttpResponse | None) -> None:
        """The `-v` line of one raced-or-not snode request (see _traced)."""
        if self._trace is None:
            return
        hops = " -> ".join(n.address for n in path.nodes)
        outcome = "answered" if resp is not None and resp.status == 200 else "failed"
        ms = round((time.monotonic() - started) * 1000)
        self._trace(f"onion request: {what} via {hops}: {outcome} in {ms} ms")

    def _relay_error(
        self, path: Path, resp: HttpResponse, log: CallLog, blame: Blame, target: str
    ) -> NoReturn:
        """The guard answered with an HTTP error: a hop (or the destination) failed."""
        text = resp.body[:300].decode("utf-8", "replace").strip()
        log.fail(
            f"path via {path.nodes[0].address}: HTTP {resp.status} {text[:120]}", answered=True
        )
        missing = named_node(resp.status, text)
        if missing is not None:
            # the hop before the named node could not reach it (see Blame.named: the guard
            # when it is the guard's next hop, barred as a guard then: a guard that names every
            # next hop would otherwise empty the pool). SPEC: the named node goes from our
            # paths at once; from the pool (and swarms) after three such reports, since a
            # broken hop may name a healthy next hop every time
            to_blame = blame.named(path.key, missing, target)
            self.paths.paths.keep(lambda p: not p.has(missing))
            self._strike_node(missing)
            raise PathTrouble("target" if to_blame else "path")
        # SPEC: a 504 marks the path bad (three strikes drop it); it is not used again in this
        # call either way. It may be the target's fault (a relay timed out on it), or any hop's.
        self.paths.paths.strike(path)
        raise PathTrouble("target" if blame.downstream_failed(path.key, target) else "path")

    def _junk(
        self, path: Path, target: str, deadline: Deadline, log: CallLog, blame: Blame, where: str
    ) -> NoReturn:
        """An answer that does not decrypt (or is too large) came back: any hop or the target
        may have made it, relays pass it on as it is. SPEC: take a new path. Asking the guard
        directly tells whether it is the culprit; if it answers properly, the junk came from
        further along, possibly from the target."""
        log.fail(where, answered=True)
        self.paths.paths.strike(path, drop=True)
        guard = path.nodes[0]
        probe = self._prober(guard, deadline.cap(GUARD_TEST_TIMEOUT))
        if probe.state != "ok":
            blame.guard_failed(path.key)
            blame.probe_failed(guard.pubkey_ed25519)
            self._strike_node(guard.pubkey_ed25519)
            raise PathTrouble
        to_blame = blame.downstream_failed(path.key, target, guard_cleared=True)
        raise PathTrouble("target" if to_blame else "path")

    def any_node_call(
        self,
        request: rpc.RpcRequest,
        accept: Callable[[Node, onion.SnodeReply], T],
        deadline: Deadline,
        *,
        what: str,
        exclude: Collection[str] = (),
    ) -> T:
        """Send to random pool nodes (outside our paths when possible, never to `exclude`)
        until one answers 200 and `accept` takes it."""
        self.paths.ensure(deadline)
        log, blame = CallLog(), Blame()
        tried: set[str] = set(exclude)
        for _ in range(MAX_ATTEMPTS):
            target = self._pick_any(tried)
            if target is None or deadline.expired():
                break
            try:
                reply = self.send(target, request, deadline, log, blame)
            except PathTrouble as trouble:
                if trouble.verdict == "nopath":
                    break
                if trouble.verdict == "target":
                    tried.add(target.pubkey_ed25519)
                continue
            tried.add(target.pubkey_ed25519)
            if reply.status == 200:
                try:
                    return accept(target, reply)
                except ProtocolError as exc:
                    log.fail(f"{target.address}: {exc}", answered=True)
                continue
            log.fail(
                f"{target.address}: HTTP {reply.status} {rpc_answers.error_text(reply.body)}",
                answered=True,
            )
            if reply.status >= 500:
                self._strike_node(target.pubkey_ed25519)
        raise self.error(log, what)

    def _pick_any(self, tried: set[str]) -> Node | None:
        in_paths = {n.pubkey_ed25519 for p in self.paths.paths.snapshot() for n in p.nodes}
        pool = [n for n in self.pool.nodes() if n.pubkey_ed25519 not in tried]
        outside = [n for n in pool if n.pubkey_ed25519 not in in_paths]
        choices = outside or pool
        return self._rng.choice(choices) if choices else None

    def settle_network_time(self, deadline: Deadline, *, exclude: Collection[str] = ()) -> None:
        """Before deciding that the network time moved, base it on CLOCK_SAMPLES answers of this
        run: offsets saved by an earlier run may predate a change of the local clock, and one
        skewed node must not decide alone. Nodes in `exclude` (the refusing node's swarm, which
        may share its clock trouble) and nodes known to refuse our time are not asked."""
        asked: set[str] = set(exclude)
        for _ in range(2 * CLOCK_SAMPLES):
            if self.clock.samples_this_run() >= CLOCK_SAMPLES or deadline.expired():
                return
            try:
                node = self.any_node_call(
                    rpc.build_info(),
                    lambda n, _r: n.pubkey_ed25519,
                    deadline,
                    what="network time",
                    exclude=asked | self.clock.refused(),
                )
            except SessionCliError:
                return
            asked.add(node)

    def learn_time(self, node: Node, deadline: Deadline, blame: Blame) -> bool:
        """Ask `node` for its time (info) after a 406; True if we learnt something new."""
        before = self.clock.node_offset_ms(node.pubkey_ed25519)
        try:
            reply = self.send(
                node, rpc.build_info(), deadline, CallLog(), blame, clock_refused=True
            )
        except PathTrouble:
            return False
        if rpc_answers.network_time(reply.body) is None:
            return False
        after = self.clock.node_offset_ms(node.pubkey_ed25519)
        return before is None or after is None or abs(after - before) > 1000


def _hops(path: Path) -> list[onion.Hop]:
    return [onion.Hop.from_hex(n.pubkey_ed25519, n.pubkey_x25519) for n in path.nodes]
