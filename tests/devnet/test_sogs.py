"""The devnet's SOGS: its crypto against the official vectors, and its API as pysogs answers it —
through real onion v4 paths of the devnet's nodes and directly over HTTP."""

from __future__ import annotations

import base64
import json
import os
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from nacl import bindings as sodium

from sessioncli.devnet import Devnet, sogs_crypto
from sessioncli.devnet.errors import DevnetUsageError
from sessioncli.devnet.lsrpc import HttpRequest
from sessioncli.devnet.servers import SogsOptions, parse_rate_limit
from sessioncli.devnet.sogs import Sogs
from sessioncli.devnet.sogs_auth import AuthFailure, authenticate
from sessioncli.devnet.sogs_crypto import SogsKeys
from sessioncli.devnet.sogs_routes import Policy
from sessioncli.devnet.sogs_store import SogsStore
from tests.devnet.wire import post
from tests.devnet.wire_v4 import (
    OnionClient,
    SogsUser,
    blind15_sign,
    build_server_onion,
    http_request,
    v4_request,
)

DATA = Path(__file__).resolve().parents[1] / "data"


def _entries(name: str) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = json.loads((DATA / name).read_text())["entries"]
    return entries


# -- crypto against the vectors --------------------------------------------------------------


@pytest.mark.parametrize("entry", _entries("session-pysogs_test_blinding.json"))
def test_pysogs_blind15_ids(entry: dict[str, Any]) -> None:
    seed = bytes.fromhex(entry["inputs"]["ed25519_seed_hex"])
    server_pk = bytes.fromhex(entry["inputs"]["server_pubkey_hex"])
    expected = entry["expected"]["blinded15_id"]
    assert sogs_crypto.blind15_id_from_seed(seed, server_pk) == expected
    assert SogsUser(seed, server_pk).blinded_id == expected  # the tests' own helper agrees
    session_id = entry["expected"]["session_id_derived"]
    assert expected in sogs_crypto.blind15_ids_from_session_id(session_id, server_pk)


LIBSESSION = _entries("libsession-util_test_blinding.json")


@pytest.mark.parametrize(
    "entry", [e for e in LIBSESSION if "blinded15_id_positive" in e["expected"]]
)
def test_libsession_blind15_ids_from_session_ids(entry: dict[str, Any]) -> None:
    server_pk = bytes.fromhex(entry["inputs"]["server_pubkey_hex"])
    direct, flipped = sogs_crypto.blind15_ids_from_session_id(
        entry["inputs"]["session_id"], server_pk
    )
    assert direct == entry["expected"]["blinded15_id_positive"]
    assert flipped[:64] == direct[:64] and int(flipped[64], 16) == int(direct[64], 16) ^ 0x8


def test_desktop_known_blinded_key() -> None:
    (entry,) = _entries("session-desktop_knownBlindedKeys_test.json")
    server_pk = bytes.fromhex(entry["inputs"]["server_pubkey_hex"])
    ids = sogs_crypto.blind15_ids_from_session_id(entry["inputs"]["session_id"], server_pk)
    assert entry["expected"]["blinded15_id"] in ids


@pytest.mark.parametrize(
    "entry", [e for e in LIBSESSION if e["description"].startswith("blind15_sign")]
)
def test_libsession_blind15_signatures_verify_as_plain_ed25519(entry: dict[str, Any]) -> None:
    sk = bytes.fromhex(entry["inputs"]["ed25519_sk_hex"])
    server_pk = bytes.fromhex(entry["inputs"]["server_pubkey_hex"])
    message = entry["inputs"]["message_utf8"].encode()
    signature = blind15_sign(sk, server_pk, message)
    assert signature.hex() == entry["expected"]["signature_hex"]
    blinded = bytes.fromhex(sogs_crypto.blind15_id_from_seed(sk[:32], server_pk)[2:])
    assert sogs_crypto.verify(signature, message, blinded)
    assert not sogs_crypto.verify(signature, message + b"!", blinded)


AUTH = _entries("session-desktop_OpenGroupAuthentication_test.json")


