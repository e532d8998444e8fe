"""Fuzzing the files we read: network, contacts, config and receive state fail cleanly or recover."""

from __future__ import annotations

import json
import os
import shutil
import string
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sessioncli.core import contacts, settings
from sessioncli.core.conversations import ConversationStore
from sessioncli.core.receive import Receiver, ReceiveState
from sessioncli.errors import ConfigError, UsageError
from sessioncli.net import networks
from sessioncli.protocol import message as m
from sessioncli.protocol.ids import Identity
from tests.conftest import CANARY_SEED_HEX, cli_env, run_cli
from tests.fuzz._fuzz import deep, deep_text, fuzz, json_values
from tests.hostile.fakenet import FakeNet, stored

ALICE = Identity.from_seed(bytes.fromhex("0123456789abcdef0123456789abcdef"))
BOB = Identity.from_seed(bytes.fromhex("00112233445566778899aabbccddeeff"))
SID = BOB.session_id
CERT_PEM = """-----BEGIN CERTIFICATE-----
MIIBfjCCASSgAwIBAgIUR1a0j+vGxOmX7wYq7BJCL+1dvEMwCgYIKoZIzj0EAwIw
-----END CERTIFICATE-----
"""
PATHOLOGICAL_JSON = [
    deep_text(100_000),
    '{"name":' + deep_text(100_000) + "}",
    "1" * 5000,
    '{"name":"x","seeds":[],"n":' + "9" * 5000 + "}",
    "Infinity",
    "NaN",
    '"\\ud800"',
    "\ufeff{}",
]


@pytest.fixture
def scratch() -> Any:
    with tempfile.TemporaryDirectory() as d:
        yield Path(d)


