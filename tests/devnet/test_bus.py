"""The node bus (in-process node-to-node requests): taken between a devnet's own nodes, and
indistinguishable from the HTTPS path it replaces in every way a host can fail."""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sessioncli.devnet import Devnet
from sessioncli.devnet.bus import NodeBus
from sessioncli.devnet.peers import PeerPool, PeerReply, PeerTimeout, PeerUnreachable
from sessioncli.devnet.server import NodeServer, Request, Response
from tests.devnet.conftest import Net
from tests.devnet.wire import Account, build_onion, open_reply, post, store_params

pytestmark = pytest.mark.slow

RELAY_TIMEOUT = 1.5
REPLICATION_TIMEOUT = 1.0


@pytest.fixture(scope="module", params=["bus", "https"])
def paths_net(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Net]:
    """The same devnet twice: node-to-node requests in-process (the default), or all HTTPS."""
    directory: Path = tmp_path_factory.mktemp(f"devnet-{request.param}")
    devnet = Devnet(
        directory,
        nodes=10,
        swarm_size=5,
        seed="bus-tests",
        relay_timeout=RELAY_TIMEOUT,
        replication_timeout=REPLICATION_TIMEOUT,
        in_process_peers=request.param == "bus",
    )
    devnet.start()
    net = Net(devnet)
    try:
        yield net
    finally:
        devnet.stop()


@pytest.fixture
def healthy_paths(paths_net: Net) -> Iterator[Net]:
    paths_net.heal()
    yield paths_net
    paths_net.heal()


def _onion_store(net: Net, account: Account, path: list[dict[str, Any]]) -> dict[str, Any]:
    """Store through `path` to the account's first swarm member; the decoded storage reply."""
    target = net.swarm_of(account.session_id)[0]
    request = {"method": "store", "params": store_params(account, b"through the bus")}
    onion, key = build_onion(path, target, request)
    status, answer = post(path[0], "/onion_req/v2", onion)
    assert status == 200, answer[:200]
    reply = open_reply("aes-gcm", key, answer)
    assert reply["status"] == 200, reply
    body = json.loads(reply["body"])
    assert isinstance(body, dict)
    return body


def test_onion_request_between_nodes_opens_no_http_connection(
    healthy: Net, monkeypatch: pytest.MonkeyPatch
) -> None:
    # PeerPool binds its connections to the sending node's address; the test's own requests do not.
    node_to_node: list[tuple[str, int]] = []
    real_request = http.client.HTTPConnection.request

    def spying_request(self: http.client.HTTPConnection, *args: Any, **kwargs: Any) -> None:
        if self.source_address is not None:
            node_to_node.append((self.host, self.port))
        real_request(self, *args, **kwargs)

    monkeypatch.setattr(http.client.HTTPConnection, "request", spying_request)
    account = Account.make("bus-no-tls")
    path = healthy.outsiders(account.session_id)[:3]
    members = healthy.swarm_of(account.session_id)
    before = healthy.devnet.stats()
    body = _onion_store(healthy, account, path)
    assert len(body["swarm"]) == len(members)
    assert not any(entry.get("failed") for entry in body["swarm"].values())
    assert node_to_node == []
    # `ctl stats` still counts every hop and every replication, as when they were HTTPS.
    after = healthy.devnet.stats()

    def grew(node_id: str, endpoint: str) -> int:
        old: int = before[node_id]["requests"].get(endpoint, 0)
        return int(after[node_id]["requests"].get(endpoint, 0)) - old

    assert [grew(n["id"], "/onion_req/v2") for n in [*path, members[0]]] == [1, 1, 1, 1]
    assert [grew(n["id"], "/swarm_rpc/v1") for n in members[1:]] == [1] * (len(members) - 1)


# -- the same host failure, seen through the bus and through HTTPS ---------------------------


def _outcome(call: Any) -> tuple[Any, ...]:
    """What a caller of `post` can tell apart: reply status, type, size, or the error and text."""
    try:
        reply: PeerReply = call()
    except PeerTimeout:
        return ("timeout",)
    except PeerUnreachable as exc:
        return ("unreachable", str(exc))
    return ("reply", reply.status, reply.content_type, len(reply.body))


