"""A devnet shared by the end-to-end tests of one module, and helpers to drive the real CLI."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import cli_env, run_cli


@pytest.fixture(scope="module")
def devnet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    from tests.devnet_support import DevnetProcess

    folder = tmp_path_factory.mktemp("devnet")
    with DevnetProcess(folder, nodes=15, swarm_size=5, seed=f"e2e-{folder.name}") as dn:
        yield dn


class User:
    """One identity (an identity file) plus the environment to run the CLI as that user."""

    def __init__(self, home: Path, name: str, network_file: str) -> None:
        self.home = home / name
        self.home.mkdir(parents=True, exist_ok=True)
        self.identity_file = self.home / "identity"
        self.env = cli_env(
            self.home,
            SESSIONCLI_NETWORK=network_file,
            SESSIONCLI_IDENTITY_FILE=str(self.identity_file),
        )
        made = self.run(["keygen", "-q"])
        assert made.returncode == 0, made.stderr
        self.session_id = made.stdout.strip()

    def run(self, args: list[str], *, input: str | bytes | None = None, timeout: float = 120):
        return run_cli(args, self.home, input=input, env=self.env, timeout=timeout)

    def receive_json(self, *extra: str) -> list[dict]:
        res = self.run(["receive", "--json", *extra])
        assert res.returncode == 0, res.stderr
        return [json.loads(line) for line in res.stdout.splitlines() if line.strip()]


@pytest.fixture
def users(devnet, private_dirs: Path):
    def make(name: str) -> User:
        return User(private_dirs, name, str(devnet.network_file))

    return make
