"""The `keygen` and `whoami` commands: create, restore, show and export the identity."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from sessioncli.cli._errors import cli_errors, err
from sessioncli.cli._output import emit_json, emit_line
from sessioncli.cli.app import JsonOpt, app, get_globals
from sessioncli.errors import UsageError


def _read_phrase() -> str:
    if sys.stdin.isatty():
        import getpass

        return getpass.getpass("recovery phrase (13 words, hidden): ", stream=sys.stderr)
    line = sys.stdin.readline()
    if not line.strip():
        raise UsageError("no recovery phrase on stdin (pipe the 13 words, or run on a terminal)")
    return line


@app.command()
@cli_errors
def keygen(
    ctx: typer.Context,
    restore: Annotated[
        bool,
        typer.Option("--restore", help="Restore from a recovery phrase read from stdin."),
    ] = False,
    show_phrase: Annotated[
        bool,
        typer.Option(
            "--show-phrase", help="Print the stored identity's recovery phrase (keep it secret)."
        ),
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Replace an existing identity of this profile.")
    ] = False,
    json_out: JsonOpt = False,
) -> None:
    """Create (or restore) the identity and print its Session ID."""
    from sessioncli.core import identity

    g = get_globals(ctx)
    if show_phrase:
        if restore:
            raise UsageError("--show-phrase and --restore cannot be combined")
        if json_out:
            raise UsageError(
                "--show-phrase and --json cannot be combined: phrases never go into JSON"
            )
        phrase = identity.export_phrase(g.profile, g.identity_file)
        if not g.quiet:
            err("sessioncli: warning: anyone who sees this phrase can impersonate you")
        emit_line(phrase)
        return
    if restore:
        seed = identity.parse_phrase(_read_phrase())
        info = identity.store(g.profile, g.identity_file, seed, force=force)
    else:
        info = identity.create(g.profile, g.identity_file, force=force)
    if info.stored_in == "file" and not g.quiet:
        err(
            f"sessioncli: wrote UNENCRYPTED identity to {info.location} (mode 0600); "
            "anyone who can read it can impersonate you"
        )
    if json_out:
        emit_json(info.to_json())
    else:
        emit_line(info.session_id)


@app.command()
@cli_errors
def whoami(
    ctx: typer.Context,
    json_out: JsonOpt = False,
) -> None:
    """Print the Session ID of the current identity."""
    from sessioncli.core import identity

    g = get_globals(ctx)
    _, info = identity.load(g.profile, g.identity_file)
    if json_out:
        emit_json(info.to_json())
    else:
        emit_line(info.session_id)
