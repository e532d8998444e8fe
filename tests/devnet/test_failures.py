"""Nodes that crash, hang, run a wrong clock or misbehave, as the control verbs make them."""

from __future__ import annotations

import http.client
import json
import socket
import ssl
import time

import pytest

from tests.devnet.conftest import Net
from tests.devnet.wire import (
    UNVERIFIED,
    Account,
    build_onion,
    now_ms,
    open_reply,
    post,
    retrieve_params,
    rpc,
    store_params,
)

pytestmark = pytest.mark.slow


def _seed_states(net: Net, active_only: bool) -> list[dict[str, object]]:
    seed = net.node("seed0")
    body = {"method": "get_n_service_nodes", "params": {"active_only": active_only}}
    status, answer = post(seed, "/json_rpc", json.dumps(body).encode())
    assert status == 200
    states = json.loads(answer)["result"]["service_node_states"]
    assert isinstance(states, list)
    return states


def test_down_refuses_connections_and_up_brings_messages_back(healthy: Net) -> None:
    account = Account.make("down-up")
    members = healthy.swarm_of(account.session_id)
    victim = members[1]
    stored = rpc(members[0], "store", store_params(account, b"survives a crash"))[1]["hash"]

    kept = http.client.HTTPSConnection(victim["ip"], victim["port"], timeout=5, context=UNVERIFIED)
    kept.request("POST", "/storage_rpc/v1", body=json.dumps({"method": "info", "params": {}}))
    assert kept.getresponse().read()

    healthy.devnet.down([victim["id"]])
    assert healthy.node(victim["id"])["state"] == "down"
    with pytest.raises((ConnectionError, http.client.HTTPException, OSError)):
        kept.request("POST", "/storage_rpc/v1", body=json.dumps({"method": "info", "params": {}}))
        kept.getresponse().read()
    kept.close()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((victim["ip"], victim["port"]), timeout=2).close()

    # The swarm still takes stores; the crashed member is reported failed.
    status, body = rpc(members[0], "store", store_params(account, b"while down"))
    assert status == 200
    assert body["swarm"][victim["pubkey_ed25519"]]["failed"] is True
    assert victim["ip"] not in {s["public_ip"] for s in _seed_states(healthy, True)}
    inactive = [
        s for s in _seed_states(healthy, False) if s["pubkey_ed25519"] == victim["pubkey_ed25519"]
    ]
    assert inactive[0]["public_ip"] == "0.0.0.0"

    healthy.devnet.up([victim["id"]])
    assert healthy.node(victim["id"])["port"] == victim["port"]
    status, body = rpc(victim, "retrieve", retrieve_params(account))
    assert status == 200
    assert stored in [m["hash"] for m in body["messages"]]


def test_down_and_up_take_several_nodes(healthy: Net) -> None:
    ids = [n["id"] for n in healthy.nodes()[:3]]
    healthy.devnet.down(ids)
    assert {
        n["id"]: n["state"] for n in healthy.devnet.describe_nodes() if n["id"] in ids
    } == dict.fromkeys(ids, "down")
    healthy.devnet.up(ids)
    assert all(rpc(healthy.node(i), "info", {})[0] == 200 for i in ids)


def test_hang_accepts_tcp_but_never_answers(healthy: Net) -> None:
    account = Account.make("hang")
    members = healthy.swarm_of(account.session_id)
    victim = members[2]
    kept = http.client.HTTPSConnection(victim["ip"], victim["port"], timeout=1, context=UNVERIFIED)
    kept.request("POST", "/storage_rpc/v1", body=json.dumps({"method": "info", "params": {}}))
    assert kept.getresponse().read()

    healthy.devnet.hang([victim["id"]])
    raw = socket.create_connection((victim["ip"], victim["port"]), timeout=2)  # TCP still accepted
    raw.settimeout(0.5)
    with pytest.raises((TimeoutError, ssl.SSLError, OSError)):
        UNVERIFIED.wrap_socket(raw).do_handshake()
    raw.close()
    with pytest.raises(TimeoutError):
        kept.request("POST", "/storage_rpc/v1", body=json.dumps({"method": "info", "params": {}}))
        kept.getresponse()
    kept.close()

    status, body = rpc(members[0], "store", store_params(account, b"while hung"))
    assert status == 200
    assert body["swarm"][victim["pubkey_ed25519"]] == {"failed": True, "timeout": True}

    others = [n for n in healthy.nodes() if n["id"] != victim["id"]]
    onion, _ = build_onion(
        [others[0], victim, others[1]], others[2], {"method": "info", "params": {}}
    )
    assert post(others[0], "/onion_req/v2", onion) == (504, b"Request time out")

    healthy.devnet.up([victim["id"]])
    assert rpc(victim, "info", {})[0] == 200


