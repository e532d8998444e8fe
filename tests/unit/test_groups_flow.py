"""Posting and reading groups through core/group_send.py and core/group_receive.py (in-memory swarm).

Three members post; each reads the others' posts once, in timestamp order, across runs; forged
posts never show (counted); a removed member sees one "group_removed" record and cannot post.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sessioncli.core import group_receive, group_send, groups
from sessioncli.core.dispatch import Outgoing
from sessioncli.core.group_state import StoredItem
from sessioncli.core.recipients import Target
from sessioncli.protocol import crypto
from sessioncli.protocol.groups.message import encrypt_group_message
from tests.unit.groups_fakeswarm import FakeSwarm
from tests.unit.groups_world import User, make_world, take_invite


@pytest.fixture
def world(tmp_path: Path) -> tuple[FakeSwarm, User, User, User]:
    return make_world(tmp_path)


def records(
    user: User, name: str, **kw: Any
) -> tuple[list[dict[str, Any]], group_receive.GroupReceiver]:
    out: list[dict[str, Any]] = []

    def go(ctx: groups.GroupContext) -> group_receive.GroupReceiver:
        r = group_receive.GroupReceiver(ctx, name, **kw)
        r.poll(lambda rec: out.append(rec.to_json()))
        r.close()
        return r

    return out, user(go)


def say(user: User, name: str, body: str) -> group_send.GroupSendResult:
    target = Target("group", "", name=name)
    return user(
        group_send.post_text, target, Outgoing(body=body, ttl_ms=1000, display_name=user.name)
    )


def texts(recs: list[dict[str, Any]]) -> list[str]:
    return [r["body"] for r in recs if r["kind"] == "text"]


def test_posts_once_in_order_and_removal(world: tuple[FakeSwarm, User, User, User]) -> None:
    swarm, alice, bob, carol = world
    made = alice(groups.create, "team", [bob.identity.session_id, carol.identity.session_id])
    for who in (bob, carol):
        take_invite(who, swarm)
        who(groups.accept, made.group_id)
    alice_first, _ = records(alice, "team")  # handles the two invite responses
    assert {r["change"] for r in alice_first if r["kind"] == "group_members"} >= {"invite_response"}
    for i in range(3):
        for who in (alice, bob, carol):
            res = say(who, "team", f"{who.name} {i}")
            assert res.ok, res.error
            assert res.to_json()["source"] == "group" and res.to_json()["group_id"] == made.group_id
    for who in (alice, bob, carol):
        got, _ = records(who, "team")
        others = [t for t in texts(got) if not t.startswith(who.name)]
        assert len(others) == 6
        text_recs = [r for r in got if r["kind"] == "text"]
        assert [r["timestamp_ms"] for r in text_recs] == sorted(
            r["timestamp_ms"] for r in text_recs
        )
        sample = text_recs[0]
        assert sample["source"] == "group" and sample["group"] == "team"
        assert sample["conversation"] == made.group_id and sample["from_name"] in (
            "alice",
            "bob",
            "carol",
        )
        again, _ = records(who, "team")  # a second run: nothing twice
        assert texts(again) == []

    st = bob(lambda ctx: groups._open(ctx, "team"))
    other_group = crypto.ed25519_keypair_from_seed(bytes(32))[0]
    forged = encrypt_group_message(
        bob.identity.ed25519_secret, other_group, st.keys.encryption_key(), b"\x08\x07"
    )
    posts = swarm.stored[(made.group_id, 11)]
    posts.append(StoredItem("forged1", swarm.now_ms(), forged))  # signed for another group
    posts.append(StoredItem("forged2", swarm.now_ms(), b"\x00" * 200))  # no key opens it
    got, receiver = records(carol, "team")
    assert texts(got) == []
    assert receiver.stats.drop_reasons == {"group_bad_signature": 1, "group_undecryptable": 1}
    _, receiver = records(carol, "team")  # the forgery is remembered; junk is tried again
    assert receiver.stats.drop_reasons == {"group_undecryptable": 1}

    alice(groups.remove_members, "team", [carol.identity.session_id])
    got, _ = records(carol, "team")
    assert [r["kind"] for r in got] == ["group_removed"]
    assert records(carol, "team")[0] == []  # shown once
    refused = say(carol, "team", "let me in")
    assert not refused.ok and refused.exit_code == 1 and "removed" in (refused.error or "")
    assert say(bob, "team", "bob after").ok
    got, _ = records(alice, "team")
    assert "bob after" in texts(got)


def test_unknown_group_and_invite_only(world: tuple[FakeSwarm, User, User, User]) -> None:
    swarm, alice, bob, _ = world
    res = say(alice, "nope", "x")
    assert not res.ok and res.exit_code == 2 and "unknown group" in (res.error or "")
    made = alice(groups.create, "solo", [bob.identity.session_id])
    take_invite(bob, swarm)
    with pytest.raises(Exception, match="unknown group"):
        records(bob, "solo")  # an invite has no name until accepted
    assert made.role == "admin"
