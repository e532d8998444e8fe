"""Fault and concurrency suites: a devnet per module, users that run the real CLI, fault aiming."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import cli_env
from tests.devnet_support import DevnetProcess

# A command may take its --timeout plus this much for interpreter start-up and teardown (the CI
# box has 2 cores shared with the devnet, so start-up under load is slow).
STARTUP_MARGIN = 4.0


class Run(subprocess.CompletedProcess[str]):
    """A finished CLI run, with its wall time."""

    elapsed: float


class User:
    """One identity file plus the environment that runs `python -m sessioncli` as that user.

    `home` holds the config, state and cache folders; users made with the same `home` share them.
    """

    def __init__(self, home: Path, name: str, network_file: Path) -> None:
        self.name = name
        self.home = home
        self.home.mkdir(parents=True, exist_ok=True)
        self.identity_file = home / f"{name}.identity"
        self.env = cli_env(
            home,
            SESSIONCLI_NETWORK=str(network_file),
            SESSIONCLI_IDENTITY_FILE=str(self.identity_file),
        )
        made = self.run(["keygen", "-q"])
        assert made.returncode == 0, made.stderr
        self.session_id = made.stdout.strip()

    def argv(self, args: list[str]) -> list[str]:
        return [sys.executable, "-m", "sessioncli", *args]

    def run(self, args: list[str], *, input: str | None = None, limit: float = 120) -> Run:
        t0 = time.monotonic()
        raw = subprocess.run(
            self.argv(args),
            input=(input or "").encode(),
            capture_output=True,
            env=self.env,
            timeout=limit,
            check=False,
        )
        res = Run(
            raw.args,
            raw.returncode,
            raw.stdout.decode("utf-8", "replace"),
            raw.stderr.decode("utf-8", "replace"),
        )
        res.elapsed = time.monotonic() - t0
        return res

    def popen(self, args: list[str], **kw: Any) -> subprocess.Popen[str]:
        return subprocess.Popen(self.argv(args), env=self.env, text=True, **kw)

    def send(self, recipients: Iterable[str], body: str, *extra: str) -> list[dict[str, Any]]:
        """Send and insist on success; the --json results, one per recipient."""
        res = self.run(["send", "--json", *extra, ",".join(recipients), body])
        assert res.returncode == 0, f"{self.name} send failed ({res.returncode}): {res.stderr}"
        out = json.loads(res.stdout)
        return out if isinstance(out, list) else [out]

    def receive(self, *extra: str) -> list[dict[str, Any]]:
        res = self.run(["receive", "--json", *extra])
        assert res.returncode == 0, f"{self.name} receive failed ({res.returncode}): {res.stderr}"
        return [json.loads(line) for line in res.stdout.splitlines() if line.strip()]

    def paths(self) -> list[list[str]]:
        """Our onion paths (built if needed) as ed25519 keys, guard first."""
        res = self.run(["path", "--json"])
        assert res.returncode == 0, res.stderr
        return [[h["pubkey_ed25519"] for h in p["hops"]] for p in json.loads(res.stdout)]

    def swarm_of(self, session_id: str) -> list[str]:
        res = self.run(["nodes", "--json", "--swarm", session_id])
        assert res.returncode == 0, res.stderr
        return [n["pubkey_ed25519"] for n in json.loads(res.stdout)]


class Net:
    """The devnet of a module, steered in-process through its control API (no subprocess per verb)."""

    def __init__(self, process: DevnetProcess) -> None:
        self.process = process
        self.network_file = process.network_file
        self._nodes = process.nodes()
        self.by_key = {n["pubkey_ed25519"]: n["id"] for n in self._nodes}
        self.storage = [n["id"] for n in self._nodes if n["kind"] == "storage"]
        self.seeds = [n["id"] for n in self._nodes if n["kind"] == "seed"]

    def ctl(self, verb: str, *args: str) -> Any:
        from sessioncli.devnet.control import call

        return call(self.process.dir, verb, list(args))

    def ids(self, keys: Iterable[str]) -> list[str]:
        return [self.by_key[k] for k in keys]

    def swarms(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for n in self.ctl("list"):
            if n["kind"] == "storage":
                out.setdefault(n["swarm"], []).append(n["id"])
        return out

    def down(self, ids: Iterable[str]) -> None:
        ids = list(ids)
        if ids:
            self.ctl("down", *ids)

    def hang(self, ids: Iterable[str]) -> None:
        ids = list(ids)
        if ids:
            self.ctl("hang", *ids)

    def fault(self, ids: Iterable[str], mode: str) -> None:
        for node_id in ids:
            self.ctl("fault", node_id, mode)

    def clock(self, ids: Iterable[str], seconds: float) -> None:
        for node_id in ids:
            self.ctl("clock", node_id, str(seconds))

    def heal(self) -> None:
        """Every node up, answering normally, on time."""
        everything = self.seeds + self.storage
        self.ctl("up", *everything)
        for n in self.ctl("list"):
            if n["fault"] != "none":
                self.ctl("fault", n["id"], "none")
            if n["clock_offset"]:
                self.ctl("clock", n["id"], "0")
        assert all(
            n["state"] == "up" and n["fault"] == "none" and not n["clock_offset"]
            for n in self.ctl("list")
        )


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Net]:
    folder = tmp_path_factory.mktemp("devnet")
    with DevnetProcess(folder, nodes=15, swarm_size=5, seed=f"faults-{folder.name}", seeds=2) as dn:
        yield Net(dn)


@pytest.fixture
def healthy(net: Net) -> Iterator[Net]:
    """The module's devnet, healed before and (in a finally) after the test."""
    net.heal()
    try:
        yield net
    finally:
        net.heal()


@pytest.fixture
def users(net: Net, tmp_path: Path):
    """users("alice") -> a User with a private home; users("bob", home=...) shares a home."""

    def make(name: str, home: Path | None = None) -> User:
        return User(home or tmp_path / name, name, net.network_file)

    return make


def fault_seed() -> int:
    """SESSIONCLI_FAULT_SEED replays a run; otherwise a fresh seed, printed with the test."""
    raw = os.environ.get("SESSIONCLI_FAULT_SEED")
    seed = int(raw) if raw else random.SystemRandom().randrange(2**32)
    print(f"fault seed {seed} (replay: SESSIONCLI_FAULT_SEED={seed})")
    return seed


def assert_clean(res: Run, allowed: Iterable[int], limit: float, what: str) -> None:
    """Exit code allowed, within `limit` seconds, no traceback, one error line when failing."""
    detail = f"{what}: exit {res.returncode} after {res.elapsed:.1f}s; stderr: {res.stderr!r}"
    assert res.returncode in set(allowed), detail
    assert res.elapsed <= limit, detail
    assert "Traceback" not in res.stderr and "internal error" not in res.stderr, detail
    if res.returncode != 0:
        errors = [ln for ln in res.stderr.splitlines() if ln.startswith("sessioncli: error:")]
        assert len(errors) >= 1, detail


def json_files_parse(root: Path, *, no_leftovers: bool = True) -> int:
    """Parse every *.json under root (state, cache, config); with no_leftovers, no temp file either."""
    count = 0
    for path in root.rglob("*.json"):
        json.loads(path.read_text())
        count += 1
    if no_leftovers:
        leftovers = list(root.rglob("*.tmp"))
        assert not leftovers, leftovers
    return count
