"""Storage-server RPC answers, pure: response parsers → frozen dataclasses (what a send reads).

Wire dicts never leave this module: parsers check every type they read and raise ProtocolError.
Answers to reads (retrieve, info, delete, batch) are in rpc_reads.py: a send, which reads none,
then does not pay for building their classes at start-up.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

from sessioncli.errors import ProtocolError
from sessioncli.protocol import crypto
from sessioncli.protocol.jsonread import json_hex32, json_object
from sessioncli.protocol.snode import Node, make_node


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
            nodes.append(make(json_object(entry, what)))
        except ProtocolError as exc:
            first = first or str(exc)
    if entries and not nodes:
        raise ProtocolError(f"{what}: no usable entry ({first})")
    return nodes


def parse_service_nodes(body: Any) -> list[Node]:
    """`{"result": {"service_node_states": [...]}}` from a seed, or the same inner object.

    Entries that are damaged or without a usable ip are skipped; ProtocolError if none is left.
    """
    obj = json_object(body, "service node list")
    if "result" in obj:
        obj = json_object(obj["result"], "service node list result")
    states = obj.get("service_node_states")
    if not isinstance(states, list):
        raise ProtocolError("service node list: no service_node_states array")

    def make(e: dict[str, Any]) -> Node:
        if not _usable_ip(e.get("public_ip")):
            raise ProtocolError("service node without a usable ip")
        swarm = e.get("swarm_id")
        swarm_id = swarm if isinstance(swarm, int) and not isinstance(swarm, bool) else None
        return make_node(
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
    obj = json_object(body, "get_swarm response")
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
        return make_node(
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
    obj = json_object(body, "store response")
    top = obj.get("hash")
    top_hash = top if isinstance(top, str) and top else None
    results: list[NodeStoreResult] = []
    swarm = obj.get("swarm")
    if swarm is not None:
        for ed, entry in json_object(swarm, "store response swarm").items():
            ed_hex = json_hex32(ed, "store response node key")
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


def error_text(body: Any) -> str:
    """A short, printable rendering of an error body (no secrets come back from nodes)."""
    text = body if isinstance(body, str) else json.dumps(body)[:200]
    return " ".join(text.split())[:200]
