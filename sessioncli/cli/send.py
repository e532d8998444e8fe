"""The `send` command: a message from an argument or stdin to one or more recipients."""

from __future__ import annotations

import sys
import time
from typing import Annotated

import typer

from sessioncli.cli._errors import cli_errors, err
from sessioncli.cli._output import emit_json
from sessioncli.cli.app import JsonOpt, TimeoutOpt, app, get_globals
from sessioncli.cli.contacts import complete_contact_name
from sessioncli.errors import SessionCliError, UsageError

MAX_STDIN_BYTES = 1_000_000


def read_stdin_message() -> str:
    if sys.stdin is None or sys.stdin.isatty():
        raise UsageError("no message: pass MESSAGE or pipe text on stdin")
    raw = sys.stdin.buffer.read(MAX_STDIN_BYTES + 1)
    if len(raw) > MAX_STDIN_BYTES:
        raise UsageError(f"message too large: more than {MAX_STDIN_BYTES} bytes on stdin")
    if b"\x00" in raw:
        raise UsageError("stdin holds binary data (NUL bytes), not text")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError(f"stdin is not valid UTF-8 text (byte {exc.start})") from None
    if text.endswith("\r\n"):
        text = text[:-2]
    elif text.endswith("\n"):
        text = text[:-1]
    return text


def check_argv_text(value: str, what: str) -> str:
    """Text from argv: bytes that are not UTF-8 arrive as lone surrogates; refuse them (exit 2)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise UsageError(f"{what} is not valid UTF-8 text (character {exc.start})") from None
    return value


def check_display_name(name: str) -> str:
    """A display name we send: valid UTF-8 without control characters (they would reach, and
    could rewrite, the other side's terminal)."""
    check_argv_text(name, "the display name")
    if any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in name):
        raise UsageError(f"invalid display name {name!a}: it holds control characters")
    return name


@app.command()
@cli_errors
def send(
    ctx: typer.Context,
    recipient: Annotated[
        str,
        typer.Argument(
            metavar="RECIPIENT",
            help="Session ID or contact name; several separated by commas.",
            show_default=False,
            autocompletion=complete_contact_name,
        ),
    ],
    message: Annotated[
        str | None,
        typer.Argument(metavar="MESSAGE", help="The text; omitted or '-': read stdin."),
    ] = None,
    to: Annotated[
        list[str] | None,
        typer.Option(
            "--to",
            metavar="RECIPIENT",
            help="Another recipient (repeatable).",
            autocompletion=complete_contact_name,
        ),
    ] = None,
    ttl: Annotated[
        str | None,
        typer.Option(
            "--ttl",
            metavar="DURATION",
            help="How long the network keeps it, e.g. 90m, 1h30m, 2d (10s to 14d).",
            show_default="14d",
        ),
    ] = None,
    name: Annotated[
        str | None,
        typer.Option("--name", metavar="DISPLAY_NAME", help="Display name sent with the message."),
    ] = None,
    no_sync: Annotated[
        bool,
        typer.Option("--no-sync", help="Do not store the copy for our own linked devices."),
    ] = False,
    timeout: TimeoutOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Send a message. Silent on success; exit 3 if only some recipients got it."""
    g = get_globals(ctx)
    from sessioncli.core import context, dispatch, recipients, settings
    from sessioncli.core import send as send_core

    words = [p for p in recipient.split(",") if p.strip()] + list(to or [])
    if not words:
        raise UsageError("no recipient given")
    targets = recipients.parse_targets(words)
    dispatch.check_supported(targets)

    if message is None or message == "-":
        if g.identity_file == "-":
            raise UsageError("stdin cannot carry both the identity and the message")
        body = read_stdin_message()
    else:
        body = check_argv_text(message, "MESSAGE")
    opts = context.Options(g.profile, g.network, g.identity_file, g.proxy, timeout)
    resolved = context.resolve(opts)
    display_name = name or settings.pick(
        None, "SESSIONCLI_DISPLAY_NAME", resolved.config.display_name
    )
    if display_name is not None:
        check_display_name(display_name)
    ttl_ms = settings.resolve_ttl_ms(ttl, resolved.config)
    send_core.check_body(body)
    send_core.check_fits(body, display_name)

    identity = context.load_identity(opts)
    net = context.open_network(resolved)
    started = time.monotonic()
    try:
        results = dispatch.send(
            dispatch.SendContext(
                identity, net, context.state_folder(resolved, identity.session_id)
            ),
            targets,
            dispatch.Outgoing(body, ttl_ms, display_name, sync_copy=not no_sync),
        )
        if g.verbose:
            from sessioncli.cli import _verbose

            _verbose.sent(results, (time.monotonic() - started) * 1000)
            _verbose.paths(net)
    finally:
        net.close()

    for r in results:
        label = r.label
        if not g.quiet:
            for w in r.warnings:
                err(f"sessioncli: warning: {label}: {w}")
            if r.first_contact:
                err(
                    f"sessioncli: warning: {label} has not approved you yet: this lands in their "
                    "message requests, and phones notify only once for unapproved senders"
                )
        if not r.ok:
            err(f"sessioncli: error: {label}: {r.error}")
    if json_out:
        several = len(results) > 1 or len(words) > 1
        emit_json([r.to_json() for r in results] if several else results[0].to_json())
    code = dispatch.overall_exit(results)
    if code:
        raise typer.Exit(int(code))


__all__ = ["SessionCliError", "send"]
