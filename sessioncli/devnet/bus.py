"""Node-to-node requests inside one devnet process, handed to the target node in-process."""

# The devnet's stand-in for OxenMQ; every other address goes through the HTTPS PeerPool.
#
# Why: real service nodes talk to each other over OxenMQ (persistent, multiplexed connections; no
# HTTP parsing or TLS record per request); only a client's requests to its guard are HTTPS. The
# devnet runs all its nodes in one Python process and used to relay onion hops and replicate stores
# between them over HTTPS, so stdlib HTTP machinery (head parsing through email.feedparser, TLS
# records per hop) was most of its CPU per store: a cost the real network does not have, charged to
# the client that shares the machine. The bus gives the request to the target node's app instead.
#
# What stays as a socket peer sees it today: the target host's state when the request arrives (down:
# refused at once; hung: no answer until the caller's timeout, or served if it comes back up first,
# as a fresh connection is; going down mid-request: the connection is lost, then one fresh attempt,
# as on a kept-alive connection), its transport faults (garbage, truncate, oversize: the bytes the
# HTTP front end sends, as the same PeerReply), 413 for an oversized body, 500 when the app raises,
# the caller's timeout (the request runs on a thread of its own, as on the front end's connection
# thread, so a slow answer still times out at the caller's deadline while the target finishes),
# `peer_ip` = the source address, the headers http.client would send (lower-cased), and `ctl stats`
# (the node's app counts the request, as before). Addresses that are not one of this process's
# nodes (the file server, the SOGS, another process) keep the HTTPS/HTTP path of PeerPool.

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable

from sessioncli.devnet.peers import PeerPool, PeerReply, PeerTimeout, PeerUnreachable
from sessioncli.devnet.server import (
    HANG,
    MAX_REQUEST_BYTES,
    TRANSPORT_FAULTS,
    UP,
    NodeServer,
    Request,
    fault_answer,
)

# What the HTTPS path reports for a host that is down, word for word: replication failures carry it
# to the client (`"reason": "unreachable: ..."`).
REFUSED = "[Errno 111] Connection refused"
_LOST = "connection lost: Remote end closed connection without response"
# Hops nested in one thread (post_here inside post_here...) at most: a deep onion path (nodes may
# repeat) would otherwise reach Python's recursion limit; deeper hops get a thread, as on sockets.
_MAX_NESTED_HOPS = 16


class _Exchange:
    """One delivered request: its answer (None: the host went down before answering)."""

    __slots__ = ("_done", "_lost", "_reply")

    def __init__(self) -> None:
        # A bare lock, held until the answer (or the loss) is in: cheaper than an Event, whose
        # Condition is Python code, and this is paid on every hop.
        self._done = threading.Lock()
        self._done.acquire()
        self._reply: PeerReply | None = None
        self._lost = False

    @property
    def reply(self) -> PeerReply | None:
        # Lost first, answered after: the answer must not count (the caller may read late).
        return None if self._lost else self._reply

    def answer(self, reply: PeerReply) -> None:
        self._reply = reply
        self._settle()

    def connection_lost(self) -> None:
        if self._reply is None:  # an answer already given reached the caller, as sent bytes do
            self._lost = True
        self._settle()

    def wait(self, timeout: float) -> bool:
        if timeout <= 0:
            return self._done.acquire(blocking=False)
        return self._done.acquire(timeout=timeout)

    def _settle(self) -> None:
        try:
            self._done.release()
        except RuntimeError:  # answered and lost at once: the first one counts
            pass


class _Worker:
    """A thread that runs one task at a time, handed over through a lock."""

    __slots__ = ("_task", "_wake")

    def __init__(self) -> None:
        self._wake = threading.Lock()
        self._wake.acquire()
        self._task: Callable[[], None] | None = None

    def give(self, task: Callable[[], None] | None) -> None:
        self._task = task
        self._wake.release()

    def loop(self, pool: _Workers) -> None:
        while True:
            self._wake.acquire()
            task, self._task = self._task, None
            if task is None:
                return
            task()
            if not pool.idle(self):
                return


class _Workers:
    """Threads for delivered requests, one per request in flight as the front end has one per
    connection: an idle one is reused, a new one starts when none is idle (no cap, so nested hops
    cannot starve each other)."""

    def __init__(self) -> None:
        self._idle: list[_Worker] = []
        self._lock = threading.Lock()
        self._closed = False

    def run(self, task: Callable[[], None]) -> None:
        with self._lock:
            worker = self._idle.pop() if self._idle else None
        if worker is None:
            worker = _Worker()
            threading.Thread(
                target=worker.loop, args=(self,), name="devnet-bus", daemon=True
            ).start()
        worker.give(task)

    def idle(self, worker: _Worker) -> bool:
        with self._lock:
            if self._closed:
                return False
            self._idle.append(worker)
            return True

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for worker in idle:
            worker.give(None)


