"""Message layer behaviour: round trips, every drop reason, legacy senders, kinds, size limit."""

from __future__ import annotations

import base64
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sessioncli.errors import ProtocolError, UsageError
from sessioncli.protocol import crypto
from sessioncli.protocol import message as m
from sessioncli.protocol.ids import Identity
from sessioncli.protocol.proto import session_pb2 as pb

ALICE = Identity.from_seed(bytes.fromhex("0123456789abcdef0123456789abcdef"))
BOB = Identity.from_seed(bytes.fromhex("00112233445566778899aabbccddeeff"))
MALLORY = Identity.from_seed(bytes.fromhex("c0ffee00c0ffee00c0ffee00deadbeef"))
TS = 1_700_000_000_000


def content_bytes(ts: int | None = TS, **data: object) -> bytes:
    c = pb.Content()
    if ts is not None:
        c.sigTimestamp = ts
    for key, value in data.items():
        setattr(c.dataMessage, key, value)
    return c.SerializeToString()


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def craft(
    padded: bytes,
    *,
    ts: int = TS,
    sender: Identity = ALICE,
    recipient: Identity = BOB,
    verb: str = "",
    path: str = "",
) -> str:
    sealed = m.sign_and_seal(sender, recipient.x25519_public, padded)
    return b64(m.wrap_envelope(sealed, ts, verb=verb, path=path))


def reason_of(recipient: Identity, data: str) -> str:
    with pytest.raises(m.MessageDecodeError) as err:
        m.decode_dm(recipient, data)
    assert err.value.reason in str(err.value)
    return err.value.reason


# --- round trips -----------------------------------------------------------------------------

MAX_BODY = m.max_body_bytes(display_name="x" * 100)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    body=st.text(min_size=1, max_size=3000),
    name=st.none() | st.text(max_size=100),
    ts=st.integers(min_value=1, max_value=2**64 - 1),
)
def test_round_trip(body: str, name: str | None, ts: int) -> None:
    content = m.build_text_content(body, ts, display_name=name)
    msg = m.decode_dm(BOB, m.encode_dm(ALICE, BOB.session_id, content, ts))
    assert (msg.kind, msg.body, msg.sender, msg.timestamp_ms) == (
        "text",
        body,
        ALICE.session_id,
        ts,
    )
    assert msg.display_name == name
    assert msg.sender_ed25519 == ALICE.ed25519_public.hex()
    assert not msg.legacy
    json.dumps(msg.to_json_dict())


