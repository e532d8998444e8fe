"""Every place a receive reads from (our DM swarm, joined communities, joined groups), as one list.

`open_sources()` builds one `ReceiveSource` per conversation store we read (see
`core/records.py`): the DM receiver always, then whatever each module in `_SOURCE_MODULES`
opens (`open_sources(ctx) -> list[ReceiveSource]`). `poll_all()` polls them in order; each
source commits its own cursor, so a failure in one never costs another's messages.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sessioncli.core.records import ReceiveSource, Record
from sessioncli.errors import SessionCliError

if TYPE_CHECKING:
    from sessioncli.net.client import NetworkClient
    from sessioncli.net.policy import Deadline
    from sessioncli.protocol.ids import Identity

# Modules exposing `open_sources(ctx: ReceiveContext) -> list[ReceiveSource]` (communities,
# groups); the DM source is built here.
_SOURCE_MODULES: tuple[str, ...] = (
    "sessioncli.core.community_receive",
    "sessioncli.core.group_receive",
)


@dataclass(frozen=True)
class ReceiveContext:
    identity: Identity
    net: NetworkClient
    folder: Path  # the identity's state folder on this network
    include_own: bool = False
    commit: bool = True
    contact_name: Callable[[str], str | None] = field(default=lambda _sid: None)
    screen: Any = None  # core.screen.Screen: what the DM source hides and remembers
    after_fetch: Callable[[], None] | None = None  # crash-safety test hook (core/receive.py)
    deadline: Deadline | None = None  # one for the whole command (without --follow)


def open_sources(ctx: ReceiveContext) -> list[ReceiveSource]:
    from sessioncli.core.receive import Receiver

    sources: list[ReceiveSource] = [
        Receiver(
            ctx.identity,
            ctx.net,
            ctx.folder,
            include_own=ctx.include_own,
            commit=ctx.commit,
            contact_name=ctx.contact_name,
            screen=ctx.screen,
            after_fetch=ctx.after_fetch,
            deadline=ctx.deadline,
        )
    ]
    for name in _SOURCE_MODULES:
        sources.extend(importlib.import_module(name).open_sources(ctx))
    return sources


@dataclass
class PollResult:
    emitted: int = 0
    failures: list[SessionCliError] = field(default_factory=list)


def poll_all(
    sources: list[ReceiveSource],
    emit: Callable[[Record], bool | None],
    *,
    limit: int | None = None,
    follow: bool = False,
) -> PollResult:
    """Poll every source once; a source that fails is reported, the others still run. With
    `follow`, a source that has a `poll_follow` (the DM receiver: rotating members) uses it."""
    result = PollResult()
    for source in sources:
        left = None if limit is None else limit - result.emitted
        if left is not None and left <= 0:
            break
        poll = getattr(source, "poll_follow", None) if follow else None
        try:
            result.emitted += (poll or source.poll)(emit, limit=left)
        except SessionCliError as exc:
            result.failures.append(exc)
    return result


def close_all(sources: list[ReceiveSource]) -> None:
    for source in sources:
        source.close()
