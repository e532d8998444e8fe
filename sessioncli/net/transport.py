"""HTTP(S) for the client: keep-alive sessions, timeouts, seed certificate pinning, proxies.

The only module that imports requests (lazily, so start-up stays fast). Seeds are pinned to an
exact certificate (SHA-256 of its DER, checked by urllib3 on every new connection); service nodes
have self-signed certificates and are not verified, as desktop does: the onion layers carry the
authenticity. The proxy (`--proxy` / SESSIONCLI_PROXY, else the usual *_PROXY variables) applies to
every connection this process makes, i.e. to seeds and to guards.
"""

from __future__ import annotations

import hashlib
import re
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol, cast

from sessioncli.errors import UsageError

if TYPE_CHECKING:
    import requests

    from sessioncli.net.direct import DirectPool

MAX_RESPONSE_BYTES = 16 * 1024 * 1024
# The connect phase (TCP and the TLS handshake: urllib3 applies the connect timeout to both) of a
# direct connection. A live node completes it in milliseconds (loopback devnet on a loaded 2-core
# box: p99 19 ms TCP, 37 ms TLS; the real network: 2-3 round trips, under a second, 1 s more
# after a lost SYN), while a hung host that accepts TCP never finishes the handshake: without
# this cap such a guard held each attempt for its whole share of the deadline (a third of it).
DIRECT_CONNECT_SECONDS = 3.0
# Through a proxy the connect includes the proxy's own (Tor: a circuit and the exit's connect).
# requests carries only proxied requests (direct ones go through net.direct), so it always uses this.
PROXY_CONNECT_SECONDS = 10.0
# Kept-alive connections per host (a guard) of a direct transport: a request beyond this many at
# once to one host opens a connection that is closed after its answer. NetworkClient.max_in_flight
# is built on it.
CONNECTIONS_PER_HOST = 4
_PROXY_SCHEMES = ("socks5h", "socks5", "socks4a", "socks4", "http", "https")
HEADERS = {"User-Agent": "WhatsApp", "Accept-Language": "en-us"}  # what desktop sends

FailureKind = Literal["timeout", "connect", "pin", "proxy", "oversize", "tls"]


class TransportError(Exception):
    """A request got no HTTP answer. `kind` says why; the message is one printable line."""

    def __init__(self, kind: FailureKind, message: str) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class HttpResponse:
    status: int
    body: bytes
    content_type: str


def cert_fingerprint(pem: str) -> str:
    """SHA-256 hex of a PEM certificate's DER (ValueError when it is not a PEM certificate)."""
    return hashlib.sha256(ssl.PEM_cert_to_DER_cert(pem.strip())).hexdigest()


_CREDENTIALS = re.compile(r"(?<=://)[^/@\s]*@")


def redact(text: str) -> str:
    """`text` with any `user:pass@` of a URL removed (proxy URLs may carry credentials)."""
    return _CREDENTIALS.sub("", text)


NO_PROXY_WORDS = ("none", "direct")  # `--proxy none`: no proxy at all, not even *_PROXY


def validate_proxy(proxy: str) -> str:
    if proxy.strip().lower() in NO_PROXY_WORDS:
        return "none"
    scheme = proxy.split("://", 1)[0].lower() if "://" in proxy else ""
    if scheme not in _PROXY_SCHEMES or not proxy.split("://", 1)[1].strip("/"):
        raise UsageError(
            f"unsupported proxy {redact(proxy)!r}",
            hints=("use socks5h://HOST:PORT (Tor: socks5h://127.0.0.1:9050) or http://HOST:PORT",),
        )
    return proxy


