"""Figures for groups through the real CLI over onion paths against a devnet.

Run from a checkout: python benchmarks/bench_groups.py [--posts 30]
Prints, for each step, its wall time (one CLI process, start-up included) and, for receives,
the onion requests of each source's poll as `-v` reports them (DMs, then each group):
  create (2 invitees), accept, one post (member, admin), a receive with N posts, an empty
  receive, removing a member.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.conftest import cli_env, run_cli
from tests.devnet_support import DevnetProcess

_POLL = re.compile(r"poll \d+: (\d+) request\(s\)")


class Person:
    def __init__(self, root: Path, name: str, network: str) -> None:
        self.home = root / name
        self.home.mkdir(parents=True)
        self.env = cli_env(
            self.home,
            SESSIONCLI_NETWORK=network,
            SESSIONCLI_IDENTITY_FILE=str(self.home / "identity"),
        )
        self.sid = self.run(["keygen", "-q"])[0].strip()

    def run(self, args: list[str]) -> tuple[str, str]:
        res = run_cli(args, self.home, env=self.env, timeout=300)
        if res.returncode != 0:
            raise SystemExit(f"{args}: exit {res.returncode}: {res.stderr}")
        return res.stdout, res.stderr


def step(label: str, person: Person, args: list[str]) -> str:
    t0 = time.perf_counter()
    out, errs = person.run(args)
    ms = (time.perf_counter() - t0) * 1000
    polls = [int(n) for n in _POLL.findall(errs)]
    extra = f"  requests per poll (DM, groups): {polls}" if polls else ""
    print(f"{label:<34} {ms:8.0f} ms{extra}")
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--posts", type=int, default=30)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-groups-"))
    with DevnetProcess(root / "devnet", nodes=15, swarm_size=5, seed="bench-groups") as dn:
        net = str(dn.network_file)
        alice, bob, carol = (Person(root, n, net) for n in ("alice", "bob", "carol"))
        made = step(
            "group create (2 invitees)",
            alice,
            ["group", "create", "team", "-m", bob.sid, "-m", carol.sid, "--json"],
        )
        gid = json.loads(made)["group_id"]
        for who in (bob, carol):
            step(f"receive (invite, {who.home.name})", who, ["-v", "receive"])
            step(f"group accept ({who.home.name})", who, ["group", "accept", gid])
        step("receive (admin: 2 responses)", alice, ["-v", "receive"])
        step("send to group (member)", bob, ["send", "team", "hello"])
        step("send to group (admin)", alice, ["send", "team", "hello back"])
        for i in range(args.posts):
            bob.run(["send", "team", f"m{i}"])
        step(f"receive ({args.posts + 1} new posts)", alice, ["-v", "receive"])
        step("receive (nothing new)", alice, ["-v", "receive"])
        step("group show (refresh)", alice, ["group", "show", "team"])
        step("group remove (1 member)", alice, ["group", "remove", "team", carol.sid])
        step("receive (removed member)", carol, ["-v", "receive"])


if __name__ == "__main__":
    main()
