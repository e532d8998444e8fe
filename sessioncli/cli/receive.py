"""The `receive` command: new messages once (cron) or continuously (--follow), never twice."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Annotated, Any

import typer

from sessioncli.cli._errors import cli_errors, err
from sessioncli.cli._output import stdout_isatty
from sessioncli.cli.app import app, get_globals
from sessioncli.errors import UsageError

if TYPE_CHECKING:
    from sessioncli.cli._exec import ExecRunner


def _stdout_gone() -> bool:
    """True once the reader of our stdout pipe has gone (POLLERR/POLLHUP on fd 1)."""
    import select
    import sys

    try:
        poller = select.poll()
        poller.register(sys.stdout.fileno(), 0)  # errors and hang-ups are always reported
        return any(
            ev & (select.POLLERR | select.POLLHUP | select.POLLNVAL) for _, ev in poller.poll(0)
        )
    except (OSError, ValueError, AttributeError):
        return False


@contextlib.contextmanager
def _stop_on_sigterm() -> Iterator[threading.Event]:
    """An event SIGTERM sets (a receive commits what it showed and exits 0), while inside."""
    stop = threading.Event()

    def on_term(_signum: int, _frame: Any) -> None:
        stop.set()

    previous = signal.signal(signal.SIGTERM, on_term)
    try:
        yield stop
    finally:
        signal.signal(signal.SIGTERM, previous)


def _make_emit(json_out: bool, runner: ExecRunner | None) -> Any:
    """Show one record (a `receive --json` object) or hand it to --exec; filtered before."""
    from sessioncli.cli._records import show

    tty = stdout_isatty()

    def emit(data: dict[str, Any]) -> None:
        if runner is not None:
            runner.deliver(data)
        else:
            show(data, json_out=json_out, tty=tty)

    return emit


def _report_sources(rx: Any) -> None:
    """-v: each poll's cost (the sources that keep per-member poll figures: DMs, groups)."""
    for f in rx.poll_figures():
        err(
            f"sessioncli: {f.label}poll {f.polls or 1}: {f.requests} request(s) so far"
            + (f"; {f.unreachable} member(s) did not answer" if f.unreachable else "")
        )


