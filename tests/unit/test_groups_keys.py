"""Keys: the oracle rekey/supplement bytes, member decryption, pending key, expiry, collisions, forgeries."""

from __future__ import annotations

import pytest

from sessioncli.protocol import crypto
from sessioncli.protocol.groups import bencode
from sessioncli.protocol.groups.keys import KEY_EXPIRY_MS, GroupKeys, KeysError
from sessioncli.protocol.ids import Identity
from tests.unit.groups_vectors import entry, hx

K = "src/config/groups/keys.cpp"
GEN0 = entry(K, "ORACLE: Keys::rekey")
GEN1 = entry(K, "ORACLE: same as previous, generation 1")
SUPP = entry(K, "ORACLE: Keys::key_supplement")
SEEDS = GEN0["inputs"]["seeds"]
GROUP_PK, GROUP_SK = crypto.ed25519_keypair_from_seed(hx(SEEDS["group"]))
T0, T1 = (k[2] for k in SUPP["inputs"]["keys"])


def who(name: str) -> Identity:
    return Identity.from_seed(hx(SEEDS[name]))


def admin_keys() -> GroupKeys:
    return GroupKeys(GROUP_PK, who("admin").ed25519_secret, GROUP_SK)


def member_keys(name: str) -> GroupKeys:
    return GroupKeys(GROUP_PK, who(name).ed25519_secret)


def two_generations() -> tuple[GroupKeys, bytes, bytes]:
    keys = admin_keys()
    m0 = keys.rekey([])
    keys.load_key_message("h0", m0, T0)
    m1 = keys.rekey(GEN1["inputs"]["members"])
    keys.load_key_message("h1", m1, T1)
    return keys, m0, m1


def test_rekey_oracle_bytes_and_pending() -> None:
    keys = admin_keys()
    m0 = keys.rekey([])
    assert m0.hex() == GEN0["expected"]["keys_message_hex"]
    assert keys.pending is not None and keys.current_generation == 0
    assert keys.encryption_key().hex() == GEN0["expected"]["enc_key_hex"]
    assert keys.load_key_message("h0", m0, T0)
    assert keys.pending is None  # read back from the swarm: no longer pending
    m1 = keys.rekey(GEN1["inputs"]["members"])
    assert m1.hex() == GEN1["expected"]["keys_message_hex"]
    assert keys.encryption_key().hex() == GEN1["expected"]["enc_key_hex"]
    assert keys.decryption_keys()[0] == keys.encryption_key()  # pending first
    assert keys.load_key_message("h1", m1, T1) and keys.pending is None
    assert [k.generation for k in keys.keys] == [0, 1]
    assert keys.active_hashes() == {"h0", "h1"}
    # 3 members + 72 junk entries: a multiple of 75
    assert len(bencode.decode_signed_dict(m1).fields[b"k"]) == 75  # type: ignore[arg-type]


def test_member_reads_its_key() -> None:
    _, m0, m1 = two_generations()
    member = member_keys("member")
    assert member.load_key_message("h0", m0, T0) is GEN1["expected"]["member_finds_key_in_gen0"]
    assert member.load_key_message("h1", m1, T1) is GEN1["expected"]["member_finds_key_in_gen1"]
    assert member.encryption_key().hex() == GEN1["expected"]["enc_key_hex"]
    # gen 0 gave the member nothing, so once it holds gen 1 the gen-0 message is not its concern
    assert member.active_hashes() == {"h1"}
    outsider = member_keys("late_member")
    assert not outsider.load_key_message("h1", m1, T1)
    with pytest.raises(KeysError):
        outsider.encryption_key()
    with pytest.raises(KeysError, match="admin"):
        member.rekey([])


def test_supplement_oracle_bytes() -> None:
    keys, _, _ = two_generations()
    late = who("late_member")
    supp = keys.key_supplement([late.session_id])
    assert supp.hex() == SUPP["expected"]["supplement_hex"]
    reader = member_keys("late_member")
    assert reader.load_key_message("s", supp, T1 + 5)
    got = [(k.generation, k.key.hex(), k.timestamp_ms) for k in reader.keys]
    assert got == [tuple(k) for k in SUPP["inputs"]["keys"]]
    assert not member_keys("member2").load_key_message("s", supp, T1)  # not a recipient


def test_forged_and_malformed_key_messages() -> None:
    _, _, m1 = two_generations()
    member = member_keys("member")
    other_sk = crypto.ed25519_keypair_from_seed(bytes(32))[1]
    fields = bencode.decode_signed_dict(m1)
    resigned = bencode.append_signature(
        fields.signed_bytes + b"e", crypto.sign(other_sk, fields.signed_bytes)
    )
    with pytest.raises(KeysError, match="signed"):
        member.load_key_message("x", resigned, T1)
    with pytest.raises(KeysError, match="signed"):
        member.load_key_message("x", fields.signed_bytes + b"e", T1)  # unsigned
    flipped = bytearray(m1)
    flipped[40] ^= 1
    with pytest.raises(KeysError):
        member.load_key_message("x", bytes(flipped), T1)
    with pytest.raises(KeysError):
        member.load_key_message("x", b"not bencode", T1)
    assert not member.keys


def test_padding_rule_is_enforced() -> None:
    keys = admin_keys()
    body = {b"#": bytes(24), b"G": 0, b"K": bytes(48), b"k": [bytes(48)] * 74}
    unsigned = bencode.encode(body)
    msg = bencode.append_signature(unsigned, crypto.sign(GROUP_SK, bencode.signing_bytes(unsigned)))
    with pytest.raises(KeysError, match="junk"):
        member_keys("member").load_key_message("x", msg, T0)
    with pytest.raises(KeysError, match="admin key"):
        keys.load_key_message("x", msg, T0)  # K does not decrypt for the admin


def test_expiry_after_sixty_days() -> None:
    keys = admin_keys()
    day = 24 * 3600 * 1000
    keys.load_key_message("a", keys.rekey([]), T0)
    keys.load_key_message("b", keys.rekey([who("member").session_id]), T0 + day)
    assert [k.generation for k in keys.keys] == [0, 1]
    # gen 2 arrives 60 days + 1 ms after gen 1 appeared: gen 0 (superseded by gen 1) lapses
    keys.load_key_message(
        "c", keys.rekey([who("member2").session_id]), T0 + day + KEY_EXPIRY_MS + 1
    )
    assert [k.generation for k in keys.keys] == [1, 2]
    assert keys.active_hashes() == {"b", "c"}


def test_same_generation_collision_needs_rekey() -> None:
    a = admin_keys()
    b = admin_keys()
    ma = a.rekey([who("member").session_id])
    mb = b.rekey([who("member2").session_id])  # another admin, same generation, other members
    a.load_key_message("a", ma, T0)
    a.load_key_message("b", mb, T0 + 1)
    assert a.needs_rekey()
    assert a.rekey([who("member").session_id]) and a.current_generation == 1
    assert not member_keys("member").needs_rekey()


def test_dump_round_trip_keeps_pending() -> None:
    keys, _, _ = two_generations()
    keys.rekey([who("member").session_id])
    restored = GroupKeys.load(
        keys.dump(), group_pk=GROUP_PK, user_ed_sk=who("admin").ed25519_secret, group_sk=GROUP_SK
    )
    assert restored.keys == keys.keys
    assert restored.pending == keys.pending
    assert restored.active == keys.active
    assert "key=" not in repr(restored.keys[0]) and "pending=" not in repr(restored)
