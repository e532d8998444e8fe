"""The command-line interface: typer app, one module per command; the only layer that prints or exits."""

from __future__ import annotations

import importlib

from sessioncli.cli.app import app

# Each module registers its commands on `app` when imported. They import only typer at module
# level, so `--help` and `--version` stay fast; heavy code loads inside the command functions.
_COMMAND_MODULES = ("identity", "contacts", "send", "receive", "demo", "devnet", "nodes", "path")

for _name in _COMMAND_MODULES:
    importlib.import_module(f"sessioncli.cli.{_name}")


def main() -> None:
    app(prog_name="sessioncli")


__all__ = ["app", "main"]