@pytest.mark.parametrize("entry", AUTH)
def test_desktop_auth_vectors_pass_the_servers_check(entry: dict[str, Any], tmp_path: Path) -> None:
    inputs, expected = entry["inputs"], entry["expected"]
    body = inputs.get("body_utf8", "").encode()
    method = inputs["method"]  # the vectors sign GET even with a body
    path, _, query = inputs["path"].partition("?")
    headers = {k.lower(): v for k, v in expected.items()}
    request = HttpRequest(method, path, query, headers, body, "direct")
    store = SogsStore(tmp_path / "s.sqlite")
    server_pk = bytes.fromhex(inputs["server_pubkey_hex"])
    user = authenticate(
        request, store, server_pk, inputs["blinded"], now=float(inputs["timestamp"])
    )
    ed_pk = bytes.fromhex(inputs["ed25519_pubkey_hex"])
    if inputs["blinded"]:
        assert user is not None and user.session_id == expected["X-SOGS-Pubkey"] and user.blinded
    else:
        x_pk = sodium.crypto_sign_ed25519_pk_to_curve25519(ed_pk)
        assert user is not None and user.session_id == "05" + x_pk.hex()
    # The same headers a second time: the nonce is spent.
    with pytest.raises(AuthFailure) as failure:
        authenticate(request, store, server_pk, False, now=float(inputs["timestamp"]))
    assert failure.value.reply.code == 425
    # One byte of the body or path changed: 401 (with a fresh nonce so replay is not the reason).
    tampered = HttpRequest(method, path + "x", query, headers, body, "direct")
    store.close()
    store = SogsStore(tmp_path / "t.sqlite")
    with pytest.raises(AuthFailure) as failure:
        authenticate(tampered, store, server_pk, False, now=float(inputs["timestamp"]))
    assert failure.value.reply.code == 401
    store.close()


def test_rate_limit_option_parsing() -> None:
    assert parse_rate_limit("5/16") == (5, 16.0)
    assert parse_rate_limit("off") == (0, 0.0)
    for bad in ("5", "x/1", "0/10", "3/0", "3/-1"):
        with pytest.raises(DevnetUsageError):
            parse_rate_limit(bad)


# -- the running SOGS, through the devnet's onion paths ----------------------------------------


@pytest.fixture(scope="module")
def devnet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Devnet]:
    directory: Path = tmp_path_factory.mktemp("sogsnet")
    with Devnet(
        directory,
        nodes=6,
        swarm_size=3,
        seed="sogs-tests",
        relay_timeout=10,
        sogs=SogsOptions(rate_limit=(5, 3600.0)),
    ) as net:
        yield net


class Community:
    """The room URL from network.json, and signed requests to it over onion v4 or direct HTTP."""

    def __init__(self, devnet: Devnet, via: str = "onion") -> None:
        (url,) = json.loads(devnet.network_file.read_text())["communities"]
        self.url = url
        parts = urllib.parse.urlsplit(url)
        assert parts.hostname is not None and parts.port is not None
        self.base = f"{parts.scheme}://{parts.hostname}:{parts.port}"
        self.room = parts.path.strip("/")
        self.server_pk = bytes.fromhex(urllib.parse.parse_qs(parts.query)["public_key"][0])
        storage = [n for n in devnet.describe_nodes() if n["kind"] == "storage"]
        self.onion = OnionClient(storage[3:6], self.server_pk.hex(), parts.hostname, parts.port)
        self.via = via

    def user(self, label: str) -> SogsUser:
        return SogsUser.make(label, self.server_pk)

    def call(
        self,
        user: SogsUser | None,
        method: str,
        target: str,
        json_body: Any = None,
        raw: bytes | None = None,
        headers: dict[str, str] | None = None,
        **auth: Any,
    ) -> tuple[int, Any]:
        body = raw if raw is not None else b""
        extra = dict(headers or {})
        if json_body is not None:
            body = json.dumps(json_body).encode()
            extra["Content-Type"] = "application/json"
        if user is not None:
            extra.update(user.auth_headers(method, target, body, **auth))
        send_body = body if method in ("POST", "PUT") else None
        if self.via == "onion":
            code, meta, answer = self.onion.send(method, target, extra, send_body)
            content_type = meta["headers"]["content-type"]
        else:
            quoted = urllib.parse.quote(target, safe="/?=&%,")
            code, got, answer = http_request(self.base, method, quoted, send_body, extra)
            content_type = got["content-type"]
        if content_type.startswith("application/json"):
            return code, json.loads(answer)
        return code, answer


