"""Config pushes: padding, zstd, encryption vectors, Info/Members bytes, multipart, forged and merged configs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sessioncli.protocol import crypto
from sessioncli.protocol.groups import bencode, configpush, info, members
from sessioncli.protocol.groups.configdata import ConfigParseError
from sessioncli.protocol.groups.configobj import GroupConfig
from sessioncli.protocol.groups.configpush import DOMAIN_INFO, DOMAIN_MEMBERS, ConfigDecryptError
from sessioncli.protocol.groups.members import Member, Status
from tests.unit.groups_vectors import entries, entry, hx

PRIMITIVES = json.loads(
    (
        Path(__file__).resolve().parents[1] / "data" / "libsession-util_crypto_primitives.json"
    ).read_text()
)["entries"]
INFO = entry("tests/test_group_info.cpp", "Group Info config push")
MEMBERS = entry("tests/test_group_members.cpp", "Group Members config push")
ENC_KEY = hx(INFO["inputs"]["enc_key_hex"])


def primitive(start: str) -> dict:  # type: ignore[type-arg]
    return next(e for e in PRIMITIVES if e["description"].startswith(start))


def test_padded_size_table() -> None:
    e = primitive("Config padded_size")
    got = [configpush.padded_size(s, o) for s, o in e["inputs"]["cases"]]
    assert got == e["expected"]["padded"]


def test_config_encryption_vectors() -> None:
    e = primitive("Config message encryption")
    inp = e["inputs"]
    out = configpush.encrypt(inp["plaintext_utf8"].encode(), hx(inp["key_base_hex"]), inp["domain"])
    assert out.hex() == e["expected"]["ciphertext_hex"]
    assert out[-24:].hex() == e["expected"]["nonce_hex"]
    assert (
        configpush.decrypt(out, hx(inp["key_base_hex"]), inp["domain"])
        == inp["plaintext_utf8"].encode()
    )
    with pytest.raises(ConfigDecryptError):
        configpush.decrypt(out, hx(inp["key_base_hex"]), "test-suite2")
    e2 = primitive("Same plaintext/key with domain")
    out2 = configpush.encrypt(
        inp["plaintext_utf8"].encode(), hx(inp["key_base_hex"]), "test-suite2"
    )
    assert out2[-24:].hex() == e2["expected"]["nonce_hex"]


COMPRESSION = [e for e in entries() if e["file_path"] == "tests/test_compression.cpp"]


@pytest.mark.parametrize("e", COMPRESSION, ids=lambda e: f"level{e['inputs']['level']}")
def test_compression(e: dict) -> None:  # type: ignore[type-arg]
    raw = hx(e["inputs"]["input_hex"])
    expected = hx(e["expected"]["output_hex"])
    assert expected[:1] == b"z"
    assert configpush.zstd_decompress(expected[1:]) == raw  # every level must inflate
    if e["inputs"]["level"] != 19:  # level 19 output depends on the zstd version (issue 18)
        assert configpush.compress_message(raw, e["inputs"]["level"]) == expected


def test_zstd_limits() -> None:
    bomb = configpush.zstd_compress(bytes(2 << 20))
    with pytest.raises(ConfigDecryptError, match="limit"):
        configpush.zstd_decompress(bomb)
    with pytest.raises(ConfigDecryptError):
        configpush.zstd_decompress(bomb[:-3])
    assert configpush.compress_message(b"d1:ai1ee") == b"d1:ai1ee"  # not shorter: kept as is


def test_info_push_vector() -> None:
    group_pk, group_sk = crypto.ed25519_keypair_from_seed(hx(INFO["inputs"]["group_seed_hex"]))
    assert group_pk.hex() == INFO["expected"]["group_ed25519_pubkey_hex"]
    cfg = GroupConfig(DOMAIN_INFO, group_pk, group_sk)
    info.set_name(cfg.edit(), INFO["inputs"]["name"])
    push = cfg.push(ENC_KEY)
    assert push.seqno == INFO["expected"]["seqno"]
    assert len(push.data) == INFO["expected"]["push_len"]
    assert push.data.hex() == INFO["expected"]["push_hex_oracle"]
    opened = configpush.open_push(push.data, [bytes(32), ENC_KEY], DOMAIN_INFO)
    assert (
        opened.config is not None
        and opened.config.hex() == INFO["expected"]["serialized_plaintext_hex"]
    )


def members_25() -> list[Member]:
    out = []
    for i in range(25):
        sid = "05" + bytes([i]).hex() * 32
        pic = {"pic_url": f"http://example.com/{i}", "pic_key": b"\xab\xcd" * 16}
        if i < 10:
            out.append(Member(sid, name=f"Admin {i}", admin=True, invite=Status.NONE, **pic))  # type: ignore[arg-type]
        elif i < 20:
            out.append(Member(sid, name=f"Member {i}", **pic))  # type: ignore[arg-type]
        else:
            out.append(Member(sid))
    return out


def test_members_push_vector() -> None:
    group_pk, group_sk = crypto.ed25519_keypair_from_seed(hx(MEMBERS["inputs"]["group_seed_hex"]))
    cfg = GroupConfig(DOMAIN_MEMBERS, group_pk, group_sk)
    data = cfg.edit()
    for m in members_25():
        members.set_member(data, m)
    push = cfg.push(hx(MEMBERS["inputs"]["enc_key_hex"]))
    assert len(cfg.message.serialize(cfg._signer())) == MEMBERS["expected"]["serialized_len"]
    assert len(push.data) == MEMBERS["expected"]["push_len"]
    assert push.data.hex() == MEMBERS["expected"]["push_hex_oracle"]
    reader = GroupConfig(DOMAIN_MEMBERS, group_pk)
    reader.merge([("h", push.data)], [hx(MEMBERS["inputs"]["enc_key_hex"])])
    assert members.read_members(reader.data) == members_25()


def _group() -> tuple[bytes, bytes]:
    return crypto.ed25519_keypair_from_seed(bytes(range(32)))


def _multipart(serialized: bytes, parts: int) -> list[bytes]:
    """Multipart pushes as libsession's multipart branch writes them (see configpush._parse_part)."""
    whole = configpush.pad(configpush.compress_message(serialized))
    final_hash = crypto.blake2b(whole, 32)
    size = -(-len(whole) // parts)
    chunks = [whole[i : i + size] for i in range(0, len(whole), size)]
    return [
        configpush.encrypt(
            configpush.pad(
                b"m" + bencode.encode([final_hash, bytes([i]), bytes([len(chunks)]), c])
            ),
            ENC_KEY,
            DOMAIN_MEMBERS,
        )
        for i, c in enumerate(chunks)
    ]


def test_multipart_configs_are_accepted() -> None:
    group_pk, group_sk = _group()
    admin = GroupConfig(DOMAIN_MEMBERS, group_pk, group_sk)
    data = admin.edit()
    for m in members_25():
        members.set_member(data, m)
    parts = _multipart(admin.message.serialize(admin._signer()), 3)
    assert len(parts) == 3
    reader = GroupConfig(DOMAIN_MEMBERS, group_pk)
    assert reader.merge([("p2", parts[2]), ("p0", parts[0])], [ENC_KEY]) == ["p2", "p0"]
    assert reader.message.seqno == 0  # incomplete: nothing yet
    assert reader.merge([("p1", parts[1])], [ENC_KEY]) == ["p1"]
    assert reader.message.seqno == 1 and members.read_members(reader.data) == members_25()
    assert sorted(reader.current_hashes) == ["p0", "p1", "p2"]


@pytest.mark.parametrize(
    "items",
    [
        [b"\x00" * 31, b"\x01", b"\x02", b"x"],  # bad hash length
        [b"h" * 32, b"\x02", b"\x02", b"x"],  # index out of range
        [b"h" * 32, b"\x00", b"\x01", b"x"],  # a 1-part "multipart"
        [b"h" * 32, 0, b"\x02", b"x"],  # numbers must be 1-byte strings
        [b"h" * 32, b"\x00", b"\x02", b""],  # empty chunk
        [b"h" * 32, b"\x00", b"\x02", b"x", b"extra"],
    ],
)
def test_malformed_parts_are_refused(items: list[object]) -> None:
    data = configpush.encrypt(configpush.pad(b"m" + bencode.encode(items)), ENC_KEY, DOMAIN_MEMBERS)
    with pytest.raises(ConfigDecryptError):
        configpush.open_push(data, [ENC_KEY], DOMAIN_MEMBERS)


def test_forged_configs_are_dropped() -> None:
    group_pk, _ = _group()
    _, forger_sk = crypto.ed25519_keypair_from_seed(bytes(32))
    forger = GroupConfig(DOMAIN_INFO, group_pk, forger_sk)  # signs with the wrong key
    info.set_name(forger.edit(), "evil")
    unsigned = configpush.build_push(forger.message.serialize(), ENC_KEY, DOMAIN_INFO)
    reader = GroupConfig(DOMAIN_INFO, group_pk)
    assert reader.merge([("f", forger.push(ENC_KEY).data), ("u", unsigned)], [ENC_KEY]) == []
    assert reader.message.seqno == 0
    assert reader.merge([("k", b"\x00" * 300)], [ENC_KEY]) == []  # not decryptable: ignored
    with pytest.raises(ConfigParseError):
        reader.edit()  # a member cannot change the config


def test_two_admins_conflict_and_merge() -> None:
    group_pk, group_sk = _group()
    a = GroupConfig(DOMAIN_INFO, group_pk, group_sk)
    info.set_name(a.edit(), "team")
    first = a.push(ENC_KEY)
    a.confirm_pushed(first.seqno, "h1")
    b = GroupConfig(DOMAIN_INFO, group_pk, group_sk)
    b.merge([("h1", first.data)], [ENC_KEY])
    info.set_description(a.edit(), "alerts")
    info.set_expiry_timer(b.edit(), 3600)
    pa, pb = a.push(ENC_KEY), b.push(ENC_KEY)
    assert pa.seqno == pb.seqno == 2 and pa.obsolete == pb.obsolete == ["h1"]
    a.confirm_pushed(2, "ha")
    a.merge([("h1", first.data), ("ha", pa.data), ("hb", pb.data)], [ENC_KEY])
    assert a.dirty and a.message.seqno == 3  # merged: must be pushed
    got = info.read_info(a.data)
    assert (got.name, got.description, got.expiry_timer) == ("team", "alerts", 3600)
    merged = a.push(ENC_KEY)
    assert set(merged.obsolete) == {"h1", "ha", "hb"}
    member = GroupConfig(DOMAIN_INFO, group_pk)
    member.merge([("ha", pa.data), ("hb", pb.data), ("h3", merged.data)], [ENC_KEY])
    assert member.message.seqno == 3 and info.read_info(member.data) == got
    assert member.current_hashes == ["h3"]


def test_member_without_signer_keeps_highest_head() -> None:
    group_pk, group_sk = _group()
    a = GroupConfig(DOMAIN_INFO, group_pk, group_sk)
    info.set_name(a.edit(), "x")
    b = GroupConfig(DOMAIN_INFO, group_pk, group_sk)
    info.set_name(b.edit(), "y")
    pa, pb = a.push(ENC_KEY), b.push(ENC_KEY)
    member = GroupConfig(DOMAIN_INFO, group_pk)
    member.merge([("a", pa.data), ("b", pb.data)], [ENC_KEY])
    assert not member.dirty and member.message.seqno == 1
    best = max(
        (pa, pb),
        key=lambda p: crypto.blake2b(
            configpush.open_push(p.data, [ENC_KEY], DOMAIN_INFO).config or b"", 32
        ),
    )
    assert member.current_hashes == ["a" if best is pa else "b"]


def test_dump_round_trip() -> None:
    group_pk, group_sk = _group()
    cfg = GroupConfig(DOMAIN_INFO, group_pk, group_sk)
    info.set_name(cfg.edit(), "team")
    push = cfg.push(ENC_KEY)
    cfg.confirm_pushed(push.seqno, "h1")
    clean = GroupConfig.load(cfg.dump(), domain=DOMAIN_INFO, group_pk=group_pk, group_sk=group_sk)
    assert clean.message.serialize() == cfg.message.serialize() and clean.current_hashes == ["h1"]
    info.set_name(cfg.edit(), "renamed")
    dirty = GroupConfig.load(cfg.dump(), domain=DOMAIN_INFO, group_pk=group_pk, group_sk=group_sk)
    assert dirty.dirty and dirty.message.seqno == 3  # a dirty dump spends a seqno, as upstream
    assert info.read_info(dirty.data).name == "renamed"
    assert dirty.push(ENC_KEY).obsolete == ["h1"]  # still deleted once the edit is pushed
