"""Config messages against tests/test_configdata.cpp (vectors file): serialization, hashes, signature, merges."""

from __future__ import annotations

import pytest

from sessioncli.protocol import crypto
from sessioncli.protocol.groups import bencode
from sessioncli.protocol.groups.configdata import ConfigDict, ConfigParseError
from sessioncli.protocol.groups.configmsg import (
    ConfigMessage,
    ConfigSignatureError,
    empty_message,
    merge,
    message_hash,
    parse_message,
)
from tests.unit.groups_vectors import entry, hx

CFG = "tests/test_configdata.cpp"
SER = entry(CFG, "ConfigMessage serialization")["expected"]
SIG = entry(CFG, "Config message signature")
EX13 = entry(CFG, "Config merge examples 1-3")
EX4 = entry(CFG, "Config merge example 4")


def m10() -> ConfigMessage:
    data: ConfigDict = {
        b"foo": 123,
        b"bar": {b"asdf": 123, b"xyz": b"abc", b"": {b"a", b"b", 42}},
    }
    return ConfigMessage(seqno=10, data=data, base={})


def d(value: object) -> ConfigDict:
    assert isinstance(value, dict)
    return value


def s(value: object) -> set[int | bytes]:
    assert isinstance(value, set)
    return value


def test_serialization_and_hash_chain() -> None:
    m = m10()
    assert m.serialize() == SER["m10_serialized_utf8"].encode()
    assert m.hash().hex() == SER["hash10_hex"]
    m1 = m.increment()
    del m1.data[b"foo"]
    assert m1.hash().hex() == SER["hash11_hex"]
    m2 = m1.increment()
    m2.data[b"foo"] = 123
    bar = d(m2.data[b"bar"])
    bar[b"xyz"] = 42
    bar[b"a"] = 42
    s(bar[b""]).update({b"c", 99, 42})
    s(bar[b""]).discard(b"b")
    assert m2.hash().hex() == SER["hash12_hex"]
    assert m2.increment().hash().hex() == SER["hash13_hex"]
    assert m2.increment().increment().hash().hex() == SER["hash14_hex"]
    m5 = m2.increment().increment().increment()
    assert m5.hash().hex() == SER["hash15_hex"]
    assert m5.seqno == 15
    # lag 5: seqno 15 carries 11..14 only
    assert [k[0] for k in parse_message(m5.serialize()).lagged] == [11, 12, 13, 14]


def test_signature_vector_and_verification() -> None:
    sk = hx(SIG["inputs"]["ed25519_secret_key_hex"])
    signed = m10().serialize(lambda b: crypto.sign(sk, b))
    assert signed == hx(SIG["expected"]["signed_message_hex"])
    assert signed[-65:-1].hex() == SIG["expected"]["signature_hex"]
    msg = parse_message(signed, verify_key=sk[32:])
    assert msg.serialize() == signed  # re-serialises with the verified signature
    assert msg.hash() == m10().hash(lambda b: crypto.sign(sk, b))
    broken = bytearray(signed)
    broken[-2] ^= 0x10
    with pytest.raises(ConfigSignatureError):
        parse_message(bytes(broken), verify_key=sk[32:])
    with pytest.raises(ConfigSignatureError, match="missing"):
        parse_message(m10().serialize(), verify_key=sk[32:])
    with pytest.raises(ConfigParseError, match="no valid"):
        merge([bytes(broken), bytes(broken)], verify_key=sk[32:])
    result = merge([bytes(broken), signed], verify_key=sk[32:])
    assert not result.merged and result.used == 1 and result.message.seqno == 10


def test_empty_seqno0_hash() -> None:
    empty = empty_message()
    assert empty.serialize() == b"d1:#i0e1:&de1:<le1:=dee"
    info = entry("tests/test_group_info.cpp", "Group Info config push")
    assert empty.hash().hex() == info["expected"]["empty_seqno0_hash_hex"]


def data118() -> ConfigDict:
    return {
        b"dictB": {b"changed": -1, b"foo": 123, b"removed": b"x", b"removed2": b"y"},
        b"dictC": {b"x": {b"y": 1}},
        b"good": {99, 456, b"bar"},
        b"great": {-42, b"omg"},
        b"int0": -9999,
        b"int1": 100,
        b"string1": b"hello",
        b"string2": b"goodbye",
    }


def updates_124(m: ConfigMessage) -> None:
    m.data[b"dictA"] = {b"hello": 123, b"goodbye": {123, 456}}
    b = d(m.data[b"dictB"])
    b[b"changed"] = 1
    b[b"added"] = 9999
    b[b"nested"] = {b"a": 1}
    del b[b"removed"], b[b"removed2"]
    del m.data[b"dictC"]
    s(m.data[b"good"]).update({b"Foo", 123})
    s(m.data[b"good"]).discard(456)
    m.data[b"int1"] = 42
    del m.data[b"string1"]
    m.data[b"string2"] = b"hello"
    m.data[b"string3"] = b"omg"
    del m.data[b"great"]


def m123_bytes() -> bytes:
    return hx(EX13["expected"]["m123_serialized_hex"])


def test_example_1_ordinary_update() -> None:
    exp = EX13["expected"]
    m = ConfigMessage(seqno=118, data=data118(), base={})
    assert m.serialize() == hx(EX13["inputs"]["m118_serialized_hex"])
    for seqno in (119, 120, 121, 122):
        m = m.increment()
        assert m.seqno == seqno and m.hash().hex() == exp[f"h{seqno}"]
    m = m.increment()
    m.data[b"int1"] = 1
    m.data[b"int2"] = 2
    del m.data[b"int0"]
    m.data[b"string1"] = b"hello"  # unchanged: must not appear in the diff
    assert m.serialize() == m123_bytes()


