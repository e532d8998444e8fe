"""The stable Python API: a `Client` that sends and receives exactly as the `sessioncli` command does.

    from sessioncli.api import Client

    with Client() as client:                     # identity, profile, network: as the CLI finds them
        results = client.send("ops", "disk 95% full")
        for message in client.receive():         # the same dicts as `receive --json`
            print(message["from"], message["body"])

One `Client` keeps its network client (node pool, swarms, onion paths, clock offset) warm between
calls, so a long-running program pays the first-request cost once. It is thread-safe for
`send`; `receive` holds the identity's receive lock while its iterator is open.

When a received message counts as received: each message yielded by `receive()` is marked
received when the loop asks for the next one (or when the iterator is exhausted). Leaving the loop
early (`break`, an exception) leaves the last yielded message unmarked, so the next receive hands
it out again: at least once, never lost.

Errors are `sessioncli.api.Error` and its subclasses, each with `exit_code` (the CLI's code for
the same failure): `UsageError` (2), `ConfigError` (78), `NetworkUnavailable` (69),
`TemporaryFailure` (75). A send to several recipients returns one result per recipient and
raises only when nothing could be attempted (bad recipient, no identity, bad config).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from sessioncli import __version__
from sessioncli.api_values import (
    MAX_ATTACHMENT_BYTES,
    Draft,
    Hop,
    ReceiveFilter,
    Recipients,
    SendResult,
    check_display_name,
    exit_code,
    is_recipient,
    parse_recipients,
    read_attachments,
    sendmail_settings,
)
from sessioncli.errors import ConfigError, NetworkUnavailable, TemporaryFailure, UsageError
from sessioncli.errors import SessionCliError as Error

if TYPE_CHECKING:
    from pathlib import Path

    from sessioncli.api_receive import Dropped, Polled, PollFigures, Receiving
    from sessioncli.core.attachments import LocalFile as Attachment
    from sessioncli.core.context import Resolved
    from sessioncli.net.client import NetworkClient
    from sessioncli.protocol.ids import Identity

__all__ = [
    "MAX_ATTACHMENT_BYTES",
    "Client",
    "ConfigError",
    "Draft",
    "Dropped",
    "Error",
    "Hop",
    "NetworkUnavailable",
    "PollFigures",
    "Polled",
    "ReceiveFilter",
    "Receiving",
    "Recipients",
    "SendResult",
    "TemporaryFailure",
    "UsageError",
    "__version__",
    "check_display_name",
    "exit_code",
    "is_recipient",
    "parse_recipients",
    "read_attachments",
    "sendmail_settings",
]


def __getattr__(name: str) -> Any:
    """The receive session's types, imported only when asked for (start-up)."""
    if name in ("Receiving", "Polled", "PollFigures", "Dropped"):
        from sessioncli import api_receive

        return getattr(api_receive, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class _Stop(Exception):
    """Raised inside the polling thread when the consumer left the loop."""


class Client:
    """One identity on one network, resolved exactly as the CLI resolves them."""

    def __init__(
        self,
        *,
        profile: str | None = None,
        network: str | None = None,
        identity_file: str | None = None,
        proxy: str | None = None,
        timeout: float | None = None,
    ) -> None:
        import os

        from sessioncli.core import context

        self._opts = context.Options(
            profile or os.environ.get("SESSIONCLI_PROFILE") or "default",
            network,
            identity_file or os.environ.get("SESSIONCLI_IDENTITY_FILE"),
            proxy,
            timeout,
        )
        self._resolved: Resolved = context.resolve(self._opts)
        self._identity: Identity | None = None
        self._net: NetworkClient | None = None
        self._lock = threading.Lock()

    # --- plumbing --------------------------------------------------------------------------

    @property
    def session_id(self) -> str:
        return self._ident().session_id

    def _ident(self) -> Identity:
        from sessioncli.core import context

        with self._lock:
            if self._identity is None:
                self._identity = context.load_identity(self._opts)
            return self._identity

    def _network(self) -> NetworkClient:
        from sessioncli.core import context

        with self._lock:
            if self._net is None:
                self._net = context.open_network(self._resolved)
            return self._net

    def _folder(self) -> Path:
        from sessioncli.core import context

        return context.state_folder(self._resolved, self._ident().session_id)

    def close(self) -> None:
        with self._lock:
            if self._net is not None:
                self._net.close()
                self._net = None

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- sending ---------------------------------------------------------------------------

    @property
    def default_display_name(self) -> str | None:
        """The display name sent when none is given: $SESSIONCLI_DISPLAY_NAME, else config."""
        from sessioncli.core import settings

        return settings.pick(None, "SESSIONCLI_DISPLAY_NAME", self._resolved.config.display_name)

    def compose(
        self,
        recipients: Recipients | str | Sequence[str],
        text: str,
        *,
        ttl: str | int | None = None,
        display_name: str | None = None,
        sync_copy: bool = True,
        files: Sequence[Attachment] = (),
        avatar: str | None = None,
        reply_to: str | None = None,
        disappear: str | None = None,
        disappear_after: str = "send",
    ) -> Draft:
        """Check everything about a message that needs no network; `send_draft()` sends it.

        `files` come from `read_attachments()`; `avatar` is a picture file (default: config's
        `avatar`); `disappear` a timer ("1h", 10s to 14d) started after "send" or "read".
        """
        from sessioncli.core import disappear as disappear_core
        from sessioncli.core import send as send_core

        if not isinstance(recipients, Recipients):
            recipients = parse_recipients(recipients)
        name = display_name or self.default_display_name
        if name is not None:
            check_display_name(name)
        expiration = disappear_core.parse(disappear, disappear_after) if disappear else None
        disappear_core.check_no_ttl(expiration, None if ttl is None else str(ttl))
        ttl_ms = disappear_core.store_ttl_ms(expiration, self._ttl_ms(ttl))
        if not files:
            send_core.check_body(text)
        send_core.check_fits(text, name)
        picture = None
        if avatar or self._resolved.config.avatar:
            # the attachment modules only when there is a picture: a text send skips their import
            from sessioncli.core import avatar as avatar_core

            picture = avatar_core.read_avatar(avatar or self._resolved.config.avatar)
        return Draft(
            recipients, text, ttl_ms, name, sync_copy, tuple(files), picture, reply_to, expiration
        )

    def _ttl_ms(self, ttl: str | int | None) -> int:
        from sessioncli.core import settings

        if isinstance(ttl, int):
            if not settings.MIN_TTL_MS <= ttl <= settings.MAX_TTL_MS:
                raise UsageError(f"TTL {ttl} ms is out of range (10s to 14d)")
            return ttl
        return settings.resolve_ttl_ms(ttl, self._resolved.config)

    def send_draft(self, draft: Draft) -> list[SendResult]:
        """Upload the draft's files (if any), then send it: one result per recipient, in order."""
        from sessioncli.core import dispatch

        ident = self._ident()
        net = self._network()
        folder = self._folder()
        targets = list(draft.recipients.targets)
        # Community posts upload their files to each room (core/community_send.py); the file
        # server is used only when another kind of recipient needs the files.
        fs_files = list(draft.files) if any(t.source != "community" for t in targets) else []
        pointers: list[Any] = []
        picture = None
        extra: dict[str, Any] = {}
        if fs_files or draft.avatar is not None:
            from sessioncli.core import attachments as attachments_core

            pointers, picture = attachments_core.upload_for_send(
                net, fs_files, draft.avatar, folder
            )
        if draft.files:
            from sessioncli.core import community_send

            extra[community_send.ROOM_FILES] = tuple(draft.files)
        outgoing = dispatch.Outgoing(
            draft.text,
            draft.ttl_ms,
            draft.display_name,
            sync_copy=draft.sync_copy,
            attachments=tuple(pointers),
            profile_picture=picture,
            reply_to=draft.reply_to,
            disappear=draft.disappear,
            extra=extra,
        )
        outcomes = dispatch.send(dispatch.SendContext(ident, net, folder), targets, outgoing)
        return [
            SendResult(
                o.ok,
                o.exit_code,
                o.error,
                o.warnings,
                o.first_contact,
                o.to_json(),
                o.label,
                getattr(o, "stored_on", None),
            )
            for o in outcomes
        ]

    def send(
        self,
        recipients: Recipients | str | Sequence[str],
        text: str,
        *,
        ttl: str | int | None = None,
        display_name: str | None = None,
        sync_copy: bool = True,
        files: Sequence[Attachment] = (),
        avatar: str | None = None,
        reply_to: str | None = None,
        disappear: str | None = None,
        disappear_after: str = "send",
    ) -> list[SendResult]:
        """Send `text` to each recipient (ids, contact names, communities, groups, @names).

        `ttl`: a duration string ("1h") or milliseconds; default as the CLI (config, then 14d).
        The other options are `compose()`'s.
        """
        draft = self.compose(
            recipients,
            text,
            ttl=ttl,
            display_name=display_name,
            sync_copy=sync_copy,
            files=files,
            avatar=avatar,
            reply_to=reply_to,
            disappear=disappear,
            disappear_after=disappear_after,
        )
        return self.send_draft(draft)

    def paths(self) -> list[list[Hop]]:
        """The onion paths the network client holds now, guard first."""
        return [[Hop(n.address, n.pubkey_ed25519) for n in p] for p in self._network().paths()]

    # --- receiving -------------------------------------------------------------------------

    def receiving(
        self,
        *,
        include_own: bool = False,
        peek: bool = False,
        filter: ReceiveFilter | None = None,
        attachments_dir: str | None = None,
        on_attachment_error: Callable[[str], None] | None = None,
        deadline: bool = False,
    ) -> Receiving:
        """An open receive (`with client.receiving() as rx: rx.poll(emit)`), see docs/api.md.

        `filter` chooses what `emit` is given (hidden messages still count as received);
        `attachments_dir` downloads attachments there; `deadline`: one `timeout` for every
        poll together (a one-shot receive), instead of one per request.
        """
        from sessioncli.api_receive import Receiving

        return Receiving(
            self,
            include_own=include_own,
            peek=peek,
            filter=filter,
            attachments_dir=attachments_dir,
            on_attachment_error=on_attachment_error,
            deadline=deadline,
        )

    def shows(self, flt: ReceiveFilter | None) -> Callable[[dict[str, Any]], bool]:
        """`flt` as a predicate on `receive --json` objects (against our contacts/approvals)."""
        from sessioncli.api_receive import record_filter

        return record_filter(self._folder(), flt)

    def receive(
        self,
        *,
        follow: bool = False,
        interval: float = 2.0,
        include_own: bool = False,
        peek: bool = False,
        stop: threading.Event | None = None,
        filter: ReceiveFilter | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Yield new messages as `receive --json` objects (see the module docstring for commits).

        Without `follow` it returns after one complete poll; with it, it polls every `interval`
        seconds until `stop` is set. Poll failures end a one-shot receive with the error; with
        `follow` they are retried at the next interval.
        """
        handoff: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=1)
        proceed = threading.Semaphore(0)
        leaving = threading.Event()
        stopping = stop or threading.Event()

        def emit(record: dict[str, Any]) -> None:
            handoff.put(("record", record))
            proceed.acquire()
            if leaving.is_set():
                raise _Stop  # not marked: the consumer never asked for the next one

        def run() -> None:
            try:
                with self.receiving(include_own=include_own, peek=peek, filter=filter) as rx:
                    while not leaving.is_set():
                        polled = rx.poll(emit, follow=follow)
                        if polled.failures and not follow:
                            raise polled.failures[0]
                        if not follow or stopping.wait(interval):
                            break
                handoff.put(("done", None))
            except _Stop:
                pass
            except BaseException as exc:  # a bug must reach the consumer, not hang it
                if not leaving.is_set():
                    handoff.put(("error", exc))

        worker = threading.Thread(target=run, daemon=True)
        worker.start()
        try:
            while True:
                what, value = handoff.get()
                if what == "record":
                    yield value
                    proceed.release()  # the consumer asked for the next: mark it received
                elif what == "error":
                    raise value
                else:
                    return
        finally:
            leaving.set()
            proceed.release()
            worker.join(timeout=30)

    # --- the rest --------------------------------------------------------------------------

    def contacts(self) -> list[dict[str, Any]]:
        """The address book: [{"name", "session_id", "added_ms"}]."""
        from sessioncli.core import contacts

        return [
            {"name": c.name, "session_id": c.session_id, "added_ms": c.added_ms}
            for c in contacts.list_contacts()
        ]

    def status(self) -> dict[str, Any]:
        """What the network client holds: pool size, paths (guard first), clock offset."""
        return {"session_id": self.session_id, **net_status(self._network())}


def net_status(net: NetworkClient) -> dict[str, Any]:
    """Pool, paths and clock of a network client, as the daemon's `status` reports them."""
    import time

    paths = net.paths()
    return {
        "network": net.name,
        "pool_size": len(net.pool()),
        "paths": [[n.pubkey_ed25519 for n in p] for p in paths],
        "clock_offset_ms": net.now_ms() - int(time.time() * 1000),
    }
