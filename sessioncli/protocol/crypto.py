"""Every cryptographic primitive the client uses, with exact-length checks (the only nacl importer)."""

from __future__ import annotations

import hashlib
import hmac
import os
from typing import Any

import nacl.bindings as sodium
import nacl.exceptions


class CryptoError(Exception):
    """A primitive refused its input (bad key, failed authentication, bad signature)."""


def _need(name: str, value: bytes, length: int) -> None:
    if len(value) != length:
        raise CryptoError(f"{name} must be {length} bytes, got {len(value)}")


# --- hashing ---------------------------------------------------------------------------------


def blake2b(
    data: bytes, size: int = 32, key: bytes = b"", salt: bytes = b"", person: bytes = b""
) -> bytes:
    return hashlib.blake2b(data, digest_size=size, key=key, salt=salt, person=person).digest()


def hmac_sha256(key: bytes, msg: bytes) -> bytes:
    return hmac.new(key, msg, hashlib.sha256).digest()


def random_bytes(n: int) -> bytes:
    return os.urandom(n)


# --- Ed25519 / X25519 ------------------------------------------------------------------------


def ed25519_keypair_from_seed(seed32: bytes) -> tuple[bytes, bytes]:
    """(public key 32, secret key 64 = seed || pk)."""
    _need("Ed25519 seed", seed32, 32)
    pk, sk = sodium.crypto_sign_seed_keypair(seed32)
    return pk, sk


def ed25519_pk_to_x25519(ed_pk: bytes) -> bytes:
    _need("Ed25519 public key", ed_pk, 32)
    try:
        return sodium.crypto_sign_ed25519_pk_to_curve25519(ed_pk)
    except nacl.exceptions.CryptoError as exc:
        raise CryptoError("not a valid Ed25519 public key") from exc


def ed25519_sk_to_x25519(ed_sk: bytes) -> bytes:
    _need("Ed25519 secret key", ed_sk, 64)
    return sodium.crypto_sign_ed25519_sk_to_curve25519(ed_sk)


def sign(ed_sk: bytes, message: bytes) -> bytes:
    """Detached Ed25519 signature (64 bytes)."""
    _need("Ed25519 secret key", ed_sk, 64)
    return sodium.crypto_sign(message, ed_sk)[:64]


def verify(ed_pk: bytes, message: bytes, signature: bytes) -> bool:
    if len(ed_pk) != 32 or len(signature) != 64:
        return False
    try:
        sodium.crypto_sign_open(signature + message, ed_pk)
    except (nacl.exceptions.BadSignatureError, nacl.exceptions.CryptoError, ValueError):
        return False
    return True


def x25519_keypair() -> tuple[bytes, bytes]:
    """A fresh (public, secret) X25519 keypair."""
    pk, sk = sodium.crypto_box_keypair()
    return pk, sk


def x25519_public(sk: bytes) -> bytes:
    _need("X25519 secret key", sk, 32)
    return sodium.crypto_scalarmult_base(sk)


def x25519(sk: bytes, pk: bytes) -> bytes:
    _need("X25519 secret key", sk, 32)
    _need("X25519 public key", pk, 32)
    try:
        return sodium.crypto_scalarmult(sk, pk)
    except nacl.exceptions.CryptoError as exc:
        raise CryptoError("X25519 failed (low-order point)") from exc


# --- group primitives (Session groups v2: GROUPS-V2.md §3-§4) ---------------------------------

_P25519 = 2**255 - 19


def sha512(data: bytes) -> bytes:
    return hashlib.sha512(data).digest()


def ed25519_secret_scalar(ed_sk: bytes) -> bytes:
    """The clamped Ed25519 signing scalar a = clamp(SHA-512(seed)[:32]) (libsodium sk_to_curve25519)."""
    return ed25519_sk_to_x25519(ed_sk)


def x25519_pk_to_ed25519(x_pk: bytes) -> bytes:
    """XEd25519: the Ed25519 point with y = (u-1)/(u+1) and sign bit 0 for an X25519 key u."""
    _need("X25519 public key", x_pk, 32)
    u = int.from_bytes(x_pk, "little") & ((1 << 255) - 1)
    if (u + 1) % _P25519 == 0:
        raise CryptoError("X25519 public key has no Ed25519 form")
    y = (u - 1) * pow(u + 1, _P25519 - 2, _P25519) % _P25519
    return y.to_bytes(32, "little")


