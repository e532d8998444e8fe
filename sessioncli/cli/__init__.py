"""The command-line interface: typer app, one module per command; the only layer that prints or exits."""

from __future__ import annotations

import importlib

from sessioncli.cli.app import app

# Each module registers its commands on `app` when imported. They import only typer at module
# level, so `--help` and `--version` stay fast; heavy code loads inside the command functions.
_COMMAND_MODULES: tuple[str, ...] = (
    "identity",
    "contacts",
    "community",
    "group",
    "send",
    "receive",
    "demo",
    "devnet",
    "nodes",
    "path",
    "daemon",
    "webhook",
    "integrations",
    "attachments",
    "react",
    "resolve",
)

for _name in _COMMAND_MODULES:
    importlib.import_module(f"sessioncli.cli.{_name}")


def main() -> None:
    import os
    import sys
    import threading

    try:
        app(prog_name="sessioncli")
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    # A guard test still waiting on a silent node runs in a daemon thread; letting the interpreter
    # tear down around it can crash inside a C extension. Once our output is flushed, leave at once.
    if threading.active_count() > 1:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
        os._exit(code)
    raise SystemExit(code)


__all__ = ["app", "main"]
