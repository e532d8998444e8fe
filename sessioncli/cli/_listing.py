"""Shared by contacts, community and group: a bare command lists; a listing is JSON or a table."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import typer

from sessioncli.cli._output import emit_json, emit_rows


def list_when_bare(sub_app: typer.Typer, list_cmd: Callable[..., None]) -> None:
    """`sessioncli GROUP` with no subcommand does what `sessioncli GROUP list` does."""

    def run_list_when_bare(ctx: typer.Context) -> None:
        if ctx.invoked_subcommand is None:
            list_cmd(ctx, json_out=False)

    sub_app.callback()(run_list_when_bare)


def emit_json_or_rows(
    json_out: bool, value: Any, headers: Sequence[str], rows: Sequence[Sequence[object]]
) -> None:
    """`value` as JSON with --json, else the table of `rows` under `headers`."""
    if json_out:
        emit_json(value)
    else:
        emit_rows(headers, rows)


def emit_fields(json_out: bool, item: Mapping[str, Any], shown: Callable[[Any], object]) -> None:
    """One record: JSON with --json, else a FIELD / VALUE table (each value as `shown` says)."""
    emit_json_or_rows(json_out, item, ["FIELD", "VALUE"], [[k, shown(v)] for k, v in item.items()])
