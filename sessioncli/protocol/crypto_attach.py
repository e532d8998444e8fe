"""The primitives attachments need (AES-256-CBC, SHA-256, secretstream), with exact-length checks."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Iterator

import nacl.bindings as sodium
import nacl.exceptions

from sessioncli.protocol.crypto import CryptoError

SECRETSTREAM_HEADER = 24
SECRETSTREAM_KEY = 32
SECRETSTREAM_ABYTES = 17
TAG_MESSAGE = 0
TAG_FINAL = 3


def _need(name: str, value: bytes, length: int) -> None:
    if len(value) != length:
        raise CryptoError(f"{name} must be {length} bytes, got {len(value)}")


Bytes = bytes | bytearray | memoryview  # large files are handled without copies


def sha256(data: Bytes) -> bytes:
    return hashlib.sha256(data).digest()


def hmac_sha256(key: bytes, data: Bytes) -> bytes:
    return hmac.new(key, data, hashlib.sha256).digest()


def equal(a: bytes, b: bytes) -> bool:
    """Constant-time comparison (MACs and digests)."""
    return hmac.compare_digest(a, b)


def aes_cbc_encrypt(key: bytes, iv: bytes, plaintext: bytes) -> bytes:
    """AES-256-CBC with PKCS#7 padding (what WebCrypto's AES-CBC does)."""
    from cryptography.hazmat.primitives import padding
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    _need("AES key", key, 32)
    _need("AES-CBC iv", iv, 16)
    padder = padding.PKCS7(128).padder()
    padded = padder.update(plaintext) + padder.finalize()
    enc = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    return enc.update(padded) + enc.finalize()


def aes_cbc_padded_pieces(
    key: bytes, iv: bytes, plaintext: Bytes, padded_len: int
) -> Iterator[memoryview]:
    """AES-256-CBC-PKCS#7(plaintext || zeros to padded_len), a piece (about 1 MiB) at a time.

    Joined, the same bytes as `aes_cbc_encrypt(key, iv, padded)`; a large file is hashed, or
    written where it is sent from, without a whole ciphertext held aside. Each piece is a view
    of one scratch buffer, valid until the next one is asked for (copy it to keep it).
    """
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    _need("AES key", key, 32)
    _need("AES-CBC iv", iv, 16)
    if padded_len < len(plaintext):
        raise CryptoError("padded length is shorter than the plaintext")
    enc = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    step = 1 << 20  # a multiple of the block size
    scratch = memoryview(bytearray(step + 16))  # update_into wants a block of room to spare

    def piece(data: Bytes) -> memoryview:
        return scratch[: enc.update_into(data, scratch)]

    view = memoryview(plaintext)
    for start in range(0, len(view), step):
        yield piece(view[start : start + step])
    zeros = padded_len - len(view)
    zero = memoryview(bytes(min(step, zeros)))
    for start in range(0, zeros, step):
        yield piece(zero[: min(step, zeros - start)])
    pkcs = 16 - padded_len % 16
    yield piece(bytes([pkcs]) * pkcs)
    if enc.finalize():  # the input was block-aligned: nothing is left over
        raise CryptoError("AES-CBC produced an unexpected length")


def mac_and_digest(mac_key: bytes, pieces: Iterable[Bytes]) -> tuple[bytes, bytes]:
    """(HMAC-SHA256(mac_key, pieces), SHA-256(pieces || that MAC)): a legacy attachment's
    MAC and digest, streamed over its pieces."""
    mac = hmac.new(mac_key, digestmod=hashlib.sha256)
    digest = hashlib.sha256()
    for piece in pieces:
        mac.update(piece)
        digest.update(piece)
    tag = mac.digest()
    digest.update(tag)
    return tag, digest.digest()


def aes_cbc_decrypt_into(key: bytes, iv: bytes, ciphertext: memoryview) -> bytearray:
    """AES-256-CBC-PKCS#7 decryption into one buffer (no intermediate copies of a large file)."""
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    _need("AES key", key, 32)
    _need("AES-CBC iv", iv, 16)
    if not len(ciphertext) or len(ciphertext) % 16:
        raise CryptoError("AES-CBC ciphertext is not a whole number of blocks")
    out = bytearray(len(ciphertext) + 15)
    dec = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
    n = dec.update_into(ciphertext, out)
    n += len(dec.finalize())
    pad = out[n - 1] if n else 0
    if not 1 <= pad <= 16 or pad > n or any(b != pad for b in out[n - pad : n]):
        raise CryptoError("AES-CBC padding is invalid")
    del out[n - pad :]
    return out


def aes_cbc_decrypt(key: bytes, iv: bytes, ciphertext: bytes) -> bytes:
    from cryptography.hazmat.primitives import padding
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    _need("AES key", key, 32)
    _need("AES-CBC iv", iv, 16)
    if not ciphertext or len(ciphertext) % 16:
        raise CryptoError("AES-CBC ciphertext is not a whole number of blocks")
    dec = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
    padded = dec.update(ciphertext) + dec.finalize()
    unpadder = padding.PKCS7(128).unpadder()
    try:
        return unpadder.update(padded) + unpadder.finalize()
    except ValueError as exc:
        raise CryptoError("AES-CBC padding is invalid") from exc


class SecretStream:
    """crypto_secretstream_xchacha20poly1305 from a given header (deterministic) and key.

    libsodium's init_pull derives exactly the state init_push would have produced for that
    header, so the same state serves both directions: libsession's deterministic encryption
    picks the header itself (from a hash of the file) instead of at random.
    """

    def __init__(self, key: bytes, header: bytes) -> None:
        _need("secretstream key", key, SECRETSTREAM_KEY)
        _need("secretstream header", header, SECRETSTREAM_HEADER)
        self._state = sodium.crypto_secretstream_xchacha20poly1305_state()
        sodium.crypto_secretstream_xchacha20poly1305_init_pull(self._state, header, key)

    def push(self, chunk: bytes, *, final: bool) -> bytes:
        tag = TAG_FINAL if final else TAG_MESSAGE
        out: bytes = sodium.crypto_secretstream_xchacha20poly1305_push(
            self._state, chunk, None, tag
        )
        return out

    def pull(self, chunk: bytes) -> tuple[bytes, int]:
        """(plaintext, tag); CryptoError when the chunk does not authenticate."""
        try:
            plain, tag = sodium.crypto_secretstream_xchacha20poly1305_pull(self._state, chunk, None)
        except (nacl.exceptions.CryptoError, ValueError, RuntimeError) as exc:
            raise CryptoError("secretstream chunk failed authentication") from exc
        return bytes(plain), int(tag)
