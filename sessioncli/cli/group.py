"""The `group` command group: create, add, remove, accept, decline, leave, list and show groups (03 ids).

Exit codes beyond the usual ones (README "Exit codes"): an unknown group, a member trying an
admin command (add/remove) and bad member ids are usage errors (2); a removed member's post is
refused with 1 (by `send`); network trouble is 69/75 as for every command.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from sessioncli.cli._errors import cli_errors, err
from sessioncli.cli._listing import emit_json_or_rows, list_when_bare
from sessioncli.cli._output import emit_json, emit_line
from sessioncli.cli.app import JsonOpt, TimeoutOpt, app, get_globals

if TYPE_CHECKING:
    from sessioncli.core.groups import GroupContext, GroupView

T = TypeVar("T")

group_app = typer.Typer(
    name="group",
    help="Manage Session groups (v2, 03 ids). With no subcommand: list them.",
    rich_markup_mode=None,
    invoke_without_command=True,
)
app.add_typer(group_app)

NameArg = Annotated[str, typer.Argument(metavar="NAME", help="Our name for the group.")]
MembersArg = Annotated[
    list[str], typer.Argument(metavar="MEMBER...", help="Session IDs or contact names.")
]


@contextmanager
def _group_context(ctx: typer.Context, timeout: float | None) -> Iterator[GroupContext]:
    """The identity, its state folder and the network, as core/groups.py wants them."""
    from sessioncli.core import context, settings
    from sessioncli.core.group_net import NetGroupSwarm
    from sessioncli.core.groups import GroupContext

    g = get_globals(ctx)
    account = context.open_account(g.options(timeout))
    name = settings.pick(None, "SESSIONCLI_DISPLAY_NAME", account.resolved.config.display_name)
    net = context.open_network(account.resolved)
    try:
        yield GroupContext(account.identity, NetGroupSwarm(net), account.folder, name)
    finally:
        net.close()


_BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def _safe(text: str) -> str:
    """Sender-chosen text (a group's or a member's name) for a terminal: control and
    bidirectional-override characters are shown as escapes, never interpreted."""
    out = []
    for ch in text:
        o = ord(ch)
        if o < 0x20 or 0x7F <= o < 0xA0:
            out.append(f"\\x{o:02x}")
        elif ch in _BIDI or 0xFFF9 <= o <= 0xFFFB:
            out.append(f"\\u{o:04x}")
        else:
            out.append(ch)
    return "".join(out)


def _member_ids(members: list[str]) -> list[str]:
    from sessioncli.core import contacts

    return [contacts.resolve_recipient(m)[0] for m in members]


def _show(view: GroupView, json_out: bool, quiet: bool) -> None:
    for w in view.warnings:
        if not quiet:
            err(f"sessioncli: warning: {_safe(w)}")
    if json_out:
        emit_json(view.to_json())
        return
    emit_line(f"{_safe(view.name)}\t{view.group_id}\t{view.role}")


def _run(ctx: typer.Context, timeout: float | None, fn: Callable[[GroupContext], T]) -> T:
    with _group_context(ctx, timeout) as gctx:
        return fn(gctx)


def _run_and_show(
    ctx: typer.Context,
    timeout: float | None,
    json_out: bool,
    fn: Callable[[GroupContext], GroupView],
) -> None:
    """Run a group change on the network and print the group as it now is."""
    _show(_run(ctx, timeout, fn), json_out, get_globals(ctx).quiet)


@group_app.command("create")
@cli_errors
def create_cmd(
    ctx: typer.Context,
    name: NameArg,
    member: Annotated[
        list[str] | None,
        typer.Option("--member", "-m", metavar="ID_OR_CONTACT", help="Invite (repeatable)."),
    ] = None,
    description: Annotated[
        str, typer.Option("--description", metavar="TEXT", help="The group's description.")
    ] = "",
    timeout: TimeoutOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Create a group with us as admin and invite its members; prints NAME, 03 id and role."""
    from sessioncli.core import groups, names
    from sessioncli.core.group_store import KIND

    names.check_name(name, kind=KIND)  # bad input fails before the identity and the network
    ids = _member_ids(member or [])
    _run_and_show(
        ctx, timeout, json_out, lambda g: groups.create(g, name, ids, description=description)
    )


