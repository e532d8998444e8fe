"""One message (or one each) encrypted for many X25519 recipients under a shared nonce (libsession multi_encrypt)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Final

from sessioncli.protocol import crypto
from sessioncli.protocol.groups import bencode
from sessioncli.protocol.groups.bencode import BencodeError

KICKED_DOMAIN: Final = "SessionGroupKickedMessage"  # ns -11 notices (GROUPS-V2.md §4.4)


class MultiEncryptError(ValueError):
    """A multi-encrypted blob is malformed."""


def _key(shared: bytes, sender_x_pk: bytes, recipient_x_pk: bytes, domain: str) -> bytes:
    # BLAKE2b-32 keyed by the domain (at most 64 bytes), over aB || A || B with A the sender.
    return crypto.blake2b(shared + sender_x_pk + recipient_x_pk, 32, key=domain.encode()[:64])


def encrypt_for_multiple(
    messages: Sequence[bytes],
    recipients: Sequence[bytes],
    nonce: bytes,
    sender_x_sk: bytes,
    sender_x_pk: bytes,
    domain: str,
    *,
    ignore_invalid: bool = False,
) -> list[bytes]:
    """One ciphertext per recipient: messages[i] for recipients[i], or messages[0] for all."""
    if len(messages) not in (1, len(recipients)):
        raise ValueError("give one message, or one message per recipient")
    out: list[bytes] = []
    for i, recipient in enumerate(recipients):
        try:
            shared = crypto.x25519(sender_x_sk, recipient)
        except crypto.CryptoError:
            if ignore_invalid:
                continue
            raise
        key = _key(shared, sender_x_pk, recipient, domain)
        message = messages[0] if len(messages) == 1 else messages[i]
        out.append(crypto.xchacha20_seal(key, nonce, message))
    return out


def decrypt_for_multiple(
    ciphertexts: Iterable[bytes],
    nonce: bytes,
    x_sk: bytes,
    x_pk: bytes,
    sender_x_pk: bytes,
    domain: str,
) -> bytes | None:
    """The first ciphertext that opens with our key, or None."""
    try:
        shared = crypto.x25519(x_sk, sender_x_pk)
    except crypto.CryptoError:
        return None
    key = _key(shared, sender_x_pk, x_pk, domain)
    for ct in ciphertexts:
        try:
            return crypto.xchacha20_open(key, nonce, ct)
        except crypto.CryptoError:
            continue
    return None


def encrypt_for_multiple_simple(
    messages: Sequence[bytes],
    recipients: Sequence[bytes],
    sender_x_sk: bytes,
    sender_x_pk: bytes,
    domain: str,
    *,
    nonce: bytes | None = None,
) -> bytes:
    """bencode {"#": nonce, "e": [ciphertexts]} (no junk padding), random nonce unless given."""
    nonce = nonce if nonce is not None else crypto.random_bytes(24)
    cts = encrypt_for_multiple(messages, recipients, nonce, sender_x_sk, sender_x_pk, domain)
    return bencode.encode({b"#": nonce, b"e": list(cts)})


def decrypt_for_multiple_simple(
    data: bytes, x_sk: bytes, x_pk: bytes, sender_x_pk: bytes, domain: str
) -> bytes | None:
    """Our message from an encrypt_for_multiple_simple blob, or None if none is for us."""
    try:
        fields = bencode.decode(data)
    except BencodeError as exc:
        raise MultiEncryptError("not a bt dict") from exc
    if not isinstance(fields, dict):
        raise MultiEncryptError("not a bt dict")
    nonce, cts = fields.get(b"#"), fields.get(b"e")
    if not isinstance(nonce, bytes) or len(nonce) != 24 or not isinstance(cts, list):
        raise MultiEncryptError("missing nonce or ciphertext list")
    if not all(isinstance(ct, bytes) for ct in cts):
        raise MultiEncryptError("ciphertexts must be byte strings")
    return decrypt_for_multiple(
        (ct for ct in cts if isinstance(ct, bytes)), nonce, x_sk, x_pk, sender_x_pk, domain
    )


def kicked_notice(group_sk: bytes, member_x_pk: bytes, generation: int) -> bytes:
    """The ns -11 notice an admin stores for a removed member: its X25519 key || ascii(gen)."""
    return encrypt_for_multiple_simple(
        [member_x_pk + str(generation).encode()],
        [member_x_pk],
        crypto.ed25519_sk_to_x25519(group_sk),
        crypto.ed25519_pk_to_x25519(group_sk[32:]),
        KICKED_DOMAIN,
    )


def read_kicked_notice(data: bytes, user_ed_sk: bytes, group_pk: bytes) -> int | None:
    """The key generation a notice removes us at, or None if it is not about us."""
    x_sk = crypto.ed25519_sk_to_x25519(user_ed_sk)
    x_pk = crypto.ed25519_pk_to_x25519(user_ed_sk[32:])
    try:
        plain = decrypt_for_multiple_simple(
            data, x_sk, x_pk, crypto.ed25519_pk_to_x25519(group_pk), KICKED_DOMAIN
        )
    except MultiEncryptError:
        return None
    if plain is None or plain[:32] != x_pk or not plain[32:].isdigit():
        return None
    return int(plain[32:])
