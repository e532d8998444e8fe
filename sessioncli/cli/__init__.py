"""The command-line interface: typer app, one module per command; the only layer that prints or exits."""

from __future__ import annotations

import importlib
from typing import Any

from sessioncli.cli.app import app

# Each module registers its commands on `app` when imported. They import only typer at module
# level, so `--help` and `--version` stay fast; heavy code loads inside the command functions.
_COMMAND_MODULES: tuple[str, ...] = (
    "identity",
    "contacts",
    "community",
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

    click_exc = _click_exceptions()
    try:
        result = app(prog_name="sessioncli", standalone_mode=False)
        code = result if isinstance(result, int) else 0
    except click_exc.ClickException as exc:
        code = _usage_error(exc)
    except _abort_type():
        sys.stderr.write("sessioncli: interrupted\n")
        code = 130
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


def _click_exceptions() -> Any:
    """The exceptions module of the click that typer runs on (recent typer vendors its own)."""
    try:
        from typer._click import exceptions
    except ImportError:  # an older typer on plain click
        from click import exceptions  # type: ignore[no-redef]
    return exceptions


def _abort_type() -> type[BaseException]:
    """What this typer raises for an aborted prompt (its own class, or click's)."""
    try:
        from typer.exceptions import Abort

        return Abort
    except ImportError:  # an older typer on plain click
        from click.exceptions import Abort as ClickAbort

        return ClickAbort


def _usage_error(exc: Any) -> int:
    """Click's usage errors in the one error form every other error uses (`sessioncli: error:`)."""
    import sys

    from sessioncli.cli._output import escape

    if type(exc).__name__ == "NoArgsIsHelpError":  # a bare `sessioncli`: the help is the answer
        exc.show()
        return int(exc.exit_code)
    lines = [f"sessioncli: error: {escape(exc.format_message())}"]
    ctx = getattr(exc, "ctx", None)
    if ctx is not None:
        lines.append(f"  usage: {ctx.get_usage().removeprefix('Usage: ')}")
        lines.append(f"  try '{ctx.command_path} -h' for help")
    try:
        sys.stderr.write("\n".join(lines) + "\n")
        sys.stderr.flush()
    except (OSError, ValueError, AttributeError):
        pass
    return int(exc.exit_code)


__all__ = ["app", "main"]
