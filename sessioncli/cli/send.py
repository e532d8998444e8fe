"""The `send` command: a message from an argument or stdin to one or more recipients."""

from __future__ import annotations

import sys
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
            help="How long the network keeps it, e.g. 1h, 2d (10s to 14d).",
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
    from sessioncli.core import contacts, context, settings
    from sessioncli.core import send as send_core

    names = [p for p in recipient.split(",") if p.strip()] + list(to or [])
    if not names:
        raise UsageError("no recipient given")
    targets: list[send_core.Recipient] = []
    for text in names:
        sid, contact = contacts.resolve_recipient(text)
        targets.append(send_core.Recipient(sid, contact))

    if message is None or message == "-":
        if g.identity_file == "-":
            raise UsageError("stdin cannot carry both the identity and the message")
        body = read_stdin_message()
    else:
        body = message
    opts = context.Options(g.profile, g.network, g.identity_file, g.proxy, timeout)
    resolved = context.resolve(opts)
    display_name = name or settings.pick(
        None, "SESSIONCLI_DISPLAY_NAME", resolved.config.display_name
    )
    ttl_ms = settings.resolve_ttl_ms(ttl, resolved.config)
    send_core.check_body(body)
    send_core.check_fits(body, display_name)

    identity = context.load_identity(opts)
    net = context.open_network(resolved)
    try:
        results = send_core.send_messages(
            identity,
            net,
            targets,
            body,
            ttl_ms=ttl_ms,
            display_name=display_name,
            state_folder=context.state_folder(resolved, identity.session_id),
            sync_copy=not no_sync,
        )
    finally:
        net.close()

    for r in results:
        label = r.recipient_name or r.recipient
        if not g.quiet:
            for w in r.warnings:
                err(f"sessioncli: warning: {label}: {w}")
            if r.first_contact:
                err(
                    f"sessioncli: warning: {label} has not approved you yet: this lands in their "
                    "message requests, and phones notify only once for unapproved senders"
                )
        if g.verbose and r.ok:
            held = len(r.stored_on)
            err(
                f"sessioncli: {label}: stored on {held} swarm member(s)"
                + (" only: the others did not confirm it in time" if held == 1 else "")
            )
        if not r.ok:
            err(f"sessioncli: error: {label}: {r.error}")
    if json_out:
        several = len(results) > 1 or len(names) > 1
        emit_json([r.to_json() for r in results] if several else results[0].to_json())
    code = send_core.overall_exit(results)
    if code:
        raise typer.Exit(int(code))


__all__ = ["SessionCliError", "send"]
