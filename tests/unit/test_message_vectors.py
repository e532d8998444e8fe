"""Official and derived test vectors for the message layer and the primitives under it."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from sessioncli.protocol import crypto
from sessioncli.protocol import message as m
from sessioncli.protocol.ids import Identity
from sessioncli.protocol.proto import session_pb2 as pb

DATA = Path(__file__).resolve().parent.parent / "data"


def entries(name: str) -> list[dict[str, Any]]:
    doc = json.loads((DATA / name).read_text("utf-8"))
    result: list[dict[str, Any]] = doc["entries"]
    return result


ENCRYPT = entries("libsession-util_test_session_encrypt.json")
DERIVED = entries("derived_end_to_end.json")
PRIMITIVES = entries("libsession-util_crypto_primitives.json")
STORAGE = entries("session-storage-server_unit_tests.json")


def find(items: list[dict[str, Any]], *words: str) -> list[dict[str, Any]]:
    found = [e for e in items if all(w.lower() in e["description"].lower() for w in words)]
    assert found, f"no vector mentions {words}"
    return found


def identity_from_ed_seed(seed_hex: str) -> Identity:
    seed = bytes.fromhex(seed_hex)
    # Session pads a 16-byte seed with 16 zero bytes; these vectors give the padded form.
    return Identity.from_seed(seed[:16] if seed[16:] == bytes(16) else seed)


# --- libsession-util tests/test_session_encrypt.cpp -----------------------------------------


@pytest.mark.parametrize(
    "entry", find(ENCRYPT, "-> Session ID"), ids=lambda e: e["description"][:40]
)
def test_session_ids(entry: dict[str, Any]) -> None:
    ident = identity_from_ed_seed(entry["inputs"]["ed25519_seed_hex"])
    exp = entry["expected"]
    assert ident.ed25519_public.hex() == exp["ed25519_pubkey_hex"]
    assert ident.x25519_public.hex() == exp["x25519_pubkey_hex"]
    assert ident.session_id == exp["session_id"]


@pytest.mark.parametrize("entry", find(ENCRYPT, "deterministic"), ids=["hello"])
def test_deterministic_sealed_box(entry: dict[str, Any]) -> None:
    inp, exp = entry["inputs"], entry["expected"]
    sender = identity_from_ed_seed(inp["sender_ed25519_seed_hex"])
    recipient_x = bytes.fromhex(inp["recipient_session_id"][2:])
    plaintext = inp["plaintext_utf8"].encode()
    ct = m.sign_and_seal(sender, recipient_x, plaintext, deterministic=True)
    assert ct.hex() == exp["ciphertext_hex"]

    recipient = identity_from_ed_seed(exp["decrypt_with"].split()[-1])
    assert recipient.x25519_public == recipient_x
    msg, sender_ed = m.open_dm(recipient, bytes.fromhex(exp["ciphertext_hex"]))
    assert msg.decode() == exp["decrypted_plaintext_utf8"]
    assert sender_ed.hex() == exp["decrypted_sender_ed25519_pubkey_hex"]


def test_ons_and_push_vectors_with_the_same_primitives() -> None:
    (ons,) = find(ENCRYPT, "ONS")
    name = ons["inputs"]["lowercase_name"].encode()
    key = crypto.blake2b(name, size=32, key=crypto.blake2b(name, size=32))
    nonce = bytes.fromhex(ons["inputs"]["nonce_hex"])
    pt = crypto.xchacha20_decrypt(key, nonce + bytes.fromhex(ons["inputs"]["ciphertext_hex"]))
    assert "05" + pt[1:].hex() == ons["expected"]["session_id"] and pt[0] == 5

    (push,) = find(ENCRYPT, "Push-notification")
    pt = crypto.xchacha20_decrypt(
        bytes.fromhex(push["inputs"]["enc_key_hex"]), bytes.fromhex(push["inputs"]["payload_hex"])
    )
    assert pt.rstrip(b"\x00").decode() == push["expected"]["plaintext_utf8"]


# --- derived_end_to_end.json: the complete deterministic DM ---------------------------------


@pytest.fixture(scope="module")
def full_dm() -> dict[str, Any]:
    (entry,) = find(DERIVED, "Full v1 one-to-one wire message")
    return entry


def test_full_dm_every_intermediate(full_dm: dict[str, Any]) -> None:
    inp, exp = full_dm["inputs"], full_dm["expected"]
    sender = identity_from_ed_seed(inp["sender_ed25519_seed_hex"])
    ts = inp["sent_timestamp_ms"]
    recipient_x = bytes.fromhex(inp["recipient_session_id"][2:])

    content = m.build_text_content(inp["body"], ts)
    assert content.hex() == exp["content_protobuf_hex"]
    padded = m.pad(content)
    assert padded.hex() == exp["padded_hex"]
    sealed = m.sign_and_seal(sender, recipient_x, padded, deterministic=True)
    assert sealed.hex() == exp["sealed_box_hex"]
    ws = m.wrap_envelope(sealed, ts)
    assert ws.hex() == exp["websocketmessage_hex"]
    assert pb.WebSocketMessage.FromString(ws).request.body.hex() == exp["envelope_hex"]
    data = m.encode_dm(sender, inp["recipient_session_id"], content, ts, deterministic=True)
    assert data == exp["store_data_b64"]
    assert m.store_data_size(data) == len(ws) == m.encoded_size(len(content), ts)


def test_full_dm_decodes(full_dm: dict[str, Any]) -> None:
    inp, exp = full_dm["inputs"], full_dm["expected"]
    (recipient_entry,) = find(DERIVED, "Session ID (recipient)")
    recipient = Identity.from_seed(bytes.fromhex(recipient_entry["expected"]["seed16_hex"]))
    assert recipient.session_id == inp["recipient_session_id"]
    msg = m.decode_dm(recipient, exp["store_data_b64"])
    assert msg.kind == "text"
    assert msg.body == inp["body"]
    assert msg.timestamp_ms == inp["sent_timestamp_ms"]
    assert msg.sender == find(DERIVED, "Session ID (sender)")[0]["expected"]["session_id"]
    assert (
        msg.sender_ed25519
        == identity_from_ed_seed(inp["sender_ed25519_seed_hex"]).ed25519_public.hex()
    )
    assert msg.raw_content.hex() == exp["content_protobuf_hex"]
    assert not msg.legacy


@pytest.mark.parametrize("entry", find(DERIVED, "message hash"), ids=["derived-hash"])
def test_derived_message_hashes(entry: dict[str, Any]) -> None:
    data = base64.b64decode(entry["inputs"]["data_b64"])
    for key, expected in entry["expected"].items():
        namespace = int(key.removeprefix("hash_namespace_"))
        assert m.message_hash(entry["inputs"]["pubkey"], namespace, data) == expected


def test_derived_end_to_end_hash_is_of_the_dm(full_dm: dict[str, Any]) -> None:
    (entry,) = find(DERIVED, "message hash")
    assert entry["inputs"]["data_b64"] == full_dm["expected"]["store_data_b64"]


def test_padding_table() -> None:
    (entry,) = find(DERIVED, "padding")
    lengths = entry["inputs"]["content_lengths"]
    for n, expected in zip(lengths, entry["expected"]["padded_lengths_libsession"], strict=True):
        content = b"\x01" * n
        padded = m.pad(content)
        assert len(padded) == expected
        assert m.unpad(padded) == content


# --- session-storage-server: message hash of a real 2021 stored message ---------------------


@pytest.fixture(scope="module")
def storage_hash() -> dict[str, Any]:
    (entry,) = find(STORAGE, "Message hash")
    return entry


def test_storage_server_message_hash(storage_hash: dict[str, Any]) -> None:
    inp = storage_hash["inputs"]
    data = base64.b64decode(inp["data_b64"])
    assert m.message_hash(inp["pubkey"], inp["namespace"], data) == storage_hash["expected"]["hash"]


def test_storage_server_legacy_wrapper_parses(storage_hash: dict[str, Any]) -> None:
    """The 2021 message (verb PUT, path /api/v1/message) gets through both wrappers: the only
    thing we cannot do is open a box sealed for someone else."""
    inp = storage_hash["inputs"]
    ws = pb.WebSocketMessage.FromString(base64.b64decode(inp["data_b64"]))
    assert (ws.request.verb, ws.request.path) == ("PUT", "/api/v1/message")
    env = pb.Envelope.FromString(ws.request.body)
    assert env.type == pb.Envelope.SESSION_MESSAGE
    # The vector's timestamp is the store timestamp; the sender's clock was 141 ms behind.
    assert abs(env.timestamp - inp["timestamp_ms"]) < 1000
    stranger = Identity.from_seed(bytes(16))
    with pytest.raises(m.MessageDecodeError) as err:
        m.decode_dm(stranger, inp["data_b64"])
    assert err.value.reason == "sealed_box_failed"


# --- libsession-util crypto primitives the message layer rests on ----------------------------


@pytest.mark.parametrize(
    "entry",
    [e for e in find(PRIMITIVES, "BLAKE2b") if "size" in e["inputs"]],
    ids=lambda e: e["description"],
)
def test_blake2b(entry: dict[str, Any]) -> None:
    inp = entry["inputs"]
    key = inp.get("key_utf8", "").encode()
    digest = crypto.blake2b(inp["message_utf8"].encode(), size=inp["size"], key=key)
    assert digest.hex() == entry["expected"]["hash_hex"]


@pytest.mark.parametrize(
    "entry",
    find(PRIMITIVES, "pubkey -> X25519"),
    ids=lambda e: e["inputs"]["ed25519_pubkey_hex"][:8],
)
def test_ed25519_pk_to_x25519(entry: dict[str, Any]) -> None:
    x_pk = crypto.ed25519_pk_to_x25519(bytes.fromhex(entry["inputs"]["ed25519_pubkey_hex"]))
    assert x_pk.hex() == entry["expected"]["x25519_pubkey_hex"]


@pytest.mark.parametrize(
    "entry",
    find(PRIMITIVES, "secret key -> X25519"),
    ids=lambda e: e["inputs"]["ed25519_sk_hex"][:8],
)
def test_ed25519_sk_to_x25519(entry: dict[str, Any]) -> None:
    x_sk = crypto.ed25519_sk_to_x25519(bytes.fromhex(entry["inputs"]["ed25519_sk_hex"]))
    assert x_sk.hex() == entry["expected"]["x25519_seckey_hex"]


@pytest.mark.parametrize(
    "entry", find(PRIMITIVES, "keypair from"), ids=lambda e: e["inputs"]["seed_hex"][:8]
)
def test_ed25519_keypair_from_seed(entry: dict[str, Any]) -> None:
    pk, sk = crypto.ed25519_keypair_from_seed(bytes.fromhex(entry["inputs"]["seed_hex"]))
    assert pk.hex() == entry["expected"]["pubkey_hex"]
    if "sk64_hex" in entry["expected"]:
        assert sk.hex() == entry["expected"]["sk64_hex"]


def test_ed25519_signature() -> None:
    (entry,) = find(PRIMITIVES, "detached signature")
    pk, sk = crypto.ed25519_keypair_from_seed(bytes.fromhex(entry["inputs"]["seed_hex"]))
    msg = entry["inputs"]["message_utf8"].encode()
    sig = crypto.sign(sk, msg)
    assert sig.hex() == entry["expected"]["signature_hex"]
    assert crypto.verify(pk, msg, sig)
    assert not crypto.verify(pk, msg + b"!", sig)
