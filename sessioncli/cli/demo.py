"""The `demo` command: see the whole tool work in one step, offline, leaving nothing behind."""

from __future__ import annotations

from typing import Annotated

import typer

from sessioncli.cli._errors import cli_errors
from sessioncli.cli._output import emit_json, emit_line
from sessioncli.cli.app import JsonOpt, app
from sessioncli.errors import SessionCliError


def _short(key: str) -> str:
    return key[:8] + "…"


@app.command()
@cli_errors
def demo(
    nodes: Annotated[
        int, typer.Option("--nodes", min=6, max=60, metavar="N", help="Storage nodes.")
    ] = 15,
    json_out: JsonOpt = False,
) -> None:
    """Start a local network, make two throwaway identities, send one message over a 3-hop path, receive it."""
    from sessioncli.core.demo import run_demo

    r = run_demo(nodes=nodes)
    if json_out:
        emit_json(r.to_json())
    else:
        emit_line("sessioncli demo: a local Session network, two throwaway identities, one message")
        emit_line("")
        emit_line(
            f"  network   {r.nodes} storage nodes in swarms of {r.swarm_size} + a seed, on loopback "
            f"({r.network_name}), up in {r.devnet_start_ms:.0f} ms"
        )
        emit_line(f"  alice     {r.alice}")
        emit_line(f"  bob       {r.bob}")
        for i, path in enumerate(r.paths, 1):
            hops = " -> ".join(f"{h['address']} ({_short(h['pubkey_ed25519'])})" for h in path)
            emit_line(f"  path {i}    {hops}")
        members = ", ".join(h["address"] for h in r.bob_swarm)
        emit_line(f"  swarm     bob's messages live on {len(r.bob_swarm)} nodes: {members}")
        emit_line(
            f"  sent      alice -> bob over a guard, two relays and a swarm member: hash "
            f"{r.sent_hash}, stored on {len(r.stored_on)} nodes, {r.send_ms:.0f} ms"
        )
        emit_line(
            f"  received  bob polled his swarm over an onion path in {r.receive_ms:.0f} ms: "
            f"{r.received_body!r} (signature verified, from alice)"
        )
        emit_line(
            f"  total     {r.total_ms / 1000:.1f} s; the temporary network and keys are gone, "
            "no keyring was touched"
        )
    if not r.ok:
        raise SessionCliError("the demo message did not arrive intact")
