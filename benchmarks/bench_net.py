"""This checkout's network figures against an older one: warm send, and what polling every member costs.

Run from a checkout: python benchmarks/bench_net.py --one-member-tree DIR [--messages 200]
DIR is an older checkout, whose `receive` polls one member (e.g. `git archive 199db22 | tar -x -C
DIR`). One 15-node devnet (swarms of 5). Warm send: alice sends to bob from each tree in turn
(ABAB..., so that a busy machine slows both alike), `--sends` times each, medians of `send` and
`send --no-sync`. Then bob's inbox is filled through the library, and each tree, with its own
fresh state folder but the same identity and warm network caches, runs:
  drain   `receive --json` of all waiting messages (wall time, messages printed)
  empty   `receive` with nothing new, median of 5 (wall time)
and the devnet's counters give the retrieve requests the nodes ran for each, and the onion hops
(/onion_req/v2 requests seen by guards, relays and targets) it took.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.devnet_support import DevnetProcess  # noqa: E402


def env_for(tree: Path, home: Path, network: Path, identity: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SESSIONCLI_")}
    env.update(
        PYTHONPATH=str(tree),
        SESSIONCLI_CONFIG_DIR=str(home / "config"),
        SESSIONCLI_STATE_DIR=str(home / "state"),
        SESSIONCLI_CACHE_DIR=str(home / "cache"),
        SESSIONCLI_NETWORK=str(network),
        SESSIONCLI_IDENTITY_FILE=str(identity),
    )
    return env


def _run(argv: list[str], env: dict[str, str], **kw: object) -> subprocess.CompletedProcess[str]:
    """Run in the tree the environment names: `python -m` puts the working folder first on
    sys.path, so the tree must be the working folder too, not only PYTHONPATH."""
    kw.setdefault("text", True)
    return subprocess.run(argv, env=env, cwd=env["PYTHONPATH"], **kw)  # type: ignore[call-overload, no-any-return]


def counters(dn: DevnetProcess) -> tuple[int, int]:
    """(retrieve RPCs the nodes ran, /onion_req/v2 requests the nodes saw: guard, relays, target)."""
    stats = dn.ctl("stats")
    retrieves = sum(v.get("methods", {}).get("retrieve", 0) for v in stats.values())
    onion = sum(v.get("requests", {}).get("/onion_req/v2", 0) for v in stats.values())
    return retrieves, onion


def measured(
    dn: DevnetProcess, argv: list[str], env: dict[str, str]
) -> tuple[float, int, int, str]:
    before = counters(dn)
    t0 = time.perf_counter()
    out = _run(argv, env=env, capture_output=True, text=True, check=True).stdout
    wall = time.perf_counter() - t0
    after = counters(dn)
    return wall, after[0] - before[0], after[1] - before[1], out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--one-member-tree", type=Path, required=True)
    ap.add_argument("--messages", type=int, default=200)
    ap.add_argument("--sends", type=int, default=9)
    args = ap.parse_args()
    py = sys.executable
    with tempfile.TemporaryDirectory(prefix="bench-receive-") as tmp_s:
        tmp = Path(tmp_s)
        with DevnetProcess(tmp / "devnet", nodes=15, swarm_size=5, seed="bench-receive") as dn:
            ident = tmp / "bob.identity"
            keygen = env_for(REPO, tmp / "keygen", dn.network_file, ident)
            _run([py, "-m", "sessioncli", "keygen", "-q"], env=keygen, check=True)
            bob = _run(
                [py, "-m", "sessioncli", "whoami"], env=keygen, capture_output=True, text=True
            ).stdout.strip()
            trees = [("one member (before)", args.one_member_tree), ("every member (now)", REPO)]
            sends = warm_sends(dn, tmp, trees, bob, args.sends)
            fill(dn, tmp, bob, args.messages)
            rows = []
            for label, tree in trees:
                env = env_for(tree.resolve(), tmp / label.split()[0], dn.network_file, ident)
                cli = [py, "-m", "sessioncli"]
                _run(
                    [*cli, "nodes", "--swarm", bob], env=env, check=True, capture_output=True
                )  # warm pool, paths, swarm
                wall, onion, direct, out = measured(dn, [*cli, "receive", "--json"], env)
                printed = len([x for x in out.splitlines() if x.strip()])
                empties = [measured(dn, [*cli, "receive"], env) for _ in range(5)]
                rows.append(
                    (
                        label,
                        wall,
                        onion,
                        direct,
                        printed,
                        statistics.median(e[0] for e in empties),
                        statistics.median(e[1] for e in empties),
                    )
                )
    print(f"warm send, median of {args.sends} (interleaved); 15 nodes, {os.cpu_count()} cores")
    print()
    print("| tree | send | send --no-sync |")
    print("| --- | ---: | ---: |")
    for label, (full, nosync) in sends.items():
        print(f"| {label} | {full * 1000:.0f} ms | {nosync * 1000:.0f} ms |")
    print()
    print(f"{args.messages} messages waiting; 15 nodes, swarms of 5; {os.cpu_count()} cores")
    print()
    print(
        "| receive polls | drain: time | retrieve requests | onion hops | printed "
        "| empty receive: time | retrieve requests |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for label, wall, retrieves, hops, printed, e_wall, e_retrieves in rows:
        print(
            f"| {label} | {wall:.2f} s | {retrieves} | {hops} | {printed} "
            f"| {e_wall * 1000:.0f} ms | {e_retrieves} |"
        )


def warm_sends(
    dn: DevnetProcess, tmp: Path, trees: list[tuple[str, Path]], bob: str, count: int
) -> dict[str, tuple[float, float]]:
    """Median wall time of `send` and `send --no-sync` from alice to bob, per tree, ABAB."""
    py = sys.executable
    envs = {}
    for label, tree in trees:
        home = tmp / ("alice-" + label.split()[0])
        ident = home / "alice.identity"
        home.mkdir(parents=True)
        envs[label] = env_for(tree.resolve(), home, dn.network_file, ident)
        _run(
            [py, "-m", "sessioncli", "keygen", "-q"],
            env=envs[label],
            check=True,
            capture_output=True,
        )
        _run(
            [py, "-m", "sessioncli", "send", bob, "warm-up"], env=envs[label], check=True
        )  # warm pool, paths, swarms, clock
    if count == 0:
        return {}
    times: dict[str, tuple[list[float], list[float]]] = {label: ([], []) for label, _ in trees}
    for i in range(count):
        for label, _ in trees:
            for extra, bucket in (([], 0), (["--no-sync"], 1)):
                t0 = time.perf_counter()
                _run(
                    [py, "-m", "sessioncli", "send", *extra, bob, f"s{i}"],
                    env=envs[label],
                    check=True,
                )
                times[label][bucket].append(time.perf_counter() - t0)
    return {k: (statistics.median(a), statistics.median(b)) for k, (a, b) in times.items()}


def fill(dn: DevnetProcess, tmp: Path, bob: str, count: int) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from sessioncli.net.client import NetworkClient
    from sessioncli.protocol import message
    from sessioncli.protocol.ids import Identity

    alice = Identity.from_seed(b"\x01" * 16)
    filler = NetworkClient(str(dn.network_file), cache_root=tmp / "fill-cache")

    def one(i: int) -> None:
        ts = filler.now_ms()
        data = message.encode_dm(alice, bob, message.build_text_content(f"m{i}", ts), ts)
        filler.store(bob, data, ttl_ms=3_600_000, timestamp_ms=ts)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(one, range(count)))
    filler.close()


if __name__ == "__main__":
    main()
