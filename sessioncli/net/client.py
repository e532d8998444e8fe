"""The network client facade: wires pool, swarms, paths, executor once; the public calls and recipes.

One `NetworkClient` serves every thread of a process. Network I/O runs outside the stores' locks;
path building and pool bootstrap are serialised so parallel sends share one result. Caches live
in `<cache_root>/<network name>/` (see net/cache.py). Each call takes `timeout=`: seconds, or a
`Deadline` shared by every call of one command (so --timeout bounds the whole command).
"""

from __future__ import annotations

import base64
import random
import threading
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from sessioncli import state
from sessioncli.errors import ProtocolError, SessionCliError, UsageError
from sessioncli.exitcodes import ExitCode
from sessioncli.net import guards
from sessioncli.net.bootstrap import PoolKeeper
from sessioncli.net.cache import CLOCK, NetCache
from sessioncli.net.clock import LocalClock, NetworkClock
from sessioncli.net.executor import Executor
from sessioncli.net.networks import NetworkConfig, resolve_network
from sessioncli.net.paths import PathManager, PathSet
from sessioncli.net.policy import Blame, CallLog, Deadline, PathTrouble, Timeout
from sessioncli.net.pool import NodePool
from sessioncli.net.results import (
    ClockError,
    PathTest,
    RetrievedMessage,
    RetrieveOutcome,
    StoreOutcome,
    SwarmPoll,
)
from sessioncli.net.swarmcall import Recipe, SwarmCall, SwarmLookup
from sessioncli.net.swarms import SwarmCache
from sessioncli.net.transport import PostTransport, Transport, WatchedTransport
from sessioncli.protocol import onion, rpc
from sessioncli.protocol.ids import Identity, InvalidSessionId, parse_session_id
from sessioncli.protocol.rpc import Node

__all__ = [
    "ClockError",
    "Deadline",
    "NetworkClient",
    "Node",
    "PathTest",
    "RetrieveOutcome",
    "RetrievedMessage",
    "StoreOutcome",
    "SwarmPoll",
]

CLOCK_MOVED_MS = 1000
NOW_TIMEOUT = 10.0  # asking the network for its time takes at most this much of a call
MAX_SERVER_ATTEMPTS = 6  # paths tried for one server request (its server may be the trouble)
# Redundant stores: while fewer than min(REDUNDANCY, swarm size) members hold a message, the
# same (idempotent: same hash) store goes to another member, at most EXTRA_STORES times and
# within EXTRA_STORE_SECONDS of its own, so one sick member does not cost every send its timeout.
REDUNDANCY = 2
EXTRA_STORES = 2
EXTRA_STORE_SECONDS = 4.0
MEMBER_ATTEMPTS = 4  # paths one member is tried on by a swarm-wide poll


