"""Attachment encryption (SPEC §7): desktop's legacy AES-CBC+HMAC with size buckets, libsession's
deterministic `S` format, profile pictures, file URLs, and the size maths that bound a download."""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Final
from urllib.parse import parse_qs, urlsplit

from sessioncli.errors import ProtocolError
from sessioncli.protocol import crypto
from sessioncli.protocol import crypto_attach as ca

MAX_FILE_BYTES: Final = 10_000_000
"""Desktop's attachment limit (MAX_ATTACHMENT_FILESIZE_BYTES); padding is capped to it too."""

MIN_PADDED: Final = 541
_IV: Final = 16
_MAC: Final = 32
_BLOCK: Final = 16
LEGACY_OVERHEAD: Final = _IV + _BLOCK + _MAC  # iv, at most one block of PKCS#7, HMAC

# libsession deterministic ("S") format
S_PREFIX: Final = b"S"
S_CHUNK: Final = 32_768
S_TAG: Final = ca.SECRETSTREAM_ABYTES
S_HEADER: Final = ca.SECRETSTREAM_HEADER
S_MAX_REGULAR: Final = 10_218_286  # larger needs libsession's allow_large
PERSONAL_ATTACHMENT: Final = b"SessionAttachmnt"
PERSONAL_PROFILE_PIC: Final = b"Session_Prof_Pic"

PROFILE_KEY_BYTES: Final = 32
_GCM_IV: Final = 12
_GCM_TAG: Final = 16


class AttachmentError(ProtocolError):
    """An attachment that cannot be used: bad key, failed MAC/digest, malformed blob."""


# --- legacy (desktop default): AES-256-CBC + HMAC-SHA256, padded to buckets ----------------------


def padded_size(size: int) -> int:
    """Desktop's bucket for a plaintext of `size` bytes: max(541, floor(1.05^ceil(log_1.05 n))).

    Computed with the same IEEE double operations as desktop's `Math.pow/Math.log`; a result
    below `size` (rounding at an exact power) would cut data, so it is never returned.
    Desktop caps the bucket at its 10,000,000-byte file limit; we cap it LEGACY_OVERHEAD lower,
    so that the whole encrypted upload (iv, PKCS#7 block, MAC) still fits a file server that
    enforces 10,000,000 bytes on what it stores (the devnet's does; SPEC §7 leaves the server's
    limit to its configuration). Receivers trim to `size` and ignore the padding, so this only
    changes how many zero bytes the largest bucket has.
    """
    if size <= 0:
        return MIN_PADDED
    bucket = max(MIN_PADDED, math.floor(math.pow(1.05, math.ceil(math.log(size) / math.log(1.05)))))
    top = MAX_FILE_BYTES - LEGACY_OVERHEAD
    if bucket > top and size <= MAX_FILE_BYTES:
        bucket = top
    return max(bucket, size)


