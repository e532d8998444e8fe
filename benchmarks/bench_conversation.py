"""Figures for issue 15: the message index's cost, and Session-name resolution on a devnet.

Run from a checkout: python benchmarks/bench_conversation.py [--repeat 5]
  index add     MessageIndex.add of 1,000 entries into an index already holding N (one write)
  index get     MessageIndex.get on a full index (MAX_ENTRIES entries): what react/unsend/--reply-to pay
  resolve       `sessioncli resolve NAME` uncached (three nodes asked) and cached, vs `whoami`
  reply         `sessioncli send --reply-to HASH` vs a plain `send` (warm caches)
"""

from __future__ import annotations

import argparse
import json
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


def index_figures(repeat: int) -> None:
    from sessioncli.core.msgindex import MAX_ENTRIES, IndexedMessage, MessageIndex

    sid = "05" + "ab" * 32

    def batch(start: int, n: int) -> list[IndexedMessage]:
        return [
            IndexedMessage(f"{i:043d}", 1_700_000_000_000 + i, sid, sid, False, 2**62, "t" * 120)
            for i in range(start, start + n)
        ]

    for held in (0, MAX_ENTRIES - 1000):
        times = []
        for _ in range(repeat):
            with tempfile.TemporaryDirectory() as d:
                index = MessageIndex(Path(d))
                if held:
                    index.add(batch(0, held))
                t = time.perf_counter()
                index.add(batch(held, 1000))
                times.append(time.perf_counter() - t)
        print(
            f"index add     1000 entries into {held:5d}: {statistics.median(times) * 1000:7.1f} ms"
        )
    with tempfile.TemporaryDirectory() as d:
        index = MessageIndex(Path(d))
        index.add(batch(0, MAX_ENTRIES))
        size = (Path(d) / "messages.json").stat().st_size
        t = time.perf_counter()
        for _ in range(repeat):
            index.get(f"{MAX_ENTRIES - 1:043d}")
        per = (time.perf_counter() - t) / repeat
        print(
            f"index get     full index ({MAX_ENTRIES} entries, {size // 1024} KiB): {per * 1000:7.1f} ms"
        )


def cli(env: dict[str, str], *args: str) -> tuple[float, str]:
    t = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-m", "sessioncli", *args], env=env, capture_output=True, text=True
    )
    if out.returncode:
        raise SystemExit(f"sessioncli {' '.join(args)} failed: {out.stderr}")
    return time.perf_counter() - t, out.stdout


def devnet_figures(repeat: int) -> None:
    with tempfile.TemporaryDirectory() as root:
        rootp = Path(root)
        with DevnetProcess(rootp / "dn", nodes=12, swarm_size=4, seed="bench-convo") as dn:
            envs = []
            for who in ("a", "b"):
                home = rootp / who
                env = {
                    "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                    "HOME": str(home),
                    "PYTHONPATH": str(REPO),
                    "SESSIONCLI_CONFIG_DIR": str(home / "config"),
                    "SESSIONCLI_STATE_DIR": str(home / "state"),
                    "SESSIONCLI_CACHE_DIR": str(home / "cache"),
                    "SESSIONCLI_NETWORK": str(dn.network_file),
                    "SESSIONCLI_IDENTITY_FILE": str(home / "identity"),
                }
                cli(env, "keygen", "-q")
                envs.append(env)
            a, b = envs
            bob = cli(b, "whoami")[1].strip()
            dn.ctl("ons", "add", "bench-bob", bob)
            cli(a, "send", bob, "warm up")
            whoami = statistics.median(cli(a, "whoami")[0] for _ in range(repeat))
            uncached = statistics.median(
                cli(a, "resolve", "--refresh", "bench-bob")[0] for _ in range(repeat)
            )
            cached = statistics.median(cli(a, "resolve", "bench-bob")[0] for _ in range(repeat))
            plain, reply = [], []
            for i in range(repeat):
                dt, out = cli(a, "send", "--json", bob, f"plain {i}")
                plain.append(dt)
                h = json.loads(out)["hash"]
                reply.append(cli(a, "send", "--reply-to", h, bob, f"reply {i}")[0])
            print(f"whoami (floor)            {whoami * 1000:7.0f} ms")
            print(f"resolve uncached (3 nodes) {uncached * 1000:6.0f} ms")
            print(f"resolve cached            {cached * 1000:7.0f} ms")
            print(f"send plain                {statistics.median(plain) * 1000:7.0f} ms")
            print(f"send --reply-to           {statistics.median(reply) * 1000:7.0f} ms")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    index_figures(args.repeat)
    devnet_figures(args.repeat)


if __name__ == "__main__":
    main()
