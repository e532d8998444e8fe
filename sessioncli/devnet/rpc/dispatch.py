"""The method table of /storage_rpc/v1 and /swarm_rpc/v1: parse the whole request, then run it.

As upstream (`RequestHandler::process_client_req(std::string_view method_name, json params, ...)`
in session-storage-server `oxenss/rpc/request_handler.cpp`): an unknown method is 400
`no method <name>`; a parse error is 400 `invalid request: <why>`, before anything runs (also
before the wrong-swarm check); then the method runs."""

from __future__ import annotations

from functools import partial
from typing import Any

from sessioncli.devnet.node import Network, Node
from sessioncli.devnet.rpc import deletion, expiry, info, meta, storage, subaccounts
from sessioncli.devnet.rpc import fields as f
from sessioncli.devnet.rpc.base import Loaded, Method
from sessioncli.devnet.rpc.framing import Body, RpcError, parse_request

# Forwarded bodies already parsed and loaded. Every other member of the swarm gets the same bytes
# and loading is a pure function of them (runners never change a loaded request or its params),
# so 3 of a store's 4 members skip it. Members take a body right after it is sent: a few suffice.
_LOADED_FORWARDS: dict[bytes, Loaded] = {}
_LOADED_FORWARDS_LIMIT = 64


def load(method: str, params: dict[str, Any]) -> Loaded | None:
    """The request parsed by its method's loader; None for an unknown method."""
    spec = METHODS.get(method)
    if spec is None:
        return None
    return Loaded(method, spec, spec.load(params), params)


def run_loaded(
    node: Node, net: Network, loaded: Loaded, *, forwarded: bool = False
) -> tuple[int, Body]:
    node.count_method(loaded.name)
    try:
        return 200, loaded.method.run(node, net, loaded.request, loaded.params, forwarded)
    except RpcError as exc:
        return exc.status, exc.body


def run(
    node: Node, net: Network, method: str, params: dict[str, Any], *, forwarded: bool = False
) -> tuple[int, Body]:
    """Run one RPC as this node; returns (status, body). Never raises for a client mistake."""
    try:
        loaded = load(method, params)
    except RpcError as exc:
        node.count_method(method)
        return exc.status, exc.body
    if loaded is None:
        return 400, f"no method {method}"
    return run_loaded(node, net, loaded, forwarded=forwarded)


def run_forwarded(
    node: Node, net: Network, body: bytes, headers: dict[str, str]
) -> tuple[int, Body]:
    """A request another swarm member forwarded: check it really comes from a member, then apply."""
    sender = net.by_ed25519.get(headers.get("x-devnet-sender", ""))
    sig_text = headers.get("x-devnet-signature", "")
    signature = f.from_base64(sig_text) if f.is_base64(sig_text) else b""
    if sender is None or not net.verified_peer(sender, signature, body):
        return 401, "unknown or unauthenticated swarm peer"
    loaded = _LOADED_FORWARDS.get(body)
    if loaded is None:
        try:
            method, params = parse_request(body)
        except RpcError as exc:
            return exc.status, exc.body
        spec = METHODS.get(method)
        if spec is None or not spec.recursive:
            return 400, "invalid request: received invalid forwarded non-forwardable request"
        try:
            loaded = Loaded(method, spec, spec.load(params), params)
        except RpcError as exc:
            node.count_method(method)
            return exc.status, exc.body
        if len(_LOADED_FORWARDS) >= _LOADED_FORWARDS_LIMIT:
            _LOADED_FORWARDS.clear()
        _LOADED_FORWARDS[body] = loaded
    return run_loaded(node, net, loaded, forwarded=True)


def _run_sub(node: Node, net: Network, loaded: Loaded) -> tuple[int, Body]:
    return run_loaded(node, net, loaded)


METHODS: dict[str, Method] = {
    "store": storage.STORE,
    "retrieve": storage.RETRIEVE,
    "delete": deletion.DELETE,
    "delete_all": deletion.DELETE_ALL,
    "delete_before": deletion.DELETE_BEFORE,
    "expire": expiry.EXPIRE,
    "expire_all": expiry.EXPIRE_ALL,
    "get_expiries": expiry.GET_EXPIRIES,
    "revoke_subaccount": subaccounts.REVOKE,
    "unrevoke_subaccount": subaccounts.UNREVOKE,
    "revoked_subaccounts": subaccounts.REVOKED,
    "get_swarm": info.GET_SWARM,
    "get_snodes_for_pubkey": info.GET_SWARM,
    "info": info.INFO,
    "oxend_request": info.OXEND_REQUEST,
}
METHODS["batch"] = Method(
    partial(meta.load_batch, load),
    lambda node, net, req, params, fwd: meta.run_batch(_run_sub, False, node, net, req),
)
METHODS["sequence"] = Method(
    partial(meta.load_batch, load),
    lambda node, net, req, params, fwd: meta.run_batch(_run_sub, True, node, net, req),
)
METHODS["ifelse"] = Method(
    partial(meta.load_ifelse, load),
    lambda node, net, req, params, fwd: meta.run_ifelse(_run_sub, node, net, req),
)