def legacy_encrypted_size(size: int) -> int:
    """Bytes uploaded for a `size`-byte file: iv + CBC(PKCS#7) of the padded data + MAC."""
    return _IV + (padded_size(size) // _BLOCK + 1) * _BLOCK + _MAC


@dataclass(frozen=True)
class Encrypted:
    """What is uploaded, and what the pointer needs to read it back."""

    blob: bytes = field(repr=False)
    key: bytes = field(repr=False)
    digest: bytes = b""  # SHA-256 of the blob (legacy only)


@dataclass(frozen=True)
class LegacyUpload:
    """A legacy blob described rather than held: iv || AES-CBC(padded) || MAC (an onion Payload).

    `legacy_seal` computes the MAC and digest by streaming the ciphertext; `write_into`
    encrypts again (same keys and iv, so the same bytes) straight into the request buffer. An
    upload then holds the file and the request, not a third whole copy as a separate blob.
    """

    plaintext: ca.Bytes = field(repr=False)
    key: bytes = field(repr=False)  # 64 bytes: AES key || MAC key
    iv: bytes
    mac: bytes
    digest: bytes

    def __len__(self) -> int:
        return legacy_encrypted_size(len(self.plaintext))

    def pieces(self) -> Iterator[bytes | memoryview]:
        """The blob in order; a view is only valid until the next piece (see _cbc)."""
        yield self.iv
        yield from _cbc(self.plaintext, self.key, self.iv)
        yield self.mac

    def write_into(self, out: memoryview) -> None:
        pos = 0
        for piece in self.pieces():
            out[pos : pos + len(piece)] = piece
            pos += len(piece)
        if pos != len(out):
            raise AttachmentError("attachment blob does not fill its buffer")


def _cbc(plaintext: ca.Bytes, keys: bytes, iv: bytes) -> Iterator[memoryview]:
    return ca.aes_cbc_padded_pieces(keys[:32], iv, plaintext, padded_size(len(plaintext)))


def legacy_seal(
    plaintext: ca.Bytes, *, keys: bytes | None = None, iv: bytes | None = None
) -> LegacyUpload:
    """Random keys (64 bytes) and iv for `plaintext`; the blob's MAC and SHA-256 digest."""
    keys = keys if keys is not None else crypto.random_bytes(64)
    iv = iv if iv is not None else crypto.random_bytes(_IV)
    if len(keys) != 64:
        raise AttachmentError("legacy attachment keys must be 64 bytes")
    mac, digest = ca.mac_and_digest(keys[32:], itertools.chain([iv], _cbc(plaintext, keys, iv)))
    return LegacyUpload(plaintext=plaintext, key=keys, iv=iv, mac=mac, digest=digest)


def legacy_encrypt(
    plaintext: bytes, *, keys: bytes | None = None, iv: bytes | None = None
) -> Encrypted:
    """blob = iv || AES-256-CBC(padded, aes_key) || HMAC-SHA256(mac_key, iv || ct); key = 64 bytes."""
    sealed = legacy_seal(plaintext, keys=keys, iv=iv)
    blob = b"".join(bytes(piece) for piece in sealed.pieces())  # each copied before the next
    return Encrypted(blob=blob, key=sealed.key, digest=sealed.digest)


def legacy_decrypt(
    blob: bytes | bytearray, keys: bytes, digest: bytes, size: int | None
) -> bytearray:
    """Check the MAC and the digest, decrypt, trim to `size` (the padding is the sender's)."""
    if len(keys) != 64:
        raise AttachmentError("attachment key is not 64 bytes")
    if len(blob) < _IV + _BLOCK + _MAC:
        raise AttachmentError("attachment is too short to be encrypted")
    view = memoryview(blob)  # slices of a 10 MB blob without copying it
    body, mac = view[:-_MAC], bytes(view[-_MAC:])
    if not ca.equal(ca.hmac_sha256(keys[32:], body), mac):
        raise AttachmentError("attachment MAC does not match (tampered or wrong key)")
    if not digest:
        raise AttachmentError("attachment has no digest (the sender's client is too old)")
    if not ca.equal(ca.sha256(blob), digest):
        raise AttachmentError("attachment digest does not match")
    try:
        plain = ca.aes_cbc_decrypt_into(keys[:32], bytes(body[:_IV]), body[_IV:])
    except crypto.CryptoError as exc:
        raise AttachmentError(f"attachment does not decrypt: {exc}") from exc
    if size is not None and size > len(plain):
        raise AttachmentError(f"attachment holds {len(plain)} bytes, its pointer says {size}")
    if size:
        del plain[size:]  # trimmed in place: no second copy of the file
    return plain


def trim(plain: bytes, size: int | None) -> bytes:
    """Cut the padding: everything after the declared size (desktop's getUnpaddedAttachment)."""
    if size is None or size <= 0:
        return plain
    if size > len(plain):
        raise AttachmentError(f"attachment holds {len(plain)} bytes, its pointer says {size}")
    return plain[:size]


# --- deterministic "S" format (libsession attachment::encrypt) ---------------------------------


def _bit_floor(n: int) -> int:
    return 1 << (n.bit_length() - 1)


def s_padding(size: int) -> int:
    """libsession `encrypted_padding`: zero bytes + the 0x01 marker placed before the data."""
    prefix, min_padding = 1 + S_HEADER, 1
    chunks = (size + S_CHUNK - 1) // S_CHUNK
    enc = size + prefix + min_padding + chunks * S_TAG
    factor = _bit_floor(max(enc, 131_072)) >> 5
    padding = (enc + factor - 1) // factor * factor - enc + min_padding
    total_chunk = S_CHUNK + S_TAG
    implicit = (padding // total_chunk) * S_TAG if padding >= total_chunk else 0
    if padding % total_chunk > chunks * S_CHUNK - size:
        implicit += S_TAG
    return padding - implicit


def s_encrypted_size(size: int) -> int:
    """libsession `encrypted_size`: exact length of the `S` blob for a `size`-byte plaintext."""
    padded = size + s_padding(size)
    return 1 + S_HEADER + padded + (padded + S_CHUNK - 1) // S_CHUNK * S_TAG


def s_encrypt(
    plaintext: bytes, seed32: bytes, *, profile_pic: bool = False, allow_large: bool = False
) -> Encrypted:
    """Deterministic encryption: the key and header come from a keyed hash of the data."""
    if len(seed32) < 32:
        raise AttachmentError("deterministic encryption needs the 32-byte Ed25519 seed")
    if len(plaintext) > S_MAX_REGULAR and not allow_large:
        raise AttachmentError("data to encrypt is too large")
    person = PERSONAL_PROFILE_PIC if profile_pic else PERSONAL_ATTACHMENT
    nonce_key = crypto.blake2b(plaintext, size=56, key=seed32[:32], person=person)
    header, key = nonce_key[:S_HEADER], nonce_key[S_HEADER:]
    stream = ca.SecretStream(key, header)
    data = bytes(s_padding(len(plaintext)) - 1) + b"\x01" + plaintext
    out = [S_PREFIX, header]
    for start in range(0, len(data), S_CHUNK):
        chunk = data[start : start + S_CHUNK]
        out.append(stream.push(chunk, final=start + S_CHUNK >= len(data)))
    return Encrypted(blob=b"".join(out), key=key)


def s_decrypt(blob: bytes | bytearray, key: bytes) -> bytes:
    """Reverse of `s_encrypt`: every chunk authenticated, FINAL exactly at the end, padding stripped."""
    if len(key) != 32:
        raise AttachmentError("attachment key is not 32 bytes")
    if len(blob) < 1 + S_HEADER + S_TAG + 1:
        raise AttachmentError("attachment is too short to be encrypted")
    if blob[:1] != S_PREFIX:
        raise AttachmentError(f"unknown attachment encryption type 0x{blob[0]:02x}")
    stream = ca.SecretStream(key, bytes(blob[1 : 1 + S_HEADER]))
    pos, end = 1 + S_HEADER, len(blob)
    parts: list[bytes] = []
    in_padding = True
    final = False
    while pos < end:
        if final:
            raise AttachmentError("attachment has data after its FINAL chunk")
        piece = bytes(blob[pos : pos + S_CHUNK + S_TAG])  # PyNaCl takes bytes only
        if len(piece) <= S_TAG:
            raise AttachmentError("attachment ends inside a chunk")
        pos += len(piece)
        try:
            plain, tag = stream.pull(piece)
        except crypto.CryptoError as exc:
            raise AttachmentError("attachment does not decrypt (tampered or wrong key)") from exc
        final = tag == ca.TAG_FINAL
        if in_padding:
            stripped = plain.lstrip(b"\x00")
            if not stripped:
                continue
            if stripped[:1] != b"\x01":
                raise AttachmentError("attachment padding is invalid")
            in_padding = False
            plain = stripped[1:]
        parts.append(plain)
    if not final:
        raise AttachmentError("attachment ends without its FINAL chunk")
    if in_padding:
        raise AttachmentError("attachment ends inside its padding")
    return b"".join(parts)


# --- profile pictures (desktop profileEncrypter: AES-256-GCM, 12-byte iv) ----------------------


def profile_encrypt(image: bytes, profile_key: bytes) -> bytes:
    if len(profile_key) != PROFILE_KEY_BYTES:
        raise AttachmentError("profile key must be 32 bytes")
    return crypto.aes_gcm_encrypt(profile_key, image)


def profile_decrypt(blob: bytes, profile_key: bytes) -> bytes:
    if len(profile_key) != PROFILE_KEY_BYTES:
        raise AttachmentError("profile key must be 32 bytes")
    if blob[:1] == S_PREFIX and len(blob) >= s_encrypted_size(0):
        try:
            return s_decrypt(blob, profile_key)
        except AttachmentError:
            pass  # a GCM blob whose random iv starts with 'S'
    try:
        return crypto.aes_gcm_decrypt(profile_key, blob)
    except crypto.CryptoError as exc:
        raise AttachmentError("profile picture does not decrypt") from exc


# --- download bound ------------------------------------------------------------------------------

V4_REPLY_SLACK: Final = 16_384
"""Room for the onion v4 reply around the file: bencode framing, the metadata JSON, AES-GCM."""


def max_download_bytes(size: int | None, *, deterministic: bool) -> int:
    """The most a download of this pointer may read: its padded, encrypted size plus framing.

    Without a usable declared size, the largest file the limit allows. A hostile server that
    streams beyond this is cut off before we read (or hold) more.
    """
    size = size_to_expect(size)
    blob = s_encrypted_size(size) if deterministic else legacy_encrypted_size(size)
    return blob + V4_REPLY_SLACK


def size_to_expect(size: int | None) -> int:
    """A pointer's declared size if usable, else the largest file the limit allows."""
    if size is None or size <= 0 or size > MAX_FILE_BYTES:
        return MAX_FILE_BYTES
    return size


# --- file URLs ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FileUrl:
    """A parsed attachment URL: `<base>/file/<id>` and its fragment flags (`p`, `d`)."""

    base: str  # scheme://host[:port], lower-case scheme and host
    file_id: str
    deterministic: bool
    server_ed25519: str | None


def build_file_url(
    base: str, file_id: str, *, server_ed25519: str | None, deterministic: bool
) -> str:
    """`<base>/file/<id>`, with `#p=<key>` for a non-default server and `d` when deterministic."""
    params = []
    if server_ed25519:
        params.append(f"p={server_ed25519}")
    if deterministic:
        params.append("d=")
    return f"{base.rstrip('/')}/file/{file_id}" + ("#" + "&".join(params) if params else "")


def _valid_id(file_id: str) -> bool:
    if file_id.isdigit():
        return len(file_id) <= 20
    allowed = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    return 0 < len(file_id) <= 64 and all(c in allowed for c in file_id)


def parse_file_url(url: str) -> FileUrl:
    """Parse what a sender put in `AttachmentPointer.url`; AttachmentError if it is not a file URL."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise AttachmentError("attachment URL is not a URL") from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise AttachmentError("attachment URL is not http(s)")
    segments = [s for s in parts.path.split("/") if s]
    if len(segments) != 2 or segments[0] != "file" or not _valid_id(segments[1]):
        raise AttachmentError("attachment URL is not a file server file (/file/<id>)")
    fragment = parse_qs(parts.fragment, keep_blank_values=True)
    pk = fragment.get("p", [None])[0]
    scheme = parts.scheme.lower()
    default_port = {"http": 80, "https": 443}[scheme]
    shown = f":{port}" if port and port != default_port else ""
    base = f"{scheme}://{parts.hostname.lower()}{shown}"
    return FileUrl(
        base=base,
        file_id=segments[1],
        deterministic="d" in fragment,
        server_ed25519=pk.lower() if pk else None,
    )
