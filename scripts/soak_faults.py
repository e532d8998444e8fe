#!/usr/bin/env python3
"""Soak the fault scenarios: junk, relay 5xx and hanging nodes, fresh random choices each run.

    python3 scripts/soak_faults.py --runs 50 [--seed N] [--timeout 20]

One 15-node devnet (swarms of 5), alice and bob with warm caches, as tests/faults does. Each run
picks a scenario in turn and a fresh random set of nodes for it, then alice sends to bob through
the real CLI and bob receives:
  junk:    4 of bob's 5 members and all of alice's and bob's guards answer garbage/truncate/oversize
  relay:   every cached guard answers relayed requests with 502 or 504
  hang:    2 of bob's members and the first guard of each of them hang
A run succeeds when send exits 0 and bob's receive prints that message exactly once. Prints the
success rate, the median and p95 send time, and every failure with its seed (replayable).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.devnet_support import DevnetProcess  # noqa: E402
from tests.faults.conftest import Net, User  # noqa: E402

SCENARIOS = ("junk", "relay", "hang")


def aim(net: Net, alice: User, bob: User) -> tuple[list[str], list[list[str]]]:
    """bob's swarm (node ids, asked afresh: a relay-502 run makes the client forget nodes), and
    alice's and bob's paths (ed25519 keys)."""
    res = alice.run(["nodes", "--json", "--refresh", "--swarm", bob.session_id])
    assert res.returncode == 0, res.stderr
    swarm = [n["pubkey_ed25519"] for n in json.loads(res.stdout)]
    return net.ids(swarm), alice.paths() + bob.paths()


def faults_for(
    scenario: str, net: Net, swarm: list[str], paths: list[list[str]], rng: random.Random
):
    guards = sorted(set(net.ids(p[0] for p in paths)))
    if scenario == "junk":
        kept = rng.choice(swarm)
        mode = rng.choice(["garbage", "truncate", "oversize"])
        return mode, sorted({m for m in swarm if m != kept} | (set(guards) - {kept}))
    if scenario == "relay":
        return rng.choice(["relay502", "relay504"]), guards
    return "hang", sorted(set(rng.sample(swarm, 2)) | set(guards[:2]))


def one_run(net: Net, alice: User, bob: User, scenario: str, seed: int, timeout: float):
    rng = random.Random(seed)
    net.heal()
    swarm, paths = aim(net, alice, bob)
    mode, nodes = faults_for(scenario, net, swarm, paths, rng)
    if mode == "hang":
        net.hang(nodes)
    else:
        net.fault(nodes, mode)
    body = f"soak {scenario} {mode} seed {seed}"
    t0 = time.monotonic()
    sent = alice.run(["send", "--json", "--timeout", str(timeout), bob.session_id, body])
    elapsed = time.monotonic() - t0
    net.heal()
    got = bob.run(["receive", "--json", "--timeout", str(timeout)])
    bodies = [json.loads(x)["body"] for x in got.stdout.splitlines() if x.strip()]
    ok = sent.returncode == 0 and bodies.count(body) == 1
    why = "" if ok else f"send {sent.returncode} {sent.stderr.strip()[:200]!r}; got {bodies}"
    return ok, elapsed, f"{scenario}/{mode} on {nodes}: {why}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--seed", type=int, default=None, help="first seed (default: random)")
    ap.add_argument("--timeout", type=float, default=20.0)
    args = ap.parse_args()
    first = args.seed if args.seed is not None else random.SystemRandom().randrange(2**32)
    with tempfile.TemporaryDirectory(prefix="soak-") as tmp:
        folder = Path(tmp)
        with DevnetProcess(folder / "devnet", nodes=15, swarm_size=5, seed="soak", seeds=2) as dn:
            net = Net(dn)
            alice = User(folder / "alice", "alice", dn.network_file)
            bob = User(folder / "bob", "bob", dn.network_file)
            assert bob.run(["receive"]).returncode == 0
            assert alice.run(["send", bob.session_id, "warm-up"]).returncode == 0
            bob.run(["receive"])
            times: list[float] = []
            failures: list[str] = []
            for i in range(args.runs):
                seed = first + i
                ok, elapsed, what = one_run(
                    net, alice, bob, SCENARIOS[i % len(SCENARIOS)], seed, args.timeout
                )
                times.append(elapsed)
                if not ok:
                    failures.append(f"seed {seed}: {what}")
                print(
                    f"run {i + 1}/{args.runs} seed {seed}: {'ok' if ok else 'FAILED'} "
                    f"{elapsed:.2f} s",
                    flush=True,
                )
    times.sort()
    p95 = times[min(len(times) - 1, round(0.95 * len(times)) - 1)] if times else 0.0
    done = args.runs - len(failures)
    print(
        f"\nsuccess {done}/{args.runs} ({100 * done / max(1, args.runs):.0f}%), send time "
        f"median {statistics.median(times):.2f} s, p95 {p95:.2f} s (first seed {first})"
    )
    for f in failures:
        print("  " + f)
    return 0 if not failures else 1


if __name__ == "__main__":
    sys.exit(main())
