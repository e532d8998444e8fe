"""Fixtures for the network-client suites: a devnet per test, a client on a private cache."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.devnet_support import DevnetProcess


@pytest.fixture
def devnet(tmp_path: Path) -> Iterator[DevnetProcess]:
    with DevnetProcess(
        tmp_path / "devnet", nodes=15, swarm_size=5, seed="sessioncli-net-tests"
    ) as dn:
        yield dn


def node_ids(devnet: DevnetProcess) -> dict[str, str]:
    """ed25519 hex -> devnet node id (n0, n1, ...)."""
    return {n["pubkey_ed25519"]: n["id"] for n in devnet.nodes()}


def onion_counts(stats: dict) -> dict[str, int]:
    return {k: v.get("requests", {}).get("/onion_req/v2", 0) for k, v in stats.items()}


def endpoint_total(stats: dict, endpoint: str) -> int:
    return sum(v.get("requests", {}).get(endpoint, 0) for v in stats.values())
