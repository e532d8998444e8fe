"""Strict bencode: canonical output, and every non-canonical input refused."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sessioncli.protocol.groups import bencode
from sessioncli.protocol.groups.bencode import BencodeError


def test_encode_canonical() -> None:
    assert bencode.encode({"b": 1, b"a": [b"x", -3, {}]}) == b"d1:al1:xi-3edee1:bi1ee"
    assert bencode.encode("é") == b"2:\xc3\xa9"


@pytest.mark.parametrize("value", [True, 2**64, -(2**63) - 1, 1.5, {1: 2}, {"a": 1, b"a": 2}])
def test_encode_refuses(value: object) -> None:
    with pytest.raises(BencodeError):
        bencode.encode(value)


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"i01e",
        b"i-0e",
        b"ie",
        b"i1",
        b"01:a",
        b"2:a",
        b"d1:bi1e1:ai2ee",  # unsorted keys
        b"d1:ai1e1:ai2ee",  # repeated key
        b"di1ei2ee",  # non-string key
        b"l",
        b"i1ei2e",  # trailing data
        b"x",
        b"l" * 100 + b"e" * 100,  # too deep
    ],
)
def test_decode_refuses(raw: bytes) -> None:
    with pytest.raises(BencodeError):
        bencode.decode(raw)


values = st.recursive(
    st.integers(min_value=-(2**63), max_value=2**64 - 1) | st.binary(max_size=20),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.binary(max_size=5), children, max_size=4)
    ),
    max_leaves=12,
)


@given(values)
def test_round_trip(value: object) -> None:
    raw = bencode.encode(value)
    assert bencode.decode(raw) == value
    assert bencode.encode(bencode.decode(raw)) == raw


def test_signed_dict() -> None:
    raw = bencode.append_signature(b"d1:ai1ee", b"S" * 64)
    assert raw == b"d1:ai1e1:~64:" + b"S" * 64 + b"e"
    parsed = bencode.decode_signed_dict(raw)
    assert parsed.fields == {b"a": 1}
    assert parsed.signature == b"S" * 64
    assert parsed.signed_bytes == b"d1:ai1e" == bencode.signing_bytes(b"d1:ai1ee")
    unsigned = bencode.decode_signed_dict(b"d1:ai1ee")
    assert unsigned.signature is None and unsigned.signed_bytes == b"d1:ai1e"
    with pytest.raises(BencodeError):
        bencode.decode_signed_dict(b"d1:~1:x1:\x7fi1ee")
