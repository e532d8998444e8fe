"""Onion requests through the devnet: layer vectors, 3-hop paths with both ciphers, path errors."""

from __future__ import annotations

import base64
import http.server
import json
import threading
from pathlib import Path
from typing import Any, ClassVar

import pytest

from sessioncli.devnet import crypto
from sessioncli.devnet.onion import allowed_target, split_framed
from tests.devnet.conftest import Net
from tests.devnet.wire import (
    Account,
    build_onion,
    encrypt_to,
    frame,
    open_reply,
    post,
    retrieve_params,
    spec_hash,
    store_params,
)

VECTORS = json.loads(
    (
        Path(__file__).resolve().parents[1] / "data" / "libsession-util_test_onionreq.json"
    ).read_text()
)["entries"]


def _hop_keys(inputs: dict[str, str]) -> crypto.NodeKeys:
    # The vector gives the hop's X25519 keys only; layer_key needs just those two.
    return crypto.NodeKeys(
        ed25519_seed=b"",
        ed25519_pk=b"",
        ed25519_sk=b"",
        x25519_pk=bytes.fromhex(inputs["hop_x25519_pub_B"]),
        x25519_sk=bytes.fromhex(inputs["hop_x25519_sec_b"]),
    )


@pytest.mark.parametrize("index,enc_type", [(0, "aes-gcm"), (2, "xchacha20")])
def test_layer_vectors_decrypt(index: int, enc_type: str) -> None:
    entry = VECTORS[index]
    inputs = entry["inputs"]
    key = crypto.layer_key(
        enc_type, _hop_keys(inputs), bytes.fromhex(inputs["client_ephemeral_x25519_pub_A"])
    )
    plaintext = crypto.layer_decrypt(enc_type, key, bytes.fromhex(inputs["ciphertext_hex"]))
    assert plaintext.decode() == entry["expected"]["plaintext_utf8"]


@pytest.mark.parametrize("index,enc_type", [(1, "aes-gcm"), (3, "xchacha20")])
def test_tampered_layer_vectors_fail(index: int, enc_type: str) -> None:
    inputs = VECTORS[index]["inputs"]
    key = crypto.layer_key(
        enc_type, _hop_keys(inputs), bytes.fromhex(inputs["client_ephemeral_x25519_pub_A"])
    )
    for ciphertext in inputs["ciphertexts_hex"]:
        with pytest.raises(crypto.LayerError):
            crypto.layer_decrypt(enc_type, key, bytes.fromhex(ciphertext))


@pytest.mark.parametrize("index", [4, 5])
def test_full_payload_vectors_parse_and_decrypt(index: int) -> None:
    entry = VECTORS[index]
    inputs, expected = entry["inputs"], entry["expected"]
    blob, meta = split_framed(bytes.fromhex(inputs["payload_hex"]))
    assert len(blob) == expected["ciphertext_length"]
    assert meta == expected["json"]
    enc_type = crypto.ENC_TYPES[meta["enc_type"]]
    key = crypto.layer_key(enc_type, _hop_keys(inputs), bytes.fromhex(meta["ephemeral_key"]))
    assert crypto.layer_decrypt(enc_type, key, blob).decode() == expected["plaintext_utf8"]
    reply = crypto.layer_encrypt(enc_type, key, b"Goodbye world")
    assert len(reply) == expected["reply_for_'Goodbye world'_length"]


def test_relay_target_rule_matches_the_storage_server_vector() -> None:
    entry = json.loads(
        (
            Path(__file__).resolve().parents[1] / "data" / "session-storage-server_unit_tests.json"
        ).read_text()
    )["entries"][-1]
    got = [allowed_target(t) for t in entry["inputs"]["targets"]]
    assert got == entry["expected"]["allowed"]


def _path_and_target(net: Net, account: Account) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    target = net.swarm_of(account.session_id)[0]
    others = [n for n in net.nodes() if n["id"] != target["id"]]
    return others[:3], target


