"""Test-side wire code for driving the devnet: accounts, signed RPCs, onion layers — written here
from the SPEC, independent of both the client (sessioncli.protocol/net) and the devnet's internals."""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import json
import os
import ssl
import struct
import time
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from nacl import bindings as sodium

UNVERIFIED = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
UNVERIFIED.check_hostname = False
UNVERIFIED.verify_mode = ssl.CERT_NONE


@dataclass(frozen=True)
class Account:
    ed_pk: bytes
    ed_sk: bytes
    x_pk: bytes

    @classmethod
    def make(cls, label: str) -> Account:
        seed = hashlib.blake2b(label.encode(), digest_size=32).digest()
        ed_pk, ed_sk = sodium.crypto_sign_seed_keypair(seed)
        return cls(ed_pk, ed_sk, sodium.crypto_sign_ed25519_pk_to_curve25519(ed_pk))

    @property
    def session_id(self) -> str:
        return "05" + self.x_pk.hex()

    def sign(self, text: str) -> str:
        return base64.b64encode(sodium.crypto_sign(text.encode(), self.ed_sk)[:64]).decode()

    def auth(self, signed: str) -> dict[str, str]:
        return {"pubkey_ed25519": self.ed_pk.hex(), "signature": self.sign(signed)}

    def sign_bytes(self, data: bytes) -> str:
        return base64.b64encode(sodium.crypto_sign(data, self.ed_sk)[:64]).decode()


@dataclass(frozen=True)
class RawKeyAccount:
    """An account whose 32 key bytes are an Ed25519 key itself (a 03 group, or any prefix):
    the storage server verifies its signatures with those bytes, with no pubkey_ed25519."""

    prefix: str
    ed_pk: bytes
    ed_sk: bytes
    seed: bytes

    @classmethod
    def make(cls, label: str, prefix: str = "03") -> RawKeyAccount:
        seed = hashlib.blake2b(label.encode(), digest_size=32).digest()
        ed_pk, ed_sk = sodium.crypto_sign_seed_keypair(seed)
        return cls(prefix, ed_pk, ed_sk, seed)

    @property
    def session_id(self) -> str:
        return self.prefix + self.ed_pk.hex()

    def sign(self, text: str) -> str:
        return self.sign_bytes(text.encode())

    def sign_bytes(self, data: bytes) -> str:
        return base64.b64encode(sodium.crypto_sign(data, self.ed_sk)[:64]).decode()

    def auth(self, signed: str) -> dict[str, str]:
        return {"signature": self.sign(signed)}


def now_ms() -> int:
    return int(time.time() * 1000)


def spec_hash(session_id: str, namespace: int, data: bytes) -> str:
    raw = bytes.fromhex(session_id)
    ns = str(namespace).encode() if namespace else b""
    digest = hashlib.blake2b(raw[:1] + raw[1:] + ns + data, digest_size=32).digest()
    return base64.b64encode(digest).decode().rstrip("=")


def ns_text(namespace: int | str) -> str:
    """A namespace as signed strings carry it (SPEC §4.3): empty for 0."""
    return "" if namespace == 0 else str(namespace)


def verify_node_signature(ed_hex: str, signature_b64: str, message: bytes) -> bool:
    try:
        sodium.crypto_sign_open(base64.b64decode(signature_b64) + message, bytes.fromhex(ed_hex))
    except Exception:
        return False
    return True


def post(node: dict[str, Any], path: str, body: bytes, timeout: float = 10.0) -> tuple[int, bytes]:
    conn = http.client.HTTPSConnection(
        node["ip"], node["port"], timeout=timeout, context=UNVERIFIED
    )
    try:
        conn.request("POST", path, body=body)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def rpc(node: dict[str, Any], method: str, params: dict[str, Any]) -> tuple[int, Any]:
    status, body = post(
        node, "/storage_rpc/v1", json.dumps({"method": method, "params": params}).encode()
    )
    try:
        return status, json.loads(body)
    except ValueError:
        return status, body.decode()