@pytest.fixture
def room(devnet: Devnet) -> Iterator[Community]:
    devnet.server_control("sogs", ["up"])
    devnet.server_control("sogs", ["fault", "none"])
    devnet.server_control("sogs", ["clock", "0"])
    yield Community(devnet)
    devnet.server_control("sogs", ["up"])
    devnet.server_control("sogs", ["fault", "none"])
    devnet.server_control("sogs", ["clock", "0"])


def _post(room: Community, user: SogsUser, text: str) -> dict[str, Any]:
    data = text.encode()
    body = {
        "data": base64.b64encode(data).decode(),
        "signature": base64.b64encode(user.sign_blinded(data)).decode(),
    }
    code, reply = room.call(user, "POST", f"/room/{room.room}/message", body)
    assert code == 201, reply
    return dict(reply)


def test_network_file_lists_the_room_url(devnet: Devnet, room: Community) -> None:
    assert room.url == f"{room.base}/devnet?public_key={room.server_pk.hex()}"
    assert room.base.startswith("http://127.") and len(room.server_pk) == 32
    node_ips = {n["ip"] for n in devnet.describe_nodes()}
    assert urllib.parse.urlsplit(room.base).hostname not in node_ips


def test_capabilities_and_room_info(room: Community) -> None:
    assert room.call(None, "GET", "/capabilities") == (
        200,
        {"capabilities": ["blind", "reactions", "sogs"]},
    )
    code, reply = room.call(None, "GET", "/capabilities?required=sogs,magic")
    assert (code, reply["missing"]) == (412, ["magic"])
    code, info = room.call(room.user("info"), "GET", f"/room/{room.room}")
    assert code == 200 and info["token"] == "devnet" and info["read"] and info["write"]
    assert {"name", "info_updates", "message_sequence", "created", "active_users"} <= set(info)
    assert room.call(None, "GET", "/room/no-such-room")[0] == 404


@pytest.mark.slow
def test_post_read_edit_delete_with_seqnos(room: Community) -> None:
    alice, bob = room.user("alice-posts"), room.user("bob-posts")
    start = room.call(alice, "GET", f"/room/{room.room}")[1]["message_sequence"]
    first = _post(room, alice, "first")
    assert first["session_id"] == alice.blinded_id and first["seqno"] == start + 1
    assert base64.b64decode(first["data"]) == b"first" and first["reactions"] == {}
    assert isinstance(first["posted"], float) and isinstance(first["id"], int)
    second = _post(room, bob, "second")

    code, since = room.call(bob, "GET", f"/room/{room.room}/messages/since/{start}")
    assert code == 200 and [m["id"] for m in since] == [first["id"], second["id"]]
    assert base64.b64decode(since[0]["signature"]) == alice.sign_blinded(b"first")

    new = b"first, edited"
    edit = {
        "data": base64.b64encode(new).decode(),
        "signature": base64.b64encode(alice.sign_blinded(new)).decode(),
    }
    target = f"/room/{room.room}/message/{first['id']}"
    assert room.call(bob, "PUT", target, edit) == (403, b"Permission denied")
    assert room.call(alice, "PUT", target, edit) == (200, {})
    code, since = room.call(bob, "GET", f"/room/{room.room}/messages/since/{second['seqno']}")
    (edited,) = since
    assert edited["id"] == first["id"] and edited["seqno"] == second["seqno"] + 1
    assert base64.b64decode(edited["data"]) == new and "edited" in edited

    assert room.call(bob, "DELETE", target)[0] == 403
    assert room.call(alice, "DELETE", target) == (200, {})
    assert room.call(alice, "DELETE", target)[0] == 404
    code, since = room.call(bob, "GET", f"/room/{room.room}/messages/since/{edited['seqno']}")
    (tombstone,) = since
    assert tombstone == {
        "id": first["id"],
        "posted": first["posted"],
        "seqno": edited["seqno"] + 1,
        "session_id": alice.blinded_id,
        "data": None,
        "deleted": True,
        "edited": edited["edited"],
    }
    code, recent = room.call(None, "GET", f"/room/{room.room}/messages/recent?limit=5")
    assert code == 200 and first["id"] not in [m["id"] for m in recent]
    assert recent[0]["id"] == second["id"]
    code, before = room.call(None, "GET", f"/room/{room.room}/messages/before/{second['id']}")
    assert first["id"] not in [m["id"] for m in before]
    code, single = room.call(None, "GET", f"/room/{room.room}/message/{second['id']}")
    assert code == 200 and single["id"] == second["id"]
    assert room.call(None, "GET", f"/room/{room.room}/message/{first['id']}")[0] == 404


