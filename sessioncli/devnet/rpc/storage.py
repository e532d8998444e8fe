"""Putting messages in and getting them out: store and retrieve (SPEC §4.4).

Mirrors `store::load_from` / `retrieve::load_from` (session-storage-server
`oxenss/rpc/client_rpc_endpoints.cpp`), `RequestHandler::process_client_req(rpc::store&&)` /
`(rpc::retrieve&&)` (`oxenss/rpc/request_handler.cpp`) and `Database::retrieve`
(`oxenss/storage/database.cpp`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sessioncli.devnet import crypto
from sessioncli.devnet.node import Network, Node
from sessioncli.devnet.rpc import fields as f
from sessioncli.devnet.rpc.auth import (
    FORWARDED_TOLERANCE_MS,
    SIGNATURE_TOLERANCE_MS,
    Access,
    check_window,
    require_signature,
    require_timely_signature,
)
from sessioncli.devnet.rpc.base import Method
from sessioncli.devnet.rpc.fields import Auth
from sessioncli.devnet.rpc.framing import RpcError, bad
from sessioncli.devnet.rpc.swarm import check_swarm, fan_out

MAX_MESSAGE_BODY = 76_800
TTL_MINIMUM_MS = 10_000
TTL_MAXIMUM_MS = 14 * 24 * 3600 * 1000  # public inbox namespaces
TTL_MAXIMUM_PRIVATE_MS = 30 * 24 * 3600 * 1000
STORE_TOLERANCE_MS = 10_000
RETRIEVE_MAX_SIZE = 7_800_000
RETRIEVE_MESSAGE_OVERHEAD = 100  # bytes counted per message besides its hash and base64 data


def is_public_inbox(ns: int) -> bool:
    return ns % 10 == 0


def is_public_outbox(ns: int) -> bool:
    return ns < 0 and (-ns) % 20 == 1


def is_noauth_retrieve(ns: int) -> bool:
    return ns == -10 or is_public_outbox(ns)


def is_unrevocable(ns: int) -> bool:
    return ns < 0 and (-ns) % 100 == 11


def ns_part(ns: int | str) -> str:
    """A namespace as signed strings carry it: empty for 0, "all", else decimal."""
    return "" if ns == 0 else str(ns)


# -- store ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Store:
    pubkey: str
    namespace: int
    timestamp: int
    expiry: int
    data: bytes
    auth: Auth | None
    sig_ts: int | None


def load_store(params: dict[str, Any]) -> Store:
    data_text = f.string(params, "data")
    expiry = f.timestamp(params, "expiry")
    namespace = f.namespace(params)
    assert isinstance(namespace, int)
    sig_ts = f.timestamp(params, "sig_timestamp")
    has_sig = f.string(params, "signature") is not None
    timestamp = f.require("timestamp", f.stringified(params, "timestamp", unsigned=False))
    ttl = f.stringified(params, "ttl", unsigned=True)
    if expiry is not None and ttl is not None:
        raise bad("Cannot specify both 'expiry' and 'ttl'")
    if expiry is None and ttl is None:
        raise bad("Required field 'expiry' or 'ttl' missing")
    pubkey = f.pubkey(params, aliased=True)
    auth = f.signature_fields(params, pubkey) if has_sig else None
    data_text = f.require("data", data_text)
    if not f.is_base64(data_text):
        raise bad("Invalid 'data' value: not base64 encoded")
    if len(data_text) > MAX_MESSAGE_BODY // 3 * 4:
        raise bad(f"Message body exceeds maximum allowed length of {MAX_MESSAGE_BODY} bytes")
    return Store(
        pubkey=pubkey,
        namespace=namespace,
        timestamp=timestamp,
        expiry=expiry if expiry is not None else timestamp + (ttl or 0),
        data=f.from_base64(data_text),
        auth=auth,
        sig_ts=(sig_ts if sig_ts is not None else timestamp) if has_sig else None,
    )


def run_store(
    node: Node, net: Network, req: Store, params: dict[str, Any], forwarded: bool
) -> dict[str, Any]:
    check_swarm(node, net, req.pubkey)
    public_in = is_public_inbox(req.namespace)
    ttl = req.expiry - req.timestamp
    if not TTL_MINIMUM_MS <= ttl <= (TTL_MAXIMUM_MS if public_in else TTL_MAXIMUM_PRIVATE_MS):
        raise RpcError(403, "Provided expiry/TTL is not valid.")
    now = node.now_ms()
    # A member forwarding to us may see the time a little later than the entry node did.
    slack = STORE_TOLERANCE_MS + (FORWARDED_TOLERANCE_MS - SIGNATURE_TOLERANCE_MS) * forwarded
    if req.timestamp > now + slack or req.expiry < now - slack:
        raise RpcError(406, "Timestamp error: check your clock")
    if not public_in:
        if req.auth is None or req.sig_ts is None:
            raise RpcError(401, f"store: signature required to store to namespace {req.namespace}")
        check_window(
            node,
            req.sig_ts,
            SIGNATURE_TOLERANCE_MS,
            "store signature timestamp too far from current time",
        )
        # A store into a public outbox replaces what is there: a subaccount needs delete too.
        access = Access.WRITE | (Access.DELETE if is_public_outbox(req.namespace) else 0)
        require_signature(
            node,
            req.pubkey,
            req.auth,
            access,
            "store signature verification failed",
            "store",
            ns_part(req.namespace),
            req.sig_ts,
        )
    account = bytes.fromhex(req.pubkey)
    msg_hash = crypto.message_hash(account[0], account[1:], req.namespace, req.data)
    assert node.store is not None
    put = node.store.replace_all if is_public_outbox(req.namespace) else node.store.store
    stored_expiry, already = put(
        req.pubkey, req.namespace, msg_hash, req.timestamp, req.expiry, req.data
    )
    mine: dict[str, Any] = {
        "hash": msg_hash,
        "expiry": stored_expiry,
        "signature": crypto.b64(node.keys.sign(msg_hash.encode())),
    }
    if already:
        mine["already"] = True
    if forwarded:
        return mine
    mine["t"] = now  # the entry node's own entry carries its time too, as upstream does
    reply = fan_out(node, net, req.pubkey, "store", params, mine)
    reply["hash"] = msg_hash
    return reply


# -- retrieve -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Retrieve:
    pubkey: str
    namespace: int
    auth: Auth | None  # None: no signature to check (only allowed for the no-auth namespaces)
    timestamp: int
    last_hash: str
    max_count: int | None
    max_size: int | None


def load_retrieve(params: dict[str, Any]) -> Retrieve:
    last_hash_old = f.string(params, "lastHash")
    last_hash = f.string(params, "last_hash")
    max_count = f.integer(params, "max_count")
    max_size = f.integer(params, "max_size")
    given_ns = params.get("namespace") is not None
    namespace = f.namespace(params)
    assert isinstance(namespace, int)
    pubkey = f.pubkey(params, aliased=True)
    has_auth = any(params.get(k) is not None for k in ("pubkey_ed25519", "signature"))
    ts = f.timestamp(params, "timestamp")
    auth = None
    if has_auth or ts is not None or (given_ns and not is_noauth_retrieve(namespace)):
        auth = f.signature_fields(params, pubkey)
    if last_hash is not None and last_hash_old is not None:
        raise bad("Cannot specify both 'last_hash' and 'lastHash'")
    last = last_hash if last_hash is not None else last_hash_old or ""
    if last and len(last) != 43:
        raise bad("Invalid last_hash: expected base64 (43 chars)")
    if last and not f.is_base64(last):
        raise bad("Invalid last_hash: not base64")
    # Upstream leaves the timestamp unset (the epoch) when a signature comes without one: it then
    # fails the time window.
    return Retrieve(pubkey, namespace, auth, ts or 0, last, max_count, max_size)


def retrieve_limits(max_count: int | None, max_size: int | None) -> tuple[int | None, int]:
    """(count limit or None, byte budget): 0 means "not given"; neither given means -5; a
    negative size is a fraction of the maximum; the maximum caps everything."""
    count = max_count or None
    size = max_size or None
    if count is None and size is None:
        size = -5
    if size is not None and size < 0:
        return count, RETRIEVE_MAX_SIZE // -size
    if size is None or size > RETRIEVE_MAX_SIZE:
        return count, RETRIEVE_MAX_SIZE
    return count, size


def run_retrieve(
    node: Node, net: Network, req: Retrieve, params: dict[str, Any], forwarded: bool
) -> dict[str, Any]:
    check_swarm(node, net, req.pubkey)
    now = node.now_ms()
    if req.auth is None and not is_noauth_retrieve(req.namespace):
        raise RpcError(401, "retrieve: request signature required")
    if req.auth is not None:
        require_timely_signature(
            node,
            req.pubkey,
            req.auth,
            Access.READ,
            "retrieve",
            req.timestamp,
            ns_part(req.namespace),
            req.timestamp,
            skip_revoke=is_unrevocable(req.namespace),
        )
    count, size = retrieve_limits(req.max_count, req.max_size)
    assert node.store is not None
    messages, more = node.store.retrieve(
        req.pubkey, req.namespace, req.last_hash, now, count, size, RETRIEVE_MESSAGE_OVERHEAD
    )
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
        "hf": net.hf,
    }


STORE = Method(load_store, run_store, recursive=True)
RETRIEVE = Method(load_retrieve, run_retrieve)
