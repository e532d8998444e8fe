"""The `receive` command: new messages once (cron) or continuously (--follow), never twice."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
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


def _send_receipts(scr: Any, identity: Any, net: Any, folder: Any, quiet: bool) -> None:
    from sessioncli.core import receipts, requests

    report = receipts.send_receipts(
        identity, net, folder, scr.take_read(), approved=requests.is_approved(folder)
    )
    for sender, why in report.failed.items():
        if not quiet:
            err(
                f"sessioncli: warning: read receipt to {sender[:10]}… not sent (retried next run): {why}"
            )


def _make_emit(json_out: bool, runner: ExecRunner | None, with_files: Any) -> Any:
    """Show one record (or hand it to --exec); filtering is done before, by the screen."""
    from sessioncli.cli._records import show

    tty = stdout_isatty()

    def emit(record: Any) -> None:
        data = with_files(record).to_json()
        if runner is not None:
            runner.deliver(data)
        else:
            show(data, json_out=json_out, tty=tty)

    return emit


def _conversation_sources(rctx: Any, names_given: list[str]) -> tuple[list[Any], Any]:
    """The sources to poll and the record filter for `--conversation` (communities alone: no DMs)."""
    from sessioncli.core import community_receive, inbox, recipients
    from sessioncli.core.records import RecordFilter

    if not names_given:
        return inbox.open_sources(rctx), lambda _rec: True
    targets = [recipients.parse_target(n) for n in names_given]
    wanted = RecordFilter(
        conversations=[*names_given, *(t.address for t in targets)], include_control=True
    )
    if all(t.source == "community" for t in targets):
        sources: list[Any] = community_receive.open_sources(rctx, only={t.address for t in targets})
    else:
        sources = inbox.open_sources(rctx)
    return sources, lambda rec: wanted.shows(rec, approved=lambda _sid: True)


def _fault_hook() -> Any:
    """SESSIONCLI_FAULT=crash-after-fetch (crash-safety tests): die like kill -9 right after a
    fetch that brought messages, before anything is printed or committed."""
    if os.environ.get("SESSIONCLI_FAULT") != "crash-after-fetch":
        return None
    return lambda: os._exit(137)


def _invite_hook(identity: Any, net: Any, folder: Any) -> Any:
    from sessioncli.core import group_invites, requests
    from sessioncli.core.group_net import NetGroupSwarm
    from sessioncli.core.groups import GroupContext

    gctx = GroupContext(identity, NetGroupSwarm(net), folder)
    return group_invites.receive_hook(gctx, requests.is_approved(folder))


def _report_sources(sources: list[Any]) -> None:
    """-v: each poll's cost (the sources that keep per-member poll figures: DMs, groups)."""
    for source in sources:
        stats = getattr(source, "stats", None)
        if stats is not None and hasattr(stats, "unreachable"):
            group = getattr(source, "group_id", None) and getattr(source, "name", None)
            _report_poll(stats, f"group {group}: " if group else "")


