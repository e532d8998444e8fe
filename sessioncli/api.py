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
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sessioncli import __version__
from sessioncli.errors import ConfigError, NetworkUnavailable, TemporaryFailure, UsageError
from sessioncli.errors import SessionCliError as Error

if TYPE_CHECKING:
    from sessioncli.core.context import Resolved
    from sessioncli.net.client import NetworkClient
    from sessioncli.protocol.ids import Identity

__all__ = [
    "Client",
    "ConfigError",
    "Error",
    "NetworkUnavailable",
    "SendResult",
    "TemporaryFailure",
    "UsageError",
    "__version__",
    "exit_code",
]


@dataclass(frozen=True)
class SendResult:
    """One recipient's outcome; `data` is exactly the object `send --json` prints for it."""

    ok: bool
    exit_code: int
    error: str | None
    warnings: tuple[str, ...]
    first_contact: bool
    data: dict[str, Any]

    @property
    def recipient(self) -> str:
        return str(self.data.get("recipient"))


def exit_code(results: Sequence[SendResult]) -> int:
    """The CLI's exit status for these results: 0 all, 3 some, else the first failure's code."""
    ok = [r for r in results if r.ok]
    if len(ok) == len(results):
        return 0
    if ok:
        return 3
    return results[0].exit_code or 1


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

    def _folder(self) -> Any:
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

    def send(
        self,
        recipients: str | Sequence[str],
        text: str,
        *,
        ttl: str | int | None = None,
        display_name: str | None = None,
        sync_copy: bool = True,
    ) -> list[SendResult]:
        """Send `text` to each recipient (ids, contact names, communities, groups, @names).

        `ttl`: a duration string ("1h") or milliseconds; default as the CLI (config, then 14d).
        """
        from sessioncli.core import dispatch, settings
        from sessioncli.core import recipients as rcp
        from sessioncli.core import send as send_core

        words = [recipients] if isinstance(recipients, str) else list(recipients)
        words = [p for w in words for p in w.split(",") if p.strip()]
        targets = rcp.parse_targets(words)
        dispatch.check_supported(targets)
        if isinstance(ttl, int):
            ttl_ms = ttl
            if not settings.MIN_TTL_MS <= ttl_ms <= settings.MAX_TTL_MS:
                raise UsageError(f"TTL {ttl} ms is out of range (10s to 14d)")
        else:
            ttl_ms = settings.resolve_ttl_ms(ttl, self._resolved.config)
        name = display_name or settings.pick(
            None, "SESSIONCLI_DISPLAY_NAME", self._resolved.config.display_name
        )
        send_core.check_body(text)
        send_core.check_fits(text, name)
        ctx = dispatch.SendContext(self._ident(), self._network(), self._folder())
        outcomes = dispatch.send(
            ctx, targets, dispatch.Outgoing(text, ttl_ms, name, sync_copy=sync_copy)
        )
        return [
            SendResult(o.ok, o.exit_code, o.error, o.warnings, o.first_contact, o.to_json())
            for o in outcomes
        ]

    # --- receiving -------------------------------------------------------------------------

    def receive(
        self,
        *,
        follow: bool = False,
        interval: float = 2.0,
        include_own: bool = False,
        peek: bool = False,
        stop: threading.Event | None = None,
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

        def emit(record: Any) -> None:
            handoff.put(("record", record.to_json()))
            proceed.acquire()
            if leaving.is_set():
                raise _Stop  # not marked: the consumer never asked for the next one

        worker = threading.Thread(
            target=self._poll_loop,
            args=(emit, handoff, follow, interval, include_own, peek, stopping, leaving),
            daemon=True,
        )
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

    def _poll_loop(
        self,
        emit: Any,
        handoff: queue.Queue[tuple[str, Any]],
        follow: bool,
        interval: float,
        include_own: bool,
        peek: bool,
        stopping: threading.Event,
        leaving: threading.Event,
    ) -> None:
        from sessioncli.core import contacts, inbox
        from sessioncli.core import receive as receive_core

        try:
            ident = self._ident()
            folder = self._folder()
            with receive_core.receive_lock(folder, ident.session_id):
                ctx = inbox.ReceiveContext(
                    ident,
                    self._network(),
                    folder,
                    include_own=include_own,
                    commit=not peek,
                    contact_name=contacts.name_for,
                )
                sources = inbox.open_sources(ctx)
                try:
                    while not leaving.is_set():
                        polled = inbox.poll_all(sources, emit)
                        if polled.failures and not follow:
                            raise polled.failures[0]
                        if not follow or stopping.wait(interval):
                            break
                finally:
                    inbox.close_all(sources)
            handoff.put(("done", None))
        except _Stop:
            pass
        except BaseException as exc:  # a bug must reach the consumer, not hang it
            if not leaving.is_set():
                handoff.put(("error", exc))

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