@pytest.mark.parametrize("fault", ["none", "garbage", "truncate", "oversize", "down", "hang"])
def test_bus_and_https_answer_alike_for_every_host_state(healthy: Net, fault: str) -> None:
    source, target = healthy.nodes()[:2]
    server = healthy.devnet.node_server(target["id"])
    bus = NodeBus([server], fallback=PeerPool())
    https = PeerPool()
    if fault == "down":
        healthy.devnet.down([target["id"]])
    elif fault == "hang":
        healthy.devnet.hang([target["id"]])
    else:
        healthy.devnet.fault(target["id"], fault)
    body = json.dumps({"method": "info", "params": {}}).encode()
    outcomes = []
    try:
        for peers in (bus, https):
            start = time.monotonic()
            outcomes.append(
                _outcome(
                    lambda peers=peers: peers.post(
                        source["ip"], target["ip"], target["port"], "/storage_rpc/v1", body, 0.5
                    )
                )
            )
            if fault == "hang":  # both wait out the caller's timeout, no more
                assert 0.45 < time.monotonic() - start < 1.5
    finally:
        bus.close()
        https.close()
    assert outcomes[0] == outcomes[1]
    expected = {
        "none": ("reply", 200, "application/json"),
        "garbage": ("reply", 200, "application/octet-stream", 512),
        "truncate": ("reply", 200, "application/json", 22),
        "oversize": ("reply", 200, "application/octet-stream", 20 * 1024 * 1024),
        "down": ("unreachable", "[Errno 111] Connection refused"),
        "hang": ("timeout",),
    }[fault]
    assert outcomes[0][: len(expected)] == expected


def test_a_hung_host_that_comes_back_in_time_is_served(healthy_paths: Net) -> None:
    account = Account.make("bus-hang-up")
    members = healthy_paths.swarm_of(account.session_id)
    victim = members[1]
    healthy_paths.devnet.hang([victim["id"]])
    threading.Timer(0.3, healthy_paths.devnet.up, ([victim["id"]],)).start()
    path = healthy_paths.outsiders(account.session_id)[:3]
    body = _onion_store(healthy_paths, account, path)
    assert "hash" in body["swarm"][victim["pubkey_ed25519"]]


_REPLICA_FAULTS = {
    "down": {"failed": True, "reason": "unreachable: [Errno 111] Connection refused"},
    "hang": {"failed": True, "timeout": True},
    "garbage": {"failed": True, "bad_peer_response": True},
    "truncate": {"failed": True, "bad_peer_response": True},
    "oversize": {"failed": True, "bad_peer_response": True},
}


@pytest.mark.parametrize("fault", sorted(_REPLICA_FAULTS))
def test_a_failing_replication_target(healthy_paths: Net, fault: str) -> None:
    account = Account.make(f"bus-replica-{fault}")
    members = healthy_paths.swarm_of(account.session_id)
    victim = members[2]
    if fault == "down":
        healthy_paths.devnet.down([victim["id"]])
    elif fault == "hang":
        healthy_paths.devnet.hang([victim["id"]])
    else:
        healthy_paths.devnet.fault(victim["id"], fault)
    path = healthy_paths.outsiders(account.session_id)[:3]
    start = time.monotonic()
    body = _onion_store(healthy_paths, account, path)
    elapsed = time.monotonic() - start
    assert body["swarm"][victim["pubkey_ed25519"]] == _REPLICA_FAULTS[fault]
    others = [m for m in members if m is not victim]
    assert all("hash" in body["swarm"][m["pubkey_ed25519"]] for m in others)
    if fault == "hang":  # the entry node waits its replication timeout for the hung member
        assert REPLICATION_TIMEOUT - 0.05 < elapsed < REPLICATION_TIMEOUT + 1.5


