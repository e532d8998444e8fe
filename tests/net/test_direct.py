"""Direct HTTPS (net.direct): one kept-alive connection per host, pins, stale connections, proxies."""

from __future__ import annotations

import hashlib
import socket
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from sessioncli.devnet.tls import ensure_certificate, server_context
from sessioncli.net.transport import Transport, TransportError


class _Server:
    """A loopback HTTPS server answering every POST with its body; counts TLS handshakes."""

    def __init__(self, folder: Path, close_after_each: bool = False) -> None:
        cert, key = ensure_certificate(folder, "direct-test", "127.0.0.1")
        self.der = ssl.PEM_cert_to_DER_cert(cert.read_text())
        self.ctx = server_context(cert, key)
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.url = f"https://127.0.0.1:{self.sock.getsockname()[1]}"
        self.handshakes = 0
        self.close_after_each = close_after_each
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                raw, _ = self.sock.accept()
            except TimeoutError:
                continue
            threading.Thread(target=self._one, args=(raw,), daemon=True).start()

    def _one(self, raw: socket.socket) -> None:
        try:
            conn = self.ctx.wrap_socket(raw, server_side=True)
        except (OSError, ssl.SSLError):
            raw.close()
            return
        self.handshakes += 1
        with conn:
            reader = conn.makefile("rb")
            while True:
                head = b""
                while not head.endswith(b"\r\n\r\n"):
                    line = reader.readline()
                    if not line:
                        return
                    head += line
                length = next(
                    int(h.split(b":")[1])
                    for h in head.split(b"\r\n")
                    if h.lower().startswith(b"content-length")
                )
                body = reader.read(length)
                conn.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                    + f"Content-Length: {len(body)}\r\n\r\n".encode()
                    + body
                )
                if self.close_after_each:
                    return  # closes without saying so: the client finds out on its next request

    def close(self) -> None:
        self.stop.set()
        self.thread.join(5)
        self.sock.close()


@pytest.fixture(autouse=True)
def _no_proxy_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[_Server]:
    s = _Server(tmp_path)
    yield s
    s.close()


def test_requests_share_one_tls_session(server: _Server) -> None:
    t = Transport()
    assert t.is_direct
    try:
        for i in range(5):
            resp = t.post(server.url + "/x", f"hello {i}".encode(), timeout=5.0)
            assert (resp.status, resp.body, resp.content_type) == (
                200,
                f"hello {i}".encode(),
                "text/plain",
            )
    finally:
        t.close()
    assert server.handshakes == 1


def test_a_pinned_seed_with_another_certificate_is_refused(server: _Server) -> None:
    good = Transport(pins={server.url: hashlib.sha256(server.der).hexdigest()})
    bad = Transport(pins={server.url: "00" * 32})
    try:
        assert good.post(server.url + "/x", b"ok", timeout=5.0).body == b"ok"
        with pytest.raises(TransportError) as info:
            bad.post(server.url + "/x", b"no", timeout=5.0)
    finally:
        good.close()
        bad.close()
    assert info.value.kind == "pin"


def test_a_pin_holds_however_the_seed_address_is_spelled(server: _Server) -> None:
    """The pool looks a pin up by (scheme, lower-case host, port): a pin given as
    https://LOCALHOST:P still guards https://localhost:P/x (it was looked up by the string)."""
    port = server.url.rsplit(":", 1)[1]
    bad = Transport(pins={f"https://LOCALHOST:{port}": "00" * 32})
    try:
        with pytest.raises(TransportError) as info:
            bad.post(f"https://localhost:{port}/x", b"no", timeout=5.0)
    finally:
        bad.close()
    assert info.value.kind == "pin"


def test_a_host_name_idna_cannot_encode_is_a_transport_error() -> None:
    t = Transport()
    try:
        with pytest.raises(TransportError) as info:
            t.post("https://a..b:4443/x", b"x", timeout=2.0)
    finally:
        t.close()
    assert info.value.kind == "connect"


def test_a_connection_the_server_closed_is_replaced(tmp_path: Path) -> None:
    server = _Server(tmp_path, close_after_each=True)
    t = Transport()
    try:
        for i in range(3):
            assert t.post(server.url + "/x", f"n{i}".encode(), timeout=5.0).body == f"n{i}".encode()
    finally:
        t.close()
        server.close()
    assert server.handshakes == 3


def test_a_refused_connection_is_a_connect_failure() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    t = Transport()
    with pytest.raises(TransportError) as info:
        t.post(f"https://127.0.0.1:{port}/x", b"{}", timeout=2.0)
    assert info.value.kind == "connect" and "refused" in str(info.value)


def test_proxy_variables_keep_requests_in_charge(monkeypatch: pytest.MonkeyPatch) -> None:
    """With a proxy in the environment, requests carries the request (and applies NO_PROXY)."""
    monkeypatch.setenv("https_proxy", "http://127.0.0.1:9")
    assert not Transport().is_direct
    assert Transport(proxy="none").is_direct
    assert not Transport(proxy="socks5h://127.0.0.1:9050").is_direct
    monkeypatch.delenv("https_proxy")
    monkeypatch.setenv("ALL_PROXY", "socks5h://127.0.0.1:9")
    assert not Transport().is_direct


def test_a_direct_request_does_not_import_requests(server: _Server) -> None:
    """The point of net.direct: a short command pays for no HTTP library beyond the stdlib's."""
    import subprocess
    import sys

    code = (
        "import sys; from sessioncli.net.transport import Transport; "
        f"assert Transport().post({server.url + '/x'!r}, b'hi', timeout=5.0).body == b'hi'; "
        "print(sorted(m for m in ('requests', 'urllib3') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert out.stdout.strip() == "[]"


def test_the_cli_says_direct_only_when_no_proxy_could_apply(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """core.context passes "none" (skip asking urllib) only without any proxy variable, on Linux."""
    import sys

    from sessioncli.core import context

    monkeypatch.setattr(sys, "platform", "linux")
    assert context._no_proxy_anywhere() == "none"
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    assert context._no_proxy_anywhere() is None
    monkeypatch.delenv("HTTPS_PROXY")
    monkeypatch.setattr(sys, "platform", "darwin")  # system proxy settings: the transport asks
    assert context._no_proxy_anywhere() is None
