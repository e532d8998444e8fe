"""Tests each onion path end to end with one `info` request to a node off the path (`path --test`)."""

from __future__ import annotations

import random
import time
from collections.abc import Sequence
from dataclasses import dataclass

from sessioncli.net.executor import Executor
from sessioncli.net.paths import Path
from sessioncli.net.policy import CallLog, Deadline, PathTrouble
from sessioncli.protocol import rpc, rpc_answers
from sessioncli.protocol.snode import Node


@dataclass(frozen=True)
class PathTest:
    path: list[Node]
    ok: bool
    rtt_ms: float | None
    error: str | None


def check_paths(
    ex: Executor,
    paths: Sequence[Path],
    pool: Sequence[Node],
    rng: random.Random,
    deadline: Deadline,
) -> list[PathTest]:
    """One result per path: whether a node outside it answered through it, and how fast."""
    results = []
    for p in paths:
        targets = [n for n in pool if not p.has(n.pubkey_ed25519)]
        if not targets:
            results.append(PathTest(list(p.nodes), False, None, "no node to send to"))
            continue
        log = CallLog()
        t0 = time.monotonic()
        try:
            reply = ex.send(rng.choice(targets), rpc.build_info(), deadline, log, path=p)
        except PathTrouble:
            results.append(PathTest(list(p.nodes), False, None, log.last))
            continue
        rtt = (time.monotonic() - t0) * 1000
        ok = reply.status == 200
        err = None if ok else f"HTTP {reply.status}: {rpc_answers.error_text(reply.body)}"
        results.append(PathTest(list(p.nodes), ok, round(rtt, 1), err))
    return results
