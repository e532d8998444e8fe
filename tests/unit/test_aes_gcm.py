"""AES-256-GCM through libsodium gives exactly the bytes `cryptography` gives, and refuses the same."""

from __future__ import annotations

import os
import platform

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from sessioncli.protocol import crypto


@pytest.mark.skipif(
    platform.machine() not in ("x86_64", "AMD64"),
    reason="libsodium's AES-GCM needs AES-NI; elsewhere `cryptography` does it (same bytes)",
)
def test_libsodium_is_used_on_x86_64() -> None:
    assert crypto._sodium_gcm() is not None


@pytest.mark.parametrize("size", [0, 1, 15, 16, 17, 1000, 70_000])
def test_same_bytes_both_ways(size: int) -> None:
    key, iv, plain = os.urandom(32), os.urandom(12), os.urandom(size)
    sealed = crypto.aes_gcm_encrypt(key, plain, iv)
    assert sealed == iv + AESGCM(key).encrypt(iv, plain, None)
    assert crypto.aes_gcm_decrypt(key, sealed) == plain
    other = os.urandom(12)
    assert crypto.aes_gcm_decrypt(key, other + AESGCM(key).encrypt(other, plain, None)) == plain


def test_tampering_and_wrong_keys_are_refused() -> None:
    key = os.urandom(32)
    sealed = bytearray(crypto.aes_gcm_encrypt(key, b"hello onion"))
    sealed[-1] ^= 1
    with pytest.raises(crypto.CryptoError):
        crypto.aes_gcm_decrypt(key, bytes(sealed))
    with pytest.raises(crypto.CryptoError):
        crypto.aes_gcm_decrypt(os.urandom(32), crypto.aes_gcm_encrypt(key, b"x"))
    with pytest.raises(crypto.CryptoError):
        crypto.aes_gcm_decrypt(key, b"\0" * 27)
