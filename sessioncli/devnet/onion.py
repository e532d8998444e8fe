"""Onion entry `/onion_req/v2` (SPEC §6): peel one layer, then relay to a node or server, or answer."""

from __future__ import annotations

import base64
import ipaddress
import json
import struct
from typing import Any

from sessioncli.devnet import crypto, rpc
from sessioncli.devnet.bus import NodeBus
from sessioncli.devnet.node import Network, Node
from sessioncli.devnet.peers import PeerTimeout, PeerUnreachable
from sessioncli.devnet.server import Request, Response

ONION_PATH = "/onion_req/v2"


class FramingError(ValueError):
    """Not `uint32_le(N) || N bytes || json object`."""


def split_framed(payload: bytes) -> tuple[bytes, dict[str, Any]]:
    """`uint32_le(N) || blob(N) || json` → (blob, json object)."""
    if len(payload) < 4:
        raise FramingError("payload too short")
    (size,) = struct.unpack_from("<I", payload)
    if size > len(payload) - 4:
        raise FramingError("ciphertext length exceeds the payload")
    blob = payload[4 : 4 + size]
    try:
        meta = json.loads(payload[4 + size :])
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise FramingError(f"invalid json: {exc}") from None
    if not isinstance(meta, dict):
        raise FramingError("json part must be an object")
    return blob, meta


def join_framed(blob: bytes, meta: dict[str, Any]) -> bytes:
    return struct.pack("<I", len(blob)) + blob + json.dumps(meta).encode()


def peel(node: Node, body: bytes) -> tuple[str, bytes, bytes] | Response:
    """Decrypt this node's layer: (enc_type, layer key, plaintext), or the plain-text error answer."""
    try:
        blob, meta = split_framed(body)
    except FramingError as exc:
        return Response.text(400, f"Error parsing onion request: {exc}")
    enc_type = crypto.ENC_TYPES.get(str(meta.get("enc_type", crypto.AES_GCM)).lower())
    if enc_type is None:
        return Response.text(400, "Error parsing onion request: unknown enc_type")
    eph_text = meta.get("ephemeral_key")
    try:
        ephemeral = bytes.fromhex(eph_text) if isinstance(eph_text, str) else b""
    except ValueError:
        ephemeral = b""
    if len(ephemeral) != 32:
        return Response.text(400, "Error parsing onion request: invalid ephemeral_key")
    try:
        key = crypto.layer_key(enc_type, node.keys, ephemeral)
        plaintext = crypto.layer_decrypt(enc_type, key, blob)
    except crypto.LayerError:
        return Response.text(400, "Invalid ciphertext")
    return enc_type, key, plaintext


def handle(node: Node, net: Network, request: Request) -> Response:
    peeled = peel(node, request.body)
    if isinstance(peeled, Response):
        node.record_seen(
            {"peer": request.peer_ip, "kind": "rejected", "error": peeled.body.decode()}
        )
        return peeled
    enc_type, key, plaintext = peeled
    seen: dict[str, Any] = {"peer": request.peer_ip, "enc_type": enc_type}
    try:
        inner_blob, routing = split_framed(plaintext)
    except FramingError:
        node.record_seen({**seen, "kind": "invalid", "blob_len": len(plaintext)})
        return _sealed_reply(enc_type, key, 400, "Invalid json", True)
    seen.update(routing=routing, blob_len=len(inner_blob))
    if "headers" in routing:
        return _final_hop(node, net, enc_type, key, inner_blob, routing, seen)
    if "destination" in routing:
        node.record_seen({**seen, "kind": "relay"})
        return _relay_to_node(node, net, enc_type, key, inner_blob, routing)
    if "host" in routing:
        node.record_seen({**seen, "kind": "server"})
        return _relay_to_server(node, net, enc_type, key, plaintext, routing)
    node.record_seen({**seen, "kind": "invalid"})
    return _sealed_reply(enc_type, key, 400, "Invalid json", True)


def _sealed_reply(enc_type: str, key: bytes, status: int, body: Any, as_base64: bool) -> Response:
    """`{"status","body"}` encrypted under this hop's layer key; base64 unless asked otherwise."""
    sealed = crypto.layer_encrypt(
        enc_type, key, json.dumps({"status": status, "body": body}).encode()
    )
    if as_base64:
        return Response(200, base64.b64encode(sealed), "text/plain; charset=utf-8")
    return Response(200, sealed, "application/octet-stream")