@pytest.mark.slow
def test_reactions_are_listed_in_messages(room: Community) -> None:
    alice, bob = room.user("alice-reacts"), room.user("bob-reacts")
    message = _post(room, alice, "react to me")
    target = f"/room/{room.room}/reaction/{message['id']}/👍"
    code, added = room.call(bob, "PUT", target, {})
    assert code == 200 and added == {"added": True, "seqno": message["seqno"] + 1}
    assert room.call(bob, "PUT", target, {}) == (200, {"added": False, "seqno": added["seqno"]})
    room.call(alice, "PUT", target, {})
    room.call(alice, "PUT", f"/room/{room.room}/reaction/{message['id']}/🎂", {})
    code, single = room.call(bob, "GET", f"/room/{room.room}/message/{message['id']}")
    assert single["reactions"] == {
        "👍": {"index": 0, "count": 2, "reactors": [bob.blinded_id, alice.blinded_id], "you": True},
        "🎂": {"index": 1, "count": 1, "reactors": [alice.blinded_id]},
    }
    code, updates = room.call(
        None, "GET", f"/room/{room.room}/messages/since/{message['seqno']}?t=r&reactors=1"
    )
    assert updates[-1]["id"] == message["id"] and "data" not in updates[-1]
    assert updates[-1]["reactions"]["👍"] == {"index": 0, "count": 2, "reactors": [bob.blinded_id]}
    code, removed = room.call(bob, "DELETE", target)
    assert code == 200 and removed["removed"] is True
    assert room.call(bob, "PUT", f"/room/{room.room}/reaction/999999/👍", {})[0] == 404


@pytest.mark.slow
def test_rate_limit_is_429_rate_limited(room: Community) -> None:
    spammer = room.user("spammer")
    for i in range(5):
        _post(room, spammer, f"post {i}")
    data = b"one too many"
    body = {
        "data": base64.b64encode(data).decode(),
        "signature": base64.b64encode(spammer.sign_blinded(data)).decode(),
    }
    assert room.call(spammer, "POST", f"/room/{room.room}/message", body) == (429, b"Rate limited")


@pytest.mark.parametrize(
    "change,code,text",
    [
        ("unblinded", 400, b"this server requires the use of blinded ids"),
        ("blind25", 400, b"must be 00- or 15- prefixed"),
        ("partial", 400, b"missing 1/4 required X-SOGS-* headers"),
        ("bad_signature", 401, b"X-SOGS-Signature verification failed"),
        ("old", 425, b"X-SOGS-Timestamp is too far from current time"),
        ("future", 425, b"X-SOGS-Timestamp is too far from current time"),
        ("bad_nonce", 400, b"X-SOGS-Nonce must be 16 bytes"),
    ],
)
def test_auth_failures_have_the_real_codes(
    room: Community, change: str, code: int, text: bytes
) -> None:
    user = room.user(f"auth-{change}")
    target = f"/room/{room.room}"
    headers = user.auth_headers("GET", target, blinded=change != "unblinded")
    if change == "blind25":
        headers["X-SOGS-Pubkey"] = "25" + headers["X-SOGS-Pubkey"][2:]
    elif change == "partial":
        del headers["X-SOGS-Nonce"]
    elif change == "bad_signature":
        headers = user.auth_headers("GET", target + "/x")
    elif change in ("old", "future"):
        shift = -25 * 3600 if change == "old" else 25 * 3600
        headers = user.auth_headers("GET", target, timestamp=int(time.time()) + shift)
    elif change == "bad_nonce":
        headers["X-SOGS-Nonce"] = "AAAA"
    got, answer = room.call(None, "GET", target, headers=headers)
    assert got == code and text in answer


