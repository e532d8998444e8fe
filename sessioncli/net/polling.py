"""Retrieving: one member's page (the recipe), and one page from every member of a swarm at once."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import TypeVar

from sessioncli.errors import SessionCliError, TemporaryFailure
from sessioncli.exitcodes import ExitCode
from sessioncli.net.executor import Executor
from sessioncli.net.policy import Blame, CallLog, Deadline
from sessioncli.net.retrieved import RetrievedMessage, RetrieveOutcome, SwarmPoll
from sessioncli.net.swarmcall import Parts, Recipe, SwarmCall
from sessioncli.protocol import onion, rpc, rpc_reads
from sessioncli.protocol.ids import Identity
from sessioncli.protocol.snode import Node

T = TypeVar("T")

MEMBER_ATTEMPTS = 4  # paths one member is tried on by a swarm-wide poll
STRAGGLER_GRACE = 3.0  # seconds the other members get once one has answered (see run_all)
POLL_ROUNDS = 3  # when no member answered at all, rounds on fresh paths before giving up


def poll_swarm(
    parts: Parts,
    deadline: Deadline,
    identity: Identity,
    *,
    cursors: Mapping[str, str],
    namespace: int = 0,
    max_count: int | None = None,
    only: Collection[str] | None = None,
) -> SwarmPoll:
    """One page from every reachable member of our swarm (those in `only`, if given), in
    parallel, each from its own cursor. Members that fail are listed in `failed`; when none
    answers, the call fails (69/75 by the CallLog rule). A member that answers 421 has the
    swarm cache replaced, and members new to the swarm are polled in the same call."""
    before = parts.ex.transport.requests
    members = parts.lookup.get(identity.session_id, deadline, False)
    if only is not None:
        members = [m for m in members if m.pubkey_ed25519 in only]
    recipe = retrieve_recipe(parts, identity, cursors, namespace, max_count, lambda ns: ns)
    pages, errors, moved = _poll_members(parts, identity, recipe, members, deadline)
    for _ in range(POLL_ROUNDS - 1):
        # Every member failed: usually the paths (guards answering junk), which that round
        # struck or dropped; the next round runs on fresh paths, within the same deadline.
        if pages or moved or deadline.remaining() <= 1.0:
            break
        pages, errors, moved = _poll_members(parts, identity, recipe, members, deadline)
    if moved and only is None:
        asked = {m.pubkey_ed25519 for m in members}
        new = [
            m
            for m in parts.lookup.get(identity.session_id, deadline, False)
            if m.pubkey_ed25519 not in asked
        ]
        more_pages, more_errors, _ = _poll_members(parts, identity, recipe, new, deadline)
        pages += more_pages
        errors.update(more_errors)
    failed = {ed: f.why for ed, f in errors.items()}
    if not pages:
        raise first_error(errors, parts.ex, f"retrieve for {identity.session_id[:10]}…")
    return SwarmPoll(pages, failed, parts.ex.transport.requests - before)


def _poll_members(
    parts: Parts,
    identity: Identity,
    recipe: Recipe[RetrieveOutcome],
    members: list[Node],
    deadline: Deadline,
) -> tuple[list[RetrieveOutcome], dict[str, Failed], bool]:
    if not members:
        return [], {}, False
    try:
        parts.ex.paths.ensure(deadline)  # once, before the threads want paths
    except SessionCliError:
        pass  # each member's call reports it
    shun = frozenset(m.pubkey_ed25519 for m in members)  # members make poor relays here
    calls = [
        SwarmCall(
            parts.ex,
            parts.lookup,
            identity.session_id,
            recipe,
            deadline,
            only=[m],
            max_attempts=MEMBER_ATTEMPTS,
            blame=Blame(shun=shun),  # one each: the calls run in parallel
        )
        for m in members
    ]
    outcomes = run_all(calls, deadline)
    pages: list[RetrieveOutcome] = []
    errors: dict[str, Failed] = {}
    for call, outcome in zip(calls, outcomes, strict=True):
        ed = call.members[0].pubkey_ed25519
        if isinstance(outcome, RetrieveOutcome):
            pages.append(outcome)
        elif isinstance(outcome, Failed):
            errors[ed] = outcome
        else:
            why = f"{call.members[0].address} still had no answer when the others had"
            errors[ed] = Failed(TemporaryFailure(why), why)
    return pages, errors, any(c.moved for c in calls)


def run_all(calls: list[SwarmCall[T]], deadline: Deadline) -> list[T | Failed | None]:
    """Run the calls in daemon threads; after the first page arrives, wait for the others only
    STRAGGLER_GRACE seconds plus twice what the first took: a hung member must not hold every
    receive for its whole timeout (its cursor stays, and it is asked again next time). A call
    still running then is abandoned (None), as guard probes are."""
    done: queue.Queue[tuple[int, T | Failed | BaseException]] = queue.Queue()

    def run(i: int, call: SwarmCall[T]) -> None:
        try:
            done.put((i, call.run()))
        except SessionCliError as exc:
            done.put((i, Failed(exc, call.log.last)))
        except BaseException as exc:  # a bug: re-raised in the calling thread
            done.put((i, exc))

    for i, call in enumerate(calls):
        threading.Thread(target=run, args=(i, call), daemon=True).start()
    out: list[T | Failed | None] = [None] * len(calls)
    started, cutoff = time.monotonic(), None
    for _ in calls:
        wait = deadline.remaining() + 1.0  # each call ends by the deadline on its own
        if cutoff is not None:
            wait = min(wait, cutoff - time.monotonic())
        try:
            i, result = done.get(timeout=max(0.0, wait))
        except queue.Empty:
            break
        if isinstance(result, BaseException):
            raise result
        out[i] = result
        if cutoff is None and not isinstance(result, Failed):
            cutoff = time.monotonic() + STRAGGLER_GRACE + 2 * (time.monotonic() - started)
    return out


def retrieve_recipe(
    parts: Parts,
    identity: Identity,
    cursors: Mapping[str, str],
    namespace: int,
    max_count: int | None,
    order: Callable[[list[Node]], list[Node]],
) -> Recipe[RetrieveOutcome]:
    def make(node: Node) -> rpc.RpcRequest:
        return rpc.build_retrieve(
            identity,
            timestamp_ms=parts.clock.now_for(node.pubkey_ed25519),
            namespace=namespace,
            last_hash=cursors.get(node.pubkey_ed25519),
            max_count=max_count,
        )

    def accept(node: Node, reply: onion.SnodeReply) -> RetrieveOutcome:
        result = rpc_reads.parse_retrieve(reply.body)
        msgs = [
            RetrievedMessage(m.hash, m.timestamp_ms, m.expiration_ms, m.data)
            for m in result.messages
        ]
        return RetrieveOutcome(node=node, messages=msgs, more=result.more)

    return Recipe(what="retrieve", make=make, accept=accept, order=order)


@dataclass(frozen=True)
class Failed:
    """A member's call that failed: its error, and the last thing that went wrong in it."""

    error: SessionCliError
    why: str


def first_error(errors: Mapping[str, Failed], ex: Executor, what: str) -> SessionCliError:
    """One error for a poll no member answered: a refusal (clock, bad request) as it is, else
    the network rule (CallLog) over what the members' calls saw."""
    network = (ExitCode.UNAVAILABLE, ExitCode.TEMPFAIL)
    for failed in errors.values():
        if failed.error.exit_code not in network:
            return failed.error
    log = CallLog(last="the swarm has no member to ask")
    for failed in errors.values():
        answered = failed.error.exit_code == ExitCode.TEMPFAIL
        log.fail(f"none of {len(errors)} member(s) answered; last: {failed.why}", answered=answered)
    return ex.error(log, what)
