"""core/groups against a real devnet: its storage servers check the admin and subaccount auth.

This test talks JSON-RPC to the group's swarm members directly over loopback HTTPS (no onion;
the onion route is tests/integration/test_groups_cli.py's): what it exercises is every
request protocol/groups/swarm_auth.py builds, the invites as real DMs, and the whole group flow,
against the devnet's own implementation of the storage server's rules.
"""

from __future__ import annotations

import base64
import http.client
import json
import ssl
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from sessioncli.core import group_receive, group_send, groups
from sessioncli.core.dispatch import Outgoing
from sessioncli.core.group_state import StoredItem
from sessioncli.core.recipients import Target
from sessioncli.errors import ProtocolError
from sessioncli.protocol import message, rpc
from sessioncli.protocol.groups import swarm_auth
from sessioncli.protocol.groups.swarm_auth import GroupAuth
from sessioncli.protocol.ids import Identity
from tests.unit.groups_world import User

pytestmark = pytest.mark.slow

_TLS = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
_TLS.check_hostname = False
_TLS.verify_mode = ssl.CERT_NONE  # devnet certificates are self-signed, as real nodes' are


class DevnetSwarm:
    """A GroupSwarm that posts signed requests straight to a swarm member of the devnet."""

    def __init__(self, nodes: list[dict[str, Any]]) -> None:
        self.nodes = nodes
        self.requests = 0

    def _rpc(self, pubkey: str, req: rpc.RpcRequest) -> Any:
        member = self._member(pubkey)
        status, body = self._post(member, req.method, req.params)
        if status != 200:
            raise ProtocolError(f"{req.method}: HTTP {status}: {body}")
        return body

    def _post(self, node: dict[str, Any], method: str, params: dict[str, Any]) -> tuple[int, Any]:
        self.requests += (
            method != "get_swarm"
        )  # storage requests only (the lookup is a harness cost)
        conn = http.client.HTTPSConnection(node["ip"], node["port"], timeout=10, context=_TLS)
        try:
            conn.request(
                "POST", "/storage_rpc/v1", json.dumps({"method": method, "params": params})
            )
            resp = conn.getresponse()
            raw = resp.read()
        finally:
            conn.close()
        try:
            return resp.status, json.loads(raw)
        except ValueError:
            return resp.status, raw.decode(errors="replace")

    def _member(self, pubkey: str) -> dict[str, Any]:
        status, body = self._post(self.nodes[0], "get_swarm", {"pubkey": pubkey})
        assert status == 200, body
        members = {s["pubkey_ed25519"] for s in body["snodes"]}
        return next(n for n in self.nodes if n["pubkey_ed25519"] in members)

    def now_ms(self) -> int:
        return int(time.time() * 1000)

    def store_group(
        self, auth: GroupAuth, namespace: int, data: bytes, *, ttl_ms: int, timestamp_ms: int
    ) -> str:
        body = self._rpc(
            auth.group_id,
            swarm_auth.build_store(
                auth, data, namespace=namespace, ttl_ms=ttl_ms, timestamp_ms=timestamp_ms
            ),
        )
        return str(
            body.get("hash") or next(v["hash"] for v in body["swarm"].values() if "hash" in v)
        )

    def retrieve_group(self, auth: GroupAuth, namespace: int) -> list[StoredItem]:
        body = self._rpc(
            auth.group_id,
            swarm_auth.build_retrieve(auth, namespace=namespace, timestamp_ms=self.now_ms()),
        )
        return [
            StoredItem(m["hash"], int(m["timestamp"]), base64.b64decode(m["data"]))
            for m in body["messages"]
        ]

    def delete_group(self, auth: GroupAuth, hashes: Sequence[str]) -> None:
        self._rpc(auth.group_id, swarm_auth.build_delete(auth, hashes))

    def revoke_subaccounts(
        self, group_sk: bytes, tokens: Sequence[bytes], *, unrevoke: bool = False
    ) -> None:
        req = swarm_auth.build_revoke(group_sk, tokens, self.now_ms(), unrevoke=unrevoke)
        self._rpc(req.params["pubkey"], req)

    def send_dm(
        self, sender: Identity, recipient: str, content: bytes, *, timestamp_ms: int
    ) -> str:
        data = message.encode_dm(sender, recipient, content, timestamp_ms)
        req = rpc.build_store(recipient, data, ttl_ms=3_600_000, timestamp_ms=timestamp_ms)
        body = self._rpc(recipient, req)
        return str(next(v["hash"] for v in body["swarm"].values() if "hash" in v))

    def inbox(self, ident: Identity) -> list[str]:
        req = rpc.build_retrieve(ident, timestamp_ms=self.now_ms())
        return [m["data"] for m in self._rpc(ident.session_id, req)["messages"]]


