"""Maps errors to one stderr line plus hints and the documented exit code; the only place that exits."""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import typer

from sessioncli.errors import SessionCliError
from sessioncli.exitcodes import ExitCode

P = ParamSpec("P")
R = TypeVar("R")


def err(line: str) -> None:
    """Write one line to stderr (never stdout)."""
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


def report_error(exc: SessionCliError) -> None:
    err(f"sessioncli: error: {exc.message}")
    for hint in exc.hints:
        err(f"  {hint}")


def cli_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Run a command; turn our errors, Ctrl-C and a closed stdout into exit codes, never tracebacks."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except SessionCliError as exc:
            report_error(exc)
            raise typer.Exit(int(exc.exit_code)) from None
        except KeyboardInterrupt:
            err("sessioncli: interrupted")
            raise typer.Exit(int(ExitCode.INTERRUPTED)) from None
        except BrokenPipeError:
            # The reader went away (`| head -1`): it has what it wanted, so this is the end and
            # not an error (exit 0). What was not written was not committed (receive marks a
            # message seen only after its line was flushed).
            try:
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, sys.stdout.fileno())
            except (OSError, ValueError, AttributeError):
                pass
            raise typer.Exit(int(ExitCode.OK)) from None
        except typer.Exit:
            raise
        except Exception as exc:
            if os.environ.get("SESSIONCLI_DEBUG"):
                raise
            err(f"sessioncli: internal error: {type(exc).__name__}: {_safe(exc)}")
            err("  this is a bug; please report it (set SESSIONCLI_DEBUG=1 for a traceback)")
            raise typer.Exit(int(ExitCode.ERROR)) from None

    return wrapper


def _safe(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else ""
    return text[:200]
