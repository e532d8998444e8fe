"""Attachment encryption: legacy AES-CBC+HMAC (checked with `cryptography` directly), size buckets,
and libsession's deterministic `S` format against every entry of the official size vectors."""

from __future__ import annotations

import hashlib
import hmac
import json
import math
from pathlib import Path

import nacl.bindings as sodium
import pytest
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from sessioncli.protocol import attachments as pa

VECTORS = json.loads(
    (
        Path(__file__).parent.parent / "data" / "libsession-util_test_attachment_encrypt.json"
    ).read_text()
)
SIZE_ENTRIES = [e for e in VECTORS["entries"] if "plaintext_size" in e["inputs"]]
GENERATOR = next(e for e in VECTORS["entries"] if "generator" in e["inputs"])
SEED = bytes.fromhex(GENERATOR["inputs"]["seed_hex"])


def generated(n: int) -> bytes:
    # the vectors' generator: data[i] = (i*7) % 256
    return bytes((i * 7) % 256 for i in range(256)) * (n // 256) + bytes(
        (i * 7) % 256 for i in range(n % 256)
    )


# --- legacy ------------------------------------------------------------------------------------


def independent_legacy_decrypt(blob: bytes, keys: bytes, digest: bytes) -> bytes:
    """Desktop's decryptAttachment, written again from SPEC §7 with `cryptography` only."""
    assert hashlib.sha256(blob).digest() == digest
    iv, ct, mac = blob[:16], blob[16:-32], blob[-32:]
    assert hmac.compare_digest(hmac.new(keys[32:], iv + ct, hashlib.sha256).digest(), mac)
    dec = Cipher(algorithms.AES(keys[:32]), modes.CBC(iv)).decryptor()
    unpadder = padding.PKCS7(128).unpadder()
    return unpadder.update(dec.update(ct) + dec.finalize()) + unpadder.finalize()


@pytest.mark.parametrize("size", [1, 2, 500, 541, 542, 4096, 100_000, 1_000_000])
def test_legacy_round_trip_padded_and_checked_independently(size: int) -> None:
    data = generated(size)
    enc = pa.legacy_encrypt(data)
    assert len(enc.key) == 64 and len(enc.digest) == 32
    assert len(enc.blob) == pa.legacy_encrypted_size(size)
    padded = independent_legacy_decrypt(enc.blob, enc.key, enc.digest)
    assert len(padded) == pa.padded_size(size) and padded[:size] == data
    assert padded[size:] == bytes(len(padded) - size)  # zero padding
    assert pa.legacy_decrypt(enc.blob, enc.key, enc.digest, size) == data


@pytest.mark.parametrize("size", [1, 541, 1_048_577, 3_000_001])
def test_sealed_upload_writes_the_same_blob_as_legacy_encrypt(size: int) -> None:
    """What goes into the onion buffer (written on demand) is the blob, MAC and digest included."""
    data = generated(size)
    keys, iv = bytes(range(64)), bytes(range(16))
    enc = pa.legacy_encrypt(data, keys=keys, iv=iv)
    sealed = pa.legacy_seal(data, keys=keys, iv=iv)
    assert len(sealed) == len(enc.blob) == pa.legacy_encrypted_size(size)
    out = bytearray(len(sealed))
    sealed.write_into(memoryview(out))
    assert out == enc.blob and sealed.digest == enc.digest
    assert independent_legacy_decrypt(bytes(out), keys, sealed.digest)[:size] == data
    with pytest.raises(pa.AttachmentError):
        sealed.write_into(memoryview(bytearray(len(sealed) + 1)))


def test_one_byte_and_500_bytes_upload_the_same_size() -> None:
    assert len(pa.legacy_encrypt(b"x").blob) == len(pa.legacy_encrypt(b"y" * 500).blob) == 592


def test_buckets_follow_desktop_formula() -> None:
    for n in [1, 541, 542, 1000, 12345, 999_999, 5_000_000, 9_523_809]:
        expected = max(541, math.floor(1.05 ** math.ceil(math.log(n) / math.log(1.05))))
        assert pa.padded_size(n) == max(n, min(expected, 10_000_000 - 64))
    # exact powers of 1.05 must never be cut below the data
    for k in range(130, 331):
        n = math.floor(1.05**k)
        assert pa.padded_size(n) >= n
    # capped (like desktop) so that the whole upload fits 10,000,000 bytes
    assert pa.padded_size(9_900_000) == 10_000_000 - 64
    assert pa.legacy_encrypted_size(9_900_000) == 10_000_000
    assert pa.legacy_encrypted_size(9_999_936) == 10_000_000
    assert pa.padded_size(10_000_000) == 10_000_000


