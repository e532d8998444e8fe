"""The `react` and `unsend` commands: a reaction to a message, or taking back one we sent."""

from __future__ import annotations

from typing import Annotated

import typer

from sessioncli.cli._errors import cli_errors, err
from sessioncli.cli._output import emit_json
from sessioncli.cli.app import JsonOpt, TimeoutOpt, app, get_globals

HashArg = Annotated[
    str,
    typer.Argument(metavar="HASH", help="The message's hash (from send/receive --json)."),
]


@app.command()
@cli_errors
def react(
    ctx: typer.Context,
    msg_hash: HashArg,
    emoji: Annotated[str, typer.Argument(metavar="EMOJI", help="One emoji.")],
    remove: Annotated[bool, typer.Option("--remove", help="Take the reaction back.")] = False,
    timeout: TimeoutOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """React to a message with an emoji (or remove the reaction)."""
    from sessioncli.core import context, settings
    from sessioncli.core import react as react_core

    g = get_globals(ctx)
    react_core.check_emoji(emoji)
    opts = context.Options(g.profile, g.network, g.identity_file, g.proxy, timeout)
    resolved = context.resolve(opts)
    identity = context.load_identity(opts)
    folder = context.state_folder(resolved, identity.session_id)
    from sessioncli.core.msgindex import MessageIndex

    MessageIndex(folder).get(msg_hash)  # an unknown hash is refused before the network
    name = settings.pick(None, "SESSIONCLI_DISPLAY_NAME", resolved.config.display_name)
    net = context.open_network(resolved)
    try:
        result = react_core.react(
            identity,
            net,
            folder,
            msg_hash,
            emoji,
            remove=remove,
            display_name=name,
            ttl_ms=settings.DEFAULT_TTL_MS,
        )
    finally:
        net.close()
    if not g.quiet:
        for w in result.warnings:
            err(f"sessioncli: warning: {w}")
    if json_out:
        emit_json({**result.to_json(), "emoji": emoji.strip(), "removed": remove})
    if not result.ok:
        err(f"sessioncli: error: {result.error}")
        raise typer.Exit(result.exit_code or 1)


@app.command()
@cli_errors
def unsend(
    ctx: typer.Context,
    msg_hash: HashArg,
    timeout: TimeoutOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Take back a message we sent: the recipient's app and our devices delete it."""
    from sessioncli.core import context, settings
    from sessioncli.core import unsend as unsend_core
    from sessioncli.core.msgindex import MessageIndex

    g = get_globals(ctx)
    opts = context.Options(g.profile, g.network, g.identity_file, g.proxy, timeout)
    resolved = context.resolve(opts)
    identity = context.load_identity(opts)
    folder = context.state_folder(resolved, identity.session_id)
    MessageIndex(folder).get(msg_hash)  # an unknown hash is refused before the network
    net = context.open_network(resolved)
    try:
        result = unsend_core.unsend(identity, net, folder, msg_hash, ttl_ms=settings.DEFAULT_TTL_MS)
    finally:
        net.close()
    if not g.quiet:
        for w in result.warnings:
            err(f"sessioncli: warning: {w}")
    if json_out:
        emit_json(result.to_json())
    if not result.ok:
        err(f"sessioncli: error: {result.error}")
        raise typer.Exit(result.exit_code or 1)
