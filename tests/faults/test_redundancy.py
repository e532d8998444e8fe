"""Nothing reported sent is lost (issue 11): redundant stores, receives from every member, and the
deadline and blind-follow rules that go with them (issue 12 items 6 and 14)."""

from __future__ import annotations

import json
import random
import signal
import subprocess

import pytest

from tests.faults.conftest import STARTUP_MARGIN, Net, assert_clean, fault_seed

pytestmark = pytest.mark.slow

T = "--timeout"


def test_four_rounds_of_junk_lose_nothing(healthy: Net, users) -> None:
    """The measured scenario: in each of four rounds, four of bob's five members and every guard
    of alice's cached paths answer junk (a fresh random choice of the healthy member and of the
    junk each round, cleared after it), five sends per round. All 20 exit 0, and one receive,
    with every node healthy again, prints each of them exactly once."""
    seed = fault_seed()
    rng = random.Random(seed)
    alice, bob = users("alice"), users("bob")
    assert bob.receive() == []
    alice.send([bob.session_id], "warm-up")
    assert [m["body"] for m in bob.receive()] == ["warm-up"]
    swarm = healthy.ids(alice.swarm_of(bob.session_id))
    sent: dict[str, str] = {}
    for round_no in range(4):
        kept = rng.choice(swarm)
        guards = set(healthy.ids(p[0] for p in alice.paths()))
        junk = sorted((set(swarm) | guards) - {kept})
        mode = rng.choice(["garbage", "truncate", "oversize"])
        print(f"round {round_no}: {mode} on {junk}, {kept} healthy")
        healthy.fault(junk, mode)
        try:
            for i in range(5):
                body = f"round {round_no} message {i} (seed {seed})"
                res = alice.run(["send", "--json", T, "20", bob.session_id, body])
                assert_clean(res, {0}, 20 + STARTUP_MARGIN, f"{body}: {mode} on {junk}")
                out = json.loads(res.stdout)
                assert out["stored_on"], out
                sent[out["hash"]] = body
        finally:
            healthy.heal()
    got = bob.receive()
    assert sorted((m["hash"], m["body"]) for m in got) == sorted(sent.items()), f"seed {seed}"
    assert bob.receive() == []


def test_three_of_five_down_during_send_then_a_holder_down(healthy: Net, users) -> None:
    """Three of bob's five members down during a send: the two others hold the message (the
    second by an extra store if replication did not reach it). All back up, then one of the two
    holders down: bob still receives it, exactly once."""
    seed = fault_seed()
    rng = random.Random(seed)
    alice, bob = users("alice"), users("bob")
    assert bob.receive() == []
    members = alice.swarm_of(bob.session_id)
    down = rng.sample(members, 3)
    healthy.down(healthy.ids(down))
    (out,) = alice.send([bob.session_id], "three down", T, "20")
    assert sorted(out["stored_on"]) == sorted(set(members) - set(down)), f"seed {seed}"
    healthy.heal()
    healthy.down(healthy.ids([rng.choice(out["stored_on"])]))
    got = bob.receive()
    assert [(m["hash"], m["body"]) for m in got] == [(out["hash"], "three down")], f"seed {seed}"


def test_all_but_one_member_down_during_receive(healthy: Net, users) -> None:
    """With every member of bob's swarm but one down, receive prints what that member holds."""
    seed = fault_seed()
    rng = random.Random(seed)
    alice, bob = users("alice"), users("bob")
    assert bob.receive() == []
    sent = {alice.send([bob.session_id], f"held {i}")[0]["hash"] for i in range(2)}
    members = alice.swarm_of(bob.session_id)
    kept = rng.choice(members)
    healthy.down(healthy.ids(m for m in members if m != kept))
    res = bob.run(["-v", "receive", "--json", T, "20"])
    assert_clean(res, {0}, 20 + STARTUP_MARGIN, f"receive with only {kept} up (seed {seed})")
    got = [json.loads(line) for line in res.stdout.splitlines()]
    assert {m["hash"] for m in got} == sent and len(got) == 2, f"seed {seed}"
    assert "request(s)" in res.stderr  # -v shows what polling every member cost
    healthy.heal()
    assert bob.receive() == []


def test_every_node_hung_gives_the_same_code_within_the_deadline(healthy: Net, users) -> None:
    """Issue 12 item 6: with every storage node hung, --timeout bounds the whole command and the
    code is chosen from what the client saw (nothing answered: 69), whatever the timeout."""
    alice, bob = users("alice"), users("bob")
    alice.send([bob.session_id], "warm")  # alice and bob: warm caches, known network time
    assert [m["body"] for m in bob.receive()] == ["warm"]
    healthy.hang(healthy.storage)
    for seconds in ("2", "5"):
        res = alice.run(["send", T, seconds, bob.session_id, f"into the void {seconds}"])
        assert_clean(res, {69}, float(seconds) + STARTUP_MARGIN, f"send --timeout {seconds}")
    res = bob.run(["receive", T, "3"])
    assert_clean(res, {69}, 3 + STARTUP_MARGIN, "receive --timeout 3")


def _stderr_until(proc: subprocess.Popen[str], needle: str, lines: list[str]) -> bool:
    """Read stderr lines (kept in `lines`) until one contains `needle`; False at EOF."""
    assert proc.stderr is not None
    for line in proc.stderr:
        lines.append(line)
        if needle in line:
            return True
    return False


def test_follow_warns_once_when_blind_and_once_when_it_sees_again(healthy: Net, users) -> None:
    """Issue 12 item 14: a --follow receive whose polls keep failing warns on stderr after 3 in a
    row (once, not on every poll), and once when polls succeed again; it keeps running."""
    alice, bob = users("alice"), users("bob")
    assert bob.receive() == []
    members = healthy.ids(alice.swarm_of(bob.session_id))
    proc = bob.popen(
        ["receive", "--follow", "--json", "--interval", "0.3"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    lines: list[str] = []
    try:
        healthy.down(members)
        assert _stderr_until(proc, "polls in a row failed", lines), lines
        healthy.heal()
        assert _stderr_until(proc, "polls succeed again", lines), lines
        (sent,) = alice.send([bob.session_id], "seen again")
        assert proc.stdout is not None
        got = json.loads(proc.stdout.readline())
        assert got["hash"] == sent["hash"]
    finally:
        proc.send_signal(signal.SIGTERM)
        _out, rest = proc.communicate(timeout=60)
    lines += rest.splitlines(keepends=True)
    assert proc.returncode == 0, lines
    assert sum("polls in a row failed" in ln for ln in lines) == 1, lines
    assert sum("polls succeed again" in ln for ln in lines) == 1, lines
    assert all(ln.startswith("sessioncli: ") for ln in lines if ln.strip()), lines
