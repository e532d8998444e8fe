"""Test-side onion v4 to a server, direct HTTP, and SOGS blinding/auth — written from SPEC §1.3, §6, §8,
independent of the client and of the devnet's own code."""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import os
import time
import urllib.parse
from dataclasses import dataclass
from typing import Any

from nacl import bindings as sodium

from tests.devnet.wire import encrypt_to, frame, post, unseal

V4_TARGET = "/oxen/v4/lsrpc"


def v4_request(
    method: str, endpoint: str, headers: dict[str, str] | None = None, body: bytes | None = None
) -> bytes:
    """`l<len>:<json>[<len>:<body>]e` (SPEC §6.2 v4)."""
    meta = json.dumps({"method": method, "endpoint": endpoint, "headers": headers or {}}).encode()
    out = b"l%d:%s" % (len(meta), meta)
    if body is not None:
        out += b"%d:%s" % (len(body), body)
    return out + b"e"


def decode_v4_reply(data: bytes) -> tuple[dict[str, Any], bytes]:
    """`l<len>:<meta json><len>:<body>e` → (meta, body)."""
    assert data[:1] == b"l" and data[-1:] == b"e", data[:40]
    parts: list[bytes] = []
    pos = 1
    while pos < len(data) - 1:
        colon = data.index(b":", pos)
        size = int(data[pos:colon])
        parts.append(data[colon + 1 : colon + 1 + size])
        pos = colon + 1 + size
    assert len(parts) == 2, len(parts)
    return json.loads(parts[0]), parts[1]


def build_server_onion(
    path: list[dict[str, Any]],
    server_x25519_hex: str,
    host: str,
    port: int,
    request: bytes,
    enc_type: str = "aes-gcm",
) -> tuple[bytes, bytes]:
    """Body for path[0]'s /onion_req/v2 reaching a server via path[-1]; and the reply key."""
    blob, eph, server_key = encrypt_to(enc_type, server_x25519_hex, request)
    meta: dict[str, Any] = {
        "host": host,
        "target": V4_TARGET,
        "method": "POST",
        "protocol": "http",
        "port": port,
        "ephemeral_key": eph,
        "enc_type": enc_type,
    }
    for hop_index in range(len(path) - 1, -1, -1):
        hop = path[hop_index]
        blob, eph, _ = encrypt_to(enc_type, hop["pubkey_x25519"], frame(blob, meta))
        meta = {"destination": hop["pubkey_ed25519"], "ephemeral_key": eph, "enc_type": enc_type}
    return frame(blob, {"ephemeral_key": eph, "enc_type": enc_type}), server_key


@dataclass
class OnionClient:
    """Sends v4 requests to one server through a fixed 3-node path."""

    path: list[dict[str, Any]]
    server_x25519_hex: str
    host: str
    port: int
    enc_type: str = "aes-gcm"

    def send(
        self,
        method: str,
        endpoint: str,
        headers: dict[str, str] | None = None,
        body: bytes | None = None,
    ) -> tuple[int, dict[str, Any], bytes]:
        """(inner code, inner meta, inner body); asserts the outer answer is HTTP 200."""
        request = v4_request(method, endpoint, headers, body)
        onion, key = build_server_onion(
            self.path, self.server_x25519_hex, self.host, self.port, request, self.enc_type
        )
        status, answer = post(self.path[0], "/onion_req/v2", onion, timeout=30.0)
        assert status == 200, (status, answer[:200])
        meta, inner = decode_v4_reply(unseal(self.enc_type, key, answer))
        return int(meta["code"]), meta, inner


def http_request(
    url: str,
    method: str,
    target: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], bytes]:
    """A direct plain-HTTP request to `url` (http://ip:port)."""
    parsed = urllib.parse.urlsplit(url)
    assert parsed.hostname is not None and parsed.port is not None
    conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=30.0)
    try:
        conn.request(method, target, body=body, headers=headers or {})
        response = conn.getresponse()
        return (
            response.status,
            {k.lower(): v for k, v in response.getheaders()},
            response.read(),
        )
    finally:
        conn.close()


# -- blinding (SPEC §1.3) and SOGS auth (SPEC §8) ----------------------------------------------