@pytest.mark.slow
@pytest.mark.parametrize("enc_type", ["aes-gcm", "xchacha20", "gcm", "xchacha20-poly1305"])
def test_three_hop_store_and_retrieve(healthy: Net, enc_type: str) -> None:
    account = Account.make(f"onion-{enc_type}")
    path, target = _path_and_target(healthy, account)
    data = f"through the onion with {enc_type}".encode()
    body, key = build_onion(
        path, target, {"method": "store", "params": store_params(account, data)}, enc_type
    )
    status, answer = post(path[0], "/onion_req/v2", body)
    assert status == 200
    reply = open_reply(enc_type, key, answer)
    assert reply["status"] == 200
    stored = json.loads(reply["body"])
    assert stored["hash"] == spec_hash(account.session_id, 0, data)

    request = {"method": "retrieve", "params": retrieve_params(account)}
    body, key = build_onion(path, target, request, enc_type)
    status, answer = post(path[0], "/onion_req/v2", body)
    reply = open_reply(enc_type, key, answer)
    messages = json.loads(reply["body"])["messages"]
    assert [base64.b64decode(m["data"]) for m in messages] == [data]


@pytest.mark.slow
def test_each_hop_sees_only_its_own_layer(healthy: Net) -> None:
    account = Account.make("onion-seen")
    path, target = _path_and_target(healthy, account)
    marks = {n["id"]: _last_seq(healthy, n["id"]) for n in [*path, target]}
    params = store_params(account, b"who saw what")
    body, _ = build_onion(path, target, {"method": "store", "params": params})
    assert post(path[0], "/onion_req/v2", body)[0] == 200

    hops = [*path, target]
    for i, hop in enumerate(hops):
        records = [r for r in healthy.devnet.seen(hop["id"]) if r["seq"] > marks[hop["id"]]]
        assert len(records) == 1, hop["id"]
        record = records[0]
        if i < 3:
            assert record["kind"] == "relay"
            assert record["routing"]["destination"] == hops[i + 1]["pubkey_ed25519"]
            assert "method" not in record
        else:
            assert record["kind"] == "final"
            assert record["method"] == "store"
            assert record["params"]["data"] == params["data"]
        # Each hop is reached from the previous hop's address, never from the client's.
        if i > 0:
            assert record["peer"] == hops[i - 1]["ip"]


def _last_seq(net: Net, node_id: str) -> int:
    seen = net.devnet.seen(node_id)
    return seen[-1]["seq"] if seen else 0


@pytest.mark.slow
def test_final_hop_json_and_base64_flags(healthy: Net) -> None:
    account = Account.make("onion-flags")
    path, target = _path_and_target(healthy, account)
    routing = {"headers": "", "json": True, "base64": False}
    body, key = build_onion(path, target, {"method": "info", "params": {}}, final_routing=routing)
    status, answer = post(path[0], "/onion_req/v2", body)
    assert status == 200
    reply = json.loads(crypto.layer_decrypt("aes-gcm", key, answer))
    assert reply["status"] == 200
    assert reply["body"]["version"] == [2, 8, 0]


@pytest.mark.slow
def test_destination_errors_come_back_encrypted(healthy: Net) -> None:
    account = Account.make("onion-421")
    path = healthy.outsiders(account.session_id)[:3]
    target = healthy.outsiders(account.session_id)[3]
    body, key = build_onion(
        path, target, {"method": "store", "params": store_params(account, b"x")}
    )
    status, answer = post(path[0], "/onion_req/v2", body)
    assert status == 200
    reply = open_reply("aes-gcm", key, answer)
    assert reply["status"] == 421
    swarm = json.loads(reply["body"])
    assert {s["pubkey_ed25519"] for s in swarm["snodes"]} == {
        n["pubkey_ed25519"] for n in healthy.swarm_of(account.session_id)
    }


