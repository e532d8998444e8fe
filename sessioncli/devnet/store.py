"""One storage node's messages in SQLite (WAL): store, page, delete, expire; expired rows never show."""

from __future__ import annotations

from dataclasses import dataclass

from sessioncli.devnet.sqlite_db import LockedDatabase

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
CREATE TABLE IF NOT EXISTS revoked_subaccounts (
    pubkey TEXT NOT NULL,
    token BLOB NOT NULL,
    revoked_at INTEGER NOT NULL,
    PRIMARY KEY (pubkey, token)
);
"""
# An account keeps at most this many revoked tokens, the most recent ones (as upstream).
MAX_REVOKED = 50


@dataclass(frozen=True)
class StoredMessage:
    hash: str
    namespace: int
    timestamp: int
    expiry: int
    data: bytes


class MessageStore(LockedDatabase):
    """Thread-safe through one lock; each call is one short transaction."""

    SCHEMA = _SCHEMA
    PRAGMAS = ("synchronous=NORMAL",)
    # A node's file is its own (a second `up` on the folder is refused before any store opens);
    # per-transaction file locks were a sixth of a store's system time.
    EXCLUSIVE = True

    def store(
        self, pubkey: str, namespace: int, msg_hash: str, timestamp: int, expiry: int, data: bytes
    ) -> tuple[int, bool]:
        """Returns (expiry, already); a duplicate keeps the later of its two expiries."""
        with self._lock:
            # The new message first: one statement in the usual case, the lookup only on a repeat.
            inserted = self._db.execute(
                "INSERT INTO messages (hash, pubkey, namespace, timestamp, expiry, data)"
                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (hash) DO NOTHING",
                (msg_hash, pubkey, namespace, timestamp, expiry, data),
            ).rowcount
            if inserted:
                return expiry, False
            row = self._db.execute(
                "SELECT expiry FROM messages WHERE hash = ?", (msg_hash,)
            ).fetchone()
            new_expiry = max(int(row[0]), expiry)
            self._db.execute(
                "UPDATE messages SET expiry = ? WHERE hash = ?", (new_expiry, msg_hash)
            )
            return new_expiry, True

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
        max_count: int | None,
        max_size: int,
        overhead: int,
    ) -> tuple[list[StoredMessage], bool]:
        """Messages after `last_hash` (all if unknown or empty), oldest first; and whether more
        remain. Each message costs `overhead + len(hash) + len(data) * 4 // 3` bytes of
        `max_size`; the first one always goes out."""
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
            limit = None if max_count is None else max(1, max_count)
            out: list[StoredMessage] = []
            size = 0
            more = False
            for h, ns, ts, exp, data in cursor:
                blob = bytes(data)
                if limit is not None and len(out) >= limit:
                    more = True
                    break
                size += overhead + len(h) + len(blob) * 4 // 3
                if out and size > max_size:
                    more = True
                    break
                out.append(StoredMessage(h, int(ns), int(ts), int(exp), blob))
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
        return _by_namespace(rows)

    def delete_before(
        self, pubkey: str, namespace: int | None, before_ms: int
    ) -> dict[int, list[str]]:
        """Delete the account's messages (one namespace, or all for None) with timestamp <= before."""
        args = (pubkey, before_ms, namespace, namespace)
        with self._lock:
            rows = self._db.execute(
                "SELECT namespace, hash FROM messages WHERE pubkey = ? AND timestamp <= ?"
                " AND (? IS NULL OR namespace = ?)",
                args,
            ).fetchall()
            self._db.execute(
                "DELETE FROM messages WHERE pubkey = ? AND timestamp <= ?"
                " AND (? IS NULL OR namespace = ?)",
                args,
            )
        return _by_namespace(rows)

    def shorten_all(
        self, pubkey: str, namespace: int | None, expiry: int, now_ms: int
    ) -> dict[int, list[str]]:
        """Lower to `expiry` every live message (one namespace, or all) that expires later."""
        args = (pubkey, expiry, now_ms, namespace, namespace)
        with self._lock:
            rows = self._db.execute(
                "SELECT namespace, hash FROM messages WHERE pubkey = ? AND expiry > ?"
                " AND expiry > ? AND (? IS NULL OR namespace = ?)",
                args,
            ).fetchall()
            self._db.execute(
                "UPDATE messages SET expiry = ? WHERE pubkey = ? AND expiry > ?"
                " AND expiry > ? AND (? IS NULL OR namespace = ?)",
                (expiry, *args),
            )
        return _by_namespace(rows)

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
        self, pubkey: str, hashes: list[str], expiries: list[int], mode: str, now_ms: int
    ) -> tuple[list[tuple[str, int]], dict[str, int]]:
        """Give each hash its expiry (`expiries` has one value for all, or one per hash): mode ""
        sets, "shorten" only lowers, "extend" only raises. Returns ((hash, expiry) updated, sorted
        by hash; {hash: expiry} of the named live messages left unchanged)."""
        updated: dict[str, int] = {}
        unchanged: dict[str, int] = {}
        with self._lock:
            for i, h in enumerate(hashes):
                expiry = expiries[0] if len(expiries) == 1 else expiries[i]
                if len(expiries) == 1 and h in updated:
                    continue
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
                updated[h] = expiry
                unchanged.pop(h, None)
        return sorted(updated.items()), unchanged

    # -- revoked subaccount tokens ----------------------------------------------------------

    def revoke(self, pubkey: str, tokens: list[bytes], now_ms: int) -> None:
        with self._lock:
            for token in tokens:
                self._db.execute(
                    "INSERT INTO revoked_subaccounts (pubkey, token, revoked_at) VALUES (?, ?, ?)"
                    " ON CONFLICT (pubkey, token) DO UPDATE SET revoked_at = excluded.revoked_at",
                    (pubkey, token, now_ms),
                )
            self._db.execute(
                "DELETE FROM revoked_subaccounts WHERE pubkey = ? AND token NOT IN"
                " (SELECT token FROM revoked_subaccounts WHERE pubkey = ?"
                "  ORDER BY revoked_at DESC LIMIT ?)",
                (pubkey, pubkey, MAX_REVOKED),
            )

    def unrevoke(self, pubkey: str, tokens: list[bytes]) -> int:
        with self._lock:
            return sum(
                self._db.execute(
                    "DELETE FROM revoked_subaccounts WHERE pubkey = ? AND token = ?",
                    (pubkey, token),
                ).rowcount
                for token in tokens
            )

    def is_revoked(self, pubkey: str, token: bytes) -> bool:
        with self._lock:
            row = self._db.execute(
                "SELECT 1 FROM revoked_subaccounts WHERE pubkey = ? AND token = ?", (pubkey, token)
            ).fetchone()
        return row is not None

    def revoked(self, pubkey: str) -> list[bytes]:
        with self._lock:
            rows = self._db.execute(
                "SELECT token FROM revoked_subaccounts WHERE pubkey = ?", (pubkey,)
            ).fetchall()
        return [bytes(r[0]) for r in rows]

    def purge_expired(self, now_ms: int) -> int:
        with self._lock:
            return int(
                self._db.execute("DELETE FROM messages WHERE expiry <= ?", (now_ms,)).rowcount
            )

    def count(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM messages").fetchone()[0])


def _by_namespace(rows: list[tuple[int, str]]) -> dict[int, list[str]]:
    result: dict[int, list[str]] = {}
    for ns, h in rows:
        result.setdefault(int(ns), []).append(str(h))
    return {ns: sorted(hs) for ns, hs in result.items()}