_RELAY_FAULTS: dict[str, tuple[int, int | bytes]] = {
    # What the guard passes back when the hop after it (the middle relay) fails.
    "down": (502, b"Next node not found: {relay}"),
    "hang": (504, b"Request time out"),
    "relay502": (502, b"Next node not found: {last}"),
    "relay504": (504, b"Request time out"),
    "garbage": (200, 512),
    "truncate": (200, 22),
}


@pytest.mark.parametrize("fault", sorted(_RELAY_FAULTS))
def test_a_failing_relay(healthy_paths: Net, fault: str) -> None:
    guard, relay, last, target = healthy_paths.nodes()[:4]
    if fault == "down":
        healthy_paths.devnet.down([relay["id"]])
    elif fault == "hang":
        healthy_paths.devnet.hang([relay["id"]])
    else:
        healthy_paths.devnet.fault(relay["id"], fault)
    onion, _ = build_onion([guard, relay, last], target, {"method": "info", "params": {}})
    start = time.monotonic()
    status, answer = post(guard, "/onion_req/v2", onion)
    elapsed = time.monotonic() - start
    want_status, want = _RELAY_FAULTS[fault]
    assert status == want_status
    if isinstance(want, int):
        assert len(answer) == want
    else:
        names = {"relay": relay["pubkey_ed25519"], "last": last["pubkey_ed25519"]}
        assert answer == want.decode().format(**names).encode()
    if fault == "hang":
        assert RELAY_TIMEOUT - 0.05 < elapsed < RELAY_TIMEOUT + 1.5


# -- the bus alone, against a node whose app the test controls --------------------------------


@pytest.fixture
def gated_server() -> Iterator[tuple[NodeServer, threading.Event, list[Request]]]:
    """A front end on loopback whose app waits for the test's go-ahead (at most 5 s)."""
    go = threading.Event()
    seen: list[Request] = []

    def app(request: Request) -> Response:
        seen.append(request)
        go.wait(5)
        if request.path == "/raise":
            raise RuntimeError("boom")
        return Response(200, b"late")

    server = NodeServer("127.0.0.1", 0, None, app)
    server.start()
    try:
        yield server, go, seen
    finally:
        go.set()
        server.go_down()


def _bus_post(bus: NodeBus, server: NodeServer, path: str, timeout: float) -> PeerReply:
    headers = {"Content-Type": "application/json"}
    return bus.post("127.0.0.2", server.ip, server.port, path, b"{}", timeout, headers)


def test_a_slow_answer_times_out_at_the_callers_deadline(
    gated_server: tuple[NodeServer, threading.Event, list[Request]],
) -> None:
    server, go, seen = gated_server
    bus = NodeBus([server])
    try:
        start = time.monotonic()
        with pytest.raises(PeerTimeout):
            _bus_post(bus, server, "/slow", 0.3)
        assert 0.25 < time.monotonic() - start < 1.0
        go.set()
        (request,) = seen
        assert request.peer_ip == "127.0.0.2"
        assert request.headers["content-type"] == "application/json"
        assert request.headers["content-length"] == "2"
        assert request.headers["host"] == f"127.0.0.1:{server.port}"
    finally:
        bus.close()


def test_a_host_that_goes_down_mid_request_drops_it(
    gated_server: tuple[NodeServer, threading.Event, list[Request]],
) -> None:
    server, _go, _seen = gated_server
    bus = NodeBus([server])
    threading.Timer(0.2, server.go_down).start()
    try:
        start = time.monotonic()
        with pytest.raises(PeerUnreachable, match="Connection refused"):
            _bus_post(bus, server, "/slow", 3.0)
        assert time.monotonic() - start < 1.5
    finally:
        bus.close()


def test_an_app_that_raises_answers_500(
    gated_server: tuple[NodeServer, threading.Event, list[Request]],
) -> None:
    server, go, _seen = gated_server
    go.set()
    bus = NodeBus([server])
    try:
        reply = _bus_post(bus, server, "/raise", 3.0)
    finally:
        bus.close()
    assert (reply.status, reply.body) == (500, b"Internal server error: RuntimeError: boom")
