"""Resolving Session names (`@name`, ONS) to Session IDs through the network, with a local cache.

Like desktop (`onsResolve.ts`), a name is asked of three different service nodes and the
answers must agree: one lying node cannot redirect a message. A name that is not registered is
a usage error (exit 2) naming it; a network failure keeps its own code (69/75).

The network answer carries no lifetime we could use (registrations last a year or more, but may
be renewed to another owner at expiry), so a resolved name is cached for CACHE_MS (one hour) in
`ons.json` of the identity's state folder; `resolve --json` shows that expiry.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sessioncli import state
from sessioncli.core.recipients import check_ons_name
from sessioncli.errors import TemporaryFailure, UsageError

if TYPE_CHECKING:
    from sessioncli.net.client import NetworkClient

CACHE_MS = 3_600_000
VALIDATION_COUNT = 3  # nodes asked per name, as desktop does


@dataclass(frozen=True)
class Resolution:
    name: str  # lowercase, without '@'
    session_id: str
    expires_at_ms: int  # until when the cache keeps it
    cached: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "session_id": self.session_id,
            "expires_at_ms": self.expires_at_ms,
            "cached": self.cached,
        }


def _cache_path(folder: Path) -> Path:
    return folder / "ons.json"


def _cached(folder: Path, name: str, now_ms: int) -> Resolution | None:
    raw: Any = state.read_json(_cache_path(folder), {})
    item = raw.get("names", {}).get(name) if isinstance(raw, dict) else None
    if not isinstance(item, dict):
        return None
    sid, exp = item.get("session_id"), item.get("expires_at_ms")
    if not isinstance(sid, str) or not isinstance(exp, int) or exp <= now_ms:
        return None
    return Resolution(name, sid, exp, cached=True)


def _store(folder: Path, found: Resolution, now_ms: int) -> None:
    state.ensure_dir(folder)
    with state.file_lock(folder / ".ons.lock", what="the Session name cache"):
        raw: Any = state.read_json(_cache_path(folder), {})
        names = raw.get("names", {}) if isinstance(raw, dict) else {}
        if not isinstance(names, dict):
            names = {}
        names = {
            k: v
            for k, v in names.items()
            if isinstance(v, dict)
            and isinstance(v.get("expires_at_ms"), int)
            and v["expires_at_ms"] > now_ms
        }
        names[found.name] = {"session_id": found.session_id, "expires_at_ms": found.expires_at_ms}
        state.atomic_write_json(_cache_path(folder), {"version": 1, "names": names}, durable=False)


def cache_folder(network: str | None) -> Path:
    """Where `resolve` (which needs no identity) keeps its cache: per network, in the cache dir."""
    from sessioncli.core import settings

    return state.cache_dir() / "ons" / settings.network_key(network)


def lookup(net: NetworkClient, name: str) -> str | None:
    """Ask VALIDATION_COUNT different nodes; their agreed Session ID, or None if not registered."""
    from sessioncli.protocol import ons

    params = ons.resolve_params(name)
    asked: list[str] = []
    answers: set[str | None] = set()
    for _ in range(VALIDATION_COUNT):
        node, body = net.oxend_request("ons_resolve", params, exclude=asked)
        asked.append(node)
        try:
            answers.add(ons.parse_resolve_reply(name, body))
        except ons.OnsReplyError as exc:
            raise TemporaryFailure(f"resolving @{name}: {exc.message}") from None
    return agreed(name, answers)


def agreed(name: str, answers: set[str | None]) -> str | None:
    """The one answer every node gave (None: not registered); nodes that disagree are exit 75."""
    if len(answers) != 1:
        raise TemporaryFailure(
            f"resolving @{name}: service nodes disagree about this name",
            hints=("try again later; a node may be out of date or lying",),
        )
    return next(iter(answers))


def resolve_name(
    net: NetworkClient, name: str, state_folder: Path, *, refresh: bool = False
) -> Resolution:
    """The Session ID registered under `name` (with or without '@'), from the cache or the network."""
    lowered = check_ons_name(name[1:] if name.startswith("@") else name)
    now = int(time.time() * 1000)
    if not refresh:
        hit = _cached(state_folder, lowered, now)
        if hit is not None:
            return hit
    sid = lookup(net, lowered)
    if sid is None:
        raise UsageError(
            f"Session name @{lowered} is not registered",
            hints=("check the spelling; Session names are registered in the Session apps",),
        )
    found = Resolution(lowered, sid, now + CACHE_MS, cached=False)
    _store(state_folder, found, now)
    return found


def resolve(net: NetworkClient, name: str, state_folder: Path) -> str:
    """`name` -> 05 Session ID (see resolve_name)."""
    return resolve_name(net, name, state_folder).session_id
