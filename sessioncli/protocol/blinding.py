"""Community blinding (SPEC §1.3, §2.3): blinded keys and ids, blinded signatures, blinded DMs.

A SOGS that has the `blind` capability only ever sees a per-server "blinded" key: for blind15
`kA = (k·a)·B` with `k = reduce(BLAKE2b-64(server_pk))` and `a` the account's X25519 secret
scalar (= the clamped Ed25519 scalar), so that two servers cannot link one account. Signatures
under `kA` are plain Ed25519 signatures (anyone verifies them with `kA`); only the nonce
derivation differs between implementations: libsession hashes the 64-byte secret key, desktop the
32-byte seed. We sign with libsession's and accept both (they verify alike).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from sessioncli.protocol import crypto
from sessioncli.protocol import crypto_blind as cb

NonceVariant = Literal["libsession", "desktop"]

BLINDED15_PREFIX = "15"
BLINDED25_PREFIX = "25"
UNBLINDED_PREFIX = "00"
BLINDED_DM_VERSION = b"\x00"
_NONCE_LEN = 24
_ED_PK_LEN = 32


class BlindingError(ValueError):
    """A key, id or blinded message that cannot be used."""


@dataclass(frozen=True)
class BlindedKeys:
    """Our blind15 key pair on one server: `secret` is the scalar k·a, `public` is kA."""

    secret: bytes = field(repr=False)
    public: bytes

    @property
    def session_id(self) -> str:
        return BLINDED15_PREFIX + self.public.hex()


def _check_server_pk(server_pk: bytes) -> None:
    if len(server_pk) != 32:
        raise BlindingError(f"server public key must be 32 bytes, got {len(server_pk)}")


def _check_sk(ed_sk64: bytes) -> None:
    if len(ed_sk64) != 64:
        raise BlindingError(f"Ed25519 secret key must be 64 bytes, got {len(ed_sk64)}")


def blind15_factor(server_pk: bytes) -> bytes:
    _check_server_pk(server_pk)
    return cb.scalar_reduce(crypto.blake2b(server_pk, size=64))


def blind15_keys(ed_sk64: bytes, server_pk: bytes) -> BlindedKeys:
    """(k·a, kA) for the account whose 64-byte Ed25519 secret key is `ed_sk64`."""
    _check_sk(ed_sk64)
    a = crypto.ed25519_sk_to_x25519(ed_sk64)  # the clamped scalar, as libsodium derives it
    ka = cb.scalar_mul(blind15_factor(server_pk), a)
    return BlindedKeys(ka, cb.base_mul_noclamp(ka))


def blind15_public_of_ed25519(ed_pk: bytes, server_pk: bytes) -> bytes:
    """kA from a real Ed25519 public key (what a receiver recomputes from a DM's sender key)."""
    return cb.point_mul_noclamp(blind15_factor(server_pk), ed_pk)


def blind15_ids_of_session_id(session_id: str, server_pk: bytes) -> tuple[str, str]:
    """Both candidate 15 ids of a 05 Session ID: (from the positive point, the other sign).

    Only the X25519 key is known, so the Ed25519 key's sign is not: the real id is one of the two.
    """
    x_pk = _x25519_of(session_id)
    positive = cb.point_mul_noclamp(blind15_factor(server_pk), cb.x25519_to_ed25519_positive(x_pk))
    other = positive[:31] + bytes([positive[31] ^ 0x80])
    return BLINDED15_PREFIX + positive.hex(), BLINDED15_PREFIX + other.hex()


def _x25519_of(session_id: str) -> bytes:
    if len(session_id) != 66 or not session_id.startswith("05"):
        raise BlindingError("expected a 05 Session ID")
    try:
        return bytes.fromhex(session_id[2:])
    except ValueError:
        raise BlindingError("Session ID is not hex") from None


def _blinded_sign(secret: bytes, public: bytes, nonce_key: bytes, message: bytes) -> bytes:
    r = cb.scalar_reduce(cb.sha512(nonce_key + public + message))
    big_r = cb.base_mul_noclamp(r)
    hram = cb.scalar_reduce(cb.sha512(big_r + public + message))
    return big_r + cb.scalar_add(r, cb.scalar_mul(hram, secret))


def blind15_sign(
    ed_sk64: bytes, server_pk: bytes, message: bytes, *, variant: NonceVariant = "libsession"
) -> bytes:
    """A 64-byte Ed25519 signature of `message` valid under our blind15 key kA."""
    keys = blind15_keys(ed_sk64, server_pk)
    hashed = cb.sha512(ed_sk64 if variant == "libsession" else ed_sk64[:32])
    return _blinded_sign(keys.secret, keys.public, hashed[32:], message)


def blinded_session_id(ed_sk64: bytes, server_pk: bytes) -> str:
    """Our "15…" id on the server with key `server_pk`."""
    return blind15_keys(ed_sk64, server_pk).session_id


# --- blind25 (libsession supports it; released SOGS refuse it: ids and signatures only) -------


def _blind25_factor(x_pk: bytes, server_pk: bytes) -> bytes:
    _check_server_pk(server_pk)
    return cb.scalar_reduce(crypto.blake2b(b"\x05" + x_pk + server_pk, size=64))


def blind25_id_of_session_id(session_id: str, server_pk: bytes) -> str:
    x_pk = _x25519_of(session_id)
    point = cb.x25519_to_ed25519_positive(x_pk)
    return BLINDED25_PREFIX + cb.point_mul_noclamp(_blind25_factor(x_pk, server_pk), point).hex()


def blind25_sign(ed_sk64: bytes, server_pk: bytes, message: bytes) -> bytes:
    _check_sk(ed_sk64)
    ed_pk = ed_sk64[32:]
    k = _blind25_factor(crypto.ed25519_pk_to_x25519(ed_pk), server_pk)
    if ed_pk[31] & 0x80:  # a "negative" real key: negate so that kA is the positive-point id
        k = cb.scalar_negate(k)
    ka = cb.scalar_mul(k, crypto.ed25519_sk_to_x25519(ed_sk64))
    ka_pub = cb.base_mul_noclamp(ka)
    seedhash = crypto.blake2b(ed_sk64[:32], size=32, key=b"SessCommBlind25_seed")
    r = cb.scalar_reduce(
        crypto.blake2b(seedhash + ka_pub + message, size=64, key=b"SessCommBlind25_sig")
    )
    big_r = cb.base_mul_noclamp(r)
    hram = cb.scalar_reduce(cb.sha512(big_r + ka_pub + message))
    return big_r + cb.scalar_add(r, cb.scalar_mul(hram, ka))


def version_check_keypair(ed_sk64: bytes) -> tuple[bytes, bytes]:
    """The "07" key pair used for the file server's version check: (public 32, secret 64)."""
    _check_sk(ed_sk64)
    seed = crypto.blake2b(ed_sk64[:32], size=32, key=b"VersionCheckKey_sig")
    return crypto.ed25519_keypair_from_seed(seed)


# --- verification -----------------------------------------------------------------------------


def verify_by_id(poster_id: str, message: bytes, signature: bytes) -> bool:
    """Whether `signature` over `message` is valid for a SOGS poster id (15/25/00 or 05)."""
    if len(poster_id) != 66:
        return False
    try:
        key = bytes.fromhex(poster_id[2:])
    except ValueError:
        return False
    prefix = poster_id[:2]
    if prefix in (BLINDED15_PREFIX, BLINDED25_PREFIX, UNBLINDED_PREFIX):
        return crypto.verify(key, message, signature)
    if prefix == "05":  # an unblinded poster: the Ed25519 key of either sign (XEd25519)
        try:
            positive = cb.x25519_to_ed25519_positive(key)
        except crypto.CryptoError:
            return False
        negative = positive[:31] + bytes([positive[31] | 0x80])
        return crypto.verify(positive, message, signature) or crypto.verify(
            negative, message, signature
        )
    return False


# --- blinded DMs (SPEC §2.3) ------------------------------------------------------------------


def _blinded_id_key(blinded_id: str) -> bytes:
    if len(blinded_id) != 66 or blinded_id[:2] != BLINDED15_PREFIX:
        raise BlindingError("expected a 15 blinded id")
    try:
        return bytes.fromhex(blinded_id[2:])
    except ValueError:
        raise BlindingError("blinded id is not hex") from None


def _dm_key(ka: bytes, other_pub: bytes, sender_pub: bytes, recipient_pub: bytes) -> bytes:
    try:
        shared = cb.point_mul_noclamp(ka, other_pub)
    except crypto.CryptoError as exc:
        raise BlindingError("the other side's blinded key is not a usable point") from exc
    return crypto.blake2b(shared + sender_pub + recipient_pub, size=32)


def encrypt_blinded_dm(
    ed_sk64: bytes,
    server_pk: bytes,
    recipient_id: str,
    padded: bytes,
    *,
    nonce: bytes | None = None,
) -> bytes:
    """0x00 || XChaCha20-Poly1305(padded || our Ed25519 pk) || nonce(24), keyed for the pair."""
    ours = blind15_keys(ed_sk64, server_pk)
    theirs = _blinded_id_key(recipient_id)
    key = _dm_key(ours.secret, theirs, ours.public, theirs)
    sealed = crypto.xchacha20_encrypt(key, padded + ed_sk64[32:], nonce)
    return BLINDED_DM_VERSION + sealed[_NONCE_LEN:] + sealed[:_NONCE_LEN]


@dataclass(frozen=True)
class OpenedBlindedDm:
    padded: bytes = field(repr=False)
    sender_ed25519: bytes
    sender_session_id: str  # the sender's real 05 id, proven by its blinded key


def decrypt_blinded_dm(
    ed_sk64: bytes, server_pk: bytes, sender_id: str, recipient_id: str, data: bytes
) -> OpenedBlindedDm:
    """Open a blinded DM we received (or sent: our outbox); check its sender key matches."""
    ours = blind15_keys(ed_sk64, server_pk)
    sender, recipient = _blinded_id_key(sender_id), _blinded_id_key(recipient_id)
    if ours.public == sender:
        other = recipient
    elif ours.public == recipient:
        other = sender
    else:
        raise BlindingError("this message is neither from nor to us")
    if len(data) < 1 + 16 + _ED_PK_LEN + _NONCE_LEN or data[:1] != BLINDED_DM_VERSION:
        raise BlindingError("not a version-0 blinded message")
    key = _dm_key(ours.secret, other, sender, recipient)
    nonce, body = data[-_NONCE_LEN:], data[1:-_NONCE_LEN]
    try:
        plain = crypto.xchacha20_decrypt(key, nonce + body)
    except crypto.CryptoError as exc:
        raise BlindingError("blinded message does not decrypt") from exc
    padded, sender_ed = plain[:-_ED_PK_LEN], plain[-_ED_PK_LEN:]
    try:
        claimed = blind15_public_of_ed25519(sender_ed, server_pk)
        session_id = "05" + crypto.ed25519_pk_to_x25519(sender_ed).hex()
    except crypto.CryptoError as exc:
        raise BlindingError("sender key is not a usable point") from exc
    if claimed != sender:
        raise BlindingError("the sender's key does not match the sender's blinded id")
    return OpenedBlindedDm(padded, sender_ed, session_id)
