"""The community store (core/communities.py): one namespace with contacts, damaged files refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sessioncli import state
from sessioncli.core import communities, contacts, names, recipients
from sessioncli.errors import ConfigError, UsageError

URL = "https://open.example.org/lobby?public_key=" + "ab" * 32
SID = "05" + "cd" * 32


def _write(entries: list[dict]) -> Path:
    path = communities.communities_path()
    state.ensure_dir(path.parent)
    path.write_text(json.dumps({"version": 1, "communities": entries}))
    return path


def _entry(name: str = "Lobby", url: str = URL) -> dict:
    return {
        "name": name,
        "url": url,
        "room_name": "The Lobby",
        "capabilities": ["blind", "sogs"],
        "start_seqno": 7,
        "added_ms": 1,
    }


def test_names_are_shared_with_contacts(private_dirs: Path) -> None:
    _write([_entry()])
    target = names.lookup("lobby")
    assert (target.source, target.address, target.name) == ("community", URL, "Lobby")
    assert recipients.parse_target("LOBBY").source == "community"
    with pytest.raises(UsageError, match="already used by a community"):
        contacts.add("lobby", SID)
    contacts.add("ops", SID)
    with pytest.raises(UsageError, match="already used by a contact"):
        communities._check_free("OPS", "https://x/y?public_key=" + "00" * 32)
    with pytest.raises(UsageError, match="already joined"):
        communities._check_free("other", URL)
    blinded = recipients.parse_target("15" + "ef" * 32, via="lobby")
    assert (blinded.source, blinded.via) == ("community_dm", "Lobby")
    with pytest.raises(UsageError, match="is not a community"):
        recipients.parse_target("15" + "ef" * 32, via="ops")


def test_show_list_remove(private_dirs: Path) -> None:
    _write([_entry(), _entry("b", URL.replace("lobby", "b"))])
    assert [c.name for c in communities.list_communities()] == ["b", "Lobby"]
    shown = communities.get("LOBBY").to_json()
    assert shown["room"] == "lobby" and shown["blinded"] and shown["start_seqno"] == 7
    assert shown["server"] == "https://open.example.org"
    assert communities.remove("lobby").name == "Lobby"
    assert names.owner("lobby") is None
    with pytest.raises(UsageError, match="unknown community"):
        communities.remove("lobby")


@pytest.mark.parametrize(
    "text",
    [
        "{",
        '{"communities": [{"name": "x"}]}',
        json.dumps({"communities": [_entry(url="https://h/r?public_key=12")]}),
        json.dumps({"communities": [{**_entry(), "start_seqno": "seven"}]}),
    ],
)
def test_a_damaged_file_is_refused_not_rewritten(private_dirs: Path, text: str) -> None:
    path = _write([])
    path.write_text(text)
    with pytest.raises(ConfigError, match="damaged"):
        communities.list_communities()
    assert path.read_text() == text
