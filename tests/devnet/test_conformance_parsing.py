"""The devnet parses requests as the real storage server does: framing, unknown methods, batches
parsed whole before anything runs, and the parser's texts.

Each test names the upstream function (session-storage-server) whose behaviour it mirrors;
requests are built here (tests/devnet/wire.py)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.devnet.conftest import Net
from tests.devnet.wire import Account, now_ms, post, retrieve_params, rpc, store_params

pytestmark = pytest.mark.slow


def member(net: Net, account: Account) -> dict[str, Any]:
    return net.swarm_of(account.session_id)[0]


def raw(node: dict[str, Any], body: bytes) -> tuple[int, str]:
    status, reply = post(node, "/storage_rpc/v1", body)
    return status, reply.decode()


def test_framing_and_unknown_methods(healthy: Net) -> None:
    """RequestHandler::process_client_req(std::string_view): `invalid json`, ``invalid json: no
    `method` field``, ``invalid json: no `params` field``, `no method <name>`."""
    node = healthy.nodes()[0]
    assert raw(node, b"{not json") == (400, "invalid json")
    assert raw(node, b'{"params": {}}') == (400, "invalid json: no `method` field")
    assert raw(node, b'{"method": "info"}') == (400, "invalid json: no `params` field")
    assert rpc(node, "nope", {}) == (400, "no method nope")


def test_batch_is_parsed_whole_before_anything_runs(healthy: Net) -> None:
    """batch::load_from + as_subrequest: an unknown method, a missing params object or a parse
    error in any subrequest fails the whole request with 400; meta-requests are refused inside."""
    account = Account.make("batch-parse")
    node = member(healthy, account)
    store = {"method": "store", "params": store_params(account, b"must not be stored")}
    cases = [
        ({"method": "nope", "params": {}}, 'Invalid batch subrequest: invalid method "nope"'),
        ({"method": "info"}, "Invalid batch request: subrequests must have method/params keys"),
        (
            {"method": "retrieve", "params": {"pubkey": "05ab"}},
            "Pubkey must be 66 hex digits (33 bytes) long",
        ),
        (
            {"method": "batch", "params": {"requests": [{"method": "info", "params": {}}]}},
            "Invalid batch subrequest: subrequests may not contain meta-requests",
        ),
        (
            {"method": "ifelse", "params": {"if": {"hf_at_least": [19]}, "then": store}},
            "Invalid batch subrequest: subrequests may not contain meta-requests",
        ),
    ]
    for method in ("batch", "sequence"):
        for bad_sub, text in cases:
            status, body = rpc(node, method, {"requests": [store, bad_sub]})
            assert (status, body) == (400, f"invalid request: {text}"), bad_sub
    assert rpc(node, "retrieve", retrieve_params(account))[1]["messages"] == []
    assert rpc(node, "batch", {"requests": []}) == (
        400,
        'invalid request: Invalid batch request: no valid "requests" field',
    )
    many = {"requests": [{"method": "info", "params": {}}] * 21}
    assert rpc(node, "batch", many) == (
        400,
        "invalid request: Invalid batch request: subrequest limit exceeded",
    )


def test_delete_texts_and_required(healthy: Net) -> None:
    """delete_msgs::load_from: a non-hash entry is `invalid message hash: <h>`; delete
    process_client_req with `required: true`: 404 only if no member deleted anything, with the
    whole swarm reply as the body."""
    account = Account.make("delete-required")
    node = member(healthy, account)
    params = {"pubkey": account.session_id, "messages": ["short"], **account.auth("deleteshort")}
    assert rpc(node, "delete", params) == (400, "invalid request: invalid message hash: short")
    missing = "B" * 43
    params = {
        "pubkey": account.session_id,
        "messages": [missing],
        "required": True,
        **account.auth(f"delete{missing}"),
    }
    status, body = rpc(node, "delete", params)
    assert status == 404
    assert isinstance(body, dict)
    assert {m["pubkey_ed25519"] for m in healthy.swarm_of(account.session_id)} == set(body["swarm"])
    assert all(r["deleted"] == [] for r in body["swarm"].values())


def test_store_parse_texts(healthy: Net) -> None:
    """store::load_from and load_pk: both ttl and expiry, data not base64, data too long, bad
    pubkey; and retrieve::load_from's last_hash text."""
    account = Account.make("store-texts")
    node = member(healthy, account)
    both = store_params(account, b"x", expiry=now_ms() + 60_000)
    assert rpc(node, "store", both) == (
        400,
        "invalid request: Cannot specify both 'expiry' and 'ttl'",
    )
    not_b64 = {**store_params(account, b"x"), "data": "not base64!"}
    assert rpc(node, "store", not_b64) == (
        400,
        "invalid request: Invalid 'data' value: not base64 encoded",
    )
    too_long = store_params(account, b"\x00" * 76_803)
    assert rpc(node, "store", too_long) == (
        400,
        "invalid request: Message body exceeds maximum allowed length of 76800 bytes",
    )
    assert rpc(node, "store", store_params(account, b"\x00" * 76_800))[0] == 200
    short_key = {**store_params(account, b"x"), "pubkey": "05abcd"}
    assert rpc(node, "store", short_key) == (
        400,
        "invalid request: Pubkey must be 66 hex digits (33 bytes) long",
    )
    last = retrieve_params(account, last_hash="short")
    assert rpc(node, "retrieve", last) == (
        400,
        "invalid request: Invalid last_hash: expected base64 (43 chars)",
    )


def test_expire_in_the_past_is_401(healthy: Net) -> None:
    """expire process_client_req: an expiry more than a minute in the past is 401
    `expire: timestamp should be >= current time` (checked before the signature)."""
    account = Account.make("expire-past")
    node = member(healthy, account)
    h = rpc(node, "store", store_params(account, b"x"))[1]["hash"]
    past = now_ms() - 61_000
    params = {
        "pubkey": account.session_id,
        "messages": [h],
        "expiry": past,
        **account.auth(f"expire{past}{h}"),
    }
    assert rpc(node, "expire", params) == (401, "expire: timestamp should be >= current time")


def test_parse_errors_come_before_the_swarm_check(healthy: Net) -> None:
    """process_client_req loads the request (400 on a parse error) before it looks at the swarm
    (421): a node outside the account's swarm still reports the parse error."""
    account = Account.make("parse-before-421")
    outsider = healthy.outsiders(account.session_id)[0]
    bad = {**store_params(account, b"x"), "data": "***"}
    assert rpc(outsider, "store", bad)[0] == 400
    assert rpc(outsider, "store", store_params(account, b"x"))[0] == 421
