"""Run a devnet in a subprocess for tests: `python -m sessioncli devnet up`, then steer it with `ctl`.

Stable API (other suites import it)::

    from tests.devnet_support import DevnetProcess

    with DevnetProcess(tmp_path / "devnet", nodes=15, swarm_size=5) as devnet:
        devnet.network_file          # Path of DIR/network.json: pass it as --network
        devnet.dir                   # Path of DIR
        devnet.nodes()               # list of dicts: id, kind, address, ip, port, pubkey_ed25519,
                                     #   pubkey_x25519, swarm, state, fault, clock_offset
        devnet.ctl("down", "n3", "n4")          # parsed JSON of `ctl ... --json`
        devnet.ctl("fault", "n2", "garbage")
        devnet.ctl("clock", "n1", "-120")
        devnet.ctl("stats"); devnet.ctl("seen", "n0")
        devnet.ctl("sogs", "seen")              # the SOGS's audit log; also fileserver/sogs verbs
    # DevnetProcess(..., hardfork="19.3") passes `--hardfork 19.3` (default: the devnet's 19.4)
    # leaving the block stops it (SIGTERM, then SIGKILL after 10 s)

`extra_args` go to `devnet up` as they are (e.g. `("--sogs-rate-limit", "off")`).
`DevnetProcess(...)` starts the process at once and returns when network.json exists (bounded by
`timeout`, default 20 s; raises RuntimeError with the process's stderr otherwise). `stop()` is
idempotent and returns the exit code. The subprocess runs in its own process group and with
PYTHONPATH set to this checkout, so it tests the code in the tree, not an installed copy.
Seed nodes have ids seed0.., storage nodes n0..; a storage node's `swarm` is its swarm id in hex.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent


class DevnetProcess:
    """A devnet running as `python -m sessioncli devnet up --dir DIR` in its own process group."""

    def __init__(
        self,
        directory: Path | str,
        *,
        nodes: int = 15,
        swarm_size: int = 5,
        seed: str | None = "sessioncli-devnet",  # None: the CLI's default (the folder's own)
        seeds: int = 1,
        timeout: float = 20.0,
        extra_args: tuple[str, ...] = (),
        hardfork: str | None = None,
    ) -> None:
        self.dir = Path(directory).absolute()
        self.network_file = self.dir / "network.json"
        self._env = {**os.environ, "PYTHONPATH": str(REPO)}
        self.dir.mkdir(parents=True, exist_ok=True)
        self._stderr_path = self.dir / "devnet.stderr"
        self._stderr = self._stderr_path.open("wb")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "sessioncli",
                "devnet",
                "up",
                "--dir",
                str(self.dir),
                "--nodes",
                str(nodes),
                "--swarm-size",
                str(swarm_size),
                *(["--seed", seed] if seed is not None else []),
                "--seeds",
                str(seeds),
                *extra_args,
                *(["--hardfork", hardfork] if hardfork is not None else []),
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            env=self._env,
            start_new_session=True,
        )
        self._wait_ready(timeout)

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        assert self.process.stdout is not None
        # The ready line comes after network.json is written; a stale file from a crashed run
        # is removed by the devnet at start, so the line is the reliable signal.
        line = b""
        os.set_blocking(self.process.stdout.fileno(), False)
        while time.monotonic() < deadline:
            chunk = self.process.stdout.read()
            if chunk:
                line += chunk
            if b"devnet ready" in line and self.network_file.exists():
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(
            f"devnet did not start within {timeout} s: {self._stderr_path.read_text(errors='replace')}"
        )

    def ctl(self, *args: str) -> Any:
        """Run `sessioncli devnet ctl --dir DIR ARGS --json`; parsed JSON (or text if not JSON)."""
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "sessioncli",
                "devnet",
                "ctl",
                "--dir",
                str(self.dir),
                *args,
                "--json",
            ],
            capture_output=True,
            text=True,
            env=self._env,
            timeout=60,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"devnet ctl {' '.join(args)} failed ({result.returncode}): {result.stderr}"
            )
        try:
            return json.loads(result.stdout)
        except ValueError:
            return result.stdout

    def nodes(self) -> list[dict[str, Any]]:
        return list(self.ctl("list"))

    def stop(self) -> int:
        """SIGTERM to the process group, SIGKILL after 10 s; returns the exit code."""
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()
        self._stderr.close()
        return self.process.returncode

    def __enter__(self) -> DevnetProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
