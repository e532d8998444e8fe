"""protocol/sogs.py: community URLs, request bodies and defensive parsing of SOGS replies."""

from __future__ import annotations

import base64
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sessioncli.errors import UsageError
from sessioncli.protocol import blinding, crypto, sogs

KEY = "a" * 64


def test_parses_the_url_the_apps_share() -> None:
    u = sogs.parse_community_url(f"https://open.example.org/session-dev?public_key={KEY}")
    assert (u.scheme, u.host, u.port, u.room) == ("https", "open.example.org", 443, "session-dev")
    assert u.server_pk == bytes.fromhex(KEY)
    assert u.canonical == f"https://open.example.org/session-dev?public_key={KEY}"


def test_http_with_port_and_upper_case_key() -> None:
    u = sogs.parse_community_url(f"http://127.0.0.5:8080/lobby?public_key={KEY.upper()}")
    assert (u.scheme, u.host, u.port) == ("http", "127.0.0.5", 8080)
    assert u.canonical == f"http://127.0.0.5:8080/lobby?public_key={KEY}"
    assert u.server_base == "http://127.0.0.5:8080"


@pytest.mark.parametrize(
    ("url", "part"),
    [
        ("https://h/room", "public_key"),
        (f"https://h/room?public_key={'a' * 63}", "64 hex digits"),
        (f"https://h/room?public_key={'g' * 64}", "64 hex digits"),
        (f"ftp://h/room?public_key={KEY}", "scheme"),
        (f"https://h/?public_key={KEY}", "no room"),
        (f"https://h/a/b?public_key={KEY}", "room token"),
        (f"https://h/{'r' * 65}?public_key={KEY}", "room token"),
        (f"https://h:99999/r?public_key={KEY}", "port"),
        (f"https:///r?public_key={KEY}", "host"),
        (f"https://u@h/r?public_key={KEY}", "host"),
    ],
)
def test_bad_urls_name_the_wrong_part(url: str, part: str) -> None:
    with pytest.raises(UsageError) as err:
        sogs.parse_community_url(url)
    assert part in err.value.message
    assert "\n" not in err.value.message


def test_room_message_parsing() -> None:
    data, sig = b"\x01" * 160, b"\x02" * 64
    item = {
        "id": 7,
        "seqno": 12,
        "session_id": "15" + "ab" * 32,
        "posted": 1700000000.25,
        "data": base64.b64encode(data).decode(),
        "signature": base64.b64encode(sig).decode(),
    }
    m = sogs.parse_room_message(item)
    assert (m.id, m.seqno, m.posted_ms, m.data, m.signature, m.deleted) == (
        7,
        12,
        1700000000250,
        data,
        sig,
        False,
    )
    gone = sogs.parse_room_message({**item, "data": None, "deleted": True, "signature": None})
    assert gone.deleted


@pytest.mark.parametrize(
    "bad",
    [
        [],
        {"id": "7"},
        {"id": 1, "seqno": 1, "session_id": "zz", "posted": 1.0},
        {"id": 1, "seqno": True, "session_id": "15" + "ab" * 32, "posted": 1.0},
        {"id": 1, "seqno": 1, "session_id": "15" + "ab" * 32, "posted": 1.0, "data": "!!"},
        {"id": 1, "seqno": 1, "session_id": "15" + "ab" * 32, "posted": "soon"},
    ],
)
def test_junk_messages_are_refused(bad: object) -> None:
    with pytest.raises(sogs.SogsReplyError):
        sogs.parse_room_message(bad)


def test_batch_reply_and_not_modified() -> None:
    body = json.dumps([{"code": 200, "body": []}, {"code": 304, "body": ""}]).encode()
    replies = sogs.parse_batch_reply(body, 2)
    assert [r.code for r in replies] == [200, 304]
    assert sogs.parse_message_list(replies[1].body) == []
    with pytest.raises(sogs.SogsReplyError):
        sogs.parse_batch_reply(body, 3)
    with pytest.raises(sogs.SogsReplyError):
        sogs.parse_batch_reply(b"<html>", 1)


def test_batch_and_post_bodies() -> None:
    paths = [sogs.messages_since("r", 5), sogs.box_since("inbox", 0), sogs.box_since("outbox", 3)]
    assert paths == [
        "/room/r/messages/since/5?limit=256",
        "/inbox?limit=256",
        "/outbox/since/3?limit=256",
    ]
    assert json.loads(sogs.batch_body(paths)) == [{"method": "GET", "path": p} for p in paths]
    post = json.loads(sogs.post_body(b"ab", b"cd"))
    assert post == {"data": "YWI=", "signature": "Y2Q="}


def test_post_content_round_trip_and_signature() -> None:
    _, sk = crypto.ed25519_keypair_from_seed(bytes(range(32)))
    server = bytes(32)
    padded = sogs.build_post("release 1.2 is out", 1700000000123, display_name="ci")
    assert len(padded) % 160 == 0
    sig = blinding.blind15_sign(sk, server, padded)
    poster = blinding.blinded_session_id(sk, server)
    assert blinding.verify_by_id(poster, padded, sig)
    assert not blinding.verify_by_id(poster, padded + b"x", sig)
    decoded = sogs.decode_content(padded, poster, poster[2:], 1700000000500)
    assert (decoded.kind, decoded.body, decoded.display_name) == (
        "text",
        "release 1.2 is out",
        "ci",
    )


def test_error_words_are_one_printable_line() -> None:
    assert sogs.error_words(b"Too many\nrequests\x1b[31m") == "Too many requests [31m"


# --- untrusted input never raises anything but our own errors ----------------------------------


JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=80),
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=12), inner, max_size=6)
    ),
    max_leaves=20,
)
MESSAGE_KEYS = ["id", "seqno", "session_id", "posted", "edited", "data", "signature", "deleted"]
BOX_KEYS = ["id", "posted_at", "expires_at", "sender", "recipient", "message"]


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(MESSAGE_KEYS + BOX_KEYS), JSONISH, max_size=10) | JSONISH)
def test_reply_items_fail_only_as_reply_errors(item: object) -> None:
    for parse in (sogs.parse_room_message, sogs.parse_box_message):
        try:
            parse(item)
        except sogs.SogsReplyError:
            pass


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200) | JSONISH.map(lambda v: json.dumps(v).encode()))
def test_whole_replies_fail_only_as_reply_errors(body: bytes) -> None:
    for parse in (
        lambda b: sogs.parse_batch_reply(b, 2),
        sogs.parse_capabilities,
        sogs.parse_room_info,
        lambda b: sogs.parse_posted(b, what="post"),
    ):
        try:
            parse(body)
        except sogs.SogsReplyError:
            pass


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=120))
def test_any_url_text_is_parsed_or_refused_as_usage(text: str) -> None:
    try:
        u = sogs.parse_community_url(text)
    except UsageError as exc:
        assert "\n" not in exc.message
    else:
        assert sogs.parse_community_url(u.canonical) == u