def scalar_reduce(wide: bytes) -> bytes:
    """A 64-byte little-endian value mod L (32 bytes)."""
    _need("wide scalar", wide, 64)
    return sodium.crypto_core_ed25519_scalar_reduce(wide)


def scalar_mul(a: bytes, b: bytes) -> bytes:
    _need("scalar", a, 32)
    _need("scalar", b, 32)
    return sodium.crypto_core_ed25519_scalar_mul(a, b)


def scalar_add(a: bytes, b: bytes) -> bytes:
    _need("scalar", a, 32)
    _need("scalar", b, 32)
    return sodium.crypto_core_ed25519_scalar_add(a, b)


def scalar_negate(a: bytes) -> bytes:
    _need("scalar", a, 32)
    return sodium.crypto_core_ed25519_scalar_negate(a)


def ed25519_point_mul(scalar: bytes, point: bytes) -> bytes:
    """scalar * point on Ed25519 without clamping (crypto_scalarmult_ed25519_noclamp)."""
    _need("scalar", scalar, 32)
    _need("Ed25519 point", point, 32)
    try:
        return sodium.crypto_scalarmult_ed25519_noclamp(scalar, point)
    except nacl.exceptions.CryptoError as exc:
        raise CryptoError("Ed25519 scalar multiplication failed (invalid point)") from exc


def ed25519_base_mul(scalar: bytes) -> bytes:
    """scalar * B without clamping."""
    _need("scalar", scalar, 32)
    return sodium.crypto_scalarmult_ed25519_base_noclamp(scalar)


def deterministic_random(size: int, seed: bytes) -> bytes:
    """libsodium's randombytes_buf_deterministic (ChaCha20 keyed by `seed`)."""
    _need("random seed", seed, 32)
    return sodium.randombytes_buf_deterministic(size, seed)


def xchacha20_seal(key: bytes, nonce: bytes, plaintext: bytes) -> bytes:
    """XChaCha20-Poly1305-IETF ciphertext||tag with a caller-chosen nonce and no AD."""
    _need("XChaCha20 key", key, 32)
    _need("XChaCha20 nonce", nonce, 24)
    return sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(plaintext, None, nonce, key)


def xchacha20_open(key: bytes, nonce: bytes, ciphertext: bytes) -> bytes:
    _need("XChaCha20 key", key, 32)
    _need("XChaCha20 nonce", nonce, 24)
    if len(ciphertext) < 16:
        raise CryptoError("XChaCha20 ciphertext too short")
    try:
        return sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(ciphertext, None, nonce, key)
    except nacl.exceptions.CryptoError as exc:
        raise CryptoError("XChaCha20-Poly1305 authentication failed") from exc


# --- sealed boxes ----------------------------------------------------------------------------


def box_seal(plaintext: bytes, recipient_x_pk: bytes) -> bytes:
    _need("X25519 public key", recipient_x_pk, 32)
    return sodium.crypto_box_seal(plaintext, recipient_x_pk)


def box_seal_deterministic(plaintext: bytes, recipient_x_pk: bytes, eph_seed: bytes) -> bytes:
    """crypto_box_seal with the ephemeral keypair derived from `eph_seed` (tests only)."""
    _need("X25519 public key", recipient_x_pk, 32)
    _need("ephemeral seed", eph_seed, 32)
    eph_pk, eph_sk = sodium.crypto_box_seed_keypair(eph_seed)
    nonce = blake2b(eph_pk + recipient_x_pk, size=24)
    return eph_pk + sodium.crypto_box(plaintext, nonce, recipient_x_pk, eph_sk)


def box_seal_open(ciphertext: bytes, x_pk: bytes, x_sk: bytes) -> bytes:
    try:
        return sodium.crypto_box_seal_open(ciphertext, x_pk, x_sk)
    except (nacl.exceptions.CryptoError, ValueError, TypeError) as exc:
        raise CryptoError("sealed box could not be opened") from exc


# --- AEADs used by onion layers --------------------------------------------------------------


def xchacha20_encrypt(key: bytes, plaintext: bytes, nonce: bytes | None = None) -> bytes:
    """nonce(24) || XChaCha20-Poly1305-IETF(plaintext)."""
    _need("XChaCha20 key", key, 32)
    nonce = nonce if nonce is not None else os.urandom(24)
    _need("XChaCha20 nonce", nonce, 24)
    ct = sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(plaintext, None, nonce, key)
    return nonce + ct


