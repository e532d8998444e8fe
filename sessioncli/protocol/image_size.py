"""Width and height of a PNG, JPEG, GIF or WebP image from its header bytes (None if unsure)."""

from __future__ import annotations

from typing import Final

HEADER_BYTES: Final = 65_536
"""How much of a file to read: JPEG metadata (EXIF, ICC) may come before the frame header."""

_MAX_SIDE: Final = 1 << 16


def _ok(w: int, h: int) -> tuple[int, int] | None:
    return (w, h) if 0 < w < _MAX_SIDE and 0 < h < _MAX_SIDE else None


def _png(d: bytes) -> tuple[int, int] | None:
    if len(d) < 24 or d[:8] != b"\x89PNG\r\n\x1a\n" or d[12:16] != b"IHDR":
        return None
    return _ok(int.from_bytes(d[16:20], "big"), int.from_bytes(d[20:24], "big"))


def _gif(d: bytes) -> tuple[int, int] | None:
    if len(d) < 10 or d[:6] not in (b"GIF87a", b"GIF89a"):
        return None
    return _ok(int.from_bytes(d[6:8], "little"), int.from_bytes(d[8:10], "little"))


# Start-of-frame markers carry the size; C4 (DHT), C8 (JPG) and CC (DAC) share the range.
_SOF: Final = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


def _jpeg(d: bytes) -> tuple[int, int] | None:
    if d[:2] != b"\xff\xd8":
        return None
    i = 2
    while i + 4 <= len(d):
        if d[i] != 0xFF:
            return None
        marker = d[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker in (0x01, *range(0xD0, 0xD8)):  # standalone markers
            i += 2
            continue
        length = int.from_bytes(d[i + 2 : i + 4], "big")
        if length < 2:
            return None
        if marker in _SOF:
            if i + 9 > len(d):
                return None
            h = int.from_bytes(d[i + 5 : i + 7], "big")
            w = int.from_bytes(d[i + 7 : i + 9], "big")
            return _ok(w, h)
        if marker == 0xDA:  # start of scan before any frame header
            return None
        i += 2 + length
    return None


def _webp(d: bytes) -> tuple[int, int] | None:
    if len(d) < 30 or d[:4] != b"RIFF" or d[8:12] != b"WEBP":
        return None
    kind = d[12:16]
    if kind == b"VP8 " and d[23:26] == b"\x9d\x01\x2a":
        w = int.from_bytes(d[26:28], "little") & 0x3FFF
        h = int.from_bytes(d[28:30], "little") & 0x3FFF
        return _ok(w, h)
    if kind == b"VP8L" and d[20] == 0x2F:
        bits = int.from_bytes(d[21:25], "little")
        return _ok((bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1)
    if kind == b"VP8X":
        return _ok(int.from_bytes(d[24:27], "little") + 1, int.from_bytes(d[27:30], "little") + 1)
    return None


def image_size(header: bytes) -> tuple[int, int] | None:
    """(width, height) when the first bytes of a file say so, else None."""
    for sniff in (_png, _jpeg, _gif, _webp):
        found = sniff(header)
        if found:
            return found
    return None
