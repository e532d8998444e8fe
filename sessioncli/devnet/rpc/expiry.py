"""When messages expire: expire (one expiry or one per message), expire_all, get_expiries.

Mirrors `expire_msgs` / `expire_all` / `get_expiries` `::load_from` (session-storage-server
`oxenss/rpc/client_rpc_endpoints.cpp`), their `RequestHandler::process_client_req`
(`oxenss/rpc/request_handler.cpp`) and `Database::update_expiry` / `update_all_expiries`
(`oxenss/storage/database.cpp`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sessioncli.devnet import crypto
from sessioncli.devnet.node import Network, Node
from sessioncli.devnet.rpc import fields as f
from sessioncli.devnet.rpc.auth import (
    Access,
    require_signature,
    require_timely_signature,
    signed,
    window_ms,
)
from sessioncli.devnet.rpc.base import Method
from sessioncli.devnet.rpc.fields import Auth
from sessioncli.devnet.rpc.framing import RpcError, bad
from sessioncli.devnet.rpc.ns_actions import NamespaceAction, namespace_method
from sessioncli.devnet.rpc.storage import TTL_MAXIMUM_PRIVATE_MS
from sessioncli.devnet.rpc.swarm import check_swarm, fan_out

MULTI_EXPIRY_HARDFORK = (19, 4)
EXPIRE_PAST_MS = 60_000

# -- expire ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Expire:
    pubkey: str
    auth: Auth
    expiry: list[int]  # one for every message, or one per message
    messages: list[str]
    shorten: bool
    extend: bool


def load_expire(params: dict[str, Any]) -> Expire:
    expiry = f.timestamps(params, "expiry")
    extend = bool(f.boolean(params, "extend"))
    f.strings(params, "messages")
    shorten = bool(f.boolean(params, "shorten"))
    pubkey = f.pubkey(params)
    auth = f.signature_fields(params, pubkey)
    expiry = f.require("expiry", expiry)
    if not expiry:
        raise bad("'expiry' does not contain any expiration timestamps")
    if shorten and extend:
        raise bad("cannot specify both 'shorten' and 'extend'")
    messages = f.message_hashes(params, check=False)
    if len(expiry) > 1 and len(expiry) != len(messages):
        raise bad("'expiry' must be a single expiry, or the same length as 'messages'")
    for h in messages:
        if len(h) != 43 or not f.is_base64(h):
            raise bad(f"invalid message hash: {h}")
    return Expire(pubkey, auth, expiry, messages, shorten, extend)


def run_expire(
    node: Node, net: Network, req: Expire, params: dict[str, Any], forwarded: bool
) -> dict[str, Any]:
    check_swarm(node, net, req.pubkey)
    if len(req.expiry) > 1 and net.hardfork < MULTI_EXPIRY_HARDFORK:
        raise RpcError(403, "expire: multi-expiry requests are not yet active on the network")
    now = node.now_ms()
    if any(e < now - EXPIRE_PAST_MS for e in req.expiry):
        raise RpcError(401, "expire: timestamp should be >= current time")
    applied = [min(now + TTL_MAXIMUM_PRIVATE_MS, e) for e in req.expiry]
    mode = "shorten" if req.shorten else "extend" if req.extend else ""
    require_signature(
        node,
        req.pubkey,
        req.auth,
        Access.WRITE,
        "expire: signature verification failed",
        "expire",
        mode,
        *req.expiry,
        *req.messages,
    )
    if req.auth.subaccount is not None and not req.auth.subaccount[1] & Access.DELETE:
        # Shortening is nearly deleting: a subaccount without delete may only extend.
        if req.shorten:
            raise RpcError(
                400,
                "expire: shorten parameter cannot be used with this subaccount token "
                "(missing delete access)",
            )
        mode = "extend"
    assert node.store is not None
    updated, unchanged = node.store.set_expiry(req.pubkey, req.messages, applied, mode, now)
    if not (req.shorten or req.extend):
        unchanged = {}
    signed_expiries = [e for _, e in updated] if len(req.expiry) > 1 else [applied[0]]
    hashes = [h for h, _ in updated]
    sig = node.keys.sign(
        signed(
            req.pubkey,
            *signed_expiries,
            *req.messages,
            *hashes,
            *(f"{h}{e}" for h, e in sorted(unchanged.items())),
        )
    )
    mine: dict[str, Any] = {
        "expiry": signed_expiries if len(req.expiry) > 1 else applied[0],
        "updated": hashes,
        "signature": crypto.b64(sig),
    }
    if req.shorten or req.extend:
        mine["unchanged"] = dict(sorted(unchanged.items()))
    return mine if forwarded else fan_out(node, net, req.pubkey, "expire", params, mine)


# -- expire_all -----------------------------------------------------------------------------------


def _expire_all_not_past(_node: Node, req: NamespaceAction, forwarded: bool, now: int) -> None:
    if req.at_ms < now - window_ms(forwarded):
        raise RpcError(406, "expire_all timestamp should be >= current time")


# -- get_expiries ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class GetExpiries:
    pubkey: str
    auth: Auth
    timestamp: int
    messages: list[str]


def load_get_expiries(params: dict[str, Any]) -> GetExpiries:
    f.strings(params, "messages")
    ts = f.timestamp(params, "timestamp")
    pubkey = f.pubkey(params)
    auth = f.signature_fields(params, pubkey)
    ts = f.require("timestamp", ts)
    return GetExpiries(pubkey, auth, ts, f.message_hashes(params, check=False))


def run_get_expiries(
    node: Node, net: Network, req: GetExpiries, params: dict[str, Any], forwarded: bool
) -> dict[str, Any]:
    check_swarm(node, net, req.pubkey)
    require_timely_signature(
        node,
        req.pubkey,
        req.auth,
        Access.READ,
        "get_expiries",
        req.timestamp,
        req.timestamp,
        *req.messages,
    )
    assert node.store is not None
    return {"expiries": node.store.expiries(req.pubkey, req.messages, node.now_ms())}


EXPIRE = Method(load_expire, run_expire, recursive=True)
EXPIRE_ALL = namespace_method(
    "expire_all",
    "expiry",
    "updated",
    _expire_all_not_past,
    lambda store, req, now: store.shorten_all(req.pubkey, req.one_namespace, req.at_ms, now),
)
GET_EXPIRIES = Method(load_get_expiries, run_get_expiries)
