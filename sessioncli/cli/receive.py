"""The `receive` command: new messages once (cron) or continuously (--follow), never twice."""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from typing import TYPE_CHECKING, Annotated, Any

import typer

from sessioncli.cli._errors import cli_errors, err
from sessioncli.cli._output import stdout_isatty
from sessioncli.cli.app import app, get_globals

if TYPE_CHECKING:
    from sessioncli.cli._exec import ExecRunner
    from sessioncli.core.records import RecordFilter


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


def _make_emit(chosen: RecordFilter, json_out: bool, runner: ExecRunner | None, folder: Any) -> Any:
    from sessioncli.cli._records import show
    from sessioncli.core.conversations import ConversationStore

    tty = stdout_isatty()
    convs = ConversationStore(folder)

    def approved(sender: str) -> bool:  # read only for --requests
        return convs.get(sender).approved_by_us

    def emit(record: Any) -> bool:
        data = record.to_json()
        if not chosen.shows(data, approved=approved):
            return False  # consumed, not shown, not counted by --max
        if runner is not None:
            runner.deliver(data)
        else:
            show(data, json_out=json_out, tty=tty)
        return True

    return emit


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
            metavar="NAME_OR_ID",
            help="Only in this conversation (contact, community or group); repeatable.",
        ),
    ] = None,
    contacts_only: Annotated[
        bool, typer.Option("--contacts-only", help="Only from senders in our contacts.")
    ] = False,
    requests_only: Annotated[
        bool,
        typer.Option("--requests", help="Only message requests: senders we have not approved."),
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
) -> None:
    """Print new messages for our identity (once, or with --follow until stopped).

    Filters (--kind, --from, --conversation, --contacts-only, --requests) choose what is shown; a hidden message is still
    marked received. Control messages (message_request_response, typing, ...) are shown only in
    JSON or when asked for with --kind.
    """
    g = get_globals(ctx)
    from sessioncli.cli._exec import ExecRunner, RetryPolicy, Stopped
    from sessioncli.core import contacts, context, inbox
    from sessioncli.core import receive as receive_core
    from sessioncli.core.records import RecordFilter

    if exec_cmd is not None and (json_out or peek):
        from sessioncli.errors import UsageError

        raise UsageError("--exec cannot be combined with --json or --peek")
    chosen = RecordFilter(
        kinds=tuple(kinds or ()),
        senders=tuple(senders or ()),
        conversations=tuple(conversations or ()),
        contacts_only=contacts_only,
        requests_only=requests_only,
        include_control=json_out or exec_cmd is not None,
    )
    opts = context.Options(
        g.profile, g.network, g.identity_file, g.proxy, None if follow else timeout
    )
    resolved = context.resolve(opts)
    identity = context.load_identity(opts)
    folder = context.state_folder(resolved, identity.session_id)
    stop = threading.Event()

    def on_term(_signum: int, _frame: Any) -> None:
        stop.set()

    runner = None if exec_cmd is None else ExecRunner(exec_cmd, RetryPolicy(max_attempts), stop)
    emit = _make_emit(chosen, json_out, runner, folder)
    previous = signal.signal(signal.SIGTERM, on_term)
    # --peek commits nothing, so it needs no lock and runs beside a --follow.
    lock = (
        contextlib.nullcontext() if peek else receive_core.receive_lock(folder, identity.session_id)
    )
    with lock:
        net = context.open_network(resolved)
        sources = inbox.open_sources(
            inbox.ReceiveContext(
                identity,
                net,
                folder,
                include_own=include_own,
                commit=not peek,
                contact_name=contacts.name_for,
            )
        )
        receiver = sources[0]
        assert isinstance(receiver, receive_core.Receiver)
        try:
            total = 0
            last_new = time.monotonic()
            while True:
                remaining = None if max_count is None else max_count - total
                try:
                    polled = inbox.poll_all(sources, emit, limit=remaining)
                except Stopped:
                    break  # the unacknowledged message stays for the next run
                for exc in polled.failures:
                    if not follow:
                        raise exc
                    if g.verbose:
                        err(f"sessioncli: poll failed, retrying: {exc.message}")
                total += polled.emitted
                if polled.emitted:
                    last_new = time.monotonic()
                if not follow or stop.is_set():
                    break
                if max_count is not None and total >= max_count:
                    break
                if timeout is not None and time.monotonic() - last_new >= timeout:
                    break
                if stop.wait(interval):
                    break
                if runner is None and _stdout_gone():
                    break  # the reader left while we were idle: release the lock now
        finally:
            inbox.close_all(sources)
            net.close()
            signal.signal(signal.SIGTERM, previous)
    s = receiver.stats
    if g.verbose and (s.dropped or s.duplicates):
        reasons = ", ".join(f"{k} {v}" for k, v in sorted(s.drop_reasons.items()))
        err(
            f"sessioncli: {s.dropped} message(s) failed verification and were dropped"
            + (f" ({reasons})" if reasons else "")
            + f"; {s.duplicates} duplicate(s) skipped"
        )
