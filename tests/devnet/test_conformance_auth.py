"""The devnet authenticates as the real storage server does: which key, which texts, which codes.

Each test names the upstream function (session-storage-server) whose behaviour it mirrors; the
requests are built here (tests/devnet/wire.py), from SPEC §4.3, not with the devnet's code."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from tests.devnet.conftest import Net
from tests.devnet.wire import Account, RawKeyAccount, now_ms, retrieve_params, rpc, store_params

pytestmark = pytest.mark.slow


def member(net: Net, account: Any) -> dict[str, Any]:
    return net.swarm_of(account.session_id)[0]


def stored(net: Net, account: Account, data: bytes) -> str:
    status, body = rpc(member(net, account), "store", store_params(account, data))
    assert status == 200, body
    return str(body["hash"])


def test_05_account_without_pubkey_ed25519_verifies_with_the_raw_key_bytes(healthy: Net) -> None:
    """`verify_signature`: pubkey_ed25519 is used only for a 05 account that gives it; otherwise
    the 32 bytes after the prefix are the Ed25519 key (no XEd25519 conversion)."""
    real = Account.make("raw-rule")
    params = retrieve_params(real)
    del params["pubkey_ed25519"]
    assert rpc(member(healthy, real), "retrieve", params) == (
        401,
        "retrieve signature verification failed",
    )
    # A "05" account whose key bytes are themselves an Ed25519 key passes without pubkey_ed25519.
    raw = RawKeyAccount.make("raw-rule-05", prefix="05")
    ts = now_ms()
    params = {"pubkey": raw.session_id, "timestamp": ts, **raw.auth(f"retrieve{ts}")}
    status, body = rpc(member(healthy, raw), "retrieve", params)
    assert status == 200, body


def test_signature_failure_texts_name_the_method(healthy: Net) -> None:
    """`process_client_req` of store / retrieve / delete_msgs / delete_all / delete_before /
    expire_all / get_expiries / expire: 401 `<method> signature verification failed`
    (`expire: signature verification failed`); a pubkey_ed25519 that does not convert to the
    pubkey fails the same way."""
    account = Account.make("sig-texts")
    node = member(healthy, account)
    h = stored(healthy, account, b"to be signed for")
    other = Account.make("sig-texts-other")
    ts = now_ms()
    base = {"pubkey": account.session_id, "pubkey_ed25519": account.ed_pk.hex()}
    wrong = other.sign("not what the server signs")
    cases: list[tuple[str, dict[str, Any], str]] = [
        ("store", {**store_params(account, b"x", namespace=2), "signature": wrong}, "store"),
        ("retrieve", {**base, "timestamp": ts, "signature": wrong}, "retrieve"),
        ("delete", {**base, "messages": [h], "signature": wrong}, "delete_msgs"),
        ("delete_all", {**base, "timestamp": ts, "signature": wrong}, "delete_all"),
        ("delete_before", {**base, "before": ts, "signature": wrong}, "delete_before"),
        ("expire_all", {**base, "expiry": ts + 60_000, "signature": wrong}, "expire_all"),
        (
            "get_expiries",
            {**base, "timestamp": ts, "messages": [h], "signature": wrong},
            "get_expiries",
        ),
    ]
    for method, params, name in cases:
        assert rpc(node, method, params) == (401, f"{name} signature verification failed"), method
    expire = {**base, "messages": [h], "expiry": ts + 60_000, "signature": wrong}
    assert rpc(node, "expire", expire) == (401, "expire: signature verification failed")
    # Properly signed, but with someone else's Ed25519 key.
    mismatched = {**retrieve_params(account), "pubkey_ed25519": other.ed_pk.hex()}
    mismatched["signature"] = other.sign(f"retrieve{mismatched['timestamp']}")
    assert rpc(node, "retrieve", mismatched) == (401, "retrieve signature verification failed")


def test_missing_signature(healthy: Net) -> None:
    """store::load_from / retrieve::load_from and their process_client_req: a signature is
    required to store outside the public namespaces (401), to retrieve (401 when nothing asks for
    auth, else 400 from the parser), and by every other signed method (400)."""
    account = Account.make("no-sig")
    node = member(healthy, account)
    assert rpc(node, "store", store_params(account, b"x", namespace=2)) == (
        401,
        "store: signature required to store to namespace 2",
    )
    assert rpc(node, "retrieve", {"pubkey": account.session_id}) == (
        401,
        "retrieve: request signature required",
    )
    required = (400, "invalid request: Required field 'signature' missing")
    with_ts = {"pubkey": account.session_id, "timestamp": now_ms()}
    assert rpc(node, "retrieve", with_ts) == required
    assert rpc(node, "retrieve", {"pubkey": account.session_id, "namespace": 0}) == required
    assert rpc(node, "delete_all", with_ts) == required
    # The no-auth namespaces retrieve without one.
    assert rpc(node, "retrieve", {"pubkey": account.session_id, "namespace": -10})[0] == 200


def test_timestamp_window_texts(healthy: Net) -> None:
    """process_client_req(store / retrieve / delete_all / get_expiries): 406 `<what> timestamp too
    far from current time`, with no advice appended."""
    account = Account.make("406-texts")
    node = member(healthy, account)
    old = now_ms() - 120_000
    store = store_params(account, b"x", namespace=2)
    store.update(sig_timestamp=old, **account.auth(f"store2{old}"))
    assert rpc(node, "store", store) == (406, "store signature timestamp too far from current time")
    assert rpc(node, "retrieve", retrieve_params(account, ts=old)) == (
        406,
        "retrieve timestamp too far from current time",
    )
    base = {"pubkey": account.session_id}
    delete_all = {**base, "timestamp": old, **account.auth(f"delete_all{old}")}
    assert rpc(node, "delete_all", delete_all) == (
        406,
        "delete_all timestamp too far from current time",
    )
    h = "A" * 43
    expiries = {**base, "timestamp": old, "messages": [h], **account.auth(f"get_expiries{old}{h}")}
    assert rpc(node, "get_expiries", expiries) == (
        406,
        "get_expiries timestamp too far from current time",
    )


def test_pubkey_ed25519_only_for_05_and_namespace_range(healthy: Net) -> None:
    """load_pk_signature: pubkey_ed25519 with a non-05 account is a 400; parse_field: a namespace
    outside int16 is `value out of range`."""
    group = RawKeyAccount.make("ed-on-03")
    ts = now_ms()
    params = {
        "pubkey": group.session_id,
        "timestamp": ts,
        "pubkey_ed25519": group.ed_pk.hex(),
        **group.auth(f"retrieve{ts}"),
    }
    assert rpc(member(healthy, group), "retrieve", params) == (
        400,
        "invalid request: pubkey_ed25519 is only permitted for 05[...] pubkeys",
    )
    account = Account.make("ns-range")
    out_of_range = store_params(account, b"x", namespace=40_000)
    assert rpc(member(healthy, account), "store", out_of_range) == (
        400,
        "invalid request: Invalid value given for 'namespace': value out of range",
    )


def test_signatures_are_base64_only(healthy: Net) -> None:
    """load_pk_signature: a JSON signature must be base64 (86 characters, or 88 ending "==")."""
    account = Account.make("hex-sig")
    params = retrieve_params(account)
    params["signature"] = base64.b64decode(params["signature"]).hex()
    assert rpc(member(healthy, account), "retrieve", params) == (
        400,
        "invalid request: invalid signature: expected base64 encoded Ed25519 signature",
    )
    unpadded = retrieve_params(account)
    unpadded["signature"] = unpadded["signature"].rstrip("=")
    assert rpc(member(healthy, account), "retrieve", unpadded)[0] == 200