def store_params(account: Account, data: bytes, ttl: int = 60_000, **extra: Any) -> dict[str, Any]:
    return {
        "pubkey": account.session_id,
        "namespace": 0,
        "timestamp": now_ms(),
        "ttl": ttl,
        "data": base64.b64encode(data).decode(),
        **extra,
    }


def retrieve_params(
    account: Account, namespace: int = 0, ts: int | None = None, **extra: Any
) -> dict[str, Any]:
    ts = now_ms() if ts is None else ts
    ns = str(namespace) if namespace else ""
    return {
        "pubkey": account.session_id,
        "namespace": namespace,
        "timestamp": ts,
        **account.auth(f"retrieve{ns}{ts}"),
        **extra,
    }


# -- onion layers ------------------------------------------------------------------------------


def frame(blob: bytes, meta: dict[str, Any]) -> bytes:
    return struct.pack("<I", len(blob)) + blob + json.dumps(meta).encode()


def layer_key(enc_type: str, eph_sk: bytes, eph_pk: bytes, hop_x: bytes) -> bytes:
    shared = sodium.crypto_scalarmult(eph_sk, hop_x)
    if enc_type in ("aes-gcm", "gcm"):
        return hmac.new(b"LOKI", shared, hashlib.sha256).digest()
    return hashlib.blake2b(shared + eph_pk + hop_x, digest_size=32).digest()


def seal(enc_type: str, key: bytes, plaintext: bytes) -> bytes:
    if enc_type in ("aes-gcm", "gcm"):
        iv = os.urandom(12)
        return iv + AESGCM(key).encrypt(iv, plaintext, None)
    nonce = os.urandom(24)
    return nonce + sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(plaintext, None, nonce, key)


def unseal(enc_type: str, key: bytes, data: bytes) -> bytes:
    if enc_type in ("aes-gcm", "gcm"):
        return AESGCM(key).decrypt(data[:12], data[12:], None)
    return sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(data[24:], None, data[:24], key)


def encrypt_to(enc_type: str, hop_x_hex: str, plaintext: bytes) -> tuple[bytes, str, bytes]:
    """(ciphertext, hex ephemeral pubkey, layer key) for one hop."""
    eph_pk, eph_sk = sodium.crypto_box_keypair()
    key = layer_key(enc_type, eph_sk, eph_pk, bytes.fromhex(hop_x_hex))
    return seal(enc_type, key, plaintext), eph_pk.hex(), key


def build_onion(
    path: list[dict[str, Any]],
    target: dict[str, Any],
    request: dict[str, Any] | bytes,
    enc_type: str = "aes-gcm",
    final_routing: dict[str, Any] | None = None,
) -> tuple[bytes, bytes]:
    """The body to POST to path[0]'s /onion_req/v2, and the key that opens the reply."""
    rpc_blob = request if isinstance(request, bytes) else json.dumps(request).encode()
    routing = final_routing if final_routing is not None else {"headers": {}}
    blob, eph, final_key = encrypt_to(enc_type, target["pubkey_x25519"], frame(rpc_blob, routing))
    next_ed = target["pubkey_ed25519"]
    for hop in reversed(path[1:]):
        meta = {"destination": next_ed, "ephemeral_key": eph, "enc_type": enc_type}
        blob, eph, _ = encrypt_to(enc_type, hop["pubkey_x25519"], frame(blob, meta))
        next_ed = hop["pubkey_ed25519"]
    meta = {"destination": next_ed, "ephemeral_key": eph, "enc_type": enc_type}
    blob, eph, _ = encrypt_to(enc_type, path[0]["pubkey_x25519"], frame(blob, meta))
    return frame(blob, {"ephemeral_key": eph, "enc_type": enc_type}), final_key


def open_reply(enc_type: str, key: bytes, body: bytes) -> dict[str, Any]:
    reply = json.loads(unseal(enc_type, key, base64.b64decode(body)))
    assert isinstance(reply, dict)
    return reply