@settings(max_examples=20, deadline=None)
@given(
    size=st.integers(min_value=MAX_BODY - 2000, max_value=MAX_BODY),
    char=st.sampled_from("a\u00e9\u20ac\U0001f600"),
)
def test_round_trip_near_the_size_limit(size: int, char: str) -> None:
    body = char * (size // len(char.encode()))
    content = m.build_text_content(body, TS, display_name="x" * 100)
    msg = m.decode_dm(BOB, m.encode_dm(ALICE, BOB.session_id, content, TS))
    assert msg.body == body


def test_size_limit_is_exact() -> None:
    limit = m.max_body_bytes(timestamp_ms=TS)
    data = m.encode_dm(ALICE, BOB.session_id, m.build_text_content("a" * limit, TS), TS)
    assert m.store_data_size(data) <= m.MAX_STORE_BYTES == 76_800
    assert len(base64.b64decode(data)) == m.store_data_size(data)
    m.check_size(data)
    with pytest.raises(m.MessageTooLarge) as err:
        m.encode_dm(ALICE, BOB.session_id, m.build_text_content("a" * (limit + 1), TS), TS)
    assert isinstance(err.value, UsageError)
    assert "76800" in str(err.value)
    # The timestamp-agnostic default is safe for every timestamp.
    assert m.max_body_bytes() <= limit
    assert 76_000 < m.max_body_bytes() < 76_800


def test_check_size() -> None:
    m.check_size(b64(bytes(m.MAX_STORE_BYTES)))
    with pytest.raises(m.MessageTooLarge, match="76800"):
        m.check_size(b64(bytes(m.MAX_STORE_BYTES + 1)))


def test_deterministic_is_deterministic_and_random_is_not() -> None:
    content = m.build_text_content("same", TS)
    det = [m.encode_dm(ALICE, BOB.session_id, content, TS, deterministic=True) for _ in range(2)]
    rnd = [m.encode_dm(ALICE, BOB.session_id, content, TS) for _ in range(2)]
    assert det[0] == det[1] and rnd[0] != rnd[1]
    assert {m.decode_dm(BOB, d).body for d in det + rnd} == {"same"}


def test_sync_copy_to_self() -> None:
    content = m.build_text_content("hi", TS, sync_target=BOB.session_id.upper())
    msg = m.decode_dm(ALICE, m.encode_dm(ALICE, ALICE.session_id, content, TS))
    assert msg.sync_target == BOB.session_id and msg.sender == ALICE.session_id


def test_message_request_response() -> None:
    content = m.build_message_request_response(TS, display_name="Alice")
    parsed = pb.Content.FromString(content)
    assert parsed.messageRequestResponse.isApproved and parsed.sigTimestamp == TS
    msg = m.decode_dm(BOB, m.encode_dm(ALICE, BOB.session_id, content, TS))
    assert (msg.kind, msg.approved, msg.display_name, msg.body) == (
        "message_request_response",
        True,
        "Alice",
        None,
    )
    bare = m.decode_dm(
        BOB, m.encode_dm(ALICE, BOB.session_id, m.build_message_request_response(TS), TS)
    )
    assert bare.display_name is None and bare.approved is True


# --- encode-side checks ----------------------------------------------------------------------


def test_encode_refuses_bad_input() -> None:
    with pytest.raises(UsageError, match="recipient"):
        m.encode_dm(ALICE, "05abc", m.build_text_content("x", TS), TS)
    with pytest.raises(ValueError, match="sigTimestamp"):
        m.encode_dm(ALICE, BOB.session_id, m.build_text_content("x", TS), TS + 1)
    with pytest.raises(ValueError, match="sigTimestamp"):
        m.encode_dm(ALICE, BOB.session_id, content_bytes(ts=None, body="x"), TS)
    with pytest.raises(UsageError, match="empty"):
        m.build_text_content("", TS)
    with pytest.raises(UsageError, match="UTF-8"):
        m.build_text_content("bad \udcff surrogate", TS)
    with pytest.raises(UsageError, match="sync target"):
        m.build_text_content("x", TS, sync_target="15" + "0" * 64)
    with pytest.raises(ValueError):
        m.build_text_content("x", 0)


# --- every drop reason -----------------------------------------------------------------------


def test_altered_after_signing_is_bad_signature() -> None:
    padded = m.pad(m.build_text_content("pay 10", TS))
    sig = crypto.sign(ALICE.ed25519_secret, padded + ALICE.ed25519_public + BOB.x25519_public)
    forged = padded.replace(b"10", b"99")
    sealed = crypto.box_seal(forged + ALICE.ed25519_public + sig, BOB.x25519_public)
    assert reason_of(BOB, b64(m.wrap_envelope(sealed, TS))) == "bad_signature"


def test_signed_by_another_key_is_bad_signature() -> None:
    padded = m.pad(m.build_text_content("hi", TS))
    sig = crypto.sign(MALLORY.ed25519_secret, padded + ALICE.ed25519_public + BOB.x25519_public)
    sealed = crypto.box_seal(padded + ALICE.ed25519_public + sig, BOB.x25519_public)
    assert reason_of(BOB, b64(m.wrap_envelope(sealed, TS))) == "bad_signature"


def test_signed_for_another_recipient_is_bad_signature() -> None:
    """A message re-sealed to Bob after it was signed for Mallory (forwarding attack)."""
    padded = m.pad(m.build_text_content("hi", TS))
    sig = crypto.sign(ALICE.ed25519_secret, padded + ALICE.ed25519_public + MALLORY.x25519_public)
    sealed = crypto.box_seal(padded + ALICE.ed25519_public + sig, BOB.x25519_public)
    assert reason_of(BOB, b64(m.wrap_envelope(sealed, TS))) == "bad_signature"


def test_too_short_plaintext_is_bad_signature() -> None:
    sealed = crypto.box_seal(b"x" * 95, BOB.x25519_public)
    assert reason_of(BOB, b64(m.wrap_envelope(sealed, TS))) == "bad_signature"


def test_not_for_us_is_sealed_box_failed() -> None:
    data = m.encode_dm(ALICE, BOB.session_id, m.build_text_content("hi", TS), TS)
    assert reason_of(MALLORY, data) == "sealed_box_failed"
    assert reason_of(BOB, b64(m.wrap_envelope(b"\x01" * 40, TS))) == "sealed_box_failed"


def test_timestamp_mismatch() -> None:
    data = craft(m.pad(m.build_text_content("hi", TS)), ts=TS + 1)
    assert reason_of(BOB, data) == "timestamp_mismatch"


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ("not base64!", "bad_base64"),
        ("QQ", "bad_base64"),
        ("QQ==QQ==", "bad_base64"),
        ("QU JD", "bad_base64"),
        ("\u00e9\u00e9\u00e9\u00e9", "bad_base64"),
        ("", "not_websocket_message"),
        (b64(b"\xff\xff\xff"), "not_websocket_message"),
        (
            b64(pb.WebSocketMessage(type=pb.WebSocketMessage.REQUEST).SerializeToString()),
            "not_websocket_message",
        ),
        (b64(b"\x00\x02" + bytes(1534)), "v2_unsupported"),
        (b64(b"\x00\x07"), "not_websocket_message"),
    ],
)
def test_outer_layers(data: str, reason: str) -> None:
    assert reason_of(BOB, data) == reason