@app.command()
@cli_errors
def receive(
    ctx: typer.Context,
    follow: Annotated[
        bool, typer.Option("-f", "--follow", help="Keep polling; SIGTERM commits and exits 0.")
    ] = False,
    timeout: Annotated[
        float | None,
        typer.Option(
            "--timeout",
            min=0.1,
            metavar="SECONDS",
            help="Network deadline; with --follow, stop after SECONDS without a new message.",
            show_default="30",
        ),
    ] = None,
    max_count: Annotated[
        int | None,
        typer.Option("--max", min=1, metavar="N", help="Stop after N shown messages."),
    ] = None,
    interval: Annotated[
        float,
        typer.Option(
            "--interval", min=0.2, metavar="SECONDS", help="Seconds between polls with --follow."
        ),
    ] = 2.0,
    include_own: Annotated[
        bool,
        typer.Option("--include-own", help="Also show our own sync copies (outgoing messages)."),
    ] = False,
    peek: Annotated[
        bool,
        typer.Option(
            "--peek",
            help="Show messages without marking them as received (runs beside a --follow).",
        ),
    ] = False,
    kinds: Annotated[
        list[str] | None,
        typer.Option(
            "--kind",
            metavar="KIND",
            help="Only this kind (text, reaction, message_request_response, ...); repeatable.",
        ),
    ] = None,
    senders: Annotated[
        list[str] | None,
        typer.Option(
            "--from",
            metavar="ID_OR_CONTACT",
            help="Only from this Session ID or contact (case-insensitive); repeatable.",
        ),
    ] = None,
    conversations: Annotated[
        list[str] | None,
        typer.Option(
            "--conversation",
            metavar="NAME",
            help="Only this contact, community or group (repeatable); only communities: no DM poll.",
        ),
    ] = None,
    contacts_only: Annotated[
        bool, typer.Option("--contacts-only", help="Only from senders in our contacts.")
    ] = False,
    requests_only: Annotated[
        bool, typer.Option("--requests", help="Only messages of senders not approved yet.")
    ] = False,
    attachments_dir: Annotated[
        str | None,
        typer.Option(
            "--attachments",
            metavar="DIR",
            help="Download attachments into DIR (checked, mode 0600, never overwriting).",
        ),
    ] = None,
    read_receipts: Annotated[
        bool, typer.Option("--read-receipts", help="Send read receipts for what is printed.")
    ] = False,
    exec_cmd: Annotated[
        str | None,
        typer.Option(
            "--exec",
            metavar="CMD",
            help="Run CMD (/bin/sh -c) once per message, JSON on stdin; a message counts as "
            "received only when CMD exits 0.",
        ),
    ] = None,
    max_attempts: Annotated[
        int,
        typer.Option(
            "--max-attempts",
            min=1,
            metavar="N",
            help="With --exec: tries per message (backoff 1 s, 2 s, 4 s...), then skip it.",
        ),
    ] = 5,
    json_out: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
    via_daemon: Annotated[
        bool,
        typer.Option(
            "--daemon",
            help="Receive through a running `sessioncli daemon` ($SESSIONCLI_SOCKET or its default).",
        ),
    ] = False,
) -> None:
    """Print new messages for our identity (once, or with --follow until stopped).

    Filters (--kind, --from, --conversation, --contacts-only, --requests) choose what is shown; a hidden message is still
    marked received. Control messages (message_request_response, typing, ...) are shown only in
    JSON or when asked for with --kind.
    """
    g = get_globals(ctx)
    from sessioncli import api
    from sessioncli.cli._exec import ExecRunner, RetryPolicy

    if exec_cmd is not None and (json_out or peek):
        raise UsageError("--exec cannot be combined with --json or --peek")
    if read_receipts and peek:
        raise UsageError("--read-receipts marks messages read: it cannot be used with --peek")
    if via_daemon or os.environ.get("SESSIONCLI_SOCKET"):
        _receive_via_daemon(
            follow=follow,
            timeout=timeout,
            interval=interval,
            max_count=max_count,
            json_out=json_out,
            include_own=include_own,
            filters=(kinds, senders, conversations, contacts_only, requests_only),
            local_only={
                "--peek": peek,
                "--exec": exec_cmd is not None,
                "--attachments": attachments_dir is not None,
                "--read-receipts": read_receipts,
            },
        )
        return
    chosen = api.ReceiveFilter(
        kinds=tuple(kinds or ()),
        senders=tuple(senders or ()),
        conversations=tuple(conversations or ()),
        contacts_only=contacts_only,
        requests_only=requests_only,
        include_control=json_out or exec_cmd is not None,
    )
    client = g.client(None if follow else timeout)
    _ = client.session_id  # the identity first (78), as every networked command
    rx = client.receiving(
        include_own=include_own,
        peek=peek,
        filter=chosen,
        attachments_dir=attachments_dir,
        on_attachment_error=(lambda line: err(f"sessioncli: {line}")) if g.verbose else None,
        deadline=not follow,  # --timeout: the whole run
    )
    loop = _Loop(follow, timeout, max_count, interval, read_receipts, bool(g.verbose), g.quiet)
    try:
        with _stop_on_sigterm() as stop, rx:
            runner = (
                None if exec_cmd is None else ExecRunner(exec_cmd, RetryPolicy(max_attempts), stop)
            )
            loop.run(rx, _make_emit(json_out, runner), stop, watch_stdout=runner is None)
    finally:
        client.close()
    if g.verbose:
        _report_end(rx, follow)


