"""Test-side groups-v2 member authentication, written here from GROUPS-V2.md §4.3 with nacl only:
the admin's memberAuthData, the subaccount token and the member's subaccount signature."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass

from nacl import bindings as sodium

from tests.devnet.wire import Account, RawKeyAccount

READ, WRITE, DELETE, ANY_PREFIX = 1, 2, 4, 8


def _blake2b(data: bytes, size: int, key: bytes = b"") -> bytes:
    return hashlib.blake2b(data, digest_size=size, key=key).digest()


def _xed25519(x_pk: bytes) -> bytes:
    """The Edwards point (sign bit 0) whose Montgomery u is `x_pk`: y = (u - 1) / (u + 1)."""
    p = 2**255 - 19
    u = int.from_bytes(x_pk, "little")
    return ((u - 1) * pow(u + 1, p - 2, p) % p).to_bytes(32, "little")


def member_auth_data(group: RawKeyAccount, member: Account, flags: int, prefix: int = 3) -> bytes:
    """What the admin sends in the invite: prefix || flags || 0000 || k || group signature."""
    mask_key = _blake2b(group.seed, 32, key=b"SessionGroupSubaccountMask")
    k = sodium.crypto_core_ed25519_scalar_reduce(
        _blake2b(b"\x05" + member.x_pk + b"\x03" + group.ed_pk, 64, key=mask_key)
    )
    kt = sodium.crypto_scalarmult_ed25519_noclamp(k, _xed25519(member.x_pk))
    head = bytes([prefix, flags, 0, 0])
    return head + k + sodium.crypto_sign(head + kt, group.ed_sk)[:64]


@dataclass(frozen=True)
class Subaccount:
    """A member acting on the group's account through its subaccount token."""

    member: Account
    seed: bytes
    auth_data: bytes

    @property
    def k(self) -> bytes:
        return self.auth_data[4:36]

    @property
    def token(self) -> bytes:
        own = bytearray(self.member.ed_pk)
        own[31] &= 0x7F
        kt = sodium.crypto_scalarmult_ed25519_noclamp(self.k, bytes(own))
        return self.auth_data[:4] + kt

    def params(self, signed: str) -> dict[str, str]:
        """`subaccount`, `subaccount_sig` and `signature` (by the subaccount key) for `signed`."""
        return {
            "subaccount": base64.b64encode(self.token).decode(),
            "subaccount_sig": base64.b64encode(self.auth_data[36:100]).decode(),
            "signature": base64.b64encode(self.sign(signed.encode())).decode(),
        }

    def sign(self, message: bytes) -> bytes:
        kt_point = self.token[4:]
        a = bytearray(hashlib.sha512(self.seed).digest()[:32])
        a[0] &= 248
        a[31] &= 63
        a[31] |= 64
        scalar = sodium.crypto_core_ed25519_scalar_reduce(bytes(a) + b"\x00" * 32)
        if self.member.ed_pk[31] & 0x80:
            scalar = sodium.crypto_core_ed25519_scalar_negate(scalar)
        kt_scalar = sodium.crypto_core_ed25519_scalar_mul(self.k, scalar)
        nonce_key = _blake2b(self.seed, 32, key=b"SubaccountSeed")
        r = sodium.crypto_core_ed25519_scalar_reduce(
            _blake2b(nonce_key + kt_point + message, 64, key=b"SubaccountSig")
        )
        big_r = sodium.crypto_scalarmult_ed25519_base_noclamp(r)
        h = sodium.crypto_core_ed25519_scalar_reduce(
            hashlib.sha512(big_r + kt_point + message).digest()
        )
        s = sodium.crypto_core_ed25519_scalar_add(
            r, sodium.crypto_core_ed25519_scalar_mul(h, kt_scalar)
        )
        return big_r + s


def make_member(label: str, group: RawKeyAccount, flags: int, prefix: int = 3) -> Subaccount:
    member = Account.make(label)
    seed = hashlib.blake2b(label.encode(), digest_size=32).digest()  # Account.make's seed
    return Subaccount(member, seed, member_auth_data(group, member, flags, prefix))
