"""How many onion-routed (3-hop) stores per second a 15-node devnet sustains on this machine.

The devnet runs as `sessioncli devnet up` in its own process; this process plays the clients:
THREADS threads, each with a kept-alive HTTPS connection to its own guard, each building fresh
onion layers (aes-gcm) for every request to a random swarm member of a random account, through
two random relays. A store counts when the decrypted reply says status 200 with a hash.

    python benchmarks/bench_devnet.py [--seconds 20] [--threads 8] [--enc-type aes-gcm]
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.devnet.wire import (  # noqa: E402
    UNVERIFIED,
    Account,
    build_onion,
    open_reply,
    store_params,
)
from tests.devnet_support import DevnetProcess  # noqa: E402


def client(
    storage: list[dict[str, object]],
    swarms: dict[str, list[dict[str, object]]],
    accounts: list[tuple[Account, str]],
    enc_type: str,
    stop: threading.Event,
    counts: list[int],
    slot: int,
    latencies: list[float],
) -> None:
    rng = random.Random(slot)
    guard = storage[slot % len(storage)]
    conn = http.client.HTTPSConnection(
        str(guard["ip"]), int(str(guard["port"])), context=UNVERIFIED, timeout=30
    )
    while not stop.is_set():
        account, swarm = rng.choice(accounts)
        target = rng.choice(swarms[swarm])
        relays = rng.sample([n for n in storage if n is not guard and n is not target], 2)
        data = rng.randbytes(600)
        request = {"method": "store", "params": store_params(account, data)}
        body, key = build_onion([guard, *relays], target, request, enc_type)
        start = time.perf_counter()
        conn.request("POST", "/onion_req/v2", body=body)
        response = conn.getresponse()
        answer = response.read()
        latencies.append(time.perf_counter() - start)
        if response.status == 200:
            reply = open_reply(enc_type, key, answer)
            if reply["status"] == 200 and "hash" in json.loads(reply["body"]):
                counts[slot] += 1
                continue
        counts[slot] -= 1_000_000  # make a failure impossible to miss in the figure
    conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--enc-type", default="aes-gcm")
    parser.add_argument("--nodes", type=int, default=15)
    args = parser.parse_args()

    with (
        tempfile.TemporaryDirectory() as tmp,
        DevnetProcess(Path(tmp) / "devnet", nodes=args.nodes) as devnet,
    ):
        nodes = devnet.nodes()
        storage: list[dict[str, object]] = [n for n in nodes if n["kind"] == "storage"]
        swarms: dict[str, list[dict[str, object]]] = {}
        for node in storage:
            swarms.setdefault(str(node["swarm"]), []).append(node)
        # Accounts are spread over every swarm: each is placed by asking which swarm it maps to.
        accounts: list[tuple[Account, str]] = []
        probe = http.client.HTTPSConnection(
            str(storage[0]["ip"]), int(str(storage[0]["port"])), context=UNVERIFIED
        )
        for i in range(60):
            account = Account.make(f"bench-{i}")
            probe.request(
                "POST",
                "/storage_rpc/v1",
                json.dumps({"method": "get_swarm", "params": {"pubkey": account.session_id}}),
            )
            accounts.append((account, json.loads(probe.getresponse().read())["swarm"]))
        probe.close()

        stop = threading.Event()
        counts = [0] * args.threads
        latencies: list[float] = []
        threads = [
            threading.Thread(
                target=client,
                args=(storage, swarms, accounts, args.enc_type, stop, counts, i, latencies),
            )
            for i in range(args.threads)
        ]
        start = time.perf_counter()
        for t in threads:
            t.start()
        time.sleep(args.seconds)
        stop.set()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - start
        total = sum(counts)
        latencies.sort()
        p50 = latencies[len(latencies) // 2] * 1000 if latencies else 0.0
        p95 = latencies[int(len(latencies) * 0.95)] * 1000 if latencies else 0.0
        stats = devnet.ctl("stats")
        relayed = sum(s["requests"].get("/onion_req/v2", 0) for s in stats.values())
        replicated = sum(s["requests"].get("/swarm_rpc/v1", 0) for s in stats.values())
        print(
            f"{args.nodes} nodes, {args.threads} client threads, {args.enc_type}, {elapsed:.1f} s: "
            f"{total} onion stores ok, {total / elapsed:.1f} stores/s, "
            f"latency p50 {p50:.1f} ms p95 {p95:.1f} ms; "
            f"{relayed} onion hops and {replicated} replications served"
        )


if __name__ == "__main__":
    main()
