"""Storage-server RPC, pure: request builders, signed strings, response parsers → frozen dataclasses.

Wire dicts never leave this module: parsers check every type they read and raise ProtocolError.
"""

from __future__ import annotations

import base64
import ipaddress
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sessioncli.errors import ProtocolError
from sessioncli.protocol import crypto
from sessioncli.protocol.ids import Identity

MAX_SWARM_ID = 2**64 - 1  # decommissioned nodes carry this id and belong to no swarm


# --- shared types ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Node:
    """A service node: where it listens and its keys (lowercase hex)."""

    ip: str
    port: int
    pubkey_ed25519: str
    pubkey_x25519: str
    swarm_id: int | None

    @property
    def address(self) -> str:
        return f"{self.ip}:{self.port}"

    @property
    def subnet24(self) -> str:
        return ".".join(self.ip.split(".")[:3])

    def to_json(self) -> dict[str, Any]:
        return {
            "ip": self.ip,
            "port": self.port,
            "pubkey_ed25519": self.pubkey_ed25519,
            "pubkey_x25519": self.pubkey_x25519,
            "swarm_id": self.swarm_id,
        }

    @classmethod
    def from_json(cls, obj: Any) -> Node:
        """Read back what `to_json` wrote (cache files); ProtocolError if damaged."""
        d = _obj(obj, "node")
        swarm = d.get("swarm_id")
        if swarm is not None and (not isinstance(swarm, int) or isinstance(swarm, bool)):
            raise ProtocolError("node swarm_id is not an integer")
        return _make_node(
            d.get("ip"), d.get("port"), d.get("pubkey_ed25519"), d.get("pubkey_x25519"), swarm
        )


@dataclass(frozen=True)
class RpcRequest:
    """One storage RPC: method and params, serialised as the final-hop / direct JSON body."""

    method: str
    params: Mapping[str, Any]

    def to_obj(self) -> dict[str, Any]:
        return {"method": self.method, "params": dict(self.params)}

    def to_json(self) -> bytes:
        return json.dumps({"jsonrpc": "2.0", **self.to_obj()}, separators=(",", ":")).encode(
            "utf-8"
        )


# --- signed strings (SPEC §4.3) -----------------------------------------------------------


def ns_part(namespace: int | str) -> str:
    """Namespace as it appears in signed strings: empty for 0, else decimal (or "all")."""
    if namespace == 0:
        return ""
    return str(namespace)


def retrieve_string(namespace: int, timestamp_ms: int) -> str:
    return f"retrieve{ns_part(namespace)}{timestamp_ms}"


def store_string(namespace: int, timestamp_ms: int) -> str:
    return f"store{ns_part(namespace)}{timestamp_ms}"


def delete_string(hashes: Sequence[str]) -> str:
    return "delete" + "".join(hashes)


def delete_all_string(namespace: int | str, timestamp_ms: int) -> str:
    return f"delete_all{ns_part(namespace)}{timestamp_ms}"


def expire_string(expiry_ms: int, hashes: Sequence[str], mode: str = "") -> str:
    return f"expire{mode}{expiry_ms}" + "".join(hashes)


def get_expiries_string(timestamp_ms: int, hashes: Sequence[str]) -> str:
    return f"get_expiries{timestamp_ms}" + "".join(hashes)


def sign_string(ed25519_secret: bytes, text: str) -> str:
    """base64 Ed25519 signature of the ASCII string."""
    return base64.b64encode(crypto.sign(ed25519_secret, text.encode("ascii"))).decode("ascii")


def _auth(identity: Identity, signed: str) -> dict[str, Any]:
    return {
        "pubkey": identity.session_id,
        "pubkey_ed25519": identity.ed25519_public.hex(),
        "signature": sign_string(identity.ed25519_secret, signed),
    }


# --- builders --------------------------------------------------------------------------------


def build_store(
    pubkey: str, data_b64: str, *, ttl_ms: int, timestamp_ms: int, namespace: int = 0
) -> RpcRequest:
    """Unauthenticated store into a public-inbox namespace (what desktop sends for a DM)."""
    return RpcRequest(
        "store",
        {
            "pubkey": pubkey,
            "namespace": namespace,
            "timestamp": timestamp_ms,
            "ttl": ttl_ms,
            "data": data_b64,
        },
    )


