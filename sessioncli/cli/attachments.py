"""The `attachments` command group: fetch a received message's attachments again, later."""

from __future__ import annotations

from typing import Annotated

import typer

from sessioncli.cli._errors import cli_errors, err
from sessioncli.cli._output import emit_json, emit_line, escape
from sessioncli.cli.app import JsonOpt, TimeoutOpt, app, get_globals

attachments_app = typer.Typer(
    name="attachments",
    help="Attachments of received messages (kept about three weeks, as the file server keeps them).",
    rich_markup_mode=None,
    no_args_is_help=True,
)
app.add_typer(attachments_app)


@attachments_app.command("fetch")
@cli_errors
def fetch(
    ctx: typer.Context,
    message_hash: Annotated[
        str, typer.Argument(metavar="HASH", help="The message's hash (as receive printed it).")
    ],
    directory: Annotated[
        str, typer.Option("--dir", metavar="DIR", help="Where to write the files.")
    ] = ".",
    timeout: TimeoutOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Download a received message's attachments into DIR; prints each file's path."""
    from pathlib import Path

    from sessioncli.core import attachment_files, context
    from sessioncli.errors import UsageError

    g = get_globals(ctx)
    account = context.open_account(g.options(timeout))
    pointers = attachment_files.PointerStore(account.folder).get(message_hash)
    if pointers is None:
        raise UsageError(
            f"no attachments known for message {message_hash!r}",
            hints=("receive keeps the pointers of messages with attachments for three weeks",),
        )
    net = context.open_network(account.resolved)
    try:
        results = attachment_files.fetch_all(net, pointers, Path(directory).expanduser())
    finally:
        net.close()
    for r in results:
        if r.error:
            name = escape(r.attachment.file_name or "attachment")  # the sender chose it
            err(f"sessioncli: error: {name}: {escape(r.error)}")
        elif not json_out:
            emit_line(escape(r.path or ""))
    if json_out:
        emit_json([r.to_json() for r in results])
    failed = [r for r in results if r.error]
    if failed:
        raise typer.Exit(failed[0].exit_code or 1)
