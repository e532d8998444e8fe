"""Protobuf wire format by hand (proto2), so an outgoing message is built without google.protobuf.

The writers return one encoded field each; a message is the concatenation of its fields in
field-number order, which is what the official encoder (and so `session_pb2`) writes. Only the
types our outgoing messages use are here: varints (uint32/uint64, bool, non-negative enums),
fixed64 and length-delimited fields (string, bytes, nested messages). `session_pb2` stays the
reference: tests/unit/test_protowire.py compares every encoder built on these with it, byte for byte.

`last_varint` reads one top-level varint field back (what `message.encode_dm` checks).
"""

from __future__ import annotations

from typing import Final

_VARINT: Final = 0
_FIXED64: Final = 1
_LENGTH_DELIMITED: Final = 2
_START_GROUP: Final = 3
_END_GROUP: Final = 4
_FIXED32: Final = 5
_MAX_UINT32: Final = 2**32 - 1
_MAX_UINT64: Final = 2**64 - 1
_MAX_FIELD_NUMBER: Final = 2**29 - 1
_MAX_VARINT_BYTES: Final = 10


def varint(value: int) -> bytes:
    """Base-128 varint of a uint64; ValueError outside 0..2**64-1, as the runtime's setter."""
    if not 0 <= value <= _MAX_UINT64:
        raise ValueError(f"Value out of range: {value}")
    if value < 0x80:
        return bytes((value,))
    out = bytearray()
    while value > 0x7F:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _key(number: int, wire_type: int) -> bytes:
    return varint(number << 3 | wire_type)


def uint64_field(number: int, value: int) -> bytes:
    """A uint64 (or a non-negative enum value) field."""
    return _key(number, _VARINT) + varint(value)


def uint32_field(number: int, value: int) -> bytes:
    """A uint32 field; ValueError above 2**32-1, as the runtime's setter."""
    if value > _MAX_UINT32:
        raise ValueError(f"Value out of range: {value}")
    return uint64_field(number, value)


def bool_field(number: int, value: bool) -> bytes:
    return _key(number, _VARINT) + (b"\x01" if value else b"\x00")


def fixed64_field(number: int, value: int) -> bytes:
    """A fixed64 field: 8 bytes, little-endian."""
    if not 0 <= value <= _MAX_UINT64:
        raise ValueError(f"Value out of range: {value}")
    return _key(number, _FIXED64) + value.to_bytes(8, "little")


def bytes_field(number: int, payload: bytes) -> bytes:
    """A length-delimited field: bytes, or an already encoded nested message."""
    return _key(number, _LENGTH_DELIMITED) + varint(len(payload)) + payload


def string_field(number: int, text: str) -> bytes:
    """A string field (UTF-8); UnicodeEncodeError for lone surrogates, as the runtime's setter."""
    return bytes_field(number, text.encode("utf-8"))


# --- reading one field back ------------------------------------------------------------------


def _read_varint(buf: bytes, i: int) -> tuple[int, int]:
    value = shift = 0
    for n in range(_MAX_VARINT_BYTES):
        if i + n >= len(buf):
            raise ValueError("truncated varint")
        byte = buf[i + n]
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value & _MAX_UINT64, i + n + 1
    raise ValueError("varint longer than 10 bytes")


def _skip(buf: bytes, i: int, number: int, wire_type: int) -> int:
    """The offset after the value of a field whose key ended at `i`."""
    if wire_type == _VARINT:
        return _read_varint(buf, i)[1]
    if wire_type == _FIXED64:
        end = i + 8
    elif wire_type == _FIXED32:
        end = i + 4
    elif wire_type == _LENGTH_DELIMITED:
        size, i = _read_varint(buf, i)
        end = i + size
    elif wire_type == _START_GROUP:
        return _skip_group(buf, i, number)
    else:
        raise ValueError(f"wire type {wire_type} where a field starts")
    if end > len(buf):
        raise ValueError("field runs past the end of the message")
    return end


def _next_key(buf: bytes, i: int) -> tuple[int, int, int]:
    """(field number, wire type, offset after the key)."""
    key, i = _read_varint(buf, i)
    number, wire_type = key >> 3, key & 7
    if not 0 < number <= _MAX_FIELD_NUMBER:
        raise ValueError(f"field number {number} out of range")
    return number, wire_type, i


def _skip_group(buf: bytes, i: int, number: int) -> int:
    # Groups (deprecated, still valid proto2) may arrive as unknown fields: skip to their end.
    while i < len(buf):
        inner, wire_type, i = _next_key(buf, i)
        if wire_type == _END_GROUP:
            if inner != number:
                raise ValueError("group ends with another field number")
            return i
        i = _skip(buf, i, inner, wire_type)
    raise ValueError("group without its end")


def last_varint(buf: bytes, number: int) -> int | None:
    """The value of top-level varint field `number` (the last one wins, as when parsing), or
    None when absent. Raises ValueError when the top level is not well-formed wire format;
    nested messages are not looked into."""
    found: int | None = None
    i = 0
    while i < len(buf):
        field, wire_type, i = _next_key(buf, i)
        if field == number and wire_type == _VARINT:
            found, i = _read_varint(buf, i)
        elif wire_type == _END_GROUP:
            raise ValueError("group end without its start")
        else:
            i = _skip(buf, i, field, wire_type)
    return found