class NodeBus:
    """`post` as PeerPool has it: in-process to the registered nodes, over PeerPool to the rest."""

    def __init__(self, servers: Iterable[NodeServer], fallback: PeerPool | None = None) -> None:
        self._by_ip = {server.ip: server for server in servers}
        self._fallback = fallback if fallback is not None else PeerPool()
        self._workers = _Workers()
        # `deadline`: the earliest deadline of the callers whose hops this thread is running
        # (post_here), which every wait under them keeps to, as those callers' sockets would.
        self._callers = threading.local()

    def all_healthy(self) -> bool:
        """Every node up and playing no fault: then no hop of a request blocks on a host."""
        return all(s.state == UP and s.fault == "none" for s in self._by_ip.values())

    def time_left(self) -> float | None:
        """Seconds until the earliest deadline of the callers this thread runs for (None: none)."""
        deadline: float | None = getattr(self._callers, "deadline", None)
        return None if deadline is None else deadline - time.monotonic()

    def _bounded(self, deadline: float) -> float:
        outer: float | None = getattr(self._callers, "deadline", None)
        return deadline if outer is None or outer > deadline else outer

    def server_at(self, host: str, port: int) -> NodeServer | None:
        """The node listening on host:port in this process, if any (ports move on `up`)."""
        server = self._by_ip.get(host)
        return server if server is not None and server.port == port else None

    def post(
        self,
        source_ip: str,
        host: str,
        port: int,
        path: str,
        body: bytes,
        timeout: float,
        headers: dict[str, str] | None = None,
        tls: bool = True,
    ) -> PeerReply:
        server = self.server_at(host, port) if tls else None
        if server is None:
            left = self.time_left()
            if left is not None and left < timeout:
                if left <= 0:
                    raise PeerTimeout("timed out")
                timeout = left
            return self._fallback.post(source_ip, host, port, path, body, timeout, headers, tls)
        deadline = self._bounded(time.monotonic() + timeout)
        request = Request("POST", path, body, source_ip, _wire_headers(server, body, headers))
        reply = self._deliver(server, request, deadline)
        if reply is None:
            # Lost mid-request: like the kept-alive connection it stands for, one fresh attempt.
            reply = self._deliver(server, request, deadline)
        if reply is None:
            raise PeerUnreachable(_LOST)
        return reply

    def serves_in_caller(self, host: str, port: int) -> bool:
        """Whether `post_here` would run the request in the caller's thread now: the target is
        one of this process's nodes, up, and plays no transport fault."""
        return _serves_here(self.server_at(host, port))

    def post_here(
        self,
        source_ip: str,
        host: str,
        port: int,
        path: str,
        body: bytes,
        timeout: float,
        headers: dict[str, str] | None = None,
    ) -> PeerReply:
        """`post` run in the caller's thread, saving the two thread hand-overs of a hop: for a
        request whose handling never waits on another host (a store a swarm member forwards),
        or any hop while `all_healthy` (an onion layer).

        Only while `serves_in_caller` (else, or if the host changes meanwhile, as `post`). What
        a caller can see stays as `post` has it: every wait under the app keeps to this caller's
        deadline too (`time_left`), an answer that comes after it is a timeout, and a host that
        went down while it ran lost the request (then the one fresh attempt)."""
        server = self.server_at(host, port)
        depth: int = getattr(self._callers, "depth", 0)
        if (
            server is None
            or not _serves_here(server)
            or len(body) > MAX_REQUEST_BYTES
            or depth >= _MAX_NESTED_HOPS
        ):
            return self.post(source_ip, host, port, path, body, timeout, headers)
        deadline = self._bounded(time.monotonic() + timeout)
        request = Request("POST", path, body, source_ip, _wire_headers(server, body, headers))
        exchange = _Exchange()
        if not server.admit(exchange):
            return self.post(source_ip, host, port, path, body, timeout, headers)
        outer = getattr(self._callers, "deadline", None)
        self._callers.deadline, self._callers.depth = deadline, depth + 1
        try:
            response = server.run_app(request)
        finally:
            self._callers.deadline, self._callers.depth = outer, depth
            server.release(exchange)
        if exchange.wait(0):  # settled with no answer given: the host went down while it ran
            reply = self._deliver(server, request, deadline)
            if reply is None:
                raise PeerUnreachable(_LOST)
            return reply
        if time.monotonic() > deadline:
            raise PeerTimeout("The read operation timed out")
        return PeerReply(response.status, response.body, response.content_type)

    def close(self) -> None:
        self._workers.close()
        self._fallback.close()

    def _deliver(self, server: NodeServer, request: Request, deadline: float) -> PeerReply | None:
        """The answer; None if the host went down before giving it."""
        exchange = _Exchange()
        while True:
            state = server.wait_until_serving(deadline)
            if state == HANG:
                raise PeerTimeout("timed out")
            if state != UP:
                raise PeerUnreachable(REFUSED)
            if len(request.body) > MAX_REQUEST_BYTES:
                return PeerReply(413, b"Request too large", "text/plain; charset=utf-8")
            fault = server.fault
            if fault in TRANSPORT_FAULTS:
                answer = fault_answer(fault)
                return PeerReply(200, answer.body, answer.content_type)
            if server.admit(exchange):  # else it went down or hung meanwhile: look again
                break
        try:
            self._workers.run(lambda: _serve(server, request, exchange))
            if not exchange.wait(deadline - time.monotonic()):
                raise PeerTimeout("The read operation timed out")
        finally:
            server.release(exchange)
        return exchange.reply


def _serves_here(server: NodeServer | None) -> bool:
    return server is not None and server.state == UP and server.fault not in TRANSPORT_FAULTS


def _serve(server: NodeServer, request: Request, exchange: _Exchange) -> None:
    response = server.run_app(request)
    exchange.answer(PeerReply(response.status, response.body, response.content_type))


def _wire_headers(
    server: NodeServer, body: bytes, headers: dict[str, str] | None
) -> dict[str, str]:
    """The headers the node would read from http.client's request, lower-cased as the front end
    hands them to the app."""
    wire = {
        "host": f"{server.ip}:{server.port}",
        "accept-encoding": "identity",
        "content-length": str(len(body)),
    }
    for name, value in (headers or {}).items():
        wire[name.lower()] = value
    wire["connection"] = "keep-alive"
    return wire