def test_nonce_replay_is_425_and_unauthenticated_post_is_401(room: Community) -> None:
    user = room.user("replayer")
    target = f"/room/{room.room}"
    headers = user.auth_headers("GET", target)
    assert room.call(None, "GET", target, headers=headers)[0] == 200
    got, text = room.call(None, "GET", target, headers=headers)
    assert (got, text) == (425, b"Invalid authentication: X-SOGS-Nonce cannot be reused")
    body = {"data": "aGk=", "signature": base64.b64encode(b"\0" * 64).decode()}
    assert room.call(None, "POST", f"/room/{room.room}/message", body)[0] == 401
    assert room.call(user, "POST", f"/room/{room.room}/message", {"data": "aGk="})[0] == 400


@pytest.mark.slow
def test_blinded_dms_inbox_and_outbox(room: Community) -> None:
    alice, bob = room.user("alice-dm"), room.user("bob-dm")
    never_seen = room.user("nobody-dm")
    blob = base64.b64encode(b"\0" + os.urandom(60)).decode()
    assert room.call(alice, "POST", f"/inbox/{never_seen.blinded_id}", {"message": blob})[0] == 404
    assert room.call(bob, "GET", "/capabilities")[0] == 200  # bob authenticates once
    code, sent = room.call(alice, "POST", f"/inbox/{bob.blinded_id}", {"message": blob})
    assert code == 201 and "message" not in sent
    assert (sent["sender"], sent["recipient"]) == (alice.blinded_id, bob.blinded_id)
    code, inbox = room.call(bob, "GET", "/inbox")
    assert code == 200 and [(m["id"], m["message"], m["sender"]) for m in inbox] == [
        (sent["id"], blob, alice.blinded_id)
    ]
    assert room.call(bob, "GET", f"/inbox/since/{sent['id']}") == (304, b"")
    code, outbox = room.call(alice, "GET", "/outbox/since/0")
    assert [m["id"] for m in outbox] == [sent["id"]]
    assert room.call(None, "GET", "/inbox")[0] == 401
    assert room.call(bob, "DELETE", "/inbox") == (200, {"deleted": 1})


@pytest.mark.slow
def test_room_files_upload_download_and_attach(room: Community) -> None:
    user = room.user("uploader")
    data = os.urandom(5000)
    headers = {"Content-Disposition": "attachment; filename*=UTF-8''my%20%F0%9F%8E%82.txt"}
    code, uploaded = room.call(user, "POST", f"/room/{room.room}/file", raw=data, headers=headers)
    assert code == 201 and isinstance(uploaded["id"], int)
    code, answer = room.call(None, "GET", f"/room/{room.room}/file/{uploaded['id']}")
    assert (code, answer) == (200, data)
    code, meta, _ = room.onion.send("GET", f"/room/{room.room}/file/{uploaded['id']}/ignored.txt")
    assert (
        meta["headers"]["content-disposition"]
        == "attachment; filename*=UTF-8''my%20%F0%9F%8E%82.txt"
    )
    text = b"see attached"
    body = {
        "data": base64.b64encode(text).decode(),
        "signature": base64.b64encode(user.sign_blinded(text)).decode(),
        "files": [uploaded["id"]],
    }
    assert room.call(user, "POST", f"/room/{room.room}/message", body)[0] == 201
    assert room.call(None, "GET", f"/room/{room.room}/file/999999")[0] == 404