def test_clock_skew_moves_t_and_the_signature_window(healthy: Net) -> None:
    account = Account.make("skew")
    member = healthy.swarm_of(account.session_id)[0]
    healthy.devnet.clock(member["id"], 120)
    status, body = rpc(member, "info", {})
    assert status == 200
    assert abs(body["t"] - (now_ms() + 120_000)) < 5_000
    assert rpc(member, "retrieve", retrieve_params(account))[0] == 406
    assert rpc(member, "retrieve", retrieve_params(account, ts=now_ms() + 120_000))[0] == 200
    healthy.devnet.clock(member["id"], 0)
    assert rpc(member, "retrieve", retrieve_params(account))[0] == 200


def test_fault_garbage(healthy: Net) -> None:
    node = healthy.nodes()[0]
    healthy.devnet.fault(node["id"], "garbage")
    status, body = post(node, "/storage_rpc/v1", b'{"method":"info","params":{}}')
    assert status == 200
    assert len(body) == 512
    with pytest.raises(ValueError):
        json.loads(body)


def test_fault_truncate(healthy: Net) -> None:
    node = healthy.nodes()[0]
    healthy.devnet.fault(node["id"], "truncate")
    with pytest.raises(http.client.IncompleteRead):
        post(node, "/storage_rpc/v1", b'{"method":"info","params":{}}')


def test_fault_oversize(healthy: Net) -> None:
    node = healthy.nodes()[0]
    healthy.devnet.fault(node["id"], "oversize")
    status, body = post(node, "/storage_rpc/v1", b'{"method":"info","params":{}}')
    assert status == 200
    assert len(body) >= 20 * 1024 * 1024


@pytest.mark.parametrize(
    "mode,status,text",
    [("relay502", 502, "Next node not found: {next}"), ("relay504", 504, "Request time out")],
)
def test_relay_faults(healthy: Net, mode: str, status: int, text: str) -> None:
    guard, relay, last, target = healthy.nodes()[:4]
    healthy.devnet.fault(relay["id"], mode)
    onion, _ = build_onion([guard, relay, last], target, {"method": "info", "params": {}})
    assert post(guard, "/onion_req/v2", onion) == (
        status,
        text.format(next=last["pubkey_ed25519"]).encode(),
    )
    # As a final hop the node still serves.
    onion, key = build_onion([guard, last], relay, {"method": "info", "params": {}})
    status_code, answer = post(guard, "/onion_req/v2", onion)
    assert status_code == 200
    assert open_reply("aes-gcm", key, answer)["status"] == 200


def test_fault_stale421(healthy: Net) -> None:
    account = Account.make("stale")
    members = healthy.swarm_of(account.session_id)
    stale = members[0]
    healthy.devnet.fault(stale["id"], "stale421")
    status, body = rpc(stale, "store", store_params(account, b"x"))
    assert status == 421
    named = {s["pubkey_ed25519"] for s in body["snodes"]}
    assert named == {m["pubkey_ed25519"] for m in members[1:]}
    path = healthy.outsiders(account.session_id)[:3]
    onion, key = build_onion(
        path, stale, {"method": "retrieve", "params": retrieve_params(account)}
    )
    status, answer = post(path[0], "/onion_req/v2", onion)
    assert status == 200
    assert open_reply("aes-gcm", key, answer)["status"] == 421
    healthy.devnet.fault(stale["id"], "none")
    assert rpc(stale, "store", store_params(account, b"x"))[0] == 200


def test_stats_count_requests_per_endpoint(healthy: Net) -> None:
    node = healthy.nodes()[5]
    before = healthy.devnet.stats()[node["id"]]["requests"].get("/storage_rpc/v1", 0)
    for _ in range(3):
        rpc(node, "info", {})
    after = healthy.devnet.stats()[node["id"]]
    assert after["requests"]["/storage_rpc/v1"] == before + 3
    assert after["methods"]["info"] >= 3


def test_unknown_node_and_fault_are_refused(healthy: Net) -> None:
    from sessioncli.devnet import DevnetUsageError

    with pytest.raises(DevnetUsageError):
        healthy.devnet.down(["n99"])
    with pytest.raises(DevnetUsageError):
        healthy.devnet.fault("n0", "explode")


def test_restart_does_not_wait_on_a_slow_client(healthy: Net) -> None:
    # A client that connects and sends nothing must not block other clients of the same node.
    node = healthy.nodes()[0]
    idle = socket.create_connection((node["ip"], node["port"]), timeout=2)
    try:
        start = time.monotonic()
        assert rpc(node, "info", {})[0] == 200
        assert time.monotonic() - start < 1.0
    finally:
        idle.close()


def test_up_takes_a_new_port_when_the_old_one_is_busy(healthy: Net) -> None:
    node = healthy.nodes()[4]
    healthy.devnet.down([node["id"]])
    squatter = socket.socket()
    squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    squatter.bind((node["ip"], node["port"]))
    squatter.listen()
    try:
        (moved,) = healthy.devnet.up([node["id"]])
        assert moved["port"] != node["port"]
        assert rpc(moved, "info", {})[0] == 200
    finally:
        squatter.close()
