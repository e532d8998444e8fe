"""Guard probing: a direct (non-onion) request tells whether a node answers properly, and its time."""

from __future__ import annotations

import json
import queue
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from sessioncli.errors import ProtocolError
from sessioncli.net.policy import Deadline
from sessioncli.net.transport import PostTransport, TransportError
from sessioncli.protocol import rpc, rpc_answers
from sessioncli.protocol.snode import Node

GUARD_TEST_TIMEOUT = 5.0
PROBE_MAX_BYTES = 1 << 20  # a get_swarm answer is a few KB: more is junk, not worth reading
PARALLEL_PROBES = 4
MAX_CANDIDATES = 24

ProbeState = Literal["ok", "silent", "bad"]


@dataclass(frozen=True)
class Probe:
    """ "ok" (a proper answer, with the node's time if it gave one), "silent" (no HTTP answer)
    or "bad" (an HTTP error, junk, or too large an answer)."""

    state: ProbeState
    time_ms: int | None = None


Prober = Callable[[Node, float], Probe]


def probe(transport: PostTransport, node: Node, timeout: float) -> Probe:
    """A direct get_swarm for a random account (what desktop tests guards with)."""
    body = rpc.build_get_swarm("05" + secrets.token_hex(32)).to_json()
    url = f"https://{node.ip}:{node.port}/storage_rpc/v1"
    try:
        resp = transport.post(url, body, timeout=timeout, max_bytes=PROBE_MAX_BYTES)
    except TransportError as exc:
        return Probe("bad" if exc.kind == "oversize" else "silent")
    if resp.status != 200:
        return Probe("bad")
    try:
        return Probe("ok", rpc_answers.network_time(json.loads(resp.body.decode("utf-8"))))
    except (UnicodeDecodeError, ValueError, RecursionError, ProtocolError):
        return Probe("bad")


def find_guards(
    candidates: list[Node], want: int, deadline: Deadline, prober: Prober
) -> tuple[list[Node], list[tuple[Node, Probe]]]:
    """Probe candidates (PARALLEL_PROBES at a time, in order); the first `want` that answer
    properly, one per /24, and every result that came back (for the caller to learn from).

    Returns as soon as enough answered: a hung candidate must not cost its whole test timeout
    when others were quick. Probes run in daemon threads, so one still waiting when we return
    is abandoned (its result is dropped) and does not hold up the process's exit either.
    """
    found: list[Node] = []
    seen: list[tuple[Node, Probe]] = []
    subnets: set[str] = set()
    results: queue.Queue[tuple[Node, Probe]] = queue.Queue()
    waiting = iter(candidates[:MAX_CANDIDATES])
    running = 0

    def start_next() -> None:
        nonlocal running
        node = next(waiting, None)
        if node is None or deadline.expired():
            return
        timeout = deadline.cap(GUARD_TEST_TIMEOUT)
        threading.Thread(
            target=lambda: results.put((node, prober(node, timeout))), daemon=True
        ).start()
        running += 1

    for _ in range(PARALLEL_PROBES):
        start_next()
    while running and len(found) < want:
        try:
            node, result = results.get(timeout=max(0.0, deadline.remaining()))
        except queue.Empty:
            break  # the deadline: the probes still running are abandoned
        running -= 1
        seen.append((node, result))
        if result.state == "ok" and node.subnet24 not in subnets:
            found.append(node)
            subnets.add(node.subnet24)
        start_next()
    return found, seen
