"""Storage RPC semantics (SPEC §4): parameter checks, signatures, namespaces, TTLs, swarm fan-out."""

from __future__ import annotations

import base64
import binascii
import json
from concurrent.futures import Future
from typing import Any

from sessioncli.devnet import crypto
from sessioncli.devnet.node import HARDFORK, STORAGE_VERSION, Network, Node
from sessioncli.devnet.peers import PeerTimeout, PeerUnreachable

MAX_DATA_BYTES = 76_800
MIN_TTL_MS = 10_000
MAX_TTL_PUBLIC_MS = 14 * 24 * 3600 * 1000
MAX_TTL_MS = 30 * 24 * 3600 * 1000
SIG_WINDOW_MS = 60_000
FORWARDED_WINDOW_MS = 70_000
STORE_FUTURE_MS = 10_000
RETRIEVE_BUDGET = 7_800_000
MAX_SUBREQUESTS = 20
SWARM_RPC_PATH = "/swarm_rpc/v1"

# Methods whose pubkey must belong to this node's swarm (421 otherwise).
_ACCOUNT_METHODS = frozenset(
    {"store", "retrieve", "delete", "delete_all", "delete_before", "expire", "get_expiries"}
)
_RECURSIVE = frozenset({"store", "delete", "delete_all", "delete_before", "expire"})

Body = dict[str, Any] | str


class RpcError(Exception):
    """An RPC answer other than 200: HTTP status plus a text (or, for 421, JSON) body."""

    def __init__(self, status: int, body: Body) -> None:
        super().__init__(body if isinstance(body, str) else json.dumps(body))
        self.status = status
        self.body = body


def _bad(message: str) -> RpcError:
    return RpcError(400, f"invalid request: {message}")


# -- entry points ---------------------------------------------------------------------------------


def run(
    node: Node, net: Network, method: Any, params: Any, *, forwarded: bool = False
) -> tuple[int, Body]:
    """Run one RPC as this node; returns (status, body). Never raises for a client mistake."""
    try:
        if not isinstance(method, str):
            raise _bad("missing or invalid method")
        if not isinstance(params, dict):
            raise _bad("params must be an object")
        return 200, _dispatch(node, net, method, params, forwarded=forwarded)
    except RpcError as exc:
        return exc.status, exc.body


def parse_request(body: bytes) -> tuple[Any, Any]:
    try:
        request = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _bad(f"invalid json: {exc}") from None
    if not isinstance(request, dict):
        raise _bad("request must be a JSON object")
    return request.get("method"), request.get("params")


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
    if method in ("batch", "sequence"):
        if nested:
            raise _bad("batch requests may not be nested")
        return _batch(node, net, params, stop_on_error=method == "sequence")
    handler = _HANDLERS.get(method)
    if handler is None:
        raise _bad(f"unknown method '{method}'")
    if method in _ACCOUNT_METHODS and not forwarded:
        pubkey = _pubkey(params)
        _check_swarm(node, net, pubkey)
    return handler(node, net, params, forwarded)


def _check_swarm(node: Node, net: Network, pubkey: str) -> None:
    swarm_id = net.swarm_of(pubkey)
    if node.fault == "stale421":
        raise RpcError(421, net.swarm_json(swarm_id, node.now_ms(), leave_out=node))
    if node.spec.swarm_id != swarm_id:
        raise RpcError(421, net.swarm_json(swarm_id, node.now_ms()))


def _batch(
    node: Node, net: Network, params: dict[str, Any], *, stop_on_error: bool
) -> dict[str, Any]:
    requests = params.get("requests")
    if not isinstance(requests, list) or not 1 <= len(requests) <= MAX_SUBREQUESTS:
        raise _bad(f"requests must be a list of 1-{MAX_SUBREQUESTS} subrequests")
    for sub in requests:
        if not isinstance(sub, dict) or not isinstance(sub.get("method"), str):
            raise _bad("every subrequest needs a method")
        if sub["method"] in ("batch", "sequence"):
            raise _bad("batch requests may not be nested")
    results: list[dict[str, Any]] = []
    for sub in requests:
        sub_params = sub.get("params", {})
        try:
            if not isinstance(sub_params, dict):
                raise _bad("params must be an object")
            body: Body = _dispatch(
                node, net, sub["method"], sub_params, forwarded=False, nested=True
            )
            code = 200
        except RpcError as exc:
            code, body = exc.status, exc.body
        results.append({"code": code, "body": body})
        if stop_on_error and not 200 <= code < 300:
            break
    return {"results": results}


# -- parameter parsing ----------------------------------------------------------------------------


def _pubkey(params: dict[str, Any]) -> str:
    pubkey = params.get("pubkey")
    if not isinstance(pubkey, str) or len(pubkey) != 66:
        raise _bad("pubkey must be 66 hex characters")
    try:
        bytes.fromhex(pubkey)
    except ValueError:
        raise _bad("pubkey must be 66 hex characters") from None
    return pubkey.lower()


