"""The `community` command group: join SOGS rooms by name, list, show and leave them."""

from __future__ import annotations

from typing import Annotated

import typer

from sessioncli.cli._errors import cli_errors
from sessioncli.cli._listing import emit_fields, emit_json_or_rows, list_when_bare
from sessioncli.cli._output import emit_json
from sessioncli.cli.app import JsonOpt, TimeoutOpt, app, get_globals

community_app = typer.Typer(
    name="community",
    help="Manage joined communities (Session Open Group rooms). With no subcommand: list them.",
    rich_markup_mode=None,
    invoke_without_command=True,
)
app.add_typer(community_app)

NameArg = Annotated[str, typer.Argument(metavar="NAME", help="Our name for the community.")]


@community_app.command("add")
@cli_errors
def add_cmd(
    ctx: typer.Context,
    name: NameArg,
    url: Annotated[
        str,
        typer.Argument(
            metavar="URL", help="As the apps share it: https://HOST/ROOM?public_key=<64 hex>."
        ),
    ],
    history: Annotated[
        int,
        typer.Option(
            "--history", min=0, metavar="N", help="Also read the last N updates of the room."
        ),
    ] = 0,
    timeout: TimeoutOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Join a community: checks the server and the room (onion-routed) and names it."""
    from sessioncli.core import communities, context

    g = get_globals(ctx)
    from sessioncli.core import names
    from sessioncli.protocol import sogs

    names.check_name(name, kind=communities.KIND)
    sogs.parse_community_url(url)  # bad input fails before the identity and the network
    opts = context.Options(g.profile, g.network, g.identity_file, g.proxy, timeout)
    resolved = context.resolve(opts)
    identity = context.load_identity(opts)
    net = context.open_network(resolved)
    try:
        joined = communities.join(net, identity, name, url, history=history)
    finally:
        net.close()
    if json_out:
        emit_json(joined.to_json())


@community_app.command("list")
@cli_errors
def list_cmd(ctx: typer.Context, json_out: JsonOpt = False) -> None:
    """List joined communities."""
    from sessioncli.core import communities

    items = [c.to_json() for c in communities.list_communities()]
    rows = [[i["name"], i["room_name"], i["url"]] for i in items]
    emit_json_or_rows(json_out, items, ["NAME", "ROOM", "URL"], rows)


list_when_bare(community_app, list_cmd)


@community_app.command("show")
@cli_errors
def show_cmd(ctx: typer.Context, name: NameArg, json_out: JsonOpt = False) -> None:
    """Show one community, with our blinded id on its server."""
    from sessioncli.core import communities, identity
    from sessioncli.errors import SessionCliError
    from sessioncli.protocol import blinding

    g = get_globals(ctx)
    c = communities.get(name)
    item = c.to_json()
    try:
        ident, _ = identity.load(g.profile, g.identity_file)
        item["our_id"] = (
            blinding.blinded_session_id(ident.ed25519_secret, c.parsed.server_pk)
            if c.blinded
            else ident.session_id
        )
    except SessionCliError:
        item["our_id"] = None
    emit_fields(json_out, item, lambda v: "-" if v is None else v)


@community_app.command("remove")
@cli_errors
def remove_cmd(ctx: typer.Context, name: NameArg, json_out: JsonOpt = False) -> None:
    """Leave a community (forget its name; nothing is sent to the server)."""
    from sessioncli.core import communities

    c = communities.remove(name)
    if json_out:
        emit_json(c.to_json())
