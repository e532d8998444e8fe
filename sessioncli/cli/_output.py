"""Rendering of command results: JSON, NDJSON, tables on a terminal, escaped TSV in a pipe.

Every human-facing field (message bodies, display names, contact/community/group names, file
names, addresses a node reported) goes through `escape()` before it reaches a table, a TSV line
or a terminal line: a sender controls those bytes, and raw ESC/OSC/BEL/CR would let them recolour,
retitle or overwrite the user's terminal, or forge an extra message line. JSON stays exact (the
JSON encoder escapes controls itself).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from typing import Any

from sessioncli.errors import SessionCliError
from sessioncli.exitcodes import ExitCode

# Shown by name, as a C string would: the common ones read better than \x0a.
_NAMED = {"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"}
# Characters that are not controls but still move text around on a terminal: line/paragraph
# separators and the bidirectional overrides/isolates (they can reverse what follows).
_INVISIBLE_MOVERS = frozenset("\u2028\u2029\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


class StdoutError(SessionCliError):
    """stdout is closed or cannot take more (a full disk, /dev/full): EX_IOERR."""

    exit_code = ExitCode.IOERR


def _escape_char(ch: str) -> str:
    named = _NAMED.get(ch)
    if named is not None:
        return named
    code = ord(ch)
    if code < 0x20 or 0x7F <= code <= 0x9F:  # C0, DEL, C1
        return f"\\x{code:02x}"
    if ch in _INVISIBLE_MOVERS:
        return f"\\u{code:04x}"
    if 0xD800 <= code <= 0xDFFF:  # a lone surrogate (undecodable bytes): never written raw
        return f"\\x{code - 0xDC00:02x}" if code >= 0xDC80 else f"\\u{code:04x}"
    return ch


def escape(value: object) -> str:
    """A field made safe for a terminal or a TSV line: controls, DEL and `\\` shown visibly.

    Reversible (backslash is escaped too), so a TSV consumer can undo it exactly; tabs and
    newlines never appear raw, so one record stays one line.
    """
    text = "" if value is None else str(value)
    if text.isprintable() and "\\" not in text:
        return text  # the common case, without a per-character walk
    return "".join(_escape_char(ch) for ch in text)


tsv_escape = escape  # the old name, kept for callers on other branches


def stdout_isatty() -> bool:
    try:
        return sys.stdout is not None and sys.stdout.isatty()
    except (AttributeError, ValueError):
        return False


def terminal_width() -> int:
    """Columns of the terminal on stdout ($COLUMNS first, as shutil does), at least 20."""
    import shutil

    return max(20, shutil.get_terminal_size((80, 24)).columns)


def emit_json(value: Any) -> None:
    """One JSON value: indented for a person, compact for a program."""
    if stdout_isatty():
        text = json.dumps(value, ensure_ascii=False, indent=2)
    else:
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    _write(text + "\n")


def emit_ndjson(value: Any) -> None:
    """One compact JSON object on one line, flushed at once (streams)."""
    _write(json.dumps(value, ensure_ascii=False, separators=(",", ":")) + "\n")


def emit_rows(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """A table fitting the terminal (tabulate, long cells wrapped), headerless escaped TSV otherwise."""
    cells = [[escape(v) for v in row] for row in rows]
    if stdout_isatty():
        import tabulate as tabulate_module
        from tabulate import tabulate

        tabulate_module.MIN_PADDING = 0  # headers as wide as they are: the width budget holds
        widths = fit_widths([list(headers), *cells], terminal_width())
        table = tabulate(
            cells,
            headers=list(headers),
            maxcolwidths=widths,
            maxheadercolwidths=[
                len(h) if w is None else w for w, h in zip(widths, headers, strict=False)
            ],
        )
        _write(table + "\n")
    else:
        _write("".join("\t".join(row) + "\n" for row in cells))


def fit_widths(table: Sequence[Sequence[str]], width: int, *, gap: int = 2) -> list[int | None]:
    """Column widths that fit `width`: the widest columns shrink first, none below 8 characters.

    None means "as wide as it is". Tabulate wraps a cell longer than its column's width.
    """
    if not table:
        return []
    count = max(len(r) for r in table)
    natural = [max((len(r[i]) for r in table if i < len(r)), default=0) for i in range(count)]
    limits = list(natural)
    budget = width - gap * (count - 1)
    while sum(limits) > budget:
        widest = max(range(count), key=lambda i: limits[i])
        if limits[widest] <= 8:
            break
        limits[widest] -= 1
    return [None if lim == nat else lim for lim, nat in zip(limits, natural, strict=True)]


def emit_line(text: str) -> None:
    _write(text + "\n")


def _write(text: str) -> None:
    out = sys.stdout
    if out is None:  # fd 1 was closed before we started (`sessioncli whoami >&-`)
        raise StdoutError("cannot write to stdout: it is closed (Bad file descriptor)")
    try:
        out.write(text)
        out.flush()
    except BrokenPipeError:
        raise  # the reader left: cli_errors treats that as the end, not an error
    except OSError as exc:
        _drop_stdout()
        raise StdoutError(f"cannot write to stdout: {exc.strerror or exc}") from None
    except ValueError:  # "I/O operation on closed file"
        raise StdoutError("cannot write to stdout: it is closed") from None


def _drop_stdout() -> None:
    """Point fd 1 at /dev/null so the interpreter's final flush cannot fail a second time."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass
