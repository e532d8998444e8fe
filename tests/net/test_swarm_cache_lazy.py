"""SwarmCache builds a cached swarm's nodes when it is first used; what it answers is unchanged."""

from __future__ import annotations

import json
from pathlib import Path

from sessioncli.net.cache import SWARMS, NetCache
from sessioncli.net.swarms import SwarmCache


def _node(i: int) -> dict[str, object]:
    return {
        "ip": f"10.0.{i}.1",
        "port": 22000 + i,
        "pubkey_ed25519": f"{i:064x}",
        "pubkey_x25519": f"{i + 100:064x}",
        "swarm_id": 7,
    }


def _sid(i: int) -> str:
    return f"05{i:064x}"


def test_entries_are_built_on_use_and_written_back_as_they_were(tmp_path: Path) -> None:
    cache = NetCache(tmp_path, "net")
    cache.dir.mkdir(parents=True)
    stored = {
        _sid(1): {"at_ms": 10, "nodes": [_node(1), _node(2), _node(3)]},
        _sid(2): {"at_ms": 20, "nodes": [{"ip": "junk"}]},  # damaged: never answered
        _sid(3): {"at_ms": 30, "nodes": [_node(4), _node(5), _node(6)]},
    }
    (cache.dir / SWARMS).write_text(json.dumps(stored))
    swarms = SwarmCache(cache)
    swarms.load()
    got = swarms.get(_sid(1))
    assert got is not None and [n.port for n in got] == [22001, 22002, 22003]
    assert swarms.get(_sid(2)) is None
    assert swarms.fresh(_sid(3), now_ms=31) is not None
    # a node forgotten before its swarm was ever used leaves that swarm too
    swarms.forget_node(f"{5:064x}")
    again = SwarmCache(cache)
    again.load()
    left = again.get(_sid(3))
    assert left is not None and [n.port for n in left] == [22004, 22006]
    assert [n.port for n in again.get(_sid(1)) or []] == [22001, 22002, 22003]
