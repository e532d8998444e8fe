"""The SOGS's own crypto (SPEC §1.3, §8): its keys, blind15 ids, and X-SOGS-* signature checks."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from nacl import bindings as sodium
from nacl.exceptions import CryptoError

from sessioncli.devnet import crypto


@dataclass(frozen=True)
class SogsKeys:
    """pysogs keeps one 32-byte private key: as X25519 it is the onion/blinding key whose public
    half goes in the room URL; as an Ed25519 seed it is the server's signing key."""

    private: bytes = field(repr=False)

    @property
    def x25519_pk(self) -> bytes:
        return bytes(sodium.crypto_scalarmult_base(self.private))

    @property
    def onion_keys(self) -> crypto.NodeKeys:
        """What lsrpc needs to open onion layers addressed to `x25519_pk`."""
        ed_pk, ed_sk = sodium.crypto_sign_seed_keypair(self.private)
        return crypto.NodeKeys(
            ed25519_seed=self.private,
            ed25519_pk=ed_pk,
            ed25519_sk=ed_sk,
            x25519_pk=self.x25519_pk,
            x25519_sk=self.private,
        )


def blind15_factor(server_pk: bytes) -> bytes:
    """k = reduce(BLAKE2b-64(server X25519 pubkey))."""
    return bytes(
        sodium.crypto_core_ed25519_scalar_reduce(
            hashlib.blake2b(server_pk, digest_size=64).digest()
        )
    )


def blind15_id_from_seed(ed_seed: bytes, server_pk: bytes) -> str:
    """'15' + hex(k·a·B), a = the account's X25519 secret scalar (what its owner signs with)."""
    _, ed_sk = sodium.crypto_sign_seed_keypair(ed_seed)
    a = sodium.crypto_sign_ed25519_sk_to_curve25519(ed_sk)
    ka = sodium.crypto_core_ed25519_scalar_mul(blind15_factor(server_pk), a)
    return "15" + bytes(sodium.crypto_scalarmult_ed25519_base_noclamp(ka)).hex()


def blind15_ids_from_session_id(session_id: str, server_pk: bytes) -> tuple[str, str]:
    """Both candidates for a `05…` id's blind15 id: k·A with A the positive XEd25519 point
    (what libsession's blind15_id gives), and the same with 0x80 XORed into the last byte —
    only the X25519 key is known, so the sign of the real Ed25519 key stays ambiguous."""
    x_pk = bytes.fromhex(session_id[2:])
    positive_a = crypto.x25519_to_positive_ed25519(x_pk)
    ka = bytes(sodium.crypto_scalarmult_ed25519_noclamp(blind15_factor(server_pk), positive_a))
    flipped = ka[:31] + bytes([ka[31] ^ 0x80])
    return "15" + ka.hex(), "15" + flipped.hex()


def is_valid_point(pubkey: bytes) -> bool:
    return len(pubkey) == 32 and bool(sodium.crypto_core_ed25519_is_valid_point(pubkey))


def unblinded_session_id(ed_pk: bytes) -> str | None:
    """'05' + the X25519 key of an unblinded (00-prefixed) Ed25519 key."""
    try:
        return "05" + bytes(sodium.crypto_sign_ed25519_pk_to_curve25519(ed_pk)).hex()
    except (CryptoError, ValueError):
        return None


def signed_message(
    server_pk: bytes, nonce: bytes, timestamp: str, method: str, target: str, body: bytes
) -> bytes:
    """server_pk ‖ nonce ‖ ts ‖ method ‖ path[?query] [‖ BLAKE2b-64(body) if body non-empty]."""
    message = server_pk + nonce + timestamp.encode() + method.encode() + target.encode()
    if body:
        message += hashlib.blake2b(body, digest_size=64).digest()
    return message


def verify(signature: bytes, message: bytes, pubkey: bytes) -> bool:
    """Blinded (15) and unblinded (00) signatures are both plain Ed25519 under the given key."""
    return crypto.verify_ed25519(signature, message, pubkey)