@pytest.mark.slow
def test_sequence_and_batch_carry_outer_auth(room: Community) -> None:
    poster = room.user("batcher")
    text = b"from a batch"
    post_json = {
        "data": base64.b64encode(text).decode(),
        "signature": base64.b64encode(poster.sign_blinded(text)).decode(),
    }
    requests = [
        {"method": "GET", "path": "/capabilities"},
        {"method": "POST", "path": f"/room/{room.room}/message", "json": post_json},
        {"method": "GET", "path": f"/room/{room.room}/messages/since/0?limit=256"},
    ]
    code, replies = room.call(poster, "POST", "/sequence", requests)
    assert code == 200 and [r["code"] for r in replies] == [200, 201, 200]
    assert replies[1]["body"]["session_id"] == poster.blinded_id
    assert replies[1]["headers"]["content-type"] == "application/json"
    assert replies[1]["body"]["id"] in [m["id"] for m in replies[2]["body"]]

    failing = [{"method": "GET", "path": "/room/nope"}, {"method": "GET", "path": "/capabilities"}]
    code, replies = room.call(poster, "POST", "/sequence", failing)
    assert code == 200 and [r["code"] for r in replies] == [404]  # stops at the first failure
    assert base64.b64decode(replies[0]["body"]) == b"Not Found"
    code, replies = room.call(poster, "POST", "/batch", failing)
    assert [r["code"] for r in replies] == [404, 200]
    bad = [{"method": "POST", "path": "/room/devnet/message"}]
    assert room.call(poster, "POST", "/batch", bad)[0] == 400


@pytest.mark.slow
def test_direct_http_with_url_encoded_path(devnet: Devnet) -> None:
    room = Community(devnet, via="direct")
    alice = room.user("alice-direct")
    message = _post(room, alice, "direct")
    # The signature covers the decoded path; the request line carries it URL-encoded.
    code, added = room.call(alice, "PUT", f"/room/{room.room}/reaction/{message['id']}/🍍", {})
    assert code == 200 and added["added"] is True


@pytest.mark.slow
def test_seen_log_holds_only_blinded_ids(devnet: Devnet, room: Community) -> None:
    user = room.user("audited")
    before = devnet.server_control("sogs", ["seen"])
    start = before[-1]["seq"] if before else 0
    _post(room, user, "audit me")
    room.call(user, "GET", f"/room/{room.room}/messages/recent")
    records = [r for r in devnet.server_control("sogs", ["seen"]) if r["seq"] > start]
    assert [r["session_id"] for r in records] == [user.blinded_id] * 2
    assert all(r["via"] == "onion" for r in records)
    assert {"seq", "time_ms", "via", "method", "path", "pubkey", "session_id", "code"} == set(
        records[0]
    )
    everything = json.dumps(devnet.server_control("sogs", ["seen"]))
    assert user.session_id not in everything and user.session_id[2:] not in everything


@pytest.mark.slow
def test_ctl_down_up_and_garbage(devnet: Devnet, room: Community) -> None:
    request = v4_request("GET", "/capabilities")
    o = room.onion
    assert devnet.server_control("sogs", ["down"])["state"] == "down"
    onion, _ = build_server_onion(o.path, o.server_x25519_hex, o.host, o.port, request)
    status, answer = post(o.path[0], "/onion_req/v2", onion)
    assert status == 502 and b"Failed to reach" in answer
    assert devnet.server_control("sogs", ["up"])["state"] == "up"
    assert room.call(None, "GET", "/capabilities")[0] == 200
    devnet.server_control("sogs", ["fault", "garbage"])
    onion, _ = build_server_onion(o.path, o.server_x25519_hex, o.host, o.port, request)
    status, answer = post(o.path[0], "/onion_req/v2", onion)
    assert status == 200 and len(answer) == 512
    with pytest.raises(DevnetUsageError):
        devnet.server_control("sogs", ["fault", "oversize"])


def test_unblinded_server_takes_00_keys(tmp_path: Path) -> None:
    keys = SogsKeys(bytes(range(32)))
    sogs = Sogs(tmp_path, "127.0.0.1", 0, keys, "plain", Policy(blind=False, rate_limit=(0, 0.0)))
    sogs.server.start()
    try:
        user = SogsUser.make("unblinded", keys.x25519_pk)
        target = "/room/plain"
        code, _, body = http_request(sogs.base_url, "GET", "/capabilities")
        assert json.loads(body) == {"capabilities": ["reactions", "sogs"]}
        headers = user.auth_headers("GET", target, blinded=False)
        code, _, body = http_request(sogs.base_url, "GET", target, headers=headers)
        assert code == 200
        (record,) = [r for r in sogs.control(["seen"]) if r["path"] == target]
        assert (
            record["session_id"] == user.session_id and record["pubkey"] == "00" + user.ed_pk.hex()
        )
        headers = user.auth_headers("GET", "/outbox", blinded=False)
        code, _, body = http_request(sogs.base_url, "GET", "/outbox", headers=headers)
        assert (code, body) == (401, b"This endpoint requires blinded pubkeys be used")
    finally:
        sogs.close()


