"""The SOGS's state in SQLite: rooms, users, nonces, posts with seqnos, reactions, room files, DMs."""

from __future__ import annotations

import base64
import sqlite3
from typing import Any

from sessioncli.devnet.sqlite_db import LockedDatabase

_SCHEMA = """
CREATE TABLE IF NOT EXISTS rooms (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    token TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    description TEXT,
    created REAL NOT NULL,
    message_sequence INTEGER NOT NULL DEFAULT 0,
    info_updates INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS users (
    session_id TEXT PRIMARY KEY,
    created REAL NOT NULL,
    last_active REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS nonces (
    session_id TEXT NOT NULL,
    nonce BLOB NOT NULL,
    at REAL NOT NULL,
    PRIMARY KEY (session_id, nonce)
);
CREATE TABLE IF NOT EXISTS room_users (
    room INTEGER NOT NULL,
    session_id TEXT NOT NULL,
    last_active REAL NOT NULL,
    PRIMARY KEY (room, session_id)
);
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    room INTEGER NOT NULL,
    session_id TEXT NOT NULL,
    data BLOB,
    signature BLOB,
    posted REAL NOT NULL,
    edited REAL,
    seqno INTEGER NOT NULL,
    seqno_data INTEGER NOT NULL,
    seqno_reactions INTEGER NOT NULL DEFAULT 0,
    seqno_creation INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS messages_room_seqno ON messages (room, seqno);
CREATE TABLE IF NOT EXISTS reactions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    message INTEGER NOT NULL,
    reaction TEXT NOT NULL,
    session_id TEXT NOT NULL,
    at REAL NOT NULL,
    UNIQUE (message, reaction, session_id)
);
CREATE TABLE IF NOT EXISTS files (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    room INTEGER NOT NULL,
    uploader TEXT NOT NULL,
    data BLOB NOT NULL,
    filename TEXT,
    uploaded REAL NOT NULL,
    expiry REAL,
    message INTEGER
);
CREATE TABLE IF NOT EXISTS inbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    sender TEXT NOT NULL,
    recipient TEXT NOT NULL,
    data BLOB NOT NULL,
    posted_at REAL NOT NULL,
    expires_at REAL NOT NULL
);
"""

NONCE_MEMORY = 48 * 3600.0  # longer than the ±24 h a timestamp may be off
UPLOAD_LIFETIME = 3600.0  # pysogs: an upload not attached to a post within an hour goes
ATTACHED_LIFETIME = 15 * 86400.0  # attached to a post: 15 days
DM_LIFETIME = 15 * 86400.0
_MESSAGE_COLUMNS = (
    "id, session_id, data, signature, posted, edited, seqno, seqno_data, seqno_reactions"
)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


