"""The method table of /storage_rpc/v1 and /swarm_rpc/v1: which handler runs, where, for whom."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sessioncli.devnet import crypto
from sessioncli.devnet.node import Network, Node
from sessioncli.devnet.rpc import expiry, info, meta, storage
from sessioncli.devnet.rpc import params as p
from sessioncli.devnet.rpc.framing import Body, RpcError, bad, parse_request
from sessioncli.devnet.rpc.swarm import check_swarm

Handler = Callable[[Node, Network, dict[str, Any], bool], dict[str, Any]]

HANDLERS: dict[str, Handler] = {
    "store": storage.store,
    "retrieve": storage.retrieve,
    "delete": storage.delete,
    "delete_all": storage.delete_all,
    "delete_before": storage.delete_before,
    "expire": expiry.expire,
    "get_expiries": expiry.get_expiries,
    "get_swarm": info.get_swarm,
    "get_snodes_for_pubkey": info.get_swarm,
    "info": info.info,
    "oxend_request": info.oxend_request,
}

# Methods whose pubkey must belong to this node's swarm (421 otherwise).
_ACCOUNT_METHODS = frozenset(
    {"store", "retrieve", "delete", "delete_all", "delete_before", "expire", "get_expiries"}
)
# Methods one swarm member forwards to the others.
_RECURSIVE = frozenset({"store", "delete", "delete_all", "delete_before", "expire"})


def run(
    node: Node, net: Network, method: Any, params: Any, *, forwarded: bool = False
) -> tuple[int, Body]:
    """Run one RPC as this node; returns (status, body). Never raises for a client mistake."""
    try:
        if not isinstance(method, str):
            raise bad("missing or invalid method")
        if not isinstance(params, dict):
            raise bad("params must be an object")
        return 200, _dispatch(node, net, method, params, forwarded=forwarded)
    except RpcError as exc:
        return exc.status, exc.body


def _dispatch(
    node: Node,
    net: Network,
    method: str,
    params: dict[str, Any],
    *,
    forwarded: bool,
    nested: bool = False,
) -> dict[str, Any]:
    node.count_method(method)
    if method in meta.META_METHODS:
        if nested:
            raise bad("batch requests may not be nested")

        def run_one(sub_method: str, sub_params: dict[str, Any]) -> dict[str, Any]:
            return _dispatch(node, net, sub_method, sub_params, forwarded=False, nested=True)

        return meta.batch(params, run_one, stop_on_error=method == "sequence")
    handler = HANDLERS.get(method)
    if handler is None:
        raise bad(f"unknown method '{method}'")
    if method in _ACCOUNT_METHODS and not forwarded:
        check_swarm(node, net, p.pubkey(params))
    return handler(node, net, params, forwarded)


def run_forwarded(
    node: Node, net: Network, body: bytes, headers: dict[str, str]
) -> tuple[int, Body]:
    """A request another swarm member forwarded: check it really comes from a member, then apply."""
    sender = net.by_ed25519.get(headers.get("x-devnet-sender", ""))
    signature = p.decode_bytes(headers.get("x-devnet-signature", ""), 64)
    if (
        sender is None
        or signature is None
        or not crypto.verify_ed25519(signature, body, sender.keys.ed25519_pk)
    ):
        return 401, "unknown or unauthenticated swarm peer"
    try:
        method, params = parse_request(body)
    except RpcError as exc:
        return exc.status, exc.body
    if method not in _RECURSIVE:
        return 400, f"invalid request: {method} is not forwarded between swarm members"
    return run(node, net, method, params, forwarded=True)
