"""Issue 15 builders byte by byte (SPEC §3 field numbers), the ONS vector, and the small policies."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sessioncli.core import disappear, receipts
from sessioncli.core.msgindex import IndexedMessage, MessageIndex
from sessioncli.core.react import check_emoji
from sessioncli.errors import ProtocolError, UsageError
from sessioncli.protocol import message as m
from sessioncli.protocol import ons
from sessioncli.protocol.ids import Identity
from tests.wire_fields import fields, packed_or_repeated

ALICE = Identity.from_seed(bytes.fromhex("0123456789abcdef0123456789abcdef"))
BOB = Identity.from_seed(bytes.fromhex("00112233445566778899aabbccddeeff"))
TS = 1_700_000_000_000
DATA = Path(__file__).resolve().parents[1] / "data"

# Content / DataMessage field numbers (SPEC §3)
DATA_MESSAGE, RECEIPT, UNSEND, EXP_TYPE, EXP_TIMER, SIG_TS = 1, 5, 9, 12, 13, 15
BODY, QUOTE, REACTION, PROFILE, SYNC_TARGET = 1, 8, 11, 101, 105


def test_reply_quote_and_expiration_fields() -> None:
    raw = m.build_text_content(
        "yes",
        TS,
        sync_target=BOB.session_id,
        quote=m.QuotedMessage(TS - 5, BOB.session_id, "are you there?"),
        expiration=m.Expiration("delete_after_send", 600),
    )
    c = fields(raw)
    assert c[SIG_TS] == [TS] and c[EXP_TYPE] == [2] and c[EXP_TIMER] == [600]
    dm = fields(c[DATA_MESSAGE][0])
    assert dm[BODY] == [b"yes"] and dm[SYNC_TARGET] == [BOB.session_id.encode()]
    q = fields(dm[QUOTE][0])
    assert q == {1: [TS - 5], 2: [BOB.session_id.encode()], 3: [b"are you there?"]}
    after_read = fields(
        m.build_text_content("x", TS, expiration=m.Expiration("delete_after_read", 60))
    )
    assert after_read[EXP_TYPE] == [1] and after_read[EXP_TIMER] == [60]


def test_reaction_fields_and_decoded_kind() -> None:
    raw = m.build_reaction_content(
        TS, message_timestamp_ms=TS - 9, author=BOB.session_id, emoji="👍", remove=True
    )
    dm = fields(fields(raw)[DATA_MESSAGE][0])
    assert BODY not in dm
    r = fields(dm[REACTION][0])
    assert r == {1: [TS - 9], 2: [BOB.session_id.encode()], 3: ["👍".encode()], 4: [1]}
    got = m.decode_dm(BOB, m.encode_dm(ALICE, BOB.session_id, raw, TS))
    assert got.kind == "reaction"
    assert got.reaction == m.Reaction(TS - 9, BOB.session_id, "👍", "remove")
    react = fields(
        fields(
            m.build_reaction_content(
                TS, message_timestamp_ms=TS - 9, author=BOB.session_id, emoji="👍"
            )
        )[DATA_MESSAGE][0]
    )
    assert fields(react[REACTION][0])[4] == [0]


def test_unsend_and_read_receipt_fields() -> None:
    u = fields(m.build_unsend_request(TS, message_timestamp_ms=TS - 1, author=ALICE.session_id))
    assert fields(u[UNSEND][0]) == {1: [TS - 1], 2: [ALICE.session_id.encode()]}
    assert u[SIG_TS] == [TS]
    r = fields(fields(m.build_read_receipt(TS, [TS - 3, TS - 2]))[RECEIPT][0])
    assert r[1] == [1]  # READ
    assert packed_or_repeated(r[2]) == [TS - 3, TS - 2]
    with pytest.raises(ValueError):
        m.build_read_receipt(TS, [])


def test_disappears_at() -> None:
    raw = m.build_text_content("x", TS, expiration=m.Expiration("delete_after_send", 60))
    got = m.decode_dm(BOB, m.encode_dm(ALICE, BOB.session_id, raw, TS))
    assert got.to_json_dict()["disappears_at_ms"] == TS + 60_000
    raw = m.build_text_content("x", TS, expiration=m.Expiration("delete_after_read", 60))
    got = m.decode_dm(BOB, m.encode_dm(ALICE, BOB.session_id, raw, TS))
    assert got.disappears_at_ms() is None and got.disappears_at_ms(TS + 5) == TS + 60_005


def test_ons_vector() -> None:
    vectors = json.loads((DATA / "libsession-util_test_session_encrypt.json").read_text())
    entry = next(e for e in vectors["entries"] if "ONS" in e["description"])
    i = entry["inputs"]
    ct, nonce = bytes.fromhex(i["ciphertext_hex"]), bytes.fromhex(i["nonce_hex"])
    assert ons.decrypt_value(i["lowercase_name"], ct, nonce) == entry["expected"]["session_id"]
    body = {"result": {"encrypted_value": i["ciphertext_hex"], "nonce": i["nonce_hex"]}}
    assert ons.parse_resolve_reply("TEST", body) == entry["expected"]["session_id"]
    assert ons.parse_resolve_reply("test", {"result": {}}) is None
    with pytest.raises(ProtocolError):
        ons.parse_resolve_reply("other", body)  # does not decrypt under another name
    with pytest.raises(ProtocolError):
        ons.parse_resolve_reply("test", {"result": {"encrypted_value": "zz", "nonce": "00"}})


def test_ons_request_params() -> None:
    params = ons.resolve_params("Test")
    assert params["type"] == 0
    import base64
    import hashlib

    want = base64.b64encode(hashlib.blake2b(b"test", digest_size=32).digest()).decode()
    assert params["name_hash"] == want


@pytest.mark.parametrize("good", ["👍", "❤️", "🇫🇷", "👍🏽", "👨‍👩‍👧", "1️⃣"])
def test_one_emoji_accepted(good: str) -> None:
    assert check_emoji(good) == good


@pytest.mark.parametrize("bad", ["", "a", "👍👍", "ok", "1", "👍 x"])
def test_not_one_emoji_refused(bad: str) -> None:
    with pytest.raises(UsageError):
        check_emoji(bad)


@pytest.mark.parametrize("bad", ["0s", "30d", "5s", "1.5s", "soon", "15d"])
def test_disappear_out_of_range(bad: str) -> None:
    with pytest.raises(UsageError):
        disappear.parse(bad)


def test_disappear_policy() -> None:
    e = disappear.parse("10m")
    assert e == m.Expiration("delete_after_send", 600)
    assert disappear.store_ttl_ms(e, 99) == 600_000
    r = disappear.parse("14d", "read")
    assert r.mode == "delete_after_read" and disappear.store_ttl_ms(r, 99) == 99
    with pytest.raises(UsageError):
        disappear.parse("1h", "never")
    with pytest.raises(UsageError):
        disappear.check_no_ttl(e, "1h")
    disappear.check_no_ttl(None, "1h")


def test_message_index_prunes_and_is_private(tmp_path: Path) -> None:
    index = MessageIndex(tmp_path)
    live = IndexedMessage("A" * 43, TS, BOB.session_id, BOB.session_id, False, 2**62, "hi")
    dead = IndexedMessage("B" * 43, TS, BOB.session_id, BOB.session_id, False, 1, "old")
    index.add(
        [live, dead, IndexedMessage("C" * 43, TS, "05" + "0" * 64, "x", True, 2**62, "y" * 999)]
    )
    assert (tmp_path / "messages.json").stat().st_mode & 0o777 == 0o600
    assert index.get("A" * 43) == live
    assert len(index.get("C" * 43).text or "") == 300
    with pytest.raises(UsageError, match="unknown message"):
        index.get("B" * 43)
    with pytest.raises(UsageError, match="invalid message hash"):
        index.get("nope")
    index.note_unsent(BOB.session_id, TS, 2**62)
    with pytest.raises(UsageError):
        index.get("A" * 43)
    assert index.unsent() == {f"{BOB.session_id}:{TS}"}


def test_receipt_merge_keeps_union_sorted() -> None:
    got = receipts.merge({"a": [3, 1]}, {"a": [2, 3], "b": [5], "c": []})
    assert got == {"a": [1, 2, 3], "b": [5]}


def test_damaged_index_starts_over(tmp_path: Path) -> None:
    (tmp_path / "messages.json").write_text(
        json.dumps(
            {
                "messages": {
                    "A" * 43: {"timestamp_ms": TS},
                    "B" * 43: [1, 2],
                    "C" * 43: [TS, BOB.session_id, BOB.session_id, False, "never", None, None],
                    "E" * 43: [TS, BOB.session_id, BOB.session_id, 0, 2**62, None, None],
                },
                "unsent": [],
            }
        )
    )
    index = MessageIndex(tmp_path)
    for h in "ABCE":
        with pytest.raises(UsageError):
            index.get(h * 43)
    index.add([IndexedMessage("D" * 43, TS, BOB.session_id, BOB.session_id, False, 2**62)])
    assert index.get("D" * 43).timestamp_ms == TS
    (tmp_path / "messages.json").write_text("{not json")
    with pytest.raises(UsageError):
        index.get("D" * 43)


def test_ons_answers_must_agree() -> None:
    from sessioncli.core.ons import agreed
    from sessioncli.errors import TemporaryFailure

    assert agreed("a", {BOB.session_id}) == BOB.session_id
    assert agreed("a", {None}) is None
    with pytest.raises(TemporaryFailure):
        agreed("a", {BOB.session_id, ALICE.session_id})
    with pytest.raises(TemporaryFailure):
        agreed("a", {BOB.session_id, None})


def _stored(sender: Identity, content: bytes, ts: int, h: str) -> object:
    from sessioncli.net.retrieved import RetrievedMessage

    return RetrievedMessage(h, ts, 2**62, m.encode_dm(sender, BOB.session_id, content, ts))


def test_screen_hides_a_message_unsent_later_in_the_page(tmp_path: Path) -> None:
    from sessioncli.core.screen import Screen

    mallory = Identity.from_seed(bytes.fromhex("c0ffee00c0ffee00c0ffee00deadbeef"))
    text = _stored(ALICE, m.build_text_content("oops", TS), TS, "h1")
    other = _stored(ALICE, m.build_text_content("fine", TS + 1), TS + 1, "h2")
    forged = m.build_unsend_request(TS + 5, message_timestamp_ms=TS + 1, author=ALICE.session_id)
    unsend = m.build_unsend_request(TS + 9, message_timestamp_ms=TS, author=ALICE.session_id)
    page = [
        text,
        other,
        _stored(mallory, forged, TS + 5, "h3"),  # not the author: ignored
        _stored(ALICE, unsend, TS + 9, "h4"),
    ]
    screen = Screen.open(tmp_path, BOB)
    ahead = screen.page(page, seen=set())  # type: ignore[arg-type]
    decoded = [ahead[h] for h in ("h1", "h2", "h3", "h4")]
    assert [screen.hidden(d) for d in decoded] == ["unsent", None, None, None]  # type: ignore[arg-type]
    screen.blocked.add(mallory.session_id)
    assert screen.hidden(decoded[2]) == "blocked"  # type: ignore[arg-type]
    assert screen.hidden_counts == {"unsent": 1, "blocked": 1}


def test_block_list_round_trip_and_damage(tmp_path: Path) -> None:
    from sessioncli.core import requests
    from sessioncli.errors import ConfigError

    assert requests.blocked(tmp_path) == set()
    assert requests.block(tmp_path, BOB.session_id).changed
    assert not requests.block(tmp_path, BOB.session_id).changed
    assert requests.blocked(tmp_path) == {BOB.session_id}
    assert requests.unblock(tmp_path, BOB.session_id).changed
    assert requests.blocked(tmp_path) == set()
    (tmp_path / "blocked.json").write_text("{damaged")
    with pytest.raises(ConfigError):
        requests.blocked(tmp_path)
