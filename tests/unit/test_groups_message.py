"""Group messages: the current signature rule, the January-2025 (old-rule) fixtures, sizes, forgeries."""

from __future__ import annotations

import pytest

from sessioncli.protocol import crypto
from sessioncli.protocol.groups import bencode
from sessioncli.protocol.groups import message as gm
from sessioncli.protocol.groups.configpush import zstd_decompress
from sessioncli.protocol.ids import Identity
from sessioncli.protocol.proto import session_pb2 as pb
from tests.unit.groups_vectors import entry, hx

K = "src/config/groups/keys.cpp"
OLD = entry(K, "ORACLE (random nonce")
NEW = entry(K, "PYTHON-ONLY")
SIZES = entry("tests/test_group_keys.cpp", "Size-only")
KEY = hx(OLD["inputs"]["enc_key_hex"])
GROUP_PK = hx(OLD["inputs"]["group_ed25519_pubkey_hex"])
SENDER = Identity.from_seed(hx(NEW["inputs"]["sender_seed_hex"]))


@pytest.mark.parametrize(
    ("ct", "sender", "plaintext"),
    [
        ("admin_ct_hex", "admin_sender", b"hello group, this is a CI alert"),
        ("member_ct_compressed_hex", "member_sender", b"x" * 600),
    ],
)
def test_january_2025_messages_signed_the_old_way(ct: str, sender: str, plaintext: bytes) -> None:
    """Fixture check: these decrypt, and verify under the OLD rule (payload only) ...

    ... which production code must refuse: current libsession signs payload || group key.
    """
    data = hx(OLD["expected"][ct])
    fields = gm.parse_group_message(gm.open_group_message([KEY], data))
    assert (
        "05" + crypto.ed25519_pk_to_x25519(fields.sender_ed25519).hex() == OLD["expected"][sender]
    )
    inner = zstd_decompress(fields.payload) if fields.compressed else fields.payload
    assert inner == plaintext
    assert fields.compressed is (ct == "member_ct_compressed_hex")
    assert crypto.verify(fields.sender_ed25519, fields.payload, fields.signature)  # old rule
    assert not crypto.verify(fields.sender_ed25519, fields.payload + GROUP_PK, fields.signature)
    with pytest.raises(gm.GroupMessageError, match="signature"):
        gm.decrypt_group_message([KEY], GROUP_PK, data)
    assert len(data) % 256 == 0


def test_current_rule_vector() -> None:
    inp = NEW["inputs"]
    assert SENDER.session_id == OLD["expected"]["member_sender"]
    ct = gm.encrypt_group_message(
        SENDER.ed25519_secret,
        GROUP_PK,
        KEY,
        inp["plaintext_utf8"].encode(),
        nonce=hx(inp["nonce_hex"]),
    )
    assert ct.hex() == NEW["expected"]["ciphertext_hex"]
    got = gm.decrypt_group_message([bytes(32), KEY], GROUP_PK, ct)  # tries every key
    assert got.sender == SENDER.session_id and got.plaintext == inp["plaintext_utf8"].encode()


def test_sizes_from_upstream() -> None:
    unit = SIZES["inputs"]["plaintext_utf8_repeat"]
    text = unit["unit"].encode()
    for _ in range(unit["doublings"]):
        text += text
    z = gm.encrypt_group_message(SENDER.ed25519_secret, GROUP_PK, KEY, text)
    d = gm.encrypt_group_message(SENDER.ed25519_secret, GROUP_PK, KEY, text, compress=False)
    assert len(z) == SIZES["expected"]["compressed_ciphertext_len"]
    assert len(d) == SIZES["expected"]["uncompressed_ciphertext_len"]
    assert gm.decrypt_group_message([KEY], GROUP_PK, z).plaintext == text


def test_signature_binds_the_group() -> None:
    ct = gm.encrypt_group_message(SENDER.ed25519_secret, GROUP_PK, KEY, b"hi")
    other_group = crypto.ed25519_keypair_from_seed(bytes(32))[0]
    with pytest.raises(gm.GroupMessageError, match="signature"):
        gm.decrypt_group_message([KEY], other_group, ct)  # replayed into another group


def _seal(body: dict[bytes, object]) -> bytes:
    return crypto.xchacha20_encrypt(KEY, bencode.encode(body))


@pytest.mark.parametrize(
    "body",
    [
        {b"": 2, b"a": bytes(32), b"d": b"x", b"s": bytes(64)},
        {b"": 1, b"a": bytes(31), b"d": b"x", b"s": bytes(64)},
        {b"": 1, b"a": bytes(32), b"d": b"x", b"z": b"y", b"s": bytes(64)},
        {b"": 1, b"a": bytes(32), b"s": bytes(64)},
        {b"": 1, b"a": bytes(32), b"d": b"", b"s": bytes(64)},
        {b"": 1, b"a": bytes(32), b"d": b"x", b"s": bytes(63)},
    ],
)
def test_malformed_inner_dicts(body: dict[bytes, object]) -> None:
    with pytest.raises(gm.GroupMessageError):
        gm.decrypt_group_message([KEY], GROUP_PK, _seal(body))


def test_wrong_key_and_tampering() -> None:
    ct = bytearray(gm.encrypt_group_message(SENDER.ed25519_secret, GROUP_PK, KEY, b"hi"))
    with pytest.raises(gm.GroupMessageError, match="decrypt"):
        gm.decrypt_group_message([bytes(32)], GROUP_PK, bytes(ct))
    ct[30] ^= 1
    with pytest.raises(gm.GroupMessageError):
        gm.decrypt_group_message([KEY], GROUP_PK, bytes(ct))
    with pytest.raises(gm.GroupMessageError):
        gm.decrypt_group_message([KEY], GROUP_PK, b"short")


def test_envelope_round_trip() -> None:
    content = pb.Content()
    content.dataMessage.body = "CI failed"
    content.sigTimestamp = 1_700_000_000_123
    raw = content.SerializeToString()
    ct = gm.encode_group_post(SENDER.ed25519_secret, GROUP_PK, KEY, raw, 1_700_000_000_123)
    post = gm.decode_group_post([KEY], GROUP_PK, ct)
    assert post == gm.GroupPost(SENDER.session_id, 1_700_000_000_123, raw, SENDER.ed25519_public)
    inner = gm.decrypt_group_message([KEY], GROUP_PK, ct).plaintext
    env = pb.Envelope.FromString(inner)
    assert env.type == pb.Envelope.CLOSED_GROUP_MESSAGE and env.sourceDevice == 1
    assert len(env.proSig) == 64
    not_envelope = gm.encrypt_group_message(SENDER.ed25519_secret, GROUP_PK, KEY, b"\xff\xff")
    with pytest.raises(gm.GroupMessageError, match="Envelope"):
        gm.decode_group_post([KEY], GROUP_PK, not_envelope)
