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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sessioncli.errors import ProtocolError, SessionCliError, TemporaryFailure, UsageError
from sessioncli.net.policy import Blame, Deadline
from sessioncli.net.retrieved import RetrievedMessage
from sessioncli.net.storing import verified_holders
from sessioncli.net.swarmcall import Parts, Recipe, SwarmCall
from sessioncli.protocol import onion, rpc, rpc_answers, rpc_reads
from sessioncli.protocol.snode import Node

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
            rpc_reads.parse_retrieve(reply.body)  # well-formed, or another member is asked
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
    holders = verified_holders(
        rpc_answers.parse_store(body), node.pubkey_ed25519, expected, members
    )
    if not holders:
        return None
    return {**body, "hash": expected, "stored_on": holders}


# --- polling: one batch of namespaces from every member, each from its own cursors -----------

MakeRetrieve = Callable[[int, int, "str | None"], rpc.RpcRequest]
"""(namespace, the member's network time, that member's last hash there or None) -> request."""


@dataclass(frozen=True)
class GroupPage:
    """One member's answer to the batch: per namespace its messages (oldest first) and whether
    it has more, or the HTTP code the member refused that namespace with (e.g. 401: revoked)."""

    node: str  # ed25519 hex
    pages: dict[int, tuple[list[RetrievedMessage], bool]]
    refused: dict[int, int]


@dataclass(frozen=True)
class GroupPoll:
    pages: list[GroupPage]
    failed: dict[str, str] = field(default_factory=dict)  # member -> why it did not answer
    requests: int = 0


def cursor_key(node: str, namespace: int) -> str:
    """How a per-member, per-namespace cursor is named in the caller's cursor map."""
    return f"{node}/{namespace}"


def group_poll(
    parts: Parts,
    group_id: str,
    make: MakeRetrieve,
    deadline: Deadline,
    *,
    namespaces: Sequence[int],
    cursors: Mapping[str, str],
) -> GroupPoll:
    """Every member of the group's swarm, in parallel, asked once for all `namespaces` (one
    batch request each, from its own cursors). Fails (69/75) only when no member answered."""
    from sessioncli.net import polling

    gid = group_id_of(group_id)
    before = parts.ex.transport.requests
    recipe = _poll_recipe(parts, make, namespaces, cursors)
    members = parts.lookup.get(gid, deadline, False)
    try:
        parts.ex.paths.ensure(deadline)  # once, before the threads want paths
    except SessionCliError:
        pass  # each member's call reports it
    shun = frozenset(m.pubkey_ed25519 for m in members)
    calls = [
        SwarmCall(
            parts.ex,
            parts.lookup,
            gid,
            recipe,
            deadline,
            only=[m],
            max_attempts=polling.MEMBER_ATTEMPTS,
            blame=Blame(shun=shun),
        )
        for m in members
    ]
    outcomes: list[GroupPage | polling.Failed | None] = polling.run_all(calls, deadline)
    pages: list[GroupPage] = []
    errors: dict[str, polling.Failed] = {}
    for call, outcome in zip(calls, outcomes, strict=True):
        ed = call.members[0].pubkey_ed25519
        if isinstance(outcome, GroupPage):
            pages.append(outcome)
        elif outcome is not None:
            errors[ed] = outcome
        else:
            why = f"{call.members[0].address} still had no answer when the others had"
            errors[ed] = polling.Failed(TemporaryFailure(why), why)
    if not pages:
        raise polling.first_error(errors, parts.ex, f"group poll for {gid[:10]}…")
    failed = {ed: f.why for ed, f in errors.items()}
    return GroupPoll(pages, failed, parts.ex.transport.requests - before)


def _poll_recipe(
    parts: Parts, make: MakeRetrieve, namespaces: Sequence[int], cursors: Mapping[str, str]
) -> Recipe[GroupPage]:
    def build(node: Node) -> rpc.RpcRequest:
        ed, now = node.pubkey_ed25519, parts.clock.now_for(node.pubkey_ed25519)
        return rpc.build_batch([make(n, now, cursors.get(cursor_key(ed, n))) for n in namespaces])

    def accept(node: Node, reply: onion.SnodeReply) -> GroupPage:
        results = rpc_reads.parse_batch(reply.body)
        if len(results) != len(namespaces):
            raise ProtocolError("group poll: the batch answer has the wrong number of results")
        pages: dict[int, tuple[list[RetrievedMessage], bool]] = {}
        refused: dict[int, int] = {}
        for n, sub in zip(namespaces, results, strict=True):
            if sub.code != 200:
                refused[n] = sub.code
                continue
            got = rpc_reads.parse_retrieve(sub.body)
            msgs = [
                RetrievedMessage(m.hash, m.timestamp_ms, m.expiration_ms, m.data)
                for m in got.messages
            ]
            pages[n] = (msgs, got.more)
        return GroupPage(node.pubkey_ed25519, pages, refused)

    return Recipe(what="group poll", make=build, accept=accept, order=lambda nodes: nodes)
