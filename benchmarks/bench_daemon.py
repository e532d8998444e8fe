"""A send through `sessioncli daemon` against the CLI's warm send and the one-HTTPS-request floor.

Run from a checkout: python benchmarks/bench_daemon.py [--repeat 7]
All figures from one run on one devnet (15 nodes, swarms of 5):
  floor          one Python process making one HTTPS request to a devnet node (requests)
  cli            `sessioncli send B msg` with warm caches (a new process each time)
  daemon client  one Python process writing one JSON-RPC `send` line to the daemon's socket and
                 reading the answer (what a cron job or a script pays)
  daemon rtt     the same request on an open connection, no process start (what a bot pays)
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.bench_cli import run_wait4, timed  # noqa: E402
from tests.devnet_support import DevnetProcess  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args()
    py = sys.executable
    tmp = Path(tempfile.mkdtemp(prefix="sessioncli-bench-d-"))
    base = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp),
        "PYTHONPATH": str(REPO),
        "SESSIONCLI_CONFIG_DIR": str(tmp / "config"),
        "SESSIONCLI_STATE_DIR": str(tmp / "state"),
        "SESSIONCLI_CACHE_DIR": str(tmp / "cache"),
    }
    cli = [py, "-m", "sessioncli"]
    with DevnetProcess(tmp / "devnet", nodes=15, swarm_size=5, seed="bench-daemon") as dn:
        env = dict(base, SESSIONCLI_NETWORK=str(dn.network_file))
        ids = {}
        for who in ("alice", "bob"):
            f = tmp / f"{who}.id"
            _, _, out = run_wait4([*cli, "-q", "keygen", "--identity-file", str(f)], env)
            ids[who] = (f, out.decode().strip())
        alice = dict(env, SESSIONCLI_IDENTITY_FILE=str(ids["alice"][0]))
        bob = ids["bob"][1]
        run_wait4([*cli, "send", bob, "warm-up"], alice)
        t_cli, _ = timed([*cli, "send", bob, "cli send"], alice, args.repeat)
        node = next(n for n in dn.nodes() if n["id"].startswith("n"))
        floor = (
            "import requests,urllib3;urllib3.disable_warnings();"
            f"r=requests.post('https://{node['address']}/storage_rpc/v1',"
            "json={'method':'info','params':{}},verify=False,timeout=10);r.raise_for_status()"
        )
        t_floor, _ = timed([py, "-c", floor], base, args.repeat)

        sock = tmp / "d" / "socket"
        daemon = subprocess.Popen(
            [*cli, "-q", "daemon", "--socket", str(sock)], env=alice, stdin=subprocess.DEVNULL
        )
        try:
            while not sock.exists():
                time.sleep(0.05)
            line = json.dumps(
                {
                    "jsonrpc": "2.0",
                    "method": "send",
                    "id": 1,
                    "params": {"recipient": bob, "message": "via daemon"},
                }
            )
            client = (
                "import socket,sys;s=socket.socket(socket.AF_UNIX);"
                f"s.connect({str(sock)!r});s.sendall({line!r}.encode()+b'\\n');"
                "a=s.makefile('rb').readline();sys.exit(0 if b'\"exit_code\":0' in a else 1)"
            )
            run_wait4([py, "-c", client], base)  # the daemon's own warm-up
            t_client, _ = timed([py, "-c", client], base, args.repeat)
            rtts = []
            with socket.socket(socket.AF_UNIX) as s:
                s.connect(str(sock))
                reader = s.makefile("rb")
                for _ in range(args.repeat):
                    t0 = time.perf_counter()
                    s.sendall(line.encode() + b"\n")
                    reader.readline()
                    rtts.append(time.perf_counter() - t0)
            t_rtt = statistics.median(rtts)
        finally:
            daemon.terminate()
            daemon.wait(30)
    rows = [
        ("floor: one HTTPS request (new process)", t_floor, 1.0),
        ("sessioncli send, warm caches", t_cli, t_cli / t_floor),
        ("daemon: minimal client process, one JSON line", t_client, t_client / t_floor),
        ("daemon: request on an open connection", t_rtt, t_rtt / t_floor),
    ]
    print(f"{'what':<48} {'median':>9} {'vs floor':>9}")
    for what, t, ratio in rows:
        print(f"{what:<48} {t * 1000:>7.0f}ms {ratio:>8.2f}x")


if __name__ == "__main__":
    main()
