"""Config "push" bytes (GROUPS-V2.md §2.3): compress, prefix-pad, encrypt; and the reverse, multipart included."""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

from sessioncli.protocol import crypto
from sessioncli.protocol.groups import bencode
from sessioncli.protocol.groups.bencode import BencodeError
from sessioncli.protocol.groups.configdata import ConfigParseError

MAX_MESSAGE_SIZE: Final = 76_800  # libsession config.hpp: largest push a swarm accepts
ENCRYPT_OVERHEAD: Final = 24 + 16  # nonce + Poly1305 tag
MAX_DECOMPRESSED: Final = 1 << 20  # more than any real config; caps a zstd bomb
DOMAIN_INFO: Final = "groups::Info"
DOMAIN_MEMBERS: Final = "groups::Members"
_NONCE_KEY_PREFIX: Final = b"libsessionutil-config-encrypted-"


class ConfigDecryptError(ConfigParseError):
    """A config push could not be decrypted with any known key, or its plaintext is unusable."""


def padded_size(size: int, overhead: int = ENCRYPT_OVERHEAD) -> int:
    """libsession's padded_size: the ciphertext length becomes a multiple of a size-dependent chunk."""
    total = size + overhead
    chunk = 256 if total < 5120 else 1024 if total < 20480 else 2048 if total < 40960 else 5120
    return (total + chunk - 1) // chunk * chunk - overhead


def pad(message: bytes) -> bytes:
    """Prefix null padding (configs pad in front: a serialized dict never starts with 0x00)."""
    return bytes(padded_size(len(message)) - len(message)) + message


def zstd_compress(data: bytes, level: int = 1) -> bytes:
    """A zstd frame with the content size and no checksum (what libsession's zstd_compress writes)."""
    import zstandard

    params = zstandard.ZstdCompressor(level=level, write_content_size=True, write_checksum=False)
    return params.compress(data)


def zstd_decompress(data: bytes, limit: int = MAX_DECOMPRESSED) -> bytes:
    """Decompress one zstd frame, refusing output over `limit` bytes."""
    import zstandard

    try:
        reader = zstandard.ZstdDecompressor().decompressobj()
        out = reader.decompress(data)
    except zstandard.ZstdError as exc:
        raise ConfigDecryptError("zstd decompression failed") from exc
    if len(out) > limit:
        raise ConfigDecryptError("decompressed data exceeds the size limit")
    if not reader.eof:
        raise ConfigDecryptError("truncated zstd frame")
    return out


def compress_message(message: bytes, level: int = 1) -> bytes:
    """`z` + zstd(message) if that is shorter, else the message unchanged."""
    compressed = b"z" + zstd_compress(message, level)
    return compressed if len(compressed) < len(message) else message


def _key_and_nonce(enc_key: bytes, plaintext: bytes, domain: str) -> tuple[bytes, bytes]:
    dom = domain.encode("ascii")
    key = crypto.blake2b(enc_key + struct.pack(">Q", len(plaintext)) + dom, 32)
    nonce = crypto.blake2b(plaintext, 24, key=_NONCE_KEY_PREFIX + dom)
    return key, nonce


def encrypt(plaintext: bytes, enc_key: bytes, domain: str) -> bytes:
    """ciphertext || tag || nonce; key and nonce both derive from the plaintext (deterministic)."""
    key, nonce = _key_and_nonce(enc_key, plaintext, domain)
    return crypto.xchacha20_seal(key, nonce, plaintext) + nonce


def decrypt(data: bytes, enc_key: bytes, domain: str) -> bytes:
    """The reverse of encrypt(); raises ConfigDecryptError (wrong key, tampering, bad nonce)."""
    if len(data) < ENCRYPT_OVERHEAD:
        raise ConfigDecryptError("config ciphertext too short")
    nonce = data[-24:]
    plain_len = len(data) - ENCRYPT_OVERHEAD
    dom = domain.encode("ascii")
    key = crypto.blake2b(enc_key + struct.pack(">Q", plain_len) + dom, 32)
    try:
        plaintext = crypto.xchacha20_open(key, nonce, data[:-24])
    except crypto.CryptoError as exc:
        raise ConfigDecryptError("config message does not decrypt with this key") from exc
    if crypto.blake2b(plaintext, 24, key=_NONCE_KEY_PREFIX + dom) != nonce:
        raise ConfigDecryptError("config message nonce does not match its plaintext")
    return plaintext


