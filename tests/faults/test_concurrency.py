"""Many sessioncli processes on one machine and one set of folders, and kill -9 (issue 8, part 4)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

from tests.faults.conftest import Net, User, json_files_parse

pytestmark = pytest.mark.slow


class Follower:
    """A `receive --follow --json` process whose stdout lines are collected by a thread."""

    def __init__(self, user: User, *extra: str) -> None:
        self.proc = user.popen(
            ["receive", "--follow", "--json", "--interval", "0.3", *extra],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        self.lines: list[dict] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.strip():
                self.lines.append(json.loads(line))

    def wait_for(self, count: int, limit: float) -> None:
        deadline = time.monotonic() + limit
        while len(self.lines) < count and time.monotonic() < deadline:
            assert self.proc.poll() is None, self.proc.stderr.read() if self.proc.stderr else ""
            time.sleep(0.1)

    def stop(self) -> tuple[int, str]:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=30)
        self._reader.join(timeout=10)
        assert self.proc.stderr is not None
        return code, self.proc.stderr.read()


def test_twenty_parallel_sends_and_two_followers_share_one_home(
    healthy: Net, users, tmp_path: Path
) -> None:
    """From a cold cache, 20 `send` processes of one identity (alice) start at once, while bob and
    alice each run `receive --follow --json` in the same config/state/cache folders: all 20 exit 0,
    bob's follower prints each message exactly once (hash and body as send reported), alice's
    (--include-own) prints each sync copy exactly once, a later `receive` finds nothing, and every
    JSON file under the folders parses, with no temp file left."""
    home = tmp_path / "shared"
    alice, bob = users("alice", home=home), users("bob", home=home)
    followers = [Follower(bob), Follower(alice, "--include-own")]
    try:
        sends = [
            alice.popen(
                ["send", "--json", "--timeout", "60", bob.session_id, f"parallel {i}"],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
            for i in range(20)
        ]
        sent: dict[str, str] = {}
        for i, proc in enumerate(sends):
            out, errors = proc.communicate(timeout=120)
            assert proc.returncode == 0, errors
            assert "Traceback" not in errors
            sent[json.loads(out)["hash"]] = f"parallel {i}"
        assert len(sent) == 20
        for follower in followers:
            follower.wait_for(20, limit=60)
    finally:
        results = [f.stop() for f in followers]
    for code, errors in results:
        assert code == 0 and "Traceback" not in errors, errors
    incoming, own = followers[0].lines, followers[1].lines
    assert sorted((m["hash"], m["body"]) for m in incoming) == sorted(sent.items())
    assert all(m["from"] == alice.session_id and not m["outgoing"] for m in incoming)
    assert sorted(m["body"] for m in own) == sorted(sent.values())
    assert len({m["hash"] for m in own}) == 20
    assert all(m["outgoing"] and m["conversation"] == bob.session_id for m in own)
    assert bob.receive() == []
    assert alice.receive("--include-own") == []
    assert json_files_parse(home) >= 6  # pool, paths, swarms, receive state x2, conversations


def _holds_flock(pid: int) -> bool:
    """Whether `pid` holds an flock (from /proc/locks)."""
    with open("/proc/locks") as fh:
        return any(
            line.split()[1] == "FLOCK" and line.split()[4] == str(pid) for line in fh if line
        )


def test_kill_9_leaves_no_lock_behind(healthy: Net, users, tmp_path: Path) -> None:
    """kill -9 of a `receive --follow` (it holds the receive lock: a second receive exits 75) and of
    `send`s mid-flight (one caught holding an flock, others at staggered moments): at once
    afterwards, a new `receive` exits 0 with every message sent, and a new `send` exits 0, each
    well under the 10 s a stale lock would cost; the JSON files still parse."""
    home = tmp_path / "shared"
    alice, bob = users("alice", home=home), users("bob", home=home)
    (first,) = alice.send([bob.session_id], "before the kills")
    follower = Follower(bob)
    follower.wait_for(1, limit=30)
    assert [m["body"] for m in follower.lines] == ["before the kills"]
    second = bob.run(["receive"])
    assert second.returncode == 75 and "another sessioncli receive" in second.stderr
    os.kill(follower.proc.pid, signal.SIGKILL)
    assert follower.proc.wait(timeout=10) == -signal.SIGKILL

    caught = False
    for i, delay in enumerate((None, None, None, 0.2, 0.5, 0.8)):
        proc = alice.popen(
            ["send", "--no-sync", bob.session_id, f"killed {i}"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        if delay is None:  # wait until it holds a lock (a cache or conversation write)
            while proc.poll() is None and not _holds_flock(proc.pid):
                pass
            caught |= proc.poll() is None
        else:
            time.sleep(delay)
        if proc.poll() is None:  # (a send may finish before it was seen holding a lock)
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    print(f"a send was killed while holding an flock: {caught}")

    got = bob.run(["receive", "--json"])
    assert got.returncode == 0, got.stderr
    assert got.elapsed < 8, got.elapsed
    bodies = [json.loads(line)["body"] for line in got.stdout.splitlines()]
    assert "before the kills" not in bodies  # already printed by the killed follower
    assert len(bodies) == len(set(bodies)) and all(b.startswith("killed") for b in bodies)
    after = alice.run(["send", "--json", bob.session_id, "after the kills"])
    assert after.returncode == 0, after.stderr
    assert after.elapsed < 8, after.elapsed
    assert [m["body"] for m in bob.receive()] == ["after the kills"]
    assert first["hash"] != json.loads(after.stdout)["hash"]
    json_files_parse(home, no_leftovers=False)  # a killed atomic write may leave its temp file
