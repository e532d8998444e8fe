"""Storage-server RPC requests, pure: signed strings (SPEC §4.3), request builders, message hash.

The answers are read by protocol/rpc_answers.py; a node is protocol/snode.py's Node.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from sessioncli.protocol import crypto
from sessioncli.protocol.ids import Identity


@dataclass(frozen=True)
class RpcRequest:
    """One storage RPC: method and params, serialised as the final-hop / direct JSON body."""

    method: str
    params: Mapping[str, Any]

    def to_obj(self) -> dict[str, Any]:
        return {"method": self.method, "params": dict(self.params)}

    def to_json(self) -> bytes:
        return json.dumps({"jsonrpc": "2.0", **self.to_obj()}, separators=(",", ":")).encode(
            "utf-8"
        )


# --- signed strings (SPEC §4.3) -----------------------------------------------------------


def ns_part(namespace: int | str) -> str:
    """Namespace as it appears in signed strings: empty for 0, else decimal (or "all")."""
    if namespace == 0:
        return ""
    return str(namespace)


def retrieve_string(namespace: int, timestamp_ms: int) -> str:
    return f"retrieve{ns_part(namespace)}{timestamp_ms}"


def store_string(namespace: int, timestamp_ms: int) -> str:
    return f"store{ns_part(namespace)}{timestamp_ms}"


def delete_string(hashes: Sequence[str]) -> str:
    return "delete" + "".join(hashes)


def delete_all_string(namespace: int | str, timestamp_ms: int) -> str:
    return f"delete_all{ns_part(namespace)}{timestamp_ms}"


def expire_string(expiry_ms: int, hashes: Sequence[str], mode: str = "") -> str:
    return f"expire{mode}{expiry_ms}" + "".join(hashes)


def get_expiries_string(timestamp_ms: int, hashes: Sequence[str]) -> str:
    return f"get_expiries{timestamp_ms}" + "".join(hashes)


def sign_string(ed25519_secret: bytes, text: str) -> str:
    """base64 Ed25519 signature of the ASCII string."""
    return base64.b64encode(crypto.sign(ed25519_secret, text.encode("ascii"))).decode("ascii")


RequestSigner = Callable[[str], Mapping[str, Any]]
"""The auth params (pubkey, signature, ...) for a signed string: a user's, or a group's."""


def _auth(identity: Identity, signed: str) -> dict[str, Any]:
    return {
        "pubkey": identity.session_id,
        "pubkey_ed25519": identity.ed25519_public.hex(),
        "signature": sign_string(identity.ed25519_secret, signed),
    }


# --- builders --------------------------------------------------------------------------------


def build_store(
    pubkey: str, data_b64: str, *, ttl_ms: int, timestamp_ms: int, namespace: int = 0
) -> RpcRequest:
    """Unauthenticated store into a public-inbox namespace (what desktop sends for a DM)."""
    return RpcRequest(
        "store",
        {
            "pubkey": pubkey,
            "namespace": namespace,
            "timestamp": timestamp_ms,
            "ttl": ttl_ms,
            "data": data_b64,
        },
    )


def signed_store(
    sign: RequestSigner, data_b64: str, *, namespace: int, ttl_ms: int, timestamp_ms: int
) -> RpcRequest:
    """An authenticated store ("store" + ns + timestamp; desktop sends `timestamp` only)."""
    return RpcRequest(
        "store",
        {
            "namespace": namespace,
            "timestamp": timestamp_ms,
            "ttl": ttl_ms,
            "data": data_b64,
            **sign(store_string(namespace, timestamp_ms)),
        },
    )


def signed_retrieve(
    sign: RequestSigner,
    *,
    namespace: int,
    timestamp_ms: int,
    last_hash: str | None = None,
    max_count: int | None = None,
) -> RpcRequest:
    params: dict[str, Any] = {
        "namespace": namespace,
        "timestamp": timestamp_ms,
        **sign(retrieve_string(namespace, timestamp_ms)),
    }
    if last_hash:
        params["last_hash"] = last_hash
    if max_count is not None:
        params["max_count"] = max_count
    return RpcRequest("retrieve", params)


def signed_delete(sign: RequestSigner, hashes: Sequence[str]) -> RpcRequest:
    return RpcRequest("delete", {"messages": list(hashes), **sign(delete_string(hashes))})


def build_retrieve(
    identity: Identity,
    *,
    timestamp_ms: int,
    namespace: int = 0,
    last_hash: str | None = None,
    max_count: int | None = None,
) -> RpcRequest:
    """A retrieve signed by the account's own Ed25519 key."""
    return signed_retrieve(
        partial(_auth, identity),
        namespace=namespace,
        timestamp_ms=timestamp_ms,
        last_hash=last_hash,
        max_count=max_count,
    )


def build_delete(identity: Identity, hashes: Sequence[str]) -> RpcRequest:
    return signed_delete(partial(_auth, identity), hashes)


def build_get_swarm(pubkey: str) -> RpcRequest:
    return RpcRequest("get_swarm", {"pubkey": pubkey})


def build_info() -> RpcRequest:
    return RpcRequest("info", {})


_SN_FIELDS = {
    "public_ip": True,
    "storage_port": True,
    "pubkey_x25519": True,
    "pubkey_ed25519": True,
    "swarm_id": True,
}


def build_get_n_service_nodes() -> RpcRequest:
    """The seed's oxend JSON-RPC (POST <seed>/json_rpc); no limit: fetch all active nodes."""
    return RpcRequest(
        "get_n_service_nodes",
        {
            "active_only": True,
            "fields": {**_SN_FIELDS, "requested_unlock_height": True, "height": True},
        },
    )


def build_oxend_get_service_nodes() -> RpcRequest:
    """The same list asked of a service node, which forwards it to its oxend."""
    return RpcRequest(
        "oxend_request",
        {"endpoint": "get_service_nodes", "params": {"active_only": True, "fields": _SN_FIELDS}},
    )


def build_batch(requests: Sequence[RpcRequest], *, sequence: bool = False) -> RpcRequest:
    if not 1 <= len(requests) <= 20:
        raise ValueError("a batch holds 1 to 20 subrequests")
    return RpcRequest(
        "sequence" if sequence else "batch", {"requests": [r.to_obj() for r in requests]}
    )


# --- message hash ----------------------------------------------------------------------------


def message_hash(pubkey: str, namespace: int, data: bytes) -> str:
    """Storage hash: unpadded b64 of BLAKE2b-32(prefix || pubkey32 || ascii(ns) if ns else '' || data)."""
    raw = bytes.fromhex(pubkey)
    ns = str(namespace).encode("ascii") if namespace != 0 else b""
    digest = crypto.blake2b(raw + ns + data, size=32)
    return base64.b64encode(digest).decode("ascii").rstrip("=")
