"""Methods about the network rather than an account: get_swarm, info, oxend_request.

Mirrors `get_swarm::load_from` / `oxend_request::load_from` (session-storage-server
`oxenss/rpc/client_rpc_endpoints.cpp`) and `RequestHandler::process_client_req(rpc::get_swarm&&)`,
`(rpc::info&&)`, `(rpc::oxend_request&&)` (`oxenss/rpc/request_handler.cpp`); the oxend side is
the devnet's own (node list, ONS registry)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sessioncli.devnet.node import STORAGE_VERSION, Network, Node
from sessioncli.devnet.ons import OnsError
from sessioncli.devnet.rpc import fields as f
from sessioncli.devnet.rpc.base import Method
from sessioncli.devnet.rpc.framing import RpcError, bad

OXEND_ENDPOINTS = ("get_service_nodes", "ons_resolve")


def load_get_swarm(params: dict[str, Any]) -> str:
    return f.pubkey(params, aliased=True, get_swarm=True)


def run_get_swarm(
    node: Node, net: Network, pubkey: str, params: dict[str, Any], forwarded: bool
) -> dict[str, Any]:
    return net.swarm_json(net.swarm_of(pubkey), node.now_ms())


def load_info(params: dict[str, Any]) -> None:
    return None


def run_info(
    node: Node, net: Network, req: None, params: dict[str, Any], forwarded: bool
) -> dict[str, Any]:
    now = node.now_ms()
    return {"version": STORAGE_VERSION, "timestamp": now, "t": now, "hf": net.hf}


@dataclass(frozen=True)
class OxendRequest:
    endpoint: str
    params: Any


def load_oxend_request(params: dict[str, Any]) -> OxendRequest:
    endpoint = f.require("endpoint", f.string(params, "endpoint"))
    if endpoint not in OXEND_ENDPOINTS:
        raise bad(f"Invalid oxend endpoint '{endpoint}'")
    return OxendRequest(endpoint, params.get("params"))


def run_oxend_request(
    node: Node, net: Network, req: OxendRequest, params: dict[str, Any], forwarded: bool
) -> dict[str, Any]:
    inner = req.params if req.params is not None else {}
    if not isinstance(inner, dict):
        # oxend refuses it; the storage server passes oxend's error text back as a 400.
        raise RpcError(400, "Invalid params")
    if req.endpoint == "get_service_nodes":
        result = net.service_node_states(inner)
    else:
        try:
            result = net.ons.resolve(inner)
        except OnsError as exc:
            raise RpcError(400, str(exc)) from None
    return {"result": result, "t": node.now_ms(), "hf": net.hf}


GET_SWARM = Method(load_get_swarm, run_get_swarm)
INFO = Method(load_info, run_info)
OXEND_REQUEST = Method(load_oxend_request, run_oxend_request)
