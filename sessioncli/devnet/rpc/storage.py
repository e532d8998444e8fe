"""The account's messages: store, retrieve, delete, delete_all, delete_before (SPEC §4)."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from sessioncli.devnet import crypto
from sessioncli.devnet.node import HARDFORK, Network, Node
from sessioncli.devnet.rpc import params as p
from sessioncli.devnet.rpc.auth import (
    FORWARDED_WINDOW_MS,
    SIG_WINDOW_MS,
    check_time,
    verify,
    window_ms,
)
from sessioncli.devnet.rpc.framing import RpcError, bad
from sessioncli.devnet.rpc.swarm import fan_out

MAX_DATA_BYTES = 76_800
MIN_TTL_MS = 10_000
MAX_TTL_PUBLIC_MS = 14 * 24 * 3600 * 1000
MAX_TTL_MS = 30 * 24 * 3600 * 1000
STORE_FUTURE_MS = 10_000
RETRIEVE_BUDGET = 7_800_000


def store(node: Node, net: Network, params: dict[str, Any], forwarded: bool) -> dict[str, Any]:
    pubkey = p.pubkey(params)
    namespace = p.namespace(params)
    assert namespace is not None
    timestamp = p.integer(params, "timestamp")
    now = node.now_ms()
    expiry = (
        p.integer(params, "expiry") if "expiry" in params else timestamp + p.integer(params, "ttl")
    )
    ttl = expiry - timestamp
    max_ttl = MAX_TTL_PUBLIC_MS if namespace % 10 == 0 else MAX_TTL_MS
    if not MIN_TTL_MS <= ttl <= max_ttl:
        raise RpcError(403, "Provided expiry/TTL is not valid.")
    slack = STORE_FUTURE_MS + (FORWARDED_WINDOW_MS - SIG_WINDOW_MS if forwarded else 0)
    if timestamp > now + slack or expiry < now - slack:
        raise RpcError(406, "Timestamp error: check your clock")
    data_text = params.get("data")
    if not isinstance(data_text, str):
        raise bad("missing required parameter 'data'")
    if len(data_text) > (MAX_DATA_BYTES + 2) // 3 * 4:
        raise bad(f"data too large (max {MAX_DATA_BYTES} bytes)")
    try:
        data = base64.b64decode(data_text, validate=True)
    except (binascii.Error, ValueError):
        raise bad("data must be base64") from None
    if len(data) > MAX_DATA_BYTES:
        raise bad(f"data too large (max {MAX_DATA_BYTES} bytes)")
    if namespace % 10 != 0:
        sig_ts = p.integer(params, "sig_timestamp", timestamp)
        check_time(node, sig_ts, forwarded, "store")
        verify(params, pubkey, f"store{p.ns_text(namespace)}{sig_ts}")
    account = bytes.fromhex(pubkey)
    msg_hash = crypto.message_hash(account[0], account[1:], namespace, data)
    assert node.store is not None
    put = node.store.replace_all if p.is_public_outbox(namespace) else node.store.store
    stored_expiry, already = put(pubkey, namespace, msg_hash, timestamp, expiry, data)
    mine: dict[str, Any] = {
        "hash": msg_hash,
        "expiry": stored_expiry,
        "signature": crypto.b64(node.keys.sign(msg_hash.encode())),
    }
    if already:
        mine["already"] = True
    if forwarded:
        return mine
    reply = fan_out(node, net, pubkey, "store", params, mine)
    reply["hash"] = msg_hash
    return reply


def retrieve(node: Node, net: Network, params: dict[str, Any], forwarded: bool) -> dict[str, Any]:
    pubkey = p.pubkey(params)
    namespace = p.namespace(params)
    assert namespace is not None
    if namespace != -10 and not p.is_public_outbox(namespace):
        timestamp = p.integer(params, "timestamp")
        check_time(node, timestamp, forwarded, "retrieve")
        verify(params, pubkey, f"retrieve{p.ns_text(namespace)}{timestamp}")
    last_hash = params.get("last_hash", "") or ""
    if not isinstance(last_hash, str) or (last_hash and len(last_hash) != 43):
        raise bad("last_hash must be a 43-character message hash or empty")
    max_count = p.integer(params, "max_count", 1_000_000)
    if max_count < 1:
        raise bad("max_count must be positive")
    max_size = p.integer(params, "max_size", -5)
    if max_size < 0:
        max_size = RETRIEVE_BUDGET // -max_size
    elif max_size == 0:
        max_size = RETRIEVE_BUDGET // 5
    assert node.store is not None
    now = node.now_ms()
    messages, more = node.store.retrieve(pubkey, namespace, last_hash, now, max_count, max_size)
    return {
        "messages": [
            {
                "hash": m.hash,
                "timestamp": m.timestamp,
                "expiration": m.expiry,
                "data": crypto.b64(m.data),
            }
            for m in messages
        ],
        "more": more,
        "t": now,
        "hf": HARDFORK,
    }


def delete(node: Node, net: Network, params: dict[str, Any], forwarded: bool) -> dict[str, Any]:
    pubkey = p.pubkey(params)
    hashes = p.hashes(params)
    verify(params, pubkey, "delete" + "".join(hashes))
    assert node.store is not None
    deleted = node.store.delete(pubkey, hashes)
    if not deleted and params.get("required") is True and not forwarded:
        raise RpcError(404, "No messages found")
    mine = {
        "deleted": deleted,
        "signature": crypto.b64(
            node.keys.sign((pubkey + "".join(hashes) + "".join(deleted)).encode())
        ),
    }
    return mine if forwarded else fan_out(node, net, pubkey, "delete", params, mine)


def delete_all(node: Node, net: Network, params: dict[str, Any], forwarded: bool) -> dict[str, Any]:
    pubkey = p.pubkey(params)
    namespace = p.namespace(params, allow_all=True)
    timestamp = p.integer(params, "timestamp")
    check_time(node, timestamp, forwarded, "delete_all")
    verify(params, pubkey, f"delete_all{p.ns_text(namespace)}{timestamp}")
    assert node.store is not None
    by_ns = node.store.delete_namespace(pubkey, namespace)
    flat = sorted(h for hs in by_ns.values() for h in hs)
    deleted: Any = {str(ns): hs for ns, hs in by_ns.items()} if namespace is None else flat
    mine = {
        "deleted": deleted,
        "signature": crypto.b64(node.keys.sign((pubkey + str(timestamp) + "".join(flat)).encode())),
    }
    return mine if forwarded else fan_out(node, net, pubkey, "delete_all", params, mine)


def delete_before(
    node: Node, net: Network, params: dict[str, Any], forwarded: bool
) -> dict[str, Any]:
    pubkey = p.pubkey(params)
    namespace = p.namespace(params, allow_all=True)
    before = p.integer(params, "before")
    verify(params, pubkey, f"delete_before{p.ns_text(namespace)}{before}")
    if before > node.now_ms() + window_ms(forwarded):
        raise RpcError(401, "delete_before: timestamp is in the future")
    assert node.store is not None
    deleted = node.store.delete_before(pubkey, namespace, before)
    mine = {
        "deleted": deleted,
        "signature": crypto.b64(node.keys.sign((pubkey + str(before) + "".join(deleted)).encode())),
    }
    return mine if forwarded else fan_out(node, net, pubkey, "delete_before", params, mine)
