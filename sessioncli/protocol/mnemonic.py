"""Recovery phrases: the Electrum/Monero-style 1626-word English encoding of a seed, with checksum."""

from __future__ import annotations

import json
import unicodedata
import zlib
from functools import lru_cache
from importlib import resources

PREFIX_LEN = 3


class MnemonicError(ValueError):
    """A phrase that cannot be decoded.

    The message names the offending word, for a person fixing a phrase they typed. `safe` says
    the same by word position only, for phrases read from files or the environment, whose words
    must never reach a log.
    """

    def __init__(self, message: str, safe: str | None = None) -> None:
        super().__init__(message)
        self.safe = safe or message


@lru_cache(maxsize=1)
def wordlist() -> tuple[str, ...]:
    raw = resources.files("sessioncli.protocol.data").joinpath("english.json").read_text("utf-8")
    words = json.loads(raw)
    if not isinstance(words, list) or len(words) != 1626:
        raise RuntimeError("bundled English word list is damaged")
    return tuple(str(w) for w in words)


@lru_cache(maxsize=1)
def _prefix_index() -> dict[str, int]:
    return {w[:PREFIX_LEN]: i for i, w in enumerate(wordlist())}


def _checksum_index(words: list[str]) -> int:
    trimmed = "".join(w[:PREFIX_LEN] for w in words)
    return zlib.crc32(trimmed.encode("utf-8")) % len(words)


def encode_words(data: bytes) -> list[str]:
    """Word triples for every 4-byte chunk, without a checksum word."""
    if len(data) % 4:
        raise ValueError("seed length must be a multiple of 4 bytes")
    words = wordlist()
    n = len(words)
    out: list[str] = []
    for i in range(0, len(data), 4):
        x = int.from_bytes(data[i : i + 4], "little")
        w1 = x % n
        w2 = (x // n + w1) % n
        w3 = (x // n // n + w2) % n
        out += [words[w1], words[w2], words[w3]]
    return out


def encode(seed: bytes) -> str:
    """Seed (16 or 32 bytes) -> phrase of 13 or 25 words (the last one a checksum)."""
    words = encode_words(seed)
    return " ".join([*words, words[_checksum_index(words)]])


def decode_words(words: list[str]) -> bytes:
    """Word triples (no checksum) -> bytes. Raises MnemonicError."""
    if len(words) % 3:
        raise MnemonicError("the number of words (without the checksum) must be a multiple of 3")
    index = _prefix_index()
    n = len(wordlist())
    out = bytearray()
    for i in range(0, len(words), 3):
        idx = []
        for pos, word in enumerate(words[i : i + 3], i + 1):
            key = word[:PREFIX_LEN]
            if len(key) < PREFIX_LEN or key not in index:
                raise MnemonicError(
                    f"unknown word {word!r} (not in the English word list)",
                    f"word {pos} is not in the English word list",
                )
            idx.append(index[key])
        w1, w2, w3 = idx
        x = w1 + n * ((n - w1 + w2) % n) + n * n * ((n - w2 + w3) % n)
        if x % n != w1 or x > 0xFFFFFFFF:
            raise MnemonicError(
                f"words {' '.join(words[i : i + 3])!r} do not form a valid triple",
                f"words {i + 1} to {i + 3} do not form a valid triple",
            )
        out += x.to_bytes(4, "little")
    return bytes(out)


def normalise(phrase: str) -> list[str]:
    text = unicodedata.normalize("NFC", phrase).strip().lower()
    return text.split()


def decode(phrase: str) -> bytes:
    """Phrase of 13 (or legacy 25) words -> seed. Raises MnemonicError naming the problem."""
    words = normalise(phrase)
    if not words:
        raise MnemonicError("empty recovery phrase")
    if len(words) == 12:
        raise MnemonicError("12 words given: the 13th (checksum) word is missing")
    if len(words) < 12:
        raise MnemonicError(f"too few words: {len(words)} given, 13 expected")
    if len(words) not in (13, 25):
        raise MnemonicError(f"wrong number of words: {len(words)} given, 13 expected")
    seed_words, check = words[:-1], words[-1]
    seed = decode_words(seed_words)
    expected = seed_words[_checksum_index(seed_words)]
    if check[:PREFIX_LEN] != expected[:PREFIX_LEN]:
        if check[:PREFIX_LEN] not in _prefix_index():
            raise MnemonicError(
                f"unknown word {check!r} (not in the English word list)",
                f"word {len(words)} is not in the English word list",
            )
        raise MnemonicError(
            f"checksum word {check!r} does not match: the phrase has a typo",
            "the checksum (last) word does not match: the phrase has a typo",
        )
    return seed