def _report_poll(stats: Any, label: str = "") -> None:
    down = stats.unreachable
    err(
        f"sessioncli: {label}poll {stats.polls or 1}: {stats.requests} request(s) so far"
        + (f"; {len(down)} member(s) did not answer" if down else "")
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
) -> None:
    """Print new messages for our identity (once, or with --follow until stopped).

    Filters (--kind, --from, --conversation, --contacts-only, --requests) choose what is shown; a hidden message is still
    marked received. Control messages (message_request_response, typing, ...) are shown only in
    JSON or when asked for with --kind.
    """
    g = get_globals(ctx)
    from sessioncli.cli._exec import ExecRunner, RetryPolicy, Stopped
    from sessioncli.core import contacts, context, inbox, screen
    from sessioncli.core import receive as receive_core
    from sessioncli.core.records import RecordFilter
    from sessioncli.net.policy import Deadline

    if exec_cmd is not None and (json_out or peek):
        raise UsageError("--exec cannot be combined with --json or --peek")
    if read_receipts and peek:
        raise UsageError("--read-receipts marks messages read: it cannot be used with --peek")
    chosen = RecordFilter(
        kinds=tuple(kinds or ()),
        senders=tuple(senders or ()),
        contacts_only=contacts_only,
        include_control=json_out or exec_cmd is not None,
    )
    opts = context.Options(
        g.profile, g.network, g.identity_file, g.proxy, None if follow else timeout
    )
    resolved = context.resolve(opts)
    identity = context.load_identity(opts)
    folder = context.state_folder(resolved, identity.session_id)
    stop = threading.Event()
    scr = screen.Screen.open(folder, identity)
    request_shows = screen.requests_filter(folder) if requests_only else None

    def on_term(_signum: int, _frame: Any) -> None:
        stop.set()

    runner = None if exec_cmd is None else ExecRunner(exec_cmd, RetryPolicy(max_attempts), stop)
    previous = signal.signal(signal.SIGTERM, on_term)
    # --peek commits nothing, so it needs no lock and runs beside a --follow.
    lock = (
        contextlib.nullcontext() if peek else receive_core.receive_lock(folder, identity.session_id)
    )
    with lock:
        net = context.open_network(resolved)
        rctx = inbox.ReceiveContext(
            identity,
            net,
            folder,
            include_own=include_own,
            commit=not peek,
            contact_name=contacts.name_for,
            screen=scr,
            after_fetch=_fault_hook(),
            deadline=None if follow else Deadline(resolved.timeout),  # --timeout: the whole run
        )
        from pathlib import Path

        from sessioncli.core import attachment_files

        with_files = attachment_files.receive_hook(
            net,
            folder,
            Path(attachments_dir).expanduser() if attachments_dir else None,
            on_error=(lambda line: err(f"sessioncli: {line}")) if g.verbose else None,
        )
        sources, conversation_shows = _conversation_sources(rctx, conversations or [])
        health = receive_core.FollowHealth()
        invites = _invite_hook(identity, net, folder)

        def shows(rec: dict[str, Any]) -> bool:
            return (
                chosen.shows(rec, approved=lambda _sid: True)
                and conversation_shows(rec)
                and (request_shows is None or request_shows(rec))
            )

        observed = scr.observe(_make_emit(json_out, runner, with_files), shows)

        def emit(r: Any) -> bool | None:
            shown = invites(r)  # an invite DM becomes a group_invite record (or is dropped)
            return False if shown is None else observed(shown)

        try:
            total = 0
            last_new = time.monotonic()
            while True:
                remaining = None if max_count is None else max_count - total
                try:
                    polled = inbox.poll_all(sources, emit, limit=remaining, follow=follow)
                except Stopped:
                    break  # the unacknowledged message stays for the next run
                finally:
                    if not peek:
                        scr.flush()
                if read_receipts:
                    _send_receipts(scr, identity, net, folder, g.quiet)
                for exc in polled.failures:
                    if not follow:
                        raise exc
                    if g.verbose:
                        err(f"sessioncli: poll failed, retrying: {exc.message}")
                if follow and polled.failures and health.failed():
                    err(
                        f"sessioncli: warning: {health.in_a_row} polls in a row failed;"
                        f" not receiving: {polled.failures[0].message}"
                    )
                elif follow and not polled.failures and health.answered():
                    err("sessioncli: polls succeed again; receiving")
                if g.verbose and follow:
                    _report_sources(sources)
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
    if g.verbose and not follow:
        _report_sources(sources)
    if g.verbose and scr.hidden_counts:
        err("sessioncli: not shown: " + ", ".join(f"{k} {v}" for k, v in scr.hidden_counts.items()))
    for s in [*(getattr(source, "stats", None) for source in sources), invites.stats]:
        if s is None or not (g.verbose and (s.dropped or s.duplicates)):
            continue
        reasons = ", ".join(f"{k} {v}" for k, v in sorted(s.drop_reasons.items()))
        err(
            f"sessioncli: {s.dropped} message(s) failed verification and were dropped"
            + (f" ({reasons})" if reasons else "")
            + f"; {s.duplicates} duplicate(s) skipped"
        )
