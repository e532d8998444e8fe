"""GroupUpdate control messages (invite, response, info/member change, left, promote, delete content), §5.1."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final, Literal

from sessioncli.protocol import crypto
from sessioncli.protocol.proto import session_pb2 as pb

AUTH_DATA_LEN: Final = 100
GROUP_ID_PREFIX: Final = "03"

ControlKind = Literal[
    "invite",
    "promote",
    "info_change",
    "member_change",
    "member_left",
    "member_left_notification",
    "invite_response",
    "delete_member_content",
]

INFO_NAME: Final = 1
INFO_AVATAR: Final = 2
INFO_DISAPPEARING: Final = 3
MEMBER_ADDED: Final = 1
MEMBER_REMOVED: Final = 2
MEMBER_PROMOTED: Final = 3


class ControlError(ValueError):
    """A control message that is malformed or fails its admin signature."""


def group_id_of(group_pk: bytes) -> str:
    """The 03 id: "03" + hex(group Ed25519 public key) (not X25519, unlike 05 ids)."""
    if len(group_pk) != 32:
        raise ValueError("group public key must be 32 bytes")
    return GROUP_ID_PREFIX + group_pk.hex()


def group_pk_of(group_id: str) -> bytes:
    text = group_id.strip().lower()
    if len(text) != 66 or not text.startswith(GROUP_ID_PREFIX):
        raise ControlError("a group id is 66 hex characters starting with 03")
    try:
        return bytes.fromhex(text[2:])
    except ValueError as exc:
        raise ControlError("a group id must be hexadecimal") from exc


# --- the strings admins sign (session-desktop groupSignature.ts and the message classes) ------


def invite_signed_text(invitee_session_id: str, timestamp_ms: int) -> bytes:
    return f"INVITE{invitee_session_id}{timestamp_ms}".encode()


def info_change_signed_text(change_type: int, timestamp_ms: int) -> bytes:
    return f"INFO_CHANGE{change_type}{timestamp_ms}".encode()


def member_change_signed_text(change_type: int, timestamp_ms: int) -> bytes:
    return f"MEMBER_CHANGE{change_type}{timestamp_ms}".encode()


def delete_content_signed_text(
    timestamp_ms: int, session_ids: Sequence[str], message_hashes: Sequence[str]
) -> bytes:
    return (
        "DELETE_CONTENT" + str(timestamp_ms) + "".join(session_ids) + "".join(message_hashes)
    ).encode()


# --- building (each returns the GroupUpdateMessage to put in DataMessage.groupUpdateMessage) ---


def invite(
    group_sk: bytes, name: str, auth_data: bytes, invitee_session_id: str, timestamp_ms: int
) -> pb.GroupUpdateMessage:
    if len(auth_data) != AUTH_DATA_LEN:
        raise ControlError("memberAuthData must be 100 bytes")
    msg = pb.GroupUpdateMessage()
    inv = msg.inviteMessage
    inv.groupSessionId = group_id_of(group_sk[32:])
    inv.name = name
    inv.memberAuthData = auth_data
    inv.adminSignature = crypto.sign(group_sk, invite_signed_text(invitee_session_id, timestamp_ms))
    return msg


def invite_response(approved: bool = True) -> pb.GroupUpdateMessage:
    msg = pb.GroupUpdateMessage()
    msg.inviteResponse.isApproved = approved
    return msg


def info_change(
    group_sk: bytes,
    change_type: int,
    timestamp_ms: int,
    *,
    name: str | None = None,
    expiration: int | None = None,
) -> pb.GroupUpdateMessage:
    msg = pb.GroupUpdateMessage()
    ic = msg.infoChangeMessage
    ic.type = change_type  # type: ignore[assignment]
    if name is not None:
        ic.updatedName = name
    if expiration is not None:
        ic.updatedExpiration = expiration
    ic.adminSignature = crypto.sign(group_sk, info_change_signed_text(change_type, timestamp_ms))
    return msg


def member_change(
    group_sk: bytes,
    change_type: int,
    session_ids: Sequence[str],
    timestamp_ms: int,
    *,
    history_shared: bool | None = None,
) -> pb.GroupUpdateMessage:
    msg = pb.GroupUpdateMessage()
    mc = msg.memberChangeMessage
    mc.type = change_type  # type: ignore[assignment]
    mc.memberSessionIds.extend(session_ids)
    if history_shared is not None:
        mc.historyShared = history_shared
    mc.adminSignature = crypto.sign(group_sk, member_change_signed_text(change_type, timestamp_ms))
    return msg


def member_left() -> pb.GroupUpdateMessage:
    msg = pb.GroupUpdateMessage()
    msg.memberLeftMessage.SetInParent()
    return msg


def member_left_notification() -> pb.GroupUpdateMessage:
    msg = pb.GroupUpdateMessage()
    msg.memberLeftNotificationMessage.SetInParent()
    return msg


def promote(group_seed: bytes, name: str) -> pb.GroupUpdateMessage:
    if len(group_seed) != 32:
        raise ControlError("the group seed must be 32 bytes")
    msg = pb.GroupUpdateMessage()
    msg.promoteMessage.groupIdentitySeed = group_seed
    msg.promoteMessage.name = name
    return msg


def delete_member_content(
    group_sk: bytes,
    timestamp_ms: int,
    *,
    session_ids: Sequence[str] = (),
    message_hashes: Sequence[str] = (),
) -> pb.GroupUpdateMessage:
    msg = pb.GroupUpdateMessage()
    dc = msg.deleteMemberContent
    dc.memberSessionIds.extend(session_ids)
    dc.messageHashes.extend(message_hashes)
    dc.adminSignature = crypto.sign(
        group_sk, delete_content_signed_text(timestamp_ms, session_ids, message_hashes)
    )
    return msg


def to_content(
    update: pb.GroupUpdateMessage, timestamp_ms: int, *, display_name: str | None = None
) -> bytes:
    """Serialized Content{dataMessage{groupUpdateMessage, profile?}, sigTimestamp}."""
    content = pb.Content()
    content.dataMessage.groupUpdateMessage.CopyFrom(update)
    if display_name is not None:
        content.dataMessage.profile.displayName = display_name
    content.sigTimestamp = timestamp_ms
    return content.SerializeToString()


# --- reading --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Control:
    """A parsed control message. Admin-signed kinds are verified by the verify_* functions."""

    kind: ControlKind
    group_id: str = ""
    name: str = ""
    auth_data: bytes = field(default=b"", repr=False)
    group_seed: bytes = field(default=b"", repr=False)
    change_type: int = 0
    session_ids: tuple[str, ...] = ()
    message_hashes: tuple[str, ...] = ()
    updated_name: str | None = None
    updated_expiration: int | None = None
    history_shared: bool = False
    approved: bool = False
    admin_signature: bytes = field(default=b"", repr=False)


def _text(value: str | bytes) -> str:
    return value if isinstance(value, str) else value.decode("utf-8", "replace")


def read_control(update: pb.GroupUpdateMessage) -> Control:
    """The first (and only expected) control in a GroupUpdateMessage; raises ControlError."""
    if not update.IsInitialized():
        raise ControlError("group update lacks required fields")
    if update.HasField("inviteMessage"):
        i = update.inviteMessage
        return Control(
            "invite",
            _text(i.groupSessionId),
            _text(i.name),
            i.memberAuthData,
            admin_signature=i.adminSignature,
        )
    if update.HasField("promoteMessage"):
        p = update.promoteMessage
        return Control("promote", name=_text(p.name), group_seed=p.groupIdentitySeed)
    if update.HasField("infoChangeMessage"):
        c = update.infoChangeMessage
        return Control(
            "info_change",
            change_type=int(c.type),
            updated_name=_text(c.updatedName) if c.HasField("updatedName") else None,
            updated_expiration=int(c.updatedExpiration)
            if c.HasField("updatedExpiration")
            else None,
            admin_signature=c.adminSignature,
        )
    if update.HasField("memberChangeMessage"):
        m = update.memberChangeMessage
        return Control(
            "member_change",
            change_type=int(m.type),
            session_ids=tuple(_text(s) for s in m.memberSessionIds),
            history_shared=bool(m.historyShared),
            admin_signature=m.adminSignature,
        )
    if update.HasField("memberLeftMessage"):
        return Control("member_left")
    if update.HasField("memberLeftNotificationMessage"):
        return Control("member_left_notification")
    if update.HasField("inviteResponse"):
        return Control("invite_response", approved=bool(update.inviteResponse.isApproved))
    if update.HasField("deleteMemberContent"):
        d = update.deleteMemberContent
        return Control(
            "delete_member_content",
            session_ids=tuple(_text(s) for s in d.memberSessionIds),
            message_hashes=tuple(_text(h) for h in d.messageHashes),
            admin_signature=d.adminSignature,
        )
    raise ControlError("group update carries no known control message")


def verify_invite(control: Control, own_session_id: str, envelope_timestamp_ms: int) -> bytes:
    """The group public key if the invite is genuine (03 id, 100-byte auth, group signature)."""
    if control.kind != "invite":
        raise ControlError("not an invite")
    group_pk = group_pk_of(control.group_id)
    if len(control.auth_data) != AUTH_DATA_LEN:
        raise ControlError("invite memberAuthData is not 100 bytes")
    signed = invite_signed_text(own_session_id, envelope_timestamp_ms)
    if not crypto.verify(group_pk, signed, control.admin_signature):
        raise ControlError("invite admin signature does not verify")
    return group_pk


def verify_admin_signed(control: Control, group_pk: bytes, envelope_timestamp_ms: int) -> None:
    """Raise unless an info change, member change or content deletion is signed by the group."""
    if control.kind == "info_change":
        signed = info_change_signed_text(control.change_type, envelope_timestamp_ms)
    elif control.kind == "member_change":
        signed = member_change_signed_text(control.change_type, envelope_timestamp_ms)
    elif control.kind == "delete_member_content":
        signed = delete_content_signed_text(
            envelope_timestamp_ms, control.session_ids, control.message_hashes
        )
    else:
        raise ControlError(f"{control.kind} carries no admin signature")
    if not crypto.verify(group_pk, signed, control.admin_signature):
        raise ControlError(f"{control.kind} admin signature does not verify")
