"""How `receive` shows one record: a terminal line, a TSV line, or NDJSON; every field escaped."""

from __future__ import annotations

import re
import textwrap
from datetime import UTC, datetime
from typing import Any

from sessioncli.cli._output import emit_line, emit_ndjson, escape, terminal_width

_SENDER_COLUMN = 20
_PREFIX = 19 + 2 + _SENDER_COLUMN + 2  # "YYYY-MM-DD HH:MM:SS  <sender>  "
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def iso_utc(timestamp_ms: int) -> str:
    when = datetime.fromtimestamp(timestamp_ms / 1000, tz=UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def body_text(data: dict[str, Any]) -> str:
    """The body, or `[kind]` for a record without text (never an empty line)."""
    body = data.get("body")
    return body if isinstance(body, str) and body != "" else f"[{data.get('kind')}]"


def tty_lines(data: dict[str, Any], width: int) -> list[str]:
    """A record for a person: time, sender, body wrapped to `width`; body lines indented under it.

    Each line of the body (split on CR, LF or CRLF, so a CR can never return to the start of a
    line and overwrite it) is escaped and wrapped on its own; every line after the first is
    indented, so no body can forge what looks like another message.
    """
    local = datetime.fromtimestamp(data["timestamp_ms"] / 1000, tz=UTC).astimezone()
    sender = escape(data.get("contact") or data.get("from_name") or data.get("from") or "")
    short = sender if len(sender) < _SENDER_COLUMN else sender[: _SENDER_COLUMN - 2] + "…"
    head = f"{local.strftime('%Y-%m-%d %H:%M:%S')}  {short:<{_SENDER_COLUMN}}  "
    narrow = width - _PREFIX < 20  # too narrow for a body column: the body goes below
    indent = 4 if narrow else _PREFIX
    pieces: list[str] = []
    for part in _LINE_BREAK.split(body_text(data)):
        wrapped = textwrap.wrap(
            escape(part), max(10, width - indent), break_long_words=True, drop_whitespace=False
        )
        pieces.extend(wrapped or [""])
    if narrow:
        return [head.rstrip()[:width]] + [(" " * indent + p).rstrip() for p in pieces]
    return [(head + pieces[0]).rstrip()] + [(" " * indent + p).rstrip() for p in pieces[1:]]


def tsv_line(data: dict[str, Any]) -> str:
    """hash, from, from_name, time (UTC ISO), kind, body: tab-separated, each field escaped."""
    fields = [
        data.get("hash"),
        data.get("from"),
        data.get("from_name") or "",
        iso_utc(data["timestamp_ms"]),
        data.get("kind"),
        data.get("body") or "",  # null: no text (the kind column says what it is)
    ]
    return "\t".join(escape(f) for f in fields)


def show(data: dict[str, Any], *, json_out: bool, tty: bool) -> None:
    if json_out:
        emit_ndjson(data)
    elif tty:
        for line in tty_lines(data, terminal_width()):
            emit_line(line)
    else:
        emit_line(tsv_line(data))
