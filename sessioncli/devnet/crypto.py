"""The devnet's own crypto calls (keys, signatures, hashes, onion layers), written apart from the client."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from dataclasses import dataclass

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from nacl import bindings as sodium
from nacl.exceptions import CryptoError

AES_GCM = "aes-gcm"
XCHACHA20 = "xchacha20"
# enc_type spellings a storage server accepts for each cipher (SPEC §6.1).
ENC_TYPES = {
    "aes-gcm": AES_GCM,
    "gcm": AES_GCM,
    "xchacha20": XCHACHA20,
    "xchacha20-poly1305": XCHACHA20,
}

_ED25519_P = 2**255 - 19


class LayerError(Exception):
    """An onion layer could not be decrypted (wrong key, tampered bytes, too short)."""


@dataclass(frozen=True)
class NodeKeys:
    """A service node's identity: Ed25519 signing key and the X25519 key derived from it."""

    ed25519_seed: bytes
    ed25519_pk: bytes
    ed25519_sk: bytes
    x25519_pk: bytes
    x25519_sk: bytes

    @classmethod
    def from_seed(cls, seed32: bytes) -> NodeKeys:
        ed_pk, ed_sk = sodium.crypto_sign_seed_keypair(seed32)
        return cls(
            ed25519_seed=seed32,
            ed25519_pk=ed_pk,
            ed25519_sk=ed_sk,
            x25519_pk=sodium.crypto_sign_ed25519_pk_to_curve25519(ed_pk),
            x25519_sk=sodium.crypto_sign_ed25519_sk_to_curve25519(ed_sk),
        )

    def sign(self, message: bytes) -> bytes:
        return bytes(sodium.crypto_sign(message, self.ed25519_sk)[:64])


def blake2b(data: bytes, size: int = 32, key: bytes = b"") -> bytes:
    return hashlib.blake2b(data, digest_size=size, key=key).digest()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def verify_ed25519(signature: bytes, message: bytes, pubkey: bytes) -> bool:
    if len(signature) != 64 or len(pubkey) != 32:
        return False
    try:
        sodium.crypto_sign_open(signature + message, pubkey)
    except (CryptoError, ValueError):
        return False
    return True


def ed25519_to_x25519(pubkey: bytes) -> bytes | None:
    """The X25519 key a Session ID carries for this Ed25519 key, or None for a non-point."""
    try:
        return bytes(sodium.crypto_sign_ed25519_pk_to_curve25519(pubkey))
    except (CryptoError, ValueError):
        return None


def x25519_to_positive_ed25519(x_pk: bytes) -> bytes:
    """XEd25519: the Ed25519 point with sign bit 0 whose Montgomery u is `x_pk`."""
    u = int.from_bytes(x_pk, "little") & ((1 << 255) - 1)
    p = _ED25519_P
    y = (u - 1) * pow(u + 1, p - 2, p) % p
    return y.to_bytes(32, "little")


def message_hash(prefix: int, pubkey32: bytes, namespace: int, data: bytes) -> str:
    """The storage server's message hash (SPEC §4.4): unpadded base64 of BLAKE2b-32."""
    ns_part = str(namespace).encode("ascii") if namespace != 0 else b""
    digest = blake2b(bytes([prefix]) + pubkey32 + ns_part + data)
    return base64.b64encode(digest).decode("ascii").rstrip("=")


def layer_key(enc_type: str, node: NodeKeys, client_pk: bytes) -> bytes:
    """The symmetric key a hop shares with the client's ephemeral key for one onion layer."""
    try:
        shared = bytes(sodium.crypto_scalarmult(node.x25519_sk, client_pk))
    except (CryptoError, ValueError) as exc:  # a low-order point such as all zeros
        raise LayerError("unusable ephemeral key") from exc
    if enc_type == AES_GCM:
        return hmac.new(b"LOKI", shared, hashlib.sha256).digest()
    # Client key first, hop key second, whichever side computes it.
    return blake2b(shared + client_pk + node.x25519_pk)


def layer_decrypt(enc_type: str, key: bytes, ciphertext: bytes) -> bytes:
    try:
        if enc_type == AES_GCM:
            if len(ciphertext) < 12 + 16:
                raise LayerError("ciphertext too short")
            return AESGCM(key).decrypt(ciphertext[:12], ciphertext[12:], None)
        if len(ciphertext) < 24 + 16:
            raise LayerError("ciphertext too short")
        return bytes(
            sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(
                ciphertext[24:], None, ciphertext[:24], key
            )
        )
    except LayerError:
        raise
    except Exception as exc:  # AES-GCM raises InvalidTag, libsodium CryptoError
        raise LayerError("decryption failed") from exc


def layer_encrypt(enc_type: str, key: bytes, plaintext: bytes) -> bytes:
    if enc_type == AES_GCM:
        iv = os.urandom(12)
        return iv + AESGCM(key).encrypt(iv, plaintext, None)
    nonce = os.urandom(24)
    return nonce + bytes(
        sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(plaintext, None, nonce, key)
    )