@pytest.mark.slow
def test_devnet_up_options_and_ctl_verbs_through_the_cli(tmp_path: Path) -> None:
    from tests.devnet_support import DevnetProcess

    options = ("--sogs-rate-limit", "2/3600", "--sogs-no-blind")
    with DevnetProcess(tmp_path / "net", nodes=3, swarm_size=3, extra_args=options) as net:
        document = json.loads(net.network_file.read_text())
        (url,) = document["communities"]
        status = net.ctl("sogs", "status")
        assert status["room_url"] == url and status["capabilities"] == ["reactions", "sogs"]
        assert status["rate_limit"] == [2, 3600.0] and status["state"] == "up"
        assert net.ctl("sogs", "down")["state"] == "down"
        assert net.ctl("sogs", "up")["state"] == "up"
        assert net.ctl("fileserver", "status")["url"] == document["file_server"]["url"]
        base = url.split("/devnet?")[0]
        assert http_request(base, "GET", "/capabilities")[0] == 200
        (record,) = net.ctl("sogs", "seen")
        assert record["path"] == "/capabilities" and record["session_id"] is None
        with pytest.raises(RuntimeError, match="usage: ctl sogs"):
            net.ctl("sogs", "explode")


@pytest.mark.slow
def test_relays_see_no_room_post_or_id_and_only_the_last_sees_the_host(
    devnet: Devnet, room: Community
) -> None:
    user = room.user("private-poster")
    ids = [n["id"] for n in room.onion.path]
    last = {i: max((r["seq"] for r in devnet.seen(i)), default=0) for i in ids}
    marker = "secret-release-note-" + os.urandom(6).hex()
    _post(room, user, marker)
    host = urllib.parse.urlsplit(room.base).hostname
    assert host is not None
    for position, node_id in enumerate(ids):
        records = [r for r in devnet.seen(node_id) if r["seq"] > last[node_id]]
        text = json.dumps(records)
        for secret in (marker, "/room/", user.blinded_id, user.session_id, room.server_pk.hex()):
            assert secret not in text, (node_id, secret)
        assert (host in text) == (position == 2), node_id


def test_ctl_clock_skew_gives_425_and_auth401_fault_gives_401(
    devnet: Devnet, room: Community
) -> None:
    user = room.user("skewed")
    target = f"/room/{room.room}"
    assert devnet.server_control("sogs", ["clock", str(25 * 3600)])["clock_offset"] == 90000.0
    assert room.call(user, "GET", target)[0] == 425
    assert room.call(None, "GET", target)[0] == 200  # no auth, nothing to be early for
    devnet.server_control("sogs", ["clock", "0"])
    devnet.server_control("sogs", ["fault", "auth401"])
    assert room.call(user, "GET", target) == (
        401,
        b"Invalid authentication: X-SOGS-Signature verification failed",
    )
    assert room.call(None, "GET", "/capabilities")[0] == 200
    with pytest.raises(DevnetUsageError):
        devnet.server_control("sogs", ["clock", "soon"])


def test_ctl_hang_accepts_and_never_answers(devnet: Devnet, room: Community) -> None:
    import http.client

    host, port = room.base.removeprefix("http://").split(":")
    assert devnet.server_control("sogs", ["hang"])["state"] == "hang"
    conn = http.client.HTTPConnection(host, int(port), timeout=0.5)
    try:
        conn.request("GET", "/capabilities")
        with pytest.raises(TimeoutError):
            conn.getresponse()
    finally:
        conn.close()
    assert devnet.server_control("sogs", ["up"])["state"] == "up"
    assert room.call(None, "GET", "/capabilities")[0] == 200
