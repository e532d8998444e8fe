"""Requests on a group's (03…) swarm: signed by the caller per attempt, run as any swarm call.

The group's secrets never reach net/: the caller passes `make(network_time_ms) -> RpcRequest`
(protocol/groups/swarm_auth.py signs it as the admin or with a subaccount) and this module
finds the 03 id's swarm, sends the request through our onion paths with the usual member
rotation, 421/406 handling, blame and deadline (net/swarmcall.py), and hands back the JSON body
of the first member that answered 200. A store is accepted only when the answer names the hash
computed here from the request's own data (net/storing.py's signed-holders rule).
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

from sessioncli.errors import ProtocolError, UsageError
from sessioncli.net.policy import Deadline
from sessioncli.net.storing import verified_holders
from sessioncli.net.swarmcall import Parts, Recipe, SwarmCall
from sessioncli.protocol import onion, rpc
from sessioncli.protocol.rpc import Node

GROUP_PREFIX = "03"
MakeRequest = Callable[[int], rpc.RpcRequest]


def group_id_of(text: str) -> str:
    """The normalised 03 id (66 hex characters) or a UsageError naming the problem."""
    value = text.strip().lower()
    if len(value) != 66 or not value.startswith(GROUP_PREFIX):
        raise UsageError(f"not a group id (03 + 64 hex characters): {text[:12]!r}")
    try:
        bytes.fromhex(value)
    except ValueError:
        raise UsageError(f"not a group id (not hexadecimal): {text[:12]!r}") from None
    return value


def group_request(
    parts: Parts,
    group_id: str,
    make: MakeRequest,
    deadline: Deadline,
    *,
    what: str,
    recursive: bool,
) -> dict[str, Any]:
    """Run `make(t)` (t: the target member's idea of the network time) on the group's swarm
    until one member answers 200 with a usable body; that body (a store's with `hash` and
    `stored_on` set to what the signed answers prove). A `recursive` method (store, delete,
    revoke) answers for the whole swarm: a body without its `swarm` object is not usable."""
    gid = group_id_of(group_id)
    made: dict[str, rpc.RpcRequest] = {}  # the request sent to each member (a store's hash)

    def build(node: Node) -> rpc.RpcRequest:
        request = make(parts.clock.now_for(node.pubkey_ed25519))
        made[node.pubkey_ed25519] = request
        return request

    def accept(node: Node, reply: onion.SnodeReply) -> dict[str, Any] | None:
        if not isinstance(reply.body, dict):
            raise ProtocolError(f"group {what}: the answer is not a JSON object")
        if recursive and not isinstance(reply.body.get("swarm"), dict):
            raise ProtocolError(f"group {what}: the answer has no per-member results")
        if what == "store":
            return _stored(parts, gid, made[node.pubkey_ed25519], node, reply.body)
        if what == "retrieve":
            rpc.parse_retrieve(reply.body)  # well-formed, or another member is asked
        return reply.body

    recipe = Recipe(
        what=f"group {what}",
        make=build,
        accept=accept,
        order=lambda nodes: parts.pool.ranked(nodes, parts.rng),
    )
    return SwarmCall(parts.ex, parts.lookup, gid, recipe, deadline).run()


def _stored(
    parts: Parts, gid: str, request: rpc.RpcRequest, node: Node, body: dict[str, Any]
) -> dict[str, Any] | None:
    """A store's answer with the hash we expect (from the data we sent), or None when no
    member's answer proves it holds that message (another member is then asked)."""
    try:
        raw = base64.b64decode(str(request.params["data"]), validate=True)
        namespace = int(request.params.get("namespace", 0))
    except (KeyError, ValueError, TypeError):
        raise UsageError("group store: the request carries no base64 data") from None
    expected = rpc.message_hash(gid, namespace, raw)
    members = {n.pubkey_ed25519 for n in parts.swarms.get(gid) or []}
    holders = verified_holders(rpc.parse_store(body), node.pubkey_ed25519, expected, members)
    if not holders:
        return None
    return {**body, "hash": expected, "stored_on": holders}
