"""The `contacts` command group: names for Session IDs, usable wherever a recipient goes."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from sessioncli.cli._complete import complete_contact_name as complete_contact_name  # typer-free
from sessioncli.cli._errors import cli_errors
from sessioncli.cli._listing import emit_fields, emit_json_or_rows, list_when_bare
from sessioncli.cli._output import emit_json
from sessioncli.cli.app import JsonOpt, app, get_globals

contacts_app = typer.Typer(
    name="contacts",
    help="Manage contacts (names for Session IDs). With no subcommand: list them.",
    rich_markup_mode=None,
    invoke_without_command=True,
)
app.add_typer(contacts_app)


NameArg = Annotated[
    str,
    typer.Argument(metavar="NAME", help="Contact name.", autocompletion=complete_contact_name),
]


def _approval(ctx: typer.Context) -> dict[str, Any]:
    """Approval state per peer for the current identity, or {} when no identity is at hand."""
    from sessioncli.core import conversations, identity, settings
    from sessioncli.errors import SessionCliError

    g = get_globals(ctx)
    try:
        ident, _ = identity.load(g.profile, g.identity_file)
        cfg = settings.load_config()
        net = settings.pick(g.network, "SESSIONCLI_NETWORK", cfg.network)
        folder = conversations.network_identity_dir(net, ident.session_id)
        return dict(conversations.ConversationStore(folder).all())
    except SessionCliError:
        return {}


def _as_json(contact: Any, convs: dict[str, Any]) -> dict[str, Any]:
    conv = convs.get(contact.session_id)
    return {
        "name": contact.name,
        "session_id": contact.session_id,
        "added_ms": contact.added_ms,
        "approved_by_us": conv.approved_by_us if conv else (None if not convs else False),
        "approved_us": conv.approved_us if conv else (None if not convs else False),
        "pending_request": conv.pending_request if conv else (None if not convs else False),
    }


def _state_word(value: object) -> str:
    return "-" if value is None else ("yes" if value else "no")


@contacts_app.command("list")
@cli_errors
def list_cmd(ctx: typer.Context, json_out: JsonOpt = False) -> None:
    """List contacts with their message-request approval state."""
    from sessioncli.core import contacts

    convs = _approval(ctx)
    items = [_as_json(c, convs) for c in contacts.list_contacts()]
    rows = [
        [
            i["name"],
            i["session_id"],
            _state_word(i["approved_by_us"]),
            _state_word(i["approved_us"]),
        ]
        for i in items
    ]
    emit_json_or_rows(json_out, items, ["NAME", "SESSION ID", "WE APPROVED", "THEY APPROVED"], rows)


list_when_bare(contacts_app, list_cmd)


@contacts_app.command("add")
@cli_errors
def add_cmd(
    ctx: typer.Context,
    name: NameArg,
    session_id: Annotated[
        str, typer.Argument(metavar="SESSION_ID", help="05 + 64 hex, or @NAME (Session name).")
    ],
    json_out: JsonOpt = False,
) -> None:
    """Add a contact (SESSION_ID may be @NAME: a Session name, resolved now)."""
    from sessioncli.core import contacts

    if session_id.startswith("@"):
        contacts.check_name(name)  # a bad contact name is refused before the network
        session_id = _resolve_ons(ctx, session_id)
    c = contacts.add(name, session_id)
    if json_out:
        emit_json(_as_json(c, _approval(ctx)))


@contacts_app.command("remove")
@cli_errors
def remove_cmd(ctx: typer.Context, name: NameArg, json_out: JsonOpt = False) -> None:
    """Remove a contact."""
    from sessioncli.core import contacts

    c = contacts.remove(name)
    if json_out:
        emit_json(_as_json(c, {}))


@contacts_app.command("rename")
@cli_errors
def rename_cmd(
    ctx: typer.Context,
    old: Annotated[
        str,
        typer.Argument(
            metavar="OLD", help="The contact's current name.", autocompletion=complete_contact_name
        ),
    ],
    new: Annotated[
        str,
        typer.Argument(
            metavar="NEW", help="Its new name (1-64 characters, no spaces, commas or controls)."
        ),
    ],
    json_out: JsonOpt = False,
) -> None:
    """Rename a contact (names are matched case-insensitively; the Session ID stays)."""
    from sessioncli.core import contacts

    c = contacts.rename(old, new)
    if json_out:
        emit_json(_as_json(c, _approval(ctx)))


def _get_or_suggest(name: str) -> Any:
    """The contact (names match case-insensitively), or exit 2 with a "did you mean"."""
    import difflib

    from sessioncli.core import contacts
    from sessioncli.errors import UsageError

    try:
        return contacts.get(name)
    except UsageError as exc:
        known = {c.name.casefold(): c.name for c in contacts.list_contacts()}
        close = difflib.get_close_matches(name.casefold(), list(known), n=1)
        if not close:
            raise
        raise UsageError(exc.message, hints=(f"did you mean {known[close[0]]!r}?",)) from None


@contacts_app.command("show")
@cli_errors
def show_cmd(ctx: typer.Context, name: NameArg, json_out: JsonOpt = False) -> None:
    """Show one contact."""

    item = _as_json(_get_or_suggest(name), _approval(ctx))
    emit_fields(json_out, item, lambda v: _state_word(v) if v is None or isinstance(v, bool) else v)


# --- message requests (issue 15) ------------------------------------------------------------

PeerArg = Annotated[
    str,
    typer.Argument(
        metavar="ID_OR_NAME",
        help="Session ID or contact name.",
        autocompletion=complete_contact_name,
    ),
]


def _resolve_ons(ctx: typer.Context, word: str) -> str:
    from sessioncli.core import context, ons
    from sessioncli.core.recipients import check_ons_name

    g = get_globals(ctx)
    check_ons_name(word[1:])
    resolved = context.resolve(context.Options(g.profile, g.network, g.identity_file, g.proxy))
    net = context.open_network(resolved)
    try:
        return ons.resolve(net, word, ons.cache_folder(resolved.network))
    finally:
        net.close()


def _request_cmd(ctx: typer.Context, peer: str, action: str, json_out: bool) -> None:
    from sessioncli.core import contacts, context, requests, settings

    g = get_globals(ctx)
    sid, _name = contacts.resolve_recipient(peer)
    account = context.open_account(g.options())
    if action == "accept":
        net = context.open_network(account.resolved)
        try:
            change = requests.accept(
                account.identity,
                net,
                account.folder,
                sid,
                display_name=settings.pick(
                    None, "SESSIONCLI_DISPLAY_NAME", account.resolved.config.display_name
                ),
                ttl_ms=settings.DEFAULT_TTL_MS,
            )
        finally:
            net.close()
    else:
        change = {
            "decline": requests.decline,
            "block": requests.block,
            "unblock": requests.unblock,
        }[action](account.folder, sid)
    if json_out:
        emit_json(change.to_json())


@contacts_app.command("accept")
@cli_errors
def accept_cmd(ctx: typer.Context, peer: PeerArg, json_out: JsonOpt = False) -> None:
    """Accept a message request: send the approval, as replying does."""
    _request_cmd(ctx, peer, "accept", json_out)


@contacts_app.command("decline")
@cli_errors
def decline_cmd(ctx: typer.Context, peer: PeerArg, json_out: JsonOpt = False) -> None:
    """Decline a message request (nothing is sent; a new message is a new request)."""
    _request_cmd(ctx, peer, "decline", json_out)


@contacts_app.command("block")
@cli_errors
def block_cmd(ctx: typer.Context, peer: PeerArg, json_out: JsonOpt = False) -> None:
    """Block a sender: receive drops their messages from now on (counted with -v)."""
    _request_cmd(ctx, peer, "block", json_out)


@contacts_app.command("unblock")
@cli_errors
def unblock_cmd(ctx: typer.Context, peer: PeerArg, json_out: JsonOpt = False) -> None:
    """Unblock a sender."""
    _request_cmd(ctx, peer, "unblock", json_out)
