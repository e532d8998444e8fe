"""Replies, reactions, unsend, read receipts, disappearing messages, message requests and Session
names, end to end: the real CLI between identities on one devnet (shared by this module), with
the stored bytes read back and checked against the SPEC §3 field numbers."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.wire_fields import fields, packed_or_repeated

DATA_MESSAGE, RECEIPT, UNSEND, EXP_TYPE, EXP_TIMER = 1, 5, 9, 12, 13
QUOTE, REACTION = 8, 11


def ok(res: Any) -> Any:
    assert res.returncode == 0, res.stderr
    return res


def sent(user: Any, *args: str) -> dict[str, Any]:
    return json.loads(ok(user.run(["send", "--json", *args])).stdout)


def stored_contents(devnet: Any, user: Any) -> dict[str, bytes]:
    """Every message in the user's swarm, decrypted with their key: hash -> Content bytes."""
    from sessioncli.core import identity
    from sessioncli.net.client import NetworkClient
    from sessioncli.protocol.message import MessageDecodeError, decode_dm

    ident, _ = identity.load("default", str(user.identity_file))
    out: dict[str, bytes] = {}
    with NetworkClient(str(devnet.network_file), timeout=60) as net:
        page = net.retrieve(ident, cursors={})
    for item in page.messages:
        try:
            out[item.hash] = decode_dm(ident, item.data).raw_content
        except MessageDecodeError:
            continue
    return out


@pytest.fixture
def pair(users):
    alice, bob = users("alice"), users("bob")
    # both approved: a first message each way (and it is received)
    ok(alice.run(["send", bob.session_id, "hello bob"]))
    bob.receive_json()
    ok(bob.run(["send", alice.session_id, "hello alice"]))
    alice.receive_json()
    return alice, bob


def test_reply_quotes_the_right_message(pair, devnet) -> None:
    alice, bob = pair
    question = sent(alice, bob.session_id, "are you there?")
    ok(alice.run(["send", bob.session_id, "another one"]))
    got = {m["body"]: m for m in bob.receive_json()}
    h = got["are you there?"]["hash"]
    reply = sent(bob, "--reply-to", h, alice.session_id, "yes")
    (rec,) = alice.receive_json()
    assert rec["body"] == "yes"
    assert rec["quote"] == {
        "timestamp_ms": question["timestamp_ms"],
        "author": alice.session_id,
        "text": "are you there?",
    }
    dm = fields(fields(stored_contents(devnet, alice)[reply["hash"]])[DATA_MESSAGE][0])
    q = fields(dm[QUOTE][0])
    assert q[1] == [question["timestamp_ms"]] and q[2] == [alice.session_id.encode()]
    # our own sent message can be quoted too (from the index of what we sent)
    ok(alice.run(["send", "--reply-to", question["hash"], bob.session_id, "me again"]))
    (again,) = bob.receive_json()
    assert again["quote"]["author"] == alice.session_id


def test_reaction_and_its_removal_arrive(pair, devnet) -> None:
    alice, bob = pair
    msg = sent(alice, bob.session_id, "react to this")
    (rec,) = bob.receive_json()
    ok(bob.run(["react", rec["hash"], "👍"]))
    res = json.loads(ok(bob.run(["react", "--remove", "--json", rec["hash"], "👍"])).stdout)
    assert res["ok"] and res["removed"] is True
    got = alice.receive_json()
    assert [m["kind"] for m in got] == ["reaction", "reaction"]
    assert [m["reaction"]["action"] for m in got] == ["react", "remove"]
    for m in got:
        assert m["body"] is None
        assert m["reaction"]["timestamp_ms"] == msg["timestamp_ms"]
        assert m["reaction"]["author"] == alice.session_id
        assert m["reaction"]["emoji"] == "👍"
    raw = stored_contents(devnet, alice)[got[0]["hash"]]
    r = fields(fields(fields(raw)[DATA_MESSAGE][0])[REACTION][0])
    assert r == {
        1: [msg["timestamp_ms"]],
        2: [alice.session_id.encode()],
        3: ["👍".encode()],
        4: [0],
    }


