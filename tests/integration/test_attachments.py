"""Attachments end to end: the real CLI against a devnet with its file server, over onion v4."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
import requests

pytestmark = pytest.mark.slow


def _file_id(url: str) -> str:
    return url.split("#", 1)[0].rsplit("/", 1)[1]


def _info(devnet, url: str) -> dict:
    base = json.loads(devnet.network_file.read_text())["file_server"]["url"]
    got = requests.get(f"{base}/file/{_file_id(url)}/info", timeout=10)
    assert got.status_code == 200
    return got.json()


def _only(records: list[dict]) -> dict:
    assert len(records) == 1, records
    return records[0]


def test_text_and_three_files_arrive_identical_once(users, devnet, tmp_path: Path) -> None:
    alice, bob = users("alice"), users("bob")
    files = {
        "one.bin": os.urandom(1),
        "megabyte.bin": os.urandom(1_000_000),
        "big.dat": os.urandom(9_900_000),
    }
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    args = ["send", "--json", bob.session_id, "the logs"]
    for name in files:
        args += ["-a", str(tmp_path / name)]
    sent = alice.run(args)
    assert sent.returncode == 0, sent.stderr
    assert json.loads(sent.stdout)["ok"]

    out = tmp_path / "inbox"
    record = _only(bob.receive_json("--attachments", str(out)))
    assert record["body"] == "the logs"
    got = {a["file_name"]: a for a in record["attachments"]}
    assert set(got) == set(files)
    for name, data in files.items():
        a = got[name]
        assert a["error"] is None and a["size"] == len(data)
        assert Path(a["path"]) == out / name
        assert Path(a["path"]).read_bytes() == data  # trimmed: exactly the original bytes
        assert stat.S_IMODE(Path(a["path"]).stat().st_mode) == 0o600
        assert "key" not in a and "digest" not in a
    assert sorted(os.listdir(out)) == sorted(files)
    # exactly once: nothing new, nothing written again
    assert bob.receive_json("--attachments", str(out)) == []
    assert sorted(os.listdir(out)) == sorted(files)
    # the sync copy carries the pointers too
    own = [r for r in alice.receive_json("--include-own") if r["outgoing"]]
    assert [a["file_name"] for a in _only(own)["attachments"]] == list(files)


def test_uploads_are_padded_and_seen_only_encrypted(users, devnet, tmp_path: Path) -> None:
    alice, bob = users("alice"), users("bob")
    marker = b"PLAINTEXT-MARKER-" * 40
    (tmp_path / "small.txt").write_bytes(b"x")
    (tmp_path / "medium.txt").write_bytes(marker[:500])
    for name in ("small.txt", "medium.txt"):
        res = alice.run(["send", bob.session_id, "-a", str(tmp_path / name)])
        assert res.returncode == 0, res.stderr
    records = bob.receive_json()
    urls = {r["attachments"][0]["file_name"]: r["attachments"][0]["url"] for r in records}
    assert all(r["body"] is None for r in records)  # files without text
    # without --attachments nothing is downloaded
    assert all(
        r["attachments"][0]["path"] is None and r["attachments"][0]["error"] is None
        for r in records
    )
    sizes = {name: _info(devnet, url)["size"] for name, url in urls.items()}
    assert sizes["small.txt"] == sizes["medium.txt"] == 592  # 541-byte bucket + iv, block, MAC
    host = json.loads(devnet.network_file.read_text())["file_server"]["url"].split("//")[1]
    ip = host.split(":")[0]
    relays = 0
    for node in devnet.nodes():
        for seen in devnet.ctl("seen", node["id"]):
            text = json.dumps(seen)
            assert "PLAINTEXT-MARKER" not in text
            if seen.get("kind") == "relay":  # guards and middle relays
                relays += 1
                assert ip not in text and host not in text, seen
    assert relays > 0


def _library_send(devnet, bob_id: str, pointers, body: str = "") -> None:
    """Send a DM whose pointers a test chose, through the library (what a hostile peer could send)."""
    from sessioncli.core import dispatch, recipients
    from sessioncli.net.client import NetworkClient
    from sessioncli.protocol.ids import Identity

    identity = Identity.from_seed(os.urandom(16))
    net = NetworkClient(str(devnet.network_file), timeout=30)
    try:
        results = dispatch.send(
            dispatch.SendContext(identity, net, Path(os.environ["SESSIONCLI_STATE_DIR"]) / "lib"),
            recipients.parse_targets([bob_id]),
            dispatch.Outgoing(body, 3_600_000, attachments=tuple(pointers)),
        )
        assert results[0].ok, results[0].error
    finally:
        net.close()


def _upload(devnet, blob: bytes) -> str:
    from sessioncli.core import attachments as ca
    from sessioncli.net.client import NetworkClient

    net = NetworkClient(str(devnet.network_file), timeout=30)
    try:
        return ca.upload_blob(net, ca.file_server_of(net), blob, "test", None).file_id
    finally:
        net.close()


def _fs_url(devnet) -> str:
    return json.loads(devnet.network_file.read_text())["file_server"]["url"]


def test_hostile_names_tampering_and_deterministic(users, devnet, tmp_path: Path) -> None:
    from sessioncli.protocol import attachments as pa
    from sessioncli.protocol.attachment_message import Pointer

    bob = users("bob")
    data = b"hostile peer's file\n"
    pointers = []
    names = ["../../etc/passwd", "a/b", "n" * 300 + ".txt", "nul\x00name.txt", "..", "passwd"]
    for name in names:
        enc = pa.legacy_encrypt(data)
        fid = _upload(devnet, enc.blob)
        pointers.append(
            Pointer(
                url=f"{_fs_url(devnet)}/file/{fid}",
                key=enc.key,
                size=len(data),
                digest=enc.digest,
                content_type="text/plain",
                file_name=name,
            )
        )
    tampered = pa.legacy_encrypt(data)
    tampered_id = _upload(devnet, tampered.blob)
    pointers.append(
        Pointer(
            url=f"{_fs_url(devnet)}/file/{tampered_id}",
            key=tampered.key,
            size=len(data),
            digest=tampered.digest,
            file_name="tampered.txt",
        )
    )
    seed = os.urandom(32)
    s = pa.s_encrypt(b"deterministic bytes", seed)
    s_id = _upload(devnet, s.blob)
    pointers.append(
        Pointer(url=f"{_fs_url(devnet)}/file/{s_id}#d=", key=s.key, size=19, file_name="det.bin")
    )
    # a blob far larger than its pointer admits: the download stops at the cap
    huge = pa.legacy_encrypt(os.urandom(2_000_000))
    huge_id = _upload(devnet, huge.blob)
    pointers.append(
        Pointer(
            url=f"{_fs_url(devnet)}/file/{huge_id}",
            key=huge.key,
            size=1,
            digest=huge.digest,
            file_name="endless.bin",
        )
    )
    devnet.ctl("fileserver", "tamper", tampered_id)
    _library_send(devnet, bob.session_id, pointers, body="hostile")

    out = tmp_path / "inbox"
    outside = sorted(os.listdir(tmp_path))
    res = bob.run(["receive", "--json", "-v", "--attachments", str(out)])
    assert res.returncode == 0, res.stderr
    record = _only([json.loads(line) for line in res.stdout.splitlines()])
    atts = record["attachments"]
    written = [Path(a["path"]) for a in atts if a["path"]]
    assert all(p.parent == out for p in written)
    assert sorted(os.listdir(tmp_path)) == sorted([*outside, "inbox"])  # nothing beside DIR
    assert [p.name for p in written[:6]] == [
        "passwd",
        "b",
        "n" * 196 + ".txt",
        "nulname.txt",
        _file_id(pointers[4].url) + ".txt",
        "passwd (2)",
    ]
    assert all(p.read_bytes() == data for p in written[:6])
    bad = atts[6]
    assert bad["path"] is None and "MAC" in bad["error"]
    assert "tampered.txt" in res.stderr  # -v names the failure
    assert not (out / "tampered.txt").exists()
    assert atts[7]["error"] is None and Path(atts[7]["path"]).read_bytes() == b"deterministic bytes"
    assert atts[8]["path"] is None and "larger than" in atts[8]["error"]
    assert not (out / "endless.bin").exists()


def test_file_server_down(users, devnet, tmp_path: Path) -> None:
    alice, bob = users("alice"), users("bob")
    (tmp_path / "report.txt").write_bytes(b"report")
    assert (
        alice.run(["send", bob.session_id, "before", "-a", str(tmp_path / "report.txt")]).returncode
        == 0
    )
    devnet.ctl("fileserver", "down")
    try:
        res = alice.run(
            ["send", "--timeout", "8", bob.session_id, "during", "-a", str(tmp_path / "report.txt")]
        )
        assert res.returncode in (69, 75), res.stderr
        lines = res.stderr.strip().splitlines()
        assert len(lines) == 1 and "report.txt" in lines[0] and "upload failed" in lines[0]
        record = _only(bob.receive_json("--timeout", "8", "--attachments", str(tmp_path / "in")))
        assert record["body"] == "before"  # the failed send stored nothing
        [att] = record["attachments"]
        assert att["path"] is None and "download failed" in att["error"]
    finally:
        devnet.ctl("fileserver", "up")
    fetched = bob.run(["attachments", "fetch", record["hash"], "--dir", str(tmp_path / "later")])
    assert fetched.returncode == 0, fetched.stderr
    assert Path(fetched.stdout.strip()).read_bytes() == b"report"


def test_refusals_before_upload(users, devnet, tmp_path: Path) -> None:
    alice, bob = users("alice"), users("bob")
    (tmp_path / "empty").write_bytes(b"")
    (tmp_path / "huge").write_bytes(b"\x00" * 10_000_001)
    before = _files_on_server(devnet)
    for name in ("empty", "huge", "missing", "."):
        res = alice.run(["send", bob.session_id, "x", "-a", str(tmp_path / name)])
        assert res.returncode == 2, res.stderr
        assert str(tmp_path / name) in res.stderr
    assert _files_on_server(devnet) == before


def _files_on_server(devnet) -> int:
    status = devnet.ctl("fileserver", "status")
    return int((status[0] if isinstance(status, list) else status)["files"])


def test_avatar_uploaded_once_per_content(users, devnet, tmp_path: Path) -> None:
    alice, bob = users("alice"), users("bob")
    pic = tmp_path / "pic.png"
    pic.write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(200))
    for body in ("one", "two"):
        assert alice.run(["send", "--avatar", str(pic), bob.session_id, body]).returncode == 0
    pic.write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(200))
    assert alice.run(["send", "--avatar", str(pic), bob.session_id, "three"]).returncode == 0
    got = {r["body"]: r["profile_picture"] for r in bob.receive_json()}
    assert got["one"] and got["one"] == got["two"] != got["three"]


def test_one_upload_for_several_recipients_and_stdin(users, devnet, tmp_path: Path) -> None:
    alice, bob, carol = users("alice"), users("bob"), users("carol")
    before = _files_on_server(devnet)
    res = alice.run(
        ["send", "--json", f"{bob.session_id},{carol.session_id}", "to both", "-a", "-"],
        input=b"piped bytes\x00\xff",
    )
    assert res.returncode == 0, res.stderr
    assert _files_on_server(devnet) == before + 1
    urls = set()
    for user in (bob, carol):
        [att] = _only(user.receive_json("--attachments", str(tmp_path / user.home.name)))[
            "attachments"
        ]
        assert (
            att["file_name"] == "stdin" and Path(att["path"]).read_bytes() == b"piped bytes\x00\xff"
        )
        urls.add(att["url"])
    assert len(urls) == 1


def test_file_server_answering_junk(users, devnet, tmp_path: Path) -> None:
    alice, bob = users("alice"), users("bob")
    (tmp_path / "a.txt").write_bytes(b"a")
    assert alice.run(["send", bob.session_id, "ok", "-a", str(tmp_path / "a.txt")]).returncode == 0
    devnet.ctl("fileserver", "fault", "garbage")
    try:
        res = alice.run(
            ["send", "--timeout", "8", bob.session_id, "x", "-a", str(tmp_path / "a.txt")]
        )
        assert res.returncode in (1, 69, 75), res.stderr
        assert "a.txt" in res.stderr and "Traceback" not in res.stderr
        [att] = _only(bob.receive_json("--timeout", "8", "--attachments", str(tmp_path / "in")))[
            "attachments"
        ]
        assert att["path"] is None and att["error"]
    finally:
        devnet.ctl("fileserver", "fault", "none")