@pytest.fixture(scope="module")
def swarm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevnetSwarm]:
    from sessioncli.devnet import Devnet

    devnet = Devnet(tmp_path_factory.mktemp("groups-devnet"), nodes=10, swarm_size=5, seed="groups")
    devnet.start()
    try:
        yield DevnetSwarm([n for n in devnet.describe_nodes() if n["kind"] == "storage"])
    finally:
        devnet.stop()


def join(user: User, swarm: DevnetSwarm, group_id: str) -> None:
    """Read the invite DM from the user's own swarm, keep it, accept it."""
    dm = message.decode_dm(user.identity, swarm.inbox(user.identity)[0])
    invite = groups.control_of(dm.raw_content)
    assert invite is not None and invite.kind == "invite"
    user(groups.record_invite, invite, dm.sender, dm.timestamp_ms)
    user(groups.accept, group_id)


def read(user: User) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []

    def go(ctx: groups.GroupContext) -> None:
        r = group_receive.GroupReceiver(ctx, "team")
        r.poll(lambda rec: out.append(rec.to_json()))
        r.close()

    user(go)
    return out


def say(user: User, body: str) -> group_send.GroupSendResult:
    return user(
        group_send.post_text, Target("group", "", name="team"), Outgoing(body=body, ttl_ms=1)
    )


def test_group_on_a_devnet(swarm: DevnetSwarm, tmp_path: Path) -> None:
    alice, bob, carol = (User(n, tmp_path, swarm) for n in ("alice", "bob", "carol"))  # type: ignore[arg-type]
    made = alice(groups.create, "team", [bob.identity.session_id, carol.identity.session_id])
    assert not made.warnings
    join(bob, swarm, made.group_id)
    join(carol, swarm, made.group_id)
    read(alice)  # the two invite responses
    assert {m.status for m in alice(groups.show, "team").members} == {"admin", "member"}
    for i in range(3):
        for who in (alice, bob, carol):
            assert say(who, f"{who.name} {i}").ok
    for who in (alice, bob, carol):
        got = [r["body"] for r in read(who) if r["kind"] == "text"]
        assert sorted(got) == sorted(
            f"{o.name} {i}" for o in (alice, bob, carol) if o is not who for i in range(3)
        )
        assert [r for r in read(who) if r["kind"] == "text"] == []  # exactly once

    alice(groups.remove_members, "team", [carol.identity.session_id])
    assert [r["kind"] for r in read(carol)] == ["group_removed"]
    refused = say(carol, "let me in")
    assert not refused.ok and refused.exit_code == 1
    # and the storage servers themselves refuse her revoked subaccount (401), for ns 11 at least
    kicked = carol(lambda ctx: groups._open(ctx, "team"))
    with pytest.raises(ProtocolError, match="401"):
        swarm.store_group(kicked.auth(), 11, b"x" * 64, ttl_ms=60_000, timestamp_ms=swarm.now_ms())
    with pytest.raises(ProtocolError, match="401"):
        swarm.retrieve_group(kicked.auth(), 11)
    assert swarm.retrieve_group(kicked.auth(), -11)  # the notice stays readable
    assert say(alice, "after carol").ok and say(bob, "bob after").ok
    assert "after carol" in [r["body"] for r in read(bob)]
    assert read(carol) == []
