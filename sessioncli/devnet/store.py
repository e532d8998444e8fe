"""One storage node's messages in SQLite (WAL): store, page, delete, expire; expired rows never show."""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    hash TEXT NOT NULL UNIQUE,
    pubkey TEXT NOT NULL,
    namespace INTEGER NOT NULL,
    timestamp INTEGER NOT NULL,
    expiry INTEGER NOT NULL,
    data BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS messages_owner ON messages (pubkey, namespace, id);
CREATE INDEX IF NOT EXISTS messages_expiry ON messages (expiry);
"""


@dataclass(frozen=True)
class StoredMessage:
    hash: str
    namespace: int
    timestamp: int
    expiry: int
    data: bytes


class MessageStore:
    """Thread-safe through one lock; each call is one short transaction."""

    def __init__(self, path: Path) -> None:
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def store(
        self, pubkey: str, namespace: int, msg_hash: str, timestamp: int, expiry: int, data: bytes
    ) -> tuple[int, bool]:
        """Returns (expiry, already); a duplicate keeps the later of its two expiries."""
        with self._lock:
            row = self._db.execute(
                "SELECT expiry FROM messages WHERE hash = ?", (msg_hash,)
            ).fetchone()
            if row is not None:
                new_expiry = max(int(row[0]), expiry)
                self._db.execute(
                    "UPDATE messages SET expiry = ? WHERE hash = ?", (new_expiry, msg_hash)
                )
                return new_expiry, True
            self._db.execute(
                "INSERT INTO messages (hash, pubkey, namespace, timestamp, expiry, data)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (msg_hash, pubkey, namespace, timestamp, expiry, data),
            )
            return expiry, False

    def replace_all(
        self, pubkey: str, namespace: int, msg_hash: str, timestamp: int, expiry: int, data: bytes
    ) -> tuple[int, bool]:
        """Store into a single-message namespace (public outbox): the new message replaces the old."""
        with self._lock:
            self._db.execute(
                "DELETE FROM messages WHERE pubkey = ? AND namespace = ? AND hash != ?",
                (pubkey, namespace, msg_hash),
            )
        return self.store(pubkey, namespace, msg_hash, timestamp, expiry, data)

    def retrieve(
        self,
        pubkey: str,
        namespace: int,
        last_hash: str,
        now_ms: int,
        max_count: int,
        max_size: int,
    ) -> tuple[list[StoredMessage], bool]:
        """Messages after `last_hash` (all if unknown or empty), oldest first; and whether more remain."""
        with self._lock:
            after = 0
            if last_hash:
                row = self._db.execute(
                    "SELECT id FROM messages WHERE hash = ? AND pubkey = ? AND namespace = ?",
                    (last_hash, pubkey, namespace),
                ).fetchone()
                if row is not None:
                    after = int(row[0])
            cursor = self._db.execute(
                "SELECT hash, namespace, timestamp, expiry, data FROM messages"
                " WHERE pubkey = ? AND namespace = ? AND id > ? AND expiry > ? ORDER BY id",
                (pubkey, namespace, after, now_ms),
            )
            out: list[StoredMessage] = []
            size = 0
            more = False
            for h, ns, ts, exp, data in cursor:
                blob = bytes(data)
                # Sized as the base64 the reply carries; the first message always goes out.
                cost = (len(blob) + 2) // 3 * 4
                if len(out) >= max_count or (out and size + cost > max_size):
                    more = True
                    break
                out.append(StoredMessage(h, int(ns), int(ts), int(exp), blob))
                size += cost
            cursor.close()
            return out, more

    def delete(self, pubkey: str, hashes: list[str]) -> list[str]:
        with self._lock:
            deleted = [
                h
                for h in hashes
                if self._db.execute(
                    "DELETE FROM messages WHERE hash = ? AND pubkey = ?", (h, pubkey)
                ).rowcount
            ]
        return sorted(set(deleted))

    def delete_namespace(self, pubkey: str, namespace: int | None) -> dict[int, list[str]]:
        """Delete every message of the account in one namespace (None: all); hashes per namespace."""
        with self._lock:
            if namespace is None:
                rows = self._db.execute(
                    "SELECT namespace, hash FROM messages WHERE pubkey = ?", (pubkey,)
                ).fetchall()
                self._db.execute("DELETE FROM messages WHERE pubkey = ?", (pubkey,))
            else:
                rows = self._db.execute(
                    "SELECT namespace, hash FROM messages WHERE pubkey = ? AND namespace = ?",
                    (pubkey, namespace),
                ).fetchall()
                self._db.execute(
                    "DELETE FROM messages WHERE pubkey = ? AND namespace = ?", (pubkey, namespace)
                )
        result: dict[int, list[str]] = {}
        for ns, h in rows:
            result.setdefault(int(ns), []).append(str(h))
        return {ns: sorted(hs) for ns, hs in result.items()}

    def delete_before(self, pubkey: str, namespace: int | None, before_ms: int) -> list[str]:
        """Delete the account's messages (one namespace, or all for None) stored before `before_ms`."""
        args = (pubkey, before_ms, namespace, namespace)
        with self._lock:
            rows = self._db.execute(
                "SELECT hash FROM messages WHERE pubkey = ? AND timestamp < ?"
                " AND (? IS NULL OR namespace = ?)",
                args,
            ).fetchall()
            self._db.execute(
                "DELETE FROM messages WHERE pubkey = ? AND timestamp < ?"
                " AND (? IS NULL OR namespace = ?)",
                args,
            )
        return sorted(str(r[0]) for r in rows)

    def expiries(self, pubkey: str, hashes: list[str], now_ms: int) -> dict[str, int]:
        with self._lock:
            out: dict[str, int] = {}
            for h in hashes:
                row = self._db.execute(
                    "SELECT expiry FROM messages WHERE hash = ? AND pubkey = ? AND expiry > ?",
                    (h, pubkey, now_ms),
                ).fetchone()
                if row is not None:
                    out[h] = int(row[0])
            return out

    def set_expiry(
        self, pubkey: str, hashes: list[str], expiry: int, mode: str, now_ms: int
    ) -> tuple[list[str], dict[str, int]]:
        """mode "" sets, "shorten" only lowers, "extend" only raises; returns (updated, unchanged)."""
        updated: list[str] = []
        unchanged: dict[str, int] = {}
        with self._lock:
            for h in hashes:
                row = self._db.execute(
                    "SELECT expiry FROM messages WHERE hash = ? AND pubkey = ? AND expiry > ?",
                    (h, pubkey, now_ms),
                ).fetchone()
                if row is None:
                    continue
                current = int(row[0])
                if (mode == "shorten" and expiry >= current) or (
                    mode == "extend" and expiry <= current
                ):
                    unchanged[h] = current
                    continue
                self._db.execute("UPDATE messages SET expiry = ? WHERE hash = ?", (expiry, h))
                updated.append(h)
        return sorted(updated), unchanged

    def purge_expired(self, now_ms: int) -> int:
        with self._lock:
            return int(
                self._db.execute("DELETE FROM messages WHERE expiry <= ?", (now_ms,)).rowcount
            )

    def count(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM messages").fetchone()[0])
