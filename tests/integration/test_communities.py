"""Communities end to end: the real CLI against the devnet's SOGS, every request onion-routed."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import run_cli

pytestmark = pytest.mark.slow

RATE = 12  # posts per user per minute on this devnet's SOGS (more than any test but the 429 one)


@pytest.fixture(scope="module")
def devnet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    from tests.devnet_support import DevnetProcess

    folder = tmp_path_factory.mktemp("devnet")
    with DevnetProcess(
        folder,
        nodes=12,
        swarm_size=4,
        seed=f"communities-{folder.name}",
        extra_args=("--sogs-rate-limit", f"{RATE}/60"),
    ) as dn:
        yield dn


@pytest.fixture(scope="module")
def room_url(devnet) -> str:
    urls = json.loads(Path(devnet.network_file).read_text())["communities"]
    return str(urls[0])


def _join(user, url: str, *extra: str) -> dict:
    res = user.run(["community", "add", "lobby", url, "--json", *extra])
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


def _our_id(user) -> str:
    res = user.run(["community", "show", "lobby", "--json"])
    assert res.returncode == 0, res.stderr
    return str(json.loads(res.stdout)["our_id"])


def _post(user, text: str) -> dict:
    res = user.run(["send", "--json", "lobby", text])
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


def _records(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


def _cursor_file(user) -> Path:
    found = list((user.home / "state").rglob("communities.json"))
    assert len(found) == 1, found
    return found[0]


def test_twenty_posts_from_two_identities_read_once_across_three_runs(users, room_url) -> None:
    alice, bob, reader = users("alice"), users("bob"), users("reader")
    for u in (alice, bob, reader):
        joined = _join(u, room_url)
        assert joined["blinded"] and joined["url"] == room_url
    texts = [f"post {i} from {'alice' if i % 2 == 0 else 'bob'}" for i in range(20)]

    def post(i: int) -> dict:
        out = _post(alice if i % 2 == 0 else bob, texts[i])
        assert out["source"] == "community" and out["ok"] and out["error"] is None
        assert out["recipient"] == room_url and out["recipient_name"] == "lobby"
        assert isinstance(out["id"], int) and isinstance(out["seqno"], int)
        assert isinstance(out["posted_at_ms"], int)
        return out

    sent = [post(i) for i in range(10)]
    first = reader.run(["receive", "--json", "--max", "4"])
    assert first.returncode == 0, first.stderr
    got = _records(first.stdout)
    assert len(got) == 4

    # Run two follows the room and is killed with SIGKILL once it has shown (and committed)
    # the other six.
    follower = subprocess.Popen(
        [sys.executable, "-m", "sessioncli", "receive", "--json", "--follow", "--interval", "0.5"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=reader.env,
        text=True,
    )
    try:
        assert follower.stdout is not None
        second = [json.loads(follower.stdout.readline()) for _ in range(6)]
        last_seqno = second[-1]["seqno"]
        cursor = _cursor_file(reader)
        while json.loads(cursor.read_text())["rooms"].get(room_url, 0) < last_seqno:
            assert follower.poll() is None, follower.stderr.read() if follower.stderr else ""
    finally:
        follower.send_signal(signal.SIGKILL)
        rest, _ = follower.communicate()
    got += second + _records(rest)

    sent += [post(i) for i in range(10, 20)]
    crash_env = {**reader.env, "SESSIONCLI_FAULT": "crash-after-fetch"}
    crashed = run_cli(["receive", "--json"], reader.home, env=crash_env)
    assert crashed.returncode == 137 and crashed.stdout == ""
    third = reader.run(["receive", "--json"])
    assert third.returncode == 0, third.stderr
    got += _records(third.stdout)

    assert [r["body"] for r in got] == texts
    assert [r["id"] for r in got] == [s["id"] for s in sent]
    assert all(r["source"] == "community" and r["community"] == "lobby" for r in got)
    assert all(r["conversation"] == room_url and r["kind"] == "text" for r in got)
    assert {r["from"] for r in got} == {_our_id(alice), _our_id(bob)}
    assert all(r["from"].startswith("15") for r in got)
    again = reader.run(["receive", "--json"])
    assert again.returncode == 0 and again.stdout == "", again.stderr
    # Our own posts come back only with --include-own.
    own = alice.run(["receive", "--json", "--include-own", "--conversation", "lobby"])
    mine = [r for r in _records(own.stdout) if r["outgoing"]]
    assert [r["body"] for r in mine] == texts[0::2]


def test_blinded_dm_both_ways(users, room_url) -> None:
    carol, dave = users("carol"), users("dave")
    _join(carol, room_url)
    _join(dave, room_url, "--history", "0")
    carol_id, dave_id = _our_id(carol), _our_id(dave)
    # Dave has made authenticated requests (the join): the server knows his blinded id.
    res = carol.run(["send", "--json", "--via", "lobby", dave_id, "hello dave"])
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["source"] == "community_dm" and out["ok"] and out["recipient"] == dave_id
    got = dave.receive_json()
    dms = [r for r in got if r["source"] == "community_dm"]
    assert [(r["body"], r["from"], r["outgoing"]) for r in dms] == [("hello dave", carol_id, False)]
    assert dms[0]["session_id"] == carol.session_id
    res = dave.run(["send", "--via", "lobby", carol_id, "hi carol"])
    assert res.returncode == 0, res.stderr
    back = [r for r in carol.receive_json("--include-own") if r["source"] == "community_dm"]
    assert [(r["body"], r["outgoing"]) for r in back] == [("hello dave", True), ("hi carol", False)]
    assert back[1]["from"] == dave_id and back[1]["session_id"] == dave.session_id


def test_hops_and_server_see_only_what_they_must(devnet, users, room_url) -> None:
    erin = users("erin")
    _join(erin, room_url)
    secret_text = "the quarterly numbers are in"
    _post(erin, secret_text)
    assert erin.run(["receive"]).returncode == 0
    host = room_url.split("//")[1].split("/")[0]
    room = room_url.split("/")[3].split("?")[0]
    blinded = _our_id(erin)
    for node in devnet.nodes():
        for entry in devnet.ctl("seen", node["id"]):
            if entry.get("kind") == "final":
                continue
            text = json.dumps(entry)
            for needle in (f"/{room}", secret_text, erin.session_id, erin.session_id[2:], blinded):
                assert needle not in text, (node["id"], needle)
            if "host" not in entry.get("routing", {}):  # guard and middle relay
                assert host.split(":")[0] not in text, node["id"]
    seen = devnet.ctl("sogs", "seen")
    text = json.dumps(seen)
    assert blinded in text
    assert erin.session_id not in text and erin.session_id[2:] not in text


def test_bad_input_is_one_line_with_its_exit_code(users, room_url, private_dirs) -> None:
    frank = users("frank")
    base, key = room_url.split("?public_key=")
    cases = [
        (base, 2, "public_key"),
        (f"{base}?public_key={key[:63]}", 2, "64 hex digits"),
        (f"{base.rsplit('/', 1)[0]}/no-such-room?public_key={key}", 1, "not found"),
        (f"gopher://x/r?public_key={key}", 2, "scheme"),
    ]
    for url, code, words in cases:
        res = frank.run(["community", "add", "lobby", url])
        assert res.returncode == code, res.stderr
        assert res.stderr.count("sessioncli: error:") == 1 and words in res.stderr, res.stderr
        assert "Traceback" not in res.stderr
    assert frank.run(["contacts", "add", "lobby", frank.session_id]).returncode == 0
    clash = frank.run(["community", "add", "lobby", room_url])
    assert clash.returncode == 2 and "already used by a contact" in clash.stderr
    _ = private_dirs


def test_server_trouble_is_one_line_and_loses_nothing(devnet, users, room_url) -> None:
    gina, hal = users("gina"), users("hal")
    _join(gina, room_url)
    _join(hal, room_url)
    from sessioncli.protocol import blinding, crypto

    server_pk = bytes.fromhex(room_url.split("public_key=")[1])
    never_seen = blinding.blinded_session_id(
        crypto.ed25519_keypair_from_seed(b"s" * 32)[1], server_pk
    )
    res = gina.run(["send", "--via", "lobby", never_seen, "anyone there?"])
    assert res.returncode == 1, res.stderr
    assert res.stderr.count("\n") == 1 and "only after it has used this server" in res.stderr
    for i in range(RATE):
        assert gina.run(["send", "lobby", f"burst {i}"]).returncode == 0
    limited = gina.run(["send", "lobby", "one too many"])
    assert limited.returncode == 75, limited.stderr
    assert "429" in limited.stderr and limited.stderr.startswith("sessioncli: error:")

    devnet.ctl("sogs", "fault", "auth401")
    try:
        refused = gina.run(["send", "lobby", "signed?"])
    finally:
        devnet.ctl("sogs", "fault", "none")
    assert refused.returncode == 1 and "refused our request signature" in refused.stderr
    assert refused.stderr.count("\n") == 1, refused.stderr
    devnet.ctl("sogs", "clock", str(25 * 3600))
    try:
        skewed = hal.run(["receive"])
    finally:
        devnet.ctl("sogs", "clock", "0")
    assert skewed.returncode == 1 and "425" in skewed.stderr and "clock" in skewed.stderr
    assert skewed.stderr.startswith("sessioncli: error:") and "Traceback" not in skewed.stderr
    devnet.ctl("sogs", "hang")
    try:
        hung = gina.run(["send", "--timeout", "5", "lobby", "anyone?"])
    finally:
        devnet.ctl("sogs", "up")
    assert hung.returncode in (69, 75) and hung.stderr.count("sessioncli: error:") == 1
    devnet.ctl("sogs", "fault", "garbage")
    try:
        junk = hal.run(["receive", "--timeout", "10"])
    finally:
        devnet.ctl("sogs", "fault", "none")
    assert junk.returncode == 75 and "Traceback" not in junk.stderr, junk.stderr
    devnet.ctl("sogs", "down")
    try:
        down = hal.run(["receive", "--timeout", "10"])
        mixed = gina.run(["send", "--json", "--timeout", "10", f"lobby,{hal.session_id}", "both?"])
    finally:
        devnet.ctl("sogs", "up")
    assert mixed.returncode == 3, mixed.stderr
    results = json.loads(mixed.stdout)
    assert [(r["source"], r["ok"]) for r in results] == [("community", False), ("dm", True)]
    assert results[0]["error"] and mixed.stderr.count("sessioncli: error:") == 1
    assert down.returncode in (69, 75) and "Traceback" not in down.stderr, down.stderr
    assert down.stderr.startswith("sessioncli: error:")
    back = [r["body"] for r in hal.receive_json() if r["source"] == "community"]
    # Nothing lost: every post that was accepted arrives, once, after all that trouble.
    assert [b for b in back if b.startswith("burst")] == [f"burst {i}" for i in range(RATE)]


def _direct(url: str, user_sk: bytes, method: str, path: str, body: dict | None) -> int:
    """A request straight to the devnet's SOGS (as another app would make it), signed as a user."""
    import os
    import time
    import urllib.error
    import urllib.request

    from sessioncli.protocol import sogs

    parsed = sogs.parse_community_url(url)
    data = json.dumps(body).encode() if body is not None else None
    headers = sogs.auth_headers(
        sogs.Signer(user_sk, parsed.server_pk),
        method,
        path,
        data,
        nonce=os.urandom(16),
        timestamp=int(time.time()),
    )
    if data is not None:
        headers["Content-Type"] = "application/json"
    req = urllib.request.Request(parsed.server_base + path, data, headers, method=method)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def test_edits_deletions_and_forged_posts(users, room_url) -> None:
    import base64

    from sessioncli.protocol import blinding, crypto, sogs

    reader = users("ivy")
    _join(reader, room_url)
    _, poster_sk = crypto.ed25519_keypair_from_seed(b"p" * 32)
    server_pk = bytes.fromhex(room_url.split("public_key=")[1])
    room = room_url.split("/")[3].split("?")[0]

    def content(text: str) -> dict:
        padded = sogs.build_post(text, 1_700_000_000_000)
        sig = blinding.blind15_sign(poster_sk, server_pk, padded)
        return {
            "data": base64.b64encode(padded).decode(),
            "signature": base64.b64encode(sig).decode(),
        }

    assert _direct(room_url, poster_sk, "POST", f"/room/{room}/message", content("v1")) == 201
    first = reader.receive_json("--conversation", "lobby")
    assert [r["body"] for r in first] == ["v1"]
    post_id = first[0]["id"]
    assert (
        _direct(room_url, poster_sk, "PUT", f"/room/{room}/message/{post_id}", content("v2")) == 200
    )
    assert _direct(room_url, poster_sk, "DELETE", f"/room/{room}/message/{post_id}", None) == 200
    forged = content("not signed by me")
    forged["signature"] = base64.b64encode(bytes(64)).decode()
    assert _direct(room_url, poster_sk, "POST", f"/room/{room}/message", forged) == 201
    assert _direct(room_url, poster_sk, "POST", f"/room/{room}/message", content("after")) == 201

    res = reader.run(["-v", "receive", "--json", "--conversation", "lobby"])
    assert res.returncode == 0, res.stderr
    later = _records(res.stdout)
    kinds = [(r["kind"], r["id"] == post_id, r["body"]) for r in later]
    # The server reports the edit and the deletion as updates of the post (the edit may be
    # folded into the deletion when both happened before we looked).
    assert kinds[-1] == ("text", False, "after")
    assert ("deletion", True, None) in kinds
    assert all(k in (("edit", True, "v2"), ("deletion", True, None)) for k in kinds[:-1]), kinds
    assert "1 message(s) failed verification and were dropped (bad_signature 1)" in res.stderr
