"""Replication run in the entry node's thread (NodeBus.post_here): no thread hand-over for a
healthy member, and the same results as a threaded hop when a member goes down or is slow."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from sessioncli.devnet import Devnet, crypto
from sessioncli.devnet.bus import NodeBus
from sessioncli.devnet.node import Network
from sessioncli.devnet.peers import PeerUnreachable
from sessioncli.devnet.rpc import SWARM_RPC_PATH
from sessioncli.devnet.server import NodeServer, Request, Response
from tests.devnet.conftest import Net
from tests.devnet.wire import (
    Account,
    build_onion,
    open_reply,
    post,
    retrieve_params,
    rpc,
    store_params,
)

pytestmark = pytest.mark.slow

REPLICATION_TIMEOUT = 1.5
RELAY_TIMEOUT = 0.5


@pytest.fixture(scope="module")
def inline_net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Net]:
    directory: Path = tmp_path_factory.mktemp("devnet-inline")
    devnet = Devnet(
        directory,
        nodes=10,
        swarm_size=5,
        seed="inline-tests",
        relay_timeout=RELAY_TIMEOUT,
        replication_timeout=REPLICATION_TIMEOUT,
    )
    devnet.start()
    try:
        yield Net(devnet)
    finally:
        devnet.stop()


@pytest.fixture
def network(inline_net: Net) -> Iterator[Network]:
    inline_net.heal()
    yield inline_net.devnet._network()
    inline_net.heal()


def _store(net: Net, label: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    account = Account.make(label)
    members = net.swarm_of(account.session_id)
    status, body = rpc(members[0], "store", store_params(account, b"inline"))
    assert status == 200, body
    assert isinstance(body, dict)
    return members, body["swarm"]


def _wrap_app(network: Network, node_id: str, around: Callable[[Request], None]) -> None:
    """Make node `node_id` run `around` after answering each forwarded request."""
    server = network.by_id[node_id].server
    original = server.app

    def app(request: Request) -> Response:
        response = original(request)
        if request.path == SWARM_RPC_PATH:
            around(request)
        return response

    server.app = app


def test_healthy_members_are_stored_to_without_a_thread_hand_over(
    inline_net: Net, network: Network, monkeypatch: pytest.MonkeyPatch
) -> None:
    bus = network.peers
    assert isinstance(bus, NodeBus)
    handed: list[str] = []
    submit, run = network.executor.submit, bus._workers.run
    monkeypatch.setattr(network.executor, "submit", lambda *a: handed.append("pool") or submit(*a))
    monkeypatch.setattr(bus._workers, "run", lambda task: handed.append("bus") or run(task))
    members, swarm = _store(inline_net, "inline-healthy")
    assert all("hash" in swarm[m["pubkey_ed25519"]] for m in members)
    assert handed == []


def test_a_member_that_goes_down_while_storing_lost_the_request(
    inline_net: Net, network: Network
) -> None:
    account = Account.make("inline-down")
    victim = inline_net.swarm_of(account.session_id)[2]
    original = network.by_id[victim["id"]].server.app
    _wrap_app(network, victim["id"], lambda _r: network.by_id[victim["id"]].server.go_down())
    try:
        members, swarm = _store(inline_net, "inline-down")
    finally:
        network.by_id[victim["id"]].server.app = original
    assert swarm[victim["pubkey_ed25519"]] == {
        "failed": True,
        "reason": "unreachable: [Errno 111] Connection refused",
    }
    assert all("hash" in swarm[m["pubkey_ed25519"]] for m in members if m["id"] != victim["id"])


def test_a_member_slower_than_the_replication_timeout_timed_out(
    inline_net: Net, network: Network
) -> None:
    account = Account.make("inline-slow")
    victim = inline_net.swarm_of(account.session_id)[1]
    original = network.by_id[victim["id"]].server.app
    _wrap_app(network, victim["id"], lambda _r: time.sleep(REPLICATION_TIMEOUT + 0.2))
    try:
        members, swarm = _store(inline_net, "inline-slow")
    finally:
        network.by_id[victim["id"]].server.app = original
    assert swarm[victim["pubkey_ed25519"]] == {"failed": True, "timeout": True}
    assert all("hash" in swarm[m["pubkey_ed25519"]] for m in members if m["id"] != victim["id"])


def test_an_answer_given_after_the_host_went_down_does_not_count() -> None:
    """The threaded hop: the loss came first, so the caller retries (and is refused) even if it
    reads the exchange only after the app's late answer is in."""
    holder: list[NodeServer] = []

    def app(request: Request) -> Response:
        holder[0].go_down()
        return Response(200, b"after the crash")

    server = NodeServer("127.0.0.1", 0, None, app)
    holder.append(server)
    bus = NodeBus([server])
    try:
        for _ in range(20):
            server.start()
            with pytest.raises(PeerUnreachable, match="Connection refused"):
                bus.post("127.0.0.2", server.ip, server.port, "/", b"{}", 3.0)
    finally:
        bus.close()
        server.go_down()


