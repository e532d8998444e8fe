"""HTTP(S) front end of one node: kept-alive connections, and the ways a host fails (down, hang, faults)."""

from __future__ import annotations

import os
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import BinaryIO, Protocol

from sessioncli.devnet.http1 import REASONS, BadRequest, Head, error_answer, read_head

UP = "up"
DOWN = "down"
HANG = "hang"

FAULTS = ("none", "garbage", "truncate", "oversize", "relay502", "relay504", "stale421")
# Faults the front end plays by itself, before the node looks at the request.
TRANSPORT_FAULTS = ("garbage", "truncate", "oversize")
_OVERSIZE_BYTES = 20 * 1024 * 1024
MAX_REQUEST_BYTES = 16 * 1024 * 1024
_IDLE_TIMEOUT = 120.0
# The file server and SOGS take PUT and DELETE when reached directly over HTTP.
_METHODS = frozenset({"GET", "POST", "PUT", "DELETE"})
_SERVER_NAME = "devnet-storage-server"


@dataclass
class Request:
    method: str
    path: str
    body: bytes
    peer_ip: str
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Response:
    status: int
    body: bytes
    content_type: str = "application/json"
    # Extra response headers (the file server's Content-Disposition, for instance).
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def text(cls, status: int, message: str) -> Response:
        return cls(status, message.encode(), "text/plain; charset=utf-8")


App = Callable[[Request], Response]


@dataclass(frozen=True)
class FaultAnswer:
    """What a transport fault sends: an HTTP 200 head promising `declared_length` body bytes,
    then `body` (fewer bytes for `truncate`, after which the connection closes)."""

    content_type: str
    declared_length: int
    body: bytes


def fault_answer(fault: str) -> FaultAnswer:
    """The bytes of one of TRANSPORT_FAULTS, shared by the socket front end and the node bus."""
    if fault == "garbage":
        junk = os.urandom(512)
        return FaultAnswer("application/octet-stream", len(junk), junk)
    if fault == "truncate":
        return FaultAnswer("application/json", 4096, b'{"status":200,"body":"')
    chunk = os.urandom(64 * 1024)
    return FaultAnswer(
        "application/octet-stream", _OVERSIZE_BYTES, chunk * (_OVERSIZE_BYTES // len(chunk))
    )


class InProcessExchange(Protocol):
    """A request the node bus is delivering to this server (see bus.py)."""

    def connection_lost(self) -> None:
        """The host went down before answering, as a socket peer sees its connection die."""


class NodeServer:
    """Listens on ip:port. `down` closes the listener and every open connection, as a crashed host;
    `hang` accepts TCP and then never answers, as a partitioned one."""

    def __init__(self, ip: str, port: int, tls: ssl.SSLContext | None, app: App) -> None:
        self.ip = ip
        self.port = port
        self.state = DOWN
        self.fault = "none"
        self._tls = tls
        self.app = app
        self._listener: socket.socket | None = None
        self._lock = threading.Lock()
        self._conns: dict[int, socket.socket] = {}
        self._next_conn = 0
        self._wake = threading.Condition(self._lock)
        # Requests the node bus delivers in-process; `go_down` cuts them off like connections.
        self._exchanges: set[InProcessExchange] = set()

    # -- state changes ---------------------------------------------------------------------

    def start(self) -> int:
        """Listen (on the remembered port if it is free, else a new one); returns the port."""
        with self._lock:
            if self._listener is None:
                self._listener = self._bind()
                threading.Thread(
                    target=self._accept_loop,
                    args=(self._listener,),
                    name=f"accept-{self.ip}",
                    daemon=True,
                ).start()
            self.state = UP
            self._wake.notify_all()
        return self.port

    def go_down(self) -> None:
        with self._lock:
            self.state = DOWN
            listener, self._listener = self._listener, None
            conns = list(self._conns.values())
            exchanges, self._exchanges = self._exchanges, set()
            self._wake.notify_all()
        for exchange in exchanges:
            exchange.connection_lost()
        if listener is not None:
            _close_hard(listener)
        for conn in conns:
            # Only shut the socket down: its own thread is reading it and closes it on the way out.
            _shutdown(conn)

    def hang(self) -> None:
        if self._listener is None:
            self.start()
        with self._lock:
            self.state = HANG

    def _bind(self) -> socket.socket:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.ip, self.port))
        except OSError:
            if self.port == 0:
                sock.close()
                raise
            sock.bind((self.ip, 0))
        sock.listen(128)
        self.port = sock.getsockname()[1]
        return sock

    # -- connections -----------------------------------------------------------------------

    def _accept_loop(self, listener: socket.socket) -> None:
        while True:
            try:
                conn, addr = listener.accept()
            except OSError:
                return
            threading.Thread(
                target=self._serve_connection, args=(conn, addr[0]), daemon=True
            ).start()

    def _serve_connection(self, conn: socket.socket, peer_ip: str) -> None:
        with self._lock:
            if self.state == DOWN:
                conn.close()
                return
            conn_id = self._next_conn
            self._next_conn += 1
            self._conns[conn_id] = conn
        try:
            # A hung host never completes the handshake either.
            if not self.wait_while_hung():
                return
            conn.settimeout(_IDLE_TIMEOUT)
            # Answers leave in one write each; never wait for an ACK before the next one.
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self._tls is not None:
                conn = self._tls.wrap_socket(conn, server_side=True)
                with self._lock:
                    if conn_id not in self._conns:
                        return
                    self._conns[conn_id] = conn
            self._serve_requests(conn, peer_ip)
        except Exception:  # noqa: S110 - the peer went away, or go_down() pulled the socket
            pass
        finally:
            with self._lock:
                self._conns.pop(conn_id, None)
            _close_hard(conn)

    def wait_while_hung(self) -> bool:
        """Block while the node hangs; True if it then serves, False if it went down meanwhile."""
        return self.wait_until_serving(None) == UP

    def wait_until_serving(self, deadline: float | None) -> str:
        """Block while the node hangs, at most until `deadline` (time.monotonic(); None: no
        limit); returns the state then: UP, DOWN, or HANG if the deadline passed first."""
        with self._lock:
            while self.state == HANG:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    break
                self._wake.wait(remaining)
            return self.state

    def admit(self, exchange: InProcessExchange) -> bool:
        """Take an in-process request if the node is up (False: it is not, refuse it)."""
        with self._lock:
            if self.state != UP:
                return False
            self._exchanges.add(exchange)
            return True

    def release(self, exchange: InProcessExchange) -> None:
        with self._lock:
            self._exchanges.discard(exchange)

    # -- one request -----------------------------------------------------------------------

    def _serve_requests(self, conn: socket.socket, peer_ip: str) -> None:
        """One request after the other on a kept-alive connection, until either side closes."""
        rfile = conn.makefile("rb")
        try:
            while True:
                try:
                    head = read_head(rfile)
                except BadRequest as exc:
                    conn.sendall(error_answer(exc.status, exc.message))
                    return
                if head is None:
                    return
                if head.expect_continue:
                    conn.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
                if head.method not in _METHODS:
                    conn.sendall(error_answer(501, f"Unsupported method ({head.method!r})"))
                    return
                if not self.handle(head, rfile, conn, peer_ip):
                    return
        finally:
            rfile.close()

    def handle(self, head: Head, rfile: BinaryIO, conn: socket.socket, peer_ip: str) -> bool:
        """Answer one request; False when the connection must close after it."""
        try:
            length = int(head.content_length or 0)
        except ValueError:
            conn.sendall(error_answer(400, "Bad Content-Length"))
            return False
        if length < 0 or length > MAX_REQUEST_BYTES:
            _send(conn, Response.text(413, "Request too large"), closing=True)
            return False
        body = rfile.read(length) if length else b""
        if self.state == HANG:
            # Requests on kept-alive connections go unanswered too; the connection dies with the hang.
            self.wait_while_hung()
            return False
        if self.state != UP:
            return False
        fault = self.fault
        if fault in TRANSPORT_FAULTS:
            return _play_fault(conn, fault)
        request = Request(head.method, head.path, body, peer_ip, head.headers)
        _send(conn, self.run_app(request), closing=not head.keep_alive)
        return head.keep_alive

    def run_app(self, request: Request) -> Response:
        """The node's answer; a bug in the node is a 500, not a dead connection thread."""
        try:
            return self.app(request)
        except Exception as exc:
            return Response.text(500, f"Internal server error: {type(exc).__name__}: {exc}")


