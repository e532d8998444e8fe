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
from pathlib import Path
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


HOSTILE = "evil\x1b[31m\u202egro\nup"
MALLORY_SEED = "6d616c6c6f72792d7365656421212121"


def test_forged_input_never_shows_and_hostile_names_are_escaped(
    people: dict[str, User], devnet: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """mallory (in-process: forging needs the group's keys) makes a group with a hostile name,
    invites dave, and stores forged items; dave, through the CLI, sees only the real ones."""
    from sessioncli.core import group_store, groups, names
    from sessioncli.core.group_net import NetGroupSwarm
    from sessioncli.net.client import NetworkClient
    from sessioncli.protocol import crypto
    from sessioncli.protocol.groups import control
    from sessioncli.protocol.groups.message import encode_group_post
    from sessioncli.protocol.ids import Identity
    from sessioncli.protocol.message import build_text_content

    dave = people["dave"]
    mallory = Identity.from_seed(bytes.fromhex(MALLORY_SEED))
    monkeypatch.setenv("SESSIONCLI_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("SESSIONCLI_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setattr(names, "check_name", lambda name, kind: name)  # mallory's own side
    with NetworkClient(str(devnet.network_file), cache_root=tmp_path / "cache") as net:
        swarm = NetGroupSwarm(net)
        ctx = groups.GroupContext(mallory, swarm, tmp_path / "state" / "m", "Mallory")
        made = groups.create(ctx, HOSTILE, [dave.session_id])
        group = groups._open(ctx, made.group_id)
        auth, key = group.auth(), group.keys.encryption_key()

        def store(namespace: int, data: bytes) -> None:
            ts = swarm.now_ms()
            swarm.store_group(auth, namespace, data, ttl_ms=3_600_000, timestamp_ms=ts)

        def post(text: str, *, signed_for: bytes = group.group_pk) -> bytes:
            ts = swarm.now_ms()
            content = build_text_content(text, ts, display_name="Mallory")
            return encode_group_post(mallory.ed25519_secret, signed_for, key, content, ts)

        store(11, crypto.random_bytes(200))  # does not decrypt with the group's keys
        other_pk = crypto.ed25519_keypair_from_seed(bytes(32))[0]
        store(11, post("made for another group", signed_for=other_pk))  # replayed: sig fails
        for ns in (12, 13, 14):
            store(ns, crypto.random_bytes(300))  # Keys/Info/Members not signed by the group
        store(11, post("the real one"))
        # an invite to another group with a broken admin signature
        other_sk = crypto.ed25519_keypair_from_seed(bytes([7]) * 32)[1]
        ts = swarm.now_ms()
        bad = control.invite(other_sk, "forged", bytes(100), dave.session_id, ts)
        bad.inviteMessage.adminSignature = bytes(64)
        swarm.send_dm(mallory, dave.session_id, control.to_content(bad, ts), timestamp_ms=ts)
    assert group_store.entry_for(made.group_id)

    res = dave.run(["-v", "receive", "--json"])
    assert res.returncode == 0, res.stderr
    got = [json.loads(x) for x in res.stdout.splitlines()]
    assert [r["group_id"] for r in got if r["kind"] == "group_invite"] == [made.group_id]
    assert got[0]["group_name"] == HOSTILE  # JSON carries it exactly (escaped by JSON itself)
    assert "\x1b" not in res.stdout and "\n" not in res.stdout.strip().replace("\n{", "{")
    assert "group_invite_bad_signature 1" in res.stderr
    ok(dave, ["group", "accept", made.group_id])
    res = dave.run(["-v", "receive", "--json"])
    assert res.returncode == 0, res.stderr
    assert [r["body"] for r in texts([json.loads(x) for x in res.stdout.splitlines()])] == [
        "the real one"
    ]
    for reason in ("group_undecryptable 1", "group_bad_signature 1", "group_keys_unsigned 1"):
        assert reason in res.stderr, res.stderr
    assert "group_config_unsigned 2" in res.stderr, res.stderr
    listed = ok(dave, ["group", "list"])  # our local name for it: made from theirs, cleaned
    assert "\x1b" not in listed and "\u202e" not in listed and listed.startswith("evil-")
    shown = ok(dave, ["group", "show", made.group_id, "--offline"])  # their name, escaped
    assert "\x1b" not in shown and "\u202e" not in shown
    assert "group_name\tevil\\x1b[31m\\u202egro\\x0aup\n" in shown, shown


def test_decline_and_leave(people: dict[str, User]) -> None:
    alice, bob, dave = people["alice"], people["bob"], people["dave"]
    made = json.loads(ok(alice, ["group", "create", "second", "-m", dave.session_id, "--json"]))
    invites = [r for r in receive(dave) if r["kind"] == "group_invite"]
    assert [r["group_id"] for r in invites] == [made["group_id"]]
    pending = json.loads(ok(dave, ["group", "list", "--json"]))
    assert made["group_id"] in {g["group_id"] for g in pending if g["role"] == "invited"}
    ok(dave, ["group", "decline", "second"])
    assert made["group_id"] not in {
        g["group_id"] for g in json.loads(ok(dave, ["group", "list", "--json"]))
    }
    assert "invite" in one_error(dave, ["group", "accept", made["group_id"]], 2)

    ok(bob, ["group", "leave", "team"])
    assert "team" not in {g["name"] for g in json.loads(ok(bob, ["group", "list", "--json"]))}
    changes = [r for r in receive(alice) if r["kind"] == "group_members"]
    assert any(r.get("change") == "member_left" and r["from"] == bob.session_id for r in changes)
    shown = json.loads(ok(alice, ["group", "show", "team", "--json"]))
    assert bob.session_id not in {m["session_id"] for m in shown["members"]}
