"""The command-line interface: typer app, one module per command; the only layer that prints or exits."""

from __future__ import annotations

import sys
import types

TYPE_CHECKING = False  # not typing's: importing typing alone costs a third of `--version`
if TYPE_CHECKING:
    from typing import Any

    import typer

# Add a command by adding its module's name to _COMMAND_MODULES (one line, nothing else). Importing
# this package loads none of them (nor typer): `sessioncli --version` answers without either, `app`
# is built on first use, and a line naming one command loads only its modules (_complete.py).
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


def load_app() -> typer.Typer:
    """The typer app with every command module registered (imported once, then cached)."""
    from sessioncli.cli.app import app as typer_app

    for name in _COMMAND_MODULES:
        __import__(f"sessioncli.cli.{name}")  # not importlib: -X importtime lists these
    _Package.loaded = typer_app
    return typer_app


def _load_modules(modules: list[str]) -> typer.Typer:
    """The typer app with only these command modules registered (one command's, from the table)."""
    from sessioncli.cli.app import app as typer_app

    for name in modules:
        __import__(name)
    return typer_app


class _Package(types.ModuleType):
    """`sessioncli.cli.app` stays the typer app with all commands, as when it was built eagerly.

    Importing the submodule cli/app.py would otherwise bind the package's `app` to that module.
    """

    loaded: typer.Typer | None = None

    def __getattr__(self, name: str) -> Any:
        if name == "app":
            return load_app() if _Package.loaded is None else _Package.loaded
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "app" and isinstance(value, types.ModuleType):
            return  # the import system binding cli/app.py: `app` means the typer app here
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


def _version_only(argv: list[str]) -> bool:
    """`sessioncli --version` alone, no completion request: answered without typer."""
    import os

    return argv == ["--version"] and "_SESSIONCLI_COMPLETE" not in os.environ


def _print(text: str) -> None:
    """Write to stdout as click.echo would: nothing at all when there is no stdout."""
    if sys.stdout is not None:
        sys.stdout.write(text)
        sys.stdout.flush()


def main() -> None:
    import os

    if _version_only(sys.argv[1:]):
        from sessioncli import __version__

        _print(f"sessioncli {__version__}\n")  # what the --version option prints
        return
    from sessioncli.cli import _complete

    completing = os.environ.get("_SESSIONCLI_COMPLETE")
    if completing == "complete_bash":
        answer = _complete.bash_answer(os.environ)
        if answer is not None:  # answered from the cached command table, without typer
            _print(answer)
            return
    # Only the modules of the command being run, when the cached table knows them: the rest of
    # the CLI is neither imported nor built. Otherwise all of them, and the table is refreshed.
    modules = None if completing else _complete.modules_for(sys.argv[1:])
    typer_app = _load_modules(modules) if modules else load_app()
    click_exc = _click_exceptions()
    try:
        result = typer_app(prog_name="sessioncli", standalone_mode=False)
        code = result if isinstance(result, int) else 0
    except click_exc.ClickException as exc:
        code = _usage_error(exc)
    except _abort_type():
        sys.stderr.write("sessioncli: interrupted\n")
        code = 130
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    if not modules:  # so that the next run or Tab loads only what it needs
        _complete.remember(typer_app, start_cache=completing == "complete_bash")
    import threading

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


__all__ = ["app", "load_app", "main"]
