"""Methods about the network rather than an account: get_swarm, info, oxend_request."""

from __future__ import annotations

from typing import Any

from sessioncli.devnet.node import HARDFORK, STORAGE_VERSION, Network, Node
from sessioncli.devnet.rpc import params as p
from sessioncli.devnet.rpc.framing import bad


def get_swarm(node: Node, net: Network, params: dict[str, Any], forwarded: bool) -> dict[str, Any]:
    pubkey = p.pubkey(params)
    return net.swarm_json(net.swarm_of(pubkey), node.now_ms())


def info(node: Node, net: Network, params: dict[str, Any], forwarded: bool) -> dict[str, Any]:
    now = node.now_ms()
    return {"version": STORAGE_VERSION, "timestamp": now, "t": now, "hf": HARDFORK}


def oxend_request(
    node: Node, net: Network, params: dict[str, Any], forwarded: bool
) -> dict[str, Any]:
    endpoint = params.get("endpoint")
    inner = params.get("params", {})
    if not isinstance(inner, dict):
        raise bad("oxend_request params must be an object")
    if endpoint in ("get_service_nodes", "get_n_service_nodes"):
        return {"result": net.service_node_states(inner)}
    raise bad(f"oxend_request endpoint '{endpoint}' is not available on the devnet")