def _final_hop(
    node: Node,
    net: Network,
    enc_type: str,
    key: bytes,
    rpc_blob: bytes,
    routing: dict[str, Any],
    seen: dict[str, Any],
) -> Response:
    as_base64 = routing.get("base64", True) is not False
    embed_json = routing.get("json") is True
    try:
        method, params = rpc.parse_request(rpc_blob)
    except rpc.RpcError as exc:
        node.record_seen({**seen, "kind": "final", "method": None, "params": None})
        return _sealed_reply(enc_type, key, exc.status, exc.body, as_base64)
    node.record_seen({**seen, "kind": "final", "method": method, "params": _clipped(params)})
    status, body = rpc.run(node, net, method, params)
    if isinstance(body, dict) and not embed_json:
        body = json.dumps(body)
    return _sealed_reply(enc_type, key, status, body, as_base64)


_SEEN_TEXT_LIMIT = 4096


def _clipped(value: Any) -> Any:
    """A copy for the `seen` log with long strings cut, so 1000 records stay small in memory."""
    if isinstance(value, str) and len(value) > _SEEN_TEXT_LIMIT:
        return f"{value[:_SEEN_TEXT_LIMIT]}...[{len(value)} chars]"
    if isinstance(value, dict):
        return {k: _clipped(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clipped(v) for v in value]
    return value


def _relay_to_node(
    node: Node, net: Network, enc_type: str, key: bytes, blob: bytes, routing: dict[str, Any]
) -> Response:
    destination = routing.get("destination")
    ephemeral = routing.get("ephemeral_key")
    if not isinstance(destination, str) or not isinstance(ephemeral, str):
        return _sealed_reply(enc_type, key, 400, "Invalid json", True)
    destination = destination.lower()
    if node.fault == "relay502":
        return Response.text(502, f"Next node not found: {destination}")
    if node.fault == "relay504":
        return Response.text(504, "Request time out")
    target = net.by_ed25519.get(destination)
    if target is None:
        return Response.text(502, f"Next node not found: {destination}")
    meta: dict[str, Any] = {"ephemeral_key": ephemeral}
    if "enc_type" in routing:
        meta["enc_type"] = routing["enc_type"]
    # All healthy: no hop after this one blocks on a host, so the next node's app runs in this
    # thread (NodeBus.post_here keeps this hop's deadline for every wait under it).
    bus = net.peers if isinstance(net.peers, NodeBus) and net.peers.all_healthy() else None
    post = bus.post_here if bus is not None else net.peers.post
    try:
        reply = post(
            node.ip,
            target.ip,
            target.port,
            ONION_PATH,
            join_framed(blob, meta),
            net.relay_timeout,
            {"Content-Type": "application/octet-stream"},
        )
    except PeerTimeout:
        return Response.text(504, "Request time out")
    except PeerUnreachable:
        return Response.text(502, f"Next node not found: {destination}")
    return Response(reply.status, reply.body, reply.content_type or "application/octet-stream")


def allowed_target(target: str) -> bool:
    return (
        (target.startswith("/loki/") or target.startswith("/oxen/"))
        and target.endswith("/lsrpc")
        and "?" not in target
    )


def _relay_to_server(
    node: Node,
    net: Network,
    enc_type: str,
    key: bytes,
    plaintext: bytes,
    routing: dict[str, Any],
) -> Response:
    """Onion v4 hook: POST the whole decrypted payload to protocol://host:port/target.

    The devnet only relays to loopback hosts, so a test file server or SOGS on 127.0.0.0/8 works
    while nothing ever leaves the machine."""
    host = routing.get("host")
    target = routing.get("target")
    protocol = routing.get("protocol", "https")
    port = routing.get("port", 443)
    if (
        not isinstance(host, str)
        or not isinstance(target, str)
        or not allowed_target(target)
        or protocol not in ("http", "https")
        or isinstance(port, bool)
        or not isinstance(port, int)
        or not 0 < port < 65536
    ):
        return _sealed_reply(enc_type, key, 400, "Invalid url", True)
    if node.fault == "relay502":
        return Response.text(502, f"Next node not found: {host}")
    if node.fault == "relay504":
        return Response.text(504, "Request time out")
    if not _is_loopback(host):
        return Response.text(502, f"devnet relays only to loopback hosts, not {host}")
    try:
        reply = net.peers.post(
            node.ip,
            "127.0.0.1" if host == "localhost" else host,
            port,
            target,
            plaintext,
            net.relay_timeout,
            {"Content-Type": "application/octet-stream", "Host": host},
            tls=protocol == "https",
        )
    except PeerTimeout:
        return Response.text(504, "Request time out")
    except PeerUnreachable as exc:
        return Response.text(502, f"Failed to reach {host}:{port}: {exc}")
    return Response(reply.status, reply.body, reply.content_type or "application/octet-stream")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
