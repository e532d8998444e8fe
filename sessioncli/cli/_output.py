"""Rendering of command results: JSON, NDJSON, tables on a terminal, escaped TSV in a pipe."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any


def stdout_isatty() -> bool:
    try:
        return sys.stdout.isatty()
    except (AttributeError, ValueError):
        return False


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


def tsv_escape(value: object) -> str:
    text = "" if value is None else str(value)
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def emit_rows(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """A table on a terminal (tabulate), headerless escaped TSV otherwise."""
    if stdout_isatty():
        from tabulate import tabulate

        _write(tabulate([list(r) for r in rows], headers=list(headers)) + "\n")
    else:
        _write("".join("\t".join(tsv_escape(v) for v in row) + "\n" for row in rows))


def emit_line(text: str) -> None:
    _write(text + "\n")


def _write(text: str) -> None:
    out = sys.stdout
    out.write(text)
    out.flush()
