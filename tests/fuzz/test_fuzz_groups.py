"""Fuzzing the group parsers: any bytes either parse or raise that parser's own error, nothing else."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from sessioncli.protocol import crypto
from sessioncli.protocol.groups import bencode, configpush, control, keys, message, multi_encrypt
from sessioncli.protocol.groups.configdata import ConfigParseError
from sessioncli.protocol.groups.configmsg import merge, parse_message
from sessioncli.protocol.ids import Identity
from sessioncli.protocol.proto import session_pb2 as pb
from tests.fuzz._fuzz import fuzz

GROUP_PK, GROUP_SK = crypto.ed25519_keypair_from_seed(bytes(range(32)))
BOB = Identity.from_seed(bytes([5]) * 16)
KEY = bytes([7]) * 32

# bytes that look like bencode more often than random ones do
bt_bytes = st.one_of(
    st.binary(max_size=300),
    st.lists(
        st.sampled_from(
            [
                b"d",
                b"l",
                b"e",
                b"i1e",
                b"i-1e",
                b"0:",
                b"1:#",
                b"1:&",
                b"1:<",
                b"1:=",
                b"1:~",
                b"i01e",
                b"32:" + bytes(32),
                b"64:" + bytes(64),
                b"1:a",
            ]
        ),
        max_size=40,
    ).map(b"".join),
)


@fuzz(400)
@given(bt_bytes)
def test_bencode_and_config_parsers(data: bytes) -> None:
    try:
        value = bencode.decode(data)
    except bencode.BencodeError:
        pass
    else:
        assert bencode.encode(value) == data  # strict: what parses is canonical
    try:
        parse_message(data)
    except ConfigParseError:
        pass
    try:
        merge([data, data], verify_key=GROUP_PK)
    except ConfigParseError:
        pass


@fuzz(200)
@given(bt_bytes)
def test_key_messages(data: bytes) -> None:
    k = keys.GroupKeys(GROUP_PK, BOB.ed25519_secret)
    try:
        k.load_key_message("h", data, 1)
    except keys.KeysError:
        pass
    signed = (
        bencode.append_signature(data, crypto.sign(GROUP_SK, data[:-1]))
        if data[:1] == b"d" and data[-1:] == b"e"
        else data
    )
    try:
        k.load_key_message("h", signed, 1)
    except (keys.KeysError, bencode.BencodeError):
        pass


@fuzz(200)
@given(st.binary(max_size=400))
def test_pushes_posts_and_notices(data: bytes) -> None:
    try:
        configpush.open_push(data, [KEY], configpush.DOMAIN_INFO)
    except configpush.ConfigDecryptError:
        pass
    try:
        message.decode_group_post([KEY], GROUP_PK, data)
    except message.GroupMessageError:
        pass
    assert multi_encrypt.read_kicked_notice(data, BOB.ed25519_secret, GROUP_PK) is None


@fuzz(200)
@given(bt_bytes)
def test_encrypted_junk_inside_valid_layers(data: bytes) -> None:
    """Valid encryption around arbitrary plaintext: the inner parsers still only raise their own."""
    push = configpush.encrypt(
        configpush.pad(data) if data else b"\x00", KEY, configpush.DOMAIN_INFO
    )
    try:
        configpush.open_push(push, [KEY], configpush.DOMAIN_INFO)
    except configpush.ConfigDecryptError:
        pass
    try:
        message.decode_group_post([KEY], GROUP_PK, crypto.xchacha20_encrypt(KEY, data))
    except message.GroupMessageError:
        pass
    try:
        upd = pb.GroupUpdateMessage.FromString(data)
    except Exception:
        return
    try:
        control.read_control(upd)
    except control.ControlError:
        pass
