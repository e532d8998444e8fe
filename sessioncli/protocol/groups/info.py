"""The group Info config (ns 13): name, description, picture, timers, destroyed flag (GROUPS-V2.md §2.5)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from sessioncli.protocol.groups.configdata import ConfigDict

NAME_MAX: Final = 100  # bytes (libsession Info::NAME_MAX_LENGTH)
DESCRIPTION_MAX: Final = 2000


class InfoError(ValueError):
    """A value Info cannot hold (too long a name, a bad picture key)."""


@dataclass(frozen=True)
class GroupInfo:
    """The Info fields sessioncli reads; unknown keys stay in the config data untouched."""

    name: str = ""
    description: str = ""
    created: int = 0  # unix seconds
    delete_before: int = 0
    delete_attachments_before: int = 0
    expiry_timer: int = 0  # disappearing-messages seconds (delete after send)
    pic_url: str = ""
    pic_key: bytes = b""
    destroyed: bool = False


def _text(data: ConfigDict, key: bytes) -> str:
    value = data.get(key)
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else ""


def _int(data: ConfigDict, key: bytes) -> int:
    value = data.get(key)
    return value if isinstance(value, int) else 0


def read_info(data: ConfigDict) -> GroupInfo:
    url, key = _text(data, b"p"), data.get(b"q")
    has_pic = bool(url) and isinstance(key, bytes) and len(key) == 32
    return GroupInfo(
        name=_text(data, b"n"),
        description=_text(data, b"o"),
        created=_int(data, b"c"),
        delete_before=_int(data, b"d"),
        delete_attachments_before=_int(data, b"D"),
        expiry_timer=_int(data, b"E"),
        pic_url=url if has_pic else "",
        pic_key=key if has_pic and isinstance(key, bytes) else b"",
        destroyed=_int(data, b"!") == 1,
    )


def _set_text(data: ConfigDict, key: bytes, value: str, limit: int, what: str) -> None:
    raw = value.encode("utf-8")
    if len(raw) > limit:
        raise InfoError(f"group {what} is longer than {limit} bytes")
    if raw:
        data[key] = raw
    else:
        data.pop(key, None)


def _set_positive(data: ConfigDict, key: bytes, value: int) -> None:
    if value > 0:
        data[key] = value
    else:
        data.pop(key, None)


def set_name(data: ConfigDict, name: str) -> None:
    _set_text(data, b"n", name, NAME_MAX, "name")


def set_description(data: ConfigDict, description: str) -> None:
    _set_text(data, b"o", description, DESCRIPTION_MAX, "description")


def set_created(data: ConfigDict, unix_s: int) -> None:
    _set_positive(data, b"c", unix_s)


def set_expiry_timer(data: ConfigDict, seconds: int) -> None:
    _set_positive(data, b"E", seconds)


def set_delete_before(data: ConfigDict, unix_s: int) -> None:
    _set_positive(data, b"d", unix_s)


def set_pic(data: ConfigDict, url: str, key: bytes) -> None:
    """Set (or, with an empty url, clear) the picture; url and key go together."""
    if url:
        if len(key) != 32:
            raise InfoError("picture key must be 32 bytes")
        data[b"p"], data[b"q"] = url.encode("utf-8"), key
    else:
        data.pop(b"p", None)
        data.pop(b"q", None)


def set_destroyed(data: ConfigDict) -> None:
    """Mark the group destroyed: clients delete it (cannot be undone)."""
    data[b"!"] = 1
