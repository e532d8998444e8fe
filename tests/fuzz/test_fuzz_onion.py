"""Fuzzing onion replies: framing, reply peeling and v4 replies raise only ProtocolError."""

from __future__ import annotations

import base64
import json
import struct
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sessioncli.errors import ProtocolError
from sessioncli.protocol import crypto, onion
from tests.fuzz._fuzz import deep_text, fuzz, json_values

HOP_PK, HOP_SK = crypto.x25519_keypair()
TARGET = onion.Hop("ab" * 32, HOP_PK)
PATH = [onion.Hop("cd" * 32, crypto.x25519_keypair()[0])]


def request(enc_type: onion.EncType) -> onion.OnionRequest:
    return onion.build_snode_request(
        PATH, TARGET, b'{"method":"info","params":{}}', enc_type=enc_type
    )


REQUESTS = {e: request(e) for e in ("aes-gcm", "xchacha20")}
enc_types = st.sampled_from(sorted(REQUESTS))


def seal_reply(enc_type: onion.EncType, plaintext: bytes) -> bytes:
    """What a hostile destination can send: anything, correctly encrypted under the reply key."""
    return onion.encrypt_layer(enc_type, REQUESTS[enc_type].reply_key, plaintext)


def wrap(ciphertext: bytes, how: str) -> bytes:
    if how == "raw":
        return ciphertext
    text = base64.b64encode(ciphertext)
    if how == "b64":
        return text
    return json.dumps({"result": text.decode()}).encode()


def only_protocol_errors(call: Any, *args: Any) -> Any:
    try:
        return call(*args)
    except ProtocolError as exc:
        assert str(exc)
        return None


def peel(enc_type: onion.EncType, reply: bytes) -> onion.SnodeReply | None:
    got = only_protocol_errors(onion.decrypt_snode_reply, REQUESTS[enc_type], reply)
    if got is not None:
        assert isinstance(got.status, int) and not isinstance(got.status, bool)
    return got


@fuzz(800)
@given(enc_types, st.binary(max_size=600), st.sampled_from(["raw", "b64", "json"]))
def test_reply_garbage_from_a_relay(enc_type: onion.EncType, junk: bytes, how: str) -> None:
    """Bytes nobody could encrypt under our key: always a ProtocolError (a decryption failure)."""
    assert peel(enc_type, wrap(junk, how)) is None


@fuzz(300)
@given(enc_types, st.text(max_size=300))
def test_reply_text_from_a_relay(enc_type: onion.EncType, text: str) -> None:
    assert peel(enc_type, text.encode("utf-8", "surrogatepass")) is None


@fuzz(500)
@given(
    enc_types,
    json_values()
    | st.dictionaries(st.sampled_from(["status", "status_code", "body"]), json_values()),
    st.sampled_from(["raw", "b64", "json"]),
    st.booleans(),
)
def test_reply_json_from_a_hostile_destination(
    enc_type: onion.EncType, value: Any, how: str, body_as_text: bool
) -> None:
    """Correctly encrypted JSON of any shape: a SnodeReply or a ProtocolError."""
    if body_as_text and isinstance(value, dict) and "body" in value:
        value = dict(value, body=json.dumps(value["body"]))
    peel(enc_type, wrap(seal_reply(enc_type, json.dumps(value).encode()), how))


@fuzz(500)
@given(enc_types, st.binary(max_size=400), st.sampled_from(["raw", "b64", "json"]))
def test_reply_plaintext_bytes_from_a_hostile_destination(
    enc_type: onion.EncType, plaintext: bytes, how: str
) -> None:
    peel(enc_type, wrap(seal_reply(enc_type, plaintext), how))


@pytest.mark.parametrize("enc_type", sorted(REQUESTS))
@pytest.mark.parametrize(
    "plaintext",
    [
        deep_text(100_000).encode(),
        b'{"status":200,"body":"' + deep_text(100_000).encode() + b'"}',
        b'{"status":' + b"9" * 5000 + b"}",
        b'{"status":200,"body":' + b"1" * 100_000 + b"}",
        b'{"status":1e999,"body":{}}',
        b'{"status":true,"body":{}}',
    ],
    ids=["deep", "deep-body-text", "huge-status", "huge-number-body", "inf-status", "bool-status"],
)
def test_reply_pathological_json(enc_type: onion.EncType, plaintext: bytes) -> None:
    """Deep nesting and huge numbers inside an authentic reply are refused, not a crash."""
    for how in ("raw", "b64", "json"):
        peel(enc_type, wrap(seal_reply(enc_type, plaintext), how))


@fuzz(600)
@given(
    st.binary(max_size=300)
    | st.builds(
        lambda n, rest: struct.pack("<I", n) + rest,
        st.integers(0, 2**32 - 1),
        st.binary(max_size=200),
    )
)
def test_unframe(data: bytes) -> None:
    got = only_protocol_errors(onion.unframe, data)
    if got is not None:
        blob, meta = got
        assert isinstance(blob, bytes) and isinstance(meta, dict)


@fuzz(300)
@given(st.binary(max_size=200), json_values())
def test_unframe_of_framed_json(blob: bytes, meta: Any) -> None:
    data = struct.pack("<I", len(blob)) + blob + json.dumps(meta).encode()
    got = only_protocol_errors(onion.unframe, data)
    assert (got is not None) == isinstance(meta, dict)


def test_unframe_deep_json() -> None:
    only_protocol_errors(onion.unframe, struct.pack("<I", 0) + deep_text(100_000).encode())


def _bencode_items() -> st.SearchStrategy[bytes]:
    good = st.binary(max_size=30).map(lambda b: str(len(b)).encode() + b":" + b)
    bad = st.sampled_from(
        [b"9" * 5000 + b":", b"99999999999999999999:", b"-1:", b"1", b":", b"0:", b"\xd9\xa3:"]
    )
    return st.lists(good | bad | st.binary(max_size=6), max_size=6).map(
        lambda xs: b"l" + b"".join(xs) + b"e"
    )


@fuzz(600)
@given(_bencode_items() | st.binary(max_size=100))
def test_bdecode(data: bytes) -> None:
    got = only_protocol_errors(onion.bdecode_string_list, data)
    if got is not None:
        assert all(isinstance(x, bytes) for x in got)


@fuzz(500)
@given(
    enc_types,
    _bencode_items()
    | st.builds(
        lambda meta, body: onion.bencode_list([json.dumps(meta).encode(), *body]),
        json_values() | st.dictionaries(st.sampled_from(["code", "headers"]), json_values()),
        st.lists(st.binary(max_size=20), max_size=2),
    ),
)
def test_v4_reply(enc_type: onion.EncType, plaintext: bytes) -> None:
    req = REQUESTS[enc_type]
    got = only_protocol_errors(onion.decrypt_v4_reply, req, seal_reply(enc_type, plaintext))
    if got is not None:
        assert isinstance(got.code, int) and isinstance(got.headers, dict)


@fuzz(200)
@given(enc_types, st.binary(max_size=200))
def test_v4_reply_garbage(enc_type: onion.EncType, junk: bytes) -> None:
    assert only_protocol_errors(onion.decrypt_v4_reply, REQUESTS[enc_type], junk) is None


@fuzz(200)
@given(st.text(max_size=80), st.text(max_size=80))
def test_hop_from_hex(ed: str, x: str) -> None:
    only_protocol_errors(onion.Hop.from_hex, ed, x)


@fuzz(100)
@given(st.none() | st.text(max_size=30))
def test_normalise_enc_type(name: str | None) -> None:
    only_protocol_errors(onion.normalise_enc_type, name)