def test_unsent_message_never_prints_and_leaves_our_swarm(pair, devnet) -> None:
    alice, bob = pair
    keep = sent(alice, bob.session_id, "keep me")
    wrong = sent(alice, bob.session_id, "wrong alert")
    res = json.loads(ok(alice.run(["unsend", "--json", wrong["hash"]])).stdout)
    assert res["ok"] and res["unsend_request"]["sent"] and res["our_devices"]["sent"]
    assert res["sync_copy"]["deleted"] and res["sync_copy"]["deleted_on"]
    mine = stored_contents(devnet, alice)
    assert res["sync_copy"]["hash"] not in mine
    got = bob.receive_json()
    assert [m["kind"] for m in got] == ["text", "unsend"]
    assert got[0]["timestamp_ms"] == keep["timestamp_ms"]
    assert got[1]["unsend_timestamp_ms"] == wrong["timestamp_ms"]
    assert got[1]["unsend_author"] == alice.session_id
    u = fields(fields(stored_contents(devnet, bob)[got[1]["hash"]])[UNSEND][0])
    assert u == {1: [wrong["timestamp_ms"]], 2: [alice.session_id.encode()]}
    # a message already received: its unsend arrives as a record
    late = sent(alice, bob.session_id, "seen, then taken back")
    bob.receive_json()
    ok(alice.run(["unsend", late["hash"]]))
    (rec,) = bob.receive_json()
    assert rec["kind"] == "unsend" and rec["unsend_timestamp_ms"] == late["timestamp_ms"]
    # only our own messages can be taken back, and each only once
    other = sent(bob, alice.session_id, "bob's")
    (theirs,) = alice.receive_json()
    assert theirs["timestamp_ms"] == other["timestamp_ms"]
    refused = alice.run(["unsend", theirs["hash"]])
    assert refused.returncode == 2 and "wrote it" in refused.stderr
    assert alice.run(["unsend", wrong["hash"]]).returncode == 2


def test_read_receipts_arrive_batched(pair, devnet) -> None:
    alice, bob = pair
    stamps = [sent(alice, bob.session_id, f"m{i}")["timestamp_ms"] for i in range(3)]
    assert len(bob.receive_json("--read-receipts")) == 3
    got = alice.receive_json()
    assert [m["kind"] for m in got] == ["receipt"]
    assert got[0]["receipt_type"] == "read"
    assert sorted(got[0]["receipt_timestamps"]) == sorted(stamps)
    r = fields(fields(stored_contents(devnet, alice)[got[0]["hash"]])[RECEIPT][0])
    assert r[1] == [1] and sorted(packed_or_repeated(r[2])) == sorted(stamps)
    # nothing new: no receipt sent
    bob.receive_json("--read-receipts")
    assert alice.receive_json() == []


def test_disappearing_messages(pair, devnet) -> None:
    alice, bob = pair
    after_send = sent(alice, "--disappear", "10m", bob.session_id, "gone soon")
    assert abs(after_send["expires_at_ms"] - after_send["timestamp_ms"] - 600_000) < 5_000
    after_read = sent(alice, "--disappear", "1h", "--disappear-after", "read", bob.session_id, "r")
    span = after_read["expires_at_ms"] - after_read["timestamp_ms"]
    assert abs(span - 14 * 86_400_000) < 60_000  # after-read keeps the default TTL
    a, b = bob.receive_json()
    assert a["expiration_type"] == "delete_after_send" and a["expiration_timer_s"] == 600
    assert a["disappears_at_ms"] == after_send["timestamp_ms"] + 600_000
    assert b["expiration_type"] == "delete_after_read" and b["expiration_timer_s"] == 3600
    assert b["disappears_at_ms"] == b["received_at_ms"] + 3_600_000
    c = fields(stored_contents(devnet, bob)[a["hash"]])
    assert c[EXP_TYPE] == [2] and c[EXP_TIMER] == [600]
    # the sync copy in our own swarm is marked the same way
    own = [
        fields(raw)
        for raw in stored_contents(devnet, alice).values()
        if fields(raw).get(EXP_TIMER) == [600]
    ]
    assert own and own[0][EXP_TYPE] == [2]


def test_blocked_sender_never_prints(users) -> None:
    alice, bob = users("alice"), users("bob")
    ok(bob.run(["contacts", "block", alice.session_id]))
    ok(alice.run(["send", bob.session_id, "let me in"]))
    res = ok(bob.run(["-v", "receive", "--json"]))
    assert res.stdout == "" and "blocked 1" in res.stderr
    ok(bob.run(["contacts", "unblock", alice.session_id]))
    ok(alice.run(["send", bob.session_id, "now?"]))
    assert [m["body"] for m in bob.receive_json()] == ["now?"]