def blind15_factor(server_pk: bytes) -> bytes:
    return sodium.crypto_core_ed25519_scalar_reduce(
        hashlib.blake2b(server_pk, digest_size=64).digest()
    )


@dataclass(frozen=True)
class SogsUser:
    """An account (Ed25519 seed) as seen by one SOGS: its blind15 key pair and header signing."""

    seed: bytes
    server_pk: bytes

    @classmethod
    def make(cls, label: str, server_pk: bytes) -> SogsUser:
        return cls(hashlib.blake2b(label.encode(), digest_size=32).digest(), server_pk)

    @property
    def ed_pk(self) -> bytes:
        return sodium.crypto_sign_seed_keypair(self.seed)[0]

    @property
    def ed_sk(self) -> bytes:
        return sodium.crypto_sign_seed_keypair(self.seed)[1]

    @property
    def session_id(self) -> str:
        return "05" + sodium.crypto_sign_ed25519_pk_to_curve25519(self.ed_pk).hex()

    def _ka(self) -> bytes:
        a = sodium.crypto_sign_ed25519_sk_to_curve25519(self.ed_sk)
        return sodium.crypto_core_ed25519_scalar_mul(blind15_factor(self.server_pk), a)

    @property
    def blinded_pk(self) -> bytes:
        return sodium.crypto_scalarmult_ed25519_base_noclamp(self._ka())

    @property
    def blinded_id(self) -> str:
        return "15" + self.blinded_pk.hex()

    def sign_blinded(self, message: bytes) -> bytes:
        """blind15 signature, libsession variant (H_rh from SHA512 of the 64-byte secret key)."""
        return blind15_sign(self.ed_sk, self.server_pk, message)

    def sign_plain(self, message: bytes) -> bytes:
        return sodium.crypto_sign(message, self.ed_sk)[:64]

    def auth_headers(
        self,
        method: str,
        target: str,
        body: bytes = b"",
        *,
        blinded: bool = True,
        nonce: bytes | None = None,
        timestamp: int | None = None,
    ) -> dict[str, str]:
        nonce = os.urandom(16) if nonce is None else nonce
        ts = str(int(time.time()) if timestamp is None else timestamp)
        return sogs_auth_headers(
            self, method, target, body, blinded=blinded, nonce=nonce, timestamp=ts
        )


def blind15_sign(ed_sk64: bytes, server_pk: bytes, message: bytes) -> bytes:
    a = sodium.crypto_sign_ed25519_sk_to_curve25519(ed_sk64)
    ka = sodium.crypto_core_ed25519_scalar_mul(blind15_factor(server_pk), a)
    kA = sodium.crypto_scalarmult_ed25519_base_noclamp(ka)
    h_rh = hashlib.sha512(ed_sk64).digest()[32:]
    r = sodium.crypto_core_ed25519_scalar_reduce(hashlib.sha512(h_rh + kA + message).digest())
    big_r = sodium.crypto_scalarmult_ed25519_base_noclamp(r)
    hram = sodium.crypto_core_ed25519_scalar_reduce(hashlib.sha512(big_r + kA + message).digest())
    s = sodium.crypto_core_ed25519_scalar_add(r, sodium.crypto_core_ed25519_scalar_mul(hram, ka))
    return big_r + s


def sogs_signed_message(
    server_pk: bytes, nonce: bytes, timestamp: str, method: str, target: str, body: bytes
) -> bytes:
    message = server_pk + nonce + timestamp.encode() + method.encode() + target.encode()
    if body:
        message += hashlib.blake2b(body, digest_size=64).digest()
    return message


def sogs_auth_headers(
    user: SogsUser,
    method: str,
    target: str,
    body: bytes,
    *,
    blinded: bool,
    nonce: bytes,
    timestamp: str,
) -> dict[str, str]:
    message = sogs_signed_message(user.server_pk, nonce, timestamp, method, target, body)
    if blinded:
        pubkey, signature = user.blinded_id, user.sign_blinded(message)
    else:
        pubkey, signature = "00" + user.ed_pk.hex(), user.sign_plain(message)
    return {
        "X-SOGS-Pubkey": pubkey,
        "X-SOGS-Timestamp": timestamp,
        "X-SOGS-Nonce": base64.b64encode(nonce).decode(),
        "X-SOGS-Signature": base64.b64encode(signature).decode(),
    }
