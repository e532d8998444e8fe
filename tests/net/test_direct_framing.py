"""net.direct against scripted TLS servers: framings, keep-alive, hostile and hung answers."""

from __future__ import annotations

import socket
import ssl
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from sessioncli.devnet.tls import ensure_certificate, server_context
from sessioncli.net.direct import DirectPool
from sessioncli.net.transport import HttpResponse, TransportError

# What a test's server does on one connection: it gets the TLS socket, the request's index on
# that connection and the request itself; returns False to close the connection.
Script = Callable[[ssl.SSLSocket, int, bytes], bool]


class _Scripted:
    """A loopback HTTPS server playing `script` on every connection; counts connections."""

    def __init__(self, folder: Path, script: Script, handshake: bool = True) -> None:
        cert, key = ensure_certificate(folder, "framing-test", "127.0.0.1")
        self.ctx = server_context(cert, key)
        self.script = script
        self.handshake = handshake
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.url = f"https://127.0.0.1:{self.sock.getsockname()[1]}/x"
        self.connections = 0
        self.stop = threading.Event()
        self.held: list[socket.socket] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                raw, _ = self.sock.accept()
            except TimeoutError:
                continue
            self.connections += 1
            if not self.handshake:
                self.held.append(raw)  # accepts TCP, never says a TLS word
                continue
            threading.Thread(target=self._one, args=(raw,), daemon=True).start()

    def _one(self, raw: socket.socket) -> None:
        try:
            conn = self.ctx.wrap_socket(raw, server_side=True)
        except OSError:
            raw.close()
            return
        try:
            index = 0
            while (request := _read_request(conn)) is not None:
                if not self.script(conn, index, request):
                    break
                index += 1
        except OSError:
            pass
        finally:
            conn.close()

    def close(self) -> None:
        self.stop.set()
        self.thread.join(5)
        self.sock.close()
        for s in self.held:
            s.close()


def _read_request(conn: ssl.SSLSocket) -> bytes | None:
    data = b""
    while b"\r\n\r\n" not in data:
        got = conn.recv(65536)
        if not got:
            return None
        data += got
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":")[1])
        for line in head.split(b"\r\n")
        if line.startswith(b"Content-Length")
    )
    while len(body) < length:
        body += conn.recv(65536)
    return head + b"\r\n\r\n" + body


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[..., _Scripted]]:
    servers: list[_Scripted] = []

    def start(script: Script, handshake: bool = True) -> _Scripted:
        servers.append(_Scripted(tmp_path, script, handshake))
        return servers[-1]

    yield start
    for s in servers:
        s.close()


def answer(raw: bytes, keep: bool = True) -> Script:
    def script(conn: ssl.SSLSocket, index: int, request: bytes) -> bool:
        conn.sendall(raw)
        return keep

    return script


def post(pool: DirectPool, url: str, timeout: float = 5.0, cap: int | None = None) -> HttpResponse:
    return pool.post(url, b"ping", timeout=timeout, content_type="application/json", max_bytes=cap)


def failure(pool: DirectPool, url: str, timeout: float = 5.0, cap: int | None = None) -> str:
    with pytest.raises(TransportError) as info:
        post(pool, url, timeout, cap)
    return info.value.kind


@pytest.mark.parametrize(
    ("raw", "keeps"),
    [
        (b"HTTP/1.1 200 OK\r\ncontent-type: text/x\r\nContent-Length: 4\r\n\r\npong", True),
        (
            b"HTTP/1.1 200 OK\r\nCONTENT-TYPE: text/x\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"2\r\npo\r\n2;x=y\r\nng\r\n0\r\n\r\n",
            True,
        ),
        (
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Type: text/x\r\n"
            b"Content-Length: 4\r\n\r\npong",
            True,
        ),
        (
            b"HTTP/1.1 200 OK\r\nContent-Type: text/x\r\nConnection: close\r\n"
            b"Content-Length: 4\r\n\r\npong",
            False,
        ),
        (b"HTTP/1.0 200 OK\r\nContent-Type: text/x\r\nContent-Length: 4\r\n\r\npong", False),
    ],
)
def test_framings_and_what_keeps_the_connection(
    serve: Callable[..., _Scripted], raw: bytes, keeps: bool
) -> None:
    server = serve(answer(raw, keep=keeps))
    pool = DirectPool({})
    try:
        for _ in range(3):
            resp = post(pool, server.url)
            assert (resp.status, resp.body, resp.content_type) == (200, b"pong", "text/x")
    finally:
        pool.close()
    assert server.connections == (1 if keeps else 3)


def test_a_body_read_until_the_close(serve: Callable[..., _Scripted]) -> None:
    server = serve(answer(b"HTTP/1.1 201 Created\r\n\r\nall of it", keep=False))
    pool = DirectPool({})
    for _ in range(2):
        assert post(pool, server.url) == HttpResponse(201, b"all of it", "")
    assert server.connections == 2


def test_a_body_cut_short_by_the_close_comes_back_as_it_is(serve: Callable[..., _Scripted]) -> None:
    """As with http.client: the caller finds it does not parse (devnet's `truncate` fault)."""
    server = serve(answer(b'HTTP/1.1 200 OK\r\nContent-Length: 4096\r\n\r\n{"cut', keep=False))
    assert post(DirectPool({}), server.url).body == b'{"cut'