def test_deserialization_then_increment() -> None:
    m = parse_message(m123_bytes())
    assert m.seqno == 123 and m.hash().hex() == EX13["expected"]["h123"]
    assert m.current_diff() == {b"int0": b"-", b"int1": b"", b"int2": b""}
    mut = m.increment()
    assert mut.seqno == 124
    assert mut.hash().hex() == EX13["expected"]["mutable_from_m123_seqno124_hash"]


def test_empty_containers_are_refused() -> None:
    for raw in (b"d1:#i0e1:&d0:lee1:<le1:=dee", b"d1:#i0e1:&d0:dee1:<le1:=dee"):
        with pytest.raises(ConfigParseError, match="unpruned"):
            parse_message(raw)


def m124() -> ConfigMessage:
    m = parse_message(m123_bytes()).increment()
    updates_124(m)
    return m


def test_example_2_large_update() -> None:
    assert m124().hash().hex() == EX13["expected"]["h124"]


def test_example_3_simple_conflict() -> None:
    exp = EX13["expected"]
    base = m124()
    a = base.increment()
    del d(a.data[b"dictB"])[b"foo"]
    b = base.increment()
    b.data[b"int1"] = 5
    assert a.serialize() == hx(EX13["inputs"]["m125a_hex"])
    assert b.serialize() == hx(EX13["inputs"]["m125b_hex"])
    assert a.hash().hex() == exp["h125a"] and b.hash().hex() == exp["h125b"]
    expected = hx(exp["m126_merged_serialized_hex"])
    result = merge([a.serialize(), b.serialize()])
    assert result.merged and result.message.seqno == 126
    assert result.message.serialize() == expected
    assert merge([b.serialize(), a.serialize()]).message.serialize() == expected
    assert merge([base.serialize(), b.serialize(), a.serialize()]).message.serialize() == expected
    assert merge([b.serialize(), a.serialize(), base.serialize()]).message.serialize() == expected
    m120b = ConfigMessage(seqno=118, base={}).increment().increment()
    m120b.data[b"too old"] = b"won't see"
    assert merge([b.serialize(), m120b.serialize(), a.serialize()]).message.serialize() == expected


def test_example_4_complex_conflict() -> None:
    m123 = parse_message(m123_bytes())
    m124a = m123.increment()
    d(m124a.data[b"dictB"])[b"foo"] = 66
    d(m124a.data[b"dictB"])[b"answer"] = 42
    assert m124a.serialize() == hx(EX4["inputs"]["m124a_hex"])
    m124b = m123.increment()
    updates_124(m124b)
    m125a = m124b.increment()
    del d(m125a.data[b"dictB"])[b"foo"]
    m125b = m124b.increment()
    m125b.data[b"int1"] = 5
    m126a = merge([m125a.serialize(), m125b.serialize()]).message.serialize()
    assert m126a == hx(EX4["inputs"]["m126a_hex"])
    m120b = ConfigMessage(seqno=118, base={}).increment().increment()
    m120b.data[b"too old"] = b"won't see"
    m126b = merge([x.serialize() for x in (m125b, m124a, m125a, m123, m120b)]).message.serialize()
    assert m126b == hx(EX4["inputs"]["m126b_hex"])
    assert message_hash(m126a) < message_hash(m126b)
    m127 = merge([m126a, m126b]).message.editable()
    s(d(m127.data[b"dictA"])[b"goodbye"]).add(789)
    assert m127.seqno == 127
    assert m127.serialize() == hx(EX4["expected"]["m127_serialized_hex"])
    alt = merge([m127.serialize(), m125a.serialize(), m126b])
    assert not alt.merged and alt.message.hash() == m127.hash()


def test_reader_without_signing_key_keeps_the_highest() -> None:
    sk = crypto.ed25519_keypair_from_seed(bytes(range(32)))[1]

    def sign(b: bytes) -> bytes:
        return crypto.sign(sk, b)

    base = ConfigMessage(seqno=1, data={b"n": b"x"}, base={})
    a = base.increment(sign)
    a.data[b"a"] = 1
    b = base.increment(sign)
    b.data[b"b"] = 1
    raws = [a.serialize(sign), b.serialize(sign)]
    result = merge(raws, verify_key=sk[32:], can_sign=False)
    assert not result.merged
    assert result.message.hash() == max(message_hash(r) for r in raws)
    merged = merge(raws, verify_key=sk[32:])
    assert merged.merged and merged.message.data == {b"n": b"x", b"a": 1, b"b": 1}


def test_unknown_top_level_keys_survive() -> None:
    raw = b"d1:#i1e1:$i7e1:&d1:ni1ee1:<le1:=d1:n0:ee"
    msg = parse_message(raw)
    assert msg.unknown == {b"$": 7}
    assert msg.serialize() == raw
    assert bencode.decode(msg.increment().serialize())[b"$"] == 7  # type: ignore[index]


@pytest.mark.parametrize(
    "raw",
    [
        b"d1:&de1:#i1ee",  # keys out of order
        b"d1:#i1e1:<le1:=dee",  # no data
        b"d1:#i1e1:&de1:<lli1e32:" + bytes(32) + b"deee1:=dee",  # lagged seqno >= seqno
        b"d1:#i1e1:&de1:<le1:=d1:n1:xee",  # bad diff marker
        b"d1:#i1e1:&d1:sli2ei1eee1:<le1:=dee",  # unsorted set
        b"d1:#i01e1:&de1:<le1:=dee",  # non-canonical int
    ],
)
def test_malformed_messages_are_refused(raw: bytes) -> None:
    with pytest.raises(ConfigParseError):
        parse_message(raw)