def test_the_forwarded_request_is_verified_once_for_all_members(
    inline_net: Net, network: Network, monkeypatch: pytest.MonkeyPatch
) -> None:
    checks: list[bytes] = []
    verify = crypto.verify_ed25519

    def counting(signature: bytes, message: bytes, public_key: bytes) -> bool:
        checks.append(message)
        return verify(signature, message, public_key)

    monkeypatch.setattr(crypto, "verify_ed25519", counting)
    members, swarm = _store(inline_net, "inline-verify-once")
    assert all("hash" in swarm[m["pubkey_ed25519"]] for m in members)
    assert len(checks) == 1


def test_a_remembered_signature_does_not_vouch_for_other_bytes(network: Network) -> None:
    sender = network.storage[0]
    body = b'{"method": "store", "params": {}}'
    signature = sender.keys.sign(body)
    assert network.verified_peer(sender, signature, body)
    assert network.verified_peer(sender, signature, body)
    assert not network.verified_peer(sender, signature, body + b" ")
    assert not network.verified_peer(network.storage[1], signature, body)


# -- onion hops in the caller's thread while every node is healthy -----------------------------


def _onion_store(net: Net, label: str, timeout: float = 10.0) -> tuple[int, bytes, bytes]:
    account = Account.make(label)
    target = net.swarm_of(account.session_id)[0]
    path = net.outsiders(account.session_id)[:3]
    request = {"method": "store", "params": store_params(account, b"inline onion")}
    onion, key = build_onion(path, target, request)
    status, answer = post(path[0], "/onion_req/v2", onion, timeout=timeout)
    return status, answer, key


def test_a_healthy_onion_store_hands_no_hop_to_a_thread(
    inline_net: Net, network: Network, monkeypatch: pytest.MonkeyPatch
) -> None:
    bus = network.peers
    assert isinstance(bus, NodeBus)
    handed: list[str] = []
    submit, run = network.executor.submit, bus._workers.run
    monkeypatch.setattr(network.executor, "submit", lambda *a: handed.append("pool") or submit(*a))
    monkeypatch.setattr(bus._workers, "run", lambda task: handed.append("bus") or run(task))
    status, answer, key = _onion_store(inline_net, "inline-onion")
    assert status == 200
    reply = open_reply("aes-gcm", key, answer)
    assert reply["status"] == 200
    assert len(json.loads(reply["body"])["swarm"]) == 5
    assert handed == []


def test_a_hop_run_in_the_callers_thread_still_times_out_at_the_guards_deadline(
    inline_net: Net, network: Network
) -> None:
    """The target hangs a member once the chain is under way: its fan-out waits for that member
    no longer than the guard waits for the relay, and the client sees the guard's timeout."""
    account = Account.make("inline-onion-late-hang")
    members = inline_net.swarm_of(account.session_id)
    target_server = network.by_id[members[0]["id"]].server
    original = target_server.app

    def app(request: Request) -> Response:
        inline_net.devnet.hang([members[3]["id"]])
        return original(request)

    target_server.app = app
    try:
        path = inline_net.outsiders(account.session_id)[:3]
        request = {"method": "store", "params": store_params(account, b"late hang")}
        onion, _key = build_onion(path, members[0], request)
        start = time.monotonic()
        status, answer = post(path[0], "/onion_req/v2", onion)
        elapsed = time.monotonic() - start
    finally:
        target_server.app = original
    assert (status, answer) == (504, b"Request time out")
    assert RELAY_TIMEOUT - 0.05 < elapsed < REPLICATION_TIMEOUT - 0.2