class NetworkClient:
    """Talks to one Session network. Thread-safe; see the module docstring.

    `transport` replaces the HTTP(S) transport (tests: a scripted one); `proxy` is used only
    when it is not given. The environment is not read here: callers resolve it at the edge.
    """

    def __init__(
        self,
        network: str | None,
        *,
        timeout: float = 30.0,
        proxy: str | None = None,
        cache_root: Path | None = None,
        clock: LocalClock | None = None,
        transport: PostTransport | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.config: NetworkConfig = resolve_network(network)
        self.name: str = self.config.name
        self.timeout = timeout
        inner = transport or Transport(proxy=proxy or None, pins=self.config.pins)
        self._transport = WatchedTransport(inner)
        self._cache = NetCache(cache_root or state.cache_dir(), self.name)
        self._clock = NetworkClock(clock)
        self._rng = rng or random.SystemRandom()
        self._load_lock = threading.Lock()
        self._loaded = False
        self._wire()

    def _wire(self) -> None:
        self._pool = NodePool(self._cache)
        self._swarms = SwarmCache(self._cache)
        self._pathset = PathSet(self._cache)

        def prober(node: Node, timeout: float) -> guards.Probe:
            return guards.probe(self._transport, node, timeout)

        self._keeper = PoolKeeper(
            self._pool,
            self._clock,
            self.config.seeds,
            transport=self._transport,
            rng=self._rng,
            building=lambda d: self._paths.building(d),
            send=lambda node, req, d, log: self._ex.send(node, req, d, log),
            replaced=lambda: self._pathset.keep(
                lambda p: all(self._pool.has(n.pubkey_ed25519) for n in p.nodes)
            ),
        )
        self._paths = PathManager(
            self._pool,
            self._pathset,
            prober=prober,
            ensure_pool=self._keeper.ensure,
            learned=self._learned,
            rng=self._rng,
        )
        self._ex = Executor(
            self._transport,
            self._paths,
            self._pool,
            self._clock,
            prober=prober,
            strike_node=self._strike_node,
            forget_node=self.forget_node,
            rng=self._rng,
        )
        self._lookup = SwarmLookup(get=self._swarm, put=self._set_swarm)

    # --- wiring helpers --------------------------------------------------------------------

    def _load(self) -> None:
        with self._load_lock:
            if self._loaded:
                return
            self._loaded = True
            self._pool.load()
            self._swarms.load()
            self._pathset.load(self._pool)
            self._clock.load_json(self._cache.read(CLOCK))

    def _learned(self, node: Node, probe: guards.Probe) -> None:
        if probe.state != "ok":
            self._strike_node(node.pubkey_ed25519)  # silent, or junk to a direct request
        elif probe.time_ms is not None:
            self._clock.observe(node.pubkey_ed25519, probe.time_ms)

    def _strike_node(self, ed: str) -> None:
        if self._pool.strike(ed):
            self.forget_node(ed)

    def forget_node(self, ed: str) -> None:
        """Forget a node everywhere: pool, swarms, paths (each step idempotent)."""
        self._pool.drop(ed)
        self._swarms.forget_node(ed)
        self._pathset.keep(lambda p: not p.has(ed))

    def _deadline(self, timeout: Timeout) -> Deadline:
        """The call's deadline: the one passed down, `timeout` seconds, or the client default."""
        if isinstance(timeout, Deadline):
            return timeout
        return Deadline(self.timeout if timeout is None else timeout)

    @property
    def requests(self) -> int:
        """HTTP requests this client has made so far (for -v cost reports)."""
        return self._transport.requests

    # --- public API ------------------------------------------------------------------------

    def now_ms(self, *, timeout: Timeout = None) -> int:
        """Network time in ms. With no recent sample it asks the network once (best effort)."""
        self._load()
        if not self._clock.known():
            deadline = self._deadline(timeout).sub(NOW_TIMEOUT)
            try:
                self._paths.ensure(deadline)  # guard tests carry `t`
                if not self._clock.known():
                    self._ex.any_node_call(
                        rpc.build_info(), lambda _n, _r: True, deadline, what="network time"
                    )
            except SessionCliError:
                pass  # the request that follows will report the network problem
        return self._clock.now_ms()

    def close(self) -> None:
        if self._loaded and self._clock.dirty:
            self._cache.write(CLOCK, self._clock.to_json())
        self._transport.close()

    def __enter__(self) -> NetworkClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def pool(self, *, refresh: bool = False, timeout: Timeout = None) -> list[Node]:
        deadline = self._deadline(timeout)
        self._load()
        if refresh:
            self._keeper.refresh(deadline)
        else:
            self._keeper.ensure(deadline)
        return sorted(self._pool.nodes(), key=lambda n: (n.swarm_id or 0, n.ip, n.port))

    def swarm(
        self, session_id: str, *, refresh: bool = False, timeout: Timeout = None
    ) -> list[Node]:
        return self._swarm(_sid(session_id), self._deadline(timeout), refresh)

    def paths(self, *, rebuild: bool = False, timeout: Timeout = None) -> list[list[Node]]:
        deadline = self._deadline(timeout)
        self._load()
        if rebuild:
            self._pathset.clear()
        self._paths.ensure(deadline)
        return [list(p.nodes) for p in self._pathset.snapshot()]

    def test_paths(self, *, timeout: Timeout = None) -> list[PathTest]:
        deadline = self._deadline(timeout)
        self._load()
        self._paths.ensure(deadline)
        pool = self._pool.nodes()
        results = []
        for p in self._pathset.snapshot():
            targets = [n for n in pool if not p.has(n.pubkey_ed25519)]
            if not targets:
                results.append(PathTest(list(p.nodes), False, None, "no node to send to"))
                continue
            log = CallLog()
            t0 = time.monotonic()
            try:
                reply = self._ex.send(
                    self._rng.choice(targets), rpc.build_info(), deadline, log, path=p
                )
            except PathTrouble:
                results.append(PathTest(list(p.nodes), False, None, log.last))
                continue
            rtt = (time.monotonic() - t0) * 1000
            ok = reply.status == 200
            err = None if ok else f"HTTP {reply.status}: {rpc.error_text(reply.body)}"
            results.append(PathTest(list(p.nodes), ok, round(rtt, 1), err))
        return results

    def store(
        self,
        session_id: str,
        data_b64: str,
        *,
        ttl_ms: int,
        timestamp_ms: int,
        namespace: int = 0,
        reencode: Callable[[int], str] | None = None,
        timeout: Timeout = None,
    ) -> StoreOutcome:
        """Store on the recipient's swarm, on min(2, swarm size) members when it can.

        Success once one member holds it (the outcome's `stored_on` says which do, as their
        signed answers show); then, while fewer than REDUNDANCY hold it, the same store (same
        hash) goes to another member: at most EXTRA_STORES requests within EXTRA_STORE_SECONDS.

        The timestamp is inside the signed message and must be the network's time, never one
        node's. A store refused for its time (406) is re-encoded (`reencode`: new timestamp → new
        data_b64) once, with the network time, only if the network time itself has moved since
        the message was made (e.g. saved offsets from before the user set the clock); otherwise
        the refusing node's clock is off and other swarm members are tried. The outcome's
        `timestamp_ms` says which timestamp was stored.
        """
        deadline = self._deadline(timeout)
        self._load()
        plan = _StorePlan(_sid(session_id), namespace, ttl_ms, self._clock.offset_ms())
        plan.add(timestamp_ms, data_b64)
        recipe = self._store_recipe(plan, reencode, deadline)
        call = SwarmCall(self._ex, self._lookup, plan.sid, recipe, deadline)
        first = call.run()
        return self._store_more(plan, call, first, deadline)

    def _store_recipe(
        self, plan: _StorePlan, reencode: Callable[[int], str] | None, deadline: Deadline
    ) -> Recipe[StoreOutcome]:
        def after_refusal(node: Node) -> bool:
            if reencode is None or len(plan.versions) > 1:
                return False
            swarm = self._swarms.get(plan.sid) or [node]
            self._ex.settle_network_time(deadline, exclude={n.pubkey_ed25519 for n in swarm})
            if abs(self._clock.offset_ms() - plan.made_with) <= CLOCK_MOVED_MS:
                return False
            ts = self._clock.now_ms()
            plan.add(ts, reencode(ts))
            return True

        def accept(node: Node, reply: onion.SnodeReply) -> StoreOutcome | None:
            members = {n.pubkey_ed25519 for n in self._swarms.get(plan.sid) or []}
            result = rpc.parse_store(reply.body)
            ts, _data, expected = plan.versions[-1]
            holders = verified_holders(result, node.pubkey_ed25519, expected, members)
            if not holders:
                return None
            expiries = [n.expiry_ms for n in result.nodes if n.expiry_ms]
            expiry = max(expiries) if expiries else ts + plan.ttl_ms
            return StoreOutcome(expected, holders, expiry, ts)

        return Recipe(
            what="store",
            make=lambda _node: plan.request(),
            accept=accept,
            order=lambda nodes: self._pool.ranked(nodes, self._rng),
            after_clock_refusal=after_refusal,
        )

    def _store_more(
        self,
        plan: _StorePlan,
        call: SwarmCall[StoreOutcome],
        first: StoreOutcome,
        deadline: Deadline,
    ) -> StoreOutcome:
        """The redundancy rule (see store): extra stores of exactly the stored version (never
        re-encoded: the hash must stay), each one request, through paths that have not failed
        in this send (the first call's evidence goes along)."""
        want = min(REDUNDANCY, len(call.members))
        holders = list(first.stored_on)
        recipe = Recipe(
            what="store",
            make=lambda _node: plan.request(),
            accept=self._store_recipe(plan, None, deadline).accept,
            order=lambda nodes: nodes,
            after_clock_refusal=lambda _node: False,
        )
        budget = deadline.sub(EXTRA_STORE_SECONDS)
        queue = [
            m
            for m in self._pool.ranked(call.members, self._rng)
            if m.pubkey_ed25519 not in holders and m.pubkey_ed25519 not in call.tried
        ]
        queue.sort(key=lambda n: call.failures[n.pubkey_ed25519])
        extra = 0
        for member in queue:
            if len(holders) >= want or extra >= EXTRA_STORES or budget.expired():
                break
            extra += 1
            one = SwarmCall(
                self._ex, self._lookup, plan.sid, recipe, budget, only=[member], max_attempts=1
            )
            one.blame = call.blame
            try:
                out = one.run()
            except SessionCliError:
                continue
            holders += [h for h in out.stored_on if h not in holders]
        return StoreOutcome(first.hash, holders, first.expiry_ms, first.timestamp_ms, 1 + extra)

    def retrieve(
        self,
        identity: Identity,
        *,
        cursors: Mapping[str, str],
        namespace: int = 0,
        max_count: int | None = None,
        exclude: Collection[str] = (),
        timeout: Timeout = None,
    ) -> RetrieveOutcome:
        """One page from one healthy swarm member (one we have a cursor for, if any)."""
        deadline = self._deadline(timeout)
        self._load()

        def order(nodes: list[Node]) -> list[Node]:
            nodes = [
                n for n in self._pool.ranked(nodes, self._rng) if n.pubkey_ed25519 not in exclude
            ]
            return sorted(nodes, key=lambda n: n.pubkey_ed25519 not in cursors)

        recipe = self._retrieve_recipe(identity, cursors, namespace, max_count, order)
        return SwarmCall(self._ex, self._lookup, identity.session_id, recipe, deadline).run()

    def poll_swarm(
        self,
        identity: Identity,
        *,
        cursors: Mapping[str, str],
        namespace: int = 0,
        max_count: int | None = None,
        only: Collection[str] | None = None,
        timeout: Timeout = None,
    ) -> SwarmPoll:
        """One page from every reachable member of our swarm (those in `only`, if given), in
        parallel, each from its own cursor. Members that fail are listed in `failed`; when none
        answers, the call fails (69/75 by the CallLog rule). A member that answers 421 has the
        swarm cache replaced, and members new to the swarm are polled in the same call."""
        deadline = self._deadline(timeout)
        self._load()
        before = self.requests
        members = self._swarm(identity.session_id, deadline, False)
        if only is not None:
            members = [m for m in members if m.pubkey_ed25519 in only]
        recipe = self._retrieve_recipe(identity, cursors, namespace, max_count, lambda ns: ns)
        pages, errors, moved = self._poll_members(identity, recipe, members, deadline)
        if moved and only is None:
            asked = {m.pubkey_ed25519 for m in members}
            new = [
                m
                for m in self._swarm(identity.session_id, deadline, False)
                if m.pubkey_ed25519 not in asked
            ]
            more_pages, more_errors, _ = self._poll_members(identity, recipe, new, deadline)
            pages += more_pages
            errors.update(more_errors)
        failed = {ed: f.why for ed, f in errors.items()}
        if not pages:
            raise _first_error(errors, self._ex, f"retrieve for {identity.session_id[:10]}…")
        return SwarmPoll(pages, failed, self.requests - before)

    def _poll_members(
        self,
        identity: Identity,
        recipe: Recipe[RetrieveOutcome],
        members: list[Node],
        deadline: Deadline,
    ) -> tuple[list[RetrieveOutcome], dict[str, _Failed], bool]:
        if not members:
            return [], {}, False
        try:
            self._paths.ensure(deadline)  # once, before the threads want paths
        except SessionCliError:
            pass  # each member's call reports it
        calls = [
            SwarmCall(
                self._ex,
                self._lookup,
                identity.session_id,
                recipe,
                deadline,
                only=[m],
                max_attempts=MEMBER_ATTEMPTS,
            )
            for m in members
        ]
        with ThreadPoolExecutor(max_workers=len(calls)) as pool:
            futures = [pool.submit(c.run) for c in calls]
        pages: list[RetrieveOutcome] = []
        errors: dict[str, _Failed] = {}
        for call, future in zip(calls, futures, strict=True):
            try:
                pages.append(future.result())
            except SessionCliError as exc:
                errors[call.members[0].pubkey_ed25519] = _Failed(exc, call.log.last)
        return pages, errors, any(c.moved for c in calls)

    def _retrieve_recipe(
        self,
        identity: Identity,
        cursors: Mapping[str, str],
        namespace: int,
        max_count: int | None,
        order: Callable[[list[Node]], list[Node]],
    ) -> Recipe[RetrieveOutcome]:
        def make(node: Node) -> rpc.RpcRequest:
            return rpc.build_retrieve(
                identity,
                timestamp_ms=self._clock.now_for(node.pubkey_ed25519),
                namespace=namespace,
                last_hash=cursors.get(node.pubkey_ed25519),
                max_count=max_count,
            )

        def accept(node: Node, reply: onion.SnodeReply) -> RetrieveOutcome:
            result = rpc.parse_retrieve(reply.body)
            msgs = [
                RetrievedMessage(m.hash, m.timestamp_ms, m.expiration_ms, m.data)
                for m in result.messages
            ]
            return RetrieveOutcome(node=node, messages=msgs, more=result.more)

        return Recipe(what="retrieve", make=make, accept=accept, order=order)

    def delete(
        self, identity: Identity, hashes: Sequence[str], *, timeout: Timeout = None
    ) -> list[str]:
        """Delete our own messages by hash; returns the nodes that confirmed a deletion."""
        deadline = self._deadline(timeout)
        self._load()
        request = rpc.build_delete(identity, hashes)
        recipe = Recipe(
            what="delete",
            make=lambda _n: request,
            accept=lambda _n, reply: sorted(rpc.parse_delete(reply.body).deleted_by),
            order=lambda nodes: self._pool.ranked(nodes, self._rng),
        )
        return SwarmCall(self._ex, self._lookup, identity.session_id, recipe, deadline).run()

    def server_request(
        self,
        server: onion.ServerTarget,
        method: str,
        endpoint: str,
        *,
        headers: dict[str, str] | None = None,
        body: bytes | None = None,
        timeout: Timeout = None,
        max_reply_bytes: int | None = None,
    ) -> onion.V4Reply:
        """One onion v4 request to an HTTP server behind the last hop of one of our paths.

        The server's own answer (any HTTP code: 4xx/5xx are the caller's to interpret) is
        returned as it is. Trouble on the way (no answer from the guard, a relay's 502/504, a
        reply that does not decrypt or is larger than `max_reply_bytes`) is retried on another
        path within the deadline, at most MAX_SERVER_ATTEMPTS times; then TemporaryFailure (75),
        or NetworkUnavailable (69) when nothing answered at all, naming the server.
        """
        deadline = self._deadline(timeout)
        self._load()
        v4 = onion.encode_v4_request(method, endpoint, headers, body)
        log, blame = CallLog(), Blame()
        for _ in range(MAX_SERVER_ATTEMPTS):
            if deadline.expired():
                break
            try:
                return self._ex.send_v4(server, v4, deadline, log, blame, max_reply_bytes)
            except PathTrouble as trouble:
                if trouble.verdict == "nopath":
                    break
        raise self._ex.error(log, f"request to {method} {server.host}")

    # --- swarms ----------------------------------------------------------------------------

    def _swarm(self, sid: str, deadline: Deadline, refresh: bool) -> list[Node]:
        self._load()
        if not refresh:
            cached = self._swarms.fresh(sid, self._clock.local_ms())
            if cached:
                return cached

        def accept(node: Node, reply: onion.SnodeReply) -> list[Node]:
            result = rpc.parse_swarm(reply.body)
            if not result.nodes:
                raise ProtocolError(f"{node.address} returned an empty swarm for {sid[:10]}…")
            return result.nodes

        nodes = self._ex.any_node_call(
            rpc.build_get_swarm(sid), accept, deadline, what=f"get_swarm for {sid[:10]}…"
        )
        self._set_swarm(sid, nodes)
        return list(nodes)

    def _set_swarm(self, sid: str, nodes: list[Node]) -> None:
        self._swarms.put(sid, nodes, self._clock.local_ms())


class _StorePlan:
    """The versions of one message being stored: the original, then at most one re-encoded
    (timestamp, data, expected hash), and the network offset the original was made with."""

    def __init__(self, sid: str, namespace: int, ttl_ms: int, made_with: int) -> None:
        self.sid, self.namespace, self.ttl_ms, self.made_with = sid, namespace, ttl_ms, made_with
        self.versions: list[tuple[int, str, str]] = []
        self._requests: list[rpc.RpcRequest] = []

    def add(self, timestamp_ms: int, data_b64: str) -> None:
        try:
            raw = base64.b64decode(data_b64, validate=True)
        except ValueError:
            raise UsageError("message data is not base64") from None
        expected = rpc.message_hash(self.sid, self.namespace, raw)
        self.versions.append((timestamp_ms, data_b64, expected))
        self._requests.append(
            rpc.build_store(
                self.sid,
                data_b64,
                ttl_ms=self.ttl_ms,
                timestamp_ms=timestamp_ms,
                namespace=self.namespace,
            )
        )

    def request(self) -> rpc.RpcRequest:
        return self._requests[-1]


def verified_holders(
    result: rpc.StoreResult, target: str, expected: str, members: Collection[str]
) -> list[str]:
    """Who holds the message by a store answer: the target when it says the expected hash (its
    answer came under the onion key only it shares with us), and another member only with its
    own valid signature over that hash (SPEC §4.4: a node signs the base64 hash string), so a
    junk node cannot claim that others stored it; nodes outside the swarm do not count."""
    holders: list[str] = []
    if not result.nodes and result.hash == expected:
        return [target]
    for n in result.nodes:
        if n.failed or n.hash != expected or n.node_ed25519 in holders:
            continue
        if n.node_ed25519 == target or (n.signature_ok and n.node_ed25519 in members):
            holders.append(n.node_ed25519)
    return holders


@dataclass(frozen=True)
class _Failed:
    """A member's call that failed: its error, and the last thing that went wrong in it."""

    error: SessionCliError
    why: str


def _first_error(errors: Mapping[str, _Failed], ex: Executor, what: str) -> SessionCliError:
    """One error for a poll no member answered: a refusal (clock, bad request) as it is, else
    the network rule (CallLog) over what the members' calls saw."""
    network = (ExitCode.UNAVAILABLE, ExitCode.TEMPFAIL)
    for failed in errors.values():
        if failed.error.exit_code not in network:
            return failed.error
    log = CallLog(last="the swarm has no member to ask")
    for failed in errors.values():
        answered = failed.error.exit_code == ExitCode.TEMPFAIL
        log.fail(f"none of {len(errors)} member(s) answered; last: {failed.why}", answered=answered)
    return ex.error(log, what)


def _sid(text: str) -> str:
    try:
        return parse_session_id(text)
    except InvalidSessionId as exc:
        raise UsageError(str(exc)) from None
