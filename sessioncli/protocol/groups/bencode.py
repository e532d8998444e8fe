"""Strict bencode (the libsession/oxenc "bt" encoding): canonical output, and a parser that refuses anything else."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final, TypeAlias

BtValue: TypeAlias = int | bytes | list["BtValue"] | dict[bytes, "BtValue"]
"""What a decoded value is: ints, byte strings, lists and dicts keyed by byte strings."""

MAX_DEPTH: Final = 64  # far deeper than any Session structure; stops recursion bombs
_INT64_MIN: Final = -(2**63)
_UINT64_MAX: Final = 2**64 - 1  # oxenc accepts uint64 as well as int64


class BencodeError(ValueError):
    """The input is not strict, canonical bencode (or a value cannot be encoded)."""


# --- encoding --------------------------------------------------------------------------------


def _key(k: object) -> bytes:
    if isinstance(k, str):
        return k.encode("utf-8")
    if isinstance(k, bytes):
        return k
    raise BencodeError("dict keys must be byte strings")


def _encode(value: object, out: list[bytes], depth: int) -> None:
    if depth > MAX_DEPTH:
        raise BencodeError("value nests too deeply")
    if isinstance(value, bool):  # bool is an int subclass: refuse rather than guess
        raise BencodeError("booleans have no bencode form")
    if isinstance(value, int):
        if not _INT64_MIN <= value <= _UINT64_MAX:
            raise BencodeError("integer out of the 64-bit range")
        out.append(b"i%de" % value)
    elif isinstance(value, bytes | bytearray | memoryview):
        raw = bytes(value)
        out.append(b"%d:" % len(raw))
        out.append(raw)
    elif isinstance(value, str):
        _encode(value.encode("utf-8"), out, depth)
    elif isinstance(value, Mapping):
        items = sorted((_key(k), v) for k, v in value.items())
        for (a, _), (b, _) in itertools.pairwise(items):
            if a == b:
                raise BencodeError("duplicate dict key")
        out.append(b"d")
        for k, v in items:
            _encode(k, out, depth + 1)
            _encode(v, out, depth + 1)
        out.append(b"e")
    elif isinstance(value, Sequence):
        out.append(b"l")
        for item in value:
            _encode(item, out, depth + 1)
        out.append(b"e")
    else:
        raise BencodeError(f"cannot bencode a {type(value).__name__}")


def encode(value: object) -> bytes:
    """Canonical bencode: dict keys sorted bytewise; str values encoded as UTF-8."""
    out: list[bytes] = []
    _encode(value, out, 0)
    return b"".join(out)


# --- decoding --------------------------------------------------------------------------------


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def peek(self) -> int:
        if self.pos >= len(self.data):
            raise BencodeError("truncated input")
        return self.data[self.pos]

    def digits_until(self, end: int) -> int:
        stop = self.data.find(bytes([end]), self.pos)
        if stop < 0:
            raise BencodeError("truncated input")
        text = self.data[self.pos : stop]
        self.pos = stop + 1
        negative = text.startswith(b"-")
        body = text[1:] if negative else text
        if not body or not body.isdigit():
            raise BencodeError("malformed integer")
        if (body.startswith(b"0") and len(body) > 1) or (negative and body == b"0"):
            raise BencodeError("non-canonical integer")
        return -int(body) if negative else int(body)

    def string(self) -> bytes:
        if not 0x30 <= self.peek() <= 0x39:
            raise BencodeError("expected a byte string")
        size = self.digits_until(0x3A)  # ':'
        if size < 0:
            raise BencodeError("negative string length")
        end = self.pos + size
        if end > len(self.data):
            raise BencodeError("truncated string")
        raw = self.data[self.pos : end]
        self.pos = end
        return raw

    def value(self, depth: int) -> BtValue:
        if depth > MAX_DEPTH:
            raise BencodeError("input nests too deeply")
        c = self.peek()
        if c == 0x69:  # 'i'
            self.pos += 1
            n = self.digits_until(0x65)
            if not _INT64_MIN <= n <= _UINT64_MAX:
                raise BencodeError("integer out of the 64-bit range")
            return n
        if c == 0x6C:  # 'l'
            self.pos += 1
            items: list[BtValue] = []
            while self.peek() != 0x65:
                items.append(self.value(depth + 1))
            self.pos += 1
            return items
        if c == 0x64:  # 'd'
            self.pos += 1
            result: dict[bytes, BtValue] = {}
            last: bytes | None = None
            while self.peek() != 0x65:
                k = self.string()
                if last is not None and k <= last:
                    raise BencodeError("dict keys out of order or repeated")
                last = k
                result[k] = self.value(depth + 1)
            self.pos += 1
            return result
        return self.string()


def decode(data: bytes) -> BtValue:
    """Parse exactly one canonical value that spans all of `data`."""
    reader = _Reader(bytes(data))
    value = reader.value(0)
    if reader.pos != len(reader.data):
        raise BencodeError("trailing bytes after the value")
    return value


@dataclass(frozen=True)
class SignedDict:
    """A top-level dict whose last key may be the signature `~`, with the bytes it signs."""

    fields: dict[bytes, BtValue]
    signed_bytes: bytes  # everything before `1:~` (the dict minus signature and final `e`)
    signature: bytes | None


def decode_signed_dict(data: bytes) -> SignedDict:
    """Parse a dict whose optional `~` key (which sorts last) signs the bytes before it."""
    reader = _Reader(bytes(data))
    if reader.peek() != 0x64:
        raise BencodeError("expected a dict")
    reader.pos += 1
    fields: dict[bytes, BtValue] = {}
    last: bytes | None = None
    sig_at = -1
    while reader.peek() != 0x65:
        at = reader.pos
        k = reader.string()
        if last is not None and k <= last:
            raise BencodeError("dict keys out of order or repeated")
        if last == b"~":
            raise BencodeError("key after the signature")
        last = k
        fields[k] = reader.value(1)
        if k == b"~":
            sig_at = at
    reader.pos += 1
    if reader.pos != len(reader.data):
        raise BencodeError("trailing bytes after the dict")
    if sig_at < 0:
        return SignedDict(fields, reader.data[:-1], None)
    sig = fields.pop(b"~")
    if not isinstance(sig, bytes):
        raise BencodeError("signature is not a byte string")
    return SignedDict(fields, reader.data[:sig_at], sig)


def append_signature(unsigned_dict: bytes, signature: bytes) -> bytes:
    """Turn `d…e` into `d…1:~64:<sig>e` (what bt_dict_producer::append_signature does)."""
    if not unsigned_dict.startswith(b"d") or not unsigned_dict.endswith(b"e"):
        raise BencodeError("expected an encoded dict")
    return unsigned_dict[:-1] + b"1:~" + encode(signature) + b"e"


def signing_bytes(unsigned_dict: bytes) -> bytes:
    """The bytes a `~` signature covers: the encoded dict without its final `e`."""
    if not unsigned_dict.startswith(b"d") or not unsigned_dict.endswith(b"e"):
        raise BencodeError("expected an encoded dict")
    return unsigned_dict[:-1]
