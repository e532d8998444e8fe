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
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor

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
# Threads that run delivered requests. Idle ones are reused; new ones start only when all are busy
# (a 100-recipient send keeps a few dozen busy: 3 hops per onion request plus replication).
_MAX_WORKERS = 512


class _Exchange:
    """One delivered request: its answer, or the news that the host went down before answering."""

    __slots__ = ("_done", "lost", "reply")

    def __init__(self) -> None:
        self._done = threading.Event()
        self.reply: PeerReply | None = None
        self.lost = False

    def answer(self, reply: PeerReply) -> None:
        self.reply = reply
        self._done.set()

    def connection_lost(self) -> None:
        self.lost = True
        self._done.set()

    def wait(self, timeout: float) -> bool:
        return self._done.wait(max(timeout, 0.0))


class NodeBus:
    """`post` as PeerPool has it: in-process to the registered nodes, over PeerPool to the rest."""

    def __init__(self, servers: Iterable[NodeServer], fallback: PeerPool | None = None) -> None:
        self._by_ip = {server.ip: server for server in servers}
        self._fallback = fallback if fallback is not None else PeerPool()
        self._workers = ThreadPoolExecutor(
            max_workers=_MAX_WORKERS, thread_name_prefix="devnet-bus"
        )

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
            return self._fallback.post(source_ip, host, port, path, body, timeout, headers, tls)
        deadline = time.monotonic() + timeout
        request = Request("POST", path, body, source_ip, _wire_headers(server, body, headers))
        reply = self._deliver(server, request, deadline)
        if reply is None:
            # Lost mid-request: like the kept-alive connection it stands for, one fresh attempt.
            reply = self._deliver(server, request, deadline)
        if reply is None:
            raise PeerUnreachable(_LOST)
        return reply

    def close(self) -> None:
        self._workers.shutdown(wait=False, cancel_futures=True)
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
            self._workers.submit(_serve, server, request, exchange)
            if not exchange.wait(deadline - time.monotonic()):
                raise PeerTimeout("The read operation timed out")
        finally:
            server.release(exchange)
        return exchange.reply


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
