"""What `-v` adds on stderr for send, nodes and path: the paths used, who stored, how long."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sessioncli.cli._errors import err
from sessioncli.cli._output import escape


def _hop(node: Any) -> str:
    return f"{escape(node.address)} ({node.pubkey_ed25519[:8]}…)"


def paths(client: Any) -> None:
    """The onion paths `client` (an api.Client) holds now, guard first."""
    from sessioncli.errors import SessionCliError

    try:
        held = client.paths()
    except SessionCliError:
        return
    for i, path in enumerate(held):
        hops = list(path)
        if hops:
            err(
                f"sessioncli: path {i}: guard {_hop(hops[0])} -> "
                + " -> ".join(_hop(n) for n in hops[1:])
            )


def sent(results: Sequence[Any], elapsed_ms: float) -> None:
    for r in results:
        data = r.data  # api.SendResult: the `send --json` object
        stored = data.get("stored_on")
        where = (
            f"stored on {len(stored)} swarm member(s): " + ", ".join(f"{k[:8]}…" for k in stored)
            if isinstance(stored, list)
            else ""
        )
        status = "ok" if r.ok else f"failed: {r.error}"
        err(f"sessioncli: {escape(r.label)}: {status}; {where}".rstrip("; "))
    err(f"sessioncli: send took {elapsed_ms:.0f} ms")


def took(what: str, count: int, elapsed_ms: float) -> None:
    err(f"sessioncli: {what}: {count} in {elapsed_ms:.0f} ms")
