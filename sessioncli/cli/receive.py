"""The `receive` command: new messages once (cron) or continuously (--follow), never twice."""

from __future__ import annotations

import os
import signal
import threading
import time
from datetime import UTC, datetime
from typing import Annotated, Any

import typer

from sessioncli.cli._errors import cli_errors, err
from sessioncli.cli._output import emit_line, emit_ndjson, stdout_isatty, tsv_escape
from sessioncli.cli.app import app, get_globals
from sessioncli.errors import NetworkUnavailable, TemporaryFailure


def _render(received: Any, json_out: bool, tty: bool) -> None:
    data = received.to_json()
    if json_out:
        emit_ndjson(data)
        return
    when = datetime.fromtimestamp(data["timestamp_ms"] / 1000, tz=UTC)
    sender = data["contact"] or data["from_name"] or data["from"]
    if tty:
        body = data["body"] if data["body"] is not None else f"[{data['kind']}]"
        local = when.astimezone().strftime("%Y-%m-%d %H:%M:%S")
        short = sender if len(sender) < 20 else sender[:10] + "…"
        emit_line(f"{local}  {short:<20}  {body}")
    else:
        fields = [
            data["hash"],
            data["from"],
            data["from_name"] or "",
            when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z",
            data["kind"],
            data["body"] if data["body"] is not None else "",
        ]
        emit_line("\t".join(tsv_escape(f) for f in fields))


def _fault_hook() -> Any:
    """SESSIONCLI_FAULT=crash-after-fetch (crash-safety tests): die like kill -9 right after a
    fetch that brought messages, before anything is printed or committed."""
    if os.environ.get("SESSIONCLI_FAULT") != "crash-after-fetch":
        return None
    return lambda: os._exit(137)


def _report_poll(stats: Any) -> None:
    down = stats.unreachable
    err(
        f"sessioncli: poll {stats.polls or 1}: {stats.requests} request(s) so far"
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
            help="Network deadline; with --follow, stop after SECONDS without a new message.",
            show_default="30",
        ),
    ] = None,
    max_count: Annotated[
        int | None, typer.Option("--max", min=1, help="Stop after N messages.")
    ] = None,
    interval: Annotated[
        float, typer.Option("--interval", min=0.2, help="Seconds between polls with --follow.")
    ] = 2.0,
    include_own: Annotated[
        bool,
        typer.Option("--include-own", help="Also show our own sync copies (outgoing messages)."),
    ] = False,
    peek: Annotated[
        bool, typer.Option("--peek", help="Show messages without marking them as received.")
    ] = False,
    json_out: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """Print new messages for our identity (once, or with --follow until stopped)."""
    g = get_globals(ctx)
    from sessioncli.core import contacts, context
    from sessioncli.core import receive as receive_core
    from sessioncli.net.policy import Deadline

    opts = context.Options(
        g.profile, g.network, g.identity_file, g.proxy, None if follow else timeout
    )
    resolved = context.resolve(opts)
    identity = context.load_identity(opts)
    folder = context.state_folder(resolved, identity.session_id)
    tty = stdout_isatty()
    stop = threading.Event()

    def on_term(_signum: int, _frame: Any) -> None:
        stop.set()

    previous = signal.signal(signal.SIGTERM, on_term)
    with receive_core.receive_lock(folder, identity.session_id):
        net = context.open_network(resolved)
        receiver = receive_core.Receiver(
            identity,
            net,
            folder,
            include_own=include_own,
            commit=not peek,
            contact_name=contacts.name_for,
            after_fetch=_fault_hook(),
            deadline=None if follow else Deadline(resolved.timeout),  # --timeout: the whole run
        )
        health = receive_core.FollowHealth()
        try:
            total = 0
            last_new = time.monotonic()
            while True:
                remaining = None if max_count is None else max_count - total
                show = lambda r: _render(r, json_out, tty)  # noqa: E731
                try:
                    if follow:
                        got = receiver.poll_follow(show, limit=remaining)
                    else:
                        got = receiver.poll(show, limit=remaining)
                except (NetworkUnavailable, TemporaryFailure) as exc:
                    if not follow:
                        raise
                    if health.failed():
                        err(
                            f"sessioncli: warning: {health.in_a_row} polls in a row failed;"
                            f" not receiving: {exc.message}"
                        )
                    elif g.verbose:
                        err(f"sessioncli: poll failed, retrying: {exc.message}")
                    got = 0
                else:
                    if health.answered():
                        err("sessioncli: polls succeed again; receiving")
                    if g.verbose and follow:
                        _report_poll(receiver.stats)
                total += got
                if got:
                    last_new = time.monotonic()
                if not follow or stop.is_set():
                    break
                if max_count is not None and total >= max_count:
                    break
                if timeout is not None and time.monotonic() - last_new >= timeout:
                    break
                if stop.wait(interval):
                    break
        finally:
            receiver.close()
            net.close()
            signal.signal(signal.SIGTERM, previous)
    s = receiver.stats
    if g.verbose and not follow:
        _report_poll(s)
    if g.verbose and (s.dropped or s.duplicates):
        reasons = ", ".join(f"{k} {v}" for k, v in sorted(s.drop_reasons.items()))
        err(
            f"sessioncli: {s.dropped} message(s) failed verification and were dropped"
            + (f" ({reasons})" if reasons else "")
            + f"; {s.duplicates} duplicate(s) skipped"
        )
