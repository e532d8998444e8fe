"""`sessioncli receive --daemon` (and SESSIONCLI_SOCKET=...): the real CLI against a real daemon."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.test_daemon import DaemonProc

pytestmark = pytest.mark.slow


@pytest.fixture
def daemon_for():
    started: list[DaemonProc] = []

    def start(user, name: str) -> DaemonProc:
        d = DaemonProc(user, Path(f"/tmp/scli-rd-{os.getpid()}-{name}") / "socket")
        started.append(d)
        return d

    yield start
    for d in started:
        d.stop()


def _cli(user, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sessioncli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _lines(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def test_receive_through_the_daemon_prints_each_message_once(users, daemon_for) -> None:
    alice, bob = users("alice"), users("bob")
    for text in ("first", "second", "third"):
        assert alice.run(["send", bob.session_id, text]).returncode == 0
    d = daemon_for(bob, "once")
    env = {**bob.env, "SESSIONCLI_SOCKET": str(d.sock)}
    # --max 1: the daemon writes us one message and keeps the rest for the next receive
    first = _cli(bob, env, "receive", "--json", "--max", "1")
    assert first.returncode == 0, first.stderr
    assert [m["body"] for m in _lines(first.stdout)] == ["first"]
    # a filter hides a message (it still counts as received, as a direct receive marks it)
    rest = _cli(bob, env, "receive", "--json", "--from", bob.session_id)
    assert rest.returncode == 0, rest.stderr
    assert _lines(rest.stdout) == []
    assert alice.run(["send", bob.session_id, "fourth\ttabbed"]).returncode == 0
    plain = {k: v for k, v in bob.env.items() if k != "SESSIONCLI_SOCKET"}
    env_flag = {**plain, "SESSIONCLI_SOCKET": str(d.sock)}
    text = _cli(bob, env_flag, "receive", "--daemon")
    assert text.returncode == 0, text.stderr
    rows = [line.split("\t") for line in text.stdout.splitlines()]
    assert [(r[1], r[4], r[5]) for r in rows] == [(alice.session_id, "text", "fourth\\ttabbed")]
    again = _cli(bob, env, "receive", "--json")
    assert again.returncode == 0 and again.stdout == "", again.stderr
    d.stop()
    assert bob.receive_json() == []  # nothing was left unmarked by the daemon


def test_follow_through_the_daemon(users, daemon_for) -> None:
    alice, bob = users("alice"), users("bob")
    d = daemon_for(bob, "follow")
    env = {**bob.env, "SESSIONCLI_SOCKET": str(d.sock)}
    cmd = [sys.executable, "-m", "sessioncli", "receive", "--daemon", "--follow", "--json"]
    with subprocess.Popen(
        [*cmd, "--max", "2"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as counted:
        assert alice.run(["send", bob.session_id, "one"]).returncode == 0
        assert alice.run(["send", bob.session_id, "two"]).returncode == 0
        out, errs = counted.communicate(timeout=120)
    assert counted.returncode == 0, errs
    assert [m["body"] for m in _lines(out)] == ["one", "two"]
    with subprocess.Popen(
        cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as endless:
        assert alice.run(["send", bob.session_id, "three"]).returncode == 0
        assert endless.stdout is not None
        assert json.loads(endless.stdout.readline())["body"] == "three"
        endless.send_signal(signal.SIGTERM)
        assert endless.wait(30) == 0
    d.stop()
    assert bob.receive_json() == []


def test_receive_daemon_not_running_and_local_only_options(users, tmp_path: Path) -> None:
    bob = users("bob")
    env = {**bob.env, "SESSIONCLI_SOCKET": str(tmp_path / "no-daemon")}
    gone = _cli(bob, env, "receive")
    assert gone.returncode == 75
    assert gone.stderr.count("\n") == 1 and "cannot reach the sessioncli daemon" in gone.stderr
    peek = _cli(bob, env, "receive", "--peek")
    assert peek.returncode == 2 and "--peek cannot be used with --daemon" in peek.stderr


def test_send_through_the_daemon_carries_the_options(users, daemon_for, tmp_path: Path) -> None:
    alice, bob = users("alice"), users("bob")
    d = daemon_for(alice, "opts")
    env = {**alice.env, "SESSIONCLI_SOCKET": str(d.sock)}
    sent = _cli(alice, env, "send", "--disappear", "5m", "--no-sync", bob.session_id, "gone soon")
    assert sent.returncode == 0, sent.stderr
    (got,) = bob.receive_json()
    assert got["body"] == "gone soon" and got["expiration_timer_s"] == 300
    assert got["expiration_type"] == "delete_after_send"
    picture = tmp_path / "f.txt"
    picture.write_text("x")
    refused = _cli(alice, env, "send", "--attach", str(picture), bob.session_id, "x")
    assert refused.returncode == 2 and "--attach cannot be used with --daemon" in refused.stderr