def _receive_via_daemon(
    *,
    follow: bool,
    timeout: float | None,
    interval: float,
    max_count: int | None,
    json_out: bool,
    include_own: bool,
    filters: tuple[list[str] | None, list[str] | None, list[str] | None, bool, bool],
    local_only: dict[str, bool],
) -> None:
    """The same receive through the daemon's subscription (cli/receive_daemon.py)."""
    from sessioncli.cli import receive_daemon

    receive_daemon.check_options([flag for flag, used in local_only.items() if used])
    kinds, senders, conversations, contacts_only, requests_only = filters
    params = receive_daemon.params_of(
        kinds=list(kinds or ()),
        senders=list(senders or ()),
        conversations=list(conversations or ()),
        contacts_only=contacts_only,
        requests_only=requests_only,
        include_control=json_out,
        include_own=include_own,
        max_count=max_count,
    )
    with _stop_on_sigterm() as stop:
        receive_daemon.run(
            params,
            _make_emit(json_out, None),
            follow=follow,
            timeout=timeout,
            interval=interval,
            stop=stop,
            stdout_gone=_stdout_gone,
        )


def _report_end(rx: Any, follow: bool) -> None:
    """-v at the end: poll costs (one-shot), hidden and dropped messages."""
    if not follow:
        _report_sources(rx)
    if rx.hidden_counts:
        err("sessioncli: not shown: " + ", ".join(f"{k} {v}" for k, v in rx.hidden_counts.items()))
    for d in rx.dropped():
        reasons = ", ".join(f"{k} {v}" for k, v in sorted(d.reasons.items()))
        err(
            f"sessioncli: {d.dropped} message(s) failed verification and were dropped"
            + (f" ({reasons})" if reasons else "")
            + f"; {d.duplicates} duplicate(s) skipped"
        )


class _Loop:
    """The polling loop: once, or --follow until SIGTERM, --max, --timeout idle or a gone reader."""

    def __init__(
        self,
        follow: bool,
        timeout: float | None,
        max_count: int | None,
        interval: float,
        read_receipts: bool,
        verbose: bool,
        quiet: bool,
    ) -> None:
        self.follow = follow
        self.timeout = timeout
        self.max_count = max_count
        self.interval = interval
        self.read_receipts = read_receipts
        self.verbose = verbose
        self.quiet = quiet

    def run(self, rx: Any, emit: Any, stop: threading.Event, *, watch_stdout: bool) -> None:
        from sessioncli.cli._exec import Stopped

        follow = self.follow
        total = 0
        last_new = time.monotonic()
        while True:
            remaining = None if self.max_count is None else self.max_count - total
            try:
                polled = rx.poll(emit, limit=remaining, follow=follow)
            except Stopped:
                break  # the unacknowledged message stays for the next run
            if self.read_receipts:
                self._receipts(rx)
            for exc in polled.failures:
                if not follow:
                    raise exc
                if self.verbose:
                    err(f"sessioncli: poll failed, retrying: {exc.message}")
            if follow and polled.failures and rx.health.failed():
                err(
                    f"sessioncli: warning: {rx.health.in_a_row} polls in a row failed;"
                    f" not receiving: {polled.failures[0].message}"
                )
            elif follow and not polled.failures and rx.health.answered():
                err("sessioncli: polls succeed again; receiving")
            if self.verbose and follow:
                _report_sources(rx)
            total += polled.emitted
            if polled.emitted:
                last_new = time.monotonic()
            if not follow or stop.is_set():
                break
            if self.max_count is not None and total >= self.max_count:
                break
            if self.timeout is not None and time.monotonic() - last_new >= self.timeout:
                break
            if stop.wait(self.interval):
                break
            if watch_stdout and _stdout_gone():
                break  # the reader left while we were idle: release the lock now

    def _receipts(self, rx: Any) -> None:
        for sender, why in rx.send_read_receipts().items():
            if not self.quiet:
                err(
                    f"sessioncli: warning: read receipt to {sender[:10]}… not sent (retried next run): {why}"
                )
