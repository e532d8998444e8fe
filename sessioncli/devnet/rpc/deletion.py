"""Taking messages away: delete, delete_all, delete_before (SPEC §4.4).

Mirrors `delete_msgs` / `delete_all` / `delete_before` `::load_from` (session-storage-server
`oxenss/rpc/client_rpc_endpoints.cpp`) and their `RequestHandler::process_client_req`,
`handle_action_one_ns` / `handle_action_all_ns` (`oxenss/rpc/request_handler.cpp`); what
delete_all and delete_before share with expire_all is in rpc/ns_actions.py."""

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
from sessioncli.devnet.rpc.ns_actions import NamespaceAction, namespace_method
from sessioncli.devnet.rpc.swarm import check_swarm, fan_out

DELETE_BEFORE_FUTURE_MS = 60_000


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


# -- delete_all, delete_before ------------------------------------------------------------------


def _delete_all_in_window(node: Node, req: NamespaceAction, forwarded: bool, _now: int) -> None:
    check_window(
        node, req.at_ms, window_ms(forwarded), "delete_all timestamp too far from current time"
    )


def _delete_before_not_ahead(node: Node, req: NamespaceAction, _fwd: bool, now: int) -> None:
    if req.at_ms > now + DELETE_BEFORE_FUTURE_MS:
        raise RpcError(401, "delete_before timestamp too far in the future")


DELETE = Method(load_delete, run_delete, recursive=True)
DELETE_ALL = namespace_method(
    "delete_all",
    "timestamp",
    "deleted",
    _delete_all_in_window,
    lambda store, req, _now: store.delete_namespace(req.pubkey, req.one_namespace),
    namespace_first=True,
)
DELETE_BEFORE = namespace_method(
    "delete_before",
    "before",
    "deleted",
    _delete_before_not_ahead,
    lambda store, req, _now: store.delete_before(req.pubkey, req.one_namespace, req.at_ms),
)
