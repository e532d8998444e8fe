"""Direct HTTP(S) without a proxy: kept-alive TLS connections, seed pins, one deadline.

Why not requests here: importing requests (urllib3, charset_normalizer, idna, certifi...) costs a
short-lived command more than the network round trip it makes (about 100 ms of a 170 ms one-request
process on the 2-core benchmark machine), and a direct connection needs none of what it adds: no
redirects, no cookies, no proxies, no content decoding (we send Accept-Encoding: identity), no CA
bundle (service nodes are not verified, seeds are pinned to one certificate). Nor http.client: it
imports the email package and parses every answer's headers with it (see net.httpwire, which
frames the messages; this module does the sockets). Anything that involves a proxy goes through
requests as before (net.transport decides).
"""

from __future__ import annotations

import hashlib
import select
import socket
import ssl
import threading
import time
from urllib.parse import SplitResult, urlsplit

from sessioncli.net.httpwire import FramingError, NoAnswer, ResponseParser, request_head
from sessioncli.net.transport import (
    CONNECTIONS_PER_HOST,
    DIRECT_CONNECT_SECONDS,
    HEADERS,
    MAX_RESPONSE_BYTES,
    HttpResponse,
    TransportError,
    read_within,
    short_cause,
)

_RECV_BYTES = 65536
# A body up to this size goes out in the same send as the head (one TLS record, one segment for
# a small onion request); a larger one is sent as it is, without the copy joining would make.
_JOIN_BODY_BYTES = 16384

Key = tuple[str, str, int]  # (scheme, host, port)


def _context() -> ssl.SSLContext:
    """TLS 1.2+, no certificate verification (pins are checked after the handshake), no CA file."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    return ctx


class _Connection:
    """One socket (TLS or plain) to a host; `used` once it has carried an answered request."""

    __slots__ = ("sock", "used")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.used = False

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


class DirectPool:
    """Idle connections per (scheme, host, port), shared by threads; each request owns one."""

    def __init__(self, pins: dict[str, str]) -> None:
        """`pins` maps a base URL ("https://host:port") to its certificate's SHA-256 hex."""
        # keyed like the pool (scheme, lower-case host, port), so that no spelling of a pinned
        # seed's address reaches it unpinned
        self._pins = {_key(base): fp.replace(":", "").lower() for base, fp in pins.items()}
        self._idle: dict[Key, list[_Connection]] = {}
        self._lock = threading.Lock()
        self._ctx: ssl.SSLContext | None = None

    def post(
        self,
        url: str,
        body: bytes | bytearray,
        *,
        timeout: float,
        content_type: str,
        max_bytes: int | None,
    ) -> HttpResponse:
        """POST and read the whole answer within `timeout` seconds, or raise TransportError."""
        key, head = _request(url, body, content_type)
        end = time.monotonic() + max(0.05, timeout)
        cap = max_bytes or MAX_RESPONSE_BYTES
        conn = self._take(key)
        if conn is not None:
            try:
                return self._exchange(key, conn, head, body, end, timeout, cap)
            except _Stale:
                pass  # the node closed our idle connection meanwhile: one fresh connection
        conn = self._connect(key, end, timeout)
        try:
            return self._exchange(key, conn, head, body, end, timeout, cap)
        except _Stale:
            raise TransportError("connect", "connection closed by the server") from None

    def close(self) -> None:
        with self._lock:
            conns = [c for idle in self._idle.values() for c in idle]
            self._idle.clear()
        for conn in conns:
            conn.close()

    def _take(self, key: Key) -> _Connection | None:
        while True:
            with self._lock:
                idle = self._idle.get(key)
                conn = idle.pop() if idle else None
            if conn is None or not _dropped(conn.sock):
                return conn
            conn.close()

    def _give_back(self, key: Key, conn: _Connection) -> None:
        with self._lock:
            idle = self._idle.setdefault(key, [])
            if len(idle) < CONNECTIONS_PER_HOST:
                idle.append(conn)
                return
        conn.close()

    def _connect(self, key: Key, end: float, timeout: float) -> _Connection:
        scheme, host, port = key
        # TCP and the TLS handshake, each under this timeout (as http.client applied it): a
        # hung node that accepts and never finishes the handshake costs this much, not the deadline
        connect_timeout = max(0.05, min(end - time.monotonic(), DIRECT_CONNECT_SECONDS))
        ctx = self._https_context() if scheme == "https" else None
        sock: socket.socket | None = None
        try:
            sock = socket.create_connection((host, port), timeout=connect_timeout)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if ctx is not None:
                sock = ctx.wrap_socket(sock, server_hostname=host)
        except TimeoutError:
            _close(sock)
            raise TransportError("timeout", f"no answer within {timeout:.1f} s") from None
        except ssl.SSLError as exc:
            _close(sock)
            raise TransportError("tls", f"TLS failed: {short_cause(exc)}") from None
        except (OSError, UnicodeError) as exc:  # UnicodeError: a host name idna cannot encode
            _close(sock)
            raise TransportError("connect", f"connection failed: {short_cause(exc)}") from None
        conn = _Connection(sock)
        self._check_pin(key, conn)
        return conn

    def _https_context(self) -> ssl.SSLContext:
        with self._lock:
            self._ctx = self._ctx or _context()
            return self._ctx

    def _check_pin(self, key: Key, conn: _Connection) -> None:
        pin = self._pins.get(key)
        if pin is None:
            return
        sock = conn.sock
        der = sock.getpeercert(binary_form=True) if isinstance(sock, ssl.SSLSocket) else None
        if der is None or hashlib.sha256(der).hexdigest() != pin:
            conn.close()
            raise TransportError(
                "pin", "it presented a certificate that does not match the pinned one"
            )

    def _exchange(
        self,
        key: Key,
        conn: _Connection,
        head: bytes,
        body: bytes | bytearray,
        end: float,
        timeout: float,
        cap: int,
    ) -> HttpResponse:
        """One request on `conn`; the connection goes back to the pool only after a clean answer."""
        parser = ResponseParser()
        try:
            _send(conn.sock, head, body, end, timeout)
            first = _read_head(conn.sock, parser, end)
            if parser.length is not None and parser.length > cap:
                raise TransportError("oversize", f"answer larger than {cap} bytes")
            data = _read_body(conn.sock, parser, first, end, timeout, cap)
        except BaseException as exc:
            conn.close()
            # A retry is safe only when the server closed an idle connection before reading
            # our request: nothing of an answer came, on a connection that had answered before.
            raise _failure(exc, conn.used and parser.received == 0, timeout) from None
        answer = parser.head
        assert answer is not None  # _read_head returned
        if parser.keep_alive:
            conn.used = True
            self._give_back(key, conn)
        else:
            conn.close()
        return HttpResponse(answer.status, data, answer.header("content-type"))


