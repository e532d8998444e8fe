"""Joined communities: names for SOGS rooms in the config folder (one namespace with contacts).

`communities.json` holds, per room, the URL as the apps share it, the server's capabilities and
the room's message sequence when it was joined (where a new reader starts, so that joining does
not replay the backlog; `--history N` starts N updates earlier). Each identity keeps its own read
cursors beside its DM cursors (see `core/community_receive.py`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sessioncli.core import names
from sessioncli.core.recipients import Target
from sessioncli.errors import UsageError

if TYPE_CHECKING:
    from sessioncli.net.client import NetworkClient
    from sessioncli.protocol import sogs
    from sessioncli.protocol.ids import Identity

KIND = "community"  # this module's kind of name in sessioncli.core.names


@dataclass(frozen=True)
class Community:
    name: str
    url: str  # canonical: scheme://host[:port]/ROOM?public_key=HEX
    room_name: str
    capabilities: tuple[str, ...]
    start_seqno: int
    added_ms: int

    @property
    def parsed(self) -> sogs.CommunityUrl:
        from sessioncli.protocol import sogs

        return sogs.parse_community_url(self.url)

    @property
    def blinded(self) -> bool:
        return "blind" in self.capabilities

    def to_json(self) -> dict[str, Any]:
        u = self.parsed
        return {
            "name": self.name,
            "url": self.url,
            "server": u.server_base,
            "room": u.room,
            "room_name": self.room_name,
            "public_key": u.server_pk.hex(),
            "capabilities": list(self.capabilities),
            "blinded": self.blinded,
            "start_seqno": self.start_seqno,
            "added_ms": self.added_ms,
        }


def _read(item: Any) -> Community:
    from sessioncli.protocol import sogs

    return Community(
        str(item["name"]),
        sogs.parse_community_url(str(item["url"])).canonical,
        str(item["room_name"]),
        tuple(str(x) for x in item["capabilities"]),
        int(item["start_seqno"]),
        int(item["added_ms"]),
    )


def _write(c: Community) -> dict[str, Any]:
    return {
        "name": c.name,
        "url": c.url,
        "room_name": c.room_name,
        "capabilities": list(c.capabilities),
        "start_seqno": c.start_seqno,
        "added_ms": c.added_ms,
    }


_STORE = names.NameStore(
    kind=KIND,
    plural="communities",
    read=_read,
    write=_write,
    name_of=lambda c: c.name,
    list_command="sessioncli community list",
    damaged_by=(UsageError,),  # a stored URL that no longer parses
)


def communities_path() -> Path:
    return _STORE.path()


def list_communities() -> list[Community]:
    return _STORE.entries()


def get(name: str) -> Community:
    return _STORE.get(name)


def lookup_name(name: str) -> Target | None:
    """The community target of a name (case-insensitive), for sessioncli.core.names."""
    found = _STORE.find(name)
    return None if found is None else Target("community", found.url, name=found.name)


def all_names() -> list[str]:
    return _STORE.names()


def _check_free(name: str, url: str) -> None:
    """Refuse a taken name or an already-joined room before any network traffic."""
    names.claim(name, kind=KIND)
    for c in list_communities():
        if c.url == url:
            raise UsageError(f"already joined {url} as {c.name!r}")


def join(
    net: NetworkClient, identity: Identity, name: str, url_text: str, *, history: int = 0
) -> Community:
    """Ask the server for its capabilities and the room, then remember the room as `name`."""
    from sessioncli.core.community_server import ServerSession
    from sessioncli.protocol import sogs

    name = names.check_name(name, kind=KIND)
    url = sogs.parse_community_url(url_text)
    if history < 0:
        raise UsageError("--history must be 0 or more")
    _check_free(name, url.canonical)
    session = ServerSession(net, identity, url)
    caps = sogs.parse_capabilities(
        session.call("GET", "/capabilities", what="capabilities", auth=False).body
    )
    session.blinded = "blind" in caps
    info = sogs.parse_room_info(
        session.call("GET", f"/room/{url.room}", what=f"room {url.room!r}").body
    )
    community = Community(
        name,
        url.canonical,
        info.name,
        caps,
        max(0, info.message_sequence - history),
        int(time.time() * 1000),
    )

    def refuse_joined_room(items: dict[str, Community]) -> None:
        if any(c.url == community.url for c in items.values()):
            raise UsageError(f"already joined {community.url}")

    return _STORE.add(community, refuse=refuse_joined_room)


def remove(name: str) -> Community:
    return _STORE.remove(name)
