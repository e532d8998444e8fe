"""Group use-cases: create, add, remove, accept, decline, leave, list, show; invites and admin-side controls.

Everything network goes through a `GroupSwarm` (core/group_state.py): storing, reading and
deleting on the group's own swarm (admin-signed or with our subaccount), revoking subaccounts,
and sending one-to-one messages (invites). `NetGroupSwarm` (core/group_net.py) adapts the
NetworkClient to it.
Secrets stay in the sealed per-group state (core/group_store.py); nothing here prints.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from sessioncli.core import group_store
from sessioncli.core.group_state import GroupSwarm, OpenGroup
from sessioncli.core.group_store import GroupSecrets
from sessioncli.errors import ProtocolError, SessionCliError, UsageError

if TYPE_CHECKING:
    from sessioncli.protocol.groups.control import Control
    from sessioncli.protocol.ids import Identity
    from sessioncli.protocol.proto import session_pb2 as pb

MESSAGE_TTL_MS: Final = 14 * 24 * 3600 * 1000  # group posts and control messages (desktop)


@dataclass(frozen=True)
class GroupContext:
    identity: Identity
    swarm: GroupSwarm
    folder: Path  # the identity's state folder on this network
    display_name: str | None = None


@dataclass(frozen=True)
class MemberView:
    session_id: str
    name: str
    admin: bool
    status: str  # "admin" | "member" | "invited" | "invite_failed" | "invite_not_sent" | "removed"

    def to_json(self) -> dict[str, Any]:
        return {
            "session_id": self.session_id,
            "name": self.name,
            "admin": self.admin,
            "status": self.status,
        }


@dataclass(frozen=True)
class GroupView:
    """What `group list/show` report about one group (no secrets)."""

    name: str  # our name for it (the index), or the group's own name for an invite
    group_id: str
    role: str  # "admin" | "member" | "invited" | "removed"
    group_name: str = ""
    description: str = ""
    generation: int = 0
    members: tuple[MemberView, ...] = ()
    inviter: str | None = None
    warnings: tuple[str, ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "group_id": self.group_id,
            "role": self.role,
            "group_name": self.group_name,
            "description": self.description,
            "key_generation": self.generation,
            "members": [m.to_json() for m in self.members],
            "admins": [m.session_id for m in self.members if m.admin],
            "inviter": self.inviter,
        }


# --- opening and saving ----------------------------------------------------------------------


def _seed(ctx: GroupContext) -> bytes:
    return ctx.identity.ed25519_secret[:32]


def _open(ctx: GroupContext, name_or_id: str) -> OpenGroup:
    entry = group_store.entry_for(name_or_id)
    secrets = group_store.load(ctx.folder, _seed(ctx), entry.group_id)
    if secrets is None:
        raise UsageError(
            f"group {entry.name!r} is not joined by this identity on this network",
            hints=("see: sessioncli group list",),
        )
    return OpenGroup.open(ctx.identity, secrets)


def _save(ctx: GroupContext, group: OpenGroup) -> None:
    group_store.save(ctx.folder, _seed(ctx), group.to_secrets())


def _member_status(m: Any) -> str:
    from sessioncli.protocol.groups.members import Removed, Status

    if m.removed != Removed.NONE:
        return "removed"
    if m.admin:
        return "admin"
    return {
        Status.SENT: "invited",
        Status.FAILED: "invite_failed",
        Status.NOT_SENT: "invite_not_sent",
    }.get(m.invite, "member")


def view(group: OpenGroup, name: str) -> GroupView:
    from sessioncli.protocol.groups.info import read_info
    from sessioncli.protocol.groups.members import read_members

    info = read_info(group.info.data)
    s = group.secrets
    role = (
        "removed"
        if s.kicked
        else s.status
        if s.status == "invited"
        else "admin"
        if group.admin
        else "member"
    )
    return GroupView(
        name=name,
        group_id=s.group_id,
        role=role,
        group_name=info.name or s.name,
        description=info.description,
        generation=group.keys.current_generation if group.keys.keys or group.keys.pending else 0,
        members=tuple(
            MemberView(m.session_id, m.name, m.admin, _member_status(m))
            for m in read_members(group.members.data)
        ),
        inviter=s.inviter,
    )


# --- sending into the group and to members ----------------------------------------------------


def _post(ctx: GroupContext, group: OpenGroup, update: pb.GroupUpdateMessage, ts: int) -> str:
    from sessioncli.protocol.groups import control
    from sessioncli.protocol.groups.swarm_auth import NS_MESSAGES

    content = control.to_content(update, ts, display_name=ctx.display_name)
    return post_content(ctx, group, content, ts, namespace=NS_MESSAGES)


def post_content(
    ctx: GroupContext, group: OpenGroup, content: bytes, ts: int, *, namespace: int = 11
) -> str:
    """Encrypt a Content for the group (current key) and store it; returns the storage hash."""
    from sessioncli.protocol.groups.message import encode_group_post

    data = encode_group_post(
        ctx.identity.ed25519_secret, group.group_pk, group.keys.encryption_key(), content, ts
    )
    return ctx.swarm.store_group(
        group.auth(), namespace, data, ttl_ms=MESSAGE_TTL_MS, timestamp_ms=ts
    )


def _invite(ctx: GroupContext, group: OpenGroup, session_ids: Sequence[str]) -> list[str]:
    """Send each invitee its invite DM and mark it sent (or failed); returns failure lines."""
    from sessioncli.protocol.groups import control, subaccount
    from sessioncli.protocol.groups.info import read_info
    from sessioncli.protocol.groups.members import Status, get_member, set_member

    group_sk = group.require_admin("invite members")
    name = read_info(group.info.data).name
    failures: list[str] = []
    for sid in session_ids:
        ts = ctx.swarm.now_ms()
        auth = subaccount.make_auth_data(group_sk, sid)
        content = control.to_content(
            control.invite(group_sk, name, auth, sid, ts), ts, display_name=ctx.display_name
        )
        status = Status.SENT
        try:
            ctx.swarm.send_dm(ctx.identity, sid, content, timestamp_ms=ts)
        except SessionCliError as exc:
            status = Status.FAILED
            failures.append(f"invite to {sid[:10]}… failed: {exc.message}")
        member = get_member(group.members.data, sid)
        if member is not None:
            set_member(group.members.edit(), replace(member, invite=status))
    return failures


def _check_ids(group: OpenGroup, session_ids: Sequence[str]) -> list[str]:
    from sessioncli.protocol.ids import InvalidSessionId, parse_session_id

    out: list[str] = []
    for text in session_ids:
        try:
            sid = parse_session_id(text)
        except InvalidSessionId as exc:
            raise UsageError(f"invalid member {text!r}: {exc}") from None
        if sid != group.identity.session_id and sid not in out:
            out.append(sid)
    return out


# --- use-cases ---------------------------------------------------------------------------------


def create(
    ctx: GroupContext, name: str, member_ids: Sequence[str], *, description: str = ""
) -> GroupView:
    """A new group with us as admin: Keys, Info, Members to its swarm, then each invite DM."""
    from sessioncli.core import names
    from sessioncli.protocol import crypto
    from sessioncli.protocol.groups import control, info
    from sessioncli.protocol.groups.control import MEMBER_ADDED
    from sessioncli.protocol.groups.members import Member, Status, set_member

    names.check_name(name, kind=group_store.KIND)
    if names.owner(name) is not None:
        names.claim(name, kind=group_store.KIND)  # raises the usual "already used" error
    seed = crypto.random_bytes(32)
    group_pk = crypto.ed25519_keypair_from_seed(seed)[0]
    secrets = GroupSecrets(control.group_id_of(group_pk), "joined", name=name, group_seed=seed)
    group = OpenGroup.open(ctx.identity, secrets)
    invitees = _check_ids(group, member_ids)
    try:
        data = group.info.edit()
        info.set_name(data, name)
        info.set_description(data, description)
    except info.InfoError as exc:
        raise UsageError(str(exc)) from None
    data = group.members.edit()
    set_member(
        data,
        Member(
            ctx.identity.session_id, name=ctx.display_name or "", admin=True, invite=Status.NONE
        ),
    )
    for sid in invitees:
        set_member(data, Member(sid))
    group.rekey()
    group_store.register(name, secrets.group_id)
    _save(ctx, group)  # from here on the group exists: keep its keys whatever fails next
    group.push(ctx.swarm)
    ts = ctx.swarm.now_ms()
    if invitees:
        _post(
            ctx, group, control.member_change(group.group_sk or b"", MEMBER_ADDED, invitees, ts), ts
        )
    warnings = _invite(ctx, group, invitees)
    group.push(ctx.swarm)
    _save(ctx, group)
    return replace(view(group, name), warnings=tuple(warnings))


def add_members(ctx: GroupContext, group_name: str, member_ids: Sequence[str]) -> GroupView:
    """Admin: add members (as desktop: Members entry, a full rekey, then the invites)."""
    from sessioncli.protocol.groups import control, subaccount
    from sessioncli.protocol.groups.members import Member, get_member, set_member

    group = _open(ctx, group_name)
    group_sk = group.require_admin("add members")
    new = [s for s in _check_ids(group, member_ids) if get_member(group.members.data, s) is None]
    if not new:
        raise UsageError("nobody to add: every one of them is already a member")
    # a member removed earlier has a revoked token; the deterministic token must work again
    ctx.swarm.revoke_subaccounts(
        group_sk, [subaccount.make_token(group_sk, s) for s in new], unrevoke=True
    )
    data = group.members.edit()
    for sid in new:
        set_member(data, Member(sid))
    group.rekey()
    group.push(ctx.swarm)
    ts = ctx.swarm.now_ms()
    _post(ctx, group, control.member_change(group_sk, control.MEMBER_ADDED, new, ts), ts)
    warnings = _invite(ctx, group, new)
    group.push(ctx.swarm)
    _save(ctx, group)
    return replace(view(group, group_name), warnings=tuple(warnings))


def _remove(ctx: GroupContext, group: OpenGroup, session_ids: Sequence[str]) -> None:
    from sessioncli.protocol.groups import control, subaccount
    from sessioncli.protocol.groups.members import erase_member
    from sessioncli.protocol.groups.multi_encrypt import kicked_notice
    from sessioncli.protocol.groups.swarm_auth import NS_REVOKED
    from sessioncli.protocol.ids import x25519_pubkey_of

    group_sk = group.require_admin("remove members")
    auth = group.auth()
    gen = group.keys.current_generation
    for sid in session_ids:  # the notice first: it stays readable after the token is revoked
        notice = kicked_notice(group_sk, x25519_pubkey_of(sid), gen)
        ts = ctx.swarm.now_ms()
        ctx.swarm.store_group(auth, NS_REVOKED, notice, ttl_ms=MESSAGE_TTL_MS, timestamp_ms=ts)
    ctx.swarm.revoke_subaccounts(
        group_sk, [subaccount.make_token(group_sk, s) for s in session_ids]
    )
    data = group.members.edit()
    for sid in session_ids:
        erase_member(data, sid)
    group.rekey()
    group.push(ctx.swarm)
    ts = ctx.swarm.now_ms()
    _post(
        ctx,
        group,
        control.member_change(group_sk, control.MEMBER_REMOVED, list(session_ids), ts),
        ts,
    )


def remove_members(ctx: GroupContext, group_name: str, member_ids: Sequence[str]) -> GroupView:
    """Admin: remove members: kicked notice (ns -11), revoke, erase, rekey without them."""
    from sessioncli.protocol.groups.members import get_member

    group = _open(ctx, group_name)
    group.require_admin("remove members")
    gone = [
        s for s in _check_ids(group, member_ids) if get_member(group.members.data, s) is not None
    ]
    if not gone:
        raise UsageError("nobody to remove: none of them is a member")
    _remove(ctx, group, gone)
    _save(ctx, group)
    return view(group, group_name)


def record_invite(
    ctx: GroupContext, invite: Control, inviter: str, envelope_timestamp_ms: int
) -> GroupView:
    """Keep a verified invite (from `receive`) until accept/decline. Raises ControlError if forged."""
    from sessioncli.protocol.groups.control import verify_invite

    verify_invite(invite, ctx.identity.session_id, envelope_timestamp_ms)
    group_id = invite.group_id.lower()
    known = group_store.load(ctx.folder, _seed(ctx), group_id)
    if known is not None and known.status == "joined" and not known.kicked:
        return view(OpenGroup.open(ctx.identity, known), known.name)
    secrets = GroupSecrets(
        group_id,
        "invited",
        name=invite.name,
        auth_data=invite.auth_data,
        inviter=inviter,
        invited_at_ms=envelope_timestamp_ms,
    )
    group_store.save(ctx.folder, _seed(ctx), secrets)
    return view(OpenGroup.open(ctx.identity, secrets), invite.name)


def _pending(ctx: GroupContext, group_id: str) -> GroupSecrets:
    secrets = group_store.load(ctx.folder, _seed(ctx), group_id.strip().lower())
    if secrets is None or secrets.status != "invited":
        raise UsageError(
            f"no pending invite to group {group_id.strip()[:10]}…",
            hints=("invites show in: sessioncli receive",),
        )
    return secrets


def accept(ctx: GroupContext, group_id: str, *, name: str | None = None) -> GroupView:
    """Join an invited group: check our auth data, load its keys and configs, answer the admin."""
    from sessioncli.protocol.groups import control
    from sessioncli.protocol.groups.subaccount import verify_auth_data

    secrets = _pending(ctx, group_id)
    group = OpenGroup.open(ctx.identity, secrets)
    if secrets.auth_data is None or not verify_auth_data(
        group.group_pk, ctx.identity.ed25519_secret, secrets.auth_data
    ):
        raise ProtocolError("the invite's memberAuthData is not valid for this identity")
    group.sync(ctx.swarm)
    if not group.keys.keys:
        raise ProtocolError(
            "the group's keys hold no key for us yet (the admin may not have pushed them)",
            hints=("try again later",),
        )
    secrets.status = "joined"
    local = (
        name if name is not None else group_store.free_name(view(group, "").group_name or "group")
    )
    group_store.register(local, secrets.group_id)
    _save(ctx, group)
    ts = ctx.swarm.now_ms()
    _post(ctx, group, control.invite_response(True), ts)
    return view(group, local)


def decline(ctx: GroupContext, group_id: str) -> GroupView:
    """Drop a pending invite (nothing is sent: desktop sends nothing either)."""
    secrets = _pending(ctx, group_id)
    group_store.delete(ctx.folder, secrets.group_id)
    return view(OpenGroup.open(ctx.identity, secrets), secrets.name)


def leave(ctx: GroupContext, group_name: str) -> GroupView:
    """Tell the group we leave (MemberLeft + notification, ns 11), then forget it here."""
    from sessioncli.protocol.groups import control

    group = _open(ctx, group_name)
    result = view(group, group_name)
    if not group.secrets.kicked:
        ts = ctx.swarm.now_ms()
        _post(ctx, group, control.member_left(), ts)
        _post(ctx, group, control.member_left_notification(), ts + 1)
    group_store.delete(ctx.folder, group.secrets.group_id)
    group_store.unregister(group.secrets.group_id)
    return result


def list_groups(ctx: GroupContext) -> list[GroupView]:
    """Every group of this identity here: joined ones by our name, then pending invites."""
    names_by_id = {e.group_id: e.name for e in group_store.list_entries()}
    out: list[GroupView] = []
    for secrets in group_store.load_all(ctx.folder, _seed(ctx)):
        group = OpenGroup.open(ctx.identity, secrets)
        out.append(view(group, names_by_id.get(secrets.group_id, secrets.name)))
    return sorted(out, key=lambda v: (v.role == "invited", v.name.casefold()))


def show(ctx: GroupContext, group_name: str, *, refresh: bool = True) -> GroupView:
    """One group; with `refresh`, its Keys/Info/Members are read from the swarm first."""
    group = _open(ctx, group_name)
    if refresh:
        group.sync(ctx.swarm)
        _save(ctx, group)
    return view(group, group_store.entry_for(group_name).name)


def handle_control(
    ctx: GroupContext, group_name: str, control: Control, sender: str, envelope_timestamp_ms: int
) -> str:
    """Admin-side handling of a member's control message; returns what was done ("" if nothing)."""
    from sessioncli.protocol.groups.members import Status, get_member, set_member

    group = _open(ctx, group_name)
    if not group.admin:
        return ""
    member = get_member(group.members.data, sender)
    if member is None:
        return ""
    if control.kind == "invite_response" and control.approved and member.invite != Status.NONE:
        set_member(group.members.edit(), replace(member, invite=Status.NONE))
        group.push(ctx.swarm)
        _save(ctx, group)
        return "invite_accepted"
    if control.kind == "member_left":
        _remove(ctx, group, [sender])
        _save(ctx, group)
        return "member_removed"
    return ""


def control_of(raw_content: bytes) -> Control | None:
    """The group control message inside a Content (a DM invite, or a group post), if any."""
    from sessioncli.protocol.groups.control import ControlError, read_control
    from sessioncli.protocol.proto import session_pb2 as pb

    try:
        content = pb.Content.FromString(raw_content)
    except Exception:  # untrusted bytes: not a Content means no control message
        return None
    if not content.dataMessage.HasField("groupUpdateMessage"):
        return None
    try:
        return read_control(content.dataMessage.groupUpdateMessage)
    except ControlError:
        return None
