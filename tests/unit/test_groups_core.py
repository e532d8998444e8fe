"""core/groups.py against an in-memory swarm that checks signatures like a storage server.

alice creates a group with bob and carol; both accept; posts flow; alice removes carol (revoked,
rekeyed, kicked notice) while bob keeps reading; forged invites, member-run admin commands and
unknown groups fail cleanly; the sealed state is 0600 and holds no secret in the clear.
"""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

import pytest

from sessioncli.core import group_store, groups
from sessioncli.core.group_state import NotAdmin
from sessioncli.core.groups import GroupContext
from sessioncli.errors import UsageError
from sessioncli.protocol.groups import control as gc
from sessioncli.protocol.groups import swarm_auth
from sessioncli.protocol.groups.message import GroupMessageError, decode_group_post
from sessioncli.protocol.proto import session_pb2 as pb
from tests.unit.groups_fakeswarm import FakeSwarm, Refused
from tests.unit.groups_world import User, make_world, take_invite


@pytest.fixture
def world(tmp_path: Path) -> tuple[FakeSwarm, User, User, User]:
    return make_world(tmp_path)


T = TypeVar("T")


def text(body: str, ts: int) -> bytes:
    c = pb.Content()
    c.dataMessage.body = body
    c.sigTimestamp = ts
    return c.SerializeToString()


def posts(user: User, swarm: FakeSwarm, group_id: str) -> list[tuple[str, bytes]]:
    """(sender, content) of every ns-11 post this user can read (with its keys)."""
    st = user(lambda ctx: group_store.load(ctx.folder, ctx.identity.ed25519_secret[:32], group_id))
    assert st is not None
    from sessioncli.core.group_state import OpenGroup

    og = OpenGroup.open(user.identity, st)
    out = []
    for item in swarm.stored.get((group_id, swarm_auth.NS_MESSAGES), []):
        try:
            p = decode_group_post(og.keys.decryption_keys(), og.group_pk, item.data)
        except GroupMessageError:
            continue
        out.append((p.sender, p.content))
    return out


def post(user: User, name: str, body: str) -> str:
    def go(ctx: GroupContext) -> str:
        og = groups._open(ctx, name)
        og.sync(ctx.swarm)
        ts = ctx.swarm.now_ms()
        return groups.post_content(ctx, og, text(body, ts), ts)

    return user(go)


def test_create_join_post_remove(world: tuple[FakeSwarm, User, User, User]) -> None:
    swarm, alice, bob, carol = world
    created = alice(
        groups.create,
        "team",
        [bob.identity.session_id, carol.identity.session_id],
        description="CI",
    )
    assert created.role == "admin" and created.group_name == "team" and created.generation == 0
    status = {m.session_id: m.status for m in created.members}
    assert status == {
        alice.identity.session_id: "admin",
        bob.identity.session_id: "invited",
        carol.identity.session_id: "invited",
    }
    gid = created.group_id
    for who in (bob, carol):
        pending = take_invite(who, swarm)
        assert pending.role == "invited" and pending.group_name == "team"
        assert pending.inviter == alice.identity.session_id
        joined = who(groups.accept, gid)
        assert joined.role == "member" and joined.name == "team" and joined.description == "CI"
        assert len(joined.members) == 3
    # alice sees the two invite responses and marks both accepted
    for sender, content in posts(alice, swarm, gid):
        ctl = groups.control_of(content)
        if ctl is not None and ctl.kind == "invite_response":
            assert alice(groups.handle_control, "team", ctl, sender, 0) == "invite_accepted"
    shown = alice(groups.show, "team")
    assert {m.status for m in shown.members} == {"admin", "member"}

    post(bob, "team", "from bob")
    post(carol, "team", "from carol")
    seen_by_alice = [pb.Content.FromString(c).dataMessage.body for _, c in posts(alice, swarm, gid)]
    assert "from bob" in seen_by_alice and "from carol" in seen_by_alice

    after = alice(groups.remove_members, "team", [carol.identity.session_id])
    assert after.generation == 1 and carol.identity.session_id not in {
        m.session_id for m in after.members
    }
    post(alice, "team", "secret plans")
    with pytest.raises(Refused, match="revoked"):
        post(carol, "team", "still here?")
    kicked = carol(groups.show, "team")  # -11 stays readable with the revoked token
    assert kicked.role == "removed"
    assert b"secret plans" not in b"".join(c for _, c in posts(carol, swarm, gid))
    bob(groups.show, "team")  # loads the new key
    assert b"secret plans" in b"".join(c for _, c in posts(bob, swarm, gid))
    post(bob, "team", "bob still posts")