def ws_with_body(body: bytes) -> str:
    ws = pb.WebSocketMessage(type=pb.WebSocketMessage.REQUEST)
    ws.request.body = body
    return b64(ws.SerializeToString())


def test_envelope_problems() -> None:
    assert reason_of(BOB, ws_with_body(b"\xff\xff")) == "not_envelope"
    no_content = pb.Envelope(type=pb.Envelope.SESSION_MESSAGE, timestamp=TS)
    assert reason_of(BOB, ws_with_body(no_content.SerializeToString())) == "not_envelope"
    # Missing required timestamp: the Python runtime parses it, official clients do not.
    no_ts = b"\x08\x06" + b"\x42\x02ab"
    assert reason_of(BOB, ws_with_body(no_ts)) == "not_envelope"


def test_padding_and_content_problems() -> None:
    assert reason_of(BOB, craft(bytes(160))) == "bad_padding"
    assert reason_of(BOB, craft(b"")) == "bad_padding"
    assert reason_of(BOB, craft(m.pad(b"\xff\xff\xff"))) == "bad_content"
    # A Quote without its required author: dropped, as official clients drop it.
    c = pb.Content(sigTimestamp=TS)
    c.dataMessage.body = "x"
    c.dataMessage.quote.id = 5
    raw = c.SerializePartialToString()
    assert reason_of(BOB, craft(m.pad(raw))) == "bad_content"


def test_error_types() -> None:
    err = m.MessageDecodeError("bad_padding", "detail")
    assert isinstance(err, ProtocolError) and err.reason == "bad_padding"
    assert str(err) == "message dropped: bad_padding (detail)"
    assert {
        "bad_base64",
        "not_websocket_message",
        "not_envelope",
        "sealed_box_failed",
        "bad_signature",
        "timestamp_mismatch",
        "bad_padding",
        "v2_unsupported",
        "bad_content",
    } == m.DECODE_REASONS


# Fuzzing (random bytes and strings, envelopes, authentic garbage: nothing but MessageDecodeError)
# lives in tests/fuzz/test_fuzz_message.py, which covers what four copies here used to.


