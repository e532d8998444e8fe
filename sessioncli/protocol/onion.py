"""Onion requests, pure: hop-layer encryption, [u32 len][blob][json] framing, building and peeling.

No sockets, files or clock here. Ephemeral keys come from `crypto.x25519_keypair` unless a test
injects them. Layout per SPEC §6: the client encrypts the payload for the destination, then wraps
it once per hop, innermost first; the guard receives `u32(len) || L1 || {"ephemeral_key": A1}`.
"""

from __future__ import annotations

import base64
import binascii
import json
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from sessioncli.errors import ProtocolError
from sessioncli.protocol import crypto
from sessioncli.protocol import onion_bencode as bencode
from sessioncli.protocol.onion_bencode import bdecode_string_list as bdecode_string_list
from sessioncli.protocol.onion_bencode import bencode_list as bencode_list

EncType = Literal["aes-gcm", "xchacha20"]
DEFAULT_ENC_TYPE: EncType = "aes-gcm"  # what desktop uses, and the server default
KeypairFactory = Callable[[], tuple[bytes, bytes]]  # () -> (public, secret)

_ENC_ALIASES: dict[str, EncType] = {
    "aes-gcm": "aes-gcm",
    "gcm": "aes-gcm",
    "xchacha20": "xchacha20",
    "xchacha20-poly1305": "xchacha20",
}


class OnionDecryptError(ProtocolError):
    """A reply (or layer) did not authenticate under the expected key: take another path."""


def normalise_enc_type(name: str | None) -> EncType:
    if name is None:
        return DEFAULT_ENC_TYPE
    try:
        return _ENC_ALIASES[name]
    except KeyError:
        raise ProtocolError(f"unknown onion enc_type {name!r}") from None


# --- hop layer keys and AEADs -------------------------------------------------------------------


def derive_key(
    enc_type: EncType, our_secret: bytes, our_public: bytes, their_public: bytes
) -> bytes:
    """The symmetric key of one layer, seen from the client (a, A) towards a hop's key B.

    The hop computes the same with (b, B) and A; for xchacha20 the hashed order is always
    client key first, hop key second.
    """
    shared = crypto.x25519(our_secret, their_public)
    if enc_type == "aes-gcm":
        return crypto.hmac_sha256(b"LOKI", shared)
    return crypto.blake2b(shared + our_public + their_public, size=32)


def derive_key_as_hop(
    enc_type: EncType, hop_secret: bytes, hop_public: bytes, client_public: bytes
) -> bytes:
    """The same key computed on the hop's side (used by tests and vectors)."""
    shared = crypto.x25519(hop_secret, client_public)
    if enc_type == "aes-gcm":
        return crypto.hmac_sha256(b"LOKI", shared)
    return crypto.blake2b(shared + client_public + hop_public, size=32)


def encrypt_layer(enc_type: EncType, key: bytes, plaintext: bytes) -> bytes:
    if enc_type == "aes-gcm":
        return crypto.aes_gcm_encrypt(key, plaintext)
    return crypto.xchacha20_encrypt(key, plaintext)


def decrypt_layer(enc_type: EncType, key: bytes, ciphertext: bytes) -> bytes:
    try:
        if enc_type == "aes-gcm":
            return crypto.aes_gcm_decrypt(key, ciphertext)
        return crypto.xchacha20_decrypt(key, ciphertext)
    except crypto.CryptoError as exc:
        raise OnionDecryptError(f"onion layer did not decrypt ({enc_type}): {exc}") from None


# --- framing ---------------------------------------------------------------------------------


def frame(blob: bytes, meta: dict[str, Any]) -> bytes:
    """uint32_le(len(blob)) || blob || compact JSON."""
    return struct.pack("<I", len(blob)) + blob + _json_bytes(meta)


