"""Ed25519 group and scalar primitives that blinding needs (libsodium core/noclamp calls, XEd25519)."""

from __future__ import annotations

import hashlib

import nacl.bindings as sodium
import nacl.exceptions

from sessioncli.protocol.crypto import CryptoError

# The field prime of Curve25519/Ed25519.
_P = 2**255 - 19


def _need(name: str, value: bytes, length: int) -> None:
    if len(value) != length:
        raise CryptoError(f"{name} must be {length} bytes, got {len(value)}")


def sha512(data: bytes) -> bytes:
    return hashlib.sha512(data).digest()


def scalar_reduce(wide64: bytes) -> bytes:
    """A 64-byte little-endian number reduced mod L (the group order)."""
    _need("wide scalar", wide64, 64)
    return sodium.crypto_core_ed25519_scalar_reduce(wide64)


def scalar_mul(x: bytes, y: bytes) -> bytes:
    _need("scalar", x, 32)
    _need("scalar", y, 32)
    return sodium.crypto_core_ed25519_scalar_mul(x, y)


def scalar_add(x: bytes, y: bytes) -> bytes:
    _need("scalar", x, 32)
    _need("scalar", y, 32)
    return sodium.crypto_core_ed25519_scalar_add(x, y)


def scalar_negate(x: bytes) -> bytes:
    _need("scalar", x, 32)
    return sodium.crypto_core_ed25519_scalar_negate(x)


def base_mul_noclamp(scalar: bytes) -> bytes:
    """scalar·B without clamping (the scalar is used exactly as given)."""
    _need("scalar", scalar, 32)
    try:
        return sodium.crypto_scalarmult_ed25519_base_noclamp(scalar)
    except nacl.exceptions.CryptoError as exc:
        raise CryptoError("scalar multiplication gave the identity (zero scalar)") from exc


def point_mul_noclamp(scalar: bytes, point: bytes) -> bytes:
    """scalar·P without clamping; refuses points that are not valid or of small order."""
    _need("scalar", scalar, 32)
    _need("Ed25519 point", point, 32)
    try:
        return sodium.crypto_scalarmult_ed25519_noclamp(scalar, point)
    except nacl.exceptions.CryptoError as exc:
        raise CryptoError("not a usable Ed25519 point") from exc


def x25519_to_ed25519_positive(x_pk: bytes) -> bytes:
    """The Ed25519 point with sign bit 0 whose Montgomery u is `x_pk` (XEd25519: y=(u-1)/(u+1))."""
    _need("X25519 public key", x_pk, 32)
    u = int.from_bytes(x_pk, "little") & ((1 << 255) - 1)
    if (u + 1) % _P == 0:
        raise CryptoError("X25519 key has no Ed25519 counterpart (u = -1)")
    y = (u - 1) * pow(u + 1, _P - 2, _P) % _P
    return y.to_bytes(32, "little")  # bit 255 (the sign of x) stays 0: the positive point
