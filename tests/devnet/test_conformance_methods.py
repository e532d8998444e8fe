"""The devnet's methods behave as the real storage server's: retrieve limits, delete_before,
get_expiries, expire_all, multi-expiry (and its hardfork gate), ifelse, the seed's method names.

Each test names the upstream function (session-storage-server, oxend) whose behaviour it mirrors;
requests are built here (tests/devnet/wire.py)."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sessioncli.devnet import Devnet
from tests.devnet.conftest import Net
from tests.devnet.wire import (
    UNVERIFIED,
    Account,
    now_ms,
    retrieve_params,
    rpc,
    spec_hash,
    store_params,
    verify_node_signature,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def old_net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Net]:
    """A one-swarm devnet that reports hardfork 19.3 (before multi-expiry)."""
    directory: Path = tmp_path_factory.mktemp("devnet-hf193")
    devnet = Devnet(directory, nodes=3, swarm_size=3, seed="hf-19-3", hardfork=(19, 3))
    devnet.start()
    try:
        yield Net(devnet)
    finally:
        devnet.stop()


def member(net: Net, account: Any) -> dict[str, Any]:
    return net.swarm_of(account.session_id)[0]


def store_many(node: dict[str, Any], account: Account, count: int, size: int) -> list[str]:
    hashes = []
    for i in range(count):
        data = bytes([i]) * size
        status, body = rpc(node, "store", store_params(account, data))
        assert status == 200, body
        hashes.append(body["hash"])
    return hashes


def test_retrieve_limits(healthy: Net) -> None:
    """retrieve process_client_req + Database::retrieve: 0 means "not given"; neither given means
    max_size -5; negative n is 7.8 MB / |n|; each message costs 100 + len(hash) +
    floor(len(data) * 4 / 3); the first message always goes out; max_count 0 is no error."""
    account = Account.make("retrieve-limits")
    node = member(healthy, account)
    hashes = store_many(node, account, 3, 300)
    cost = 100 + 43 + 300 * 4 // 3  # 543 per message

    def got(**limits: Any) -> tuple[int, bool]:
        status, body = rpc(node, "retrieve", retrieve_params(account, **limits))
        assert status == 200, body
        return len(body["messages"]), body["more"]

    assert got(max_size=2 * cost) == (2, True)
    assert got(max_size=2 * cost - 1) == (1, True)
    assert got(max_size=1) == (1, True)  # the first message always
    assert got(max_count=0) == (3, False)
    assert got(max_count=0, max_size=0) == (3, False)
    assert got(max_count=2) == (2, True)
    assert got(max_size=-(7_800_000 // (2 * cost))) == (2, True)  # 7.8 MB / n
    assert got() == (3, False)
    status, body = rpc(node, "retrieve", retrieve_params(account, max_count=-4))
    assert (status, [m["hash"] for m in body["messages"]]) == (200, hashes[:1])


def _signed(account: Account, text: str) -> dict[str, str]:
    return {"pubkey": account.session_id, **account.auth(text)}


def test_delete_before_is_inclusive_and_all_namespaces_answer_per_namespace(healthy: Net) -> None:
    """delete_before process_client_req + Database::delete_by_timestamp: timestamp <= before; with
    namespace "all" `deleted` is a dict per namespace; `before` more than 60 s ahead is a 401."""
    account = Account.make("delete-before-incl")
    node = member(healthy, account)
    ts = now_ms() - 5_000
    first = store_params(account, b"in 0")
    first["timestamp"] = ts
    h0 = rpc(node, "store", first)[1]["hash"]
    second = store_params(account, b"in 2", namespace=2, timestamp=ts, sig_timestamp=ts)
    second.update(account.auth(f"store2{ts}"))
    status, body = rpc(node, "store", second)
    assert status == 200, body
    h2 = body["hash"]
    params = {**_signed(account, f"delete_beforeall{ts}"), "namespace": "all", "before": ts}
    status, body = rpc(node, "delete_before", params)
    assert status == 200, body
    mine = body["swarm"][node["pubkey_ed25519"]]
    assert mine["deleted"] == {"0": [h0], "2": [h2]}
    signed = (account.session_id + str(ts) + "".join(sorted([h0, h2]))).encode()
    assert verify_node_signature(node["pubkey_ed25519"], mine["signature"], signed)
    future = now_ms() + 61_000
    params = {**_signed(account, f"delete_before{future}"), "before": future}
    assert rpc(node, "delete_before", params) == (
        401,
        "delete_before timestamp too far in the future",
    )


def test_get_expiries_answers_only_expiries(healthy: Net) -> None:
    """get_expiries process_client_req: the reply is exactly {"expiries": {...}}."""
    account = Account.make("get-expiries-exact")
    node = member(healthy, account)
    (h,) = store_many(node, account, 1, 10)
    ts = now_ms()
    params = {**_signed(account, f"get_expiries{ts}{h}"), "timestamp": ts, "messages": [h]}
    status, body = rpc(node, "get_expiries", params)
    assert status == 200
    assert set(body) == {"expiries"}
    assert set(body["expiries"]) == {h}


def test_expire_all_only_shortens(healthy: Net) -> None:
    """expire_all process_client_req + Database::update_all_expiries: sets the expiry of every
    message that expires later (never extends); signed over "expire_all" || ns || expiry; an expiry
    in the past is a 406; each member signs pubkey || expiry || updated hashes."""
    account = Account.make("expire-all")
    node = member(healthy, account)
    short = store_params(account, b"short", ttl=20_000)
    h_short = rpc(node, "store", short)[1]["hash"]
    h_long = rpc(node, "store", store_params(account, b"long", ttl=3_600_000))[1]["hash"]
    expiry = now_ms() + 600_000
    params = {**_signed(account, f"expire_all{expiry}"), "expiry": expiry}
    status, body = rpc(node, "expire_all", params)
    assert status == 200, body
    for ed_hex, result in body["swarm"].items():
        assert result["updated"] == [h_long]
        signed = (account.session_id + str(expiry) + h_long).encode()
        assert verify_node_signature(ed_hex, result["signature"], signed)
    ts = now_ms()
    check = {**_signed(account, f"get_expiries{ts}{h_short}{h_long}")}
    check.update(timestamp=ts, messages=[h_short, h_long])
    expiries = rpc(node, "get_expiries", check)[1]["expiries"]
    assert expiries[h_long] == expiry
    assert expiries[h_short] < expiry
    past = now_ms() - 120_000
    params = {**_signed(account, f"expire_all{past}"), "expiry": past}
    assert rpc(node, "expire_all", params) == (
        406,
        "expire_all timestamp should be >= current time",
    )


def _multi_expire(account: Account, hashes: list[str], expiries: list[int]) -> dict[str, Any]:
    text = "expire" + "".join(map(str, expiries)) + "".join(hashes)
    return {**_signed(account, text), "messages": hashes, "expiry": expiries}


def test_multi_expiry_from_hardfork_19_4(healthy: Net, old_net: Net) -> None:
    """expire_msgs::load_from + expire process_client_req: `expiry` may be a list as long as
    `messages`; each member answers the applied expiries as a list, signed over pubkey ||
    expiries || messages || updated; before hardfork 19.4 such a request is a 403."""
    account = Account.make("multi-expiry")
    node = member(healthy, account)
    hashes = sorted(store_many(node, account, 2, 20))
    soon = now_ms() + 120_000
    expiries = [soon, soon + 1_000]
    status, body = rpc(node, "expire", _multi_expire(account, hashes, expiries))
    assert status == 200, body
    for ed_hex, result in body["swarm"].items():
        assert result["updated"] == hashes
        assert result["expiry"] == expiries
        signed = account.session_id + "".join(map(str, expiries)) + "".join(hashes) * 2
        assert verify_node_signature(ed_hex, result["signature"], signed.encode())
    mismatched = _multi_expire(account, hashes, [soon, soon, soon])
    assert rpc(node, "expire", mismatched) == (
        400,
        "invalid request: 'expiry' must be a single expiry, or the same length as 'messages'",
    )
    old_node = member(old_net, account)
    old_hashes = sorted(store_many(old_node, account, 2, 20))
    assert rpc(old_node, "expire", _multi_expire(account, old_hashes, expiries)) == (
        403,
        "expire: multi-expiry requests are not yet active on the network",
    )
    assert rpc(old_node, "info", {})[1]["hf"] == [19, 3]


def _ifelse(condition: dict[str, Any], **branches: Any) -> dict[str, Any]:
    return {"if": condition, **branches}


def test_ifelse(healthy: Net, old_net: Net) -> None:
    """ifelse::load_from / load_condition + ifelse process_client_req: hf/v/height conditions,
    `then`/`else` (which may nest), reply {"hf","v","height","condition","result"?}."""
    node = healthy.nodes()[0]
    info = {"method": "info", "params": {}}
    status, body = rpc(
        node, "ifelse", _ifelse({"hf_at_least": [19, 4]}, then=info, **{"else": info})
    )
    assert status == 200, body
    assert set(body) == {"hf", "v", "height", "condition", "result"}
    assert (body["hf"], body["v"], body["condition"]) == ([19, 4], [2, 8, 0], True)
    assert body["result"]["code"] == 200 and body["result"]["body"]["version"] == [2, 8, 0]
    height = body["height"]
    status, body = rpc(node, "ifelse", _ifelse({"hf_before": [19, 4]}, then=info))
    assert (status, body["condition"], "result" in body) == (200, False, False)
    old = old_net.nodes()[0]
    assert rpc(old, "ifelse", _ifelse({"hf_before": [19, 4]}, then=info))[1]["condition"] is True
    for condition, expected in [
        ({"v_at_least": [2, 8]}, True),
        ({"v_before": [2, 8, 0]}, False),
        ({"height_at_least": height - 10, "height_before": height + 1000}, True),
        ({"hf_at_least": 19}, True),
    ]:
        assert rpc(node, "ifelse", _ifelse(condition, then=info))[1]["condition"] is expected
    nested = {"method": "ifelse", "params": _ifelse({"hf_at_least": [19]}, then=info)}
    status, body = rpc(node, "ifelse", _ifelse({"v_at_least": [2]}, then=nested))
    assert body["result"]["body"]["result"]["body"]["version"] == [2, 8, 0]
    assert rpc(node, "ifelse", _ifelse({}, then=info)) == (
        400,
        'invalid request: Invalid ifelse request: must specify at least one "if" condition',
    )
    assert rpc(node, "ifelse", _ifelse({"hf_at_least": [19]})) == (
        400,
        'invalid request: Invalid ifelse request: at least one of "then"/"else" required',
    )


def test_seed_answers_both_service_node_method_names(healthy: Net) -> None:
    """oxend `get_service_nodes` is also reachable as `get_n_service_nodes`."""
    import http.client

    seed = next(n for n in healthy.devnet.describe_nodes() if n["kind"] == "seed")
    for method in ("get_service_nodes", "get_n_service_nodes"):
        conn = http.client.HTTPSConnection(seed["ip"], seed["port"], context=UNVERIFIED, timeout=10)
        body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": {"active_only": True}}
        conn.request("POST", "/json_rpc", body=json.dumps(body))
        reply = json.loads(conn.getresponse().read())
        conn.close()
        assert len(reply["result"]["service_node_states"]) == len(healthy.nodes()), method


def test_oxend_request_replies_carry_t_and_hf(healthy: Net) -> None:
    """oxend_request process_client_req adds `t` and `hf` (add_misc_response_fields)."""
    params = {"endpoint": "get_service_nodes", "params": {"active_only": True}}
    status, body = rpc(healthy.nodes()[0], "oxend_request", params)
    assert status == 200
    assert isinstance(body["t"], int) and body["hf"] == [19, 4]
    assert rpc(healthy.nodes()[0], "oxend_request", {"endpoint": "get_info"}) == (
        400,
        "invalid request: Invalid oxend endpoint 'get_info'",
    )


def test_store_hash_still_matches_spec(healthy: Net) -> None:
    """computeMessageHash, unchanged by the new parser (base64 without padding accepted)."""
    account = Account.make("hash-unpadded")
    params = store_params(account, b"ab")
    params["data"] = base64.b64encode(b"ab").decode().rstrip("=")
    status, body = rpc(member(healthy, account), "store", params)
    assert (status, body["hash"]) == (200, spec_hash(account.session_id, 0, b"ab"))
