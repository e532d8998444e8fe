"""Transport: error messages never show proxy credentials; deadlines hold against slow servers."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from sessioncli.errors import UsageError
from sessioncli.net.transport import Transport, TransportError, redact, validate_proxy


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_redact_removes_user_and_password():
    assert redact("socks5h://alice:s3cret@10.0.0.1:9050") == "socks5h://10.0.0.1:9050"
    assert redact("proxy http://tok@h:1 and https://u:p@x/y") == "proxy http://h:1 and https://x/y"
    assert redact("http://10.0.0.1:8080") == "http://10.0.0.1:8080"


def test_unsupported_proxy_message_has_no_credentials():
    with pytest.raises(UsageError) as info:
        validate_proxy("tor://alice:s3cret@127.0.0.1:9050")
    assert "s3cret" not in info.value.message and "alice" not in info.value.message


@pytest.mark.parametrize("scheme", ["http", "socks5h"])
def test_failed_proxy_message_has_no_credentials(scheme: str):
    port = _closed_port()
    transport = Transport(proxy=f"{scheme}://alice:s3cret@127.0.0.1:{port}")
    try:
        with pytest.raises(TransportError) as info:
            transport.post(f"http://127.0.0.1:{_closed_port()}/x", b"{}", timeout=2.0)
    finally:
        transport.close()
    assert info.value.kind == "proxy"
    assert "s3cret" not in str(info.value) and "alice" not in str(info.value)


@pytest.fixture
def trickler() -> Iterator[str]:
    """An HTTP server that sends its headers at once, then one body byte every 0.2 s (6 s)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4)
    server.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            with conn:
                conn.recv(65536)
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 30\r\n\r\n")
                for _ in range(30):
                    if stop.wait(0.2):
                        break
                    try:
                        conn.sendall(b"x")
                    except OSError:
                        break

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}/"
    stop.set()
    thread.join(5)
    server.close()


def test_a_trickling_server_cannot_hold_a_request_past_its_timeout(trickler: str):
    transport = Transport()
    t0 = time.monotonic()
    try:
        with pytest.raises(TransportError) as info:
            transport.post(trickler, b"{}", timeout=1.0)
    finally:
        transport.close()
    assert info.value.kind == "timeout"
    assert time.monotonic() - t0 < 2.0  # before: 6 s, one byte at a time


def test_proxy_none_means_direct_even_with_proxy_variables(monkeypatch) -> None:
    """`--proxy none` switches a configured proxy off and ignores the *_PROXY variables."""
    from sessioncli.net import transport

    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    t = transport.Transport(proxy="none")
    session = t._get_session()
    assert session.proxies == {}
    assert session.trust_env is False
    assert transport.validate_proxy("DIRECT") == "none"


def test_a_host_that_never_completes_the_tls_handshake_is_a_timeout() -> None:
    """Accepts TCP, never answers (a hung node): the connect phase's cap ends the request, as
    kind "timeout" (the executor's "no HTTP answer from the guard")."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4)
    held: list[socket.socket] = []
    threading.Thread(target=lambda: held.append(server.accept()[0]), daemon=True).start()
    transport = Transport()
    try:
        with pytest.raises(TransportError) as info:
            transport.post(f"https://127.0.0.1:{server.getsockname()[1]}/", b"{}", timeout=60.0)
    finally:
        transport.close()
        server.close()
        for conn in held:
            conn.close()
    assert info.value.kind == "timeout"
