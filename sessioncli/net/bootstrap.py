"""The node pool's origin: seeds (certificate-pinned) and the SPEC §5 refresh through the pool."""

from __future__ import annotations

import contextlib
import json
import random
import threading
from collections.abc import Callable, Iterator, Sequence

from sessioncli.errors import NetworkUnavailable, ProtocolError, SessionCliError
from sessioncli.net.clock import NetworkClock
from sessioncli.net.networks import Seed
from sessioncli.net.policy import CallLog, Deadline, PathTrouble
from sessioncli.net.pool import MIN_POOL, NodePool
from sessioncli.net.transport import PostTransport, TransportError
from sessioncli.protocol import onion, rpc, rpc_answers
from sessioncli.protocol.snode import Node

REFRESH_MIN_COMMON = 24  # SPEC §5: fewer common nodes than this → seed fallback
REFRESH_MIN_POOL = 16
REFRESH_SOURCES = 3
SEED_TIMEOUT = 10.0

Send = Callable[[Node, rpc.RpcRequest, Deadline, CallLog], onion.SnodeReply]
Building = Callable[[Deadline], contextlib.AbstractContextManager[None]]


def intersect(lists: Sequence[list[Node]]) -> list[Node] | None:
    """SPEC §5: the nodes every list has (by key, ip and port), in the first list's order; None
    when too few are common to trust (then a seed is asked instead)."""
    keys = [{(n.pubkey_ed25519, n.ip, n.port) for n in lst} for lst in lists]
    common = set.intersection(*keys) if keys else set()
    fresh = [n for n in lists[0] if (n.pubkey_ed25519, n.ip, n.port) in common] if lists else []
    if len(common) < REFRESH_MIN_COMMON or len(fresh) < REFRESH_MIN_POOL:
        return None
    return fresh


def from_seeds(
    transport: PostTransport, seeds: Sequence[Seed], deadline: Deadline, rng: random.Random
) -> list[Node]:
    """The node list from the first seed (in random order) that gives a usable one."""
    order = list(seeds)
    rng.shuffle(order)
    body = rpc.build_get_n_service_nodes().to_json()
    problems: list[str] = []
    log = CallLog()
    for seed in order:
        if deadline.expired():
            break
        try:
            resp = transport.post(seed.rpc_url, body, timeout=deadline.cap(SEED_TIMEOUT))
        except TransportError as exc:
            problems.append(f"seed {seed.url}: {exc}")
            refused = " refused" if exc.kind == "pin" else ""
            log.fail(f"seed {seed.url}{refused}: {exc}")
            continue
        nodes = _seed_nodes(seed, resp.status, resp.body, log)
        if nodes:
            return nodes
        problems.append(f"seed {seed.url}: {log.last}")
    pinned = [p for p in problems if "pinned" in p]
    if pinned and len(pinned) == len(problems):
        raise NetworkUnavailable(
            pinned[0],
            hints=(
                "refusing a seed whose TLS certificate differs from the pinned one "
                "(network file cert_pem / bundled certificate)",
            ),
        )
    raise log.error(f"fetching the node list from {len(order)} seed(s)")


def _seed_nodes(seed: Seed, status: int, body: bytes, log: CallLog) -> list[Node]:
    if status != 200:
        log.fail(f"seed {seed.url}: HTTP {status}", answered=True)
        return []
    try:
        nodes = rpc_answers.parse_service_nodes(json.loads(body.decode("utf-8")))
    except (UnicodeDecodeError, ValueError, RecursionError):
        log.fail(f"seed {seed.url}: answer is not JSON", answered=True)
        return []
    except ProtocolError as exc:
        log.fail(f"seed {seed.url}: {exc}", answered=True)
        return []
    if not nodes:
        log.fail(f"seed {seed.url} returned no service nodes", answered=True)
    return nodes


class PoolKeeper:
    """Keeps the pool usable: bootstrap from a seed when it is small, refresh it when old.

    A refresh never re-enters itself: the requests it sends go over paths built from the current
    pool (whose age is not checked again while a refresh runs). When it fails, the old pool
    stays and the next automatic attempt waits POOL_RETRY_MS.
    """

    def __init__(
        self,
        pool: NodePool,
        clock: NetworkClock,
        seeds: Sequence[Seed],
        *,
        transport: PostTransport,
        rng: random.Random,
        building: Building,
        send: Send,
        replaced: Callable[[], object],
    ) -> None:
        self.pool = pool
        self._clock = clock
        self._seeds = list(seeds)
        self._transport = transport
        self._rng = rng
        self._building = building
        self._send = send
        self._replaced = replaced  # the pool changed: paths through nodes it lost go
        self._lock = threading.Lock()
        self._refreshing = False

    def ensure(self, deadline: Deadline) -> None:
        if self.pool.needs_bootstrap():
            with self._building(deadline):
                if self.pool.needs_bootstrap():
                    self._bootstrap(deadline)
        elif self.pool.needs_refresh(self._clock.local_ms()) and not self._refreshing:
            # an old pool still works: give the refresh half the time left, keep the rest
            with contextlib.suppress(SessionCliError):
                self.refresh(deadline.sub(deadline.remaining() / 2))

    def refresh(self, deadline: Deadline) -> None:
        with self._guard() as first:
            if not first:
                return  # another thread is at it, or we were called from inside a refresh
            try:
                fresh = self._from_pool(deadline)
                if fresh is None:
                    with self._building(deadline):
                        self._bootstrap(deadline)
                else:
                    self._set(fresh)
            except SessionCliError:
                self.pool.refresh_failed(self._clock.local_ms())
                raise

    @contextlib.contextmanager
    def _guard(self) -> Iterator[bool]:
        with self._lock:
            first = not self._refreshing
            self._refreshing = True
        try:
            yield first
        finally:
            if first:
                with self._lock:
                    self._refreshing = False

    def _from_pool(self, deadline: Deadline) -> list[Node] | None:
        candidates = self.pool.nodes()
        if len(candidates) <= MIN_POOL:
            return None
        lists: list[list[Node]] = []
        request = rpc.build_batch([rpc.build_oxend_get_service_nodes()])
        for node in self._rng.sample(candidates, REFRESH_SOURCES):
            try:
                reply = self._send(node, request, deadline, CallLog())
                if reply.status != 200:
                    return None
                from sessioncli.protocol import rpc_reads  # a pool refresh only, not a send

                (sub,) = rpc_reads.parse_batch(reply.body)[:1]
                if sub.code != 200:
                    return None
                lists.append(rpc_answers.parse_service_nodes(sub.body))
            except (PathTrouble, ProtocolError, ValueError, SessionCliError):
                return None
        return intersect(lists)

    def _bootstrap(self, deadline: Deadline) -> None:
        self._set(from_seeds(self._transport, self._seeds, deadline, self._rng))

    def _set(self, nodes: list[Node]) -> None:
        self.pool.replace(nodes, self._clock.local_ms())
        self._replaced()
