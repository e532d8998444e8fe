"""Transport: error messages never show proxy credentials; deadlines hold against slow servers."""

from __future__ import annotations

import socket

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