def xchacha20_decrypt(key: bytes, data: bytes | bytearray | memoryview) -> bytes:
    _need("XChaCha20 key", key, 32)
    data = bytes(data)  # PyNaCl takes bytes only (onion bodies are bytearrays); small layers only
    if len(data) < 24 + 16:
        raise CryptoError("XChaCha20 ciphertext too short")
    try:
        return sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(data[24:], None, data[:24], key)
    except nacl.exceptions.CryptoError as exc:
        raise CryptoError("XChaCha20-Poly1305 authentication failed") from exc


def aes_gcm_encrypt(key: bytes, plaintext: bytes, iv: bytes | None = None) -> bytes:
    """iv(12) || AES-256-GCM(plaintext) || tag(16)."""
    _need("AES-GCM key", key, 32)
    iv = iv if iv is not None else os.urandom(12)
    _need("AES-GCM iv", iv, 12)
    if _sodium_gcm() is not None:
        return iv + _sodium_gcm_encrypt(key, iv, plaintext)
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    return iv + AESGCM(key).encrypt(iv, plaintext, None)


def aes_gcm_decrypt(key: bytes, data: bytes) -> bytes:
    _need("AES-GCM key", key, 32)
    if len(data) < 12 + 16:
        raise CryptoError("AES-GCM ciphertext too short")
    if _sodium_gcm() is not None:
        return _sodium_gcm_decrypt(key, data[:12], data[12:])
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    try:
        return AESGCM(key).decrypt(data[:12], data[12:], None)
    except InvalidTag as exc:
        raise CryptoError("AES-GCM authentication failed") from exc


# AES-256-GCM from the libsodium PyNaCl already loaded, where the CPU has the instructions it
# needs (crypto_aead_aes256gcm_is_available): every onion layer is AES-GCM, and importing
# `cryptography` for it cost each send ~20-40 ms of start-up (more than its onion round trip on
# the devnet). PyNaCl does not wrap these functions, so they are called through its cffi module;
# without it (or without the CPU support) `cryptography` does it, with the same bytes.
_GCM: list[Any] = []


def _sodium_gcm() -> Any:
    if not _GCM:
        try:
            from nacl._sodium import ffi, lib  # type: ignore[import-not-found]

            ok = lib.crypto_aead_aes256gcm_is_available() == 1
        except (ImportError, AttributeError):
            ok = False
        _GCM.append((ffi, lib) if ok else None)
    return _GCM[0]


def _sodium_gcm_encrypt(key: bytes, iv: bytes, plaintext: bytes) -> bytes:
    ffi, lib = _sodium_gcm()
    plaintext = bytes(plaintext)  # cffi takes bytes for a char pointer, not a bytearray
    out = ffi.new("unsigned char[]", len(plaintext) + 16)
    out_len = ffi.new("unsigned long long *")
    rc = lib.crypto_aead_aes256gcm_encrypt(
        out, out_len, plaintext, len(plaintext), ffi.NULL, 0, ffi.NULL, iv, key
    )
    if rc != 0:
        raise CryptoError("AES-GCM encryption failed")
    return bytes(ffi.buffer(out, out_len[0]))


def _sodium_gcm_decrypt(key: bytes, iv: bytes, sealed: bytes) -> bytes:
    ffi, lib = _sodium_gcm()
    sealed, iv = bytes(sealed), bytes(iv)
    out = ffi.new("unsigned char[]", max(1, len(sealed) - 16))
    out_len = ffi.new("unsigned long long *")
    rc = lib.crypto_aead_aes256gcm_decrypt(
        out, out_len, ffi.NULL, sealed, len(sealed), ffi.NULL, 0, iv, key
    )
    if rc != 0:
        raise CryptoError("AES-GCM authentication failed")
    return bytes(ffi.buffer(out, out_len[0]))


# --- the same AEADs in place (large onion layers: one buffer for the whole request) ----------

Buffer = bytes | bytearray | memoryview
AEAD_FRAMING = {"aes-gcm": (12, 16), "xchacha20": (24, 16)}  # (nonce before, tag after)
_CHUNK = 1 << 18  # what is copied at a time while a buffer is encrypted where it lies
_SODIUM_IN_PLACE_MAX = 1 << 20  # up to this, a layer is sealed by libsodium with one copy


