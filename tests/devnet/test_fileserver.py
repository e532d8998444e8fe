"""The devnet's file server: its HTTP API as upstream answers it, direct and as an onion v4 destination."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sessioncli.devnet import Devnet
from sessioncli.devnet.errors import DevnetUsageError
from tests.devnet.wire import encrypt_to, frame, post, unseal
from tests.devnet.wire_v4 import (
    OnionClient,
    build_server_onion,
    decode_v4_reply,
    http_request,
    v4_request,
)


@pytest.fixture(scope="module")
def devnet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Devnet]:
    directory: Path = tmp_path_factory.mktemp("fsnet")
    # Generous relay timeout: a 10 MB upload crosses four hops on a shared 2-core machine.
    with Devnet(directory, nodes=6, swarm_size=3, seed="fileserver-tests", relay_timeout=20) as net:
        yield net


@pytest.fixture
def fs(devnet: Devnet) -> Iterator[dict[str, Any]]:
    devnet.server_control("fileserver", ["up"])
    devnet.server_control("fileserver", ["fault", "none"])
    yield json.loads(devnet.network_file.read_text())["file_server"]
    devnet.server_control("fileserver", ["up"])
    devnet.server_control("fileserver", ["fault", "none"])


def _client(devnet: Devnet, fs: dict[str, Any], enc_type: str = "aes-gcm") -> OnionClient:
    nodes = [n for n in devnet.describe_nodes() if n["kind"] == "storage"]
    host, port = fs["url"].removeprefix("http://").split(":")
    return OnionClient(nodes[:3], fs["pubkey_x25519"], host, int(port), enc_type)


def _spec_id(data: bytes) -> str:
    digest = hashlib.blake2b(data, digest_size=33, salt=b"SessionFileSvr\0\0").digest()
    return base64.urlsafe_b64encode(digest).decode()


def test_network_file_names_the_file_server(devnet: Devnet, fs: dict[str, Any]) -> None:
    assert set(fs) == {"url", "pubkey_x25519", "pubkey_ed25519"}
    assert fs["url"].startswith("http://127.") and fs["url"].count(":") == 2
    node_ips = {n["ip"] for n in devnet.describe_nodes()}
    assert fs["url"].removeprefix("http://").split(":")[0] not in node_ips
    # As on mainnet, the onion key is the Ed25519 key converted to X25519.
    from nacl import bindings as sodium

    ed = bytes.fromhex(fs["pubkey_ed25519"])
    assert sodium.crypto_sign_ed25519_pk_to_curve25519(ed).hex() == fs["pubkey_x25519"]


def test_direct_upload_download_info_extend(fs: dict[str, Any]) -> None:
    data = os.urandom(1000)
    before = time.time()
    status, headers, body = http_request(fs["url"], "POST", "/file", data)
    assert status == 200 and headers["content-type"] == "application/json"
    reply = json.loads(body)
    assert set(reply) == {"id", "expires"}
    assert reply["id"] == _spec_id(data) and len(reply["id"]) == 44
    assert isinstance(reply["expires"], float)
    assert before + 21 * 86400 - 5 < reply["expires"] < time.time() + 21 * 86400 + 5

    status, headers, body = http_request(fs["url"], "GET", f"/file/{reply['id']}")
    assert (status, headers["content-type"], body) == (200, "application/octet-stream", data)

    status, _, body = http_request(fs["url"], "GET", f"/file/{reply['id']}/info")
    info = json.loads(body)
    assert status == 200 and set(info) == {"size", "uploaded", "expires"}
    assert info["size"] == 1000 and info["expires"] == reply["expires"]

    short = {"X-FS-TTL": "60"}
    status, _, body = http_request(fs["url"], "POST", f"/file/{reply['id']}/extend", b"", short)
    assert status == 200 and json.loads(body)["expires"] == reply["expires"]  # never shortened

    status, _, body = http_request(fs["url"], "POST", "/file", data, short)
    assert json.loads(body) == reply  # same content, same id; the later expiry is kept


def test_ttl_header_sets_expiry_and_expired_files_are_gone(fs: dict[str, Any]) -> None:
    data = os.urandom(50)
    status, _, body = http_request(fs["url"], "POST", "/file", data, {"X-FS-TTL": "0"})
    assert status == 200
    fid = json.loads(body)["id"]
    for target in (f"/file/{fid}", f"/file/{fid}/info"):
        status, _, body = http_request(fs["url"], "GET", target)
        assert (status, json.loads(body)) == (404, {"status_code": 404})
    status, _, body = http_request(fs["url"], "POST", f"/file/{fid}/extend", b"")
    assert status == 404

    status, _, body = http_request(fs["url"], "POST", "/file", data, {"X-FS-TTL": "3600"})
    expires = json.loads(body)["expires"]
    assert time.time() + 3590 < expires < time.time() + 3610
    status, _, body = http_request(
        fs["url"], "POST", f"/file/{json.loads(body)['id']}/extend", b"", {"X-FS-TTL": "7200"}
    )
    assert status == 200 and json.loads(body)["expires"] > expires + 3500


@pytest.mark.parametrize("ttl", ["-1", "soon", str(21 * 86400 + 1)])
def test_bad_ttl_is_400(fs: dict[str, Any], ttl: str) -> None:
    status, _, body = http_request(fs["url"], "POST", "/file", b"x", {"X-FS-TTL": ttl})
    assert (status, json.loads(body)) == (400, {"status_code": 400})


def test_size_limits_and_unknown_ids(fs: dict[str, Any]) -> None:
    status, _, body = http_request(fs["url"], "POST", "/file", b"")
    assert (status, json.loads(body)) == (413, {"status_code": 413})
    status, _, body = http_request(fs["url"], "POST", "/file", b"\0" * 10_000_001)
    assert (status, json.loads(body)) == (413, {"status_code": 413})
    status, _, body = http_request(fs["url"], "GET", "/file/" + "A" * 44)
    assert (status, json.loads(body)) == (404, {"status_code": 404})
    status, _, _ = http_request(fs["url"], "POST", "/file/1234/extend", b"")
    assert status == 404  # short (legacy) ids are never extended


@pytest.mark.slow
@pytest.mark.parametrize("enc_type", ["aes-gcm", "xchacha20"])
def test_onion_v4_upload_and_download(devnet: Devnet, fs: dict[str, Any], enc_type: str) -> None:
    client = _client(devnet, fs, enc_type)
    data = os.urandom(1_000_000)
    code, meta, body = client.send(
        "POST", "/file", {"Content-Type": "application/octet-stream"}, data
    )
    assert code == 200 and meta["headers"]["content-type"] == "application/json"
    fid = json.loads(body)["id"]
    assert fid == _spec_id(data)
    code, meta, body = client.send("GET", f"/file/{fid}")
    assert (code, meta["headers"]["content-type"], body) == (200, "application/octet-stream", data)
    code, _, body = client.send("GET", f"/file/{fid}/info")
    assert code == 200 and json.loads(body)["size"] == len(data)
    code, _, body = client.send("GET", "/file/nope")
    assert (code, json.loads(body)) == (404, {"status_code": 404})


@pytest.mark.slow
def test_onion_v4_size_limit_is_exactly_ten_million(devnet: Devnet, fs: dict[str, Any]) -> None:
    client = _client(devnet, fs)
    code, _, body = client.send("POST", "/file", {}, os.urandom(10_000_000))
    assert code == 200 and len(json.loads(body)["id"]) == 44
    code, _, body = client.send("POST", "/file", {}, b"\1" * 10_000_001)
    assert (code, json.loads(body)) == (413, {"status_code": 413})


@pytest.mark.slow
def test_relays_before_the_last_see_neither_host_nor_bytes(
    devnet: Devnet, fs: dict[str, Any]
) -> None:
    client = _client(devnet, fs)
    marker = b"plain-file-bytes-" + os.urandom(8).hex().encode()
    last = {n: max((r["seq"] for r in devnet.seen(n)), default=0) for n in ("n0", "n1", "n2")}
    code, _, _ = client.send("POST", "/file", {}, marker * 100)
    assert code == 200
    host = fs["url"].removeprefix("http://").split(":")[0]
    for node_id, role in (("n0", "guard"), ("n1", "middle")):
        records = [r for r in devnet.seen(node_id) if r["seq"] > last[node_id]]
        assert records and all(r["kind"] == "relay" for r in records), role
        text = json.dumps(records)
        assert host not in text and marker.decode() not in text and fs["url"] not in text
    (final,) = [r for r in devnet.seen("n2") if r["seq"] > last["n2"]]
    assert final["kind"] == "server" and final["routing"]["host"] == host
    assert marker.decode() not in json.dumps(final)


def test_v4_errors(devnet: Devnet, fs: dict[str, Any]) -> None:
    host, port = fs["url"].removeprefix("http://").split(":")
    # A body that does not decrypt: plain 400, nothing sealed.
    blob, eph, _ = encrypt_to("aes-gcm", "11" * 32, b"whatever")
    status, _, _ = http_request(
        fs["url"], "POST", "/oxen/v4/lsrpc", frame(blob, {"ephemeral_key": eph})
    )
    assert status == 400
    # Decrypts, but is not a bencoded request: sealed 400 with the reason.
    blob, eph, key = encrypt_to("xchacha20", fs["pubkey_x25519"], b'{"method":"GET"}')
    body = frame(blob, {"ephemeral_key": eph, "enc_type": "xchacha20"})
    status, _, answer = http_request(fs["url"], "POST", "/oxen/v4/lsrpc", body)
    assert status == 200
    meta, text = decode_v4_reply(unseal("xchacha20", key, answer))
    assert meta["code"] == 400 and text == b"Invalid v4 onion request"
    # Straight to the server (no relays), the way the last hop posts it.
    blob, eph, key = encrypt_to("aes-gcm", fs["pubkey_x25519"], v4_request("GET", "/file/x"))
    status, _, answer = http_request(
        fs["url"],
        "POST",
        "/oxen/v4/lsrpc",
        frame(blob, {"ephemeral_key": eph, "host": host, "port": int(port)}),
    )
    meta, _ = decode_v4_reply(unseal("aes-gcm", key, answer))
    assert (status, meta["code"]) == (200, 404)


@pytest.mark.slow
def test_ctl_down_up_garbage_and_tamper(devnet: Devnet, fs: dict[str, Any]) -> None:
    client = _client(devnet, fs)
    data = os.urandom(4096)
    code, _, body = client.send("POST", "/file", {}, data)
    fid = json.loads(body)["id"]

    result = devnet.server_control("fileserver", ["tamper", fid])
    assert result["tampered"] == {"id": fid, "offset": 2048}
    code, _, body = client.send("GET", f"/file/{fid}")
    assert code == 200 and len(body) == len(data) and body != data
    assert bytes(a ^ b for a, b in zip(body, data, strict=True)).strip(b"\0") == b"\1"

    assert devnet.server_control("fileserver", ["down"])["state"] == "down"
    request = v4_request("GET", f"/file/{fid}")
    onion, _ = build_server_onion(
        client.path, client.server_x25519_hex, client.host, client.port, request
    )
    status, answer = post(client.path[0], "/onion_req/v2", onion)
    assert status == 502 and b"Failed to reach" in answer  # the last hop says so, in plain text
    assert devnet.server_control("fileserver", ["up"])["state"] == "up"

    assert devnet.server_control("fileserver", ["fault", "garbage"])["fault"] == "garbage"
    onion, key = build_server_onion(
        client.path, client.server_x25519_hex, client.host, client.port, request
    )
    status, answer = post(client.path[0], "/onion_req/v2", onion)
    assert status == 200 and len(answer) == 512
    with pytest.raises(Exception):  # noqa: B017 - junk never opens with the layer key
        unseal("aes-gcm", key, answer)


def test_ctl_refuses_bad_verbs(devnet: Devnet, fs: dict[str, Any]) -> None:
    for args in (["fault", "truncate"], ["tamper", "no-such-id"], ["explode"], ["down", "now"]):
        with pytest.raises(DevnetUsageError):
            devnet.server_control("fileserver", args)
