"""The `react` and `unsend` commands: a reaction to a message, or taking back one we sent."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, Protocol

import typer

from sessioncli.cli._errors import cli_errors, err
from sessioncli.cli._output import emit_json
from sessioncli.cli.app import JsonOpt, TimeoutOpt, app, get_globals


class _Outcome(Protocol):
    """What react and unsend report: a send result or an unsend result."""

    @property
    def ok(self) -> bool: ...
    @property
    def error(self) -> str | None: ...
    @property
    def exit_code(self) -> int: ...
    @property
    def warnings(self) -> Sequence[str]: ...


def _report(quiet: bool, result: _Outcome, json_value: dict[str, Any] | None) -> None:
    """Warnings (unless -q), the JSON asked for, then the error line and its exit code."""
    if not quiet:
        for w in result.warnings:
            err(f"sessioncli: warning: {w}")
    if json_value is not None:
        emit_json(json_value)
    if not result.ok:
        err(f"sessioncli: error: {result.error}")
        raise typer.Exit(result.exit_code or 1)


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
    account = context.open_account(g.options(timeout))
    from sessioncli.core.msgindex import MessageIndex

    MessageIndex(account.folder).get(msg_hash)  # an unknown hash is refused before the network
    name = settings.pick(None, "SESSIONCLI_DISPLAY_NAME", account.resolved.config.display_name)
    net = context.open_network(account.resolved)
    try:
        result = react_core.react(
            account.identity,
            net,
            account.folder,
            msg_hash,
            emoji,
            remove=remove,
            display_name=name,
            ttl_ms=settings.DEFAULT_TTL_MS,
        )
    finally:
        net.close()
    _report(
        g.quiet,
        result,
        {**result.to_json(), "emoji": emoji.strip(), "removed": remove} if json_out else None,
    )


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
    account = context.open_account(g.options(timeout))
    MessageIndex(account.folder).get(msg_hash)  # an unknown hash is refused before the network
    net = context.open_network(account.resolved)
    try:
        result = unsend_core.unsend(
            account.identity, net, account.folder, msg_hash, ttl_ms=settings.DEFAULT_TTL_MS
        )
    finally:
        net.close()
    _report(g.quiet, result, result.to_json() if json_out else None)
