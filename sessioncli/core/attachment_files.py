"""Received attachments on disk: hostile names made safe, atomic 0600 writes, the kept pointers.

The sender chooses `fileName`, so it is treated as hostile: only its last path component is
kept, control characters are dropped, and `.`/`..`/empty names fall back to the file id plus an
extension from the content type. Nothing is ever overwritten (` (2)`, ` (3)` … are added): the
data is written to a temporary file in DIR and hard-linked to its final name, which fails
rather than replaces when the name is taken.
"""

from __future__ import annotations

import base64
import contextlib
import os
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sessioncli import state
from sessioncli.errors import SessionCliError, UsageError

if TYPE_CHECKING:
    from sessioncli.net.client import NetworkClient
    from sessioncli.protocol.message import Attachment

MAX_NAME_BYTES = 200  # well under NAME_MAX (255), leaving room for " (NNN)"
MAX_SUFFIX = 10_000
KEEP_POINTERS_MS = 21 * 86_400_000  # the file server keeps files about three weeks
POINTERS_FILE = "attachments.json"


# --- names ------------------------------------------------------------------------------------


def _clean(name: str) -> str:
    last = name.replace("\\", "/").rsplit("/", 1)[-1]
    kept = "".join(c for c in last if unicodedata.category(c)[0] != "C")
    return kept.strip().lstrip(".").strip()


def _cut(stem: str, ext: str) -> tuple[str, str]:
    """Shorten to MAX_NAME_BYTES of UTF-8, keeping a short extension."""
    if len(ext.encode()) > 32:
        stem, ext = stem + ext, ""
    room = MAX_NAME_BYTES - len(ext.encode())
    while len(stem.encode()) > room:
        stem = stem[:-1]
    return stem, ext


def safe_name(file_name: str | None, fallback_id: str, content_type: str | None) -> tuple[str, str]:
    """(stem, extension) to save as, inside DIR whatever the sender wrote."""
    name = _clean(file_name or "")
    if not name or name in (".", ".."):
        stem = "".join(c for c in fallback_id if c.isalnum() or c in "-_")[:64] or "attachment"
        from sessioncli.core import attachments as core_attachments

        return stem, core_attachments.extension_for(content_type)
    stem, dot, ext = name.rpartition(".")
    if not dot or not stem:
        stem, ext = name, ""
    else:
        ext = "." + ext
    return _cut(stem, ext)


def save(folder: Path, data: bytes | bytearray, stem: str, ext: str) -> Path:
    """Write `data` as folder/stem+ext (or `stem (N)ext`), mode 0600, atomically, never replacing."""
    try:
        state.ensure_dir(folder)
    except OSError as exc:
        raise UsageError(f"cannot create {folder}: {exc.strerror}") from None
    import tempfile  # here, not at import: every receive loads this module

    fd, tmp = tempfile.mkstemp(prefix=".sessioncli-", suffix=".part", dir=folder)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        for n in range(1, MAX_SUFFIX):
            target = folder / (f"{stem}{ext}" if n == 1 else f"{stem} ({n}){ext}")
            try:
                os.link(tmp, target)
            except FileExistsError:
                continue
            return target
        raise UsageError(f"{folder}: too many files named {stem}{ext}")
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


# --- kept pointers (for `attachments fetch`) --------------------------------------------------


def _pointer_json(a: Attachment) -> dict[str, Any]:
    return {
        "url": a.url,
        "content_type": a.content_type,
        "file_name": a.file_name,
        "size": a.size,
        "key": base64.b64encode(a.key).decode(),
        "digest": base64.b64encode(a.digest).decode(),
    }


def _pointer_from(raw: Any) -> Attachment | None:
    from sessioncli.protocol.message import Attachment

    if not isinstance(raw, dict):
        return None
    try:
        size = raw.get("size")
        return Attachment(
            url=str(raw["url"]) if raw.get("url") else None,
            content_type=raw.get("content_type")
            if isinstance(raw.get("content_type"), str)
            else None,
            file_name=raw.get("file_name") if isinstance(raw.get("file_name"), str) else None,
            size=size if isinstance(size, int) and not isinstance(size, bool) else None,
            key=base64.b64decode(str(raw.get("key", ""))),
            digest=base64.b64decode(str(raw.get("digest", ""))),
        )
    except (KeyError, ValueError, TypeError):
        return None


