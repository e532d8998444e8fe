"""Onion layers, framing, building and reply peeling against the libsession vectors."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from sessioncli.errors import ProtocolError
from sessioncli.protocol import crypto, onion

DATA = Path(__file__).resolve().parent.parent / "data"
ENTRIES = json.loads((DATA / "libsession-util_test_onionreq.json").read_text())["entries"]


def _keys(e):
    i = e["inputs"]
    return (
        bytes.fromhex(i["client_ephemeral_x25519_pub_A"]),
        bytes.fromhex(i["client_ephemeral_x25519_sec_a"]),
        bytes.fromhex(i["hop_x25519_pub_B"]),
        bytes.fromhex(i["hop_x25519_sec_b"]),
    )


@pytest.mark.parametrize(("idx", "enc"), [(0, "aes-gcm"), (2, "xchacha20")])
def test_layer_vectors_decrypt(idx, enc):
    e = ENTRIES[idx]
    a_pub, a_sec, b_pub, b_sec = _keys(e)
    ct = bytes.fromhex(e["inputs"]["ciphertext_hex"])
    hop_key = onion.derive_key_as_hop(enc, b_sec, b_pub, a_pub)
    client_key = onion.derive_key(enc, a_sec, a_pub, b_pub)
    assert hop_key == client_key
    assert onion.decrypt_layer(enc, hop_key, ct).decode() == e["expected"]["plaintext_utf8"]


@pytest.mark.parametrize("idx", [1, 3])
def test_tampered_vectors_fail(idx):
    e = ENTRIES[idx]
    a_pub, a_sec, b_pub, _ = _keys(e)
    for enc in ("aes-gcm", "xchacha20"):
        key = onion.derive_key(enc, a_sec, a_pub, b_pub)
        for ct_hex in e["inputs"]["ciphertexts_hex"]:
            with pytest.raises(onion.OnionDecryptError):
                onion.decrypt_layer(enc, key, bytes.fromhex(ct_hex))


@pytest.mark.parametrize("idx", [4, 5])
def test_full_payload_vectors(idx):
    e = ENTRIES[idx]
    a_pub, _, b_pub, b_sec = _keys(e)
    blob, meta = onion.unframe(bytes.fromhex(e["inputs"]["payload_hex"]))
    assert len(blob) == e["expected"]["ciphertext_length"]
    assert meta == e["expected"]["json"]
    enc = onion.normalise_enc_type(meta.get("enc_type"))
    eph = bytes.fromhex(meta["ephemeral_key"])
    assert eph == a_pub
    key = onion.derive_key_as_hop(enc, b_sec, b_pub, eph)
    assert onion.decrypt_layer(enc, key, blob) == b"Hello world"
    reply = onion.encrypt_layer(enc, key, b"Goodbye world")
    assert len(reply) == e["expected"]["reply_for_'Goodbye world'_length"]


def test_unframe_rejects_garbage():
    for bad in (
        b"",
        b"\x01\x00",
        b"\xff\x00\x00\x00abc{}",
        b"\x01\x00\x00\x00a[1]",
        b"\x00\x00\x00\x00{",
    ):
        with pytest.raises(ProtocolError):
            onion.unframe(bad)


class _Hop:
    def __init__(self):
        self.x_pub, self.x_sec = crypto.x25519_keypair()
        self.ed = crypto.random_bytes(32).hex()
        self.hop = onion.Hop(self.ed, self.x_pub)

    def peel(self, payload: bytes):
        blob, meta = onion.unframe(payload)
        enc = onion.normalise_enc_type(meta.get("enc_type"))
        key = onion.derive_key_as_hop(
            enc, self.x_sec, self.x_pub, bytes.fromhex(meta["ephemeral_key"])
        )
        return onion.decrypt_layer(enc, key, blob), meta, key


@pytest.mark.parametrize("enc", ["aes-gcm", "xchacha20"])
def test_build_snode_request_peels_hop_by_hop(enc):
    g, h2, h3, t = _Hop(), _Hop(), _Hop(), _Hop()
    rpc = b'{"method":"info","params":{}}'
    req = onion.build_snode_request([g.hop, h2.hop, h3.hop], t.hop, rpc, enc_type=enc)
    pt, meta, _ = g.peel(req.body)
    assert "destination" not in meta
    _, inner_meta = onion.unframe(pt)
    assert inner_meta["destination"] == h2.ed
    pt, _, _ = h2.peel(pt)
    assert onion.unframe(pt)[1]["destination"] == h3.ed
    pt, _, _ = h3.peel(pt)
    assert onion.unframe(pt)[1]["destination"] == t.ed
    pt, meta, key = t.peel(pt)
    blob, final = onion.unframe(pt)
    assert blob == rpc
    assert "headers" in final
    # every intermediate view hides the RPC
    assert b"info" not in req.body
    # the target answers; the client reads it
    answer = json.dumps({"status": 200, "body": json.dumps({"t": 5})}).encode()
    reply = base64.b64encode(
        onion.encrypt_layer(onion.normalise_enc_type(meta.get("enc_type")), key, answer)
    )
    got = onion.decrypt_snode_reply(req, reply)
    assert got.status == 200
    assert got.body == {"t": 5}
    with pytest.raises(onion.OnionDecryptError):
        onion.decrypt_snode_reply(req, base64.b64encode(b"x" * 64))


def test_build_server_request_v4():
    g, h2, h3, srv = _Hop(), _Hop(), _Hop(), _Hop()
    v4 = onion.encode_v4_request("GET", "/file/1", {"a": "b"})
    target = onion.ServerTarget(host="files.example", x25519=srv.x_pub, protocol="http", port=80)
    req = onion.build_server_request([g.hop, h2.hop, h3.hop], target, v4)
    pt, _, _ = g.peel(req.body)
    pt, _, _ = h2.peel(pt)
    pt, _, _ = h3.peel(pt)
    # the last hop sees where to POST, and forwards the whole plaintext to the server
    _, meta = onion.unframe(pt)
    assert (meta["host"], meta["port"], meta["protocol"], meta["target"]) == (
        "files.example",
        80,
        "http",
        "/oxen/v4/lsrpc",
    )
    got, _, key = srv.peel(pt)
    assert onion.bdecode_string_list(got)[0].startswith(b'{"method":"GET"')
    reply = onion.encrypt_layer(
        "aes-gcm", key, onion.bencode_list([b'{"code":200,"headers":{"Content-Type":"x"}}', b"abc"])
    )
    r = onion.decrypt_v4_reply(req, reply)
    assert (r.code, r.headers, r.body) == (200, {"content-type": "x"}, b"abc")


def test_reply_without_status_is_protocol_error():
    g, t = _Hop(), _Hop()
    req = onion.build_snode_request([g.hop], t.hop, b"{}")
    reply = base64.b64encode(onion.encrypt_layer("aes-gcm", req.reply_key, b'{"body":"x"}'))
    with pytest.raises(ProtocolError):
        onion.decrypt_snode_reply(req, reply)
