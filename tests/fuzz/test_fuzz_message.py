"""Fuzzing decode_dm: any bytes or text either decode to a message or raise MessageDecodeError."""

from __future__ import annotations

import base64
import json
from typing import get_args

from hypothesis import given
from hypothesis import strategies as st

from sessioncli.protocol import message as m
from sessioncli.protocol.ids import Identity
from sessioncli.protocol.proto import session_pb2 as pb
from tests.fuzz._fuzz import fuzz

ALICE = Identity.from_seed(bytes.fromhex("0123456789abcdef0123456789abcdef"))
BOB = Identity.from_seed(bytes.fromhex("00112233445566778899aabbccddeeff"))
TS = 1_700_000_000_000
U64 = 2**64 - 1


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def decodes_or_drops(data: str, recipient: Identity = BOB) -> m.DecodedMessage | None:
    """The property: a DecodedMessage that renders as JSON, or MessageDecodeError; nothing else."""
    try:
        msg = m.decode_dm(recipient, data)
    except m.MessageDecodeError as exc:
        assert exc.reason in m.DECODE_REASONS
        assert str(exc).startswith("message dropped: ")
        return None
    assert isinstance(msg, m.DecodedMessage)
    assert msg.kind in get_args(m.Kind)
    json.dumps(msg.to_json_dict())
    return msg


# --- raw protobuf wire format, structured but wrong -------------------------------------------


def _varint(n: int) -> bytes:
    n &= 2**70 - 1  # allow over-long (11-byte) varints too
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


_FIELD_NUMBERS = st.integers(min_value=1, max_value=20) | st.sampled_from([101, 536870911])


def _field(num: int, wire_type: int, payload: bytes) -> bytes:
    return _varint((num << 3) | wire_type) + payload


_leaf = st.one_of(
    st.builds(
        lambda n, v: _field(n, 0, _varint(v)),
        _FIELD_NUMBERS,
        st.integers(min_value=0, max_value=2**70 - 1) | st.sampled_from([0, 1, U64, 2**63]),
    ),
    st.builds(lambda n, v: _field(n, 1, v), _FIELD_NUMBERS, st.binary(min_size=8, max_size=8)),
    st.builds(lambda n, v: _field(n, 5, v), _FIELD_NUMBERS, st.binary(min_size=4, max_size=4)),
    st.builds(
        lambda n, v: _field(n, 2, _varint(len(v)) + v),
        _FIELD_NUMBERS,
        st.binary(max_size=40) | st.sampled_from([b"\xff\xfe", "é".encode(), b"\xc3", b"\x80"]),
    ),
    st.builds(
        lambda n, wt, v: _field(n, wt, v),
        _FIELD_NUMBERS,
        st.sampled_from([3, 4, 6, 7]),
        st.binary(max_size=8),
    ),
)


def _nest(children: st.SearchStrategy[bytes]) -> st.SearchStrategy[bytes]:
    return st.builds(
        lambda n, parts: _field(n, 2, _varint(len(b"".join(parts))) + b"".join(parts)),
        _FIELD_NUMBERS,
        st.lists(children, max_size=3),
    )


protobuf_wire = st.lists(st.recursive(_leaf, _nest, max_leaves=8), max_size=4).map(b"".join)


def content_with(ts: int | None, extra: bytes) -> bytes:
    c = pb.Content()
    if ts is not None:
        c.sigTimestamp = ts
    return c.SerializeToString() + extra


def sealed(
    plaintext: bytes,
    *,
    ts: int = TS,
    sender: Identity = ALICE,
    recipient: Identity = BOB,
    ws_extra: bytes = b"",
    env_extra: bytes = b"",
) -> str:
    box = m.sign_and_seal(sender, recipient.x25519_public, plaintext)
    envelope = pb.Envelope(
        type=pb.Envelope.SESSION_MESSAGE, timestamp=ts, sourceDevice=1, content=box
    ).SerializeToString()
    ws = pb.WebSocketMessage(type=pb.WebSocketMessage.REQUEST)
    ws.request.verb = ""
    ws.request.path = ""
    ws.request.id = 0
    ws.request.body = envelope + env_extra
    return b64(ws.SerializeToString() + ws_extra)


# --- properties ------------------------------------------------------------------------------


