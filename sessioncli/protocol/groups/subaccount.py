"""Group member (subaccount) storage auth: memberAuthData, tokens and request signatures (GROUPS-V2.md §4.3)."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Final

from sessioncli.protocol import crypto
from sessioncli.protocol.ids import x25519_pubkey_of

AUTH_DATA_LEN: Final = 100
TOKEN_LEN: Final = 36
FLAG_READ: Final = 0x01
FLAG_WRITE: Final = 0x02
FLAG_DELETE: Final = 0x04
FLAG_ANY_PREFIX: Final = 0x08
NETWORK_PREFIX: Final = 0x03


class SubaccountError(ValueError):
    """Auth data or a key that cannot be used for subaccount signing."""


def flags(*, write: bool, delete: bool) -> int:
    return FLAG_READ | (FLAG_WRITE if write else 0) | (FLAG_DELETE if delete else 0)


def blind_factor(group_seed: bytes, group_pk: bytes, member_x_pk: bytes) -> bytes:
    """k = BLAKE2b-64(0x05 || X || 0x03 || group pk, key = BLAKE2b-32(seed, "SessionGroupSubaccountMask")) mod L."""
    mask = crypto.blake2b(group_seed, 32, key=b"SessionGroupSubaccountMask")
    wide = crypto.blake2b(b"\x05" + member_x_pk + b"\x03" + group_pk, 64, key=mask)
    return crypto.scalar_reduce(wide)


def _blinded_pubkey(group_sk: bytes, member_session_id: str) -> tuple[bytes, bytes]:
    x = x25519_pubkey_of(member_session_id)
    k = blind_factor(group_sk[:32], group_sk[32:], x)
    return k, crypto.ed25519_point_mul(k, crypto.x25519_pk_to_ed25519(x))


def make_auth_data(
    group_sk: bytes, member_session_id: str, *, write: bool = True, delete: bool = False
) -> bytes:
    """The 100-byte memberAuthData an admin puts in an invite: prefix, flags, k, group signature."""
    if len(group_sk) != 64:
        raise SubaccountError("the group secret key must be 64 bytes")
    k, kt = _blinded_pubkey(group_sk, member_session_id)
    head = bytes([NETWORK_PREFIX, flags(write=write, delete=delete), 0, 0])
    return head + k + crypto.sign(group_sk, head + kt)


def make_token(
    group_sk: bytes, member_session_id: str, *, write: bool = True, delete: bool = False
) -> bytes:
    """The 36-byte token (prefix, flags, kT) an admin revokes to cut a member off."""
    _, kt = _blinded_pubkey(group_sk, member_session_id)
    return bytes([NETWORK_PREFIX, flags(write=write, delete=delete), 0, 0]) + kt


@dataclass(frozen=True)
class SubaccountAuth:
    """The three request parameters (raw bytes); `*_b64` give the base64 the storage server takes."""

    subaccount: bytes
    subaccount_sig: bytes
    signature: bytes = field(repr=False)

    def as_params(self) -> dict[str, str]:
        return {
            "subaccount": base64.b64encode(self.subaccount).decode(),
            "subaccount_sig": base64.b64encode(self.subaccount_sig).decode(),
            "signature": base64.b64encode(self.signature).decode(),
        }


def _own_blinded(auth_data: bytes, user_ed_sk: bytes) -> tuple[bytes, bytes, bool]:
    if len(auth_data) != AUTH_DATA_LEN:
        raise SubaccountError("memberAuthData must be 100 bytes")
    k = auth_data[4:36]
    t = bytearray(user_ed_sk[32:])
    negative = bool(t[31] & 0x80)
    t[31] &= 0x7F
    return k, crypto.ed25519_point_mul(k, bytes(t)), negative


def sign_request(message: bytes, auth_data: bytes, user_ed_sk: bytes) -> SubaccountAuth:
    """Sign a storage request string as a member: an Ed25519 signature valid under kT."""
    k, kt, negative = _own_blinded(auth_data, user_ed_sk)
    token = auth_data[:4] + kt
    a = crypto.ed25519_secret_scalar(user_ed_sk)
    if negative:
        a = crypto.scalar_negate(a)
    ka = crypto.scalar_mul(k, a)
    seed_hash = crypto.blake2b(user_ed_sk[:32], 32, key=b"SubaccountSeed")
    r = crypto.scalar_reduce(crypto.blake2b(seed_hash + kt + message, 64, key=b"SubaccountSig"))
    big_r = crypto.ed25519_base_mul(r)
    h = crypto.scalar_reduce(crypto.sha512(big_r + kt + message))
    s = crypto.scalar_add(crypto.scalar_mul(h, ka), r)
    return SubaccountAuth(token, auth_data[36:], big_r + s)


def verify_auth_data(
    group_pk: bytes,
    user_ed_sk: bytes,
    auth_data: bytes,
    *,
    write: bool = False,
    delete: bool = False,
) -> bool:
    """Whether auth data given to us is usable: prefix/flags, and the group's signature over it."""
    if len(auth_data) != AUTH_DATA_LEN:
        return False
    prefix, flag = auth_data[0], auth_data[1]
    if prefix != NETWORK_PREFIX and not flag & FLAG_ANY_PREFIX:
        return False
    if (
        not flag & FLAG_READ
        or (write and not flag & FLAG_WRITE)
        or (delete and not flag & FLAG_DELETE)
    ):
        return False
    try:
        _, kt, _ = _own_blinded(auth_data, user_ed_sk)
    except crypto.CryptoError:
        return False
    return crypto.verify(group_pk, auth_data[:4] + kt, auth_data[36:])
