"""The hand-written encoders (protowire, message_build, message._wrap) against session_pb2, byte for byte.

Each reference below sets the same fields on the generated classes the way the builders did before
they stopped using them; SerializeToString() is what the bytes must be.
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sessioncli.errors import UsageError
from sessioncli.protocol import attachment_message, protowire
from sessioncli.protocol import message as m
from sessioncli.protocol import message_build as mb
from sessioncli.protocol.proto import session_pb2 as pb

U64 = 2**64 - 1
TS = 1_700_000_000_000
PROPERTY = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

timestamps = st.integers(min_value=1, max_value=U64) | st.sampled_from([1, 127, 128, 2**63, U64])
texts = st.text(max_size=300) | st.text(max_size=20_000) | st.sampled_from(["", "\x00", "é" * 200])
bodies = texts.filter(bool)
names = st.none() | texts
session_ids = st.builds(
    lambda key, upper: ("05" + key.hex()).upper() if upper else "05" + key.hex(),
    st.binary(min_size=32, max_size=32),
    st.booleans(),
)
quotes = st.none() | st.builds(
    mb.QuotedMessage, st.integers(min_value=0, max_value=U64), session_ids, st.none() | texts
)
expirations = st.none() | st.builds(
    mb.Expiration,
    st.sampled_from(["delete_after_read", "delete_after_send"]),
    st.integers(min_value=1, max_value=2**32 - 1),
)


# --- references: the same fields on the generated classes ------------------------------------


def ref_text(
    body: str,
    ts: int,
    name: str | None,
    target: str | None,
    quote: mb.QuotedMessage | None,
    expiration: mb.Expiration | None,
) -> bytes:
    c = pb.Content()
    dm = c.dataMessage
    if name is not None:
        dm.profile.displayName = name
    if target is not None:
        dm.syncTarget = target.lower()
    dm.body = body
    if quote is not None:
        dm.quote.id = quote.timestamp_ms
        dm.quote.author = quote.author.lower()
        if quote.text:
            dm.quote.text = quote.text
    if expiration is not None:
        c.expirationType = {  # type: ignore[assignment]
            "delete_after_read": pb.Content.DELETE_AFTER_READ,
            "delete_after_send": pb.Content.DELETE_AFTER_SEND,
        }[expiration.mode]
        c.expirationTimer = expiration.seconds
    c.sigTimestamp = ts
    return c.SerializeToString()


def ref_wrap(sealed: bytes, ts: int, verb: str, path: str) -> bytes:
    env = pb.Envelope(type=pb.Envelope.SESSION_MESSAGE, timestamp=ts, sourceDevice=1)
    env.content = sealed
    ws = pb.WebSocketMessage(type=pb.WebSocketMessage.REQUEST)
    ws.request.verb, ws.request.path = verb, path
    ws.request.body = env.SerializeToString()
    ws.request.id = 0
    return ws.SerializeToString()


# --- properties --------------------------------------------------------------------------------


@PROPERTY
@given(bodies, timestamps, names, st.none() | session_ids, quotes, expirations)
def test_text_content_is_what_pb2_serializes(
    body: str,
    ts: int,
    name: str | None,
    target: str | None,
    quote: mb.QuotedMessage | None,
    expiration: mb.Expiration | None,
) -> None:
    got = m.build_text_content(
        body, ts, display_name=name, sync_target=target, quote=quote, expiration=expiration
    )
    assert got == ref_text(body, ts, name, target, quote, expiration)
    # a reply or a disappearing message goes through attachment_message: still the same bytes
    built = attachment_message.build_content(
        body, ts, display_name=name, sync_target=target, quote=quote, expiration=expiration
    )
    assert built == got


def ref_pointer(p: attachment_message.Pointer) -> pb.AttachmentPointer:
    ptr = pb.AttachmentPointer(deprecated_id=p.file_id, size=p.size)
    if p.key:
        ptr.key = p.key
    ptr.url = p.url
    if p.digest:
        ptr.digest = p.digest
    if p.content_type:
        ptr.contentType = p.content_type
    if p.file_name is not None:
        ptr.fileName = p.file_name
    if p.width and p.height:
        ptr.width, ptr.height = p.width, p.height
    return ptr


u32 = st.integers(min_value=0, max_value=2**32 - 1)
pointers = st.builds(
    attachment_message.Pointer,
    url=texts,
    key=st.binary(max_size=64),
    size=u32,
    digest=st.binary(max_size=32),
    content_type=st.none() | texts,
    file_name=st.none() | texts,
    width=st.none() | u32,
    height=st.none() | u32,
    file_id=st.integers(min_value=0, max_value=U64),
)
pictures = st.none() | st.builds(
    attachment_message.ProfilePicture,
    texts,
    st.binary(max_size=32),
    st.none() | st.integers(min_value=0, max_value=U64),
)


@PROPERTY
@given(
    texts,
    timestamps,
    st.lists(pointers, max_size=3),
    pictures,
    names,
    st.none() | session_ids,
    quotes,
    expirations,
)
def test_content_with_files_and_picture_is_what_pb2_serializes(
    body: str,
    ts: int,
    files: list[attachment_message.Pointer],
    picture: attachment_message.ProfilePicture | None,
    name: str | None,
    target: str | None,
    quote: mb.QuotedMessage | None,
    expiration: mb.Expiration | None,
) -> None:
    if not body and not files:
        with pytest.raises(ValueError, match="body or an attachment"):
            attachment_message.build_content(body, ts, attachments=files, profile=picture)
        return
    c = pb.Content.FromString(ref_text(body or " ", ts, name, target, quote, expiration))
    dm = c.dataMessage
    if not body:
        dm.ClearField("body")
    dm.attachments.extend(ref_pointer(p) for p in files)
    if picture is not None:
        dm.profile.profilePicture = picture.url
        if picture.updated_s is not None:
            dm.profile.lastProfileUpdateSeconds = picture.updated_s
        dm.profileKey = picture.key
    got = attachment_message.build_content(
        body,
        ts,
        attachments=files,
        profile=picture,
        display_name=name,
        sync_target=target,
        quote=quote,
        expiration=expiration,
    )
    assert got == c.SerializeToString()


@PROPERTY
@given(timestamps, names)
def test_message_request_response_is_what_pb2_serializes(ts: int, name: str | None) -> None:
    c = pb.Content(sigTimestamp=ts)
    c.messageRequestResponse.isApproved = True
    if name is not None:
        c.messageRequestResponse.profile.displayName = name
    assert m.build_message_request_response(ts, display_name=name) == c.SerializeToString()


@PROPERTY
@given(timestamps, timestamps, session_ids, texts, st.booleans(), names, st.none() | session_ids)
def test_reaction_is_what_pb2_serializes(
    ts: int,
    target_ts: int,
    author: str,
    emoji: str,
    remove: bool,
    name: str | None,
    sync: str | None,
) -> None:
    c = pb.Content()
    dm = c.dataMessage
    if name is not None:
        dm.profile.displayName = name
    if sync is not None:
        dm.syncTarget = sync.lower()
    r = dm.reaction
    r.id, r.author, r.emoji = target_ts, author.lower(), emoji
    r.action = pb.DataMessage.Reaction.REMOVE if remove else pb.DataMessage.Reaction.REACT
    c.sigTimestamp = ts
    got = m.build_reaction_content(
        ts,
        message_timestamp_ms=target_ts,
        author=author,
        emoji=emoji,
        remove=remove,
        display_name=name,
        sync_target=sync,
    )
    assert got == c.SerializeToString()


@PROPERTY
@given(timestamps, timestamps, session_ids, st.lists(timestamps, min_size=1, max_size=40))
def test_unsend_and_receipt_are_what_pb2_serializes(
    ts: int, target_ts: int, author: str, read: Sequence[int]
) -> None:
    unsend = pb.Content(sigTimestamp=ts)
    unsend.unsendRequest.timestamp, unsend.unsendRequest.author = target_ts, author.lower()
    got = m.build_unsend_request(ts, message_timestamp_ms=target_ts, author=author)
    assert got == unsend.SerializeToString()
    receipt = pb.Content(sigTimestamp=ts)
    receipt.receiptMessage.type = pb.ReceiptMessage.READ
    receipt.receiptMessage.timestamp.extend(read)
    assert m.build_read_receipt(ts, read) == receipt.SerializeToString()


@PROPERTY
@given(st.binary(max_size=3000), timestamps, texts, texts)
def test_envelope_and_websocket_wrappers_are_what_pb2_serializes(
    sealed: bytes, ts: int, verb: str, path: str
) -> None:
    assert m.wrap_envelope(sealed, ts, verb=verb, path=path) == ref_wrap(sealed, ts, verb, path)
    assert m.wrap_envelope(sealed, ts) == ref_wrap(sealed, ts, "", "")
    assert m.encoded_size(len(sealed), ts) >= len(sealed)


@PROPERTY
@given(bodies, timestamps, names, st.none() | session_ids)
def test_encode_dm_is_the_pb2_wrapped_sealed_box(
    body: str, ts: int, name: str | None, target: str | None
) -> None:
    from sessioncli.protocol.ids import Identity

    alice = Identity.from_seed(bytes(range(16)))
    content = m.build_text_content(body, ts, display_name=name, sync_target=target)
    data = m.encode_dm(alice, alice.session_id, content, ts, deterministic=True)
    sealed = m.sign_and_seal(alice, alice.x25519_public, m.pad(content), deterministic=True)
    import base64

    assert base64.b64decode(data) == ref_wrap(sealed, ts, "", "")


def test_field_helpers_and_enum_values_match_the_schema() -> None:
    assert protowire.varint(0) == b"\x00"
    assert protowire.varint(300) == b"\xac\x02"
    assert protowire.varint(U64) == b"\xff" * 9 + b"\x01"
    for bad in (-1, 2**64):
        with pytest.raises(ValueError, match="out of range"):
            protowire.varint(bad)
    with pytest.raises(ValueError, match="out of range"):
        protowire.uint32_field(13, 2**32)
    ptr = pb.AttachmentPointer(deprecated_id=U64 - 5)
    assert protowire.fixed64_field(1, U64 - 5) == ptr.SerializeToString()
    flags = pb.DataMessage(blocksCommunityMessageRequests=False).SerializeToString()
    assert protowire.bool_field(106, False) == flags
    assert mb._EXPIRATION_TYPE == {
        "delete_after_read": pb.Content.DELETE_AFTER_READ,
        "delete_after_send": pb.Content.DELETE_AFTER_SEND,
    }
    assert (mb._REACT, mb._REMOVE) == (
        pb.DataMessage.Reaction.REACT,
        pb.DataMessage.Reaction.REMOVE,
    )
    assert mb._RECEIPT_READ == pb.ReceiptMessage.READ
    assert m._ENVELOPE_SESSION_MESSAGE == pb.Envelope.SESSION_MESSAGE
    assert m._WEBSOCKET_REQUEST == pb.WebSocketMessage.REQUEST
    numbers = {
        (pb.Content, "sigTimestamp"): m._CONTENT_SIG_TIMESTAMP,
        (pb.Content, "dataMessage"): mb._CONTENT_DATA_MESSAGE,
        (pb.Content, "receiptMessage"): mb._CONTENT_RECEIPT,
        (pb.Content, "unsendRequest"): mb._CONTENT_UNSEND,
        (pb.Content, "messageRequestResponse"): mb._CONTENT_MRR,
        (pb.Content, "expirationType"): mb._CONTENT_EXPIRATION_TYPE,
        (pb.Content, "expirationTimer"): mb._CONTENT_EXPIRATION_TIMER,
        (pb.DataMessage, "body"): mb._DM_BODY,
        (pb.DataMessage, "attachments"): mb._DM_ATTACHMENTS,
        (pb.DataMessage, "profileKey"): mb._DM_PROFILE_KEY,
        (pb.DataMessage, "quote"): mb._DM_QUOTE,
        (pb.DataMessage, "reaction"): mb._DM_REACTION,
        (pb.DataMessage, "profile"): mb._DM_PROFILE,
        (pb.DataMessage, "syncTarget"): mb._DM_SYNC_TARGET,
        (pb.LokiProfile, "displayName"): mb._PROFILE_DISPLAY_NAME,
        (pb.LokiProfile, "profilePicture"): mb._PROFILE_PICTURE,
        (pb.LokiProfile, "lastProfileUpdateSeconds"): mb._PROFILE_UPDATED,
        (pb.MessageRequestResponse, "isApproved"): mb._MRR_IS_APPROVED,
        (pb.MessageRequestResponse, "profile"): mb._MRR_PROFILE,
    }
    for (cls, name), number in numbers.items():
        assert cls.DESCRIPTOR.fields_by_name[name].number == number, name


def test_bad_values_fail_as_they_did_with_pb2() -> None:
    sid = "05" + "ab" * 32
    with pytest.raises(UsageError, match="UTF-8"):
        m.build_text_content("x", TS, display_name="\ud800")
    with pytest.raises(UsageError, match="quoted text"):
        m.build_text_content("x", TS, quote=mb.QuotedMessage(1, sid, "\udfff"))
    with pytest.raises(UsageError, match="emoji"):
        m.build_reaction_content(TS, message_timestamp_ms=1, author=sid, emoji="\ud83d")
    with pytest.raises(ValueError, match="out of range"):  # the quoted id is a uint64
        m.build_text_content("x", TS, quote=mb.QuotedMessage(-1, sid))
    with pytest.raises(ValueError, match="positive uint32"):
        m.build_text_content("x", TS, expiration=mb.Expiration("delete_after_send", 2**32))
    with pytest.raises(ValueError):
        m.build_read_receipt(TS, [])


# --- reading sigTimestamp back (encode_dm's check) ------------------------------------------


def _key(number: int, wire_type: int) -> bytes:
    return protowire.varint(number << 3 | wire_type)


_numbers = st.sampled_from([1, 5, 12, 15, 15, 15, 99, 2**29 - 1]) | st.integers(0, 40)
_fields = st.one_of(
    st.builds(lambda n, v: _key(n, 0) + protowire.varint(v), _numbers, timestamps),
    st.builds(lambda n, v: _key(n, 1) + v, _numbers, st.binary(min_size=8, max_size=8)),
    st.builds(lambda n, v: _key(n, 5) + v, _numbers, st.binary(min_size=4, max_size=4)),
    st.builds(lambda n, v: protowire.bytes_field(n, v), _numbers, st.binary(max_size=20)),
    st.builds(lambda n: _key(n, 3) + _key(n, 4), _numbers),  # an empty group
    st.builds(lambda n, w: _key(n, w), _numbers, st.sampled_from([3, 4, 6, 7])),
    st.binary(max_size=4),  # anything at all
)


@settings(max_examples=1000, deadline=None)
@given(st.lists(_fields, max_size=8).map(b"".join))
def test_sig_timestamp_reads_as_the_parser_reads_it(raw: bytes) -> None:
    try:
        expected: int | None = pb.Content.FromString(raw).sigTimestamp
    except Exception:
        expected = None  # the parser refuses it
    try:
        got = protowire.last_varint(raw, 15) or 0
    except ValueError:
        assert expected is None, "refused what the parser takes"
        return
    if expected is not None:
        assert got == expected
    # else: accepted what the parser refuses, which only happens inside nested messages (not
    # looked into) and is fine for a check of the builders' own output


def test_encode_dm_refuses_what_is_not_a_content() -> None:
    from sessioncli.protocol.ids import Identity

    alice = Identity.from_seed(bytes(range(16)))
    for raw in (b"\xff\xff\xff", b"\x7a\x05ab", b"\x78" + b"\xff" * 10 + b"\x01"):
        with pytest.raises(ValueError, match="not a serialized Content"):
            m.encode_dm(alice, alice.session_id, raw, TS)
    with pytest.raises(ValueError, match="sigTimestamp is 0"):
        m.encode_dm(alice, alice.session_id, b"\x0a\x00", TS)
