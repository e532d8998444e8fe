"""NetworkClient.group_request (net/groupcall.py) against a devnet: signed requests on a 03 swarm."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from sessioncli.errors import ProtocolError, UsageError
from sessioncli.net.client import NetworkClient
from sessioncli.net.groupcall import group_id_of
from sessioncli.protocol import crypto, rpc
from sessioncli.protocol.groups import subaccount, swarm_auth
from sessioncli.protocol.groups.swarm_auth import GroupAuth
from sessioncli.protocol.ids import Identity

pytestmark = pytest.mark.slow

GROUP_SEED = bytes(range(32))
BOB = Identity.from_seed(b"bob-groupcall...")


def test_group_id_of_refuses_what_is_not_a_03_id() -> None:
    pk = crypto.ed25519_keypair_from_seed(GROUP_SEED)[0]
    assert group_id_of(" 03" + pk.hex().upper() + " ") == "03" + pk.hex()
    for bad in ("05" + pk.hex(), "03" + pk.hex()[:-2], "03" + "zz" * 32, ""):
        with pytest.raises(UsageError):
            group_id_of(bad)


def test_admin_and_member_requests_over_onion(devnet, tmp_path: Path) -> None:
    pk, sk = crypto.ed25519_keypair_from_seed(GROUP_SEED)
    admin = GroupAuth(pk, group_sk=sk)
    member = GroupAuth(
        pk,
        user_ed_sk=BOB.ed25519_secret,
        auth_data=subaccount.make_auth_data(sk, BOB.session_id),
    )
    gid = admin.group_id
    with NetworkClient(str(devnet.network_file), cache_root=tmp_path / "c", timeout=20) as net:
        data = b"a group post, encrypted elsewhere"
        ts = net.now_ms()

        def store(auth: GroupAuth, payload: bytes, namespace: int = 11) -> dict:
            return net.group_request(
                gid,
                lambda _now: swarm_auth.build_store(
                    auth, payload, namespace=namespace, ttl_ms=3_600_000, timestamp_ms=ts
                ),
                what="store",
                recursive=True,
            )

        stored = store(member, data)
        assert stored["hash"] == rpc.message_hash(gid, 11, data) and stored["stored_on"]

        def retrieve(auth: GroupAuth, namespace: int = 11) -> list[bytes]:
            body = net.group_request(
                gid,
                lambda now: swarm_auth.build_retrieve(auth, namespace=namespace, timestamp_ms=now),
                what="retrieve",
                recursive=False,
            )
            return [base64.b64decode(m["data"]) for m in body["messages"]]

        assert retrieve(admin) == [data] and retrieve(member) == [data]
        # someone else's auth data with our key: refused at once (no retry loop)
        stranger = GroupAuth(
            pk,
            user_ed_sk=Identity.from_seed(b"stranger........").ed25519_secret,
            auth_data=member.auth_data,
        )
        with pytest.raises(ProtocolError, match="401"):
            store(stranger, b"forged post")
        token = subaccount.make_token(sk, BOB.session_id)
        net.group_request(
            gid,
            lambda now: swarm_auth.build_revoke(sk, [token], now),
            what="revoke_subaccount",
            recursive=True,
        )
        with pytest.raises(ProtocolError, match="401"):
            retrieve(member)
        assert retrieve(admin) == [data]
        net.group_request(
            gid,
            lambda now: swarm_auth.build_revoke(sk, [token], now, unrevoke=True),
            what="unrevoke_subaccount",
            recursive=True,
        )
        assert retrieve(member) == [data]


def test_group_poll_batches_namespaces_per_member_with_cursors(devnet, tmp_path: Path) -> None:
    from sessioncli.net.groupcall import cursor_key

    pk, sk = crypto.ed25519_keypair_from_seed(GROUP_SEED)
    admin = GroupAuth(pk, group_sk=sk)
    gid = admin.group_id

    def make(namespace: int, now: int, last_hash: str | None) -> rpc.RpcRequest:
        return swarm_auth.build_retrieve(
            admin, namespace=namespace, timestamp_ms=now, last_hash=last_hash
        )

    with NetworkClient(str(devnet.network_file), cache_root=tmp_path / "c", timeout=20) as net:
        for i, ns in enumerate((11, 13)):
            ts = net.now_ms()
            net.group_request(
                gid,
                lambda _n, ns=ns, i=i, ts=ts: swarm_auth.build_store(
                    admin, b"item %d" % i, namespace=ns, ttl_ms=3_600_000, timestamp_ms=ts
                ),
                what="store",
                recursive=True,
            )
        before = net.requests
        poll = net.group_poll(gid, make, namespaces=(11, 13, 14), cursors={})
        members = {p.node for p in poll.pages}
        assert len(members) >= 2 and not poll.failed  # every member, one batch each
        assert net.requests - before == poll.requests == len(members)
        for page in poll.pages:
            assert [len(page.pages[n][0]) for n in (11, 13, 14)] == [1, 1, 0] and not page.refused
        cursors = {
            cursor_key(p.node, n): p.pages[n][0][-1].hash for p in poll.pages for n in (11, 13)
        }
        again = net.group_poll(gid, make, namespaces=(11, 13, 14), cursors=cursors)
        assert all(not msgs for p in again.pages for msgs, _more in p.pages.values())
