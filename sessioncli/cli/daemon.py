"""The `daemon` command: serve JSON-RPC on a Unix socket (and optionally HTTP) with warm paths."""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from typing import Annotated, Any

import typer

from sessioncli.cli._errors import cli_errors, err
from sessioncli.cli._serving import read_token
from sessioncli.cli.app import app, get_globals
from sessioncli.errors import UsageError


@app.command()
@cli_errors
def daemon(
    ctx: typer.Context,
    socket_path: Annotated[
        str | None,
        typer.Option(
            "--socket",
            metavar="PATH",
            envvar="SESSIONCLI_SOCKET",
            help="Unix socket to serve (default $XDG_RUNTIME_DIR/sessioncli/socket, "
            "else /tmp/sessioncli-UID/socket).",
        ),
    ] = None,
    socket_group: Annotated[
        str | None,
        typer.Option("--socket-group", metavar="GROUP", help="Let GROUP use the socket (0660)."),
    ] = None,
    http: Annotated[
        str | None,
        typer.Option(
            "--http", metavar="HOST:PORT", help="Also serve HTTP (loopback unless a token)."
        ),
    ] = None,
    token_file: Annotated[
        str | None,
        typer.Option(
            "--token-file",
            metavar="FILE",
            help="Bearer token for HTTP (or $SESSIONCLI_DAEMON_TOKEN); never on the command line.",
        ),
    ] = None,
    interval: Annotated[
        float, typer.Option("--interval", min=0.2, help="Seconds between receive polls.")
    ] = 2.0,
) -> None:
    """Serve send/receive to other programs over JSON-RPC, keeping paths warm (docs/daemon.md)."""
    g = get_globals(ctx)
    from sessioncli.integrations import daemon as daemon_mod

    gid = None
    if socket_group:
        import grp

        try:
            gid = grp.getgrnam(socket_group).gr_gid
        except KeyError:
            raise UsageError(f"unknown group {socket_group!r}") from None
    token = read_token(token_file, "SESSIONCLI_DAEMON_TOKEN")
    listen = None
    if http:
        from sessioncli.integrations.http_api import parse_listen

        listen = parse_listen(http, token=token)
    path = Path(socket_path) if socket_path else daemon_mod.default_socket_path()

    def log(line: str) -> None:
        if not g.quiet:
            err(f"sessioncli daemon: {line}")

    client = g.client()
    _ = client.session_id  # fail now (78) rather than on the first request
    server = daemon_mod.Daemon(client, log=log, interval=interval)

    def on_term(_signum: int, _frame: Any) -> None:
        threading.Thread(target=server.stop, daemon=True).start()

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    http_server = None
    if listen is not None:
        from sessioncli.integrations.http_api import start_http

        http_server = start_http(server, listen[0], listen[1], token)
        log(f"HTTP on {listen[0]}:{listen[1]}")
    try:
        server.serve_socket(path, gid=gid)
        server.stop()
    finally:
        if http_server is not None:
            http_server.shutdown()
        client.close()
