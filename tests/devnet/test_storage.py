"""Storage RPC semantics of the devnet, driven directly (no onion) with requests built here."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path

import pytest
from nacl import bindings as sodium

from sessioncli.devnet import crypto
from sessioncli.devnet.topology import build, nearest_swarm, swarm_space
from tests.devnet.conftest import Net
from tests.devnet.wire import Account, now_ms, retrieve_params, rpc, spec_hash, store_params

STORAGE_VECTORS = json.loads(
    (
        Path(__file__).resolve().parents[1] / "data" / "session-storage-server_unit_tests.json"
    ).read_text()
)["entries"]


# -- pure rules, checked against the official vectors ------------------------------------------


def test_swarm_space_vectors() -> None:
    cases = [e for e in STORAGE_VECTORS if "swarm_space_u64" in e["expected"]]
    assert len(cases) >= 10
    for entry in cases:
        assert swarm_space(entry["inputs"]["pubkey"]) == entry["expected"]["swarm_space_u64"]


def test_nearest_swarm_vectors() -> None:
    entry = next(e for e in STORAGE_VECTORS if "cases" in e["inputs"])
    ids = entry["inputs"]["swarm_ids"]
    for case in entry["inputs"]["cases"]:
        assert nearest_swarm(swarm_space(case["pubkey"]), ids) == case["expected_swarm_id"]


def test_nearest_swarm_wraparound_vector() -> None:
    entry = next(e for e in STORAGE_VECTORS if "pubkey_tail_hex" in e["inputs"])
    ids = entry["inputs"]["swarm_ids"]
    for tail, want in zip(
        entry["inputs"]["pubkey_tail_hex"], entry["expected"]["swarm_ids"], strict=True
    ):
        pubkey = "05" + "00" * 31 + tail
        assert nearest_swarm(swarm_space(pubkey), ids) == want
    for tail, want in entry["expected"]["with_swarm_0_added"].items():
        pubkey = "05" + "00" * 24 + tail
        assert nearest_swarm(swarm_space(pubkey), [0, *ids]) == want


def test_message_hash_vector() -> None:
    entry = next(e for e in STORAGE_VECTORS if "hash" in e["expected"])
    inputs = entry["inputs"]
    account = bytes.fromhex(inputs["pubkey"])
    data = base64.b64decode(inputs["data_b64"])
    assert crypto.message_hash(account[0], account[1:], 0, data) == entry["expected"]["hash"]
    assert spec_hash(inputs["pubkey"], 0, data) == entry["expected"]["hash"]


def test_topology_is_deterministic_and_one_node_per_slash24() -> None:
    a = build("alpha", 15, 5, 2)
    assert [(s.ip, s.ed25519_hex, s.swarm_id) for s in a] == [
        (s.ip, s.ed25519_hex, s.swarm_id) for s in build("alpha", 15, 5, 2)
    ]
    subnets = {s.ip.rsplit(".", 1)[0] for s in a}
    assert len(subnets) == len(a)
    assert all(s.ip.startswith("127.") and s.ip.endswith(".1") for s in a)
    assert {s.ip for s in a}.isdisjoint({s.ip for s in build("beta", 15, 5, 2)})
    storage = [s for s in a if s.kind == "storage"]
    assert len({s.swarm_id for s in storage}) == 3
    for spec in storage:
        # X25519 key is the Ed25519 key converted, as on real nodes.
        assert spec.keys.x25519_pk == sodium.crypto_sign_ed25519_pk_to_curve25519(
            spec.keys.ed25519_pk
        )


# -- a running devnet --------------------------------------------------------------------------


@pytest.mark.slow
def test_store_reaches_every_member_and_is_signed_by_each(healthy: Net) -> None:
    account = Account.make("store-everywhere")
    members = healthy.swarm_of(account.session_id)
    assert len(members) == 5
    status, body = rpc(members[2], "store", store_params(account, b"hello swarm"))
    assert status == 200
    want = spec_hash(account.session_id, 0, b"hello swarm")
    assert body["hash"] == want
    assert isinstance(body["t"], int)
    assert body["hf"] == [19, 4]
    assert set(body["swarm"]) == {m["pubkey_ed25519"] for m in members}
    for ed_hex, result in body["swarm"].items():
        assert result["hash"] == want
        sig = base64.b64decode(result["signature"])
        sodium.crypto_sign_open(sig + want.encode(), bytes.fromhex(ed_hex))
    for member in members:
        status, got = rpc(member, "retrieve", retrieve_params(account))
        assert status == 200, member["id"]
        assert [m["hash"] for m in got["messages"]] == [want]
        assert base64.b64decode(got["messages"][0]["data"]) == b"hello swarm"
        assert set(got["messages"][0]) == {"hash", "timestamp", "expiration", "data"}
        assert got["more"] is False


@pytest.mark.slow
def test_duplicate_store_is_already(healthy: Net) -> None:
    account = Account.make("store-twice")
    member = healthy.swarm_of(account.session_id)[0]
    params = store_params(account, b"twice")
    assert rpc(member, "store", params)[0] == 200
    status, body = rpc(member, "store", params)
    assert status == 200
    assert body["swarm"][member["pubkey_ed25519"]]["already"] is True


@pytest.mark.slow
def test_non_member_answers_421_with_the_right_swarm(healthy: Net) -> None:
    account = Account.make("wrong-swarm")
    members = healthy.swarm_of(account.session_id)
    outsider = healthy.outsiders(account.session_id)[0]
    status, body = rpc(outsider, "store", store_params(account, b"x"))
    assert status == 421
    assert {s["pubkey_ed25519"] for s in body["snodes"]} == {m["pubkey_ed25519"] for m in members}
    assert body["swarm"] == members[0]["swarm"]
    snode = body["snodes"][0]
    assert snode["port"] == str(snode["port_https"])
    assert snode["address"].endswith(".snode")
    assert rpc(outsider, "retrieve", retrieve_params(account))[0] == 421


@pytest.mark.slow
def test_get_swarm_from_any_node(healthy: Net) -> None:
    account = Account.make("get-swarm")
    members = healthy.swarm_of(account.session_id)
    for node in healthy.nodes()[:3]:
        for method in ("get_swarm", "get_snodes_for_pubkey"):
            status, body = rpc(node, method, {"pubkey": account.session_id})
            assert status == 200
            assert {s["ip"] for s in body["snodes"]} == {m["ip"] for m in members}
            assert body["swarm"] == format(int(members[0]["swarm"], 16), "x")


@pytest.mark.slow
def test_signature_rules(healthy: Net) -> None:
    account = Account.make("sigs")
    member = healthy.swarm_of(account.session_id)[0]
    params = retrieve_params(account)
    params["signature"] = Account.make("someone else").sign(f"retrieve{params['timestamp']}")
    assert rpc(member, "retrieve", params)[0] == 401
    params = retrieve_params(account)
    del params["signature"]
    assert rpc(member, "retrieve", params) == (
        400,
        "invalid request: Required field 'signature' missing",
    )
    params = retrieve_params(account)
    params["pubkey_ed25519"] = Account.make("other").ed_pk.hex()
    assert rpc(member, "retrieve", params)[0] == 401
    # Namespace 2 is the owner's: signed store needed, signed string has the namespace.
    store = store_params(account, b"config", namespace=2)
    assert rpc(member, "store", store)[0] == 401
    ts = store["timestamp"]
    store.update(sig_timestamp=ts, **account.auth(f"store2{ts}"))
    assert rpc(member, "store", store)[0] == 200
    assert rpc(member, "retrieve", retrieve_params(account, namespace=2))[1]["messages"]


@pytest.mark.slow
def test_timestamps_out_of_window_are_406(healthy: Net) -> None:
    account = Account.make("clock")
    member = healthy.swarm_of(account.session_id)[0]
    assert rpc(member, "retrieve", retrieve_params(account, ts=now_ms() - 61_000))[0] == 406
    assert rpc(member, "retrieve", retrieve_params(account, ts=now_ms() + 61_000))[0] == 406
    future = store_params(account, b"x")
    future["timestamp"] += 30_000
    assert rpc(member, "store", future)[0] == 406
    expired = store_params(account, b"x", ttl=10_000)
    expired["timestamp"] -= 60_000
    assert rpc(member, "store", expired)[0] == 406


@pytest.mark.slow
def test_ttl_limits_are_403(healthy: Net) -> None:
    account = Account.make("ttl")
    member = healthy.swarm_of(account.session_id)[0]
    day = 24 * 3600 * 1000
    assert rpc(member, "store", store_params(account, b"x", ttl=9_999))[0] == 403
    assert rpc(member, "store", store_params(account, b"x", ttl=14 * day + 1))[0] == 403
    assert rpc(member, "store", store_params(account, b"y", ttl=14 * day))[0] == 200
    status, text = rpc(member, "store", store_params(account, b"z", ttl=5))
    assert (status, text) == (403, "Provided expiry/TTL is not valid.")


@pytest.mark.slow
def test_data_size_limit_is_400(healthy: Net) -> None:
    account = Account.make("big")
    member = healthy.swarm_of(account.session_id)[0]
    assert rpc(member, "store", store_params(account, b"\x00" * 76_800))[0] == 200
    assert rpc(member, "store", store_params(account, b"\x01" * 76_801))[0] == 400
    bad = store_params(account, b"x")
    bad["data"] = "not base64!"
    assert rpc(member, "store", bad)[0] == 400


@pytest.mark.slow
def test_parameter_checks_are_400(healthy: Net) -> None:
    account = Account.make("params")
    member = healthy.swarm_of(account.session_id)[0]
    assert rpc(member, "store", {**store_params(account, b"x"), "pubkey": "05abc"})[0] == 400
    assert rpc(member, "store", {**store_params(account, b"x"), "namespace": 40000})[0] == 400
    assert rpc(member, "nope", {})[0] == 400
    assert rpc(member, "retrieve", {**retrieve_params(account), "last_hash": "short"})[0] == 400
    assert rpc(member, "batch", {"requests": []})[0] == 400
    nested = {"requests": [{"method": "batch", "params": {"requests": []}}]}
    assert rpc(member, "batch", nested)[0] == 400


@pytest.mark.slow
def test_last_hash_paging(healthy: Net) -> None:
    account = Account.make("paging")
    member = healthy.swarm_of(account.session_id)[0]
    hashes = []
    for i in range(5):
        status, body = rpc(member, "store", store_params(account, f"message {i}".encode()))
        assert status == 200
        hashes.append(body["hash"])
    got: list[str] = []
    last = ""
    while True:
        status, body = rpc(
            member, "retrieve", retrieve_params(account, last_hash=last, max_count=2)
        )
        assert status == 200
        got += [m["hash"] for m in body["messages"]]
        if not body["more"]:
            break
        assert len(body["messages"]) == 2
        last = body["messages"][-1]["hash"]
    assert got == hashes
    # An unknown last_hash gives everything.
    status, body = rpc(member, "retrieve", retrieve_params(account, last_hash="A" * 43))
    assert [m["hash"] for m in body["messages"]] == hashes


@pytest.mark.slow
def test_delete_removes_from_every_member(healthy: Net) -> None:
    account = Account.make("delete")
    members = healthy.swarm_of(account.session_id)
    keep = rpc(members[0], "store", store_params(account, b"keep"))[1]["hash"]
    gone = rpc(members[0], "store", store_params(account, b"gone"))[1]["hash"]
    params = {"pubkey": account.session_id, "messages": [gone], **account.auth(f"delete{gone}")}
    status, body = rpc(members[1], "delete", params)
    assert status == 200
    assert all(r["deleted"] == [gone] for r in body["swarm"].values())
    for member in members:
        assert [
            m["hash"] for m in rpc(member, "retrieve", retrieve_params(account))[1]["messages"]
        ] == [keep]
    required = {**params, "required": True}
    assert rpc(members[1], "delete", required)[0] == 404


@pytest.mark.slow
def test_delete_all(healthy: Net) -> None:
    account = Account.make("delete-all")
    member = healthy.swarm_of(account.session_id)[0]
    rpc(member, "store", store_params(account, b"a"))
    rpc(member, "store", store_params(account, b"b"))
    ts = now_ms()
    params = {
        "pubkey": account.session_id,
        "namespace": 0,
        "timestamp": ts,
        **account.auth(f"delete_all{ts}"),
    }
    status, body = rpc(member, "delete_all", params)
    assert status == 200
    assert len(body["swarm"][member["pubkey_ed25519"]]["deleted"]) == 2
    assert rpc(member, "retrieve", retrieve_params(account))[1]["messages"] == []


@pytest.mark.slow
def test_expire_and_get_expiries(healthy: Net) -> None:
    account = Account.make("expire")
    members = healthy.swarm_of(account.session_id)
    h = rpc(members[0], "store", store_params(account, b"short lived", ttl=600_000))[1]["hash"]
    ts = now_ms()
    params = {
        "pubkey": account.session_id,
        "messages": [h],
        "timestamp": ts,
        **account.auth(f"get_expiries{ts}{h}"),
    }
    status, body = rpc(members[1], "get_expiries", params)
    assert status == 200
    assert body["expiries"][h] > ts
    expiry = now_ms() + 400
    params = {
        "pubkey": account.session_id,
        "messages": [h],
        "expiry": expiry,
        "shorten": True,
        **account.auth(f"expireshorten{expiry}{h}"),
    }
    status, body = rpc(members[0], "expire", params)
    assert status == 200
    assert all(r["updated"] == [h] for r in body["swarm"].values())
    time.sleep(0.5)
    for member in members:
        assert rpc(member, "retrieve", retrieve_params(account))[1]["messages"] == []
    past = now_ms() - 120_000
    stale = {**params, "expiry": past, **account.auth(f"expireshorten{past}{h}")}
    assert rpc(members[0], "expire", stale)[0] == 401


@pytest.mark.slow
def test_expired_messages_vanish_when_the_clock_passes_them(healthy: Net) -> None:
    account = Account.make("ttl-clock")
    member = healthy.swarm_of(account.session_id)[0]
    assert rpc(member, "store", store_params(account, b"ephemeral", ttl=10_000))[0] == 200
    healthy.devnet.clock(member["id"], 30)
    ts = now_ms() + 30_000
    status, body = rpc(member, "retrieve", retrieve_params(account, ts=ts))
    assert status == 200
    assert body["messages"] == []
    assert body["t"] >= ts - 1000


@pytest.mark.slow
def test_batch_and_sequence(healthy: Net) -> None:
    account = Account.make("batch")
    member = healthy.swarm_of(account.session_id)[0]
    requests = [
        {"method": "store", "params": store_params(account, b"one")},
        {
            "method": "retrieve",
            "params": {**retrieve_params(account), "signature": Account.make("x").sign("x")},
        },
        {"method": "info", "params": {}},
    ]
    status, body = rpc(member, "batch", {"requests": requests})
    assert status == 200
    assert [r["code"] for r in body["results"]] == [200, 401, 200]
    assert body["results"][0]["body"]["hash"] == spec_hash(account.session_id, 0, b"one")
    status, body = rpc(member, "sequence", {"requests": requests})
    assert [r["code"] for r in body["results"]] == [200, 401]


@pytest.mark.slow
def test_info_and_oxend_request(healthy: Net) -> None:
    node = healthy.nodes()[0]
    status, body = rpc(node, "info", {})
    assert status == 200
    assert body["version"] == [2, 8, 0]
    params = {
        "endpoint": "get_service_nodes",
        "params": {"active_only": True, "fields": {"public_ip": True, "storage_port": True}},
    }
    status, body = rpc(node, "oxend_request", params)
    assert status == 200
    states = body["result"]["service_node_states"]
    assert len(states) == len(healthy.nodes())
    assert set(states[0]) == {"public_ip", "storage_port"}


@pytest.mark.slow
def test_delete_before(healthy: Net) -> None:
    account = Account.make("delete-before")
    member = healthy.swarm_of(account.session_id)[0]
    old = store_params(account, b"old")
    old["timestamp"] -= 5_000
    old_hash = rpc(member, "store", old)[1]["hash"]
    new_hash = rpc(member, "store", store_params(account, b"new"))[1]["hash"]
    before = now_ms() - 2_000
    params = {
        "pubkey": account.session_id,
        "namespace": 0,
        "before": before,
        **account.auth(f"delete_before{before}"),
    }
    status, body = rpc(member, "delete_before", params)
    assert status == 200
    assert body["swarm"][member["pubkey_ed25519"]]["deleted"] == [old_hash]
    remaining = rpc(member, "retrieve", retrieve_params(account))[1]["messages"]
    assert [m["hash"] for m in remaining] == [new_hash]
    future = now_ms() + 120_000
    params = {
        "pubkey": account.session_id,
        "before": future,
        **account.auth(f"delete_before{future}"),
    }
    assert rpc(member, "delete_before", params)[0] == 401


def test_purge_removes_expired_rows(tmp_path: Path) -> None:
    from sessioncli.devnet.store import MessageStore

    store = MessageStore(tmp_path / "n.sqlite")
    try:
        store.store("05" + "00" * 32, 0, "a" * 43, 1_000, 2_000, b"x")
        store.store("05" + "00" * 32, 0, "b" * 43, 1_000, 9_000, b"y")
        assert store.purge_expired(5_000) == 1
        assert store.count() == 1
    finally:
        store.close()
    reopened = MessageStore(tmp_path / "n.sqlite")
    try:
        assert reopened.count() == 1  # durable across a reopen, as `up` after a stop needs
    finally:
        reopened.close()


def test_a_store_file_is_held_by_its_node_and_survives_a_kill(tmp_path: Path) -> None:
    import sqlite3
    import subprocess
    import sys

    path = tmp_path / "n.sqlite"
    # A process that stores two messages (one twice) and dies without closing anything.
    script = (
        "import os, sys\n"
        "from pathlib import Path\n"
        "from sessioncli.devnet.store import MessageStore\n"
        "s = MessageStore(Path(sys.argv[1]))\n"
        "s.store('05' + '00' * 32, 0, 'a' * 43, 1_000, 2_000, b'x')\n"
        "assert s.store('05' + '00' * 32, 0, 'a' * 43, 1_000, 5_000, b'x') == (5_000, True)\n"
        "s.store('05' + '00' * 32, 0, 'b' * 43, 1_000, 9_000, b'y')\n"
        "os._exit(0)\n"
    )
    subprocess.run([sys.executable, "-c", script, str(path)], check=True)
    from sessioncli.devnet.store import MessageStore

    store = MessageStore(path)
    try:
        assert store.count() == 2
        assert store.expiries("05" + "00" * 32, ["a" * 43], 0) == {"a" * 43: 5_000}
        # Only the node's own connection uses the file while it runs (no per-transaction locks).
        other = sqlite3.connect(path, timeout=0)
        try:
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("SELECT COUNT(*) FROM messages").fetchone()
        finally:
            other.close()
    finally:
        store.close()
