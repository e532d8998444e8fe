"""Onion v4 at a server (SPEC §6.2): open `/oxen/v4/lsrpc` bodies sent to its X25519 key, seal replies."""

from __future__ import annotations

import json
import struct
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sessioncli.devnet import crypto
from sessioncli.devnet.server import Request, Response

V4_PATH = "/oxen/v4/lsrpc"


@dataclass(frozen=True)
class HttpRequest:
    """One request as the server's routes see it, whether it came direct or inside onion v4."""

    method: str
    path: str  # URL-decoded, without the query
    query: str  # raw query string without the '?', "" if none
    headers: dict[str, str]  # lower-case names
    body: bytes
    via: str  # "direct" or "onion"

    @property
    def target(self) -> str:
        """The path the X-SOGS signature covers: decoded path, then `?query` when there is one."""
        return self.path + (f"?{self.query}" if self.query else "")

    def param(self, name: str) -> str | None:
        values = urllib.parse.parse_qs(self.query).get(name)
        return values[0] if values else None


@dataclass
class HttpReply:
    code: int
    body: bytes
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, code: int, value: Any) -> HttpReply:
        return cls(code, json.dumps(value).encode())

    @classmethod
    def text(cls, code: int, message: str) -> HttpReply:
        return cls(code, message.encode(), "text/plain; charset=utf-8")


Handler = Callable[[HttpRequest], HttpReply]


class BadRequest(ValueError):
    """A request whose framing or fields cannot be used."""


def split_target(raw: str) -> tuple[str, str]:
    """`/a%20b?x=1` → (`/a b`, `x=1`); the path is URL-decoded as pysogs does before auth."""
    path, _, query = raw.partition("?")
    try:
        decoded = urllib.parse.unquote(path, errors="strict")
    except UnicodeDecodeError as exc:
        raise BadRequest(f"path is not UTF-8: {exc}") from None
    return decoded, query


def serve_direct(request: Request, handler: Handler) -> Response:
    """A plain HTTP request on the server's own address."""
    try:
        path, query = split_target(request.path)
    except BadRequest as exc:
        return Response.text(400, str(exc))
    reply = handler(
        HttpRequest(request.method, path, query, dict(request.headers), request.body, "direct")
    )
    return Response(reply.code, reply.body, reply.content_type, dict(reply.headers))


def serve_onion(keys: crypto.NodeKeys, request: Request, handler: Handler) -> Response:
    """POST /oxen/v4/lsrpc: `u32 N || blob || json` → decrypt blob → bencoded request → reply.

    A body that does not decrypt gets a plain HTTP 400 (nothing can be sealed for a client we
    cannot read); anything after that answers 200 with the sealed bencoded reply, whose meta
    carries the real code, as pysogs and the file server do."""
    opened = _open(keys, request.body)
    if isinstance(opened, Response):
        return opened
    enc_type, key, plaintext = opened
    try:
        meta, body = decode_v4(plaintext)
        inner = _inner_request(meta, body)
    except BadRequest:
        reply = HttpReply.text(400, "Invalid v4 onion request")
    else:
        reply = handler(inner)
    sealed = crypto.layer_encrypt(enc_type, key, encode_v4(reply))
    return Response(200, sealed, "application/octet-stream")


def _open(keys: crypto.NodeKeys, body: bytes) -> tuple[str, bytes, bytes] | Response:
    if len(body) < 4:
        return Response.text(400, "Invalid onion request: too short")
    (size,) = struct.unpack_from("<I", body)
    if size > len(body) - 4:
        return Response.text(400, "Invalid onion request: bad length")
    blob = body[4 : 4 + size]
    try:
        meta = json.loads(body[4 + size :])
    except (UnicodeDecodeError, json.JSONDecodeError):
        return Response.text(400, "Invalid onion request: bad json")
    if not isinstance(meta, dict):
        return Response.text(400, "Invalid onion request: bad json")
    enc_type = crypto.ENC_TYPES.get(str(meta.get("enc_type", crypto.AES_GCM)).lower())
    ephemeral_hex = meta.get("ephemeral_key")
    try:
        ephemeral = bytes.fromhex(ephemeral_hex) if isinstance(ephemeral_hex, str) else b""
    except ValueError:
        ephemeral = b""
    if enc_type is None or len(ephemeral) != 32:
        return Response.text(400, "Invalid onion request: bad ephemeral_key or enc_type")
    try:
        key = crypto.layer_key(enc_type, keys, ephemeral)
        return enc_type, key, crypto.layer_decrypt(enc_type, key, blob)
    except crypto.LayerError:
        return Response.text(400, "Failed to decrypt onion request")


def _inner_request(meta: Any, body: bytes) -> HttpRequest:
    if not isinstance(meta, dict):
        raise BadRequest("meta must be an object")
    method, endpoint, headers = meta.get("method"), meta.get("endpoint"), meta.get("headers", {})
    if not isinstance(method, str) or not isinstance(endpoint, str) or not endpoint.startswith("/"):
        raise BadRequest("method and endpoint (starting with /) are required")
    if not isinstance(headers, dict):
        raise BadRequest("headers must be an object")
    path, query = split_target(endpoint)
    lowered = {str(k).lower(): str(v) for k, v in headers.items()}
    return HttpRequest(method.upper(), path, query, lowered, body, "onion")


def _consume(data: bytes, pos: int) -> tuple[bytes, int]:
    colon = data.find(b":", pos)
    digits = data[pos:colon]
    if colon < 0 or not digits.isdigit() or len(digits) > 10:
        raise BadRequest("bad bencoded string length")
    end = colon + 1 + int(digits)
    if end > len(data):
        raise BadRequest("bencoded string runs past the end")
    return data[colon + 1 : end], end


def decode_v4(plaintext: bytes) -> tuple[Any, bytes]:
    """`l<len>:<json>[<len>:<body>]e` → (json value, body bytes or b"")."""
    if not (plaintext.startswith(b"l") and plaintext.endswith(b"e")):
        raise BadRequest("expected a bencoded list")
    inner = plaintext[:-1]
    meta_raw, pos = _consume(inner, 1)
    body = b""
    if pos < len(inner):
        body, pos = _consume(inner, pos)
    if pos != len(inner):
        raise BadRequest("more than two parts")
    try:
        return json.loads(meta_raw), body
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadRequest(f"meta is not json: {exc}") from None


def encode_v4(reply: HttpReply) -> bytes:
    """The v4 reply: `l<len>:{"code","headers"}<len>:<body>e`, header names lower-case."""
    headers = {"content-type": reply.content_type}
    headers.update({k.lower(): v for k, v in reply.headers.items()})
    meta = json.dumps({"code": reply.code, "headers": headers}).encode()
    return b"l%d:%s%d:%se" % (len(meta), meta, len(reply.body), reply.body)
