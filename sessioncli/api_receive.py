"""The receive session behind `sessioncli.api`: lock, sources, screen and filters of one receive.

`Client.receiving(...)` opens one (a context manager); `poll(emit)` polls every source once and
hands `emit` each shown message as its `receive --json` object. It is what `sessioncli receive`,
`Client.receive()` and the daemon all run, so a message is screened (blocked senders, unsent
messages), turned into a group invite, filtered and indexed the same way whichever way it is read.

A message counts as received when `emit` returns; if `emit` raises, that message (and the rest of
its source's page) stays unmarked and the exception propagates out of `poll`.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sessioncli.errors import SessionCliError

if TYPE_CHECKING:
    from sessioncli.api import Client, ReceiveFilter

Emit = Callable[[dict[str, Any]], None]


@dataclass(frozen=True)
class Polled:
    """One `poll()`: messages shown, and the sources that failed (the others still ran)."""

    emitted: int
    failures: list[SessionCliError] = field(default_factory=list)


@dataclass(frozen=True)
class PollFigures:
    """-v: what one source's polls cost so far (DMs and groups keep these)."""

    label: str  # "" for DMs, "group NAME: " for a group
    polls: int
    requests: int
    unreachable: int


@dataclass(frozen=True)
class Dropped:
    """-v: messages a source dropped (failed verification) and duplicates it skipped."""

    dropped: int
    duplicates: int
    reasons: dict[str, int]


def _fault_hook() -> Callable[[], None] | None:
    """SESSIONCLI_FAULT=crash-after-fetch (crash-safety tests): die like kill -9 right after a
    fetch that brought messages, before anything is printed or committed."""
    if os.environ.get("SESSIONCLI_FAULT") != "crash-after-fetch":
        return None
    return lambda: os._exit(137)


def record_filter(folder: Path, flt: ReceiveFilter | None) -> Callable[[dict[str, Any]], bool]:
    """The predicate `flt` stands for, against this identity's state (contacts, approvals)."""
    if flt is None:
        return lambda _rec: True
    from sessioncli.core import recipients, screen
    from sessioncli.core.records import RecordFilter

    chosen = RecordFilter(
        kinds=flt.kinds,
        senders=flt.senders,
        contacts_only=flt.contacts_only,
        include_control=flt.include_control,
    )
    request_shows = screen.requests_filter(folder) if flt.requests_only else None
    conversation_shows: Callable[[dict[str, Any]], bool] = lambda _rec: True  # noqa: E731
    if flt.conversations:
        targets = [recipients.parse_target(n) for n in flt.conversations]
        wanted = RecordFilter(
            conversations=[*flt.conversations, *(t.address for t in targets)],
            include_control=True,
        )
        conversation_shows = lambda rec: wanted.shows(rec, approved=lambda _s: True)  # noqa: E731

    def shows(rec: dict[str, Any]) -> bool:
        return (
            chosen.shows(rec, approved=lambda _sid: True)
            and conversation_shows(rec)
            and (request_shows is None or request_shows(rec))
        )

    return shows


def only_communities(flt: ReceiveFilter | None) -> set[str] | None:
    """The community URLs to poll alone when `--conversation` names only communities."""
    if flt is None or not flt.conversations:
        return None
    from sessioncli.core import recipients

    targets = [recipients.parse_target(n) for n in flt.conversations]
    if all(t.source == "community" for t in targets):
        return {t.address for t in targets}
    return None


