"""The front end's own HTTP/1.1 request-head parser: what http.server accepted, and junk refused."""

from __future__ import annotations

import io
import socket
from collections.abc import Iterator

import pytest

from sessioncli.devnet.http1 import MAX_HEADERS, BadRequest, read_head
from sessioncli.devnet.server import NodeServer, Request, Response


def test_a_request_head_with_its_headers() -> None:
    head = read_head(
        io.BytesIO(
            b"POST //onion_req/v2?x=1 HTTP/1.1\r\nHost: 127.0.0.1:5\r\nX-A:  padded \r\n"
            b"content-length: 3\r\nContent-Length: 9\r\nX-Fold: a\r\n b\r\nX-A: last\r\n\r\nabc"
        )
    )
    assert head is not None
    assert (head.method, head.path) == ("POST", "/onion_req/v2?x=1")
    # As email's compat32 policy gives them: leading blanks stripped, folded lines joined.
    assert head.headers == {
        "host": "127.0.0.1:5",
        "x-a": "last",
        "content-length": "9",
        "x-fold": "a\r\n b",
    }
    assert head.content_length == "3"  # the first one, as http.server's headers.get()
    assert head.keep_alive and not head.expect_continue


@pytest.mark.parametrize(
    "line,connection,keep_alive",
    [
        (b"GET / HTTP/1.1", b"", True),
        (b"GET / HTTP/1.1", b"Connection: close\r\n", False),
        (b"GET / HTTP/1.0", b"", False),
        (b"GET / HTTP/1.0", b"Connection: Keep-Alive\r\n", True),
    ],
)
def test_keep_alive_by_version_and_connection_header(
    line: bytes, connection: bytes, keep_alive: bool
) -> None:
    head = read_head(io.BytesIO(line + b"\r\n" + connection + b"\r\n"))
    assert head is not None and head.keep_alive is keep_alive


def test_expect_continue_only_from_http11() -> None:
    head = read_head(io.BytesIO(b"POST / HTTP/1.1\r\nExpect: 100-continue\r\n\r\n"))
    assert head is not None and head.expect_continue
    head = read_head(io.BytesIO(b"POST / HTTP/1.0\r\nExpect: 100-continue\r\n\r\n"))
    assert head is not None and not head.expect_continue


@pytest.mark.parametrize("raw", [b"", b"\r\n", b"   \r\n"])
def test_end_of_connection_is_no_request(raw: bytes) -> None:
    assert read_head(io.BytesIO(raw)) is None


@pytest.mark.parametrize(
    "raw,status",
    [
        (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", 400),  # TLS to a plain port
        (b"GET /\r\n\r\n", 400),
        (b"GET / HTTP/1.1 extra\r\n\r\n", 400),
        (b"GET / FTP/1.1\r\n\r\n", 400),
        (b"GET / HTTP/1.x\r\n\r\n", 400),
        (b"GET / HTTP/2.0\r\n\r\n", 505),
        (b"GET / HTTP/1.1\r\nno colon here\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\n: empty name\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nBad Name: x\r\n\r\n", 400),
        (b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\n\r\n", 414),
        (b"GET / HTTP/1.1\r\nX: " + b"a" * 70000 + b"\r\n\r\n", 431),
        (b"GET / HTTP/1.1\r\n" + b"X: y\r\n" * (MAX_HEADERS + 1) + b"\r\n", 431),
        # folded lines count too (they escaped the cap, and were joined in quadratic time)
        (b"GET / HTTP/1.1\r\nX: y\r\n" + b" more\r\n" * MAX_HEADERS + b"\r\n", 431),
        ("GET / HTTP/1.\u00b9\r\n\r\n".encode("latin-1"), 400),  # a digit, not an ASCII one
    ],
)
def test_junk_is_refused(raw: bytes, status: int) -> None:
    with pytest.raises(BadRequest) as caught:
        read_head(io.BytesIO(raw))
    assert caught.value.status == status


# -- a live front end (plain HTTP) -----------------------------------------------------------


@pytest.fixture
def echo_server() -> Iterator[NodeServer]:
    def app(request: Request) -> Response:
        text = f"{request.method} {request.path} {len(request.body)} {request.headers.get('x-a')}"
        return Response(200, text.encode(), "text/plain")

    server = NodeServer("127.0.0.1", 0, None, app)
    server.start()
    try:
        yield server
    finally:
        server.go_down()


def _exchange(server: NodeServer, raw: bytes) -> bytes:
    """Everything the server sends back until it closes (or 2 s of silence)."""
    with socket.create_connection((server.ip, server.port), timeout=2) as conn:
        conn.sendall(raw)
        chunks = []
        try:
            while chunk := conn.recv(65536):
                chunks.append(chunk)
        except TimeoutError:
            chunks.append(b"<still open>")
    return b"".join(chunks)


def test_two_requests_on_one_connection_then_close(echo_server: NodeServer) -> None:
    raw = (
        b"POST /a HTTP/1.1\r\nContent-Length: 3\r\nX-A: 1\r\n\r\nabc"
        b"GET /b HTTP/1.1\r\nConnection: close\r\n\r\n"
    )
    answer = _exchange(echo_server, raw)
    first, second = answer.split(b"HTTP/1.1 200 OK\r\n")[1:]
    assert first.endswith(b"\r\n\r\nPOST /a 3 1") and b"Connection" not in first
    assert b"Connection: close\r\n" in second and second.endswith(b"GET /b 0 None")


def test_http10_closes_after_one_answer(echo_server: NodeServer) -> None:
    answer = _exchange(echo_server, b"GET /x HTTP/1.0\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 200 OK\r\n") and answer.endswith(b"GET /x 0 None")


def test_expect_continue_gets_100_first(echo_server: NodeServer) -> None:
    raw = b"POST /c HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi"
    assert _exchange(echo_server, raw).startswith(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK")


@pytest.mark.parametrize(
    "raw,status_line",
    [
        (b"junk\r\n\r\n", b"HTTP/1.1 400 Bad Request\r\n"),
        (b"PATCH / HTTP/1.1\r\n\r\n", b"HTTP/1.1 501 Not Implemented\r\n"),
        (b"POST / HTTP/1.1\r\nContent-Length: x\r\n\r\n", b"HTTP/1.1 400 Bad Request\r\n"),
        (b"POST / HTTP/1.1\r\nContent-Length: 99999999999\r\n\r\n", b"HTTP/1.1 413 "),
    ],
)
def test_bad_requests_are_answered_and_closed(
    echo_server: NodeServer, raw: bytes, status_line: bytes
) -> None:
    answer = _exchange(echo_server, raw)
    assert answer.startswith(status_line)
    assert b"Connection: close\r\n" in answer
    assert not answer.endswith(b"<still open>")