def build_push(serialized: bytes, enc_key: bytes, domain: str, *, compress: bool = True) -> bytes:
    """The bytes to store for a signed, serialized config message (single part)."""
    message = compress_message(serialized) if compress else serialized
    out = encrypt(pad(message), enc_key, domain)
    if len(out) > MAX_MESSAGE_SIZE:
        # A group of <100 members is a few kB; splitting into parts is never needed to send.
        raise ConfigParseError("config data is too large for one message")
    return out


@dataclass(frozen=True)
class ConfigPart:
    """One part of a multipart config (an `m`-prefixed plaintext)."""

    final_hash: bytes  # BLAKE2b-32 of the reassembled (padded, maybe compressed) plaintext
    index: int
    count: int
    chunk: bytes


def _parse_part(plain: bytes) -> ConfigPart:
    # Format from libsession's multipart branch (session-foundation/libsession-util PR #11,
    # jagerman `multipart` @ 0979cde5, src/config/base.cpp ConfigBase::_handle_multipart):
    # "m" + bt list [32-byte final hash, 1-byte index, 1-byte count, non-empty chunk], nothing
    # after. GROUPS-V2.md §2.3 marks the landed format UNVERIFIED; this is the newest readable one.
    if len(plain) > MAX_MESSAGE_SIZE:
        raise ConfigDecryptError("multipart part exceeds the maximum message size")
    try:
        items = bencode.decode(plain[1:])
    except BencodeError as exc:
        raise ConfigDecryptError("multipart part is not a bt list") from exc
    if not isinstance(items, list) or len(items) != 4:
        raise ConfigDecryptError("multipart part must have exactly 4 elements")
    final_hash, index, count, chunk = items
    if not isinstance(final_hash, bytes) or len(final_hash) != 32:
        raise ConfigDecryptError("multipart part has an invalid final hash")
    if not isinstance(index, bytes) or not isinstance(count, bytes):
        raise ConfigDecryptError("multipart part numbers must be single bytes")
    if len(index) != 1 or len(count) != 1 or count[0] <= 1 or index[0] >= count[0]:
        raise ConfigDecryptError("multipart part numbering is invalid")
    if not isinstance(chunk, bytes) or not chunk:
        raise ConfigDecryptError("multipart part has no data")
    return ConfigPart(final_hash, index[0], count[0], chunk)


def _unwrap(plain: bytes) -> bytes:
    """Padded plaintext -> serialized config: strip leading nulls, inflate `z`, require `d`."""
    plain = plain.lstrip(b"\x00")
    if plain.startswith(b"z"):
        plain = zstd_decompress(plain[1:])
    if not plain.startswith(b"d"):
        raise ConfigDecryptError("config plaintext is not a bt dict")
    return plain


@dataclass(frozen=True)
class OpenedPush:
    """A decrypted push: either a whole serialized config, or one part of a multipart one."""

    config: bytes | None = None
    part: ConfigPart | None = None


def open_push(data: bytes, keys: Sequence[bytes], domain: str) -> OpenedPush:
    """Decrypt with each key in turn (newest first), then unwrap; raises ConfigDecryptError."""
    for key in keys:
        try:
            plain = decrypt(data, key, domain)
        except ConfigDecryptError:
            continue
        stripped = plain.lstrip(b"\x00")
        if not stripped:
            raise ConfigDecryptError("config message contains no data")
        if stripped.startswith(b"m"):
            return OpenedPush(part=_parse_part(stripped))
        return OpenedPush(config=_unwrap(stripped))
    raise ConfigDecryptError("config message does not decrypt with any known key")


@dataclass
class MultipartCollector:
    """Gathers the parts of multipart configs; hands back the config once a set is complete."""

    pending: dict[bytes, dict[int, tuple[str, bytes]]] = field(default_factory=dict)
    counts: dict[bytes, int] = field(default_factory=dict)
    done: set[bytes] = field(default_factory=set)

    def add(self, part: ConfigPart, msg_hash: str) -> tuple[bytes, list[str]] | None:
        """Record `part` (stored under `msg_hash`); returns (serialized config, part hashes) when complete."""
        if part.final_hash in self.done:
            return None
        count = self.counts.setdefault(part.final_hash, part.count)
        if count != part.count:
            raise ConfigDecryptError("multipart part count differs from earlier parts")
        parts = self.pending.setdefault(part.final_hash, {})
        parts.setdefault(part.index, (msg_hash, part.chunk))
        if len(parts) < count:
            return None
        joined = b"".join(parts[i][1] for i in range(count))
        del self.pending[part.final_hash], self.counts[part.final_hash]
        self.done.add(part.final_hash)
        if crypto.blake2b(joined, 32) != part.final_hash:
            raise ConfigDecryptError("reassembled multipart config does not match its hash")
        return _unwrap(joined), [parts[i][0] for i in range(count)]
