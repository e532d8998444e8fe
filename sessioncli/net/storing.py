"""Storing a message: the store recipe, who holds it by the signed answer, and the redundancy rule."""

from __future__ import annotations

import base64
from collections.abc import Callable, Collection

from sessioncli.errors import SessionCliError, UsageError
from sessioncli.net.policy import Deadline
from sessioncli.net.results import StoreOutcome
from sessioncli.net.swarmcall import Parts, Recipe, SwarmCall
from sessioncli.protocol import onion, rpc, rpc_answers
from sessioncli.protocol.snode import Node

CLOCK_MOVED_MS = 1000
# Redundant stores: while fewer than min(REDUNDANCY, swarm size) members hold a message, the
# same (idempotent: same hash) store goes to another member, at most EXTRA_STORES times and
# within EXTRA_STORE_SECONDS of its own, so one sick member does not cost every send its timeout.
REDUNDANCY = 2
EXTRA_STORES = 2
EXTRA_STORE_SECONDS = 4.0


def store(
    parts: Parts, plan: StorePlan, reencode: Callable[[int], str] | None, deadline: Deadline
) -> StoreOutcome:
    """The first store that a member acknowledges, then the redundancy rule (see store_more)."""
    call = SwarmCall(
        parts.ex, parts.lookup, plan.sid, store_recipe(parts, plan, reencode, deadline), deadline
    )
    first = call.run()
    return store_more(parts, plan, call, first, deadline)


def store_recipe(
    parts: Parts, plan: StorePlan, reencode: Callable[[int], str] | None, deadline: Deadline
) -> Recipe[StoreOutcome]:
    def after_refusal(node: Node) -> bool:
        if reencode is None or len(plan.versions) > 1:
            return False
        swarm = parts.swarms.get(plan.sid) or [node]
        parts.ex.settle_network_time(deadline, exclude={n.pubkey_ed25519 for n in swarm})
        if abs(parts.clock.offset_ms() - plan.made_with) <= CLOCK_MOVED_MS:
            return False
        ts = parts.clock.now_ms()
        plan.add(ts, reencode(ts))
        return True

    def accept(node: Node, reply: onion.SnodeReply) -> StoreOutcome | None:
        members = {n.pubkey_ed25519 for n in parts.swarms.get(plan.sid) or []}
        result = rpc_answers.parse_store(reply.body)
        ts, _data, expected = plan.versions[-1]
        holders = verified_holders(result, node.pubkey_ed25519, expected, members)
        if not holders:
            return None
        expiries = [n.expiry_ms for n in result.nodes if n.expiry_ms]
        expiry = max(expiries) if expiries else ts + plan.ttl_ms
        return StoreOutcome(expected, holders, expiry, ts)

    return Recipe(
        what="store",
        make=lambda _node: plan.request(),
        accept=accept,
        order=lambda nodes: parts.pool.ranked(nodes, parts.rng),
        after_clock_refusal=after_refusal,
    )


def store_more(
    parts: Parts,
    plan: StorePlan,
    call: SwarmCall[StoreOutcome],
    first: StoreOutcome,
    deadline: Deadline,
) -> StoreOutcome:
    """The redundancy rule (see store): extra stores of exactly the stored version (never
    re-encoded: the hash must stay), each one request, through paths that have not failed
    in this send (the first call's evidence goes along)."""
    want = min(REDUNDANCY, len(call.members))
    holders = list(first.stored_on)
    recipe = Recipe(
        what="store",
        make=lambda _node: plan.request(),
        accept=store_recipe(parts, plan, None, deadline).accept,
        order=lambda nodes: nodes,
        after_clock_refusal=lambda _node: False,
    )
    budget = deadline.sub(EXTRA_STORE_SECONDS)
    queue = [
        m
        for m in parts.pool.ranked(call.members, parts.rng)
        if m.pubkey_ed25519 not in holders and m.pubkey_ed25519 not in call.tried
    ]
    queue.sort(key=lambda n: call.failures[n.pubkey_ed25519])
    extra = 0
    for member in queue:
        if len(holders) >= want or extra >= EXTRA_STORES or budget.expired():
            break
        extra += 1
        one = SwarmCall(
            parts.ex,
            parts.lookup,
            plan.sid,
            recipe,
            budget,
            only=[member],
            max_attempts=1,
            blame=call.blame,
        )
        try:
            out = one.run()
        except SessionCliError:
            continue
        holders += [h for h in out.stored_on if h not in holders]
    return StoreOutcome(first.hash, holders, first.expiry_ms, first.timestamp_ms, 1 + extra)


class StorePlan:
    """The versions of one message being stored: the original, then at most one re-encoded
    (timestamp, data, expected hash), and the network offset the original was made with."""

    def __init__(self, sid: str, namespace: int, ttl_ms: int, made_with: int) -> None:
        self.sid, self.namespace, self.ttl_ms, self.made_with = sid, namespace, ttl_ms, made_with
        self.versions: list[tuple[int, str, str]] = []
        self._requests: list[rpc.RpcRequest] = []

    def add(self, timestamp_ms: int, data_b64: str) -> None:
        try:
            raw = base64.b64decode(data_b64, validate=True)
        except ValueError:
            raise UsageError("message data is not base64") from None
        expected = rpc.message_hash(self.sid, self.namespace, raw)
        self.versions.append((timestamp_ms, data_b64, expected))
        self._requests.append(
            rpc.build_store(
                self.sid,
                data_b64,
                ttl_ms=self.ttl_ms,
                timestamp_ms=timestamp_ms,
                namespace=self.namespace,
            )
        )

    def request(self) -> rpc.RpcRequest:
        return self._requests[-1]


def verified_holders(
    result: rpc_answers.StoreResult, target: str, expected: str, members: Collection[str]
) -> list[str]:
    """Who holds the message by a store answer: the target when it says the expected hash (its
    answer came under the onion key only it shares with us), and another member only with its
    own valid signature over that hash (SPEC §4.4: a node signs the base64 hash string), so a
    junk node cannot claim that others stored it; nodes outside the swarm do not count."""
    holders: list[str] = []
    if not result.nodes and result.hash == expected:
        return [target]
    for n in result.nodes:
        if n.failed or n.hash != expected or n.node_ed25519 in holders:
            continue
        if n.node_ed25519 == target or (n.signature_ok and n.node_ed25519 in members):
            holders.append(n.node_ed25519)
    return holders
