"""Attachments in communities end to end: the real CLI, room files on the devnet's SOGS."""

from __future__ import annotations

import base64
import json
import os
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from email.utils import parsedate_to_datetime
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def devnet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    from tests.devnet_support import DevnetProcess

    folder = tmp_path_factory.mktemp("devnet")
    with DevnetProcess(
        folder,
        nodes=10,
        swarm_size=4,
        seed=f"commattach-{folder.name}",
        extra_args=("--sogs-rate-limit", "off"),
    ) as dn:
        yield dn


@pytest.fixture(scope="module")
def room_url(devnet) -> str:
    return str(json.loads(Path(devnet.network_file).read_text())["communities"][0])


def _join(user, url: str) -> None:
    res = user.run(["community", "add", "lobby", url])
    assert res.returncode == 0, res.stderr


def _members(users, url: str, *names: str) -> list:
    """New identities that joined the room as "lobby"."""
    made = [users(n) for n in names]
    for u in made:
        _join(u, url)
    return made


def _our_id(user) -> str:
    res = user.run(["community", "show", "lobby", "--json"])
    assert res.returncode == 0, res.stderr
    return str(json.loads(res.stdout)["our_id"])


def _records(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


def _direct(
    url: str, sk: bytes, method: str, path: str, body: bytes | None, headers: dict[str, str]
) -> tuple[int, bytes, dict[str, str]]:
    """A request straight to the devnet's SOGS (as another app would make it), signed by `sk`."""
    from sessioncli.protocol import sogs

    parsed = sogs.parse_community_url(url)
    signed = sogs.auth_headers(
        sogs.Signer(sk, parsed.server_pk),
        method,
        path,
        body,
        nonce=os.urandom(16),
        timestamp=int(time.time()),
    )
    req = urllib.request.Request(
        parsed.server_base + path, body, {**headers, **signed}, method=method
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return int(resp.status), resp.read(), {k.lower(): v for k, v in resp.headers.items()}
    except urllib.error.HTTPError as exc:
        return int(exc.code), exc.read(), {k.lower(): v for k, v in exc.headers.items()}


def _sogs_requests(devnet, method: str, suffix: str) -> int:
    return sum(
        1
        for e in devnet.ctl("sogs", "seen")
        if e["method"] == method and e["path"].split("?")[0].endswith(suffix)
    )


def test_post_with_text_and_file_arrives_byte_identical(devnet, users, room_url) -> None:
    alice, bob = _members(users, room_url, "alice", "bob")
    data = os.urandom(300_000)
    src = alice.home / "release notes v1.bin"
    src.write_bytes(data)
    res = alice.run(["send", "--json", "lobby", "release 1.0 is out", "--attach", str(src)])
    assert res.returncode == 0, res.stderr
    sent = json.loads(res.stdout)
    assert sent["ok"] and sent["source"] == "community"

    folder = bob.home / "downloads"
    got = bob.run(["receive", "--json", "--attachments", str(folder)])
    assert got.returncode == 0, got.stderr
    (rec,) = _records(got.stdout)
    assert rec["body"] == "release 1.0 is out" and rec["id"] == sent["id"]
    (att,) = rec["attachments"]
    assert att["file_name"] == "release notes v1.bin" and att["size"] == len(data)
    assert att["content_type"] == "application/octet-stream" and att["error"] is None
    assert Path(att["path"]).parent == folder and Path(att["path"]).read_bytes() == data
    room = room_url.split("/")[3].split("?")[0]
    base = room_url.split(f"/{room}?")[0]
    assert att["url"].startswith(f"{base}/room/{room}/file/")

    # The room holds the file itself (a community is public: nothing is encrypted), and the
    # post claimed it: it expires in about 15 days, not after the hour an unclaimed upload gets.
    path = att["url"][len(base) :]
    code, body, headers = _direct(room_url, bytes(64), "GET", path, None, {})
    assert code == 200 and body == data
    expires = parsedate_to_datetime(headers["expires"]).timestamp()
    assert expires > time.time() + 14 * 86400
    # Guard and middle relay saw neither the file's endpoint nor the server (onion layers).
    host = base.split("//")[1].split(":")[0]
    for node in devnet.nodes():
        for entry in devnet.ctl("seen", node["id"]):
            if entry.get("kind") == "final" or "host" in entry.get("routing", {}):
                continue
            text = json.dumps(entry)
            assert f"/room/{room}" not in text and host not in text, node["id"]


def test_hostile_pointers_land_inside_dir_or_nowhere(users, room_url) -> None:
    from sessioncli.protocol import blinding, crypto, sogs
    from sessioncli.protocol.attachment_message import Pointer

    (reader,) = _members(users, room_url, "carol")
    _, sk = crypto.ed25519_keypair_from_seed(b"h" * 32)
    server_pk = bytes.fromhex(room_url.split("public_key=")[1])
    room = room_url.split("/")[3].split("?")[0]
    base = room_url.split(f"/{room}?")[0]
    data = b"not really /etc/passwd\n"
    code, body, _ = _direct(
        room_url,
        sk,
        "POST",
        f"/room/{room}/file",
        data,
        {"Content-Type": "application/octet-stream"},
    )
    assert code == 201, body
    file_id = json.loads(body)["id"]
    here = f"{base}/room/{room}/file/{file_id}"
    # a file far larger than its pointer admits: the download stops at the cap
    code, body, _ = _direct(room_url, sk, "POST", f"/room/{room}/file", os.urandom(2_000_000), {})
    assert code == 201, body
    huge_id = json.loads(body)["id"]
    elsewhere = f"http://127.0.0.77:9/room/{room}/file/{file_id}"

    def ptr(url: str, name: str) -> Pointer:
        return Pointer(url=url, key=b"", size=len(data), file_name=name, file_id=file_id)

    pointers = [
        ptr(here, "../../etc/passwd"),
        ptr(here, "a/b\x00c"),
        ptr(elsewhere, "from-elsewhere.txt"),
        ptr(f"{base}/room/other-room/file/{file_id}", "other-room.txt"),
        Pointer(url=f"{base}/room/{room}/file/{huge_id}", key=b"", size=1, file_name="endless"),
    ]
    padded = sogs.build_post("look", int(time.time() * 1000), attachments=pointers)
    signature = blinding.blind15_sign(sk, server_pk, padded)
    post = {
        "data": base64.b64encode(padded).decode(),
        "signature": base64.b64encode(signature).decode(),
        "files": [file_id, huge_id],
    }
    code, body, _ = _direct(
        room_url,
        sk,
        "POST",
        f"/room/{room}/message",
        json.dumps(post).encode(),
        {"Content-Type": "application/json"},
    )
    assert code == 201, body

    folder = reader.home / "in"
    got = reader.run(["-v", "receive", "--json", "--attachments", str(folder)])
    assert got.returncode == 0, got.stderr
    (rec,) = [r for r in _records(got.stdout) if r.get("body") == "look"]
    atts = rec["attachments"]
    for a in atts[:2]:
        assert a["error"] is None
        written = Path(a["path"])
        assert written.parent == folder and written.read_bytes() == data
    assert Path(atts[0]["path"]).name == "passwd"
    for a in atts[2:4]:
        assert a["path"] is None and "not downloaded" in a["error"], a
    assert atts[4]["path"] is None and atts[4]["error"], atts[4]
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        Path(a["path"]).name for a in atts[:2]
    )
    assert "another server" in got.stderr and "another room" in got.stderr


def test_oversized_file_is_refused_before_any_upload(devnet, users, room_url) -> None:
    (dave,) = _members(users, room_url, "dave")
    big = dave.home / "big.iso"
    with open(big, "wb") as fh:
        fh.truncate(10_000_001)
    before = _sogs_requests(devnet, "POST", "/file")
    res = dave.run(["send", "lobby", "too big", "--attach", str(big)])
    assert res.returncode == 2, res.stderr
    assert res.stderr.count("\n") == 1 and "big.iso" in res.stderr and "too large" in res.stderr
    assert _sogs_requests(devnet, "POST", "/file") == before


def test_sogs_down_during_upload_posts_nothing(devnet, users, room_url) -> None:
    erin, frank = _members(users, room_url, "erin", "frank")
    src = erin.home / "log.txt"
    src.write_bytes(b"a log line\n" * 100)
    posts = _sogs_requests(devnet, "POST", "/message")
    devnet.ctl("sogs", "down")
    try:
        res = erin.run(["send", "--timeout", "10", "lobby", "with a log", "-a", str(src)])
    finally:
        devnet.ctl("sogs", "up")
    assert res.returncode == 75, res.stderr
    assert res.stderr.count("sessioncli: error:") == 1 and "log.txt" in res.stderr, res.stderr
    assert "Traceback" not in res.stderr
    assert _sogs_requests(devnet, "POST", "/message") == posts
    got = frank.run(["receive", "--json"])
    assert got.returncode == 0 and got.stdout == "", got.stderr


def test_blinded_dm_and_mixed_sends_carry_the_file_everywhere(users, room_url) -> None:
    gina, hal = _members(users, room_url, "gina", "hal")
    data = os.urandom(5000)
    src = gina.home / "photo.bin"
    src.write_bytes(data)
    res = gina.run(["send", "--json", "--via", "lobby", _our_id(hal), "for you", "-a", str(src)])
    assert res.returncode == 0, res.stderr
    # One send to a room and a DM: a room file for the post, a file server upload for the DM.
    res = gina.run(["send", "--json", f"lobby,{hal.session_id}", "for all", "-a", str(src)])
    assert res.returncode == 0, res.stderr
    assert [r["source"] for r in json.loads(res.stdout)] == ["community", "dm"]
    folder = hal.home / "dl"
    got = hal.run(["receive", "--json", "--attachments", str(folder)])
    assert got.returncode == 0, got.stderr
    by_source = {r["source"]: r for r in _records(got.stdout)}
    assert sorted(by_source) == ["community", "community_dm", "dm"]
    for source, rec in by_source.items():
        (att,) = rec["attachments"]
        assert att["error"] is None and Path(att["path"]).read_bytes() == data, source
        # a room file for the post; the network's file server (encrypted) for the DMs
        assert ("/room/" in att["url"]) == (source == "community"), (source, att["url"])
    assert by_source["community_dm"]["body"] == "for you"