@pytest.mark.parametrize("where", [0, 20, -40, -1])
def test_legacy_tampering_is_refused(where: int) -> None:
    enc = pa.legacy_encrypt(b"secret report")
    blob = bytearray(enc.blob)
    blob[where] ^= 1
    with pytest.raises(pa.AttachmentError):
        pa.legacy_decrypt(bytes(blob), enc.key, enc.digest, 13)


def test_legacy_wrong_digest_missing_digest_and_wrong_size() -> None:
    enc = pa.legacy_encrypt(b"abc")
    with pytest.raises(pa.AttachmentError, match="digest"):
        pa.legacy_decrypt(enc.blob, enc.key, bytes(32), 3)
    with pytest.raises(pa.AttachmentError, match="no digest"):
        pa.legacy_decrypt(enc.blob, enc.key, b"", 3)
    with pytest.raises(pa.AttachmentError, match="pointer says"):
        pa.legacy_decrypt(enc.blob, enc.key, enc.digest, 10_000)
    assert len(pa.legacy_decrypt(enc.blob, enc.key, enc.digest, None)) == 541  # untrimmed


# --- deterministic "S" -----------------------------------------------------------------------------


def independent_s_decrypt(blob: bytes, key: bytes) -> bytes:
    """libsession's decrypt, written again from SPEC §7 with nacl.bindings directly."""
    assert blob[:1] == b"S"
    state = sodium.crypto_secretstream_xchacha20poly1305_state()
    sodium.crypto_secretstream_xchacha20poly1305_init_pull(state, blob[1:25], key)
    plain, tags = b"", []
    for i in range(25, len(blob), 32768 + 17):
        m, tag = sodium.crypto_secretstream_xchacha20poly1305_pull(state, blob[i : i + 32785], None)
        plain += m
        tags.append(tag)
    assert tags[-1] == sodium.crypto_secretstream_xchacha20poly1305_TAG_FINAL
    assert all(t == 0 for t in tags[:-1])
    body = plain.lstrip(b"\x00")
    assert body[:1] == b"\x01"
    return body[1:]


@pytest.mark.parametrize(
    "entry", SIZE_ENTRIES, ids=[str(e["inputs"]["plaintext_size"]) for e in SIZE_ENTRIES]
)
def test_s_format_every_vector(entry: dict) -> None:
    n = entry["inputs"]["plaintext_size"]
    expected = entry["expected"]["encrypted_size"]
    assert pa.s_encrypted_size(n) == expected
    data = generated(n)
    enc = pa.s_encrypt(data, SEED, allow_large=n > pa.S_MAX_REGULAR)
    assert len(enc.blob) == expected
    # key and header are the keyed BLAKE2b of the data (SPEC §7), not random
    nonce_key = hashlib.blake2b(data, digest_size=56, key=SEED, person=b"SessionAttachmnt").digest()
    assert enc.blob[1:25] == nonce_key[:24] and enc.key == nonce_key[24:]
    assert independent_s_decrypt(enc.blob, enc.key) == data
    assert pa.s_decrypt(enc.blob, enc.key) == data


def test_s_format_refusals_and_domains() -> None:
    with pytest.raises(pa.AttachmentError, match="too large"):
        pa.s_encrypt(bytes(25_000_000), SEED)
    data = generated(5000)
    a = pa.s_encrypt(data, SEED)
    assert a == pa.s_encrypt(data, SEED)  # deterministic
    pic = pa.s_encrypt(data, SEED, profile_pic=True)
    assert pic.key != a.key
    with pytest.raises(pa.AttachmentError):
        pa.s_decrypt(a.blob, pic.key)  # wrong key
    for where in (0, 1, 30, len(a.blob) - 1):
        blob = bytearray(a.blob)
        blob[where] ^= 0x40
        with pytest.raises(pa.AttachmentError):
            pa.s_decrypt(bytes(blob), a.key)
    with pytest.raises(pa.AttachmentError):
        pa.s_decrypt(a.blob[:-100], a.key)  # truncated: no FINAL
    with pytest.raises(pa.AttachmentError):
        pa.s_decrypt(a.blob + b"x" * 40, a.key)


def test_profile_picture_round_trip() -> None:
    key = bytes(range(32))
    blob = pa.profile_encrypt(b"\x89PNG...", key)
    assert pa.profile_decrypt(blob, key) == b"\x89PNG..."
    s = pa.s_encrypt(b"picture", SEED, profile_pic=True)
    assert pa.profile_decrypt(s.blob, s.key) == b"picture"


def test_download_cap_covers_the_blob() -> None:
    for n in (1, 541, 1_000_000, 9_900_000):
        assert pa.max_download_bytes(n, deterministic=False) >= pa.legacy_encrypted_size(n)
        assert pa.max_download_bytes(n, deterministic=True) >= pa.s_encrypted_size(n)
    assert pa.max_download_bytes(None, deterministic=False) < 10_100_000
    assert pa.max_download_bytes(2**31, deterministic=True) < 10_300_000