def test_refusals(world: tuple[FakeSwarm, User, User, User]) -> None:
    swarm, alice, bob, carol = world
    created = alice(groups.create, "ops", [bob.identity.session_id])
    take_invite(bob, swarm)
    bob(groups.accept, created.group_id)
    with pytest.raises(NotAdmin):
        bob(groups.add_members, "ops", [carol.identity.session_id])
    with pytest.raises(NotAdmin):
        bob(groups.remove_members, "ops", [alice.identity.session_id])
    with pytest.raises(UsageError, match="unknown group"):
        bob(groups.show, "nope")
    with pytest.raises(UsageError, match="already used"):
        alice(groups.create, "ops", [])
    with pytest.raises(UsageError, match="no pending invite"):
        carol(groups.accept, created.group_id)
    # a forged invite (signed by a key that is not the group's) is refused
    from sessioncli.protocol import crypto
    from sessioncli.protocol.groups import subaccount

    _, fake_sk = crypto.ed25519_keypair_from_seed(bytes(32))
    real = gc.group_pk_of(created.group_id)
    forged = gc.invite(
        fake_sk,
        "ops",
        subaccount.make_auth_data(fake_sk, carol.identity.session_id),
        carol.identity.session_id,
        5,
    )
    ctl = gc.read_control(forged)
    ctl = gc.Control(
        "invite", created.group_id, ctl.name, ctl.auth_data, admin_signature=ctl.admin_signature
    )
    assert gc.group_pk_of(ctl.group_id) == real
    with pytest.raises(gc.ControlError, match="signature"):
        carol(groups.record_invite, ctl, alice.identity.session_id, 5)


def test_add_decline_leave_and_sealed_state(world: tuple[FakeSwarm, User, User, User]) -> None:
    swarm, alice, bob, carol = world
    swarm.offline.add(carol.identity.session_id)
    created = alice(groups.create, "alerts", [bob.identity.session_id, carol.identity.session_id])
    assert any("failed" in w for w in created.warnings)
    assert {m.status for m in created.members if m.session_id == carol.identity.session_id} == {
        "invite_failed"
    }
    take_invite(bob, swarm)
    assert [v.role for v in bob(groups.list_groups)] == ["invited"]
    bob(groups.decline, created.group_id)
    assert bob(groups.list_groups) == []
    swarm.offline.clear()
    dave = User("dave", alice.home.parent, swarm)
    added = alice(groups.add_members, "alerts", [dave.identity.session_id])
    assert added.generation == 1 and len(added.members) == 4
    take_invite(dave, swarm)
    dave(groups.accept, created.group_id, name="dave-alerts")
    assert [v.name for v in dave(groups.list_groups)] == ["dave-alerts"]
    dave(groups.leave, "dave-alerts")
    assert dave(groups.list_groups) == []
    left = [(s, groups.control_of(c)) for s, c in posts(alice, swarm, created.group_id)]
    assert any(
        ctl is not None and ctl.kind == "member_left" and s == dave.identity.session_id
        for s, ctl in left
    )
    assert (
        alice(
            groups.handle_control, "alerts", gc.Control("member_left"), dave.identity.session_id, 0
        )
        == "member_removed"
    )

    sealed = alice.ctx.folder / "groups" / f"{created.group_id}.sealed"
    assert sealed.stat().st_mode & 0o777 == 0o600
    secrets = alice(
        lambda ctx: group_store.load(ctx.folder, ctx.identity.ed25519_secret[:32], created.group_id)
    )
    assert secrets is not None and secrets.group_seed is not None
    for path in alice.home.rglob("*"):
        if path.is_file():
            assert secrets.group_seed not in path.read_bytes(), path
    assert "group_seed" not in repr(secrets)
    with pytest.raises(Exception, match="cannot be read with this identity"):
        group_store.unseal(bob.identity.ed25519_secret[:32], sealed.read_bytes(), created.group_id)