def test_the_forwarded_store_is_loaded_once_for_all_members(
    inline_net: Net, network: Network, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sessioncli.devnet.rpc import dispatch

    loads: list[str] = []
    store = dispatch.METHODS["store"]

    def counting(params: dict[str, Any]) -> Any:
        loads.append(params["pubkey"])
        return store.load(params)

    monkeypatch.setitem(dispatch.METHODS, "store", replace(store, load=counting))
    members, swarm = _store(inline_net, "inline-load-once")
    assert all("hash" in swarm[m["pubkey_ed25519"]] for m in members)
    assert len(loads) == 2  # the entry node's own request, then one for the 4 members


def test_slow_healthy_members_are_not_waited_for_one_after_another(
    inline_net: Net, network: Network
) -> None:
    """A real swarm answers a store in the time of its slowest member, not their sum: healthy
    members are served in the entry node's thread only while that stays quick."""
    account = Account.make("inline-serial")
    members = inline_net.swarm_of(account.session_id)
    originals = {m["id"]: network.by_id[m["id"]].server.app for m in members[1:4]}
    for m in members[1:4]:
        _wrap_app(network, m["id"], lambda _r: time.sleep(0.4))
    try:
        start = time.monotonic()
        status, body = rpc(members[0], "store", store_params(account, b"slow members"))
        elapsed = time.monotonic() - start
    finally:
        for node_id, app in originals.items():
            network.by_id[node_id].server.app = app
    assert status == 200 and all("hash" in v for v in body["swarm"].values())
    assert elapsed < 1.0  # served in parallel after the first: ~0.8 s, not 1.2 s


def test_a_deep_onion_path_does_not_reach_the_recursion_limit(
    inline_net: Net, network: Network
) -> None:
    """Hops nested in one thread are capped; deeper ones get a thread, as sockets would."""
    account = Account.make("inline-deep")
    target = inline_net.swarm_of(account.session_id)[0]
    outsiders = inline_net.outsiders(account.session_id)
    path = [outsiders[i % len(outsiders)] for i in range(250)]
    onion, key = build_onion(path, target, {"method": "info", "params": {}})
    status, answer = post(path[0], "/onion_req/v2", onion, timeout=60.0)
    assert status == 200, answer[:120]
    assert open_reply("aes-gcm", key, answer)["status"] == 200


def test_a_batch_goes_on_after_its_caller_gave_up(inline_net: Net, network: Network) -> None:
    """A real node keeps storing a `sequence`'s requests after the guard stopped waiting for
    it: a member that hangs mid-chain costs the client a 504, not the later stores."""
    account = Account.make("inline-batch-goes-on")
    members = inline_net.swarm_of(account.session_id)
    target_server = network.by_id[members[0]["id"]].server
    original = target_server.app

    def app(request: Request) -> Response:
        if request.path == "/onion_req/v2":
            inline_net.devnet.hang([members[3]["id"]])
        return original(request)

    target_server.app = app
    try:
        stores = [
            {"method": "store", "params": store_params(account, f"msg{i}".encode())}
            for i in range(3)
        ]
        request = {"method": "sequence", "params": {"requests": stores}}
        path = inline_net.outsiders(account.session_id)[:3]
        onion, _key = build_onion(path, members[0], request)
        status, _answer = post(path[0], "/onion_req/v2", onion)
    finally:
        target_server.app = original
    assert status == 504
    time.sleep(3 * REPLICATION_TIMEOUT + 0.5)  # what the node still runs after the 504
    inline_net.heal()
    status, body = rpc(members[0], "retrieve", retrieve_params(account))
    assert status == 200 and len(body["messages"]) == 3
