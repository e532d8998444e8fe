"""Taking messages away: delete, delete_all, delete_before (SPEC §4.4).

Mirrors `delete_msgs` / `delete_all` / `delete_before` `::load_from` (session-storage-server
`oxenss/rpc/client_rpc_endpoints.cpp`) and their `RequestHandler::process_client_req`,
`handle_action_one_ns` / `handle_action_all_ns` (`oxenss/rpc/request_handler.cpp`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sessioncli.devnet import crypto
from sessioncli.devnet.node import Network, Node
from sessioncli.devnet.rpc import fields as f
from sessioncli.devnet.rpc.auth import Access, check_window, require_signature, signed, window_ms
from sessioncli.devnet.rpc.base import Method
from sessioncli.devnet.rpc.fields import Auth
from sessioncli.devnet.rpc.framing import RpcError
from sessioncli.devnet.rpc.storage import ns_part
from sessioncli.devnet.rpc.swarm import check_swarm, fan_out

DELETE_BEFORE_FUTURE_MS = 60_000


def affected(
    node: Node, key: str, by_ns: dict[int, list[str]], all_ns: bool, *sig_parts: str | int
) -> dict[str, Any]:
    """A node's entry for an action over namespaces: the hashes (a list, or a dict per namespace
    for "all"), signed by the node over `sig_parts` then every hash in sorted order."""
    flat = sorted(h for hs in by_ns.values() for h in hs)
    listed: Any = {str(ns): hs for ns, hs in sorted(by_ns.items())} if all_ns else flat
    signature = node.keys.sign(signed(*sig_parts, *flat))
    return {key: listed, "signature": crypto.b64(signature)}


# -- delete ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Delete:
    pubkey: str
    auth: Auth
    messages: list[str]
    required: bool


def load_delete(params: dict[str, Any]) -> Delete:
    f.strings(params, "messages")  # the type first, as upstream checks every field's type first
    required = f.boolean(params, "required")
    pubkey = f.pubkey(params)
    auth = f.signature_fields(params, pubkey)
    return Delete(pubkey, auth, f.message_hashes(params), bool(required))


def run_delete(
    node: Node, net: Network, req: Delete, params: dict[str, Any], forwarded: bool
) -> dict[str, Any]:
    check_swarm(node, net, req.pubkey)
    require_signature(
        node,
        req.pubkey,
        req.auth,
        Access.DELETE,
        "delete_msgs signature verification failed",
        "delete",
        *req.messages,
    )
    assert node.store is not None
    deleted = node.store.delete(req.pubkey, req.messages)
    signature = node.keys.sign(signed(req.pubkey, *req.messages, *deleted))
    mine = {"deleted": deleted, "signature": crypto.b64(signature)}
    if forwarded:
        return mine
    reply = fan_out(node, net, req.pubkey, "delete", params, mine)
    if req.required and not any(r.get("deleted") for r in reply["swarm"].values()):
        raise RpcError(404, reply)  # no member deleted anything: the whole reply, as a 404
    return reply


# -- delete_all -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeleteAll:
    pubkey: str
    auth: Auth
    namespace: int | str
    timestamp: int


def load_delete_all(params: dict[str, Any]) -> DeleteAll:
    namespace = f.namespace(params, allow_all=True)
    ts = f.timestamp(params, "timestamp")
    pubkey = f.pubkey(params)
    auth = f.signature_fields(params, pubkey)
    return DeleteAll(pubkey, auth, namespace, f.require("timestamp", ts))


def run_delete_all(
    node: Node, net: Network, req: DeleteAll, params: dict[str, Any], forwarded: bool
) -> dict[str, Any]:
    check_swarm(node, net, req.pubkey)
    check_window(
        node, req.timestamp, window_ms(forwarded), "delete_all timestamp too far from current time"
    )
    require_signature(
        node,
        req.pubkey,
        req.auth,
        Access.DELETE,
        "delete_all signature verification failed",
        "delete_all",
        ns_part(req.namespace),
        req.timestamp,
    )
    assert node.store is not None
    all_ns = req.namespace == f.ALL
    by_ns = node.store.delete_namespace(req.pubkey, None if all_ns else int(req.namespace))
    mine = affected(node, "deleted", by_ns, all_ns, req.pubkey, req.timestamp)
    return mine if forwarded else fan_out(node, net, req.pubkey, "delete_all", params, mine)


# -- delete_before --------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeleteBefore:
    pubkey: str
    auth: Auth
    namespace: int | str
    before: int


def load_delete_before(params: dict[str, Any]) -> DeleteBefore:
    before = f.timestamp(params, "before")
    namespace = f.namespace(params, allow_all=True)
    pubkey = f.pubkey(params)
    auth = f.signature_fields(params, pubkey)
    return DeleteBefore(pubkey, auth, namespace, f.require("before", before))


def run_delete_before(
    node: Node, net: Network, req: DeleteBefore, params: dict[str, Any], forwarded: bool
) -> dict[str, Any]:
    check_swarm(node, net, req.pubkey)
    if req.before > node.now_ms() + DELETE_BEFORE_FUTURE_MS:
        raise RpcError(401, "delete_before timestamp too far in the future")
    require_signature(
        node,
        req.pubkey,
        req.auth,
        Access.DELETE,
        "delete_before signature verification failed",
        "delete_before",
        ns_part(req.namespace),
        req.before,
    )
    assert node.store is not None
    all_ns = req.namespace == f.ALL
    by_ns = node.store.delete_before(req.pubkey, None if all_ns else int(req.namespace), req.before)
    mine = affected(node, "deleted", by_ns, all_ns, req.pubkey, req.before)
    return mine if forwarded else fan_out(node, net, req.pubkey, "delete_before", params, mine)


DELETE = Method(load_delete, run_delete, recursive=True)
DELETE_ALL = Method(load_delete_all, run_delete_all, recursive=True)
DELETE_BEFORE = Method(load_delete_before, run_delete_before, recursive=True)