def build_retrieve(
    identity: Identity,
    *,
    timestamp_ms: int,
    namespace: int = 0,
    last_hash: str | None = None,
    max_count: int | None = None,
) -> RpcRequest:
    params: dict[str, Any] = {
        "namespace": namespace,
        "timestamp": timestamp_ms,
        **_auth(identity, retrieve_string(namespace, timestamp_ms)),
    }
    if last_hash:
        params["last_hash"] = last_hash
    if max_count is not None:
        params["max_count"] = max_count
    return RpcRequest("retrieve", params)


def build_delete(identity: Identity, hashes: Sequence[str]) -> RpcRequest:
    return RpcRequest(
        "delete", {"messages": list(hashes), **_auth(identity, delete_string(hashes))}
    )


def build_get_swarm(pubkey: str) -> RpcRequest:
    return RpcRequest("get_swarm", {"pubkey": pubkey})


def build_info() -> RpcRequest:
    return RpcRequest("info", {})


_SN_FIELDS = {
    "public_ip": True,
    "storage_port": True,
    "pubkey_x25519": True,
    "pubkey_ed25519": True,
    "swarm_id": True,
}


def build_get_n_service_nodes() -> RpcRequest:
    """The seed's oxend JSON-RPC (POST <seed>/json_rpc); no limit: fetch all active nodes."""
    return RpcRequest(
        "get_n_service_nodes",
        {
            "active_only": True,
            "fields": {**_SN_FIELDS, "requested_unlock_height": True, "height": True},
        },
    )


def build_oxend_get_service_nodes() -> RpcRequest:
    """The same list asked of a service node, which forwards it to its oxend."""
    return RpcRequest(
        "oxend_request",
        {"endpoint": "get_service_nodes", "params": {"active_only": True, "fields": _SN_FIELDS}},
    )


def build_batch(requests: Sequence[RpcRequest], *, sequence: bool = False) -> RpcRequest:
    if not 1 <= len(requests) <= 20:
        raise ValueError("a batch holds 1 to 20 subrequests")
    return RpcRequest(
        "sequence" if sequence else "batch", {"requests": [r.to_obj() for r in requests]}
    )


# --- message hash ----------------------------------------------------------------------------


def message_hash(pubkey: str, namespace: int, data: bytes) -> str:
    """Storage hash: unpadded b64 of BLAKE2b-32(prefix || pubkey32 || ascii(ns) if ns else '' || data)."""
    raw = bytes.fromhex(pubkey)
    ns = str(namespace).encode("ascii") if namespace != 0 else b""
    digest = crypto.blake2b(raw + ns + data, size=32)
    return base64.b64encode(digest).decode("ascii").rstrip("=")


# --- parsing helpers -------------------------------------------------------------------------


