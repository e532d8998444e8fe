"""Group swarm requests: admin and subaccount signatures a storage server accepts; revoke; kicked notices."""

from __future__ import annotations

import base64

from sessioncli.protocol import crypto
from sessioncli.protocol.groups import multi_encrypt, subaccount, swarm_auth
from sessioncli.protocol.ids import Identity

GROUP_PK, GROUP_SK = crypto.ed25519_keypair_from_seed(bytes(range(32)))
BOB = Identity.from_seed(bytes([9]) * 16)
TS = 1_700_000_000_000


def _sig(params: dict[str, object]) -> bytes:
    value = params["signature"]
    assert isinstance(value, str)
    return base64.b64decode(value)


def test_admin_store_and_retrieve() -> None:
    admin = swarm_auth.GroupAuth(GROUP_PK, group_sk=GROUP_SK)
    req = swarm_auth.build_store(admin, b"data", namespace=13, ttl_ms=1000, timestamp_ms=TS)
    p = req.params
    assert p["pubkey"] == "03" + GROUP_PK.hex() and "pubkey_ed25519" not in p
    assert crypto.verify(GROUP_PK, f"store13{TS}".encode(), _sig(p))
    assert base64.b64decode(p["data"]) == b"data"
    r = swarm_auth.build_retrieve(admin, namespace=-11, timestamp_ms=TS, last_hash="h").params
    assert crypto.verify(GROUP_PK, f"retrieve-11{TS}".encode(), _sig(r)) and r["last_hash"] == "h"
    assert "group_sk" not in repr(admin) and repr(GROUP_SK) not in repr(admin)


def test_member_requests_verify_like_a_storage_server() -> None:
    auth = subaccount.make_auth_data(GROUP_SK, BOB.session_id)
    member = swarm_auth.GroupAuth(GROUP_PK, user_ed_sk=BOB.ed25519_secret, auth_data=auth)
    p = swarm_auth.build_retrieve(member, namespace=11, timestamp_ms=TS).params
    token = base64.b64decode(p["subaccount"])
    assert token == subaccount.make_token(GROUP_SK, BOB.session_id)
    assert crypto.verify(GROUP_PK, token, base64.b64decode(p["subaccount_sig"]))
    assert crypto.verify(token[4:], f"retrieve11{TS}".encode(), _sig(p))
    d = swarm_auth.build_delete(member, ["a", "b"]).params
    assert crypto.verify(token[4:], b"deleteab", _sig(d))


def test_revoke_and_unrevoke() -> None:
    token = subaccount.make_token(GROUP_SK, BOB.session_id)
    for unrevoke in (False, True):
        req = swarm_auth.build_revoke(GROUP_SK, [token], TS, unrevoke=unrevoke)
        key = "unrevoke" if unrevoke else "revoke"
        assert req.method == f"{key}_subaccount"
        assert req.params[key] == [base64.b64encode(token).decode()]
        signed = f"{key}_subaccount{TS}".encode() + token
        assert crypto.verify(GROUP_PK, signed, _sig(req.params))


def test_kicked_notice() -> None:
    carol = Identity.from_seed(bytes([3]) * 16)
    notice = multi_encrypt.kicked_notice(GROUP_SK, BOB.x25519_public, 4)
    assert multi_encrypt.read_kicked_notice(notice, BOB.ed25519_secret, GROUP_PK) == 4
    assert multi_encrypt.read_kicked_notice(notice, carol.ed25519_secret, GROUP_PK) is None
    assert multi_encrypt.read_kicked_notice(b"junk", BOB.ed25519_secret, GROUP_PK) is None