class SogsStore(LockedDatabase):
    """Thread-safe through one lock; each public call is one transaction."""

    SCHEMA = _SCHEMA

    def _tx(self, sql: str, args: tuple[Any, ...] = ()) -> sqlite3.Cursor:
        return self._db.execute(sql, args)

    # -- rooms and users -------------------------------------------------------------------

    def ensure_room(self, token: str, name: str, description: str | None, now: float) -> None:
        with self._lock:
            self._tx(
                "INSERT OR IGNORE INTO rooms (token, name, description, created) VALUES (?,?,?,?)",
                (token, name, description, now),
            )

    def room(self, token: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._tx(
                "SELECT id, token, name, description, created, message_sequence, info_updates "
                "FROM rooms WHERE token = ?",
                (token,),
            ).fetchone()
        if row is None:
            return None
        keys = ("id", "token", "name", "description", "created", "message_sequence", "info_updates")
        return dict(zip(keys, row, strict=True))

    def room_tokens(self) -> list[str]:
        with self._lock:
            return [r[0] for r in self._tx("SELECT token FROM rooms ORDER BY id")]

    def use_nonce(self, session_id: str, nonce: bytes, now: float) -> bool:
        """Remember a request nonce; False if this key has used it before."""
        with self._lock:
            self._tx("DELETE FROM nonces WHERE at < ?", (now - NONCE_MEMORY,))
            try:
                self._tx("INSERT INTO nonces VALUES (?, ?, ?)", (session_id, nonce, now))
            except sqlite3.IntegrityError:
                return False
        return True

    def touch_user(self, session_id: str, now: float) -> None:
        with self._lock:
            self._tx(
                "INSERT INTO users VALUES (?, ?, ?) "
                "ON CONFLICT (session_id) DO UPDATE SET last_active = excluded.last_active",
                (session_id, now, now),
            )

    def user_exists(self, session_id: str) -> bool:
        with self._lock:
            row = self._tx("SELECT 1 FROM users WHERE session_id = ?", (session_id,)).fetchone()
        return row is not None

    def touch_room(self, room_id: int, session_id: str, now: float) -> None:
        with self._lock:
            self._tx(
                "INSERT INTO room_users VALUES (?, ?, ?) ON CONFLICT (room, session_id) "
                "DO UPDATE SET last_active = excluded.last_active",
                (room_id, session_id, now),
            )

    def active_users(self, room_id: int, since: float) -> int:
        with self._lock:
            row = self._tx(
                "SELECT COUNT(*) FROM room_users WHERE room = ? AND last_active >= ?",
                (room_id, since),
            ).fetchone()
        return int(row[0])

    # -- posts -----------------------------------------------------------------------------

    def _bump(self, room_id: int) -> int:
        self._tx(
            "UPDATE rooms SET message_sequence = message_sequence + 1 WHERE id = ?", (room_id,)
        )
        row = self._tx("SELECT message_sequence FROM rooms WHERE id = ?", (room_id,)).fetchone()
        return int(row[0])

    def recent_posts(self, room_id: int, session_id: str, since: float) -> int:
        with self._lock:
            row = self._tx(
                "SELECT COUNT(*) FROM messages WHERE room = ? AND session_id = ? AND posted >= ?",
                (room_id, session_id, since),
            ).fetchone()
        return int(row[0])

    def add_post(
        self, room_id: int, session_id: str, data: bytes, sig: bytes, now: float, files: list[int]
    ) -> dict[str, Any]:
        with self._lock:
            seqno = self._bump(room_id)
            cursor = self._tx(
                "INSERT INTO messages (room, session_id, data, signature, posted, seqno, "
                "seqno_data, seqno_creation) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (room_id, session_id, data, sig, now, seqno, seqno, seqno),
            )
            msg_id = int(cursor.lastrowid or 0)
            self._own_files(room_id, session_id, msg_id, files, now)
        return {
            "id": msg_id,
            "session_id": session_id,
            "posted": now,
            "seqno": seqno,
            "data": b64(data),
            "signature": b64(sig),
            "reactions": {},
            "filtered": False,
        }

    def _own_files(
        self, room_id: int, session_id: str, msg_id: int, files: list[int], now: float
    ) -> None:
        for file_id in files:
            self._tx(
                "UPDATE files SET message = ?, expiry = ? WHERE id = ? AND room = ? "
                "AND uploader = ? AND message IS NULL AND uploaded >= ?",
                (msg_id, now + ATTACHED_LIFETIME, file_id, room_id, session_id, now - 3600),
            )

    def _author(self, room_id: int, msg_id: int) -> str | None:
        row = self._tx(
            "SELECT session_id FROM messages WHERE id = ? AND room = ? AND data IS NOT NULL",
            (msg_id, room_id),
        ).fetchone()
        return None if row is None else str(row[0])

    def edit_post(
        self,
        room_id: int,
        msg_id: int,
        session_id: str,
        change: tuple[bytes, bytes, list[int]],
        now: float,
    ) -> str:
        """'ok', 'missing' (no such live post) or 'forbidden' (someone else's)."""
        data, sig, files = change
        with self._lock:
            author = self._author(room_id, msg_id)
            if author is None:
                return "missing"
            if author != session_id:
                return "forbidden"
            seqno = self._bump(room_id)
            self._tx(
                "UPDATE messages SET data = ?, signature = ?, edited = ?, seqno = ?, "
                "seqno_data = ? WHERE id = ?",
                (data, sig, now, seqno, seqno, msg_id),
            )
            self._own_files(room_id, session_id, msg_id, files, now)
        return "ok"

    def delete_post(self, room_id: int, msg_id: int, session_id: str) -> str:
        with self._lock:
            author = self._author(room_id, msg_id)
            if author is None:
                return "missing"
            if author != session_id:
                return "forbidden"
            seqno = self._bump(room_id)
            self._tx(
                "UPDATE messages SET data = NULL, signature = NULL, seqno = ?, seqno_data = ? "
                "WHERE id = ?",
                (seqno, seqno, msg_id),
            )
            self._tx("DELETE FROM reactions WHERE message = ?", (msg_id,))
        return "ok"

    # -- reading ---------------------------------------------------------------------------

    def messages(
        self,
        room_id: int,
        *,
        since: int | None = None,
        before: int | None = None,
        single: int | None = None,
        limit: int = 100,
        reaction_updates: bool = False,
    ) -> list[tuple[Any, ...]]:
        """Rows as pysogs selects them: `since` in seqno order with tombstones of messages the
        caller could know (created at or before `since`); otherwise live posts, newest first."""
        where, args = "room = ?", [room_id]
        order = "ORDER BY id DESC LIMIT ?"
        if since is not None:
            where += " AND seqno > ? AND (data IS NOT NULL OR seqno_creation <= ?)"
            args += [since, since]
            if not reaction_updates:
                where += " AND seqno_data > ?"
                args.append(since)
            order = "ORDER BY seqno ASC LIMIT ?"
        else:
            where += " AND data IS NOT NULL"
            if before is not None:
                where += " AND id < ?"
                args.append(before)
            if single is not None:
                where += " AND id = ?"
                args.append(single)
        with self._lock:
            sql = f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE {where} {order}"  # noqa: S608
            return list(self._tx(sql, (*args, limit)))

    def reactions(
        self, msg_ids: list[int], viewer: str | None, reactor_limit: int
    ) -> dict[int, dict[str, Any]]:
        """{message id: {reaction: {"index", "count", ["reactors"], ["you"]}}}."""
        out: dict[int, dict[str, Any]] = {}
        if not msg_ids:
            return out
        marks = ",".join("?" * len(msg_ids))
        with self._lock:
            rows = list(
                self._tx(
                    f"SELECT message, reaction, session_id FROM reactions "  # noqa: S608
                    f"WHERE message IN ({marks}) ORDER BY id",
                    tuple(msg_ids),
                )
            )
        for msg_id, reaction, who in rows:
            per_message = out.setdefault(msg_id, {})
            info = per_message.setdefault(reaction, {"index": len(per_message), "count": 0})
            info["count"] += 1
            if reactor_limit > 0 and len(info.setdefault("reactors", [])) < reactor_limit:
                info["reactors"].append(who)
            if who == viewer:
                info["you"] = True
        return out

    def react(
        self, room_id: int, msg_id: int, reaction: str, session_id: str, add: bool, now: float
    ) -> tuple[bool, int] | None:
        """(changed, message seqno) or None when the post does not exist (or is deleted)."""
        with self._lock:
            if self._author(room_id, msg_id) is None:
                return None
            if add:
                cursor = self._tx(
                    "INSERT OR IGNORE INTO reactions (message, reaction, session_id, at) "
                    "VALUES (?, ?, ?, ?)",
                    (msg_id, reaction, session_id, now),
                )
            else:
                cursor = self._tx(
                    "DELETE FROM reactions WHERE message = ? AND reaction = ? AND session_id = ?",
                    (msg_id, reaction, session_id),
                )
            changed = cursor.rowcount > 0
            if changed:
                seqno = self._bump(room_id)
                self._tx(
                    "UPDATE messages SET seqno = ?, seqno_reactions = ? WHERE id = ?",
                    (seqno, seqno, msg_id),
                )
            row = self._tx("SELECT seqno FROM messages WHERE id = ?", (msg_id,)).fetchone()
        return changed, int(row[0])

    # -- room files ------------------------------------------------------------------------

    def add_file(
        self, room_id: int, uploader: str, data: bytes, filename: str | None, now: float
    ) -> int:
        with self._lock:
            cursor = self._tx(
                "INSERT INTO files (room, uploader, data, filename, uploaded, expiry) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (room_id, uploader, data, filename, now, now + UPLOAD_LIFETIME),
            )
        return int(cursor.lastrowid or 0)

    def file(
        self, room_id: int, file_id: int, now: float
    ) -> tuple[bytes, str | None, float, float | None] | None:
        """(data, filename, uploaded, expiry) of a live file of this room."""
        with self._lock:
            row = self._tx(
                "SELECT data, filename, uploaded, expiry FROM files WHERE id = ? AND room = ? "
                "AND (expiry IS NULL OR expiry > ?)",
                (file_id, room_id, now),
            ).fetchone()
        if row is None:
            return None
        expiry = None if row[3] is None else float(row[3])
        return bytes(row[0]), row[1], float(row[2]), expiry

    # -- blinded DMs -----------------------------------------------------------------------

    def send_dm(self, sender: str, recipient: str, data: bytes, now: float) -> dict[str, Any]:
        with self._lock:
            cursor = self._tx(
                "INSERT INTO inbox (sender, recipient, data, posted_at, expires_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (sender, recipient, data, now, now + DM_LIFETIME),
            )
        return {
            "id": int(cursor.lastrowid or 0),
            "posted_at": now,
            "expires_at": now + DM_LIFETIME,
            "sender": sender,
            "recipient": recipient,
        }

    def dms(
        self, who: str, outbox: bool, since: int | None, limit: int, now: float
    ) -> list[dict[str, Any]]:
        column = "sender" if outbox else "recipient"
        with self._lock:
            rows = list(
                self._tx(
                    "SELECT id, posted_at, expires_at, sender, recipient, data FROM inbox "  # noqa: S608
                    f"WHERE {column} = ? AND id > ? AND expires_at > ? ORDER BY id LIMIT ?",
                    (who, since or 0, now, limit),
                )
            )
        keys = ("id", "posted_at", "expires_at", "sender", "recipient")
        return [{**dict(zip(keys, r[:5], strict=True)), "message": b64(r[5])} for r in rows]

    def delete_inbox(self, recipient: str) -> int:
        with self._lock:
            return self._tx("DELETE FROM inbox WHERE recipient = ?", (recipient,)).rowcount