@pytest.mark.slow
def test_unknown_next_hop_is_502(healthy: Net) -> None:
    guard, target = healthy.nodes()[:2]
    ghost = dict(target, pubkey_ed25519="ab" * 32)
    body, _ = build_onion([guard], ghost, {"method": "info", "params": {}})
    status, answer = post(guard, "/onion_req/v2", body)
    assert status == 502
    assert answer.decode() == f"Next node not found: {'ab' * 32}"


@pytest.mark.slow
def test_outer_errors_are_plain_text(healthy: Net) -> None:
    guard = healthy.nodes()[0]
    assert post(guard, "/onion_req/v2", b"\x05\x00")[0] == 400
    status, answer = post(guard, "/onion_req/v2", frame(b"x" * 64, {"ephemeral_key": "00" * 32}))
    assert (status, answer) == (400, b"Invalid ciphertext")
    status, answer = post(
        guard, "/onion_req/v2", frame(b"x" * 64, {"enc_type": "rot13", "ephemeral_key": "11" * 32})
    )
    assert status == 400
    assert answer.startswith(b"Error parsing onion request")


@pytest.mark.slow
def test_layer_with_unusable_json_answers_invalid_json_under_that_layer(healthy: Net) -> None:
    guard = healthy.nodes()[0]
    blob, eph, key = encrypt_to(
        "xchacha20", guard["pubkey_x25519"], frame(b"{}", {"nothing": "useful"})
    )
    status, answer = post(
        guard, "/onion_req/v2", frame(blob, {"ephemeral_key": eph, "enc_type": "xchacha20"})
    )
    assert status == 200
    assert open_reply("xchacha20", key, answer) == {"status": 400, "body": "Invalid json"}


class _LsrpcServer(http.server.BaseHTTPRequestHandler):
    received: ClassVar[list[bytes]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _LsrpcServer.received.append(body)
        self.send_response(200)
        self.send_header("Content-Length", "7")
        self.end_headers()
        self.wfile.write(b"from v4")

    def log_message(self, *args: Any) -> None:
        pass


@pytest.mark.slow
def test_last_hop_relays_to_a_loopback_server(healthy: Net) -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _LsrpcServer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        path = healthy.nodes()[:3]
        server_blob = b"opaque v4 request for the server"
        routing = {
            "host": "127.0.0.1",
            "port": server.server_address[1],
            "protocol": "http",
            "target": "/oxen/v4/lsrpc",
            "method": "POST",
            "ephemeral_key": "cd" * 32,
        }
        inner = frame(server_blob, routing)
        blob, eph, _ = encrypt_to("aes-gcm", path[2]["pubkey_x25519"], inner)
        # Layers by hand: path[2] is the last relay and the server the destination.
        meta = {"destination": path[2]["pubkey_ed25519"], "ephemeral_key": eph}
        blob1, eph1, _ = encrypt_to("aes-gcm", path[1]["pubkey_x25519"], frame(blob, meta))
        meta = {"destination": path[1]["pubkey_ed25519"], "ephemeral_key": eph1}
        blob0, eph0, _ = encrypt_to("aes-gcm", path[0]["pubkey_x25519"], frame(blob1, meta))
        status, answer = post(path[0], "/onion_req/v2", frame(blob0, {"ephemeral_key": eph0}))
        assert (status, answer) == (200, b"from v4")
        assert _LsrpcServer.received[-1] == inner
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.slow
def test_bad_server_target_is_invalid_url(healthy: Net) -> None:
    hop = healthy.nodes()[0]
    routing = {"host": "127.0.0.1", "target": "/not_loki/v3/lsrpc", "ephemeral_key": "cd" * 32}
    blob, eph, key = encrypt_to("aes-gcm", hop["pubkey_x25519"], frame(b"x", routing))
    status, answer = post(hop, "/onion_req/v2", frame(blob, {"ephemeral_key": eph}))
    assert status == 200
    assert open_reply("aes-gcm", key, answer) == {"status": 400, "body": "Invalid url"}