class Receiving:
    """One open receive; use as a context manager (it holds the receive lock unless `peek`)."""

    def __init__(
        self,
        client: Client,
        *,
        include_own: bool = False,
        peek: bool = False,
        filter: ReceiveFilter | None = None,
        attachments_dir: str | None = None,
        on_attachment_error: Callable[[str], None] | None = None,
        deadline: bool = False,
    ) -> None:
        from sessioncli.core import receive as receive_core
        from sessioncli.core import screen

        self.client = client
        self.peek = peek
        self._ident = client._ident()
        self._folder = client._folder()
        self._scr = screen.Screen.open(self._folder, self._ident)
        self._shows = record_filter(self._folder, filter)
        self._only = only_communities(filter)
        self._include_own = include_own
        self._attachments_dir = attachments_dir
        self._on_attachment_error = on_attachment_error
        self._deadline = deadline
        self.health = receive_core.FollowHealth()  # --follow: when to say polls keep failing
        self._stack = contextlib.ExitStack()
        self._sources: list[Any] = []
        self._invites: Any = None
        self._emit_to: Emit | None = None

    def __enter__(self) -> Receiving:
        from sessioncli.core import receive as receive_core

        try:
            if not self.peek:  # --peek commits nothing: no lock, it runs beside a --follow
                self._stack.enter_context(
                    receive_core.receive_lock(self._folder, self._ident.session_id)
                )
            self._open()
        except BaseException:
            self._stack.close()
            raise
        return self

    def _open(self) -> None:
        from sessioncli.core import attachment_files, community_receive, contacts, inbox
        from sessioncli.net.policy import Deadline

        net = self.client._network()
        rctx = inbox.ReceiveContext(
            self._ident,
            net,
            self._folder,
            include_own=self._include_own,
            commit=not self.peek,
            contact_name=contacts.name_for,
            screen=self._scr,
            after_fetch=_fault_hook(),
            deadline=Deadline(self.client._resolved.timeout) if self._deadline else None,
        )
        where = self._attachments_dir
        with_files = attachment_files.receive_hook(
            net,
            self._folder,
            Path(where).expanduser() if where else None,
            on_error=self._on_attachment_error,
        )
        if self._only is not None:
            self._sources = list(community_receive.open_sources(rctx, only=self._only))
        else:
            self._sources = inbox.open_sources(rctx)
        self._stack.callback(inbox.close_all, self._sources)
        self._invites = _invite_hook(self._ident, net, self._folder)

        def to_user(record: Any) -> None:
            assert self._emit_to is not None
            self._emit_to(with_files(record).to_json())

        observed = self._scr.observe(to_user, self._shows)

        def emit(record: Any) -> bool | None:
            shown = self._invites(record)  # an invite DM becomes a group_invite (or is dropped)
            return False if shown is None else observed(shown)

        self._emit = emit

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    def poll(self, emit: Emit, *, limit: int | None = None, follow: bool = False) -> Polled:
        """Poll every source once (`limit`: at most that many shown messages)."""
        from sessioncli.core import inbox

        self._emit_to = emit
        try:
            polled = inbox.poll_all(self._sources, self._emit, limit=limit, follow=follow)
        finally:
            if not self.peek:
                self._scr.flush()
        return Polled(polled.emitted, list(polled.failures))

    def send_read_receipts(self) -> dict[str, str]:
        """Read receipts for what was shown since the last call; {sender: why} for failures."""
        from sessioncli.core import receipts, requests

        report = receipts.send_receipts(
            self._ident,
            self.client._network(),
            self._folder,
            self._scr.take_read(),
            approved=requests.is_approved(self._folder),
        )
        return dict(report.failed)

    @property
    def hidden_counts(self) -> dict[str, int]:
        """Messages consumed without being shown, by reason (blocked, unsent)."""
        return dict(self._scr.hidden_counts)

    def poll_figures(self) -> list[PollFigures]:
        out = []
        for source in self._sources:
            stats = getattr(source, "stats", None)
            if stats is not None and hasattr(stats, "unreachable"):
                group = getattr(source, "group_id", None) and getattr(source, "name", None)
                out.append(
                    PollFigures(
                        f"group {group}: " if group else "",
                        stats.polls,
                        stats.requests,
                        len(stats.unreachable),
                    )
                )
        return out

    def dropped(self) -> list[Dropped]:
        out = []
        every = [getattr(s, "stats", None) for s in self._sources]
        for s in [*every, getattr(self._invites, "stats", None)]:
            if s is not None and (s.dropped or s.duplicates):
                out.append(Dropped(s.dropped, s.duplicates, dict(s.drop_reasons)))
        return out


def _invite_hook(identity: Any, net: Any, folder: Path) -> Any:
    from sessioncli.core import group_invites, requests
    from sessioncli.core.group_net import NetGroupSwarm
    from sessioncli.core.groups import GroupContext

    gctx = GroupContext(identity, NetGroupSwarm(net), folder)
    return group_invites.receive_hook(gctx, requests.is_approved(folder))