def unframe(data: bytes) -> tuple[bytes, dict[str, Any]]:
    """Split a framed payload into (blob, json object); ProtocolError when it does not parse."""
    if len(data) < 4:
        raise ProtocolError("onion payload shorter than its length prefix")
    (n,) = struct.unpack_from("<I", data)
    if 4 + n > len(data):
        raise ProtocolError(f"onion payload claims {n} bytes but has {len(data) - 4}")
    blob = data[4 : 4 + n]
    try:
        meta = json.loads(data[4 + n :].decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise ProtocolError("onion payload JSON part does not parse") from None
    if not isinstance(meta, dict):
        raise ProtocolError("onion payload JSON part is not an object")
    return blob, meta


def _json_bytes(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode("utf-8")


# --- destinations and the built request ------------------------------------------------------


@dataclass(frozen=True)
class Hop:
    """A service node as an onion hop: its Ed25519 key (hex, for routing) and X25519 key."""

    ed25519: str
    x25519: bytes

    @classmethod
    def from_hex(cls, ed25519_hex: str, x25519_hex: str) -> Hop:
        try:
            x = bytes.fromhex(x25519_hex)
        except ValueError:
            raise ProtocolError("hop X25519 key is not hex") from None
        if len(x) != 32 or len(ed25519_hex) != 64:
            raise ProtocolError("hop keys must be 32 bytes")
        return cls(ed25519=ed25519_hex.lower(), x25519=x)


@dataclass(frozen=True)
class ServerTarget:
    """An HTTP(S) server reached from the last hop (file server, SOGS): onion v4."""

    host: str
    x25519: bytes
    protocol: str = "https"
    port: int = 443
    target: str = "/oxen/v4/lsrpc"


@dataclass(frozen=True)
class OnionRequest:
    """What to POST to the guard, and what is needed to read the reply."""

    body: bytearray = field(repr=False)  # built in place; passed on without a copy
    reply_key: bytes = field(repr=False)
    enc_type: EncType = DEFAULT_ENC_TYPE


Random = Callable[[int], bytes]  # n -> n random bytes (the layers' nonces)


class Payload(Protocol):
    """Bytes produced on demand, straight into the request buffer (a large upload is never held
    twice: see `attachments.LegacyUpload`)."""

    def __len__(self) -> int: ...

    def write_into(self, out: memoryview) -> None:
        """Write exactly len(self) bytes into `out` (which is exactly that long)."""


Body = bytes | bytearray | memoryview | Payload


def _write(body: Body, out: memoryview) -> None:
    if isinstance(body, bytes | bytearray | memoryview):
        out[:] = body
    else:
        body.write_into(out)


def _seal(enc_type: EncType, key: bytes, buf: memoryview, random: Random) -> None:
    before, _ = crypto.AEAD_FRAMING[enc_type]
    if enc_type == "aes-gcm":
        crypto.aes_gcm_seal_in_place(key, buf, random(before))
    else:
        crypto.xchacha20_seal_in_place(key, buf, random(before))


def _hop_layers(
    path: Sequence[Hop],
    inner_key_pub: bytes,
    first_routing: dict[str, Any],
    enc_type: EncType,
    keypair: KeypairFactory,
) -> tuple[list[tuple[bytes, bytes]], bytes]:
    """(key, JSON framed after the inner blob) per hop, last hop first; the guard's outer JSON.

    Keypairs are asked for in the order the layers are encrypted (innermost first), the order
    of the nested construction, so a test that injects them gets the same onion.
    """
    routing = dict(first_routing)
    routing["ephemeral_key"] = inner_key_pub.hex()
    if enc_type != DEFAULT_ENC_TYPE:
        routing["enc_type"] = enc_type
    layers: list[tuple[bytes, bytes]] = []
    for i in range(len(path) - 1, -1, -1):
        pub, sec = keypair()
        layers.append((derive_key(enc_type, sec, pub, path[i].x25519), _json_bytes(routing)))
        routing = {"ephemeral_key": pub.hex()}
        if enc_type != DEFAULT_ENC_TYPE:
            routing["enc_type"] = enc_type
        if i > 0:
            routing["destination"] = path[i].ed25519
    return layers, _json_bytes(routing)


def build_snode_request(
    path: Sequence[Hop],
    target: Hop,
    rpc_json: bytes,
    *,
    enc_type: EncType = DEFAULT_ENC_TYPE,
    keypair: KeypairFactory = crypto.x25519_keypair,
    random: Random = crypto.random_bytes,
) -> OnionRequest:
    """Onion for a storage RPC executed by `target` after the hops in `path` (guard first)."""
    final_plain = frame(rpc_json, {"headers": {}})
    routing = {"destination": target.ed25519}
    return _build(path, target.x25519, final_plain, routing, enc_type, keypair, random)


def build_server_request(
    path: Sequence[Hop],
    server: ServerTarget,
    v4_request: bytes | V4Request,
    *,
    enc_type: EncType = DEFAULT_ENC_TYPE,
    keypair: KeypairFactory = crypto.x25519_keypair,
    random: Random = crypto.random_bytes,
) -> OnionRequest:
    """Onion v4 for an HTTP server behind the last hop; `v4_request` encoded or a V4Request
    (whose body is then written once, straight into the onion)."""
    routing: dict[str, Any] = {
        "host": server.host,
        "target": server.target,
        "method": "POST",
        "protocol": server.protocol,
        "port": server.port,
    }
    return _build(path, server.x25519, v4_request, routing, enc_type, keypair, random)


def _build(
    path: Sequence[Hop],
    destination_x25519: bytes,
    final_plain: Body,
    routing: dict[str, Any],
    enc_type: EncType,
    keypair: KeypairFactory,
    random: Random,
) -> OnionRequest:
    """The whole onion in one buffer: the destination's plaintext is written where it ends up,
    then each layer (innermost first) is framed and encrypted in place around it.

    Same bytes as nesting `frame(encrypt_layer(...))` per hop (SPEC §6), without a copy of the
    payload per layer: the guard's body is `u32 || L1 || json`, L1 = nonce || E(u32 || L2 ||
    json) || tag, and so on, so every blob's offset is known before anything is encrypted.
    """
    if not path:
        raise ValueError("an onion path needs at least one hop")
    pub, sec = keypair()
    key = derive_key(enc_type, sec, pub, destination_x25519)
    layers, outer_json = _hop_layers(path, pub, routing, enc_type, keypair)
    before, after = crypto.AEAD_FRAMING[enc_type]
    blob_len = before + len(final_plain) + after
    for _, meta in layers:
        blob_len = before + 4 + blob_len + len(meta) + after
    buf = bytearray(4 + blob_len + len(outer_json))
    view = memoryview(buf)
    start = 4 + len(layers) * (before + 4)  # where the destination's blob goes
    end = start + before + len(final_plain) + after
    _write(final_plain, view[start + before : end - after])
    _seal(enc_type, key, view[start:end], random)
    for hop_key, meta in layers:
        struct.pack_into("<I", buf, start - 4, end - start)
        view[end : end + len(meta)] = meta
        start, end = start - 4 - before, end + len(meta) + after
        _seal(enc_type, hop_key, view[start:end], random)
    struct.pack_into("<I", buf, 0, end - start)
    view[end:] = outer_json
    view.release()
    return OnionRequest(body=buf, reply_key=key, enc_type=enc_type)


# --- replies ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class SnodeReply:
    """The destination's answer: its status and the RPC body (parsed JSON, or text if not JSON)."""

    status: int
    body: Any


def decrypt_snode_reply(request: OnionRequest, reply: bytes) -> SnodeReply:
    """Peel a guard's HTTP-200 reply: (optional {"result": ...}) base64 → decrypt → status/body."""
    data = reply.strip()
    if not data:
        raise OnionDecryptError("empty onion reply")
    if data[:1] == b"{":
        try:
            outer = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            outer = None
        if isinstance(outer, dict) and isinstance(outer.get("result"), str):
            data = outer["result"].encode("ascii", "replace")
    try:
        ciphertext = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        ciphertext = reply  # base64:false replies carry raw bytes
    plaintext = decrypt_layer(request.enc_type, request.reply_key, ciphertext)
    try:
        obj = json.loads(plaintext.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise ProtocolError("onion reply is not JSON") from None
    if not isinstance(obj, dict):
        raise ProtocolError("onion reply is not a JSON object")
    status = obj.get("status_code", obj.get("status"))
    if isinstance(status, bool) or not isinstance(status, int):
        raise ProtocolError("onion reply has no integer status")
    body = obj.get("body")
    if isinstance(body, str):
        try:
            body = json.loads(body)
        except (ValueError, RecursionError):
            pass  # plain-text bodies (e.g. error messages) stay text
    return SnodeReply(status=status, body=body)


# --- onion v4 (server destinations) -----------------------------------------------------------


@dataclass(frozen=True)
class V4Request:
    """A v4 request: bencoded list [metadata JSON, body] (the body only when there is one).

    Its bytes are written straight into the onion buffer (`build_server_request`), so a large
    body is not copied into an encoded request first.
    """

    method: str
    endpoint: str
    # not shown: SOGS requests carry their auth signature in the headers
    headers: dict[str, str] = field(default_factory=dict, repr=False)
    body: Body | None = field(default=None, repr=False)

    def _meta(self) -> bytes:
        return _json_bytes(
            {"method": self.method, "endpoint": self.endpoint, "headers": self.headers}
        )

    def _parts(self) -> tuple[bytes, bytes]:
        """(everything up to the body, the bencode length prefix of the body)."""
        meta = self._meta()
        head = b"l" + str(len(meta)).encode() + b":" + meta
        return head, b"" if self.body is None else str(len(self.body)).encode() + b":"

    def __len__(self) -> int:
        head, prefix = self._parts()
        return len(head) + len(prefix) + (0 if self.body is None else len(self.body)) + 1

    def write_into(self, out: memoryview) -> None:
        head, prefix = self._parts()
        pos = len(head) + len(prefix)
        out[:pos] = head + prefix
        if self.body is not None:
            _write(self.body, out[pos : pos + len(self.body)])
            pos += len(self.body)
        out[pos:] = b"e"

    def encode(self) -> bytes:
        out = bytearray(len(self))
        self.write_into(memoryview(out))
        return bytes(out)


def encode_v4_request(
    method: str, endpoint: str, headers: dict[str, str] | None = None, body: bytes | None = None
) -> bytes:
    return V4Request(method, endpoint, headers or {}, body).encode()


@dataclass(frozen=True)
class V4Reply:
    """A server's answer. `data` is the body as decrypted (a large one stays in its own
    buffer: a downloaded file is not copied again); `body` is it as bytes."""

    code: int
    headers: dict[str, str]
    data: bytes | bytearray = field(repr=False)

    @property
    def body(self) -> bytes:
        return self.data if isinstance(self.data, bytes) else bytes(self.data)


def _v4_parts(request: OnionRequest, reply: bytes) -> list[bytes | bytearray]:
    """Decrypt and split a v4 reply; an AES-GCM one a piece at a time, so that its body (a
    downloaded file) is the only whole copy made of it."""
    reader: bencode.Reader
    try:
        if request.enc_type == "aes-gcm":
            reader = crypto.AesGcmReader(request.reply_key, reply)
        else:
            reader = bencode.BytesReader(decrypt_layer(request.enc_type, request.reply_key, reply))
        try:
            parts = bencode.string_list(reader, large_into=True)
        finally:
            reader.finish()  # a reply that does not authenticate says so, not how it misparsed
    except crypto.CryptoError as exc:
        raise OnionDecryptError(
            f"onion layer did not decrypt ({request.enc_type}): {exc}"
        ) from None
    return parts


def decrypt_v4_reply(request: OnionRequest, reply: bytes) -> V4Reply:
    parts = _v4_parts(request, reply)
    if not parts:
        raise ProtocolError("v4 reply is empty")
    try:
        meta = json.loads(parts[0].decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise ProtocolError("v4 reply metadata is not JSON") from None
    if not isinstance(meta, dict) or isinstance(meta.get("code"), bool):
        raise ProtocolError("v4 reply metadata is not an object with a code")
    code = meta.get("code")
    if not isinstance(code, int):
        raise ProtocolError("v4 reply metadata has no integer code")
    raw_headers = meta.get("headers") or {}
    headers = (
        {str(k).lower(): str(v) for k, v in raw_headers.items()}
        if isinstance(raw_headers, dict)
        else {}
    )
    return V4Reply(code=code, headers=headers, data=parts[1] if len(parts) > 1 else b"")
