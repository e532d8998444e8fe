"""Onion v4's bencoded lists of byte strings: encoding, and decoding from a plaintext in hand or
one decrypted a piece at a time, so that a large string is produced once (groups/bencode.py is
the general bencode of group configs; v4 needs only this shape, read this way)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from sessioncli.errors import ProtocolError


def bencode_list(items: Sequence[bytes]) -> bytes:
    return b"l" + b"".join(str(len(x)).encode() + b":" + x for x in items) + b"e"


class Reader(Protocol):
    """Plaintext handed out a piece at a time (`crypto.AesGcmReader`, or `BytesReader`)."""

    def left(self) -> int: ...
    def take(self, n: int) -> bytes: ...
    def take_into(self, n: int) -> bytearray: ...
    def finish(self) -> None: ...


class BytesReader:
    """A `Reader` over plaintext already in hand."""

    def __init__(self, data: bytes) -> None:
        self._data, self._pos = data, 0

    def left(self) -> int:
        return len(self._data) - self._pos

    def take(self, n: int) -> bytes:
        out = self._data[self._pos : self._pos + max(0, n)]
        self._pos += len(out)
        return out

    def take_into(self, n: int) -> bytearray:
        return bytearray(self.take(n))

    def finish(self) -> None:
        pass


_LARGE = 1 << 16  # strings from here on are read into a buffer of their own (`take_into`)


def string_list(r: Reader, *, large_into: bool) -> list[bytes | bytearray]:
    """A bencoded list of byte strings read from `r`, each taken in one piece: a downloaded
    file is produced once, not sliced out of a whole plaintext (`large_into`: into a buffer)."""
    if r.take(1) != b"l":
        raise ProtocolError("v4 reply is not a bencoded list")
    out: list[bytes | bytearray] = []
    while (head := r.take(1)) != b"e":
        length = head
        while length[-1:].isdigit() and len(length) <= 12 and r.left():
            length += r.take(1)
        if length[-1:] != b":" or not length[:-1].isdigit():
            raise ProtocolError("v4 reply has a malformed string length")
        n = int(length[:-1])
        if n > r.left() - 1:
            raise ProtocolError("v4 reply string overruns the list")
        out.append(r.take_into(n) if large_into and n >= _LARGE else r.take(n))
    if r.left():
        raise ProtocolError("v4 reply has trailing bytes")
    return out


def bdecode_string_list(data: bytes) -> list[bytes]:
    """Decode a bencoded list of byte strings (the only shape onion v4 uses)."""
    return [bytes(x) for x in string_list(BytesReader(data), large_into=False)]