def _send(conn: socket.socket, response: Response, closing: bool) -> None:
    # Status line, headers and body in one write: one TLS record, no Nagle/delayed-ACK stall.
    head = (
        f"HTTP/1.1 {response.status} {REASONS.get(response.status, '')}\r\n"
        f"Server: {_SERVER_NAME}\r\n"
        f"Content-Type: {response.content_type}\r\n"
        f"Content-Length: {len(response.body)}\r\n"
    )
    for name, value in response.headers.items():
        head += f"{name}: {value}\r\n"
    if closing:
        head += "Connection: close\r\n"
    conn.sendall(head.encode("latin-1") + b"\r\n" + response.body)


def _play_fault(conn: socket.socket, fault: str) -> bool:
    """Send a transport fault's answer; False when it leaves the connection to be closed."""
    answer = fault_answer(fault)
    head = (
        "HTTP/1.1 200 OK\r\n"
        f"Server: {_SERVER_NAME}\r\n"
        f"Date: {formatdate(usegmt=True)}\r\n"
        f"Content-Type: {answer.content_type}\r\n"
        f"Content-Length: {answer.declared_length}\r\n\r\n"
    )
    conn.sendall(head.encode("latin-1") + answer.body)
    return len(answer.body) == answer.declared_length


def _shutdown(sock: socket.socket) -> None:
    # socket.socket.shutdown, not SSLSocket.shutdown: the latter drops the TLS object under the
    # feet of the thread that is reading it.
    try:
        socket.socket.shutdown(sock, socket.SHUT_RDWR)
    except OSError:
        pass


def _close_hard(sock: socket.socket) -> None:
    _shutdown(sock)
    try:
        sock.close()
    except OSError:
        pass
