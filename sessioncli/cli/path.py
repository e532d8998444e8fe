"""The `path` command: the onion paths hop by hop (guard first), optionally tested."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from sessioncli.cli._errors import cli_errors
from sessioncli.cli._output import emit_json, emit_rows
from sessioncli.cli.app import JsonOpt, TimeoutOpt, app, get_globals
from sessioncli.cli.nodes import key_cell, node_json


@app.command()
@cli_errors
def path(
    ctx: typer.Context,
    rebuild: Annotated[
        bool, typer.Option("--rebuild", help="Forget the current paths and build new ones.")
    ] = False,
    test: Annotated[
        bool, typer.Option("--test", help="Send one request over each path; show round trips.")
    ] = False,
    timeout: TimeoutOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Show the onion paths hop by hop, guard first (exit 75 if --test finds none working)."""
    g = get_globals(ctx)
    from sessioncli.core import context
    from sessioncli.core import network as network_core
    from sessioncli.errors import TemporaryFailure

    opts = context.Options(g.profile, g.network, g.identity_file, g.proxy, timeout)
    import time

    started = time.monotonic()
    views = network_core.show_paths(opts, rebuild=rebuild, test=test)
    if g.verbose:
        from sessioncli.cli import _verbose

        what = "paths tested" if test else ("paths built" if rebuild else "paths")
        _verbose.took(what, len(views), (time.monotonic() - started) * 1000)
    if json_out:
        out: list[dict[str, Any]] = []
        for i, v in enumerate(views):
            item: dict[str, Any] = {
                "path": i,
                "hops": [
                    {"role": "guard" if j == 0 else "relay", **node_json(n)}
                    for j, n in enumerate(v.hops)
                ],
            }
            if v.test is not None:
                rtt = None if v.test.rtt_ms is None else round(v.test.rtt_ms)  # integer ms
                item["test"] = {"ok": v.test.ok, "rtt_ms": rtt, "error": v.test.error}
            out.append(item)
        emit_json(out)
    else:
        rows = []
        for i, v in enumerate(views):
            for j, n in enumerate(v.hops):
                row: list[object] = [i, j + 1, "guard" if j == 0 else "relay", n.address]
                row.append(key_cell(n.pubkey_ed25519))
                if v.test is not None:
                    result = f"{v.test.rtt_ms:.0f} ms" if v.test.ok else f"failed: {v.test.error}"
                    row.append(result if j == 0 else "")
                rows.append(row)
        headers = ["path", "hop", "role", "address", "ed25519"] + (["test"] if test else [])
        emit_rows(headers, rows)
    if test and views and not any(v.test is not None and v.test.ok for v in views):
        raise TemporaryFailure("no onion path answered the test request")
