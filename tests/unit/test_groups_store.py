"""The group index (names, damage) and the sealed per-group state (format, wrong identity, rename)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sessioncli import state
from sessioncli.core import contacts, group_store, names
from sessioncli.core.group_store import GroupSecrets
from sessioncli.errors import ConfigError, UsageError

GID = "03" + "ab" * 32
SEED = bytes(range(32))


def test_names_are_shared_with_contacts() -> None:
    group_store.register("Team", GID)
    assert names.lookup("team").source == "group" and names.lookup("TEAM").address == GID
    assert names.group_by_id(GID).name == "Team"
    with pytest.raises(UsageError, match="already used"):
        contacts.add("team", "05" + "11" * 32)
    contacts.add("bob", "05" + "22" * 32)
    with pytest.raises(UsageError, match="already used"):
        group_store.register("BOB", "03" + "cd" * 32)
    assert group_store.entry_for(GID).name == "Team"
    assert group_store.unregister(GID) is not None and group_store.lookup_name("team") is None


def test_free_name() -> None:
    group_store.register("alerts", GID)
    assert group_store.free_name("alerts") == "alerts-2"
    assert group_store.free_name("CI alerts, prod") == "CI-alerts--prod"
    assert group_store.free_name("@@x") == "x"
    assert group_store.free_name("") == "group"
    assert group_store.free_name("03" + "00" * 32) == "03" + "00" * 29 + "-2"  # never an id


def test_damaged_index_is_refused() -> None:
    path = group_store.index_path()
    state.ensure_dir(path.parent)
    path.write_text('{"groups": [{"name": "x", "group_id": "05nope", "added_ms": 1}]}')
    with pytest.raises(ConfigError, match="damaged"):
        group_store.list_entries()


def test_sealed_state_round_trip_and_refusals(tmp_path: Path) -> None:
    s = GroupSecrets(GID, "joined", name="Team", group_seed=b"\x01" * 32, keys_dump=b"kd")
    group_store.save(tmp_path, SEED, s)
    assert group_store.load(tmp_path, SEED, GID) == s
    assert group_store.state_path(tmp_path, GID).stat().st_mode & 0o777 == 0o600
    assert b"\x01" * 32 not in group_store.state_path(tmp_path, GID).read_bytes()
    with pytest.raises(ConfigError, match="cannot be read with this identity"):
        group_store.load(tmp_path, bytes(32), GID)
    other = "03" + "ef" * 32  # a sealed file renamed to another group's name is refused
    group_store.state_path(tmp_path, GID).rename(group_store.state_path(tmp_path, other))
    with pytest.raises(ConfigError):
        group_store.load(tmp_path, SEED, other)
    assert group_store.load(tmp_path, SEED, GID) is None
    assert group_store.delete(tmp_path, other) and not group_store.delete(tmp_path, other)
