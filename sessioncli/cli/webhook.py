"""The `webhook` command: receive Alertmanager/Grafana/JSON/text POSTs and send each as a message."""

from __future__ import annotations

import signal
import threading
from typing import Annotated, Any

import typer

from sessioncli.cli._errors import cli_errors, err
from sessioncli.cli._serving import read_token
from sessioncli.cli.app import app, get_globals
from sessioncli.errors import UsageError

_FORMATS = ("alertmanager", "grafana", "text", "json")


@app.command()
@cli_errors
def webhook(
    ctx: typer.Context,
    to: Annotated[
        list[str],
        typer.Option("--to", metavar="RECIPIENT", help="Who gets the alerts (repeatable)."),
    ],
    listen: Annotated[
        str,
        typer.Option(
            "--listen", metavar="HOST:PORT", help="Where to listen (loopback unless a token)."
        ),
    ] = "127.0.0.1:9095",
    fmt: Annotated[
        str,
        typer.Option("--format", metavar="FORMAT", help="alertmanager, grafana, text or json."),
    ] = "alertmanager",
    field: Annotated[
        str | None,
        typer.Option(
            "--field", metavar="PATH", help="With --format json: the dotted field to send."
        ),
    ] = None,
    token_file: Annotated[
        str | None,
        typer.Option(
            "--token-file",
            metavar="FILE",
            help="Require 'Authorization: Bearer TOKEN' (or $SESSIONCLI_WEBHOOK_TOKEN).",
        ),
    ] = None,
) -> None:
    """Turn alert webhooks into Session messages (2xx only once delivered; 503 to retry)."""
    g = get_globals(ctx)
    from sessioncli.api import parse_recipients
    from sessioncli.integrations.http_api import parse_listen
    from sessioncli.integrations.webhook import WebhookConfig, serve

    if fmt not in _FORMATS:
        raise UsageError(f"unknown --format {fmt!r}: use {', '.join(_FORMATS)}")
    if field is not None and fmt != "json":
        raise UsageError("--field goes with --format json")
    # Only the webhook's own, documented variable: a daemon token in the environment must not
    # silently open the webhook to whoever holds it.
    token = read_token(token_file, "SESSIONCLI_WEBHOOK_TOKEN")
    host, port = parse_listen(listen, token=token)
    words = [w for item in to for w in item.split(",") if w.strip()]
    parse_recipients(words)  # refuse a recipient that cannot work before listening

    def log(line: str) -> None:
        if not g.quiet:
            err(f"sessioncli webhook: {line}")

    client = g.client()
    _ = client.session_id
    stop = threading.Event()

    def on_term(_signum: int, _frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    try:
        serve(WebhookConfig(client, words, fmt, field, token, log), host, port, stop)
    finally:
        client.close()
