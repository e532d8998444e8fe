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


class _Seq:
    """Deterministic keypairs and nonces, handed out in the order they are asked for."""

    def __init__(self, seed: int) -> None:
        self.keys = self.nonces = seed

    def keypair(self) -> tuple[bytes, bytes]:
        self.keys += 1
        sec = crypto.blake2b(bytes([self.keys % 256]) * 8, size=32)
        return crypto.x25519_public(sec), sec

    def random(self, k: int) -> bytes:
        self.nonces += 1
        return crypto.blake2b(b"nonce" + bytes([self.nonces % 256]), size=32)[:k]


def _nested(path, dest_x, final_plain, routing, enc, seq):
    """SPEC §6 built the obvious way: encrypt for the destination, then frame and encrypt per hop
    (innermost first); the reference the in-place builder must match byte for byte."""

    def seal(key, plain):
        nonce = seq.random(12 if enc == "aes-gcm" else 24)
        if enc == "aes-gcm":
            return crypto.aes_gcm_encrypt(key, plain, nonce)
        return crypto.xchacha20_encrypt(key, plain, nonce)

    pub, sec = seq.keypair()
    key = onion.derive_key(enc, sec, pub, dest_x)
    blob = seal(key, final_plain)
    meta = {**routing, "ephemeral_key": pub.hex()}
    if enc != "aes-gcm":
        meta["enc_type"] = enc
    for i in range(len(path) - 1, -1, -1):
        hpub, hsec = seq.keypair()
        blob = seal(onion.derive_key(enc, hsec, hpub, path[i].x25519), onion.frame(blob, meta))
        meta = {"ephemeral_key": hpub.hex()}
        if enc != "aes-gcm":
            meta["enc_type"] = enc
        if i > 0:
            meta["destination"] = path[i].ed25519
    return onion.frame(blob, meta), key


@pytest.mark.parametrize("enc", ["aes-gcm", "xchacha20"])
@pytest.mark.parametrize("hops", [1, 3])
def test_in_place_onion_is_byte_identical_to_nesting(enc, hops):
    path = [_Hop().hop for _ in range(hops)]
    srv, target = _Hop(), _Hop()
    body = bytes(range(256)) * 300
    server = onion.ServerTarget(host="files.example", x25519=srv.x_pub)
    v4 = onion.V4Request("POST", "/file", {"X-A": "b"}, body)
    a, b = _Seq(7), _Seq(7)
    built = onion.build_server_request(
        path, server, v4, enc_type=enc, keypair=a.keypair, random=a.random
    )
    routing = {"host": "files.example", "target": "/oxen/v4/lsrpc", "method": "POST"}
    routing |= {"protocol": "https", "port": 443}
    expected, key = _nested(path, srv.x_pub, v4.encode(), routing, enc, b)
    assert bytes(built.body) == expected and built.reply_key == key
    rpc = b'{"method":"info","params":{}}'
    a, b = _Seq(9), _Seq(9)
    built = onion.build_snode_request(
        path, target.hop, rpc, enc_type=enc, keypair=a.keypair, random=a.random
    )
    final = onion.frame(rpc, {"headers": {}})
    expected, _ = _nested(path, target.x_pub, final, {"destination": target.ed}, enc, b)
    assert bytes(built.body) == expected


class _Writer:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def __len__(self) -> int:
        return len(self.data)

    def write_into(self, out: memoryview) -> None:
        out[:] = self.data


def test_bdecode_refuses_truncated_and_malformed_lists():
    for bad in (b"", b"l", b"l5", b"l12", b"l5:ab", b"l3:abc", b"x3:abce", b"l:e", b"l1x:ae"):
        with pytest.raises(ProtocolError):
            onion.bdecode_string_list(bad)
    with pytest.raises(ProtocolError):
        onion.bdecode_string_list(b"l" + b"1" * 13 + b":e")
    assert onion.bdecode_string_list(b"l0:3:abce") == [b"", b"abc"]


def test_v4_request_encoding_matches_bencode():
    assert onion.encode_v4_request("GET", "/file/1") == onion.bencode_list(
        [b'{"method":"GET","endpoint":"/file/1","headers":{}}']
    )
    meta = b'{"method":"POST","endpoint":"/file","headers":{"a":"b"}}'
    for body in (b"", b"\x00\xffdata", _Writer(b"written in place")):
        req = onion.V4Request("POST", "/file", {"a": "b"}, body)
        raw = body.data if isinstance(body, _Writer) else body
        assert req.encode() == onion.bencode_list([meta, raw])
        assert len(req) == len(req.encode())
        assert onion.bdecode_string_list(req.encode()) == [meta, raw]


def test_in_place_aeads_and_the_gcm_reader_match_the_plain_ones():
    key = crypto.random_bytes(32)
    for n in (0, 1, 100_000, 600_000):
        plain = crypto.random_bytes(n)
        iv, nonce = crypto.random_bytes(12), crypto.random_bytes(24)
        buf = bytearray(12) + plain + bytearray(16)
        crypto.aes_gcm_seal_in_place(key, memoryview(buf), iv)
        assert bytes(buf) == crypto.aes_gcm_encrypt(key, plain, iv)
        reader = crypto.AesGcmReader(key, buf)
        got = reader.take(7) + reader.take(n)
        reader.finish()
        assert got == plain and reader.left() == 0
        buf[20 % len(buf)] ^= 1
        reader = crypto.AesGcmReader(key, buf)
        with pytest.raises(crypto.CryptoError):
            reader.finish()
        buf = bytearray(24) + plain + bytearray(16)
        crypto.xchacha20_seal_in_place(key, memoryview(buf), nonce)
        assert bytes(buf) == crypto.xchacha20_encrypt(key, plain, nonce)


@pytest.mark.parametrize("enc", ["aes-gcm", "xchacha20"])
def test_v4_reply_read_piecewise_and_authenticated_first(enc):
    g, srv = _Hop(), _Hop()
    req = onion.build_server_request(
        [g.hop], onion.ServerTarget(host="h", x25519=srv.x_pub), b"le", enc_type=enc
    )
    body = bytes(range(256)) * 4000
    good = onion.bencode_list([b'{"code":200}', body])
    r = onion.decrypt_v4_reply(req, onion.encrypt_layer(enc, req.reply_key, good))
    assert (r.code, r.body) == (200, body)
    # a plaintext that is not a list is a ProtocolError once it authenticated...
    with pytest.raises(ProtocolError, match="bencoded") as bad:
        onion.decrypt_v4_reply(req, onion.encrypt_layer(enc, req.reply_key, b"x" + good))
    assert not isinstance(bad.value, onion.OnionDecryptError)
    # ...and a reply that does not authenticate says so, however it would have parsed
    sealed = bytearray(onion.encrypt_layer(enc, req.reply_key, good))
    sealed[-1] ^= 1
    with pytest.raises(onion.OnionDecryptError):
        onion.decrypt_v4_reply(req, bytes(sealed))
    sealed = bytearray(onion.encrypt_layer(enc, req.reply_key, b"x" + good))
    sealed[-1] ^= 1
    with pytest.raises(onion.OnionDecryptError):
        onion.decrypt_v4_reply(req, bytes(sealed))
