"""send / receive / contacts end to end: the installed command against a devnet over onion paths."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

pytestmark = pytest.mark.slow


def test_twenty_messages_arrive_exactly_once(users) -> None:
    alice, bob = users("alice"), users("bob")
    bodies = [f"message {i}: hello" for i in range(16)]
    bodies += ["ünïcødé ✓ 你好 🚀", "tabs\tand\nnewlines\\", "x" * 10_000, "from stdin"]
    for body in bodies[:-1]:
        res = alice.run(["send", bob.session_id, body])
        assert res.returncode == 0, res.stderr
        assert res.stdout == ""
    res = alice.run(["send", bob.session_id], input=bodies[-1] + "\n")
    assert res.returncode == 0, res.stderr
    got = bob.receive_json()
    assert sorted(m["body"] for m in got) == sorted(bodies)
    assert all(m["from"] == alice.session_id for m in got)
    assert all(m["kind"] == "text" for m in got)
    assert len({m["hash"] for m in got}) == len(bodies)
    again = bob.run(["receive"])
    assert again.returncode == 0 and again.stdout == "" and again.stderr == ""


def test_send_json_and_tsv_receive(users) -> None:
    alice, bob = users("alice"), users("bob")
    res = alice.run(
        ["send", "--json", "--name", "Alice Bot", "--ttl", "1h", bob.session_id, "a\tb\nc"]
    )
    assert res.returncode == 0, res.stderr
    data = json.loads(res.stdout)
    assert set(data) >= {"recipient", "hash", "timestamp_ms", "expires_at_ms", "stored_on"}
    assert data["recipient"] == bob.session_id
    assert len(data["hash"]) == 43 and data["stored_on"]
    assert abs(data["expires_at_ms"] - data["timestamp_ms"] - 3_600_000) < 60_000
    out = bob.run(["receive"])
    assert out.returncode == 0, out.stderr
    fields = out.stdout.rstrip("\n").split("\t")
    assert fields[0] == data["hash"]
    assert fields[1] == alice.session_id
    assert fields[2] == "Alice Bot"
    assert fields[4] == "text"
    assert fields[5] == "a\\tb\\nc"


def test_several_recipients_and_contacts(users) -> None:
    alice, bob, carol = users("alice"), users("bob"), users("carol")
    assert alice.run(["contacts", "add", "bob", bob.session_id]).returncode == 0
    res = alice.run(["send", "--json", f"bob,{carol.session_id}", "to both"])
    assert res.returncode == 0, res.stderr
    results = json.loads(res.stdout)
    assert [r["recipient"] for r in results] == [bob.session_id, carol.session_id]
    assert bob.receive_json()[0]["body"] == "to both"
    assert carol.receive_json()[0]["body"] == "to both"


def test_partial_failure_exit_code(users) -> None:
    alice, bob = users("alice"), users("bob")
    res = alice.run(["send", "--json", bob.session_id, "--to", "nobody", "x"])
    assert res.returncode == 2  # an unknown contact is refused before anything is sent
    assert "unknown recipient 'nobody'" in res.stderr


def test_message_requests_and_approval(users) -> None:
    alice, bob = users("alice"), users("bob")
    first = alice.run(["send", bob.session_id, "hi bob"])
    assert first.returncode == 0
    assert "has not approved you" in first.stderr
    second = alice.run(["send", bob.session_id, "again"])
    assert "has not approved you" not in second.stderr  # warned once
    assert len(bob.receive_json()) == 2
    assert bob.run(["contacts", "add", "alice", alice.session_id]).returncode == 0
    listed = json.loads(bob.run(["contacts", "list", "--json"]).stdout)
    assert listed[0]["approved_us"] is True and listed[0]["approved_by_us"] is False
    assert listed[0]["pending_request"] is True
    reply = bob.run(["send", "alice", "hi alice"])
    assert reply.returncode == 0, reply.stderr
    got = alice.receive_json()
    kinds = [m["kind"] for m in got]
    assert kinds == ["message_request_response", "text"]
    assert alice.run(["contacts", "add", "bob", bob.session_id]).returncode == 0
    approved = json.loads(alice.run(["contacts", "show", "bob", "--json"]).stdout)
    assert approved["approved_us"] is True and approved["approved_by_us"] is True
    listed = json.loads(bob.run(["contacts", "list", "--json"]).stdout)
    assert listed[0]["approved_by_us"] is True and listed[0]["pending_request"] is False


def test_sync_copies_are_ours(users) -> None:
    alice, bob = users("alice"), users("bob")
    assert alice.run(["send", bob.session_id, "synced"]).returncode == 0
    assert alice.receive_json() == []  # our own sync copy is not an incoming message
    assert alice.run(["receive", "--json", "--include-own"]).stdout == ""  # already consumed
    assert alice.run(["send", bob.session_id, "synced 2"]).returncode == 0
    own = alice.receive_json("--include-own")
    assert len(own) == 1 and own[0]["outgoing"] is True
    assert own[0]["conversation"] == bob.session_id and own[0]["body"] == "synced 2"


def test_crash_after_fetch_loses_nothing(users) -> None:
    alice, bob = users("alice"), users("bob")
    for i in range(5):
        assert alice.run(["send", "--no-sync", bob.session_id, f"m{i}"]).returncode == 0
    env = dict(bob.env, SESSIONCLI_FAULT="crash-after-fetch")
    crashed = subprocess.run(
        [sys.executable, "-m", "sessioncli", "receive", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert crashed.returncode == 137
    assert crashed.stdout == ""
    got = bob.receive_json()
    assert sorted(m["body"] for m in got) == [f"m{i}" for i in range(5)]
    assert bob.receive_json() == []


def test_kill_9_midway_loses_nothing(users) -> None:
    alice, bob = users("alice"), users("bob")
    bodies = [f"k{i}" for i in range(30)]
    with ThreadPoolExecutor(4) as pool:
        for res in pool.map(lambda b: alice.run(["send", "--no-sync", bob.session_id, b]), bodies):
            assert res.returncode == 0, res.stderr
    proc = subprocess.Popen(
        [sys.executable, "-m", "sessioncli", "receive", "--json", "--follow", "--interval", "0.2"],
        env=bob.env,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    first = [proc.stdout.readline() for _ in range(3)]
    os.kill(proc.pid, signal.SIGKILL)
    # read() through the same text stream: readline() may have buffered lines beyond the third,
    # which communicate() (reading the pipe's descriptor) would skip, leaving half a line
    rest = proc.stdout.read()
    proc.wait(timeout=30)
    seen = [json.loads(x)["body"] for x in first + rest.splitlines() if x.strip()]
    seen += [m["body"] for m in bob.receive_json()]
    assert sorted(set(seen)) == sorted(bodies)
    assert len(seen) - len(set(seen)) <= 1  # at most the line being written when killed


def test_second_receive_exits_75_while_one_runs(users) -> None:
    bob = users("bob")
    follower = subprocess.Popen(
        [sys.executable, "-m", "sessioncli", "receive", "--follow", "--interval", "0.5"],
        env=bob.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # Let the follower take the lock first, or the first one-shot receive may hold it then.
        lock = bob.home / "state"
        deadline = time.monotonic() + 30
        while not list(lock.rglob("receive.lock")) and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)
        deadline = time.monotonic() + 60
        while True:
            other = bob.run(["receive"])
            if other.returncode == 75 or time.monotonic() > deadline:
                break
            time.sleep(0.3)
        assert other.returncode == 75
        assert "another sessioncli receive is running" in other.stderr
    finally:
        follower.send_signal(signal.SIGTERM)
        code = follower.wait(timeout=30)
        assert code == 0, follower.stderr.read() if follower.stderr else code


def test_parallel_sends_from_one_identity(users) -> None:
    alice, bob = users("alice"), users("bob")
    with ThreadPoolExecutor(10) as pool:
        results = list(pool.map(lambda i: alice.run(["send", bob.session_id, f"p{i}"]), range(10)))
    assert all(r.returncode == 0 for r in results), [r.stderr for r in results]
    got = bob.receive_json()
    assert sorted(m["body"] for m in got) == sorted(f"p{i}" for i in range(10))
    for path in alice.home.rglob("*.json"):
        json.loads(path.read_text())  # no state or cache file is corrupted


def test_cron_like_environment(users, devnet) -> None:
    alice, bob = users("alice"), users("bob")
    env = [
        "env",
        "-i",
        f"PATH={os.path.dirname(sys.executable)}:/usr/bin:/bin",
        f"HOME={alice.home}",
        f"PYTHONPATH={alice.env['PYTHONPATH']}",
        f"SESSIONCLI_IDENTITY_FILE={alice.identity_file}",
    ]
    res = subprocess.run(
        [
            *env,
            sys.executable,
            "-m",
            "sessioncli",
            "--network",
            str(devnet.network_file),
            "send",
            bob.session_id,
        ],
        input="hi from cron\n",
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert res.returncode == 0, res.stderr
    assert [m["body"] for m in bob.receive_json()] == ["hi from cron"]


def test_receive_follow_sigterm_exits_zero(users) -> None:
    alice, bob = users("alice"), users("bob")
    proc = subprocess.Popen(
        [sys.executable, "-m", "sessioncli", "receive", "--follow", "--json", "--interval", "0.3"],
        env=bob.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    assert alice.run(["send", bob.session_id, "live"]).returncode == 0
    line = proc.stdout.readline()
    assert json.loads(line)["body"] == "live"
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0
    assert bob.receive_json() == []


def test_max_and_follow_timeout(users) -> None:
    alice, bob = users("alice"), users("bob")
    for i in range(3):
        assert alice.run(["send", "--no-sync", bob.session_id, f"n{i}"]).returncode == 0
    one = bob.receive_json("--max", "1")
    assert len(one) == 1
    rest = bob.receive_json("--follow", "--timeout", "2", "--interval", "0.3")
    assert len(rest) == 2
    assert {m["body"] for m in one + rest} == {"n0", "n1", "n2"}


def test_demo_command(tmp_path) -> None:
    from tests.conftest import cli_env, run_cli

    home = tmp_path / "demo-home"
    (home / "tmp").mkdir(parents=True)
    env = cli_env(home, TMPDIR=str(home / "tmp"))
    res = run_cli(["demo", "--json"], home, env=env, timeout=180)
    assert res.returncode == 0, res.stderr
    report = json.loads(res.stdout)
    assert report["ok"] is True
    assert report["received_from"] == report["alice"]
    assert all(len(p) == 3 for p in report["paths"])
    assert [p.name for p in home.iterdir()] == ["tmp"], "demo wrote outside its temp folder"
    assert not any((home / "tmp").iterdir()), "demo left files behind"
