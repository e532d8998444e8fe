"""The group Members config (ns 14): who is in the group, admins, invite/promotion/removal status (§2.6)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Final

from sessioncli.protocol.groups.configdata import ConfigDict
from sessioncli.protocol.ids import parse_session_id

NAME_MAX: Final = 100


class Status(IntEnum):
    """Invite and promotion status values (0 = none / accepted)."""

    NONE = 0
    SENT = 1
    FAILED = 2
    NOT_SENT = 3


class Removed(IntEnum):
    NONE = 0
    REMOVED = 1
    REMOVED_AND_MESSAGES = 2


@dataclass(frozen=True)
class Member:
    """One member as libsession's member::load reads it."""

    session_id: str
    name: str = ""
    pic_url: str = ""
    pic_key: bytes = b""
    admin: bool = False
    invite: Status = Status.NOT_SENT  # a freshly constructed member has not been sent an invite
    promotion: Status = Status.NONE
    removed: Removed = Removed.NONE
    supplement: bool = False

    @property
    def invite_pending(self) -> bool:
        return not self.admin and self.invite != Status.NONE


def _members(data: ConfigDict) -> ConfigDict:
    m = data.get(b"m")
    return m if isinstance(m, dict) else {}


def _int(d: ConfigDict, key: bytes) -> int:
    v = d.get(key)
    return v if isinstance(v, int) else 0


def _status(value: int) -> Status:
    return Status(value) if value in (1, 2, 3) else Status.NONE


def _load(session_id: str, d: ConfigDict) -> Member:
    name = d.get(b"n")
    url, key = d.get(b"p"), d.get(b"q")
    has_pic = isinstance(url, bytes) and bool(url) and isinstance(key, bytes) and len(key) == 32
    admin = _int(d, b"A") != 0
    invite = Status.NONE if admin else _status(_int(d, b"I"))
    promotion = _status(_int(d, b"P"))
    removed = _int(d, b"R")
    supplement = bool(invite and not (admin or promotion) and _int(d, b"s"))
    return Member(
        session_id=session_id,
        name=name.decode("utf-8", "replace") if isinstance(name, bytes) else "",
        pic_url=url.decode("utf-8", "replace") if has_pic and isinstance(url, bytes) else "",
        pic_key=key if has_pic and isinstance(key, bytes) else b"",
        admin=admin,
        invite=invite,
        promotion=promotion,
        removed=Removed(removed) if removed in (1, 2) else Removed.NONE,
        supplement=supplement,
    )


def read_members(data: ConfigDict) -> list[Member]:
    """Every well-formed member entry (33-byte 05 key, dict value), in key order."""
    out: list[Member] = []
    for key, value in _members(data).items():
        if len(key) == 33 and key[0] == 0x05 and isinstance(value, dict):
            out.append(_load(key.hex(), value))
    return out


def get_member(data: ConfigDict, session_id: str) -> Member | None:
    value = _members(data).get(bytes.fromhex(parse_session_id(session_id)))
    return _load(parse_session_id(session_id), value) if isinstance(value, dict) else None


def _put(d: ConfigDict, key: bytes, value: int) -> None:
    if value > 0:
        d[key] = value
    else:
        d.pop(key, None)


def set_member(data: ConfigDict, member: Member) -> None:
    """Write the keys libsession's Members::set writes; any other keys of the entry are kept."""
    top = data.get(b"m")
    if not isinstance(top, dict):
        top = data[b"m"] = {}
    key = bytes.fromhex(parse_session_id(member.session_id))
    entry = top.get(key)
    if not isinstance(entry, dict):
        entry = top[key] = {}
    # the name is always written (maybe empty): it keeps the dict from being pruned
    entry[b"n"] = member.name.encode("utf-8")[:NAME_MAX]
    if member.pic_url and len(member.pic_key) == 32:
        entry[b"p"], entry[b"q"] = member.pic_url.encode("utf-8"), member.pic_key
    else:
        entry.pop(b"p", None)
        entry.pop(b"q", None)
    _put(entry, b"A", 1 if member.admin else 0)
    _put(entry, b"P", int(member.promotion))
    _put(entry, b"I", 0 if member.admin else int(member.invite))
    _put(entry, b"s", 1 if member.supplement else 0)
    _put(entry, b"R", int(member.removed))


def erase_member(data: ConfigDict, session_id: str) -> bool:
    top = data.get(b"m")
    key = bytes.fromhex(parse_session_id(session_id))
    if isinstance(top, dict) and key in top:
        del top[key]
        return True
    return False