@group_app.command("add")
@cli_errors
def add_cmd(
    ctx: typer.Context,
    name: NameArg,
    members: MembersArg,
    timeout: TimeoutOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Admin: add members (a new key for everyone, then their invites)."""
    from sessioncli.core import groups

    ids = _member_ids(members)
    _run_and_show(ctx, timeout, json_out, lambda g: groups.add_members(g, name, ids))


@group_app.command("remove")
@cli_errors
def remove_cmd(
    ctx: typer.Context,
    name: NameArg,
    members: MembersArg,
    timeout: TimeoutOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Admin: remove members (they are told, their access is revoked, the key rotated)."""
    from sessioncli.core import groups

    ids = _member_ids(members)
    _run_and_show(ctx, timeout, json_out, lambda g: groups.remove_members(g, name, ids))


def _invite_id(gctx: GroupContext, text: str) -> str:
    """A pending invite by its 03 id, or by the group's name when exactly one invite has it."""
    from sessioncli.core import groups
    from sessioncli.errors import UsageError

    value = text.strip()
    if value.lower().startswith("03") and len(value) == 66:
        return value.lower()
    invites = [v for v in groups.list_groups(gctx) if v.role == "invited" and v.name == value]
    if len(invites) != 1:
        raise UsageError(
            f"no pending invite named {value!r}"
            if not invites
            else f"several pending invites are named {value!r}: give the 03 id",
            hints=("see: sessioncli group list",),
        )
    return invites[0].group_id


@group_app.command("accept")
@cli_errors
def accept_cmd(
    ctx: typer.Context,
    group: Annotated[str, typer.Argument(metavar="03…|NAME", help="The invite's group.")],
    local_name: Annotated[
        str | None,
        typer.Option("--name", metavar="LOCAL_NAME", help="Our name for it (default: its own)."),
    ] = None,
    timeout: TimeoutOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Join a group we were invited to (invites show in `receive` as kind group_invite)."""
    from sessioncli.core import groups, names
    from sessioncli.core.group_store import KIND

    if local_name is not None:
        names.check_name(local_name, kind=KIND)
    _run_and_show(
        ctx, timeout, json_out, lambda g: groups.accept(g, _invite_id(g, group), name=local_name)
    )


@group_app.command("decline")
@cli_errors
def decline_cmd(
    ctx: typer.Context,
    group: Annotated[str, typer.Argument(metavar="03…|NAME", help="The invite's group.")],
    json_out: JsonOpt = False,
) -> None:
    """Forget a pending invite (nothing is sent, as in the apps)."""
    from sessioncli.core import groups

    _run_and_show(ctx, None, json_out, lambda g: groups.decline(g, _invite_id(g, group)))


@group_app.command("leave")
@cli_errors
def leave_cmd(
    ctx: typer.Context, name: NameArg, timeout: TimeoutOpt = None, json_out: JsonOpt = False
) -> None:
    """Leave a group (the members are told) and forget it here."""
    from sessioncli.core import groups

    _run_and_show(ctx, timeout, json_out, lambda g: groups.leave(g, name))


def _rows(views: list[GroupView]) -> list[list[Any]]:
    return [
        [
            _safe(v.name),
            v.group_id,
            v.role,
            sum(1 for m in v.members if m.status != "removed"),
            v.generation,
        ]
        for v in views
    ]


@group_app.command("list")
@cli_errors
def list_cmd(ctx: typer.Context, json_out: JsonOpt = False) -> None:
    """List our groups and pending invites (from local state: no network)."""
    from sessioncli.core import groups

    views = _run_offline(ctx, groups.list_groups)
    headers = ["NAME", "GROUP ID", "ROLE", "MEMBERS", "KEY GEN"]
    emit_json_or_rows(json_out, [v.to_json() for v in views], headers, _rows(views))


list_when_bare(group_app, list_cmd)


def _run_offline(ctx: typer.Context, fn: Callable[[GroupContext], T]) -> T:
    """Local state only: no network client is opened."""
    from sessioncli.core import context
    from sessioncli.core.groups import GroupContext

    g = get_globals(ctx)
    account = context.open_account(g.options())
    return fn(GroupContext(account.identity, _NoSwarm(), account.folder))


class _NoSwarm:
    """A GroupSwarm for offline commands: any network use is a bug."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"offline group command used the network ({name})")


@group_app.command("show")
@cli_errors
def show_cmd(
    ctx: typer.Context,
    name: NameArg,
    offline: Annotated[
        bool, typer.Option("--offline", help="From local state only (no network).")
    ] = False,
    timeout: TimeoutOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """One group: its members, admins, our role and the key generation (refreshed first)."""
    from sessioncli.core import groups

    if offline:
        view = _run_offline(ctx, lambda g: groups.show(g, name, refresh=False))
    else:
        view = _run(ctx, timeout, lambda g: groups.show(g, name))
    if json_out:
        emit_json(view.to_json())
        return
    emit_line(f"name\t{_safe(view.name)}")
    emit_line(f"group_id\t{view.group_id}")
    emit_line(f"group_name\t{_safe(view.group_name)}")
    emit_line(f"role\t{view.role}")
    emit_line(f"key_generation\t{view.generation}")
    for m in view.members:
        emit_line(f"member\t{m.session_id}\t{m.status}\t{_safe(m.name)}")
