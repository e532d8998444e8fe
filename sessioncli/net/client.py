"""The network client: node pool, swarms, onion paths, network time, deadlines; shared by threads.

One `NetworkClient` serves every thread of a process. Network I/O runs outside the state lock;
path building and pool bootstrap are serialised so parallel sends share one result.
Caches live in `<cache_root>/<network name>/` (see net/cache.py).
"""

from __future__ import annotations

import contextlib
import os
import queue
import random
import secrets
import threading
import time
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn, TypeVar

from sessioncli import state
from sessioncli.errors import (
    NetworkUnavailable,
    ProtocolError,
    SessionCliError,
    TemporaryFailure,
    UsageError,
)
from sessioncli.net.cache import CLOCK, PATHS, POOL, SWARMS, NetCache
from sessioncli.net.clock import LocalClock, NetworkClock
from sessioncli.net.networks import NetworkConfig, resolve_network
from sessioncli.net.policy import Deadline, Timeout
from sessioncli.net.transport import HttpResponse, Transport, TransportError
from sessioncli.protocol import onion, rpc
from sessioncli.protocol.ids import Identity, InvalidSessionId, parse_session_id
from sessioncli.protocol.rpc import Node

__all__ = [
    "ClockError",
    "NetworkClient",
    "Node",
    "PathTest",
    "RetrieveOutcome",
    "RetrievedMessage",
    "StoreOutcome",
]

PATH_COUNT = 2  # desktop: desiredGuardCount
HOPS = 3  # guard + 2 relays; the target is a fourth node
STRIKES_TO_DROP_NODE = 3
STRIKES_TO_DROP_PATH = 3
MIN_POOL = 8  # a pool this small is fetched again from a seed
REFRESH_MIN_COMMON = 24  # SPEC §5: fewer common nodes than this → seed fallback
REFRESH_MIN_POOL = 16
POOL_MAX_AGE_MS = 6 * 3600 * 1000
POOL_RETRY_MS = 30 * 60 * 1000  # after a failed refresh, keep the old pool this long
SWARM_MAX_AGE_MS = 24 * 3600 * 1000
MAX_SWARMS = 2000  # cached swarms (one per recipient): the most recently used/fetched stay
MIN_SWARM_NODES = 3
GUARD_TEST_TIMEOUT = 5.0
SEED_TIMEOUT = 10.0
MAX_ATTEMPTS = 8
CLOCK_SAMPLES = 5  # a network time checked after a 406 rests on this many nodes' answers
CLOCK_MOVED_MS = 1000
# a swarm call may spend a few paths on each member (a failure on a path through a suspect does
# not count against the target: see _Attempts) and still stop
MAX_SWARM_ATTEMPTS = 4 * MAX_ATTEMPTS
MAX_SERVER_ATTEMPTS = 6  # paths tried for one server request (its server may be the trouble)

T = TypeVar("T")


@dataclass(frozen=True)
class StoreOutcome:
    hash: str
    stored_on: list[str]  # ed25519 hex of nodes that acknowledged with a (signed) hash
    expiry_ms: int
    timestamp_ms: int


@dataclass(frozen=True)
class RetrievedMessage:
    hash: str
    timestamp_ms: int
    expiration_ms: int
    data: str  # base64


@dataclass(frozen=True)
class RetrieveOutcome:
    node: Node
    messages: list[RetrievedMessage]
    more: bool


@dataclass(frozen=True)
class PathTest:
    path: list[Node]
    ok: bool
    rtt_ms: float | None
    error: str | None


class ClockError(ProtocolError):
    """Service nodes keep refusing our timestamps (HTTP 406): a clock problem, not a network one."""


@dataclass
class _Path:
    nodes: list[Node]
    failures: int = 0

    @property
    def key(self) -> tuple[str, ...]:
        return tuple(n.pubkey_ed25519 for n in self.nodes)

    def has(self, ed: str) -> bool:
        return any(n.pubkey_ed25519 == ed for n in self.nodes)


@dataclass
class _Tracker:
    """What went wrong during one call, to pick the final error (69 vs 75) and its message."""

    answered: bool = False
    temporary: bool = False
    clock_refusals: int = 0
    last: str = "no attempt was made"
    kind: str = ""

    def fail(
        self, message: str, *, answered: bool = False, temporary: bool = False, kind: str = ""
    ) -> None:
        self.last = message
        self.kind = kind
        self.answered |= answered
        self.temporary |= temporary

    def error(self, what: str, deadline: Deadline) -> SessionCliError:
        if self.temporary or self.answered or deadline.expired():
            return TemporaryFailure(
                f"{what} failed: {self.last}",
                hints=("the network answered but not successfully in time; retry later",),
            )
        return NetworkUnavailable(
            f"{what} failed: {self.last}",
            hints=("no service node could be reached; check connectivity, --network and --proxy",),
        )


@dataclass
class _Attempts:
    """One call's memory of what failed in it, so that a retry never walks into the same trouble.

    A path that failed in this call is not used again in it (a fresh one is built instead), and
    the guard of such a path is not used for a fresh one unless a direct request cleared it
    (after junk: see _junk). Whether the *target* is to blame is
    rarely known from one failure (junk or a 5xx looks the same from the guard, a relay or the
    target), so a target is given up on only when a 502 names it or it failed on two distinct
    paths without a suspect hop (a hop of a path that failed downstream earlier in the call);
    an old path failing, or relays answering junk, are not a reason to skip a healthy member.
    """

    failed_paths: set[tuple[str, ...]] = field(default_factory=set)
    bad_guards: set[str] = field(default_factory=set)
    target_fails: dict[str, set[tuple[str, ...]]] = field(default_factory=dict)
    # hops of paths that failed further along than the guard (relays pass junk and 5xx on as
    # they are, so any of them may have made it), and targets that failed: not trusted again in
    # this call, as relays or to judge a target by; each with the targets whose failures made
    # it one (once a target is to blame, its failures no longer cast suspicion on the hops)
    implicated: dict[str, set[str]] = field(default_factory=dict)
    # nodes to use as relays only when nothing else is left (the other members of the swarm a
    # call is sending to: their faults would be taken for the target's)
    shun: set[str] = field(default_factory=set)
    built: set[tuple[str, ...]] = field(default_factory=set)  # paths built (guard tested) here

    def path_failed(self, path: _Path, *, guard_cleared: bool = False) -> None:
        self.failed_paths.add(path.key)
        if not guard_cleared:
            self.bad_guards.add(path.nodes[0].pubkey_ed25519)

    @property
    def suspects(self) -> set[str]:
        return {ed for ed, by in self.implicated.items() if by}

    def clean(self, path: _Path) -> bool:
        return not any(self.implicated.get(n.pubkey_ed25519) for n in path.nodes)

    def target_failed(
        self, target: Node, path: _Path, *, suspects: Collection[Node], vouched: bool
    ) -> bool:
        """A failure downstream of the guard on `path`, which may be the target's: counted
        against it only if no hop of the path was a suspect already and the path is `vouched`
        for (see callers); then `suspects` (hops that may have caused it) and the target become
        suspects. True once it counted on two distinct paths: the target is to blame."""
        ed = target.pubkey_ed25519
        counts = vouched and self.clean(path)
        for n in suspects:
            self.implicated.setdefault(n.pubkey_ed25519, set()).add(ed)
        self.implicated.setdefault(ed, set()).add(ed)
        seen = self.target_fails.setdefault(ed, set())
        if counts:
            seen.add(path.key)
        if len(seen) < 2:
            return False
        for by in self.implicated.values():  # the target explains its failures
            if by is not self.implicated[ed]:
                by.discard(ed)
        return True


