"""Group messages (ns 11): encrypt for the group key and decrypt, with the current signature rule (§4.1)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from sessioncli.protocol import crypto
from sessioncli.protocol.groups import bencode
from sessioncli.protocol.groups.bencode import BencodeError
from sessioncli.protocol.groups.configpush import ConfigDecryptError, zstd_compress, zstd_decompress

if TYPE_CHECKING:
    from sessioncli.protocol.message import DecodedMessage

PADDING: Final = 256  # nonce + ciphertext + tag is a multiple of this
MAX_INFLATED: Final = 1 << 20  # libsession caps decompressed group messages at 1 MB
_OVERHEAD: Final = 24 + 16


class GroupMessageError(ValueError):
    """A group message that does not decrypt with any key, or is malformed, or is badly signed."""


class GroupSignatureError(GroupMessageError):
    """It decrypts, but its sender signature fails (current rule: over payload || group key)."""


@dataclass(frozen=True)
class DecryptedGroupMessage:
    """What a group message carries: the sender (05 id from the `a` key) and the inner bytes."""

    sender: str
    sender_ed25519: bytes
    plaintext: bytes


def _signed_bytes(payload: bytes, group_pk: bytes) -> bytes:
    # Current rule (libsession 95b9fe74 keys.cpp, 00a7daaf session_encrypt.cpp, Apr 2025 on): the
    # signature covers the sent payload followed by the group's Ed25519 key, so that a message
    # cannot be replayed into another group. Older libsession signed the payload alone; those
    # messages are rejected, as current apps reject them.
    return payload + group_pk


def encrypt_group_message(
    user_ed_sk: bytes,
    group_pk: bytes,
    enc_key: bytes,
    plaintext: bytes,
    *,
    compress: bool = True,
    padding: int = PADDING,
    nonce: bytes | None = None,
) -> bytes:
    """nonce(24) || XChaCha20-Poly1305(bt{"": 1, a, d|z, s} || zero padding)."""
    if len(user_ed_sk) != 64 or len(group_pk) != 32:
        raise GroupMessageError("need a 64-byte user secret key and the 32-byte group key")
    if not plaintext:
        raise GroupMessageError("cannot send an empty group message")
    payload_key, payload = b"d", plaintext
    if compress:
        z = zstd_compress(plaintext)
        if len(z) < len(plaintext):
            payload_key, payload = b"z", z
    sig = crypto.sign(user_ed_sk, _signed_bytes(payload, group_pk))
    body = bencode.encode({b"": 1, b"a": user_ed_sk[32:], payload_key: payload, b"s": sig})
    if padding > 1:
        body += bytes(-(len(body) + _OVERHEAD) % padding)
    nonce = nonce if nonce is not None else crypto.random_bytes(24)
    return crypto.xchacha20_encrypt(enc_key, body, nonce)


def open_group_message(keys: Sequence[bytes], ciphertext: bytes) -> bytes:
    """The padded bt dict inside, trying each key (pending/newest first)."""
    if len(ciphertext) < _OVERHEAD:
        raise GroupMessageError("group message is too short")
    for key in keys:
        try:
            return crypto.xchacha20_decrypt(key, ciphertext)
        except crypto.CryptoError:
            continue
    raise GroupMessageError("group message does not decrypt with any known group key")


@dataclass(frozen=True)
class GroupMessageFields:
    """The parsed inner dict, before the signature check."""

    sender_ed25519: bytes
    payload: bytes  # exactly what was signed (compressed bytes if `compressed`)
    compressed: bool
    signature: bytes


def parse_group_message(padded: bytes) -> GroupMessageFields:
    body = padded.rstrip(b"\x00")
    try:
        fields = bencode.decode(body)
    except BencodeError as exc:
        raise GroupMessageError("group message is not a bt dict") from exc
    if not isinstance(fields, dict) or fields.get(b"") != 1:
        raise GroupMessageError("group message has an unknown version")
    sender = fields.get(b"a")
    if not isinstance(sender, bytes) or len(sender) != 32:
        raise GroupMessageError("group message has no valid sender key")
    d, z = fields.get(b"d"), fields.get(b"z")
    if (d is None) == (z is None):
        raise GroupMessageError("group message must carry exactly one of d / z")
    payload = d if d is not None else z
    if not isinstance(payload, bytes) or not payload:
        raise GroupMessageError("group message payload is empty")
    sig = fields.get(b"s")
    if not isinstance(sig, bytes) or len(sig) != 64:
        raise GroupMessageError("group message has no valid signature")
    return GroupMessageFields(sender, payload, z is not None, sig)


def decrypt_group_message(
    keys: Sequence[bytes], group_pk: bytes, ciphertext: bytes
) -> DecryptedGroupMessage:
    """Decrypt and verify (current rule only); raises GroupMessageError."""
    fields = parse_group_message(open_group_message(keys, ciphertext))
    if not crypto.verify(
        fields.sender_ed25519, _signed_bytes(fields.payload, group_pk), fields.signature
    ):
        raise GroupSignatureError("group message signature does not verify")
    try:
        sender_x = crypto.ed25519_pk_to_x25519(fields.sender_ed25519)
    except crypto.CryptoError as exc:
        raise GroupMessageError("group message sender key is not a valid Ed25519 key") from exc
    plaintext = fields.payload
    if fields.compressed:
        try:
            plaintext = zstd_decompress(fields.payload, MAX_INFLATED)
        except ConfigDecryptError as exc:
            raise GroupMessageError("group message does not decompress") from exc
    return DecryptedGroupMessage("05" + sender_x.hex(), fields.sender_ed25519, plaintext)


# --- the Envelope layer apps put inside (LS01 session_protocol.cpp encode_for_group) ----------


@dataclass(frozen=True)
class GroupPost:
    """A decrypted, verified group post: who sent it, its sent time, and the Content bytes."""

    sender: str
    timestamp_ms: int
    content: bytes
    sender_ed25519: bytes = b""


def decoy_pro_signature() -> bytes:
    """What non-Pro senders put in Envelope.proSig: two random scalars (R || s)."""
    return b"".join(crypto.scalar_reduce(crypto.random_bytes(64)) for _ in range(2))


def encode_group_post(
    user_ed_sk: bytes,
    group_pk: bytes,
    enc_key: bytes,
    content: bytes,
    timestamp_ms: int,
    *,
    nonce: bytes | None = None,
    pro_signature: bytes | None = None,
) -> bytes:
    """Content -> Envelope{CLOSED_GROUP_MESSAGE, device 1, timestamp, content, proSig} -> ns 11 bytes."""
    from sessioncli.protocol.proto import session_pb2 as pb

    envelope = pb.Envelope(
        type=pb.Envelope.CLOSED_GROUP_MESSAGE,
        sourceDevice=1,
        timestamp=timestamp_ms,
        content=content,  # not 0x80-padded: the group message itself is padded
        proSig=pro_signature if pro_signature is not None else decoy_pro_signature(),
    )
    return encrypt_group_message(
        user_ed_sk, group_pk, enc_key, envelope.SerializeToString(), nonce=nonce
    )


def decode_group_post(keys: Sequence[bytes], group_pk: bytes, ciphertext: bytes) -> GroupPost:
    """Decrypt, verify (current rule) and unwrap the Envelope; raises GroupMessageError."""
    from sessioncli.protocol.proto import session_pb2 as pb

    inner = decrypt_group_message(keys, group_pk, ciphertext)
    try:
        envelope = pb.Envelope.FromString(inner.plaintext)
    except Exception as exc:  # untrusted bytes: any parser failure means "not an Envelope"
        raise GroupMessageError("group message does not hold an Envelope") from exc
    if not envelope.IsInitialized() or not envelope.HasField("content"):
        raise GroupMessageError("group Envelope lacks required fields")
    if envelope.type != pb.Envelope.CLOSED_GROUP_MESSAGE:
        raise GroupMessageError("group Envelope has the wrong type")
    if envelope.HasField("proSig") and len(envelope.proSig) != 64:
        raise GroupMessageError("group Envelope has a malformed proSig")
    try:
        pb.Content.FromString(envelope.content)
    except Exception as exc:
        raise GroupMessageError("group Envelope content is not a Content message") from exc
    return GroupPost(inner.sender, int(envelope.timestamp), envelope.content, inner.sender_ed25519)


def classify_post(post: GroupPost) -> DecodedMessage:
    """The post's Content read as a one-to-one message's is (kind, body, profile, quote...)."""
    from sessioncli.protocol import message as dm
    from sessioncli.protocol.proto import session_pb2 as pb

    content = pb.Content.FromString(post.content)
    # the DM classifier is shared on purpose: a group text is the same Content as a DM text
    return dm.classify_content(
        content,
        post.content,
        post.sender,
        post.sender_ed25519.hex(),
        post.timestamp_ms,
        legacy=not content.sigTimestamp,
    )