def _int(params: dict[str, Any], name: str, default: int | None = None) -> int:
    value = params.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int):
        if value is None:
            raise _bad(f"missing required parameter '{name}'")
        raise _bad(f"'{name}' must be an integer")
    return value


def _namespace(params: dict[str, Any], allow_all: bool = False) -> int | None:
    value = params.get("namespace", 0)
    if allow_all and value == "all":
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not -32768 <= value <= 32767:
        raise _bad("namespace must be an integer in [-32768, 32767]")
    return value


def _ns_text(namespace: int | None) -> str:
    """Namespace as it appears in signed strings: empty for 0, "all" for every namespace."""
    if namespace is None:
        return "all"
    return "" if namespace == 0 else str(namespace)


def _hashes(params: dict[str, Any]) -> list[str]:
    messages = params.get("messages")
    if (
        not isinstance(messages, list)
        or not messages
        or not all(isinstance(h, str) and h for h in messages)
    ):
        raise _bad("messages must be a non-empty list of message hashes")
    return list(messages)


def _decode_bytes(value: str, size: int) -> bytes | None:
    """Hex or base64 (padded or not) of exactly `size` bytes."""
    if len(value) == 2 * size:
        try:
            return bytes.fromhex(value)
        except ValueError:
            pass
    try:
        raw = base64.b64decode(value + "=" * (-len(value) % 4), validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw if len(raw) == size else None


def _is_public_outbox(namespace: int) -> bool:
    return namespace < 0 and (-namespace) % 20 == 1


def _check_time(node: Node, timestamp: int, forwarded: bool, method: str) -> None:
    window = FORWARDED_WINDOW_MS if forwarded else SIG_WINDOW_MS
    if abs(timestamp - node.now_ms()) > window:
        raise RpcError(406, f"{method} timestamp too far from current time; check your clock")


def _verify(params: dict[str, Any], pubkey: str, signed: str) -> None:
    """Ed25519 signature of `signed` by the account (SPEC §4.3), or 401."""
    if "subaccount" in params:
        raise RpcError(401, "subaccount authentication is not supported by the devnet")
    sig_text = params.get("signature")
    if not isinstance(sig_text, str):
        raise RpcError(401, "signature required")
    signature = _decode_bytes(sig_text, 64)
    if signature is None:
        raise RpcError(401, "invalid signature encoding")
    account = bytes.fromhex(pubkey)
    prefix, key32 = account[0], account[1:]
    ed_text = params.get("pubkey_ed25519")
    if ed_text is not None:
        if prefix != 0x05:
            raise _bad("pubkey_ed25519 is only permitted for 05 pubkeys")
        ed_pk = _decode_bytes(ed_text, 32) if isinstance(ed_text, str) else None
        if ed_pk is None:
            raise _bad("pubkey_ed25519 must be 64 hex characters")
        if crypto.ed25519_to_x25519(ed_pk) != key32:
            raise RpcError(401, "pubkey_ed25519 does not match pubkey")
    elif prefix == 0x05:
        # No Ed25519 key given: an XEd25519 signature checks against the positive Edwards point.
        ed_pk = crypto.x25519_to_positive_ed25519(key32)
    else:
        ed_pk = key32
    if not crypto.verify_ed25519(signature, signed.encode(), ed_pk):
        raise RpcError(401, "Signature verification failed")


# -- methods --------------------------------------------------------------------------------------


def _store(node: Node, net: Network, params: dict[str, Any], forwarded: bool) -> dict[str, Any]:
    pubkey = _pubkey(params)
    namespace = _namespace(params)
    assert namespace is not None
    timestamp = _int(params, "timestamp")
    now = node.now_ms()
    expiry = _int(params, "expiry") if "expiry" in params else timestamp + _int(params, "ttl")
    ttl = expiry - timestamp
    max_ttl = MAX_TTL_PUBLIC_MS if namespace % 10 == 0 else MAX_TTL_MS
    if not MIN_TTL_MS <= ttl <= max_ttl:
        raise RpcError(403, "Provided expiry/TTL is not valid.")
    slack = STORE_FUTURE_MS + (FORWARDED_WINDOW_MS - SIG_WINDOW_MS if forwarded else 0)
    if timestamp > now + slack or expiry < now - slack:
        raise RpcError(406, "Timestamp error: check your clock")
    data_text = params.get("data")
    if not isinstance(data_text, str):
        raise _bad("missing required parameter 'data'")
    if len(data_text) > (MAX_DATA_BYTES + 2) // 3 * 4:
        raise _bad(f"data too large (max {MAX_DATA_BYTES} bytes)")
    try:
        data = base64.b64decode(data_text, validate=True)
    except (binascii.Error, ValueError):
        raise _bad("data must be base64") from None
    if len(data) > MAX_DATA_BYTES:
        raise _bad(f"data too large (max {MAX_DATA_BYTES} bytes)")
    if namespace % 10 != 0:
        sig_ts = _int(params, "sig_timestamp", timestamp)
        _check_time(node, sig_ts, forwarded, "store")
        _verify(params, pubkey, f"store{_ns_text(namespace)}{sig_ts}")
    account = bytes.fromhex(pubkey)
    msg_hash = crypto.message_hash(account[0], account[1:], namespace, data)
    assert node.store is not None
    put = node.store.replace_all if _is_public_outbox(namespace) else node.store.store
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
    reply = _fan_out(node, net, pubkey, "store", params, mine)
    reply["hash"] = msg_hash
    return reply


def _retrieve(node: Node, net: Network, params: dict[str, Any], forwarded: bool) -> dict[str, Any]:
    pubkey = _pubkey(params)
    namespace = _namespace(params)
    assert namespace is not None
    if namespace != -10 and not _is_public_outbox(namespace):
        timestamp = _int(params, "timestamp")
        _check_time(node, timestamp, forwarded, "retrieve")
        _verify(params, pubkey, f"retrieve{_ns_text(namespace)}{timestamp}")
    last_hash = params.get("last_hash", "") or ""
    if not isinstance(last_hash, str) or (last_hash and len(last_hash) != 43):
        raise _bad("last_hash must be a 43-character message hash or empty")
    max_count = _int(params, "max_count", 1_000_000)
    if max_count < 1:
        raise _bad("max_count must be positive")
    max_size = _int(params, "max_size", -5)
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


def _delete(node: Node, net: Network, params: dict[str, Any], forwarded: bool) -> dict[str, Any]:
    pubkey = _pubkey(params)
    hashes = _hashes(params)
    _verify(params, pubkey, "delete" + "".join(hashes))
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
    return mine if forwarded else _fan_out(node, net, pubkey, "delete", params, mine)


def _delete_all(
    node: Node, net: Network, params: dict[str, Any], forwarded: bool
) -> dict[str, Any]:
    pubkey = _pubkey(params)
    namespace = _namespace(params, allow_all=True)
    timestamp = _int(params, "timestamp")
    _check_time(node, timestamp, forwarded, "delete_all")
    _verify(params, pubkey, f"delete_all{_ns_text(namespace)}{timestamp}")
    assert node.store is not None
    by_ns = node.store.delete_namespace(pubkey, namespace)
    flat = sorted(h for hs in by_ns.values() for h in hs)
    deleted: Any = {str(ns): hs for ns, hs in by_ns.items()} if namespace is None else flat
    mine = {
        "deleted": deleted,
        "signature": crypto.b64(node.keys.sign((pubkey + str(timestamp) + "".join(flat)).encode())),
    }
    return mine if forwarded else _fan_out(node, net, pubkey, "delete_all", params, mine)


def _delete_before(
    node: Node, net: Network, params: dict[str, Any], forwarded: bool
) -> dict[str, Any]:
    pubkey = _pubkey(params)
    namespace = _namespace(params, allow_all=True)
    before = _int(params, "before")
    _verify(params, pubkey, f"delete_before{_ns_text(namespace)}{before}")
    window = FORWARDED_WINDOW_MS if forwarded else SIG_WINDOW_MS
    if before > node.now_ms() + window:
        raise RpcError(401, "delete_before: timestamp is in the future")
    assert node.store is not None
    deleted = node.store.delete_before(pubkey, namespace, before)
    mine = {
        "deleted": deleted,
        "signature": crypto.b64(node.keys.sign((pubkey + str(before) + "".join(deleted)).encode())),
    }
    return mine if forwarded else _fan_out(node, net, pubkey, "delete_before", params, mine)


def _expire(node: Node, net: Network, params: dict[str, Any], forwarded: bool) -> dict[str, Any]:
    pubkey = _pubkey(params)
    hashes = _hashes(params)
    expiry = _int(params, "expiry")
    shorten = params.get("shorten") is True
    extend = params.get("extend") is True
    if shorten and extend:
        raise _bad("cannot both shorten and extend")
    mode = "shorten" if shorten else "extend" if extend else ""
    _verify(params, pubkey, f"expire{mode}{expiry}{''.join(hashes)}")
    now = node.now_ms()
    window = FORWARDED_WINDOW_MS if forwarded else SIG_WINDOW_MS
    if expiry < now - window:
        raise RpcError(401, "expire: expiry timestamp is in the past")
    expiry = min(expiry, now + MAX_TTL_MS)
    assert node.store is not None
    updated, unchanged = node.store.set_expiry(pubkey, hashes, expiry, mode, now)
    signed = pubkey + str(expiry) + "".join(hashes) + "".join(updated)
    signed += "".join(f"{h}{e}" for h, e in sorted(unchanged.items()))
    mine: dict[str, Any] = {
        "updated": updated,
        "expiry": expiry,
        "signature": crypto.b64(node.keys.sign(signed.encode())),
    }
    if mode:
        mine["unchanged"] = unchanged
    return mine if forwarded else _fan_out(node, net, pubkey, "expire", params, mine)


def _get_expiries(
    node: Node, net: Network, params: dict[str, Any], forwarded: bool
) -> dict[str, Any]:
    pubkey = _pubkey(params)
    hashes = _hashes(params)
    timestamp = _int(params, "timestamp")
    _check_time(node, timestamp, forwarded, "get_expiries")
    _verify(params, pubkey, f"get_expiries{timestamp}{''.join(hashes)}")
    assert node.store is not None
    now = node.now_ms()
    return {"expiries": node.store.expiries(pubkey, hashes, now), "t": now, "hf": HARDFORK}


def _get_swarm(node: Node, net: Network, params: dict[str, Any], forwarded: bool) -> dict[str, Any]:
    pubkey = _pubkey(params)
    return net.swarm_json(net.swarm_of(pubkey), node.now_ms())


def _info(node: Node, net: Network, params: dict[str, Any], forwarded: bool) -> dict[str, Any]:
    now = node.now_ms()
    return {"version": STORAGE_VERSION, "timestamp": now, "t": now, "hf": HARDFORK}


def _oxend_request(
    node: Node, net: Network, params: dict[str, Any], forwarded: bool
) -> dict[str, Any]:
    endpoint = params.get("endpoint")
    inner = params.get("params", {})
    if not isinstance(inner, dict):
        raise _bad("oxend_request params must be an object")
    if endpoint in ("get_service_nodes", "get_n_service_nodes"):
        return {"result": net.service_node_states(inner)}
    raise _bad(f"oxend_request endpoint '{endpoint}' is not available on the devnet")


_HANDLERS = {
    "store": _store,
    "retrieve": _retrieve,
    "delete": _delete,
    "delete_all": _delete_all,
    "delete_before": _delete_before,
    "expire": _expire,
    "get_expiries": _get_expiries,
    "get_swarm": _get_swarm,
    "get_snodes_for_pubkey": _get_swarm,
    "info": _info,
    "oxend_request": _oxend_request,
}


# -- swarm replication ----------------------------------------------------------------------------


def _fan_out(
    node: Node, net: Network, pubkey: str, method: str, params: dict[str, Any], mine: dict[str, Any]
) -> dict[str, Any]:
    """Send the same request to every other swarm member over HTTPS; gather their signed results."""
    body = json.dumps({"method": method, "params": params}).encode()
    headers = {
        "Content-Type": "application/json",
        "X-Devnet-Sender": node.spec.ed25519_hex,
        "X-Devnet-Signature": crypto.b64(node.keys.sign(body)),
    }
    futures: dict[str, Future[dict[str, Any]]] = {}
    for member in net.members(net.swarm_of(pubkey)):
        if member is node:
            continue
        futures[member.spec.ed25519_hex] = net.executor.submit(
            _forward_one, node, net, member, body, headers
        )
    swarm: dict[str, Any] = {node.spec.ed25519_hex: mine}
    for ed_hex, future in futures.items():
        swarm[ed_hex] = future.result()
    if all(r.get("failed") for r in swarm.values()):
        raise RpcError(500, "all swarm members failed")
    return {"swarm": swarm, "t": node.now_ms(), "hf": HARDFORK}


def _forward_one(
    node: Node, net: Network, member: Node, body: bytes, headers: dict[str, str]
) -> dict[str, Any]:
    try:
        reply = net.peers.post(
            node.ip, member.ip, member.port, SWARM_RPC_PATH, body, net.replication_timeout, headers
        )
    except PeerTimeout:
        return {"failed": True, "timeout": True}
    except PeerUnreachable as exc:
        return {"failed": True, "reason": f"unreachable: {exc}"}
    if reply.status != 200:
        return {
            "failed": True,
            "code": reply.status,
            "reason": reply.body[:200].decode("utf-8", "replace"),
        }
    try:
        result = json.loads(reply.body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return {"failed": True, "bad_peer_response": True}
    if not isinstance(result, dict):
        return {"failed": True, "bad_peer_response": True}
    return result


def run_forwarded(
    node: Node, net: Network, body: bytes, headers: dict[str, str]
) -> tuple[int, Body]:
    """A request another swarm member forwarded: check it really comes from a member, then apply."""
    sender = net.by_ed25519.get(headers.get("x-devnet-sender", ""))
    signature = _decode_bytes(headers.get("x-devnet-signature", ""), 64)
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
