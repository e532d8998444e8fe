"""Figures for groups over a devnet (direct loopback RPC, no onion: net/ cannot sign group requests yet).

Run from a checkout: python benchmarks/bench_groups.py [--posts 50]
Prints, for each step, its wall time and how many storage requests it made:
  create (2 invitees), accept, one post (member), a poll with nothing new, a poll of N posts,
  removing a member (notice, revoke, rekey, pushes).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--posts", type=int, default=50)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-groups-"))
    os.environ["SESSIONCLI_CONFIG_DIR"] = str(root / "config")
    os.environ["SESSIONCLI_STATE_DIR"] = str(root / "state")

    from sessioncli.core import group_receive, group_send, groups
    from sessioncli.core.dispatch import Outgoing
    from sessioncli.core.recipients import Target
    from sessioncli.devnet import Devnet
    from tests.integration.test_groups_devnet import DevnetSwarm, join
    from tests.unit.groups_world import User

    devnet = Devnet(root / "devnet", nodes=10, swarm_size=5, seed="bench-groups")
    devnet.start()
    try:
        swarm = DevnetSwarm([n for n in devnet.describe_nodes() if n["kind"] == "storage"])
        alice, bob, carol = (User(n, root, swarm) for n in ("alice", "bob", "carol"))  # type: ignore[arg-type]

        def step(label: str, fn: Callable[[], Any]) -> None:
            before, t0 = swarm.requests, time.perf_counter()
            fn()
            ms = (time.perf_counter() - t0) * 1000
            print(f"{label:<32} {ms:8.1f} ms  {swarm.requests - before:3d} requests")

        def poll(user: User) -> Callable[[], int]:
            def go(ctx: groups.GroupContext) -> int:
                r = group_receive.GroupReceiver(ctx, "team")
                n = r.poll(lambda _rec: None)
                r.close()
                return n

            return lambda: user(go)

        def post(user: User, body: str) -> Callable[[], Any]:
            target = Target("group", "", name="team")
            return lambda: user(group_send.post_text, target, Outgoing(body=body, ttl_ms=1))

        made: dict[str, Any] = {}
        step(
            "create (2 invitees)",
            lambda: made.update(
                g=alice(groups.create, "team", [bob.identity.session_id, carol.identity.session_id])
            ),
        )
        step("accept (bob)", lambda: join(bob, swarm, made["g"].group_id))
        join(carol, swarm, made["g"].group_id)
        step("post (member)", post(bob, "hello"))
        step("poll (admin, 3 new)", poll(alice))
        step("poll (admin, nothing new)", poll(alice))
        for i in range(args.posts):
            post(bob, f"m{i}")()
        step(f"poll (admin, {args.posts} new)", poll(alice))
        step(
            "remove a member",
            lambda: alice(groups.remove_members, "team", [carol.identity.session_id]),
        )
    finally:
        devnet.stop()


if __name__ == "__main__":
    main()
