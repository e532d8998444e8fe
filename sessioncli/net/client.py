"""The network client facade: wires pool, swarms, paths, executor once; the public calls and recipes.

One `NetworkClient` serves every thread of a process. Network I/O runs outside the stores' locks;
path building and pool bootstrap are serialised so parallel sends share one result. Caches live
in `<cache_root>/<network name>/` (see net/cache.py). Each call takes `timeout=`: seconds, or a
`Deadline` shared by every call of one command (so --timeout bounds the whole command).
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Collection, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sessioncli import state
from sessioncli.errors import ProtocolError, SessionCliError, UsageError
from sessioncli.net import guards, storing
from sessioncli.net.bootstrap import PoolKeeper
from sessioncli.net.cache import CLOCK, NetCache
from sessioncli.net.clock import LocalClock, NetworkClock
from sessioncli.net.executor import Executor
from sessioncli.net.networks import NetworkConfig, resolve_network
from sessioncli.net.paths import PATH_COUNT, PathManager, PathSet
from sessioncli.net.policy import Blame, CallLog, Deadline, Hedge, PathTrouble, Timeout
from sessioncli.net.pool import NodePool
from sessioncli.net.results import ClockError, StoreOutcome
from sessioncli.net.storing import verified_holders
from sessioncli.net.swarmcall import Parts, Recipe, SwarmCall, SwarmLookup
from sessioncli.net.swarms import SwarmCache, computed_swarm
from sessioncli.net.transport import (
    CONNECTIONS_PER_HOST,
    PostTransport,
    Transport,
    WatchedTransport,
)
from sessioncli.protocol import onion, rpc, rpc_answers
from sessioncli.protocol.ids import Identity, InvalidSessionId, parse_session_id
from sessioncli.protocol.snode import Node

if TYPE_CHECKING:
    from sessioncli.net import groupcall
    from sessioncli.net.pathcheck import PathTest
    from sessioncli.net.retrieved import RetrieveOutcome, SwarmPoll

__all__ = [
    "ClockError",
    "Deadline",
    "NetworkClient",
    "Node",
    "StoreOutcome",
    "verified_holders",
]

NOW_TIMEOUT = 10.0  # asking the network for its time takes at most this much of a call
MAX_SERVER_ATTEMPTS = 6  # paths tried for one server request (its server may be the trouble)


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
        trace: Callable[[str], None] | None = None,
        hedge: Hedge | None = None,
    ) -> None:
        """`trace`, when given, gets one line per onion request (path, target, outcome, time):
        what `-v` shows; `hedge` says when an unanswered idempotent request is raced on a second
        path (policy.Hedge's defaults unless given)."""
        self.config: NetworkConfig = resolve_network(network)
        self._trace = trace
        self._hedge = hedge
        self.name: str = self.config.name
        self.timeout = timeout
        inner = transport or Transport(proxy=proxy or None, pins=self.config.pins)
        self._transport = WatchedTransport(inner)
        self._cache = NetCache(cache_root or state.cache_dir(), self.config.key)
        self._clock = NetworkClock(clock)
        self._rng = rng or random.SystemRandom()
        # Member order spreads load, no need for SystemRandom (paths and guards keep it): its
        # shuffle is an os.urandom call (a GIL hand-off) per element, ~1,000 for 100 recipients.
        self._order_rng = random.Random(self._rng.getrandbits(64))
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
            trace=self._trace,
            hedge=self._hedge,
        )
        self._lookup = SwarmLookup(get=self._swarm, put=self._set_swarm)
        self._parts = Parts(
            self._ex, self._lookup, self._pool, self._swarms, self._clock, self._order_rng
        )

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
        else:
            self._pool.clear_strikes([node.pubkey_ed25519])
            if probe.time_ms is not None:
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
    def max_in_flight(self) -> int:
        """How many requests this client carries at once without opening connections it then
        closes: every onion request goes to the guard of one of PATH_COUNT paths, over one of
        that guard's kept-alive connections (net.direct). Parallel senders size themselves by it."""
        return PATH_COUNT * CONNECTIONS_PER_HOST

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
        if self._loaded:
            self._swarms.flush()  # entries other threads left to a write still going on
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
        from sessioncli.net import pathcheck  # lazy: only `sessioncli path --test` needs it

        return pathcheck.check_paths(
            self._ex, self._pathset.snapshot(), self._pool.nodes(), self._rng, deadline
        )

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
        plan = storing.StorePlan(_sid(session_id), namespace, ttl_ms, self._clock.offset_ms())
        plan.add(timestamp_ms, data_b64)
        return storing.store(self._parts, plan, reencode, deadline)

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
                n
                for n in self._pool.ranked(nodes, self._order_rng)
                if n.pubkey_ed25519 not in exclude
            ]
            return sorted(nodes, key=lambda n: n.pubkey_ed25519 not in cursors)

        from sessioncli.net import polling  # lazy: a send polls nothing

        recipe = polling.retrieve_recipe(
            self._parts, identity, cursors, namespace, max_count, order
        )
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
        """One page from every reachable member of our swarm (see net/polling.py)."""
        deadline = self._deadline(timeout)
        self._load()
        from sessioncli.net import polling

        return polling.poll_swarm(
            self._parts,
            deadline,
            identity,
            cursors=cursors,
            namespace=namespace,
            max_count=max_count,
            only=only,
        )

    def delete(
        self, identity: Identity, hashes: Sequence[str], *, timeout: Timeout = None
    ) -> list[str]:
        """Delete our own messages by hash; returns the nodes that confirmed a deletion."""
        deadline = self._deadline(timeout)
        self._load()
        request = rpc.build_delete(identity, hashes)
        from sessioncli.protocol import rpc_reads

        recipe = Recipe(
            what="delete",
            make=lambda _n: request,
            accept=lambda _n, reply: sorted(rpc_reads.parse_delete(reply.body).deleted_by),
            order=lambda nodes: self._pool.ranked(nodes, self._order_rng),
        )
        return SwarmCall(self._ex, self._lookup, identity.session_id, recipe, deadline).run()

    def server_request(
        self,
        server: onion.ServerTarget,
        method: str,
        endpoint: str,
        *,
        headers: dict[str, str] | None = None,
        body: onion.Body | None = None,
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
        # not encoded here: each attempt's onion writes the body straight into its one buffer
        v4 = onion.V4Request(method, endpoint, headers or {}, body)
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

    def oxend_request(
        self,
        endpoint: str,
        params: Mapping[str, Any],
        *,
        exclude: Collection[str] = (),
        timeout: Timeout = None,
    ) -> tuple[str, Any]:
        """An oxend RPC (e.g. `ons_resolve`) answered by a random service node, onion-routed:
        (that node's Ed25519 key, the reply body). `exclude` keeps nodes already asked out."""
        deadline = self._deadline(timeout)
        self._load()
        request = rpc.RpcRequest("oxend_request", {"endpoint": endpoint, "params": dict(params)})

        def accept(node: Node, reply: onion.SnodeReply) -> tuple[str, Any]:
            return node.pubkey_ed25519, reply.body

        return self._ex.any_node_call(
            request, accept, deadline, what=f"oxend {endpoint}", exclude=exclude
        )

    def group_request(
        self,
        group_id: str,
        make: Callable[[int], rpc.RpcRequest],
        *,
        what: str,
        recursive: bool,
        timeout: Timeout = None,
    ) -> dict[str, Any]:
        """A request signed for a group (03 id) on its swarm; see net/groupcall.py."""
        deadline = self._deadline(timeout)
        self._load()
        from sessioncli.net import groupcall  # lazy: only group commands use it

        return groupcall.group_request(
            self._parts, group_id, make, deadline, what=what, recursive=recursive
        )

    def group_poll(
        self,
        group_id: str,
        make: groupcall.MakeRetrieve,
        *,
        namespaces: Sequence[int],
        cursors: Mapping[str, str],
        timeout: Timeout = None,
    ) -> groupcall.GroupPoll:
        """One batch of `namespaces` from every member of a group's swarm; see net/groupcall.py."""
        deadline = self._deadline(timeout)
        self._load()
        from sessioncli.net import groupcall

        return groupcall.group_poll(
            self._parts, group_id, make, deadline, namespaces=namespaces, cursors=cursors
        )

    # --- swarms ----------------------------------------------------------------------------

    def _swarm(self, sid: str, deadline: Deadline, refresh: bool) -> list[Node]:
        self._load()
        if not refresh:
            cached = self._swarms.fresh(sid, self._clock.local_ms())
            if cached:
                return cached
            computed = computed_swarm(self._pool, sid, self._clock.local_ms())
            if computed:
                # kept in memory only: the pool gives it again for nothing, while each write
                # re-serialised the whole swarm cache file (a send to 100 new recipients spent
                # ~40% of its CPU there). Fetched swarms (get_swarm, 421) are written.
                self._swarms.remember(sid, computed, self._clock.local_ms())
                return computed

        def accept(node: Node, reply: onion.SnodeReply) -> list[Node]:
            result = rpc_answers.parse_swarm(reply.body)
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


def _sid(text: str) -> str:
    try:
        return parse_session_id(text)
    except InvalidSessionId as exc:
        raise UsageError(str(exc)) from None
