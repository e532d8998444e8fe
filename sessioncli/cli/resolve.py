"""The `resolve` command: the Session ID registered under a Session name (ONS)."""

from __future__ import annotations

from typing import Annotated

import typer

from sessioncli.cli._errors import cli_errors
from sessioncli.cli._output import emit_json, emit_line
from sessioncli.cli.app import JsonOpt, TimeoutOpt, app, get_globals


@app.command()
@cli_errors
def resolve(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(metavar="NAME", help="A Session name ('@' optional).")],
    refresh: Annotated[bool, typer.Option("--refresh", help="Ignore the cache.")] = False,
    timeout: TimeoutOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Print the Session ID a Session name (ONS) is registered to."""
    from sessioncli.core import context, ons
    from sessioncli.core.recipients import check_ons_name

    g = get_globals(ctx)
    check_ons_name(name[1:] if name.startswith("@") else name)
    opts = context.Options(g.profile, g.network, g.identity_file, g.proxy, timeout)
    resolved = context.resolve(opts)
    folder = ons.cache_folder(resolved.network)
    net = context.open_network(resolved)
    try:
        found = ons.resolve_name(net, name, folder, refresh=refresh)
    finally:
        net.close()
    if json_out:
        emit_json(found.to_json())
    else:
        emit_line(found.session_id)
