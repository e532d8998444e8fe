"""Actions over one namespace or all of them (delete_all, delete_before, expire_all): SPEC §4.4.

The three take the same shape in session-storage-server (`oxenss/rpc/client_rpc_endpoints.cpp`:
a namespace or "all", one timestamp, the account's signature over method + namespace +
timestamp; `handle_action_all_ns` / `handle_action_one_ns` in `oxenss/rpc/request_handler.cpp`
for the reply): what differs is the timestamp's field, its checks and what the store does."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sessioncli.devnet import crypto
from sessioncli.devnet.node import Network, Node
from sessioncli.devnet.rpc import fields as f
from sessioncli.devnet.rpc.auth import Access, require_signature, signed
from sessioncli.devnet.rpc.base import Method
from sessioncli.devnet.rpc.fields import Auth
from sessioncli.devnet.rpc.storage import ns_part
from sessioncli.devnet.rpc.swarm import check_swarm, fan_out
from sessioncli.devnet.store import MessageStore


def affected(
    node: Node, key: str, by_ns: dict[int, list[str]], all_ns: bool, *sig_parts: str | int
) -> dict[str, Any]:
    """A node's entry for an action over namespaces: the hashes (a list, or a dict per namespace
    for "all"), signed by the node over `sig_parts` then every hash in sorted order."""
    flat = sorted(h for hs in by_ns.values() for h in hs)
    listed: Any = {str(ns): hs for ns, hs in sorted(by_ns.items())} if all_ns else flat
    signature = node.keys.sign(signed(*sig_parts, *flat))
    return {key: listed, "signature": crypto.b64(signature)}


@dataclass(frozen=True)
class NamespaceAction:
    """A namespace (or "all") and the one timestamp the action is about."""

    pubkey: str
    auth: Auth
    namespace: int | str
    at_ms: int  # delete_all: timestamp; delete_before: before; expire_all: expiry

    @property
    def all_namespaces(self) -> bool:
        return self.namespace == f.ALL

    @property
    def one_namespace(self) -> int | None:
        """The namespace, or None for all of them (as MessageStore takes it)."""
        return None if self.all_namespaces else int(self.namespace)


def load_namespace_action(
    params: dict[str, Any], time_field: str, *, namespace_first: bool = False
) -> NamespaceAction:
    """Fields in the order upstream's `load_from` reads them (its first bad field is the 400)."""
    if namespace_first:
        namespace = f.namespace(params, allow_all=True)
        at = f.timestamp(params, time_field)
    else:
        at = f.timestamp(params, time_field)
        namespace = f.namespace(params, allow_all=True)
    pubkey = f.pubkey(params)
    auth = f.signature_fields(params, pubkey)
    return NamespaceAction(pubkey, auth, namespace, f.require(time_field, at))


# Refuses (RpcError) a request whose timestamp this action does not take: (node, request,
# forwarded, now_ms), after the swarm check and before the signature check, as upstream orders them.
TimeCheck = Callable[[Node, NamespaceAction, bool, int], None]
# Carries the action out on the store: (store, request, now_ms) → hashes touched, per namespace.
StoreAction = Callable[[MessageStore, NamespaceAction, int], dict[int, list[str]]]


def namespace_method(
    method: str,
    time_field: str,
    answer_key: str,
    check: TimeCheck,
    apply: StoreAction,
    *,
    namespace_first: bool = False,
) -> Method:
    """The Method for one of these actions; `answer_key` holds the hashes a node touched."""

    def load(params: dict[str, Any]) -> NamespaceAction:
        return load_namespace_action(params, time_field, namespace_first=namespace_first)

    def run(
        node: Node, net: Network, req: NamespaceAction, params: dict[str, Any], forwarded: bool
    ) -> dict[str, Any]:
        check_swarm(node, net, req.pubkey)
        now = node.now_ms()
        check(node, req, forwarded, now)
        require_signature(
            node,
            req.pubkey,
            req.auth,
            Access.DELETE,
            f"{method} signature verification failed",
            method,
            ns_part(req.namespace),
            req.at_ms,
        )
        assert node.store is not None
        by_ns = apply(node.store, req, now)
        mine = affected(node, answer_key, by_ns, req.all_namespaces, req.pubkey, req.at_ms)
        return mine if forwarded else fan_out(node, net, req.pubkey, method, params, mine)

    return Method(load, run, recursive=True)