def write(path: Path, content: bytes | str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(
        content.encode("utf-8", "surrogatepass") if isinstance(content, str) else content
    )


def any_content(shape: Any) -> st.SearchStrategy[bytes | str]:
    """Random bytes, random text, random JSON, or JSON shaped like the real file."""
    return (
        st.binary(max_size=300)
        | st.text(max_size=200)
        | json_values().map(json.dumps)
        | shape.map(json.dumps)
    )


# --- network files ---------------------------------------------------------------------------

_seed = st.fixed_dictionaries(
    {},
    optional={
        "url": st.sampled_from(["https://127.0.0.1:1", "http://h:1", "ftp://x", "https://", "x"])
        | json_values(3),
        "cert_pem": st.sampled_from([CERT_PEM, "", "-----BEGIN CERTIFICATE-----\né\n"])
        | json_values(3),
    },
)
network_shape = st.fixed_dictionaries(
    {},
    optional={
        "name": st.sampled_from(["dev", "", ".", "mainnet", "a" * 65, "bad/name"]) | json_values(3),
        "seeds": st.lists(_seed | json_values(3), max_size=3) | json_values(3),
    },
)


def load_network_or_config_error(path: Path) -> None:
    try:
        cfg = networks.load_network_file(path)
    except ConfigError as exc:
        assert str(path) in exc.message
    else:
        assert cfg.name and cfg.seeds
    try:
        key = settings.network_key(str(path))
    except ConfigError:
        pass
    else:
        assert key and all(c in string.ascii_letters + string.digits + "._-" for c in key)


@fuzz(600)
@given(content=any_content(network_shape))
def test_network_file(scratch: Path, content: bytes | str) -> None:
    path = scratch / "network.json"
    write(path, content)
    load_network_or_config_error(path)


@pytest.mark.parametrize("text", PATHOLOGICAL_JSON)
def test_network_file_pathological_json(scratch: Path, text: str) -> None:
    path = scratch / "network.json"
    write(path, text)
    load_network_or_config_error(path)


@fuzz(200)
@given(value=st.text(max_size=40))
def test_network_names_on_the_command_line(value: str) -> None:
    """Any --network value: a config, a usage error (exit 2) or a config error (exit 78)."""
    if value in ("", "mainnet"):
        return  # the real mainnet config; its bundled certificates are tested elsewhere
    try:
        networks.resolve_network(value)
    except (UsageError, ConfigError):
        pass


# --- contacts.json ---------------------------------------------------------------------------

contact_shape = st.fixed_dictionaries(
    {},
    optional={
        "version": json_values(2),
        "contacts": st.lists(
            st.fixed_dictionaries(
                {},
                optional={
                    "name": st.sampled_from(["ops", "", "a b", "05" + "0" * 64]) | json_values(2),
                    "session_id": st.sampled_from([SID, SID.upper(), "05", ""]) | json_values(2),
                    "added_ms": st.sampled_from([0, -1, 2**80, 1.5, 1e308, "12", "9" * 5000])
                    | json_values(2),
                },
            )
            | json_values(2),
            max_size=3,
        )
        | json_values(3),
    },
)


def contacts_or_config_error() -> None:
    try:
        found = contacts.list_contacts()
    except ConfigError as exc:
        assert "damaged" in exc.message
        with pytest.raises(ConfigError):
            contacts.add("newname", SID)  # never rewrites a file it cannot read
    else:
        assert all(isinstance(c.added_ms, int) for c in found)
    assert contacts.name_for(SID) is None or isinstance(contacts.name_for(SID), str)
    try:
        contacts.resolve_recipient("ops")
    except (UsageError, ConfigError):
        pass


@fuzz(600)
@given(content=any_content(contact_shape))
def test_contacts_file(content: bytes | str) -> None:
    write(contacts.contacts_path(), content)
    contacts_or_config_error()


@pytest.mark.parametrize(
    "text",
    [
        *PATHOLOGICAL_JSON,
        '{"contacts":[{"name":"ops","session_id":"' + SID + '","added_ms":Infinity}]}',
        '{"contacts":[{"name":"ops","session_id":"' + SID + '","added_ms":-Infinity}]}',
        '{"contacts":[{"name":"ops","session_id":"' + SID + '","added_ms":1e400}]}',
        '{"contacts":[{"name":"ops","session_id":"' + SID + '","added_ms":NaN}]}',
        '{"contacts":{"name":"ops"}}',
        '{"contacts":"ops"}',
    ],
)
def test_contacts_file_pathological(text: str) -> None:
    write(contacts.contacts_path(), text)
    contacts_or_config_error()


# --- config.toml -----------------------------------------------------------------------------

_toml_key = st.sampled_from(["network", "display_name", "ttl", "proxy", "timeout", "bogus", "a.b"])
_toml_value = st.sampled_from(
    ['"1h"', '"30d"', '""', "0", "-1", "1e999", "inf", "nan", "true", "[]", "{}", '"x"', "1979-05-27",
     "'''\n'''", '"\\ud800"', '"\\u0000"', "0x10", "9" * 5000]
)  # fmt: skip
toml_like = st.lists(
    st.builds(lambda k, v: f"{k} = {v}", _toml_key, _toml_value)
    | st.sampled_from(
        ["[section]", "[[array]]", "# comment", "key", "=", "\x00", "a = [[[[", '"""']
    )
    | st.text(max_size=40),
    max_size=6,
).map("\n".join)


def config_or_config_error(path: Path) -> None:
    try:
        cfg = settings.load_config(path)
    except ConfigError as exc:
        assert str(path) in exc.message and "\n" not in exc.message
    else:
        assert isinstance(cfg, settings.Config)


@fuzz(800)
@given(content=toml_like | st.text(max_size=200) | st.binary(max_size=200))
def test_config_file(scratch: Path, content: bytes | str) -> None:
    path = scratch / "config.toml"
    write(path, content)
    config_or_config_error(path)


@pytest.mark.parametrize(
    "text",
    [
        "a = " + "[" * 100_000,
        "a = " + "{b = " * 100_000,
        "timeout = " + "9" * 5000,
        "x = 1\n" * 2000,
    ],
    ids=["deep-array", "deep-table", "huge-int", "many-lines"],
)
def test_config_file_pathological(scratch: Path, text: str) -> None:
    path = scratch / "config.toml"
    write(path, text)
    config_or_config_error(path)


@pytest.mark.parametrize(
    "content",
    [b"\xff\xfe\x00garbage", b"network = [", b"timeout = -1", b"a = " + b"[" * 100_000],
    ids=["binary", "unterminated", "bad-value", "deep"],
)
def test_config_file_from_the_cli(private_dirs: Path, content: bytes) -> None:
    """A broken config.toml is exit 78 with one line naming the file; never a traceback."""
    write(private_dirs / "config" / "config.toml", content)
    env = cli_env(private_dirs, SESSIONCLI_IDENTITY=CANARY_SEED_HEX)
    res = run_cli(["receive"], private_dirs, env=env)
    assert res.returncode == 78, res.stderr
    assert "config.toml" in res.stderr
    assert "Traceback" not in res.stderr and "internal error" not in res.stderr


# --- receive state ---------------------------------------------------------------------------

STORED = [
    stored(
        f"hash{i}",
        m.encode_dm(
            ALICE, SID, m.build_text_content(f"m{i}", 1_700_000_000_000 + i), 1_700_000_000_000 + i
        ),
    )
    for i in range(4)
]

receive_shape = st.fixed_dictionaries(
    {},
    optional={
        "version": json_values(2),
        "cursors": st.dictionaries(
            st.text(max_size=70),
            st.sampled_from(["hash1", "hash9", ""]) | json_values(2),
            max_size=3,
        )
        | json_values(3),
        "seen": st.dictionaries(
            st.sampled_from(["hash0", "hash1", "x"]) | st.text(max_size=10),
            json_values(2),
            max_size=3,
        )
        | json_values(3),
    },
)
journal_like = st.lists(
    st.builds(
        lambda h, e: f"{h}\t{e}",
        st.sampled_from(["hash0", "hash2", "", "\t"]) | st.text(max_size=8),
        st.sampled_from(["1", "0", "-1", "9" * 5000, "١٢", "²", "x"])
        | st.integers(0, 2**80).map(str),
    )
    | st.text(max_size=30),
    max_size=5,
).map(lambda lines: "\n".join(lines) + "\n")


def run_receiver(folder: Path, net: FakeNet) -> list[str]:
    got: list[str] = []
    receiver = Receiver(BOB, net, folder)  # type: ignore[arg-type]
    try:
        receiver.poll(lambda r: got.append(r.hash))
    finally:
        receiver.close()
    assert len(got) == len(set(got)), "a message was shown twice in one run"
    return got


@fuzz(200)
@given(
    state=any_content(receive_shape) | st.none(),
    journal=journal_like | st.binary(max_size=200) | st.none(),
    conversations=any_content(st.fixed_dictionaries({"peers": json_values(3)})) | st.none(),
)
def test_damaged_receive_state(
    scratch: Path, state: bytes | str | None, journal: bytes | str | None, conversations: Any
) -> None:
    """After any damage: no crash; the next run re-shows nothing new or starts over; then quiet."""
    folder = scratch / "state" / str(len(os.listdir(scratch)))
    net = FakeNet(messages=list(STORED), page=3)
    assert run_receiver(folder, net) == [s.hash for s in STORED]
    if state is not None:
        write(folder / "receive.json", state)
    if journal is not None:
        write(folder / "seen.journal", journal)
    if conversations is not None:
        write(folder / "conversations.json", conversations)
    again = run_receiver(folder, net)
    assert set(again) <= {s.hash for s in STORED}
    assert run_receiver(folder, net) == []
    json.loads((folder / "receive.json").read_text())
    shutil.rmtree(folder)


@pytest.mark.parametrize(
    ("state", "journal"),
    [
        (deep_text(100_000), None),
        ('{"seen":{"hash0":' + "9" * 5000 + "}}", None),
        ('{"seen":{"hash0":1e999},"cursors":{"a":1e999}}', None),
        (None, "hash0\t" + "9" * 5000 + "\n"),
        (None, "hash0\t" + "9" * 4000 + "\n"),
        (None, "\x00" * 1000),
        (json.dumps({"cursors": deep(500)}), "hash0\t1\nhash0\t2\n"),
    ],
    ids=[
        "deep",
        "huge-seen",
        "inf",
        "journal-5000-digits",
        "journal-4000-digits",
        "nul",
        "deep-cursors",
    ],
)
def test_pathological_receive_state(scratch: Path, state: str | None, journal: str | None) -> None:
    folder = scratch / "state"
    net = FakeNet(messages=list(STORED))
    run_receiver(folder, net)
    if state is not None:
        write(folder / "receive.json", state)
    if journal is not None:
        write(folder / "seen.journal", journal)
    st_ = ReceiveState(folder)
    st_.load()
    assert set(run_receiver(folder, net)) <= {s.hash for s in STORED}
    assert run_receiver(folder, net) == []


@pytest.mark.parametrize(
    "text",
    [
        *PATHOLOGICAL_JSON,
        '{"peers":[]}',
        '{"peers":"x"}',
        '{"peers":{"05":{"last_sent_ms":1e999}}}',
    ],
)
def test_damaged_conversations_file(scratch: Path, text: str) -> None:
    """conversations.json is bookkeeping: damage resets it, never costs a message or a send."""
    store = ConversationStore(scratch)
    write(store.path, text)
    assert isinstance(store.all(), dict)
    store.note_received(SID, 5, approval=False)
    assert store.get(SID).approved_us