def _obj(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ProtocolError(f"{what}: expected a JSON object, got {type(value).__name__}")
    return value


def _int(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ProtocolError(f"{what}: expected an integer")
    return value


def _str(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise ProtocolError(f"{what}: expected a string")
    return value


def _hex32(value: Any, what: str) -> str:
    text = _str(value, what).lower()
    if len(text) != 64:
        raise ProtocolError(f"{what}: expected 64 hex characters")
    try:
        bytes.fromhex(text)
    except ValueError:
        raise ProtocolError(f"{what}: not hex") from None
    return text


def _make_node(ip: Any, port: Any, ed: Any, x: Any, swarm_id: int | None) -> Node:
    ip_s = _str(ip, "node ip")
    try:
        addr = ipaddress.IPv4Address(ip_s)
    except ValueError:
        raise ProtocolError(f"node ip {ip_s[:40]!r} is not an IPv4 address") from None
    if isinstance(port, str) and port.isascii() and port.isdigit() and len(port) <= 5:
        port = int(port)
    port_i = _int(port, "node port")
    if not 0 < port_i < 65536:
        raise ProtocolError("node port out of range")
    return Node(
        ip=str(addr),
        port=port_i,
        pubkey_ed25519=_hex32(ed, "node pubkey_ed25519"),
        pubkey_x25519=_hex32(x, "node pubkey_x25519"),
        swarm_id=swarm_id,
    )


def _usable_ip(ip: Any) -> bool:
    return isinstance(ip, str) and ip not in ("", "0.0.0.0")  # noqa: S104 - a sentinel, not a bind


def network_time(body: Any) -> int | None:
    """The server time `t` (ms) most responses carry, if present and sane."""
    if isinstance(body, dict):
        t = body.get("t")
        if isinstance(t, int) and not isinstance(t, bool) and t > 0:
            return t
    return None


# --- parsers ---------------------------------------------------------------------------------


def _keep_valid(entries: list[Any], make: Any, what: str) -> list[Node]:
    """Nodes from the entries that parse; bad ones are skipped (ProtocolError if none is good)."""
    nodes: list[Node] = []
    first: str | None = None
    for entry in entries:
        try:
            nodes.append(make(_obj(entry, what)))
        except ProtocolError as exc:
            first = first or str(exc)
    if entries and not nodes:
        raise ProtocolError(f"{what}: no usable entry ({first})")
    return nodes


def parse_service_nodes(body: Any) -> list[Node]:
    """`{"result": {"service_node_states": [...]}}` from a seed, or the same inner object.

    Entries that are damaged or without a usable ip are skipped; ProtocolError if none is left.
    """
    obj = _obj(body, "service node list")
    if "result" in obj:
        obj = _obj(obj["result"], "service node list result")
    states = obj.get("service_node_states")
    if not isinstance(states, list):
        raise ProtocolError("service node list: no service_node_states array")

    def make(e: dict[str, Any]) -> Node:
        if not _usable_ip(e.get("public_ip")):
            raise ProtocolError("service node without a usable ip")
        swarm = e.get("swarm_id")
        swarm_id = swarm if isinstance(swarm, int) and not isinstance(swarm, bool) else None
        return _make_node(
            e.get("public_ip"),
            e.get("storage_port"),
            e.get("pubkey_ed25519"),
            e.get("pubkey_x25519"),
            swarm_id,
        )

    return _keep_valid(states, make, "service node list")


@dataclass(frozen=True)
class SwarmResult:
    swarm_id: int | None
    nodes: list[Node]
    t: int | None


def parse_swarm(body: Any) -> SwarmResult:
    """get_swarm response (also the body of a 421); bad members are skipped (none left → error)."""
    obj = _obj(body, "get_swarm response")
    snodes = obj.get("snodes")
    if not isinstance(snodes, list):
        raise ProtocolError("get_swarm response: no snodes array")
    swarm_id: int | None = None
    raw_swarm = obj.get("swarm")
    if isinstance(raw_swarm, str) and raw_swarm:
        try:
            swarm_id = int(raw_swarm, 16)
        except ValueError:
            raise ProtocolError("get_swarm response: swarm is not hex") from None

    def make(e: dict[str, Any]) -> Node:
        if not _usable_ip(e.get("ip")):
            raise ProtocolError("swarm member without a usable ip")
        port = e.get("port_https", e.get("port"))
        return _make_node(
            e.get("ip"), port, e.get("pubkey_ed25519"), e.get("pubkey_x25519"), swarm_id
        )

    nodes = _keep_valid(snodes, make, "get_swarm response")
    return SwarmResult(swarm_id=swarm_id, nodes=nodes, t=network_time(obj))


@dataclass(frozen=True)
class NodeStoreResult:
    """One swarm member's answer to a store."""

    node_ed25519: str
    hash: str | None
    expiry_ms: int | None
    signature_ok: bool
    failed: bool


@dataclass(frozen=True)
class StoreResult:
    hash: str | None
    nodes: list[NodeStoreResult]
    t: int | None

    @property
    def acknowledged_by(self) -> list[str]:
        return [n.node_ed25519 for n in self.nodes if n.hash and n.signature_ok and not n.failed]


def _verify_node_sig(node_ed: str, text: str, sig_b64: Any) -> bool:
    if not isinstance(sig_b64, str):
        return False
    try:
        sig = base64.b64decode(sig_b64, validate=True)
    except (ValueError, TypeError):
        return False
    return crypto.verify(bytes.fromhex(node_ed), text.encode("ascii", "replace"), sig)


def parse_store(body: Any) -> StoreResult:
    """store response: top-level hash and a `swarm` dict of per-node results (signatures checked)."""
    obj = _obj(body, "store response")
    top = obj.get("hash")
    top_hash = top if isinstance(top, str) and top else None
    results: list[NodeStoreResult] = []
    swarm = obj.get("swarm")
    if swarm is not None:
        for ed, entry in _obj(swarm, "store response swarm").items():
            ed_hex = _hex32(ed, "store response node key")
            if not isinstance(entry, dict) or entry.get("failed"):
                results.append(NodeStoreResult(ed_hex, None, None, False, True))
                continue
            h = entry.get("hash")
            h_s = h if isinstance(h, str) and h else None
            exp = entry.get("expiry")
            exp_i = exp if isinstance(exp, int) and not isinstance(exp, bool) else None
            sig_ok = h_s is not None and _verify_node_sig(ed_hex, h_s, entry.get("signature"))
            results.append(NodeStoreResult(ed_hex, h_s, exp_i, sig_ok, False))
    if top_hash is None:
        hashes = [r.hash for r in results if r.hash]
        top_hash = max(set(hashes), key=hashes.count) if hashes else None
    return StoreResult(hash=top_hash, nodes=results, t=network_time(obj))


@dataclass(frozen=True)
class Message:
    hash: str
    timestamp_ms: int
    expiration_ms: int
    data: str  # base64


@dataclass(frozen=True)
class RetrieveResult:
    messages: list[Message]
    more: bool
    t: int | None


def parse_retrieve(body: Any) -> RetrieveResult:
    obj = _obj(body, "retrieve response")
    raw = obj.get("messages")
    if not isinstance(raw, list):
        raise ProtocolError("retrieve response: no messages array")
    messages: list[Message] = []
    for entry in raw:
        e = _obj(entry, "retrieved message")
        data = _str(e.get("data"), "retrieved message data")
        try:
            base64.b64decode(data, validate=True)
        except ValueError:
            raise ProtocolError("retrieved message data is not base64") from None
        messages.append(
            Message(
                hash=_str(e.get("hash"), "retrieved message hash"),
                timestamp_ms=_int(e.get("timestamp"), "retrieved message timestamp"),
                expiration_ms=_int(e.get("expiration"), "retrieved message expiration"),
                data=data,
            )
        )
    more = obj.get("more", False)
    return RetrieveResult(messages=messages, more=more is True, t=network_time(obj))


@dataclass(frozen=True)
class InfoResult:
    version: tuple[int, ...]
    timestamp_ms: int | None
    t: int | None


def parse_info(body: Any) -> InfoResult:
    obj = _obj(body, "info response")
    v = obj.get("version")
    version = tuple(x for x in v if isinstance(x, int)) if isinstance(v, list) else ()
    ts = obj.get("timestamp")
    return InfoResult(
        version=version,
        timestamp_ms=ts if isinstance(ts, int) and not isinstance(ts, bool) else None,
        t=network_time(obj),
    )


@dataclass(frozen=True)
class DeleteResult:
    deleted_by: dict[str, list[str]]  # node ed25519 -> hashes it deleted
    t: int | None


def parse_delete(body: Any) -> DeleteResult:
    obj = _obj(body, "delete response")
    out: dict[str, list[str]] = {}
    swarm = obj.get("swarm")
    if swarm is not None:
        for ed, entry in _obj(swarm, "delete response swarm").items():
            ed_hex = _hex32(ed, "delete response node key")
            if isinstance(entry, dict) and isinstance(entry.get("deleted"), list):
                out[ed_hex] = [h for h in entry["deleted"] if isinstance(h, str)]
    return DeleteResult(deleted_by=out, t=network_time(obj))


@dataclass(frozen=True)
class SubResult:
    code: int
    body: Any  # handed to the matching parser above, never out of protocol/


def parse_batch(body: Any) -> list[SubResult]:
    obj = _obj(body, "batch response")
    results = obj.get("results")
    if not isinstance(results, list):
        raise ProtocolError("batch response: no results array")
    out = []
    for r in results:
        d = _obj(r, "batch result")
        out.append(SubResult(code=_int(d.get("code"), "batch result code"), body=d.get("body")))
    return out


def error_text(body: Any) -> str:
    """A short, printable rendering of an error body (no secrets come back from nodes)."""
    text = body if isinstance(body, str) else json.dumps(body)[:200]
    return " ".join(text.split())[:200]