@pytest.mark.parametrize(
    "raw",
    [
        b"SSH-2.0-OpenSSH_9.6\r\n\r\n",
        b"HTTP/1.1 2x0 OK\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nno header\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: -4\r\n\r\npong",
        b"HTTP/1.1 200 OK\r\nContent-Length: four\r\n\r\npong",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-4\r\npong\r\n0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\npo",  # then the close
        b"HTTP/1.1 200 OK\r\nContent-Len",  # then the close
    ],
)
def test_malformed_answers_are_connect_failures_at_once(
    serve: Callable[..., _Scripted], raw: bytes
) -> None:
    server = serve(answer(raw, keep=False))
    started = time.monotonic()
    assert failure(DirectPool({}), server.url, timeout=10.0) == "connect"
    assert time.monotonic() - started < 3.0


def _endless(line: bytes) -> Script:
    def script(conn: ssl.SSLSocket, index: int, request: bytes) -> bool:
        conn.sendall(b"HTTP/1.1 200 OK\r\n")
        try:
            while True:
                conn.sendall(line * 1000)
        except OSError:
            return False

    return script


@pytest.mark.parametrize("line", [b"X-More: headers\r\n", b"a"], ids=["headers", "one-line"])
def test_an_endless_head_is_refused_soon(serve: Callable[..., _Scripted], line: bytes) -> None:
    server = serve(_endless(line))
    started = time.monotonic()
    assert failure(DirectPool({}), server.url, timeout=10.0) == "connect"
    assert time.monotonic() - started < 3.0


def test_too_large_an_answer_is_oversize_chunked_or_not(serve: Callable[..., _Scripted]) -> None:
    declared = serve(answer(b"HTTP/1.1 200 OK\r\nContent-Length: 999999999\r\n\r\n", keep=False))
    assert failure(DirectPool({}), declared.url, cap=1000) == "oversize"
    chunk = b"400\r\n" + b"z" * 1024 + b"\r\n"

    def chunks(conn: ssl.SSLSocket, index: int, request: bytes) -> bool:
        conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        try:
            while True:
                conn.sendall(chunk)
        except OSError:
            return False

    endless = serve(chunks)
    assert failure(DirectPool({}), endless.url, cap=100_000) == "oversize"


def test_a_hung_server_is_a_timeout_within_the_deadline(serve: Callable[..., _Scripted]) -> None:
    silent = serve(lambda conn, index, request: time.sleep(30) or False)
    started = time.monotonic()
    assert failure(DirectPool({}), silent.url, timeout=1.0) == "timeout"
    assert time.monotonic() - started < 2.0

    def trickle(conn: ssl.SSLSocket, index: int, request: bytes) -> bool:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
        for _ in range(100):
            conn.sendall(b"x")  # a byte now and then must not hold the request for ever
            time.sleep(0.1)
        return False

    slow = serve(trickle)
    started = time.monotonic()
    assert failure(DirectPool({}), slow.url, timeout=1.0) == "timeout"
    assert time.monotonic() - started < 2.0

    no_handshake = serve(answer(b""), handshake=False)
    started = time.monotonic()
    assert failure(DirectPool({}), no_handshake.url, timeout=1.0) == "timeout"
    assert time.monotonic() - started < 2.0


def _reset(conn: ssl.SSLSocket) -> None:
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()


def test_a_reset_is_a_connect_failure(serve: Callable[..., _Scripted]) -> None:
    def reset(conn: ssl.SSLSocket, index: int, request: bytes) -> bool:
        _reset(conn)
        return False

    server = serve(reset)
    assert failure(DirectPool({}), server.url) == "connect"


def test_only_a_kept_connection_closed_before_any_answer_is_retried(
    serve: Callable[..., _Scripted],
) -> None:
    """The second request on a connection is met by a reset (or close) before any byte: it goes
    once more on a new connection. A partial answer is not retried (the node may have acted)."""
    ok = b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\npong"

    def once_then_reset(conn: ssl.SSLSocket, index: int, request: bytes) -> bool:
        if index == 0:
            conn.sendall(ok)
            return True
        _reset(conn)
        return False

    server = serve(once_then_reset)
    pool = DirectPool({})
    assert [post(pool, server.url).body for _ in range(3)] == [b"pong"] * 3
    assert server.connections == 3  # requests 2 and 3 each met a reset, then a new connection

    def once_then_half(conn: ssl.SSLSocket, index: int, request: bytes) -> bool:
        conn.sendall(ok if index == 0 else b"HTTP/1.1 200 OK\r\n")
        return index == 0

    half = serve(once_then_half)
    pool = DirectPool({})
    assert post(pool, half.url).body == b"pong"
    assert failure(pool, half.url) == "connect"
    assert half.connections == 1


def test_a_direct_request_does_not_import_http_client_or_email(
    serve: Callable[..., _Scripted],
) -> None:
    """http.client pulls in the email package (~6 ms of a warm send's start-up) and parses each
    answer's headers with it: net.direct frames HTTP itself."""
    server = serve(answer(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi"))
    code = (
        "import sys; from sessioncli.net.transport import Transport; "
        f"assert Transport(proxy='none').post({server.url!r}, b'x', timeout=5.0).body == b'hi'; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'http', 'email'}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert out.stdout.strip() == "[]"
