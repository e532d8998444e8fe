"""When the account's messages expire: expire, get_expiries (SPEC §4)."""

from __future__ import annotations

from typing import Any

from sessioncli.devnet import crypto
from sessioncli.devnet.node import HARDFORK, Network, Node
from sessioncli.devnet.rpc import params as p
from sessioncli.devnet.rpc.auth import check_time, verify, window_ms
from sessioncli.devnet.rpc.framing import RpcError, bad
from sessioncli.devnet.rpc.storage import MAX_TTL_MS
from sessioncli.devnet.rpc.swarm import fan_out


def expire(node: Node, net: Network, params: dict[str, Any], forwarded: bool) -> dict[str, Any]:
    pubkey = p.pubkey(params)
    hashes = p.hashes(params)
    expiry = p.integer(params, "expiry")
    shorten = params.get("shorten") is True
    extend = params.get("extend") is True
    if shorten and extend:
        raise bad("cannot both shorten and extend")
    mode = "shorten" if shorten else "extend" if extend else ""
    verify(params, pubkey, f"expire{mode}{expiry}{''.join(hashes)}")
    now = node.now_ms()
    if expiry < now - window_ms(forwarded):
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
    return mine if forwarded else fan_out(node, net, pubkey, "expire", params, mine)


def get_expiries(
    node: Node, net: Network, params: dict[str, Any], forwarded: bool
) -> dict[str, Any]:
    pubkey = p.pubkey(params)
    hashes = p.hashes(params)
    timestamp = p.integer(params, "timestamp")
    check_time(node, timestamp, forwarded, "get_expiries")
    verify(params, pubkey, f"get_expiries{timestamp}{''.join(hashes)}")
    assert node.store is not None
    now = node.now_ms()
    return {"expiries": node.store.expiries(pubkey, hashes, now), "t": now, "hf": HARDFORK}