class Transport:
    """One keep-alive requests.Session shared by all threads (urllib3's pools are thread-safe)."""

    def __init__(self, *, proxy: str | None = None, pins: dict[str, str] | None = None) -> None:
        """`pins` maps a seed base URL ("https://host:port") to the certificate's SHA-256 hex."""
        self._proxy = validate_proxy(proxy) if proxy else None
        self._pins = dict(pins or {})
        self._session: requests.Session | None = None
        self._direct: DirectPool | None = None
        self._lock = threading.Lock()
        # No proxy in play (none configured, none in the environment): net.direct's own HTTP/1.1
        # pool, without importing requests. Any proxy, even one from *_PROXY: requests, as before.
        self.is_direct = self._proxy == "none" or (self._proxy is None and not _env_proxies())

    def _get_direct(self) -> DirectPool:
        with self._lock:
            if self._direct is None:
                from sessioncli.net.direct import DirectPool

                self._direct = DirectPool(self._pins)
            return self._direct

    def _get_session(self) -> requests.Session:
        with self._lock:
            if self._session is None:
                self._session = _make_session(self._proxy, self._pins)
            return self._session

    def post(
        self,
        url: str,
        body: bytes | bytearray,  # onion bodies are built in place: sent without a copy
        *,
        timeout: float,
        content_type: str = "application/json",
        max_bytes: int | None = None,
    ) -> HttpResponse:
        """POST and read the whole answer (at most `max_bytes`, default MAX_RESPONSE_BYTES), or
        raise TransportError."""
        if self.is_direct:
            return self._get_direct().post(
                url, body, timeout=timeout, content_type=content_type, max_bytes=max_bytes
            )
        import requests

        session = self._get_session()
        timeout = max(0.05, timeout)
        end = time.monotonic() + timeout
        verify = False  # seeds: the pinned fingerprint is checked by the mounted adapter
        try:
            with session.post(
                url,
                # a bytearray goes out as it is: requests sets Content-Length from len() and
                # urllib3 sends any buffer without copying it (the stubs only know bytes)
                data=cast(bytes, body),
                headers={**HEADERS, "Content-Type": content_type},
                timeout=(min(timeout, PROXY_CONNECT_SECONDS), timeout),
                verify=verify,
                stream=True,
                allow_redirects=False,
            ) as resp:
                data = _read_capped(resp, end, timeout, max_bytes or MAX_RESPONSE_BYTES)
                return HttpResponse(resp.status_code, data, resp.headers.get("Content-Type", ""))
        except TransportError:
            raise
        except requests.exceptions.ProxyError as exc:
            raise TransportError(
                "proxy", f"proxy {redact(self._proxy or '')} failed: {short_cause(exc)}"
            ) from None
        except requests.exceptions.SSLError as exc:
            text = str(exc)
            if "ingerprint" in text:
                raise TransportError(
                    "pin", "it presented a certificate that does not match the pinned one"
                ) from None
            raise TransportError("tls", f"TLS failed: {short_cause(exc)}") from None
        except requests.exceptions.Timeout:
            waited = timeout - (end - time.monotonic())  # less when the connect phase timed out
            raise TransportError("timeout", f"no answer within {waited:.1f} s") from None
        except requests.exceptions.ConnectionError as exc:
            if "timed out" in str(exc).lower():
                waited = timeout - (end - time.monotonic())
                raise TransportError("timeout", f"no answer within {waited:.1f} s") from None
            if "socks" in str(exc).lower() or "proxy" in str(exc).lower():
                raise TransportError("proxy", f"proxy failed: {short_cause(exc)}") from None
            raise TransportError("connect", f"connection failed: {short_cause(exc)}") from None
        except requests.exceptions.RequestException as exc:
            raise TransportError("connect", f"request failed: {short_cause(exc)}") from None

    def close(self) -> None:
        with self._lock:
            if self._session is not None:
                self._session.close()
                self._session = None
            if self._direct is not None:
                self._direct.close()
                self._direct = None


def _env_proxies() -> bool:
    """Whether requests would find a proxy of its own: it asks urllib.request.getproxies() (the
    *_PROXY variables, and on macOS and Windows the system settings). Then requests carries the
    request, and applies them and NO_PROXY as it always did."""
    import urllib.request

    return any(k in ("http", "https", "all") for k in urllib.request.getproxies())


class PostTransport(Protocol):
    """What the client needs of a transport (net.transport.Transport; tests inject their own)."""

    def post(
        self,
        url: str,
        body: bytes | bytearray,
        *,
        timeout: float,
        content_type: str = "application/json",
        max_bytes: int | None = None,
    ) -> HttpResponse: ...

    def close(self) -> None: ...


class WatchedTransport:
    """A transport that remembers whether anything ever gave an HTTP answer (see CallLog)."""

    def __init__(self, inner: PostTransport) -> None:
        self.inner = inner
        self.answered = False
        self._count_lock = threading.Lock()
        self._requests = 0

    @property
    def requests(self) -> int:
        """HTTP requests made so far (onion posts, guard probes, seeds)."""
        return self._requests

    def post(
        self,
        url: str,
        body: bytes | bytearray,
        *,
        timeout: float,
        content_type: str = "application/json",
        max_bytes: int | None = None,
    ) -> HttpResponse:
        with self._count_lock:
            self._requests += 1
        try:
            resp = self.inner.post(
                url, body, timeout=timeout, content_type=content_type, max_bytes=max_bytes
            )
        except TransportError as exc:
            self.answered |= exc.kind == "oversize"  # an answer, just too large
            raise
        self.answered = True
        return resp

    def close(self) -> None:
        self.inner.close()


