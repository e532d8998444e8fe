"""The local index of recent messages (by storage hash): what a reply, a reaction or an unsend needs.

Only what those need is kept — the sent timestamp, the author, the conversation, the text a
quote shows (cut to QUOTE_CHARS), our sync copy's hash — in `messages.json` (mode 0600) in the
identity's state folder, and each entry is dropped when the network drops the message (its
expiry; at most MAX_ENTRIES, the newest, are kept). Beside it, `unsent.json` remembers the
(author, timestamp) of unsend requests received, so that a message arriving after its unsend is
never printed. Writes are locked and atomic; damaged bookkeeping starts over (it must never cost
a message).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TypeVar

from sessioncli import state
from sessioncli.errors import UsageError

T = TypeVar("T")

QUOTE_CHARS = 300  # desktop shows a quote's first lines only; enough for any app's preview
MAX_ENTRIES = 2000  # newest kept: the file is rewritten on each change, so it stays small
_HASH = re.compile(r"[A-Za-z0-9+/]{43}")


@dataclass(frozen=True)
class IndexedMessage:
    hash: str
    timestamp_ms: int  # the message's sent timestamp: how every app refers to it
    author: str  # 05 id of who wrote it
    conversation: str  # 05 id of the other side
    outgoing: bool
    expires_at_ms: int
    text: str | None = None
    sync_hash: str | None = None  # our own copy in our swarm (outgoing only)


def _now_ms() -> int:
    return int(time.time() * 1000)


class MessageIndex:
    """messages.json (and unsent.json) of one identity on one network."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.path = folder / "messages.json"
        self.unsent_path = folder / "unsent.json"
        self.lock = folder / ".messages.lock"

    def _rows(self) -> dict[str, Any]:
        raw: Any = state.read_json(self.path, {})
        entries = raw.get("messages") if isinstance(raw, dict) else None
        return entries if isinstance(entries, dict) else {}

    def _load_unsent(self) -> dict[str, int]:
        raw: Any = state.read_json(self.unsent_path, {})
        marks = raw.get("unsent") if isinstance(raw, dict) else None
        return {
            str(k): e
            for k, e in (marks if isinstance(marks, dict) else {}).items()
            if isinstance(e, int)
        }

    def _update(self, change: Callable[[dict[str, IndexedMessage]], T]) -> T:
        def on_rows(rows: dict[str, list[Any]]) -> T:
            msgs = {h: IndexedMessage(h, *row) for h, row in rows.items()}
            result = change(msgs)
            rows.clear()
            rows.update({m.hash: _row(m) for m in msgs.values()})
            return result

        return self._update_rows(on_rows)

    def _update_rows(self, change: Callable[[dict[str, list[Any]]], T]) -> T:
        """Read, change and rewrite the valid rows, locked. Rows stay plain lists: every send
        rewrites this file, and building 2,000 entries as objects cost it ~10 ms."""
        state.ensure_dir(self.folder)
        with state.file_lock(self.lock, what="the message index"):
            rows = {h: row for h, row in self._rows().items() if _valid_row(row)}
            result = change(rows)
            now = _now_ms()
            live = sorted(
                (kv for kv in rows.items() if kv[1][_EXPIRES] >= now), key=lambda kv: kv[1][0]
            )
            # one compact row per message: this file is rewritten on every change
            data = json.dumps(
                {"version": 2, "messages": dict(live[-MAX_ENTRIES:])}, separators=(",", ":")
            )
            state.atomic_write_bytes(self.path, data.encode("utf-8"))
        return result

    def add(self, entries: Iterable[IndexedMessage]) -> None:
        items = [_trimmed(e) for e in entries]
        if not items:
            return

        def change(rows: dict[str, list[Any]]) -> None:
            for e in items:
                rows[e.hash] = _row(e)

        self._update_rows(change)

    def remove(self, msg_hash: str) -> None:
        self._update(lambda msgs: msgs.pop(msg_hash, None))

    def get(self, msg_hash: str) -> IndexedMessage:
        """The indexed message with this hash, or a UsageError (exit 2) naming it."""
        text = msg_hash.strip()
        if not _HASH.fullmatch(text):
            raise UsageError(f"invalid message hash {msg_hash!r}: expected 43 base64 characters")
        found = _entry(text, self._rows().get(text))
        if found is None or found.expires_at_ms < _now_ms():
            raise UsageError(
                f"unknown message {text}: not among the messages this identity sent or "
                "received recently",
                hints=("hashes are in `send --json` and `receive --json` output",),
            )
        return found

    def note_unsent(self, author: str, timestamp_ms: int, expires_at_ms: int) -> None:
        """Remember an unsend request (until it expires) and forget the message it takes back."""

        def change(msgs: dict[str, IndexedMessage]) -> None:
            for h, m in list(msgs.items()):
                if m.author == author and m.timestamp_ms == timestamp_ms:
                    del msgs[h]
            now = _now_ms()
            marks = {k: e for k, e in self._load_unsent().items() if e >= now}
            marks[unsent_key(author, timestamp_ms)] = expires_at_ms
            state.atomic_write_json(self.unsent_path, {"version": 1, "unsent": marks})

        self._update(change)

    def unsent(self) -> set[str]:
        return set(self._load_unsent())


_ROW = ("timestamp_ms", "author", "conversation", "outgoing", "expires_at_ms", "text", "sync_hash")


_EXPIRES = _ROW.index("expires_at_ms")


def _row(m: IndexedMessage) -> list[Any]:
    return [getattr(m, f) for f in _ROW]


def _valid_row(row: Any) -> bool:
    """Whether a stored row has the right length and types (a damaged one is dropped)."""
    if not isinstance(row, list) or len(row) != len(_ROW):
        return False
    ts, author, conversation, outgoing, expires, text, sync_hash = row
    if not all(type(v) is int for v in (ts, expires)):  # not bool
        return False
    if not (isinstance(author, str) and isinstance(conversation, str)):
        return False
    if not isinstance(outgoing, bool):
        return False
    return all(v is None or isinstance(v, str) for v in (text, sync_hash))


def _entry(h: str, row: Any) -> IndexedMessage | None:
    """One stored row, or None when it is damaged (wrong length or types)."""
    return IndexedMessage(h, *row) if _valid_row(row) else None


def unsent_key(author: str, timestamp_ms: int) -> str:
    return f"{author}:{timestamp_ms}"


def _trimmed(e: IndexedMessage) -> IndexedMessage:
    if e.text is not None and len(e.text) > QUOTE_CHARS:
        return IndexedMessage(**{**asdict(e), "text": e.text[:QUOTE_CHARS]})
    return e