@fuzz(1200)
@given(st.binary(max_size=2000), st.sampled_from([b"", b"\x00", b"\x00\x02", b"\x00\x01", b"\x08"]))
def test_random_bytes(raw: bytes, prefix: bytes) -> None:
    decodes_or_drops(b64(prefix + raw))


_B64_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=-_ \n\t."


@fuzz(800)
@given(st.text(max_size=300) | st.text(alphabet=_B64_CHARS, max_size=300))
def test_random_strings(text: str) -> None:
    decodes_or_drops(text)


@fuzz(600)
@given(protobuf_wire, st.booleans())
def test_structured_websocket_and_envelope(wire: bytes, as_envelope: bool) -> None:
    """Protobuf-shaped garbage as the outer message, or as the Envelope inside a valid wrapper."""
    if as_envelope:
        ws = pb.WebSocketMessage(type=pb.WebSocketMessage.REQUEST)
        ws.request.verb = ""
        ws.request.path = ""
        ws.request.id = 0
        ws.request.body = wire
        decodes_or_drops(b64(ws.SerializeToString()))
    else:
        decodes_or_drops(b64(wire))


@fuzz(800)
@given(
    wire=protobuf_wire,
    sig_ts=st.none() | st.sampled_from([0, 1, TS, U64]) | st.integers(0, U64),
    env_ts=st.sampled_from([0, 1, TS, U64]) | st.integers(0, U64),
    pad=st.booleans(),
)
def test_authentic_but_wrong_content(
    wire: bytes, sig_ts: int | None, env_ts: int, pad: bool
) -> None:
    """Correctly sealed and signed protobuf garbage reaches unpad, Content parsing and _classify."""
    content = content_with(sig_ts, wire)
    msg = decodes_or_drops(sealed(m.pad(content) if pad else content, ts=env_ts))
    if msg is not None:
        assert msg.sender == ALICE.session_id
        if sig_ts and env_ts:
            assert sig_ts == env_ts or msg.timestamp_ms == env_ts


@fuzz(500)
@given(
    body=st.text(max_size=200),
    name=st.none() | st.text(max_size=40),
    flips=st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 7)), min_size=1, max_size=4),
    cut=st.none() | st.integers(0, 10_000),
    insert=st.binary(max_size=16),
)
def test_mutated_valid_messages(
    body: str, name: str | None, flips: list[tuple[int, int]], cut: int | None, insert: bytes
) -> None:
    """Bit flips, truncation and insertions in a real message: the result is dropped or intact."""
    content = m.build_text_content(body or "x", TS, display_name=name)
    raw = bytearray(base64.b64decode(m.encode_dm(ALICE, BOB.session_id, content, TS)))
    for pos, bit in flips:
        raw[pos % len(raw)] ^= 1 << bit
    if cut is not None:
        at = cut % (len(raw) + 1)
        raw[at:at] = insert
    msg = decodes_or_drops(b64(bytes(raw)))
    if msg is not None:
        # What survives a mutation was authenticated: the sender cannot have changed.
        assert msg.sender == ALICE.session_id


@fuzz(300)
@given(st.binary(max_size=300), st.binary(max_size=32))
def test_sealed_to_someone_else_is_always_dropped(plaintext: bytes, other_seed: bytes) -> None:
    other = Identity.from_seed((other_seed + bytes(16))[:16])
    data = sealed(m.pad(plaintext), recipient=other)
    if other.x25519_public != BOB.x25519_public:
        assert decodes_or_drops(data) is None


@fuzz(300)
@given(protobuf_wire, protobuf_wire)
def test_trailing_fields_on_wrappers(ws_extra: bytes, env_extra: bytes) -> None:
    decodes_or_drops(
        sealed(m.pad(m.build_text_content("hi", TS)), ws_extra=ws_extra, env_extra=env_extra)
    )


def test_deeply_nested_protobuf_is_dropped() -> None:
    """Nesting deeper than any parser's recursion limit is a drop, not a RecursionError."""
    inner = b""
    for _ in range(5000):
        inner = _field(1, 2, _varint(len(inner)) + inner)
    assert decodes_or_drops(b64(inner)) is None
    ws_like = sealed(m.pad(content_with(TS, _field(1, 2, _varint(len(inner)) + inner))))
    decodes_or_drops(ws_like)
