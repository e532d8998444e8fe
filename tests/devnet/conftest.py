"""One in-process devnet per test module (start-up is under a second), reset to health between tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sessioncli.devnet import Devnet


class Net:
    """The running Devnet plus lookups tests need: nodes by id, swarm members of an account."""

    def __init__(self, devnet: Devnet) -> None:
        self.devnet = devnet

    def nodes(self) -> list[dict[str, Any]]:
        return [n for n in self.devnet.describe_nodes() if n["kind"] == "storage"]

    def node(self, node_id: str) -> dict[str, Any]:
        return next(n for n in self.devnet.describe_nodes() if n["id"] == node_id)

    def swarm_of(self, session_id: str) -> list[dict[str, Any]]:
        from tests.devnet.wire import rpc

        status, body = rpc(self.nodes()[0], "get_swarm", {"pubkey": session_id})
        assert status == 200
        members = {s["pubkey_ed25519"] for s in body["snodes"]}
        return [n for n in self.nodes() if n["pubkey_ed25519"] in members]

    def outsiders(self, session_id: str) -> list[dict[str, Any]]:
        inside = {n["id"] for n in self.swarm_of(session_id)}
        return [n for n in self.nodes() if n["id"] not in inside]

    def heal(self) -> None:
        ids = [n["id"] for n in self.devnet.describe_nodes()]
        self.devnet.up(ids)
        for node_id in ids:
            self.devnet.fault(node_id, "none")
            self.devnet.clock(node_id, 0)


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Net]:
    directory: Path = tmp_path_factory.mktemp("devnet")
    devnet = Devnet(directory, nodes=10, swarm_size=5, seed="devnet-tests", relay_timeout=1.5)
    devnet.start()
    try:
        yield Net(devnet)
    finally:
        devnet.stop()


@pytest.fixture
def healthy(net: Net) -> Iterator[Net]:
    net.heal()
    yield net
    net.heal()
