"""Direct HTTP(S) without a proxy: kept-alive http.client connections, seed pins, one deadline.

Why not requests here: importing requests (urllib3, charset_normalizer, idna, certifi...) costs a
short-lived command more than the network round trip it makes (about 100 ms of a 170 ms one-request
process on the 2-core benchmark machine), and a direct connection needs none of what it adds: no
redirects, no cookies, no proxies, no content decoding (we send no Accept-Encoding), no CA bundle
(service nodes are not verified, seeds are pinned to one certificate). Anything that involves a
proxy goes through requests as before (net.transport decides).
"""

from __future__ import annotations

import hashlib
import http.client
import select
import ssl
import threading
import time
from urllib.parse import urlsplit

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


def _context() -> ssl.SSLContext:
    """TLS 1.2+, no certificate verification (pins are checked after the handshake), no CA file."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    return ctx


class DirectPool:
    """Idle connections per (scheme, host, port), shared by threads; each request owns one."""

    def __init__(self, pins: dict[str, str]) -> None:
        """`pins` maps a base URL ("https://host:port") to its certificate's SHA-256 hex."""
        self._pins = {base.rstrip("/"): fp.replace(":", "").lower() for base, fp in pins.items()}
        self._idle: dict[tuple[str, str, int], list[http.client.HTTPConnection]] = {}
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
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise TransportError("connect", f"not an http(s) URL: {url[:60]}")
        key = (parts.scheme, parts.hostname, parts.port or (443 if parts.scheme == "https" else 80))
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        headers = {**HEADERS, "Content-Type": content_type, "Connection": "keep-alive"}
        end = time.monotonic() + max(0.05, timeout)
        cap = max_bytes or MAX_RESPONSE_BYTES
        conn = self._take(key)
        if conn is not None:
            try:
                return self._exchange(key, conn, target, body, headers, end, timeout, cap)
            except _Stale:
                pass  # the node closed our idle connection meanwhile: one fresh connection
        conn = self._connect(key, end, timeout)
        try:
            return self._exchange(key, conn, target, body, headers, end, timeout, cap)
        except _Stale:
            raise TransportError("connect", "connection closed by the server") from None

    def close(self) -> None:
        with self._lock:
            conns = [c for idle in self._idle.values() for c in idle]
            self._idle.clear()
        for conn in conns:
            conn.close()

    def _take(self, key: tuple[str, str, int]) -> http.client.HTTPConnection | None:
        while True:
            with self._lock:
                idle = self._idle.get(key)
                conn = idle.pop() if idle else None
            if conn is None or not _dropped(conn):
                return conn
            conn.close()

    def _give_back(self, key: tuple[str, str, int], conn: http.client.HTTPConnection) -> None:
        with self._lock:
            idle = self._idle.setdefault(key, [])
            if len(idle) < CONNECTIONS_PER_HOST:
                idle.append(conn)
                return
        conn.close()

    def _connect(
        self, key: tuple[str, str, int], end: float, timeout: float
    ) -> http.client.HTTPConnection:
        scheme, host, port = key
        # TCP and the TLS handshake (HTTPSConnection.connect does both under this timeout): a
        # hung node that accepts and never finishes the handshake costs this much, not the deadline
        connect_timeout = max(0.05, min(end - time.monotonic(), DIRECT_CONNECT_SECONDS))
        conn: http.client.HTTPConnection
        if scheme == "https":
            with self._lock:
                self._ctx = self._ctx or _context()
            conn = http.client.HTTPSConnection(
                host, port, timeout=connect_timeout, context=self._ctx
            )
        else:
            conn = http.client.HTTPConnection(host, port, timeout=connect_timeout)
        try:
            conn.connect()
        except TimeoutError:
            conn.close()
            raise TransportError("timeout", f"no answer within {timeout:.1f} s") from None
        except ssl.SSLError as exc:
            conn.close()
            raise TransportError("tls", f"TLS failed: {short_cause(exc)}") from None
        except OSError as exc:
            conn.close()
            raise TransportError("connect", f"connection failed: {short_cause(exc)}") from None
        self._check_pin(key, conn)
        return conn

    def _check_pin(self, key: tuple[str, str, int], conn: http.client.HTTPConnection) -> None:
        scheme, host, port = key
        pin = self._pins.get(f"{scheme}://{host}:{port}")
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
        key: tuple[str, str, int],
        conn: http.client.HTTPConnection,
        target: str,
        body: bytes | bytearray,
        headers: dict[str, str],
        end: float,
        timeout: float,
        cap: int,
    ) -> HttpResponse:
        """One request on `conn`; the connection goes back to the pool only after a clean answer."""
        reused = conn.sock is not None and getattr(conn, "_sessioncli_used", False)
        try:
            _set_timeout(conn, end, timeout)
            conn.request("POST", target, body=body, headers=headers)
            resp = conn.getresponse()
            data = _read_capped(conn, resp, end, timeout, cap)
            resp.close()  # read1 leaves a fully read Content-Length body "open": the next
            # request on this connection would be refused (ResponseNotReady)
        except BaseException as exc:
            conn.close()
            raise _failure(exc, reused, timeout) from None
        content = resp.getheader("Content-Type", "") or ""
        if resp.will_close:
            conn.close()
        else:
            conn._sessioncli_used = True  # type: ignore[attr-defined]
            self._give_back(key, conn)
        return HttpResponse(resp.status, data, content)


class _Stale(Exception):
    """A kept-alive connection was closed by the other side before it answered."""


def _failure(exc: BaseException, reused: bool, timeout: float) -> BaseException:
    """What a failed exchange raises: TransportError of the right kind (or _Stale, or `exc`)."""
    if isinstance(exc, TransportError):
        return exc
    if isinstance(exc, (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError)):
        if reused:
            return _Stale()
        return TransportError("connect", f"connection failed: {short_cause(exc)}")
    if isinstance(exc, TimeoutError):
        return TransportError("timeout", f"no answer within {timeout:.1f} s")
    if isinstance(exc, ssl.SSLError):
        return TransportError("tls", f"TLS failed: {short_cause(exc)}")
    if isinstance(exc, (OSError, http.client.HTTPException)):
        return TransportError("connect", f"request failed: {short_cause(exc)}")
    return exc  # KeyboardInterrupt, a bug: not a network failure


def _dropped(conn: http.client.HTTPConnection) -> bool:
    """An idle connection that has something to read (the peer's close, or junk) is not reusable."""
    sock = conn.sock
    if sock is None:
        return True
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)


def _set_timeout(conn: http.client.HTTPConnection, end: float, timeout: float) -> None:
    left = end - time.monotonic()
    if left <= 0:
        raise TransportError("timeout", f"no answer within {timeout:.1f} s")
    if conn.sock is not None:
        conn.sock.settimeout(left)


def _read_capped(
    conn: http.client.HTTPConnection,
    resp: http.client.HTTPResponse,
    end: float,
    timeout: float,
    cap: int,
) -> bytes:
    """The body as it arrives, until `end` and `cap` bytes (see transport._read_capped: why)."""

    def piece(left: float) -> bytes:
        if conn.sock is not None:
            conn.sock.settimeout(left)
        return resp.read1(65536)

    return read_within(
        piece,
        end,
        timeout,
        cap,
        timeouts=(TimeoutError,),
        failures=(OSError, http.client.HTTPException),
    )