def aes_gcm_seal_in_place(key: bytes, buf: memoryview, iv: bytes | None = None) -> None:
    """`buf` = room for iv(12) || plaintext || room for tag(16): the same bytes as
    `aes_gcm_encrypt(key, plaintext, iv)`, produced where the plaintext lies.

    The plaintext is read a chunk at a time into a copy, so that the cipher's input and output
    never alias; a large layer costs one chunk, not a second copy of itself.
    """
    _need("AES-GCM key", key, 32)
    iv = iv if iv is not None else os.urandom(12)
    _need("AES-GCM iv", iv, 12)
    end = len(buf) - 16
    if end < 12:
        raise CryptoError("AES-GCM buffer has no room for its iv and tag")
    buf[:12] = iv
    if end - 12 <= _SODIUM_IN_PLACE_MAX and _sodium_gcm() is not None:
        # a small layer (every snode request): libsodium, one copy of the layer, and no
        # `cryptography` import on the send path
        buf[12:] = _sodium_gcm_encrypt(key, iv, bytes(buf[12:end]))
        return
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    enc = Cipher(algorithms.AES(key), modes.GCM(iv)).encryptor()
    for start in range(12, end, _CHUNK):
        stop = min(start + _CHUNK, end)
        enc.update_into(bytes(buf[start:stop]), buf[start:stop])
    enc.finalize()
    buf[end:] = enc.tag


def xchacha20_seal_in_place(key: bytes, buf: memoryview, nonce: bytes | None = None) -> None:
    """`buf` = room for nonce(24) || plaintext || room for tag(16), as `xchacha20_encrypt`.

    PyNaCl has no in-place AEAD: this copies the layer once (only small requests use it).
    """
    _need("XChaCha20 key", key, 32)
    nonce = nonce if nonce is not None else os.urandom(24)
    _need("XChaCha20 nonce", nonce, 24)
    if len(buf) < 40:
        raise CryptoError("XChaCha20 buffer has no room for its nonce and tag")
    plain = bytes(buf[24:-16])
    buf[:24] = nonce
    buf[24:] = sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(plain, None, nonce, key)


class AesGcmReader:
    """AES-256-GCM decryption of `iv(12) || ciphertext || tag(16)`, read a piece at a time.

    A large part of the plaintext (a downloaded file inside a v4 reply) then comes out as one
    bytes object, without the whole plaintext held beside it. Nothing taken is authentic
    until `finish()` has returned.
    """

    def __init__(self, key: bytes, data: Buffer) -> None:
        from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

        _need("AES-GCM key", key, 32)
        if len(data) < 12 + 16:
            raise CryptoError("AES-GCM ciphertext too short")
        self._view = memoryview(data)
        self._pos, self._end = 12, len(self._view) - 16
        self._dec = Cipher(algorithms.AES(key), modes.GCM(bytes(self._view[:12]))).decryptor()

    def left(self) -> int:
        return self._end - self._pos

    def take(self, n: int) -> bytes:
        """The next min(n, left()) plaintext bytes."""
        stop = min(self._end, self._pos + max(0, n))
        out = self._dec.update(self._view[self._pos : stop])
        self._pos = stop
        return out

    def take_into(self, n: int) -> bytearray:
        """`take`, into a fresh buffer: `update()` would build its result in a scratch buffer
        first (twice the size for a moment), `update_into` writes it where it stays."""
        stop = min(self._end, self._pos + max(0, n))
        out = bytearray(stop - self._pos)
        self._dec.update_into(self._view[self._pos : stop], out)
        self._pos = stop
        return out

    def finish(self) -> None:
        """Decrypt (and drop) whatever was not taken, then check the tag (CryptoError if bad)."""
        from cryptography.exceptions import InvalidTag

        while self.left():
            self.take(_CHUNK)
        try:
            self._dec.finalize_with_tag(bytes(self._view[self._end :]))
        except InvalidTag as exc:
            raise CryptoError("AES-GCM authentication failed") from exc


# --- certificates (seed pinning) -------------------------------------------------------------


def cert_spki_sha256_b64(cert_der: bytes) -> str:
    """base64(SHA-256(DER SubjectPublicKeyInfo)) of an X.509 certificate (the seed-pin check)."""
    import base64

    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    try:
        cert = x509.load_der_x509_certificate(cert_der)
    except ValueError as exc:
        raise CryptoError("not a DER X.509 certificate") from exc
    spki = cert.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(hashlib.sha256(spki).digest()).decode("ascii")