def _split(url: str) -> tuple[Key, SplitResult]:
    """(scheme, lower-case host, port) of an http(s) URL, and its parts."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise TransportError("connect", f"not an http(s) URL: {url[:60]}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise TransportError("connect", f"not an http(s) URL: {url[:60]}")
    default = 443 if parts.scheme == "https" else 80
    return (parts.scheme, parts.hostname, port or default), parts


def _key(url: str) -> Key:
    return _split(url)[0]


def _request(url: str, body: bytes | bytearray, content_type: str) -> tuple[Key, bytes]:
    """Where `url` points, and the head of a POST of `body` to it."""
    key, parts = _split(url)
    default = 443 if key[0] == "https" else 80
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    headers = {
        "Content-Length": str(len(body)),
        **HEADERS,
        "Content-Type": content_type,
        "Connection": "keep-alive",
    }
    try:
        head = request_head("POST", target, key[1], key[2] == default, key[2], headers)
    except ValueError:
        raise TransportError("connect", f"not an http(s) URL: {url[:60]}") from None
    return key, head


class _Stale(Exception):
    """A kept-alive connection was closed by the other side before it answered."""


def _failure(exc: BaseException, may_retry: bool, timeout: float) -> BaseException:
    """What a failed exchange raises: TransportError of the right kind (or _Stale, or `exc`)."""
    if isinstance(exc, TransportError):
        return exc
    if isinstance(exc, (NoAnswer, BrokenPipeError, ConnectionResetError)):
        if may_retry:
            return _Stale()
        return TransportError("connect", f"connection failed: {short_cause(exc)}")
    if isinstance(exc, TimeoutError):
        return TransportError("timeout", f"no answer within {timeout:.1f} s")
    if isinstance(exc, ssl.SSLError):
        return TransportError("tls", f"TLS failed: {short_cause(exc)}")
    if isinstance(exc, (OSError, FramingError)):
        return TransportError("connect", f"request failed: {short_cause(exc)}")
    return exc  # KeyboardInterrupt, a bug: not a network failure


def _close(sock: socket.socket | None) -> None:
    if sock is not None:
        sock.close()


def _dropped(sock: socket.socket) -> bool:
    """An idle connection that has something to read (the peer's close, or junk) is not reusable."""
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)


def _time_left(end: float) -> float:
    left = end - time.monotonic()
    if left <= 0:
        raise TimeoutError
    return left


def _send(
    sock: socket.socket, head: bytes, body: bytes | bytearray, end: float, timeout: float
) -> None:
    left = end - time.monotonic()
    if left <= 0:
        raise TransportError("timeout", f"no answer within {timeout:.1f} s")
    sock.settimeout(left)
    if len(body) <= _JOIN_BODY_BYTES:
        sock.sendall(head + body)
    else:
        sock.sendall(head)
        sock.settimeout(_time_left(end))
        sock.sendall(body)


def _receive(sock: socket.socket, parser: ResponseParser, end: float) -> list[bytes]:
    """One read from `sock` (waiting no later than `end`) fed to `parser`: the body it completes."""
    sock.settimeout(_time_left(end))
    data = sock.recv(_RECV_BYTES)
    if not data:
        parser.end()
        return []
    return parser.feed(data)


def _read_head(sock: socket.socket, parser: ResponseParser, end: float) -> list[bytes]:
    """Read until the answer's head is in; what came of the body with it."""
    first: list[bytes] = []
    while parser.head is None:
        first += _receive(sock, parser, end)
    return first


def _read_body(
    sock: socket.socket,
    parser: ResponseParser,
    first: list[bytes],
    end: float,
    timeout: float,
    cap: int,
) -> bytes:
    """The body as it arrives, until `end` and `cap` bytes (see transport._read_capped: why)."""
    pending = first

    def piece(left: float) -> bytes:
        while not pending and not parser.done:
            pending.extend(_receive(sock, parser, end))
        joined = b"".join(pending)
        pending.clear()
        return joined

    return read_within(
        piece,
        end,
        timeout,
        cap,
        timeouts=(TimeoutError,),
        failures=(OSError, FramingError),
    )
