"""The demo: a throwaway local network and two throwaway identities exchanging one onion-routed message."""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sessioncli.errors import SessionCliError

DEMO_TEXT = "Hello from sessioncli: end-to-end encrypted, carried over a 3-hop onion path."


@dataclass
class DemoReport:
    network_name: str = ""
    nodes: int = 0
    swarm_size: int = 0
    devnet_start_ms: float = 0.0
    alice: str = ""
    bob: str = ""
    paths: list[list[dict[str, str]]] = field(default_factory=list)
    bob_swarm: list[dict[str, str]] = field(default_factory=list)
    sent_hash: str = ""
    stored_on: list[str] = field(default_factory=list)  # as in send --json: who acknowledged
    send_ms: float = 0.0
    receive_ms: float = 0.0
    received_body: str = ""
    received_from: str = ""
    total_ms: float = 0.0
    ok: bool = False

    def to_json(self) -> dict[str, Any]:
        """Milliseconds as integers, as everywhere in the JSON output."""
        out = dict(self.__dict__)
        for key, value in out.items():
            if key.endswith("_ms") and isinstance(value, float):
                out[key] = round(value)
        return out


def _node(n: Any) -> dict[str, str]:
    return {"address": f"{n.ip}:{n.port}", "pubkey_ed25519": n.pubkey_ed25519}


def run_demo(*, nodes: int = 15, swarm_size: int = 5, text: str = DEMO_TEXT) -> DemoReport:
    """Everything lives in a temporary folder that is removed afterwards; no keyring is touched."""
    from sessioncli.core.receive import Received, Receiver
    from sessioncli.core.send import Recipient, send_messages
    from sessioncli.devnet import Devnet
    from sessioncli.net.client import NetworkClient
    from sessioncli.protocol.crypto import random_bytes
    from sessioncli.protocol.ids import Identity

    report = DemoReport(nodes=nodes, swarm_size=swarm_size)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="sessioncli-demo-") as tmp:
        root = Path(tmp)
        devnet = Devnet(
            root / "devnet", nodes=nodes, swarm_size=swarm_size, seed=f"demo-{time.time_ns()}"
        )
        t0 = time.perf_counter()
        devnet.start()
        try:
            report.devnet_start_ms = (time.perf_counter() - t0) * 1000
            network_file = str(root / "devnet" / "network.json")
            alice = Identity.from_seed(random_bytes(16))
            bob = Identity.from_seed(random_bytes(16))
            report.alice, report.bob = alice.session_id, bob.session_id
            net = NetworkClient(network_file, timeout=30.0, cache_root=root / "cache")
            try:
                report.network_name = net.name
                t1 = time.perf_counter()
                results = send_messages(
                    alice,
                    net,
                    [Recipient(bob.session_id, "bob")],
                    text,
                    ttl_ms=3_600_000,
                    display_name="alice",
                    state_folder=root / "state" / "alice",
                )
                report.send_ms = (time.perf_counter() - t1) * 1000
                result = results[0]
                if not result.ok:
                    raise SessionCliError(f"demo send failed: {result.error}")
                report.sent_hash = result.hash or ""
                report.stored_on = list(result.stored_on)
                report.paths = [[_node(n) for n in p] for p in net.paths()]
                report.bob_swarm = [_node(n) for n in net.swarm(bob.session_id)]
                got: list[Received] = []
                receiver = Receiver(bob, net, root / "state" / "bob")
                t2 = time.perf_counter()
                try:
                    receiver.poll(got.append)
                finally:
                    receiver.close()
                report.receive_ms = (time.perf_counter() - t2) * 1000
                if got:
                    report.received_body = got[0].message.body or ""
                    report.received_from = got[0].message.sender
                report.ok = (
                    report.received_body == text and report.received_from == alice.session_id
                )
            finally:
                net.close()
        finally:
            devnet.stop()
    report.total_ms = (time.perf_counter() - started) * 1000
    return report
