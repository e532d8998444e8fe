"""The `nodes` command: the service-node pool, or the swarm of a Session ID."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from sessioncli.cli._errors import cli_errors
from sessioncli.cli._output import emit_json, emit_rows
from sessioncli.cli.app import JsonOpt, TimeoutOpt, app, get_globals

if TYPE_CHECKING:
    from sessioncli.net.client import Node


def node_json(node: Node) -> dict[str, Any]:
    return {
        "address": node.address,
        "ip": node.ip,
        "port": node.port,
        "pubkey_ed25519": node.pubkey_ed25519,
        "pubkey_x25519": node.pubkey_x25519,
        "swarm_id": node.swarm_id,
        "swarm": None if node.swarm_id is None else f"{node.swarm_id:x}",
    }


def short_key(key: str) -> str:
    return f"{key[:8]}…{key[-4:]}"


def key_cell(key: str) -> str:
    """Shortened for a person on a terminal; whole in a pipe (a script needs the real key)."""
    from sessioncli.cli._output import stdout_isatty

    return short_key(key) if stdout_isatty() else key


@app.command()
@cli_errors
def nodes(
    ctx: typer.Context,
    refresh: Annotated[
        bool, typer.Option("--refresh", help="Fetch the list (or the swarm) again now.")
    ] = False,
    swarm: Annotated[
        str | None,
        typer.Option("--swarm", metavar="SESSION_ID", help="Show the swarm of this Session ID."),
    ] = None,
    timeout: TimeoutOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Show the service-node pool (address, Ed25519 key, swarm), or a Session ID's swarm.

    In JSON, swarm_id is a 64-bit integer that some readers (jq 1.6, JavaScript) round; the hex
    swarm is the exact one. Keys are whole in a pipe, shortened only on a terminal."""
    g = get_globals(ctx)
    from sessioncli.core import context
    from sessioncli.core import network as network_core
    from sessioncli.errors import UsageError
    from sessioncli.protocol.ids import InvalidSessionId, parse_session_id

    if swarm is not None:
        try:
            swarm = parse_session_id(swarm)
        except InvalidSessionId as exc:
            raise UsageError(f"--swarm: {exc}") from None
    opts = context.Options(g.profile, g.network, g.identity_file, g.proxy, timeout)
    import time

    started = time.monotonic()
    found = network_core.list_nodes(opts, refresh=refresh, swarm_of=swarm)
    if g.verbose:
        from sessioncli.cli import _verbose

        what = "swarm members" if swarm else ("nodes fetched" if refresh else "nodes")
        _verbose.took(what, len(found), (time.monotonic() - started) * 1000)
    if json_out:
        emit_json([node_json(n) for n in found])
        return
    emit_rows(
        ["address", "ed25519", "swarm"],
        [
            [
                n.address,
                key_cell(n.pubkey_ed25519),
                "" if n.swarm_id is None else f"{n.swarm_id:x}",
            ]
            for n in found
        ],
    )