class _PathTrouble(Exception):
    """The attempt failed somewhere on the path (already counted); try again on another path."""


class NetworkClient:
    """Talks to one Session network. Thread-safe; see the module docstring."""

    def __init__(
        self,
        network: str | None,
        *,
        timeout: float = 30.0,
        proxy: str | None = None,
        cache_root: Path | None = None,
        clock: LocalClock | None = None,
    ) -> None:
        self.config: NetworkConfig = resolve_network(network)
        self.name: str = self.config.name
        self.timeout = timeout
        proxy = proxy or os.environ.get("SESSIONCLI_PROXY") or None
        self._transport = Transport(proxy=proxy, pins=self.config.pins)
        self._cache = NetCache(cache_root or state.cache_dir(), self.config.key)
        self._clock = NetworkClock(clock)
        self._lock = threading.RLock()
        self._build_lock = threading.Lock()
        self._loaded = False
        self._pool: dict[str, Node] = {}
        self._pool_at = 0
        self._refresh_failed_at = 0
        self._refreshing = False  # a refresh is running: nobody (not even itself) starts another
        self._strikes: dict[str, int] = {}
        self._swarms: dict[str, tuple[int, list[Node]]] = {}
        self._paths: list[_Path] = []
        self._rng = random.SystemRandom()

    # --- public API ------------------------------------------------------------------------

    def _deadline(self, timeout: Timeout) -> Deadline:
        """The call's deadline: the one passed down, `timeout` seconds, or the client default."""
        if isinstance(timeout, Deadline):
            return timeout
        return Deadline(self.timeout if timeout is None else timeout)

    def now_ms(self, *, timeout: Timeout = None) -> int:
        """Network time in ms. With no recent sample it asks the network once (best effort)."""
        self._load()
        if not self._clock.known():
            deadline = self._deadline(timeout).sub(10.0)
            try:
                self._ensure_paths(deadline)  # guard tests carry `t`
                if not self._clock.known():
                    self._any_node_call(
                        rpc.build_info(), lambda _n, _r: True, deadline, what="network time"
                    )
            except SessionCliError:
                pass  # the request that follows will report the network problem
        return self._clock.now_ms()

    def close(self) -> None:
        if self._loaded and self._clock.dirty:
            self._save_clock()
        self._transport.close()

    def __enter__(self) -> NetworkClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def pool(self, *, refresh: bool = False) -> list[Node]:
        deadline = Deadline(self.timeout)
        self._load()
        if refresh:
            self._refresh_pool(deadline, force=True)
        else:
            self._ensure_pool(deadline)
        with self._lock:
            return sorted(self._pool.values(), key=lambda n: (n.swarm_id or 0, n.ip, n.port))

    def swarm(self, session_id: str, *, refresh: bool = False) -> list[Node]:
        return self._swarm(session_id, Deadline(self.timeout), refresh=refresh)

    def paths(self, *, rebuild: bool = False) -> list[list[Node]]:
        deadline = Deadline(self.timeout)
        self._load()
        if rebuild:
            with self._lock:
                self._paths = []
        self._ensure_paths(deadline)
        with self._lock:
            return [list(p.nodes) for p in self._paths]

    def test_paths(self) -> list[PathTest]:
        deadline = Deadline(self.timeout)
        self._load()
        self._ensure_paths(deadline)
        with self._lock:
            paths = list(self._paths)
            pool = list(self._pool.values())
        results = []
        for p in paths:
            targets = [n for n in pool if not p.has(n.pubkey_ed25519)]
            if not targets:
                results.append(PathTest(list(p.nodes), False, None, "no node to send to"))
                continue
            target = self._rng.choice(targets)
            tracker = _Tracker()
            t0 = time.monotonic()
            try:
                reply = self._send(target, rpc.build_info(), deadline, tracker, path=p)
            except _PathTrouble:
                results.append(PathTest(list(p.nodes), False, None, tracker.last))
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
        """Store on the recipient's swarm; success once one member acknowledges with a hash.

        The timestamp is inside the signed message and must be the network's time, never one
        node's. A store refused for its time (406) is re-encoded (`reencode`: new timestamp → new
        data_b64) once, with the network time, only if the network time itself has moved since
        the message was made (e.g. saved offsets from before the user set the clock); otherwise
        the refusing node's clock is off and other swarm members are tried. The outcome's
        `timestamp_ms` says which timestamp was stored.
        """
        deadline = self._deadline(timeout)
        sid = _sid(session_id)
        made_with = self._clock.offset_ms()  # the network offset timestamp_ms was taken with
        versions = [  # (timestamp, request): the original, then at most one re-encoded
            (
                timestamp_ms,
                rpc.build_store(
                    sid, data_b64, ttl_ms=ttl_ms, timestamp_ms=timestamp_ms, namespace=namespace
                ),
            )
        ]

        def make(_node: Node) -> rpc.RpcRequest:
            return versions[-1][1]

        def after_refusal(node: Node) -> bool:
            if reencode is None or len(versions) > 1:
                return False
            with self._lock:
                swarm = self._swarms.get(sid)
            self._settle_network_time(
                deadline, exclude={n.pubkey_ed25519 for n in (swarm[1] if swarm else [node])}
            )
            if abs(self._clock.offset_ms() - made_with) <= CLOCK_MOVED_MS:
                return False
            ts = self._clock.now_ms()
            data = reencode(ts)
            versions.append(
                (
                    ts,
                    rpc.build_store(sid, data, ttl_ms=ttl_ms, timestamp_ms=ts, namespace=namespace),
                )
            )
            return True

        def accept(node: Node, reply: onion.SnodeReply) -> StoreOutcome | None:
            result = rpc.parse_store(reply.body)
            acks = result.acknowledged_by
            if not acks and result.hash and not result.nodes:
                acks = [node.pubkey_ed25519]  # a non-recursive answer from the target alone
            if not acks or not result.hash:
                return None
            expiries = [n.expiry_ms for n in result.nodes if n.expiry_ms]
            ts = versions[-1][0]
            return StoreOutcome(
                hash=result.hash,
                stored_on=acks,
                expiry_ms=max(expiries) if expiries else ts + ttl_ms,
                timestamp_ms=ts,
            )

        return self._swarm_call(
            sid,
            make,
            accept,
            deadline,
            what="store",
            order=self._shuffled,
            after_clock_refusal=after_refusal,
        )

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
        """One page from a healthy swarm member (one we have a cursor for, if any)."""
        deadline = self._deadline(timeout)
        excluded = set(exclude)

        def make(node: Node) -> rpc.RpcRequest:
            return rpc.build_retrieve(
                identity,
                timestamp_ms=self._clock.now_for(node.pubkey_ed25519),
                namespace=namespace,
                last_hash=cursors.get(node.pubkey_ed25519),
                max_count=max_count,
            )

        def order(nodes: list[Node]) -> list[Node]:
            nodes = [n for n in self._shuffled(nodes) if n.pubkey_ed25519 not in excluded]
            return sorted(nodes, key=lambda n: n.pubkey_ed25519 not in cursors)

        def accept(node: Node, reply: onion.SnodeReply) -> RetrieveOutcome:
            result = rpc.parse_retrieve(reply.body)
            msgs = [
                RetrievedMessage(m.hash, m.timestamp_ms, m.expiration_ms, m.data)
                for m in result.messages
            ]
            return RetrieveOutcome(node=node, messages=msgs, more=result.more)

        return self._swarm_call(
            identity.session_id, make, accept, deadline, what="retrieve", order=order
        )

    def delete(
        self, identity: Identity, hashes: Sequence[str], *, timeout: Timeout = None
    ) -> list[str]:
        """Delete our own messages by hash; returns the nodes that confirmed a deletion."""
        deadline = self._deadline(timeout)
        request = rpc.build_delete(identity, hashes)

        def accept(_node: Node, reply: onion.SnodeReply) -> list[str]:
            return sorted(rpc.parse_delete(reply.body).deleted_by)

        return self._swarm_call(
            identity.session_id,
            lambda _n: request,
            accept,
            deadline,
            what="delete",
            order=self._shuffled,
        )

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
        reply that does not decrypt) is retried on another path within the deadline, at most
        MAX_SERVER_ATTEMPTS times; then TemporaryFailure (75), or NetworkUnavailable (69) when
        nothing answered at all, naming the server.
        """
        deadline = self._deadline(timeout)
        self._load()
        v4 = onion.encode_v4_request(method, endpoint, headers, body)
        tracker = _Tracker()
        attempts = _Attempts()
        what = f"{method} {server.host}"
        for _ in range(MAX_SERVER_ATTEMPTS):
            if deadline.expired():
                break
            try:
                path = self._choose_path("", server.host, attempts, deadline, tracker)
                return self._send_v4(path, server, v4, deadline, tracker, attempts, max_reply_bytes)
            except _PathTrouble:
                if tracker.kind == "nopath":
                    break
        raise tracker.error(f"request to {what}", deadline)

    def _send_v4(
        self,
        path: _Path,
        server: onion.ServerTarget,
        v4: bytes,
        deadline: Deadline,
        tracker: _Tracker,
        attempts: _Attempts,
        max_bytes: int | None,
    ) -> onion.V4Reply:
        """`v4` to `server` over `path`; path-level failures raise _PathTrouble (counted)."""
        hops = [onion.Hop.from_hex(n.pubkey_ed25519, n.pubkey_x25519) for n in path.nodes]
        built = onion.build_server_request(hops, server, v4)
        resp = self._post_onion(path, built, deadline, tracker, attempts, None, max_bytes)
        try:
            reply = onion.decrypt_v4_reply(built, resp.body)
        except ProtocolError as exc:
            where = f"path via {path.nodes[0].address} to {server.host}: {exc}"
            self._junk(path, None, deadline, tracker, attempts, where)
        with self._lock:
            path.failures = 0
        return reply

    def oxend_request(
        self, endpoint: str, params: Mapping[str, Any], *, exclude: Collection[str] = ()
    ) -> tuple[str, Any]:
        """An oxend RPC (e.g. `ons_resolve`) answered by a random service node, onion-routed:
        (that node's Ed25519 key, the reply body). `exclude` keeps nodes already asked out."""
        deadline = self._deadline(None)
        request = rpc.RpcRequest("oxend_request", {"endpoint": endpoint, "params": dict(params)})

        def accept(node: Node, reply: onion.SnodeReply) -> tuple[str, Any]:
            return node.pubkey_ed25519, reply.body

        return self._any_node_call(
            request, accept, deadline, what=f"oxend {endpoint}", exclude=exclude
        )

    # --- state on disk ---------------------------------------------------------------------

    def _load(self) -> None:
        with self._lock:
            if self._loaded:
                return
            self._loaded = True
            pool = self._cache.read(POOL)
            if isinstance(pool, dict):
                self._pool = {n.pubkey_ed25519: n for n in _nodes(pool.get("nodes"))}
                at = pool.get("fetched_at_ms")
                self._pool_at = at if isinstance(at, int) else 0
                failed = pool.get("refresh_failed_at_ms")
                self._refresh_failed_at = failed if isinstance(failed, int) else 0
                strikes = pool.get("strikes")
                if isinstance(strikes, dict):
                    self._strikes = {
                        k: v for k, v in strikes.items() if isinstance(v, int) and k in self._pool
                    }
            swarms = self._cache.read(SWARMS)
            if isinstance(swarms, dict):
                for sid, entry in swarms.items():
                    if isinstance(entry, dict) and isinstance(entry.get("at_ms"), int):
                        nodes = _nodes(entry.get("nodes"))
                        if nodes:
                            self._swarms[sid] = (entry["at_ms"], nodes)
                # oldest first, so the dict's order is the eviction order (see _set_swarm)
                self._swarms = dict(sorted(self._swarms.items(), key=lambda kv: kv[1][0]))
                self._trim_swarms()
            paths = self._cache.read(PATHS)
            if isinstance(paths, dict) and isinstance(paths.get("paths"), list):
                for raw in paths["paths"]:
                    nodes = _nodes(raw)
                    if len(nodes) == HOPS and all(n.pubkey_ed25519 in self._pool for n in nodes):
                        self._paths.append(_Path(nodes))
            self._clock.load_json(self._cache.read(CLOCK))

    def _save_pool(self) -> None:
        with self._lock:
            value = {
                "fetched_at_ms": self._pool_at,
                "refresh_failed_at_ms": self._refresh_failed_at,
                "nodes": [n.to_json() for n in self._pool.values()],
                "strikes": dict(self._strikes),
            }
        self._cache.write(POOL, value)

    def _save_paths(self) -> None:
        with self._lock:
            value = {"paths": [[n.to_json() for n in p.nodes] for p in self._paths]}
        self._cache.write(PATHS, value)

    def _save_swarm(self, sid: str) -> None:
        with self._lock:
            entry = self._swarms.get(sid)
            value = (
                None
                if entry is None
                else {"at_ms": entry[0], "nodes": [n.to_json() for n in entry[1]]}
            )
        self._cache.merge_swarm(sid, value, limit=MAX_SWARMS)

    def _save_clock(self) -> None:
        self._cache.write(CLOCK, self._clock.to_json())

    # --- node pool -------------------------------------------------------------------------

    def _ensure_pool(self, deadline: Deadline) -> None:
        with self._lock:
            size = len(self._pool)
            now = self._clock.local_ms()
            old = now - self._pool_at > POOL_MAX_AGE_MS
            retry = now - self._refresh_failed_at > POOL_RETRY_MS
        if size <= MIN_POOL:
            with self._building(deadline):
                with self._lock:
                    if len(self._pool) > MIN_POOL:
                        return
                self._bootstrap_from_seed(deadline)
        elif old and retry and not self._refreshing:
            # an old pool still works: give the refresh half the time left, keep the rest
            sub = Deadline(max(0.0, deadline.remaining() / 2))
            try:
                self._refresh_pool(sub, force=False)
            except SessionCliError:
                pass

    def _refresh_pool(self, deadline: Deadline, *, force: bool) -> None:
        """SPEC §5: ask 3 pool nodes, keep the intersection; too few in common → a seed.

        Never re-enters itself: the requests it sends go over paths built from the current pool
        (whose age is not checked again while a refresh runs). When it fails, the old pool stays
        and the next automatic attempt waits POOL_RETRY_MS.
        """
        with self._lock:
            if self._refreshing:
                return  # another thread is at it, or we were called from inside a refresh
            self._refreshing = True
        try:
            self._refresh_pool_once(deadline)
        except SessionCliError:
            with self._lock:
                self._refresh_failed_at = self._clock.local_ms()
            self._save_pool()
            raise
        finally:
            with self._lock:
                self._refreshing = False

    def _refresh_pool_once(self, deadline: Deadline) -> None:
        with self._lock:
            candidates = list(self._pool.values())
        if len(candidates) > MIN_POOL:
            lists: list[list[Node]] = []
            for node in self._rng.sample(candidates, 3):
                tracker = _Tracker()
                req = rpc.build_batch([rpc.build_oxend_get_service_nodes()])
                try:
                    reply = self._send(node, req, deadline, tracker)
                    if reply.status != 200:
                        break
                    (sub,) = rpc.parse_batch(reply.body)[:1]
                    if sub.code != 200:
                        break
                    lists.append(rpc.parse_service_nodes(sub.body))
                except (_PathTrouble, ProtocolError, ValueError, SessionCliError):
                    break
            if len(lists) == 3:
                keys = [{(n.pubkey_ed25519, n.ip, n.port) for n in lst} for lst in lists]
                common = keys[0] & keys[1] & keys[2]
                fresh = [n for n in lists[0] if (n.pubkey_ed25519, n.ip, n.port) in common]
                if len(common) >= REFRESH_MIN_COMMON and len(fresh) >= REFRESH_MIN_POOL:
                    self._set_pool(fresh)
                    return
        with self._building(deadline):
            self._bootstrap_from_seed(deadline)

    def _bootstrap_from_seed(self, deadline: Deadline) -> None:
        seeds = list(self.config.seeds)
        self._rng.shuffle(seeds)
        body = rpc.build_get_n_service_nodes().to_json()
        problems: list[str] = []
        tracker = _Tracker()
        for seed in seeds:
            if deadline.expired():
                break
            try:
                resp = self._transport.post(seed.rpc_url, body, timeout=deadline.cap(SEED_TIMEOUT))
            except TransportError as exc:
                problems.append(f"seed {seed.url}: {exc}")
                if exc.kind == "pin":
                    tracker.fail(f"seed {seed.url} refused: {exc}")
                else:
                    tracker.fail(f"seed {seed.url}: {exc}", temporary=exc.kind == "timeout")
                continue
            if resp.status != 200:
                problems.append(f"seed {seed.url}: HTTP {resp.status}")
                tracker.fail(f"seed {seed.url}: HTTP {resp.status}", answered=True, temporary=True)
                continue
            try:
                nodes = rpc.parse_service_nodes(_json(resp.body))
            except ProtocolError as exc:
                tracker.fail(f"seed {seed.url}: {exc}", answered=True)
                continue
            if not nodes:
                tracker.fail(f"seed {seed.url} returned no service nodes", answered=True)
                continue
            self._set_pool(nodes)
            return
        pinned = [p for p in problems if "pinned" in p]
        if pinned and len(pinned) == len(problems):
            raise NetworkUnavailable(
                pinned[0],
                hints=(
                    "refusing a seed whose TLS certificate differs from the pinned one "
                    "(network file cert_pem / bundled certificate)",
                ),
            )
        raise tracker.error(f"fetching the node list from {len(seeds)} seed(s)", deadline)

    def _set_pool(self, nodes: list[Node]) -> None:
        with self._lock:
            self._pool = {n.pubkey_ed25519: n for n in nodes}
            self._pool_at = self._clock.local_ms()
            self._refresh_failed_at = 0
            self._strikes = {k: v for k, v in self._strikes.items() if k in self._pool}
            self._paths = [
                p for p in self._paths if all(n.pubkey_ed25519 in self._pool for n in p.nodes)
            ]
        self._save_pool()
        self._save_paths()

    def _strike_node(self, ed: str, count: int = 1) -> None:
        with self._lock:
            strikes = self._strikes.get(ed, 0) + count
            self._strikes[ed] = strikes
        if strikes >= STRIKES_TO_DROP_NODE:
            self._drop_node(ed)
        else:
            self._save_pool()

    def _drop_node(self, ed: str) -> None:
        """Forget a node everywhere: pool, swarms, paths."""
        with self._lock:
            self._pool.pop(ed, None)
            self._strikes.pop(ed, None)
            touched = [
                sid
                for sid, (_, ns) in self._swarms.items()
                if any(n.pubkey_ed25519 == ed for n in ns)
            ]
            for sid in touched:
                at, ns = self._swarms[sid]
                self._swarms[sid] = (at, [n for n in ns if n.pubkey_ed25519 != ed])
            before = len(self._paths)
            self._paths = [p for p in self._paths if not p.has(ed)]
            paths_changed = len(self._paths) != before
        self._save_pool()
        for sid in touched:
            self._save_swarm(sid)
        if paths_changed:
            self._save_paths()

    # --- swarms ----------------------------------------------------------------------------

    def _swarm(self, session_id: str, deadline: Deadline, *, refresh: bool = False) -> list[Node]:
        sid = _sid(session_id)
        self._load()
        with self._lock:
            cached = self._swarms.pop(sid, None)
            if cached is not None:
                self._swarms[sid] = cached  # most recently used last
        if cached and not refresh:
            age = self._clock.local_ms() - cached[0]
            enough = len(cached[1]) >= MIN_SWARM_NODES or (cached[1] and age < 60_000)
            if age < SWARM_MAX_AGE_MS and enough:
                return list(cached[1])
        request = rpc.build_get_swarm(sid)

        def accept(node: Node, reply: onion.SnodeReply) -> list[Node]:
            result = rpc.parse_swarm(reply.body)
            if not result.nodes:
                raise ProtocolError(f"{node.address} returned an empty swarm for {sid[:10]}…")
            return result.nodes

        nodes = self._any_node_call(request, accept, deadline, what=f"get_swarm for {sid[:10]}…")
        self._set_swarm(sid, nodes)
        return list(nodes)

    def _set_swarm(self, sid: str, nodes: list[Node]) -> None:
        with self._lock:
            self._swarms.pop(sid, None)
            self._swarms[sid] = (self._clock.local_ms(), list(nodes))
            self._trim_swarms()
        self._save_swarm(sid)

    def _trim_swarms(self) -> None:
        """Keep the MAX_SWARMS most recently used swarms (the dict is in order of use)."""
        with self._lock:
            while len(self._swarms) > MAX_SWARMS:
                del self._swarms[next(iter(self._swarms))]

    # --- paths -----------------------------------------------------------------------------

    @contextlib.contextmanager
    def _building(self, deadline: Deadline) -> Iterator[None]:
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

    def _ensure_paths(
        self,
        deadline: Deadline,
        *,
        not_guards: Collection[str] = (),
        suspects: Collection[str] = (),
        prefer_not: Collection[str] = (),
    ) -> list[_Path]:
        """Build paths up to PATH_COUNT; returns those built now."""
        self._ensure_pool(deadline)
        with self._lock:
            if len(self._paths) >= PATH_COUNT:
                return []
        with self._building(deadline):
            with self._lock:
                missing = PATH_COUNT - len(self._paths)
            if missing > 0:
                return self._build_paths(
                    missing,
                    deadline,
                    not_guards=not_guards,
                    suspects=suspects,
                    prefer_not=prefer_not,
                )
        return []

    def _build_paths(
        self,
        missing: int,
        deadline: Deadline,
        *,
        avoid: Collection[str] = (),
        not_guards: Collection[str] = (),
        suspects: Collection[str] = (),
        prefer_not: Collection[str] = (),
    ) -> list[_Path]:
        """Build `missing` paths from nodes outside the current paths and `avoid`, with guards
        not in `not_guards`; `prefer_not`, then `suspects`, then nodes that failed us lately
        are used only when others run out. The caller holds _building."""
        with self._lock:
            used = {n.pubkey_ed25519 for p in self._paths for n in p.nodes} | set(avoid)
            used_subnets = {n.subnet24 for p in self._paths for n in p.nodes}
            pool = [n for n in self._pool.values() if n.pubkey_ed25519 not in used]
            strikes = dict(self._strikes)
        self._rng.shuffle(pool)
        # nodes that failed us lately (a silent or junk-answering guard) come last, as guards
        # and as relays: they are not chosen again while others are available; so are the
        # nodes the caller prefers not to use (suspects of a call)
        suspect, shunned = set(suspects), set(prefer_not)
        pool.sort(
            key=lambda n: (
                n.pubkey_ed25519 in shunned,
                n.pubkey_ed25519 in suspect,
                n.pubkey_ed25519 in strikes,
                strikes.get(n.pubkey_ed25519, 0),
            )
        )
        guards, failed = self._find_guards(
            [
                n
                for n in pool
                if n.subnet24 not in used_subnets and n.pubkey_ed25519 not in not_guards
            ],
            missing,
            deadline,
        )
        pool = [n for n in pool if n.pubkey_ed25519 not in failed]
        if not guards:
            raise NetworkUnavailable(
                "no guard node answered a direct test request",
                hints=(f"tried from a pool of {len(pool)} nodes; check connectivity and --proxy",),
            )
        new_paths: list[_Path] = []
        for guard in guards:
            used_subnets.add(guard.subnet24)
        for guard in guards:
            hops = [guard]
            subnets = set(used_subnets)
            for n in pool:
                if len(hops) == HOPS:
                    break
                if n in guards or n.subnet24 in subnets:
                    continue
                hops.append(n)
                subnets.add(n.subnet24)
                used_subnets.add(n.subnet24)
            if len(hops) < HOPS:  # not enough distinct /24s across paths: keep the rule per path
                taken = {h.pubkey_ed25519 for p in new_paths for h in p.nodes}
                sub_here = {h.subnet24 for h in hops}
                for n in pool:
                    if len(hops) == HOPS:
                        break
                    if n in guards or n in hops or n.pubkey_ed25519 in taken:
                        continue
                    if n.subnet24 not in sub_here:
                        hops.append(n)
                        sub_here.add(n.subnet24)
            if len(hops) == HOPS:
                new_paths.append(_Path(hops))
            pool = [n for n in pool if n not in hops]
        if not new_paths:
            raise NetworkUnavailable(
                f"not enough service nodes in distinct /24 subnets to build a {HOPS}-hop path"
            )
        with self._lock:
            self._paths.extend(new_paths)
        self._save_paths()
        return new_paths

    def _test_guard(self, node: Node, timeout: float) -> tuple[str, int | None]:
        """A direct get_swarm for a random account: ("ok", the node's time or None) when it
        answers properly, ("silent", None) without any HTTP answer, ("bad", None) otherwise."""
        probe = rpc.build_get_swarm("05" + secrets.token_hex(32)).to_json()
        url = f"https://{node.ip}:{node.port}/storage_rpc/v1"
        try:
            resp = self._transport.post(url, probe, timeout=timeout)
        except TransportError as exc:
            return ("bad" if exc.kind == "oversize" else "silent"), None
        if resp.status != 200:
            return "bad", None
        try:
            return "ok", rpc.network_time(_json(resp.body))
        except ProtocolError:
            return "bad", None

    def _find_guards(
        self, candidates: list[Node], want: int, deadline: Deadline
    ) -> tuple[list[Node], set[str]]:
        """Test candidates with a direct get_swarm (4 at a time); keep the first `want` that answer.

        Returns as soon as enough answered: a hung candidate must not cost its whole test timeout
        when others were quick. Tests run in daemon threads, so one still waiting when we return
        is abandoned (its result is dropped) and does not hold up the process's exit either.
        """
        found: list[Node] = []
        failed: set[str] = set()
        subnets: set[str] = set()
        results: queue.Queue[tuple[Node, str, int | None]] = queue.Queue()
        waiting = iter(candidates[:24])
        running = 0

        def start_next() -> None:
            nonlocal running
            node = next(waiting, None)
            if node is None or deadline.expired():
                return
            timeout = deadline.cap(GUARD_TEST_TIMEOUT)
            threading.Thread(
                target=lambda: results.put((node, *self._test_guard(node, timeout))), daemon=True
            ).start()
            running += 1

        for _ in range(4):
            start_next()
        while running and len(found) < want:
            try:
                node, state, t = results.get(timeout=max(0.0, deadline.remaining()))
            except queue.Empty:
                break  # the deadline: the tests still running are abandoned
            running -= 1
            if state != "ok":
                failed.add(node.pubkey_ed25519)
                self._strike_node(node.pubkey_ed25519)  # silent, or junk to a direct request
            else:
                if t is not None:
                    self._clock.observe(node.pubkey_ed25519, t)
                if node.subnet24 not in subnets:
                    found.append(node)
                    subnets.add(node.subnet24)
            start_next()
        return found, failed

    def _choose_path(
        self, avoid: str, label: str, attempts: _Attempts, deadline: Deadline, tracker: _Tracker
    ) -> _Path:
        """A path avoiding the target, untried in this call; else a fresh one, which takes the
        place of the paths that failed in this call (so the cache keeps about PATH_COUNT)."""
        try:
            built = self._ensure_paths(
                deadline,
                not_guards=attempts.bad_guards,
                suspects=attempts.suspects,
                prefer_not=attempts.shun,
            )
        except SessionCliError as exc:
            if not attempts.failed_paths:
                raise  # the first attempt: the cause (seeds, pool, guards) is the call's error
            self._no_path(label, exc, tracker)
        attempts.built.update(p.key for p in built)
        with self._lock:
            usable = [
                p
                for p in self._paths
                if not p.has(avoid)
                and p.key not in attempts.failed_paths
                and p.nodes[0].pubkey_ed25519 not in attempts.bad_guards
            ]
        clean = [p for p in usable if attempts.clean(p)]
        if clean:
            return self._rng.choice(clean)
        # a path through a suspect (a hop of a path that failed in this call) is used only
        # when no fresh one can be had
        try:
            with self._building(deadline):
                with self._lock:  # their nodes may serve again (but not their guards as guards)
                    self._paths = [p for p in self._paths if p.key not in attempts.failed_paths]
                    if usable and len(self._paths) >= PATH_COUNT:  # the new one takes its place
                        with contextlib.suppress(ValueError):
                            self._paths.remove(usable[0])
                (fresh,) = self._build_paths(
                    1,
                    deadline,
                    avoid={avoid},
                    not_guards=attempts.bad_guards,
                    suspects=attempts.suspects,
                    prefer_not=attempts.shun,
                )
        except SessionCliError as exc:
            if usable:
                return self._rng.choice(usable)
            self._no_path(label, exc, tracker)
        attempts.built.add(fresh.key)
        return fresh

    @staticmethod
    def _no_path(label: str, exc: SessionCliError, tracker: _Tracker) -> NoReturn:
        """After failures in this call no new path could be built: the call stops, and its
        error is chosen from everything that happened (69 only if nothing ever answered)."""
        tracker.fail(
            f"no new path to {label}: {exc.message}",
            temporary=isinstance(exc, TemporaryFailure),
            kind="nopath",
        )
        raise _PathTrouble from None

    def _strike_path(self, path: _Path, *, drop: bool = False) -> None:
        with self._lock:
            path.failures += 1
            if not (drop or path.failures >= STRIKES_TO_DROP_PATH):
                return
            if path in self._paths:
                self._paths.remove(path)
        self._save_paths()

    # --- one onion request -----------------------------------------------------------------

    def _send(
        self,
        target: Node,
        request: rpc.RpcRequest,
        deadline: Deadline,
        tracker: _Tracker,
        *,
        path: _Path | None = None,
        attempts: _Attempts | None = None,
        clock_refused: bool = False,
    ) -> onion.SnodeReply:
        """Send `request` to `target` over one path; path-level failures raise _PathTrouble.

        Then `tracker.kind` says where the trouble was: "target" when the target is to blame
        (named by a 502, or failed on two distinct paths of this call), "nopath" when no path
        could be had, else a path-level kind. `clock_refused`: the target just refused our time
        (406), so the time it reports is kept for signing to it only (see NetworkClock).
        """
        attempts = attempts if attempts is not None else _Attempts()
        if path is None:
            path = self._choose_path(
                target.pubkey_ed25519, target.address, attempts, deadline, tracker
            )
        hops = [onion.Hop.from_hex(n.pubkey_ed25519, n.pubkey_x25519) for n in path.nodes]
        built = onion.build_snode_request(
            hops, onion.Hop.from_hex(target.pubkey_ed25519, target.pubkey_x25519), request.to_json()
        )
        resp = self._post_onion(path, built, deadline, tracker, attempts, target, None)
        try:
            reply = onion.decrypt_snode_reply(built, resp.body)
        except ProtocolError as exc:
            where = f"path via {path.nodes[0].address}: {exc}"
            self._junk(path, target, deadline, tracker, attempts, where)
        with self._lock:
            path.failures = 0
        t = rpc.network_time(reply.body)
        if t is not None:
            self._clock.observe(target.pubkey_ed25519, t, refused=clock_refused)
        return reply

    def _post_onion(
        self,
        path: _Path,
        built: onion.OnionRequest,
        deadline: Deadline,
        tracker: _Tracker,
        attempts: _Attempts,
        target: Node | None,
        max_bytes: int | None,
    ) -> HttpResponse:
        """POST an onion to the guard of `path`; the guard's HTTP-200 answer, else _PathTrouble
        (or NetworkUnavailable when the proxy fails). `target`: the service node the onion is
        for (None for a server destination), which a failure may be counted against."""
        guard = path.nodes[0]
        url = f"https://{guard.ip}:{guard.port}/onion_req/v2"
        try:
            resp = self._transport.post(
                url,
                built.body,
                timeout=deadline.cap(max(2.0, deadline.seconds / 3)),
                content_type="application/octet-stream",
                max_bytes=max_bytes,
            )
        except TransportError as exc:
            where = f"guard {guard.address}: {exc}"
            if exc.kind == "proxy":
                tracker.fail(where, kind="guard")
                raise NetworkUnavailable(f"proxy failed: {exc}") from None
            if exc.kind == "oversize":
                self._junk(path, target, deadline, tracker, attempts, where)
            attempts.path_failed(path)
            # No answer at all (refused, reset, TLS, or silence): a relay or target in trouble
            # is answered for by the relays (502/504 after a few seconds), so it is the guard.
            tracker.fail(where, temporary=exc.kind == "timeout", kind="guard")
            self._strike_path(path, drop=True)
            self._strike_node(guard.pubkey_ed25519)
            raise _PathTrouble from None
        if resp.status != 200:
            self._relay_error(path, resp, tracker, attempts, target)
        return resp

    def _relay_error(
        self,
        path: _Path,
        resp: HttpResponse,
        tracker: _Tracker,
        attempts: _Attempts,
        target: Node | None,
    ) -> NoReturn:
        """The guard answered with an HTTP error: some hop (or the destination) failed."""
        text = resp.body[:300].decode("utf-8", "replace").strip()
        tracker.fail(
            f"path via {path.nodes[0].address}: HTTP {resp.status} {text[:120]}",
            answered=True,
            temporary=resp.status >= 500,
            kind=f"relay{resp.status}",
        )
        attempts.path_failed(path)
        # "Next node not found: <ed25519 hex>", newer "Next node is currently unreachable: …"
        if resp.status == 502 and text.startswith("Next node") and ":" in text:
            missing = text.rsplit(":", 1)[-1].strip().lower()
            if len(missing) == 64 and all(c in "0123456789abcdef" for c in missing):
                self._drop_node(missing)  # and every path through it
                if target is not None and missing == target.pubkey_ed25519:
                    tracker.kind = "target"
                raise _PathTrouble
        # SPEC: a 504 marks the path bad (three strikes drop it); it is not used again in
        # this call either way. It may be the target's fault (a relay timed out on it), or
        # any hop's, the guard included: it counts against the target only on a path whose
        # guard passed a direct test in this call and whose hops are not suspects.
        self._strike_path(path)
        if target is not None and attempts.target_failed(
            target, path, suspects=path.nodes, vouched=path.key in attempts.built
        ):
            tracker.kind = "target"
        raise _PathTrouble

    def _junk(
        self,
        path: _Path,
        target: Node | None,
        deadline: Deadline,
        tracker: _Tracker,
        attempts: _Attempts,
        where: str,
    ) -> NoReturn:
        """An answer that does not decrypt (or is too large) came back: any hop or the target may
        have made it, relays pass it on as it is. SPEC: take a new path. Asking the guard
        directly tells whether it is the culprit; if it answers properly, the junk came from
        further along, possibly from the target."""
        tracker.fail(where, answered=True, temporary=True, kind="junk")
        self._strike_path(path, drop=True)
        guard = path.nodes[0]
        state, _ = self._test_guard(guard, deadline.cap(GUARD_TEST_TIMEOUT))
        attempts.path_failed(path, guard_cleared=state == "ok")
        if state != "ok":
            self._strike_node(guard.pubkey_ed25519)
        elif target is not None and attempts.target_failed(
            target, path, suspects=path.nodes[1:], vouched=True
        ):
            tracker.kind = "target"
        raise _PathTrouble

    # --- retry loops -----------------------------------------------------------------------

    def _shuffled(self, nodes: list[Node]) -> list[Node]:
        """Random order, nodes with fewer recent failures first (spreads load, avoids the sick)."""
        out = list(nodes)
        self._rng.shuffle(out)
        with self._lock:
            strikes = dict(self._strikes)
        return sorted(out, key=lambda n: strikes.get(n.pubkey_ed25519, 0))

    def _any_node_call(
        self,
        request: rpc.RpcRequest,
        accept: Callable[[Node, onion.SnodeReply], T],
        deadline: Deadline,
        *,
        what: str,
        exclude: Collection[str] = (),
    ) -> T:
        """Send to random pool nodes (outside our paths when possible, never to `exclude`) until
        one answers 200."""
        self._ensure_paths(deadline)
        tracker = _Tracker()
        tried: set[str] = set(exclude)
        attempts = _Attempts()
        for _ in range(MAX_ATTEMPTS):
            if deadline.expired():
                break
            with self._lock:
                in_paths = {n.pubkey_ed25519 for p in self._paths for n in p.nodes}
                pool = [n for n in self._pool.values() if n.pubkey_ed25519 not in tried]
            outside = [n for n in pool if n.pubkey_ed25519 not in in_paths]
            if not (outside or pool):
                break
            target = self._rng.choice(outside or pool)
            try:
                reply = self._send(target, request, deadline, tracker, attempts=attempts)
            except _PathTrouble:
                if tracker.kind == "nopath":
                    break
                if tracker.kind == "target":
                    tried.add(target.pubkey_ed25519)
                continue
            if reply.status == 200:
                try:
                    return accept(target, reply)
                except ProtocolError as exc:
                    tracker.fail(f"{target.address}: {exc}", answered=True)
            else:
                tracker.fail(
                    f"{target.address}: HTTP {reply.status} {rpc.error_text(reply.body)}",
                    answered=True,
                    temporary=reply.status >= 500,
                )
                if reply.status >= 500:
                    self._strike_node(target.pubkey_ed25519)
            tried.add(target.pubkey_ed25519)
        raise tracker.error(what, deadline)

    def _swarm_call(
        self,
        session_id: str,
        make: Callable[[Node], rpc.RpcRequest],
        accept: Callable[[Node, onion.SnodeReply], T | None],
        deadline: Deadline,
        *,
        what: str,
        order: Callable[[list[Node]], list[Node]],
        after_clock_refusal: Callable[[Node], bool] | None = None,
    ) -> T:
        """Send to members of `session_id`'s swarm until `accept` returns a value.

        421 replaces the cached swarm and moves on to the new one; 406 learns that node's time
        and retries it once, if `make` then builds a new request (`after_clock_refusal(node)`
        says whether it does; without it, `make` signs with the current time); 5xx/timeouts
        move to another member; 400/401/403/404 stop at once.
        """
        self._load()
        sid = _sid(session_id)
        tracker = _Tracker()
        members = self._swarm(sid, deadline)
        tried: set[str] = set()
        clock_retried: set[str] = set()
        paths = _Attempts(shun={n.pubkey_ed25519 for n in members})
        failures: dict[str, int] = {}
        attempts = 0
        while attempts < MAX_SWARM_ATTEMPTS and not deadline.expired():
            candidates = order([n for n in members if n.pubkey_ed25519 not in tried])
            # members that failed less often in this call first (each gets its turn)
            candidates.sort(key=lambda n: failures.get(n.pubkey_ed25519, 0))
            if not candidates:
                if attempts > 0 and not tracker.clock_refusals:
                    try:  # maybe the swarm moved: ask again once
                        fresh = self._swarm(sid, deadline, refresh=True)
                    except SessionCliError:
                        break
                    members = [n for n in fresh if n.pubkey_ed25519 not in tried]
                    if members:
                        continue
                break
            attempts += 1
            target = candidates[0]
            try:
                reply = self._send(target, make(target), deadline, tracker, attempts=paths)
            except _PathTrouble:
                failures[target.pubkey_ed25519] = failures.get(target.pubkey_ed25519, 0) + 1
                if tracker.kind == "nopath":
                    break
                if tracker.kind == "target":  # named by a 502, or failed on two paths
                    tried.add(target.pubkey_ed25519)
                    self._strike_node(target.pubkey_ed25519)
                continue
            status = reply.status
            if status == 200:
                try:
                    value = accept(target, reply)
                except ProtocolError as exc:
                    tracker.fail(f"{target.address}: {exc}", answered=True)
                    value = None
                if value is not None:
                    return value
                tried.add(target.pubkey_ed25519)
                tracker.fail(f"{target.address} did not acknowledge {what}", answered=True)
                continue
            text = rpc.error_text(reply.body)
            tracker.fail(f"{target.address}: HTTP {status} {text}", answered=True)
            if status == 421:
                tried.add(target.pubkey_ed25519)
                try:
                    moved = rpc.parse_swarm(reply.body).nodes
                except ProtocolError:
                    moved = []
                if moved:
                    self._set_swarm(sid, moved)
                    members = moved
                else:
                    members = self._swarm(sid, deadline, refresh=True)
                continue
            if status in (406, 425):
                if (
                    target.pubkey_ed25519 not in clock_retried
                    and self._learn_time(target, deadline, paths)
                    and (after_clock_refusal is None or after_clock_refusal(target))
                ):
                    clock_retried.add(target.pubkey_ed25519)
                    attempts -= 1
                    continue
                tracker.clock_refusals += 1
                tried.add(target.pubkey_ed25519)
                continue
            if status in (400, 401, 403, 404):
                raise ProtocolError(
                    f"{what} refused by {target.address}: HTTP {status} {text}",
                    hints=("the request was rejected as invalid; this is likely a client bug",)
                    if status in (400, 401)
                    else (),
                )
            tracker.temporary = True
            tried.add(target.pubkey_ed25519)
            self._strike_node(target.pubkey_ed25519)
        if tracker.clock_refusals:
            offset = self._clock.offset_ms() / 1000
            hint = (
                f"this computer's clock is {abs(offset):.0f} s {'behind' if offset > 0 else 'ahead of'}"
                " the network; synchronise it (e.g. enable NTP) and retry"
                if abs(offset) >= 30
                else "the nodes' clocks disagree with the request's timestamp by more than they allow"
            )
            raise ClockError(
                f"{what}: service nodes refused our timestamp (HTTP 406: check your clock)",
                hints=(hint,),
            )
        raise tracker.error(f"{what} for {sid[:10]}…", deadline)

    def _settle_network_time(self, deadline: Deadline, *, exclude: Collection[str] = ()) -> None:
        """Before deciding that the network time moved, base it on CLOCK_SAMPLES answers of this
        run: offsets saved by an earlier run may predate a change of the local clock, and one
        skewed node must not decide alone. Nodes in `exclude` (the refusing node's swarm, which
        may share its clock trouble) and nodes known to refuse our time are not asked."""
        asked: set[str] = set(exclude)
        for _ in range(2 * CLOCK_SAMPLES):
            if self._clock.samples_this_run() >= CLOCK_SAMPLES or deadline.expired():
                return
            try:
                node = self._any_node_call(
                    rpc.build_info(),
                    lambda n, _r: n.pubkey_ed25519,
                    deadline,
                    what="network time",
                    exclude=asked | self._clock.refused(),
                )
            except SessionCliError:
                return
            asked.add(node)

    def _learn_time(self, node: Node, deadline: Deadline, attempts: _Attempts) -> bool:
        """Ask `node` for its time (info) after a 406; True if we learnt something new."""
        before = self._clock.node_offset_ms(node.pubkey_ed25519)
        tracker = _Tracker()
        try:
            reply = self._send(
                node, rpc.build_info(), deadline, tracker, attempts=attempts, clock_refused=True
            )
        except _PathTrouble:
            return False
        t = rpc.network_time(reply.body)
        if t is None:
            return False
        after = self._clock.node_offset_ms(node.pubkey_ed25519)
        return before is None or after is None or abs(after - before) > 1000


def _sid(text: str) -> str:
    try:
        return parse_session_id(text)
    except InvalidSessionId as exc:
        raise UsageError(str(exc)) from None


def _nodes(raw: Any) -> list[Node]:
    if not isinstance(raw, list):
        return []
    out = []
    for item in raw:
        try:
            out.append(Node.from_json(item))
        except ProtocolError:
            continue
    return out


def _json(body: bytes) -> Any:
    import json

    try:
        return json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise ProtocolError("answer is not JSON") from None