# --- legacy senders ---------------------------------------------------------------------------


def legacy_pad(content: bytes) -> bytes:
    """Pre-2025-10 desktop: ceil((L+2)/160)*160 - 1 bytes."""
    total = -(-(len(content) + 2) // 160) * 160 - 1
    return content + b"\x80" + bytes(total - len(content) - 1)


@pytest.mark.parametrize("n", [0, 1, 157, 158, 159, 160, 317, 318])
def test_unpad_accepts_legacy_padding(n: int) -> None:
    content = b"\x07" * n
    padded = legacy_pad(content)
    assert len(padded) % 160 == 159
    if n:
        assert m.unpad(padded) == content


def test_unpad_of_unpadded_data_is_lenient() -> None:
    assert m.unpad(b"\x08\x01") == b"\x08\x01"
    assert m.unpad(b"\x08\x80") == b"\x08"  # indistinguishable from padding, as upstream


def test_legacy_sender_without_sig_timestamp() -> None:
    content = content_bytes(ts=None, body="from 2021", timestamp=TS)
    data = craft(legacy_pad(content), verb="PUT", path="/api/v1/message")
    msg = m.decode_dm(BOB, data)
    assert (msg.kind, msg.body, msg.timestamp_ms, msg.legacy) == ("text", "from 2021", TS, True)


def test_unknown_fields_from_newer_clients_are_ignored() -> None:
    def varint(n: int) -> bytes:
        out = b""
        while n > 0x7F:
            out, n = out + bytes([n & 0x7F | 0x80]), n >> 7
        return out + bytes([n])

    def field(num: int, payload: bytes) -> bytes:
        return varint(num << 3 | 2) + varint(len(payload)) + payload

    data_message = (
        pb.DataMessage(body="hi").SerializeToString() + b"\xc0\x07\x01"
    )  # field 120 varint
    content = (
        field(1, data_message)
        + field(16, b"\x18\x01")  # proMessage
        + pb.Content(sigTimestamp=TS).SerializeToString()
        + b"\xa8\x1f\x05"  # field 501 varint
    )
    env = pb.Envelope(
        type=pb.Envelope.SESSION_MESSAGE,
        timestamp=TS,
        content=m.sign_and_seal(ALICE, BOB.x25519_public, m.pad(content)),
        proSig=bytes(64),
        serverTimestamp=TS + 5,
    ).SerializeToString() + field(12, b"new")
    msg = m.decode_dm(BOB, ws_with_body(env))
    assert msg.body == "hi" and msg.kind == "text"


def test_invalid_utf8_body_is_replaced_not_fatal() -> None:
    dm = b"\x0a\x03a\xffb"
    content = bytes([0x0A, len(dm)]) + dm + pb.Content(sigTimestamp=TS).SerializeToString()
    msg = m.decode_dm(BOB, craft(m.pad(content)))
    assert msg.body == "a\ufffdb"


# --- kinds -----------------------------------------------------------------------------------


def decode_content(c: pb.Content) -> m.DecodedMessage:
    c.sigTimestamp = TS
    return m.decode_dm(BOB, m.encode_dm(ALICE, BOB.session_id, c.SerializeToString(), TS))


def test_kind_text_with_quote_attachments_reaction() -> None:
    c = pb.Content(expirationType=pb.Content.DELETE_AFTER_SEND, expirationTimer=3600)
    dm = c.dataMessage
    dm.body = "look"
    dm.profile.displayName = "Alice"
    dm.profile.profilePicture = "http://f/1"
    dm.quote.id = TS - 1
    dm.quote.author = BOB.session_id
    a = dm.attachments.add(deprecated_id=7, contentType="image/png", size=10, fileName="x.png")
    a.url, a.key, a.flags, a.width, a.height = "http://f/2", b"k" * 64, 1, 3, 4
    msg = decode_content(c)
    assert msg.kind == "text" and msg.body == "look" and msg.display_name == "Alice"
    assert msg.quote == m.Quote(TS - 1, BOB.session_id, None)
    (att,) = msg.attachments
    assert (att.url, att.content_type, att.size, att.voice_message, att.key) == (
        "http://f/2",
        "image/png",
        10,
        True,
        b"k" * 64,
    )
    assert (msg.expiration_type, msg.expiration_timer_s) == ("delete_after_send", 3600)
    out = msg.to_json_dict()
    assert "key" not in out["attachments"][0] and "raw_content" not in out
    assert "kkkk" not in repr(msg)
    json.dumps(out)


def test_kind_reaction() -> None:
    # A reaction is its own kind since issue 15 (it printed as `text` before).
    c = pb.Content()
    r = c.dataMessage.reaction
    r.id, r.author, r.emoji, r.action = TS - 9, BOB.session_id, "\U0001f44d", 1
    msg = decode_content(c)
    assert msg.kind == "reaction" and msg.body is None
    assert msg.reaction == m.Reaction(TS - 9, BOB.session_id, "\U0001f44d", "remove")


def test_kind_receipt() -> None:
    c = pb.Content()
    c.receiptMessage.type = pb.ReceiptMessage.READ
    c.receiptMessage.timestamp.extend([1, 2])
    msg = decode_content(c)
    assert (msg.kind, msg.receipt_type, msg.receipt_timestamps) == ("receipt", "read", (1, 2))


def test_kind_typing() -> None:
    c = pb.Content()
    c.typingMessage.timestamp, c.typingMessage.action = TS, pb.TypingMessage.STOPPED
    assert (decode_content(c).kind, decode_content(c).typing) == ("typing", "stopped")


def test_kind_unsend() -> None:
    c = pb.Content()
    c.unsendRequest.timestamp, c.unsendRequest.author = TS - 3, ALICE.session_id
    msg = decode_content(c)
    assert (msg.kind, msg.unsend_timestamp_ms, msg.unsend_author) == (
        "unsend",
        TS - 3,
        ALICE.session_id,
    )


def test_kind_data_extraction() -> None:
    c = pb.Content()
    c.dataExtractionNotification.type = pb.DataExtractionNotification.SCREENSHOT
    msg = decode_content(c)
    assert (msg.kind, msg.data_extraction) == ("data_extraction", "screenshot")


def test_kind_unknown() -> None:
    assert decode_content(pb.Content()).kind == "unknown"
    c = pb.Content()
    c.dataMessage.profile.displayName = "only a profile update"
    msg = decode_content(c)
    assert (msg.kind, msg.display_name) == ("unknown", "only a profile update")


# --- message hash ----------------------------------------------------------------------------


def test_message_hash_shape() -> None:
    h = m.message_hash(BOB.session_id, 0, b"abc")
    assert len(h) == 43 and "=" not in h
    assert h != m.message_hash(BOB.session_id, 1, b"abc")
    with pytest.raises(ValueError):
        m.message_hash("05abc", 0, b"")


def test_community_invitation_is_its_own_kind() -> None:
    """Official apps send community invites as body-less visible messages (DataMessage field 102)."""
    from sessioncli.protocol import message as m
    from sessioncli.protocol.ids import Identity
    from sessioncli.protocol.proto import session_pb2 as pb

    alice = Identity.from_seed(bytes(range(16)))
    bob = Identity.from_seed(bytes(range(1, 17)))
    ts = 1_800_000_000_000
    content = pb.Content()
    content.dataMessage.communityInvitation.url = (
        "https://open.example/room?public_key=" + "ab" * 32
    )
    content.dataMessage.communityInvitation.name = "Example room"
    content.sigTimestamp = ts
    got = m.decode_dm(bob, m.encode_dm(alice, bob.session_id, content.SerializeToString(), ts))
    assert got.kind == "community_invitation"
    assert got.community_name == "Example room"
    assert got.to_json_dict()["community_url"].startswith("https://open.example/room")
