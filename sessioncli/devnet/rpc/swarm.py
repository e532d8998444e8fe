"""Swarm membership of an account (421) and replication of recursive requests to the other members.

Mirrors `handle_wrong_swarm`, `distribute_command` and `reply_or_fail` of session-storage-server
`oxenss/rpc/request_handler.cpp`; nodes send `/swarm_rpc/v1` over the node bus (bus.py), not OxenMQ."""

from __future__ import annotations

import json
import time
from concurrent.futures import Future
from typing import Any

from sessioncli.devnet import crypto
from sessioncli.devnet.bus import NodeBus
from sessioncli.devnet.node import Network, Node
from sessioncli.devnet.peers import PeerTimeout, PeerUnreachable
from sessioncli.devnet.rpc.framing import RpcError

SWARM_RPC_PATH = "/swarm_rpc/v1"
# Healthy members are served one after another in the entry node's thread (no hand-over) only
# while that stays quick: a real swarm answers in the time of its slowest member, not their sum,
# so once this much has gone by the members left are served in parallel, as any others.
_INLINE_BUDGET_S = 0.02


def check_swarm(node: Node, net: Network, pubkey: str) -> None:
    swarm_id = net.swarm_of(pubkey)
    if node.fault == "stale421":
        raise RpcError(421, net.swarm_json(swarm_id, node.now_ms(), leave_out=node))
    if node.spec.swarm_id != swarm_id:
        raise RpcError(421, net.swarm_json(swarm_id, node.now_ms()))


def fan_out(
    node: Node, net: Network, pubkey: str, method: str, params: dict[str, Any], mine: dict[str, Any]
) -> dict[str, Any]:
    """Send the same request to every other swarm member; gather their signed results."""
    body = json.dumps({"method": method, "params": params}).encode()
    headers = {
        "Content-Type": "application/json",
        "X-Devnet-Sender": node.spec.ed25519_hex,
        "X-Devnet-Signature": crypto.b64(node.keys.sign(body)),
    }
    # Members the bus can serve in this thread are, after the others are handed to threads:
    # a forwarded store waits on no other host, so only a hung or faulty member can be slow,
    # and those still run in parallel, each to its own timeout.
    bus = net.peers if isinstance(net.peers, NodeBus) else None
    others = [m for m in net.members(net.swarm_of(pubkey)) if m is not node]
    here = [bus is not None and bus.serves_in_caller(m.ip, m.port) for m in others]
    futures: dict[str, Future[dict[str, Any]]] = {
        member.spec.ed25519_hex: net.executor.submit(
            _forward_one, node, net, member, body, headers, False
        )
        for member, inline in zip(others, here, strict=True)
        if not inline
    }
    results: dict[str, dict[str, Any]] = {}
    started = time.monotonic()
    for member, inline in zip(others, here, strict=True):
        if not inline:
            continue
        ed_hex = member.spec.ed25519_hex
        if time.monotonic() - started > _INLINE_BUDGET_S:
            futures[ed_hex] = net.executor.submit(
                _forward_one, node, net, member, body, headers, False
            )
        else:
            results[ed_hex] = _forward_one(node, net, member, body, headers, True)
    swarm: dict[str, Any] = {node.spec.ed25519_hex: mine}
    for member in others:  # in member order, as the answer lists them
        ed_hex = member.spec.ed25519_hex
        swarm[ed_hex] = results[ed_hex] if ed_hex in results else _result(bus, futures[ed_hex])
    reply = {"swarm": swarm, "t": node.now_ms(), "hf": net.hf}
    if all(r.get("failed") for r in swarm.values()):
        raise RpcError(500, reply)
    return reply


def _result(bus: NodeBus | None, future: Future[dict[str, Any]]) -> dict[str, Any]:
    """A threaded member's result, waited for no longer than the caller this thread runs a hop
    for (NodeBus.post_here) waits: past that nobody reads this node's answer, but the node goes
    on with the rest of its request (a batch's other stores), as a real one would."""
    left = bus.time_left() if bus is not None else None
    try:
        return future.result(timeout=None if left is None else max(left, 0.0))
    except TimeoutError:
        return {"failed": True, "timeout": True}


def _forward_one(
    node: Node, net: Network, member: Node, body: bytes, headers: dict[str, str], here: bool
) -> dict[str, Any]:
    """One member's result; `here`: in this thread, over the bus (NodeBus.post_here)."""
    post = net.peers.post_here if here and isinstance(net.peers, NodeBus) else net.peers.post
    try:
        reply = post(
            node.ip, member.ip, member.port, SWARM_RPC_PATH, body, net.replication_timeout, headers
        )
    except PeerTimeout:
        return {"failed": True, "timeout": True}
    except PeerUnreachable as exc:
        return {"failed": True, "reason": f"unreachable: {exc}"}
    if reply.status != 200:
        return {
            "failed": True,
            "code": reply.status,
            "reason": reply.body[:200].decode("utf-8", "replace"),
        }
    try:
        result = json.loads(reply.body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return {"failed": True, "bad_peer_response": True}
    if not isinstance(result, dict):
        return {"failed": True, "bad_peer_response": True}
    return result
