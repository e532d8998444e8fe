"""NetworkClient.server_request: onion v4 through a devnet to a loopback HTTP server of the test's own.

The server below speaks the v4 wire format as SPEC §6 describes it, written here from the spec
with `cryptography` directly (it does not import sessioncli.protocol, so a shared mistake in the
client's onion code cannot make both sides agree on something wrong):
the last hop POSTs `u32_le(N) || blob || {"ephemeral_key": hex, ...}`; blob is AES-256-GCM
(iv(12) || ciphertext || tag(16)) under HMAC-SHA256(key=b"LOKI", msg=X25519(server, ephemeral));
its plaintext is the bencoded list [request json, body?]; the reply is the bencoded list
[{"code", "headers"} json, body], encrypted the same way, sent raw (not base64).
"""

from __future__ import annotations

import hashlib
import hmac
import http.server
import json
import os
import struct
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from sessioncli.errors import NetworkUnavailable, TemporaryFailure
from sessioncli.exitcodes import ExitCode
from sessioncli.net.client import NetworkClient
from sessioncli.protocol.onion import ServerTarget
from tests.devnet_support import DevnetProcess

pytestmark = pytest.mark.slow


def _bencode(items: list[bytes]) -> bytes:
    return b"l" + b"".join(b"%d:%s" % (len(x), x) for x in items) + b"e"


def _bdecode(data: bytes) -> list[bytes]:
    assert data[:1] == b"l" and data[-1:] == b"e"
    out, i = [], 1
    while i < len(data) - 1:
        colon = data.index(b":", i)
        n = int(data[i:colon])
        out.append(data[colon + 1 : colon + 1 + n])
        i = colon + 1 + n
    return out


class V4Server(http.server.BaseHTTPRequestHandler):
    """Answers each v4 request as `ANSWER` says; records what it decrypted in `seen`."""

    key = X25519PrivateKey.generate()
    seen: ClassVar[list[dict[str, Any]]] = []
    mode: ClassVar[str] = "echo"  # echo | junk | big

    def do_POST(self) -> None:
        data = self.rfile.read(int(self.headers["Content-Length"]))
        (n,) = struct.unpack_from("<I", data)
        blob, meta = data[4 : 4 + n], json.loads(data[4 + n :])
        assert meta.get("enc_type", "aes-gcm") == "aes-gcm"
        their = X25519PublicKey.from_public_bytes(bytes.fromhex(meta["ephemeral_key"]))
        key = hmac.new(b"LOKI", self.key.exchange(their), hashlib.sha256).digest()
        plain = AESGCM(key).decrypt(blob[:12], blob[12:], None)
        parts = _bdecode(plain)
        request = json.loads(parts[0])
        request["body"] = parts[1] if len(parts) > 1 else None
        request["path"] = self.path
        V4Server.seen.append(request)
        code = int(request["headers"].get("x-answer-code", "200"))
        body = b"you sent " + (request["body"] or request["endpoint"].encode())
        if V4Server.mode == "big":
            body = b"x" * 100_000
        reply_meta = json.dumps({"code": code, "headers": {"Content-Type": "text/plain"}})
        iv = os.urandom(12)
        sealed = iv + AESGCM(key).encrypt(iv, _bencode([reply_meta.encode(), body]), None)
        if V4Server.mode == "junk":
            sealed = os.urandom(len(sealed))
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(sealed)))
        self.end_headers()
        self.wfile.write(sealed)

    def log_message(self, *args: Any) -> None:
        pass


def _public(key: X25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


@pytest.fixture(scope="module")
def devnet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevnetProcess]:
    with DevnetProcess(
        tmp_path_factory.mktemp("v4") / "devnet", nodes=12, swarm_size=4, seed="v4-tests"
    ) as dn:
        yield dn


@pytest.fixture(scope="module")
def server() -> Iterator[ServerTarget]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), V4Server)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield ServerTarget(
        host="127.0.0.1", x25519=_public(V4Server.key), protocol="http", port=httpd.server_port
    )
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def client(devnet: DevnetProcess, tmp_path: Path) -> Iterator[NetworkClient]:
    V4Server.mode = "echo"
    with NetworkClient(str(devnet.network_file), cache_root=tmp_path, timeout=20.0) as c:
        yield c


def test_get_reaches_the_server_with_method_endpoint_and_headers(
    client: NetworkClient, server: ServerTarget
) -> None:
    reply = client.server_request(server, "GET", "/file/12?x=1", headers={"X-Test": "yes"})
    assert (reply.code, reply.body) == (200, b"you sent /file/12?x=1")
    assert reply.headers["content-type"] == "text/plain"  # names lower-cased
    seen = V4Server.seen[-1]
    assert (seen["method"], seen["endpoint"], seen["body"]) == ("GET", "/file/12?x=1", None)
    assert seen["headers"] == {"X-Test": "yes"}
    assert seen["path"] == "/oxen/v4/lsrpc"


def test_post_body_and_the_servers_own_error_code_come_back_untouched(
    client: NetworkClient, server: ServerTarget
) -> None:
    before = len(V4Server.seen)
    reply = client.server_request(
        server, "POST", "/file", headers={"x-answer-code": "413"}, body=b"\x00\xffdata"
    )
    assert (reply.code, reply.body) == (413, b"you sent \x00\xffdata")
    assert len(V4Server.seen) == before + 1  # a server's 4xx is an answer: not retried


def test_undecryptable_reply_is_retried_then_temporary_naming_the_host(
    client: NetworkClient, server: ServerTarget
) -> None:
    V4Server.mode = "junk"
    before = len(V4Server.seen)
    with pytest.raises(TemporaryFailure) as info:
        client.server_request(server, "GET", "/x", timeout=15.0)
    assert info.value.exit_code == ExitCode.TEMPFAIL
    assert "127.0.0.1" in info.value.message
    assert len(V4Server.seen) - before >= 2  # other paths were tried


def test_reply_over_max_reply_bytes_is_refused(client: NetworkClient, server: ServerTarget) -> None:
    V4Server.mode = "big"
    with pytest.raises(TemporaryFailure) as info:
        client.server_request(server, "GET", "/big", max_reply_bytes=10_000, timeout=15.0)
    assert "larger than 10000 bytes" in info.value.message
    V4Server.mode = "echo"
    assert client.server_request(server, "GET", "/big", max_reply_bytes=10_000).code == 200


def test_server_not_listening_is_a_relay_502_and_temporary(
    client: NetworkClient, server: ServerTarget
) -> None:
    closed = ServerTarget(host="127.0.0.1", x25519=server.x25519, protocol="http", port=1)
    with pytest.raises(TemporaryFailure) as info:
        client.server_request(closed, "GET", "/x", timeout=15.0)
    assert "127.0.0.1" in info.value.message and "502" in info.value.message


def test_no_network_at_all_is_unavailable(tmp_path: Path, server: ServerTarget) -> None:
    network = tmp_path / "net.json"
    network.write_text(
        json.dumps({"name": "nowhere", "seeds": [{"url": "http://127.0.0.1:1"}]}), "utf-8"
    )
    c = NetworkClient(str(network), cache_root=tmp_path / "c", timeout=3.0)
    with c, pytest.raises(NetworkUnavailable) as info:
        c.server_request(server, "GET", "/x")
    assert info.value.exit_code == ExitCode.UNAVAILABLE
