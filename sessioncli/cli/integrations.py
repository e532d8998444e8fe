"""The `integrations` command group: install glue for other tools (the apprise plugin)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from sessioncli.cli._errors import cli_errors
from sessioncli.cli._output import emit_line
from sessioncli.cli.app import app
from sessioncli.errors import ConfigError, UsageError

integrations_app = typer.Typer(help="Glue for other tools (apprise).", no_args_is_help=True)
apprise_app = typer.Typer(help="The apprise plugin (sessioncli:// URLs).", no_args_is_help=True)
integrations_app.add_typer(apprise_app, name="apprise")
app.add_typer(integrations_app, name="integrations")

PLUGIN = "apprise_sessioncli.py"


def _shipped() -> Path:
    return Path(__file__).resolve().parent.parent / "integrations" / PLUGIN


@apprise_app.command("install")
@cli_errors
def install(
    system: Annotated[
        bool, typer.Option("--system", help="Install for everyone (/var/lib/apprise/plugins).")
    ] = False,
    directory: Annotated[
        str | None, typer.Option("--dir", metavar="DIR", help="Install into this plugin folder.")
    ] = None,
) -> None:
    """Copy the plugin into apprise's plugin path; prints where it went."""
    if system and directory:
        raise UsageError("--system and --dir exclude each other")
    if directory:
        folder = Path(directory).expanduser()
    elif system:
        folder = Path("/var/lib/apprise/plugins")
    else:
        folder = Path(os.path.expanduser("~/.config/apprise/plugins"))
    target = folder / PLUGIN
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(".tmp")
        tmp.write_bytes(_shipped().read_bytes())
        tmp.chmod(0o644)
        tmp.replace(target)
    except OSError as exc:
        raise ConfigError(f"cannot install the plugin into {folder}: {exc.strerror}") from None
    emit_line(str(target))


@apprise_app.command("path")
@cli_errors
def path() -> None:
    """Print the path of the plugin file shipped with sessioncli (for apprise --plugin-path)."""
    emit_line(str(_shipped()))
