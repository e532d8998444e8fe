"""Swarms worked out from the node pool: no get_swarm round trip, the same members, 421 still wins."""

from __future__ import annotations

import base64
import os
from pathlib import Path

from sessioncli.net.client import NetworkClient
from sessioncli.protocol.ids import Identity


def _get_swarms(stats: dict) -> int:
    return sum(v.get("methods", {}).get("get_swarm", 0) for v in stats.values())


def test_a_new_recipient_costs_no_get_swarm(devnet, tmp_path: Path) -> None:
    sids = [Identity.from_seed(os.urandom(16)).session_id for _ in range(3)]
    with NetworkClient(str(devnet.network_file), cache_root=tmp_path / "cache", timeout=20.0) as c:
        c.paths()  # bootstrap and build paths (guard probes are direct get_swarm requests)
        before = devnet.ctl("stats")
        for sid in sids:
            out = c.store(
                sid, base64.b64encode(b"x").decode(), ttl_ms=3_600_000, timestamp_ms=c.now_ms()
            )
            # one store: the whole computed swarm vouches for it, no redundancy store needed
            assert len(out.stored_on) >= 2 and out.requests == 1
        assert _get_swarms(devnet.ctl("stats")) == _get_swarms(before)
        # a computed swarm is not written to the cache file (the pool gives it again)
        swarms_file = next((tmp_path / "cache").glob("*/swarms.json"), None)
        written = swarms_file.read_text() if swarms_file is not None else ""
        assert not any(sid in written for sid in sids)
        computed = {sid: {n.pubkey_ed25519 for n in c.swarm(sid)} for sid in sids}
        for sid in sids:  # what the network says
            assert {n.pubkey_ed25519 for n in c.swarm(sid, refresh=True)} == computed[sid]
