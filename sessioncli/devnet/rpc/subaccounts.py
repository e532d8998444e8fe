"""Withdrawing subaccount tokens: revoke_subaccount, unrevoke_subaccount, revoked_subaccounts.

Only the account owner may call these (no subaccount). Mirrors `revoke_subaccount` /
`unrevoke_subaccount` / `revoked_subaccounts` `::load_from` (session-storage-server
`oxenss/rpc/client_rpc_endpoints.cpp`), their `RequestHandler::process_client_req`
(`oxenss/rpc/request_handler.cpp`) and `Database::revoke_subaccounts` (which keeps the 50 most
recent per account)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sessioncli.devnet import crypto
from sessioncli.devnet.node import Network, Node
from sessioncli.devnet.rpc import fields as f
from sessioncli.devnet.rpc.auth import (
    Access,
    require_timely_signature,
    signed,
)
from sessioncli.devnet.rpc.base import Method
from sessioncli.devnet.rpc.fields import Auth
from sessioncli.devnet.rpc.framing import bad
from sessioncli.devnet.rpc.swarm import check_swarm, fan_out


@dataclass(frozen=True)
class Tokens:
    method: str  # "revoke_subaccount" or "unrevoke_subaccount"
    pubkey: str
    auth: Auth
    timestamp: int
    tokens: list[bytes]


def _load_tokens(params: dict[str, Any], method: str, key: str) -> Tokens:
    listed = f.strings(params, key)
    ts = f.timestamp(params, "timestamp")
    pubkey = f.pubkey(params)
    auth = f.signature_fields(params, pubkey, subaccount=False)
    if key == "unrevoke":  # upstream checks the two in this order for unrevoke only
        f.require("timestamp", ts)
    listed = f.require(key, listed)
    if key == "revoke" and len(listed) > f.MAX_SUBACCOUNT_TOKENS:
        raise bad(
            f"invalid revoke: cannot revoke more than {f.MAX_SUBACCOUNT_TOKENS} subaccounts at once"
        )
    tokens = []
    for text in listed:
        token = f.token_bytes(text)
        if token is None:
            raise bad(f"invalid {key}: expected base64 or hex-encoded subaccount tag")
        tokens.append(token)
    return Tokens(method, pubkey, auth, f.require("timestamp", ts), tokens)


def load_revoke(params: dict[str, Any]) -> Tokens:
    return _load_tokens(params, "revoke_subaccount", "revoke")


def load_unrevoke(params: dict[str, Any]) -> Tokens:
    return _load_tokens(params, "unrevoke_subaccount", "unrevoke")


def run_tokens(
    node: Node, net: Network, req: Tokens, params: dict[str, Any], forwarded: bool
) -> dict[str, Any]:
    check_swarm(node, net, req.pubkey)
    # The signed string carries the raw 36-byte tokens, not their text form.
    require_timely_signature(
        node,
        req.pubkey,
        req.auth,
        Access.NONE,
        req.method,
        req.timestamp,
        req.timestamp,
        *req.tokens,
    )
    assert node.store is not None
    mine: dict[str, Any] = {}
    if req.method == "revoke_subaccount":
        node.store.revoke(req.pubkey, req.tokens, node.now_ms())
    else:
        mine["count"] = node.store.unrevoke(req.pubkey, req.tokens)
    sig = node.keys.sign(signed(req.pubkey, req.timestamp, *req.tokens))
    mine["signature"] = crypto.b64(sig)
    return mine if forwarded else fan_out(node, net, req.pubkey, req.method, params, mine)


@dataclass(frozen=True)
class Revoked:
    pubkey: str
    auth: Auth
    timestamp: int


def load_revoked(params: dict[str, Any]) -> Revoked:
    ts = f.timestamp(params, "timestamp")
    pubkey = f.pubkey(params)
    auth = f.signature_fields(params, pubkey, subaccount=False)
    # Upstream checks this one with the raw account key only (it passes no pubkey_ed25519).
    return Revoked(pubkey, Auth(auth.signature), f.require("timestamp", ts))


def run_revoked(
    node: Node, net: Network, req: Revoked, params: dict[str, Any], forwarded: bool
) -> dict[str, Any]:
    check_swarm(node, net, req.pubkey)
    require_timely_signature(
        node, req.pubkey, req.auth, Access.NONE, "revoked_subaccounts", req.timestamp, req.timestamp
    )
    assert node.store is not None
    tokens = [crypto.b64(t) for t in node.store.revoked(req.pubkey)]
    return {"revoked_subaccounts": tokens, "t": node.now_ms(), "hf": net.hf}


REVOKE = Method(load_revoke, run_tokens, recursive=True)
UNREVOKE = Method(load_unrevoke, run_tokens, recursive=True)
REVOKED = Method(load_revoked, run_revoked)
