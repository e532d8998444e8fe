"""Swarm-space maths against the storage-server unit-test vectors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sessioncli.protocol import snode, swarm

DATA = Path(__file__).resolve().parent.parent / "data"
ENTRIES = json.loads((DATA / "session-storage-server_unit_tests.json").read_text())["entries"]


@pytest.mark.parametrize("e", [e for e in ENTRIES if "swarm_space_u64" in e["expected"]])
def test_swarm_space(e):
    assert swarm.swarm_space(e["inputs"]["pubkey"]) == e["expected"]["swarm_space_u64"]


def test_nearest_swarm_cases():
    e = next(e for e in ENTRIES if "cases" in e["inputs"])
    ids = e["inputs"]["swarm_ids"]
    for case in e["inputs"]["cases"]:
        assert (
            swarm.nearest_swarm(swarm.swarm_space(case["pubkey"]), ids) == case["expected_swarm_id"]
        ), case


def test_nearest_swarm_wrapping():
    e = next(e for e in ENTRIES if "pubkey_tail_hex" in e["inputs"])
    ids = e["inputs"]["swarm_ids"]
    for tail, want in zip(e["inputs"]["pubkey_tail_hex"], e["expected"]["swarm_ids"], strict=True):
        pk = "05" + "0" * (64 - len(tail)) + tail
        assert swarm.nearest_swarm(swarm.swarm_space(pk), ids) == want
    ids0 = [0, *ids]
    for tail, want in e["expected"]["with_swarm_0_added"].items():
        pk = "05" + "0" * (64 - len(tail)) + tail
        assert swarm.nearest_swarm(swarm.swarm_space(pk), ids0) == want


def test_swarm_members_skips_decommissioned():
    mk = lambda i, s: snode.Node(f"10.0.{i}.1", 443, f"{i:064x}", f"{i:064x}", s)  # noqa: E731
    nodes = [mk(1, 100), mk(2, 100), mk(3, 200), mk(4, snode.MAX_SWARM_ID), mk(5, None)]
    pk = "05" + "0" * 62 + "c8"
    assert [n.ip for n in swarm.swarm_members(pk, nodes)] == ["10.0.3.1"]
