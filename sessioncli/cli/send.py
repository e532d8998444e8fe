"""The `send` command: a message from an argument or stdin to one or more recipients."""

from __future__ import annotations

import os
import sys
import time
from typing import Annotated

import typer

# complete_contact_name from _complete, not through cli.contacts: importing that registers the
# contacts group, which typer then builds on every `send` (nine more commands, ~10 ms)
from sessioncli.cli._complete import complete_contact_name
from sessioncli.cli._errors import cli_errors, err
from sessioncli.cli._output import emit_json
from sessioncli.cli.app import JsonOpt, TimeoutOpt, app, get_globals
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


def read_stdin_file(limit: int) -> bytes:
    """The bytes of one attachment piped on stdin (checked for size and emptiness later)."""
    if sys.stdin is None or sys.stdin.isatty():
        raise UsageError("--attach -: nothing is piped on stdin")
    return sys.stdin.buffer.read(limit + 1)


@app.command()
@cli_errors
def send(
    ctx: typer.Context,
    recipient: Annotated[
        str,
        typer.Argument(
            metavar="RECIPIENT",
            help="Session ID, contact or community name; several separated by commas.",
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
    attach: Annotated[
        list[str] | None,
        typer.Option(
            "--attach",
            "-a",
            metavar="FILE",
            help="Attach a file (repeatable, at most 10 MB each; '-': stdin, text then from MESSAGE).",
        ),
    ] = None,
    avatar: Annotated[
        str | None,
        typer.Option("--avatar", metavar="FILE", help="Profile picture sent with the message."),
    ] = None,
    via: Annotated[
        str | None,
        typer.Option(
            "--via",
            metavar="COMMUNITY",
            help="Send to 15… blinded ids as DMs through this community's server.",
        ),
    ] = None,
    reply_to: Annotated[
        str | None, typer.Option("--reply-to", metavar="HASH", help="Quote this message.")
    ] = None,
    disappear: Annotated[
        str | None,
        typer.Option("--disappear", metavar="DURATION", help="Disappearing message (10s-14d)."),
    ] = None,
    disappear_after: Annotated[
        str, typer.Option("--disappear-after", metavar="read|send", help="When the timer starts.")
    ] = "send",
    timeout: TimeoutOpt = None,
    json_out: JsonOpt = False,
    via_daemon: Annotated[
        bool,
        typer.Option(
            "--daemon",
            help="Send through a running `sessioncli daemon` ($SESSIONCLI_SOCKET or its default).",
        ),
    ] = False,
) -> None:
    """Send a message. Silent on success; exit 3 if only some recipients got it."""
    g = get_globals(ctx)
    from sessioncli import api

    used = [
        flag
        for flag, value in (
            ("--attach", attach),
            ("--avatar", avatar),
            ("--reply-to", reply_to),
            ("--disappear", disappear),
        )
        if value
    ]
    words = [p for p in recipient.split(",") if p.strip()] + list(to or [])
    targets = api.parse_recipients(words, via=via, options=used)

    attach = list(attach or [])
    if attach.count("-") > 1 or ("-" in attach and (message is None or message == "-")):
        raise UsageError("stdin can carry one attachment, with the text given as MESSAGE")
    if attach and message is None:
        body = ""  # files without text: stdin is not read
    elif message is None or message == "-":
        if g.identity_file == "-":
            raise UsageError("stdin cannot carry both the identity and the message")
        body = read_stdin_message()
    else:
        body = check_argv_text(message, "MESSAGE")
    stdin_file = read_stdin_file(api.MAX_ATTACHMENT_BYTES) if "-" in attach else None
    files = api.read_attachments(attach, stdin_file)
    client = g.client(timeout)
    draft = client.compose(
        targets,
        body,
        ttl=ttl,
        display_name=name,
        sync_copy=not no_sync,
        files=files,
        avatar=avatar,
        reply_to=reply_to,
        disappear=disappear,
        disappear_after=disappear_after,
    )

    if via_daemon or os.environ.get("SESSIONCLI_SOCKET"):
        if attach or avatar:
            raise UsageError(
                f"{'--attach' if attach else '--avatar'} cannot be used with --daemon: "
                "the daemon reads no files for its clients"
            )
        params: dict[str, object] = {"recipient": words, "message": body}
        for key, value in (
            ("ttl", ttl),
            ("name", name),
            ("via", via),
            ("replyTo", reply_to),
            ("disappear", disappear),
        ):
            if value:
                params[key] = value
        if disappear:
            params["disappearAfter"] = disappear_after
        if no_sync:
            params["sync"] = False
        _send_via_daemon(params, len(words), json_out)
        return
    started = time.monotonic()
    with client:
        results = client.send_draft(draft)
        if g.verbose:
            from sessioncli.cli import _verbose

            _verbose.sent(results, (time.monotonic() - started) * 1000)
            _verbose.paths(client)

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
        if g.verbose and r.ok and r.stored_on is not None:  # swarm sends (DMs) say who holds it
            held = len(r.stored_on)
            err(
                f"sessioncli: {label}: stored on {held} swarm member(s)"
                + (" only: the others did not confirm it in time" if held == 1 else "")
            )
        if not r.ok:
            err(f"sessioncli: error: {label}: {r.error}")
    if json_out:
        several = len(results) > 1 or len(words) > 1
        emit_json([r.data for r in results] if several else results[0].data)
    code = api.exit_code(results)
    if code:
        raise typer.Exit(int(code))


def _send_via_daemon(params: dict[str, object], words: int, json_out: bool) -> None:
    """The same send, made by the daemon (its warm paths); the same output and exit codes."""
    from sessioncli.integrations import daemon_client

    try:
        answer = daemon_client.call("send", params)
    except daemon_client.DaemonError as exc:
        err(f"sessioncli: error: {exc.message}")
        raise typer.Exit(exc.exit_code) from None
    results = answer["results"]
    for r in results:
        if not r.get("ok"):
            err(f"sessioncli: error: {r.get('recipient_name') or r.get('recipient')}: {r['error']}")
    if json_out:
        emit_json(results if len(results) > 1 or words > 1 else results[0])
    if answer["exit_code"]:
        raise typer.Exit(int(answer["exit_code"]))


__all__ = ["SessionCliError", "send"]