def _read_capped(resp: requests.Response, end: float, timeout: float, cap: int) -> bytes:
    """The body, in pieces as they arrive, until `end` (monotonic) and `cap` bytes.

    requests' read timeout bounds each socket read only: a server sending a byte now and then
    would hold the request for ever. Each read here takes what has arrived (read1) and waits no
    longer than the time left.
    """
    import urllib3

    raw = resp.raw
    sock = getattr(getattr(raw, "connection", None), "sock", None)

    def piece(left: float) -> bytes:
        if sock is not None:
            sock.settimeout(left)
        if hasattr(raw, "read1"):
            return bytes(raw.read1(65536, decode_content=True))
        return bytes(raw.read(65536, decode_content=True))  # urllib3 1.x

    return read_within(
        piece,
        end,
        timeout,
        cap,
        timeouts=(TimeoutError, urllib3.exceptions.ReadTimeoutError),
        failures=(OSError, urllib3.exceptions.HTTPError),
    )


def read_within(
    piece: Callable[[float], bytes],
    end: float,
    timeout: float,
    cap: int,
    *,
    timeouts: tuple[type[BaseException], ...],
    failures: tuple[type[BaseException], ...],
) -> bytes:
    """Join what `piece(seconds_left)` returns until it returns b"", within `end` (monotonic)
    and `cap` bytes; `timeouts`/`failures` are the reader's exceptions for a late or a broken
    answer. Shared by both transports (requests and net.direct's sockets)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        left = end - time.monotonic()
        if left <= 0:
            raise TransportError("timeout", f"no complete answer within {timeout:.1f} s")
        try:
            chunk = piece(left)
        except timeouts:
            raise TransportError("timeout", f"no complete answer within {timeout:.1f} s") from None
        except failures as exc:
            raise TransportError(
                "connect", f"reading the answer failed: {short_cause(exc)}"
            ) from None
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > cap:
            raise TransportError("oversize", f"answer larger than {cap} bytes")
        chunks.append(chunk)


_CAUSES = (
    ("Connection refused", "connection refused"),
    ("Name or service not known", "host name not found"),
    ("Temporary failure in name resolution", "host name not found"),
    ("No route to host", "no route to host"),
    ("Network is unreachable", "network unreachable"),
    ("Connection reset", "connection reset"),
    ("RemoteDisconnected", "connection closed by the server"),
    ("Remote end closed", "connection closed by the server"),
    ("general SOCKS server failure", "SOCKS server failure"),
    ("Host unreachable", "host unreachable"),
)


def short_cause(exc: BaseException) -> str:
    """The root cause in a few words, not urllib3's nested repr."""
    text = redact(" ".join(str(exc).split()))
    for marker, short in _CAUSES:
        if marker in text:
            return short
    return text[:120]


def _make_session(proxy: str | None, pins: dict[str, str]) -> requests.Session:
    import requests
    import urllib3
    from requests.adapters import HTTPAdapter

    # Service nodes have self-signed certificates by design; do not warn on every request.
    urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)

    class PinnedAdapter(HTTPAdapter):
        """Accepts exactly one certificate (urllib3 compares its SHA-256 on every connection)."""

        def __init__(self, fingerprint: str) -> None:
            self._fingerprint = fingerprint
            super().__init__(pool_connections=4, pool_maxsize=8)

        def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
            kwargs["assert_fingerprint"] = self._fingerprint
            super().init_poolmanager(*args, **kwargs)

        def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
            proxy_kwargs["assert_fingerprint"] = self._fingerprint
            return super().proxy_manager_for(proxy, **proxy_kwargs)

    session = requests.Session()
    session.mount("https://", HTTPAdapter(pool_connections=32, pool_maxsize=32))
    session.mount("http://", HTTPAdapter(pool_connections=8, pool_maxsize=8))
    for base, fingerprint in pins.items():
        session.mount(base.rstrip("/") + "/", PinnedAdapter(fingerprint))
    if proxy == "none":
        session.trust_env = False  # the user asked for direct connections: ignore *_PROXY too
    elif proxy:
        session.proxies = {"http": proxy, "https": proxy}
        session.trust_env = False  # an explicit proxy wins over *_PROXY / NO_PROXY
    return session