class PointerStore:
    """attachments.json in the identity's state folder (0600): message hash -> its pointers.

    It holds the attachments' keys, like the messages they came in: needed to fetch them later.
    """

    def __init__(self, folder: Path) -> None:
        self.path = folder / POINTERS_FILE
        self.lock = folder / (POINTERS_FILE + ".lock")

    def keep(self, msg_hash: str, attachments: tuple[Attachment, ...], now_ms: int) -> None:
        with state.file_lock(self.lock, what="the attachment pointers"):
            raw = state.read_json(self.path, {})
            data = raw if isinstance(raw, dict) else {}
            data = {
                h: e
                for h, e in data.items()
                if isinstance(e, dict)
                and isinstance(e.get("at_ms"), int)
                and e["at_ms"] + KEEP_POINTERS_MS > now_ms
            }
            data[msg_hash] = {
                "at_ms": now_ms,
                "attachments": [_pointer_json(a) for a in attachments],
            }
            state.atomic_write_json(self.path, data)

    def get(self, msg_hash: str) -> list[Attachment] | None:
        raw = state.read_json(self.path, {})
        entry = raw.get(msg_hash) if isinstance(raw, dict) else None
        if not isinstance(entry, dict) or not isinstance(entry.get("attachments"), list):
            return None
        return [p for p in (_pointer_from(x) for x in entry["attachments"]) if p is not None]


# --- fetching -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Fetched:
    """One attachment's outcome: where it was written, or why not."""

    attachment: Attachment
    path: str | None
    error: str | None
    exit_code: int = 0

    def to_json(self) -> dict[str, Any]:
        data = self.attachment.to_json_dict()
        data["path"] = self.path
        data["error"] = self.error
        return data


def fallback_id(a: Attachment) -> str:
    from sessioncli.protocol import attachments as pa

    try:
        return pa.parse_file_url(a.url or "").file_id
    except SessionCliError:
        return "attachment"


# How a record's attachments are fetched when not from the network's file server (a
# community post's room files: core/community_attachments.py).
Downloader = Callable[["Attachment", "float | None"], "bytes | bytearray"]


def fetch(
    net: NetworkClient,
    a: Attachment,
    folder: Path,
    *,
    timeout: float | None = None,
    download: Downloader | None = None,
) -> Fetched:
    """Download, check and write one attachment; failures come back in `error`, never raised."""
    try:
        if download is not None:
            data = download(a, timeout)
        else:
            # the attachment modules (and concurrent.futures) only when a file is fetched
            from sessioncli.core import attachments as core_attachments

            data = core_attachments.download(net, a, timeout=timeout)
        stem, ext = safe_name(a.file_name, fallback_id(a), a.content_type)
        path = save(folder, data, stem, ext)
    except SessionCliError as exc:
        return Fetched(a, None, exc.message, int(exc.exit_code))
    return Fetched(a, str(path), None)


def fetch_all(
    net: NetworkClient,
    attachments: list[Attachment],
    folder: Path,
    *,
    timeout: float | None = None,
    download: Downloader | None = None,
) -> list[Fetched]:
    return [fetch(net, a, folder, timeout=timeout, download=download) for a in attachments]


class RecordWithAttachments:
    """A receive record whose JSON attachments carry `path` and `error`."""

    def __init__(self, record: Any, fetched: list[Fetched]) -> None:
        self.record = record
        self.fetched = fetched

    def __getattr__(self, name: str) -> Any:
        return getattr(self.record, name)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = self.record.to_json()
        data["attachments"] = [f.to_json() for f in self.fetched]
        return data


def receive_hook(
    net: NetworkClient,
    state_folder: Path,
    folder: Path | None,
    *,
    on_error: Callable[[str], None] | None = None,
) -> Callable[[Any], Any]:
    """What `receive` applies to each record before printing it.

    DM records carry their attachments in `message`; community records (core/community_receive)
    in `attachments`, with a `download` of their own for a post's room files, whose pointers
    are not kept (`attachments fetch` reads the file server).
    """
    store = PointerStore(state_folder)

    def apply(record: Any) -> Any:
        message = getattr(record, "message", None)
        atts = tuple(
            getattr(message, "attachments", ()) or getattr(record, "attachments", ()) or ()
        )
        if not atts:
            return record
        download: Downloader | None = getattr(record, "download", None)
        if download is None:
            with contextlib.suppress(SessionCliError, OSError):
                store.keep(record.hash, atts, int(time.time() * 1000))
        if folder is None:
            return RecordWithAttachments(record, [Fetched(a, None, None) for a in atts])
        fetched = fetch_all(net, list(atts), folder, download=download)
        for f in fetched:
            if f.error and on_error is not None:
                on_error(
                    f"attachment {f.attachment.file_name or fallback_id(f.attachment)!r}: {f.error}"
                )
        return RecordWithAttachments(record, fetched)

    return apply