def test_requests_accept_and_decline(users) -> None:
    alice, bob, carol = users("alice"), users("bob"), users("carol")
    ok(bob.run(["send", alice.session_id, "bob writes first"]))  # bob approves alice
    ok(alice.run(["send", bob.session_id, "from a friend"]))
    ok(carol.run(["send", bob.session_id, "from a stranger"]))
    got = bob.receive_json("--requests")
    assert [m["body"] for m in got] == ["from a stranger"]
    assert bob.receive_json() == []  # the friend's message was consumed too
    ok(bob.run(["contacts", "add", "carol", carol.session_id]))
    res = json.loads(ok(bob.run(["contacts", "accept", "--json", "carol"])).stdout)
    assert res["approval_sent"] and res["session_id"] == carol.session_id
    (mrr,) = carol.receive_json()
    assert mrr["kind"] == "message_request_response" and mrr["approved"] is True
    ok(carol.run(["send", bob.session_id, "thanks"]))
    assert bob.receive_json("--requests") == []
    ok(bob.run(["contacts", "decline", alice.session_id]))


def test_bad_input_is_refused_and_nothing_is_sent(pair) -> None:
    alice, bob = pair
    unknown = "A" * 43
    msg = sent(alice, bob.session_id, "x")
    (rec,) = bob.receive_json()
    cases = [
        ["react", unknown, "👍"],
        ["react", rec["hash"], "ab"],
        ["react", rec["hash"], "👍👍"],
        ["unsend", unknown],
        ["send", "--reply-to", unknown, alice.session_id, "r"],
        ["send", "--disappear", "0s", alice.session_id, "d"],
        ["send", "--disappear", "30d", alice.session_id, "d"],
        ["send", "--disappear", "1h", "--ttl", "1h", alice.session_id, "d"],
        ["send", "@bad!name", "o"],
        ["resolve", "@-nope"],
        ["contacts", "add", "x", "@no spaces"],
    ]
    for args in cases:
        res = bob.run(args)
        assert res.returncode == 2, (args, res.stderr)
        lines = res.stderr.strip().splitlines()
        assert lines[0].startswith("sessioncli: error: "), (args, res.stderr)
        assert all(line.startswith("  ") for line in lines[1:]), (args, res.stderr)  # hints
        assert "Traceback" not in res.stderr
    assert alice.receive_json() == []
    assert msg["hash"]


def test_session_names_resolve_through_the_devnet(users, devnet) -> None:
    alice, bob = users("alice"), users("bob")
    devnet.ctl("ons", "add", "alice-bot", alice.session_id)
    res = json.loads(ok(bob.run(["resolve", "--json", "@Alice-Bot"])).stdout)
    assert res["session_id"] == alice.session_id and res["name"] == "alice-bot"
    assert res["cached"] is False and res["expires_at_ms"] > 0
    assert ok(bob.run(["resolve", "alice-bot"])).stdout.strip() == alice.session_id
    assert json.loads(ok(bob.run(["resolve", "--json", "alice-bot"])).stdout)["cached"]
    out = sent(bob, "@alice-bot", "via my Session name")
    assert out["recipient"] == alice.session_id and out["recipient_name"] == "@alice-bot"
    assert [m["body"] for m in alice.receive_json()] == ["via my Session name"]
    ok(bob.run(["contacts", "add", "al", "@alice-bot"]))
    shown = json.loads(ok(bob.run(["contacts", "show", "--json", "al"])).stdout)
    assert shown["session_id"] == alice.session_id
    missing = bob.run(["send", "@nobody-here", "x"])
    assert missing.returncode == 2 and "@nobody-here is not registered" in missing.stderr
    assert "@nobody-here" in bob.run(["resolve", "nobody-here"]).stderr


def test_resolve_with_the_network_down_is_69_or_75(users, devnet) -> None:
    bob = users("bob")
    ok(bob.run(["whoami"]))
    ids = [n["id"] for n in devnet.nodes()]
    devnet.ctl("down", *ids)
    try:
        res = bob.run(["resolve", "--refresh", "--timeout", "5", "someone"])
    finally:
        devnet.ctl("up", *ids)
    assert res.returncode in (69, 75), res.stderr
    assert res.stderr.startswith("sessioncli: error: ")
