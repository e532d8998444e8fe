"""Groups-v2 authentication on the devnet: the 03 account's own key, and members' subaccount
tokens (flags, any-prefix, revocation, the unrevocable namespaces).

Tokens and signatures are built here with nacl from GROUPS-V2.md §4.3 (tests/devnet/group_wire.py).
Each test names the upstream function (session-storage-server) whose behaviour it mirrors:
`verify_signature` (oxenss/rpc/request_handler.cpp), `signed_subaccount_token::verify`
(oxenss/crypto/subaccount.cpp), `load_subaccount` (oxenss/rpc/client_rpc_endpoints.cpp)."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from tests.devnet.conftest import Net
from tests.devnet.group_wire import ANY_PREFIX, DELETE, READ, WRITE, Subaccount, make_member
from tests.devnet.wire import RawKeyAccount, now_ms, rpc

pytestmark = pytest.mark.slow

GROUP = RawKeyAccount.make("devnet-subaccount-group")


def node_for(net: Net) -> dict[str, Any]:
    return net.swarm_of(GROUP.session_id)[0]


def store(sub: Subaccount | None, namespace: int, data: bytes) -> dict[str, Any]:
    ts = now_ms()
    signed = f"store{namespace}{ts}"
    auth = sub.params(signed) if sub is not None else GROUP.auth(signed)
    return {
        "pubkey": GROUP.session_id,
        "namespace": namespace,
        "timestamp": ts,
        "ttl": 600_000,
        "data": base64.b64encode(data).decode(),
        **auth,
    }


def retrieve(sub: Subaccount, namespace: int) -> dict[str, Any]:
    ts = now_ms()
    ns = "" if namespace == 0 else str(namespace)
    return {
        "pubkey": GROUP.session_id,
        "namespace": namespace,
        "timestamp": ts,
        **sub.params(f"retrieve{ns}{ts}"),
    }


def admin_tokens(verb: str, key: str, tokens: list[bytes]) -> dict[str, Any]:
    ts = now_ms()
    signed = verb.encode() + str(ts).encode() + b"".join(tokens)
    return {
        "pubkey": GROUP.session_id,
        "timestamp": ts,
        key: [base64.b64encode(t).decode() for t in tokens],
        "signature": GROUP.sign_bytes(signed),
    }


def test_admin_signs_with_the_raw_group_key(healthy: Net) -> None:
    """verify_signature: a 03 account (no pubkey_ed25519) verifies with its own 32 key bytes."""
    node = node_for(healthy)
    status, body = rpc(node, "store", store(None, 12, b"keys config"))
    assert status == 200, body
    other = RawKeyAccount.make("not-the-admin")
    forged = store(None, 12, b"forged")
    forged["signature"] = other.sign(f"store12{forged['timestamp']}")
    assert rpc(node, "store", forged) == (401, "store signature verification failed")


def test_member_flags_decide_what_the_token_may_do(healthy: Net) -> None:
    """signed_subaccount_token::verify: store needs write, retrieve read, delete delete; expire
    without delete may only extend (shorten is a 400)."""
    node = node_for(healthy)
    writer = make_member("member-rw", GROUP, READ | WRITE)
    status, body = rpc(node, "store", store(writer, 11, b"hello group"))
    assert status == 200, body
    h = body["hash"]
    status, body = rpc(node, "retrieve", retrieve(writer, 11))
    assert status == 200, body
    assert h in [m["hash"] for m in body["messages"]]
    delete = {"pubkey": GROUP.session_id, "messages": [h], **writer.params(f"delete{h}")}
    assert rpc(node, "delete", delete) == (401, "delete_msgs signature verification failed")
    expiry = now_ms() + 60_000
    shorten = {
        "pubkey": GROUP.session_id,
        "messages": [h],
        "expiry": expiry,
        "shorten": True,
        **writer.params(f"expireshorten{expiry}{h}"),
    }
    assert rpc(node, "expire", shorten) == (
        400,
        "expire: shorten parameter cannot be used with this subaccount token "
        "(missing delete access)",
    )
    plain = {k: v for k, v in shorten.items() if k != "shorten"}
    plain.update(writer.params(f"expire{expiry}{h}"))
    status, body = rpc(node, "expire", plain)
    assert status == 200, body  # treated as extend-only: the 10 min expiry stays
    assert body["swarm"][node["pubkey_ed25519"]]["updated"] == []

    reader = make_member("member-r", GROUP, READ)
    assert rpc(node, "store", store(reader, 11, b"no write")) == (
        401,
        "store signature verification failed",
    )
    assert rpc(node, "retrieve", retrieve(reader, 11))[0] == 200

    moderator = make_member("member-rwd", GROUP, READ | WRITE | DELETE)
    delete = {"pubkey": GROUP.session_id, "messages": [h], **moderator.params(f"delete{h}")}
    status, body = rpc(node, "delete", delete)
    assert status == 200, body
    assert body["swarm"][node["pubkey_ed25519"]]["deleted"] == [h]


def test_token_prefix_must_match_unless_any_prefix(healthy: Net) -> None:
    """subaccount_token::prefix_allowed: a token made for 05 does not open a 03 account, unless it
    carries the any-prefix flag."""
    node = node_for(healthy)
    wrong = make_member("member-05-token", GROUP, READ | WRITE, prefix=5)
    assert rpc(node, "retrieve", retrieve(wrong, 11)) == (
        401,
        "retrieve signature verification failed",
    )
    anywhere = make_member("member-any-prefix", GROUP, READ | WRITE | ANY_PREFIX, prefix=5)
    assert rpc(node, "retrieve", retrieve(anywhere, 11))[0] == 200


def test_revoked_tokens_fail_except_in_unrevocable_namespaces(healthy: Net) -> None:
    """revoke_subaccount / unrevoke_subaccount process_client_req (admin-signed over
    method || timestamp || raw tokens) and verify_signature's revocation check, skipped for
    retrieving from the unrevocable namespaces (-11, -111, ...)."""
    node = node_for(healthy)
    kicked = make_member("member-kicked", GROUP, READ | WRITE)
    assert rpc(node, "store", store(None, -11, b"you were removed"))[0] == 200
    status, body = rpc(
        node, "revoke_subaccount", admin_tokens("revoke_subaccount", "revoke", [kicked.token])
    )
    assert status == 200, body
    assert set(body["swarm"]) == {m["pubkey_ed25519"] for m in healthy.swarm_of(GROUP.session_id)}
    assert rpc(node, "retrieve", retrieve(kicked, 11)) == (
        401,
        "retrieve signature verification failed",
    )
    assert rpc(node, "store", store(kicked, 11, b"still here?"))[0] == 401
    # Only retrieving is exempt in the unrevocable namespaces; storing there is refused too.
    assert rpc(node, "store", store(kicked, -11, b"me too"))[0] == 401
    status, body = rpc(node, "retrieve", retrieve(kicked, -11))
    assert status == 200, body
    assert [base64.b64decode(m["data"]) for m in body["messages"]] == [b"you were removed"]
    # A member cannot revoke (no subaccount auth for these), nor sign as the admin.
    forged = admin_tokens("revoke_subaccount", "revoke", [kicked.token])
    forged["signature"] = kicked.member.sign_bytes(b"revoke_subaccount")
    assert rpc(node, "revoke_subaccount", forged) == (
        401,
        "revoke_subaccount signature verification failed",
    )
    status, body = rpc(
        node, "unrevoke_subaccount", admin_tokens("unrevoke_subaccount", "unrevoke", [kicked.token])
    )
    assert status == 200, body
    assert body["swarm"][node["pubkey_ed25519"]]["count"] == 1
    assert rpc(node, "retrieve", retrieve(kicked, 11))[0] == 200


def test_subaccount_needs_its_signature(healthy: Net) -> None:
    """load_subaccount: `subaccount` without `subaccount_sig` is a 400; a token that is neither
    36 bytes of base64 nor of hex is a 400."""
    node = node_for(healthy)
    member = make_member("member-parse", GROUP, READ)
    params = retrieve(member, 11)
    del params["subaccount_sig"]
    assert rpc(node, "retrieve", params) == (
        400,
        "invalid request: invalid subaccount: subaccount_sig is required when using subaccount",
    )
    params = retrieve(member, 11)
    params["subaccount"] = member.token.hex()  # hex is accepted too
    assert rpc(node, "retrieve", params)[0] == 200
    params["subaccount"] = "abcd"
    assert rpc(node, "retrieve", params) == (
        400,
        "invalid request: invalid subaccount: expected base64 or hex-encoded subaccount token",
    )


def test_test_side_subaccount_crypto_reproduces_libsession() -> None:
    """The token, admin signature and member signature built here (from GROUPS-V2 §4.3) are the
    bytes of libsession's 'Group Keys - swarm authentication' test (tests/data copy)."""
    import json
    from pathlib import Path

    from nacl import bindings as sodium

    from tests.devnet.group_wire import Subaccount, member_auth_data
    from tests.devnet.wire import Account

    path = Path(__file__).resolve().parents[1] / "data" / "devnet_subaccount_vector.json"
    (entry,) = json.loads(path.read_text())["entries"]
    inputs, expected = entry["inputs"], entry["expected"]
    group_seed = bytes.fromhex(inputs["group_seed_hex"])
    group_pk, group_sk = sodium.crypto_sign_seed_keypair(group_seed)
    group = RawKeyAccount("03", group_pk, group_sk, group_seed)
    seed = bytes.fromhex(inputs["member_ed25519_seed_hex"])
    ed_pk, ed_sk = sodium.crypto_sign_seed_keypair(seed)
    member = Account(ed_pk, ed_sk, sodium.crypto_sign_ed25519_pk_to_curve25519(ed_pk))
    assert member.session_id == inputs["member_session_id"]
    sub = Subaccount(member, seed, member_auth_data(group, member, READ | WRITE))
    assert sub.auth_data.hex() == expected["member_auth_data_hex_derived"]
    params = sub.params(inputs["message_to_sign_utf8"])
    assert params["subaccount"] == expected["subaccount_b64"]
    assert params["subaccount_sig"] == expected["subaccount_sig_b64"]
    assert params["signature"] == expected["signature_b64"]
