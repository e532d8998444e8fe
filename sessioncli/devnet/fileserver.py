"""The devnet's file server (SPEC §7): upload, download, info and extend of blobs, direct or via onion v4."""

from __future__ import annotations

import base64
import hashlib
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

from sessioncli.devnet import lsrpc
from sessioncli.devnet.crypto import NodeKeys
from sessioncli.devnet.errors import DevnetUsageError
from sessioncli.devnet.lsrpc import HttpReply, HttpRequest
from sessioncli.devnet.server import NodeServer, Request, Response
from sessioncli.devnet.server_ctl import apply_server_verb
from sessioncli.devnet.sqlite_db import LockedDatabase

# Desktop's upload limit (10 000 000 bytes of encrypted blob); the real server's is configured.
MAX_FILE_SIZE = 10_000_000
# Upstream's default FILE_EXPIRY is "3 weeks"; an X-FS-TTL above the same bound is refused (400).
DEFAULT_TTL = 21 * 24 * 3600
MAX_TTL = DEFAULT_TTL
# Content-addressed ids: urlsafe base64 of a 33-byte salted BLAKE2b (44 characters, no padding).
_ID_SALT = b"SessionFileSvr\0\0"
ID_LENGTH = 44
FAULTS = ("none", "garbage")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS files (
    id TEXT PRIMARY KEY,
    data BLOB NOT NULL,
    uploaded REAL NOT NULL,
    expiry REAL NOT NULL
);
"""


def file_id(data: bytes) -> str:
    digest = hashlib.blake2b(data, digest_size=33, salt=_ID_SALT).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii")


class FileStore(LockedDatabase):
    """Blobs in SQLite; one lock, one short transaction per call; expired rows never show."""

    SCHEMA = _SCHEMA

    def put(self, data: bytes, ttl: float, now: float) -> tuple[str, float]:
        """Store (or refresh) a blob; a re-upload keeps the later expiry, as upstream does."""
        fid = file_id(data)
        with self._lock:
            self._db.execute("DELETE FROM files WHERE expiry <= ? AND id != ?", (now, fid))
            row = self._db.execute("SELECT expiry FROM files WHERE id = ?", (fid,)).fetchone()
            expiry = now + ttl
            if row is None or row[0] <= now:
                self._db.execute(
                    "INSERT OR REPLACE INTO files (id, data, uploaded, expiry) VALUES (?, ?, ?, ?)",
                    (fid, data, now, expiry),
                )
            else:
                expiry = max(expiry, float(row[0]))
                self._db.execute(
                    "UPDATE files SET uploaded = ?, expiry = ? WHERE id = ?", (now, expiry, fid)
                )
        return fid, expiry

    def get(self, fid: str, now: float) -> tuple[bytes, float, float] | None:
        """(data, uploaded, expiry) of a live blob."""
        with self._lock:
            row = self._db.execute(
                "SELECT data, uploaded, expiry FROM files WHERE id = ? AND expiry > ?", (fid, now)
            ).fetchone()
        return None if row is None else (bytes(row[0]), float(row[1]), float(row[2]))

    def info(self, fid: str, now: float) -> tuple[int, float, float] | None:
        with self._lock:
            row = self._db.execute(
                "SELECT length(data), uploaded, expiry FROM files WHERE id = ? AND expiry > ?",
                (fid, now),
            ).fetchone()
        return None if row is None else (int(row[0]), float(row[1]), float(row[2]))

    def extend(self, fid: str, ttl: float, now: float) -> tuple[int, float, float] | None:
        """Push the expiry to at least now + ttl (never earlier: others know the id too)."""
        with self._lock:
            self._db.execute(
                "UPDATE files SET expiry = MAX(expiry, ?) WHERE id = ? AND expiry > ?",
                (now + ttl, fid, now),
            )
        return self.info(fid, now)

    def tamper(self, fid: str) -> int | None:
        """Flip the lowest bit of the middle byte of a stored blob; returns that offset."""
        with self._lock:
            row = self._db.execute("SELECT data FROM files WHERE id = ?", (fid,)).fetchone()
            if row is None:
                return None
            data = bytearray(row[0])
            offset = len(data) // 2
            data[offset] ^= 0x01
            self._db.execute("UPDATE files SET data = ? WHERE id = ?", (bytes(data), fid))
        return offset

    def count(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM files").fetchone()[0])


def _status(code: int) -> HttpReply:
    # Upstream's error_resp: the code both as HTTP status and as {"status_code": code}.
    return HttpReply.json(code, {"status_code": code})


class FileServer:
    """Plain HTTP on its own loopback address; also an onion v4 destination for its X25519 key."""

    def __init__(self, directory: Path, ip: str, port: int, keys: NodeKeys) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.keys = keys
        self.store = FileStore(directory / "files.sqlite")
        self.server = NodeServer(ip, port, None, self._app)
        self.requests: Counter[str] = Counter()
        self._count_lock = threading.Lock()

    @property
    def ip(self) -> str:
        return self.server.ip

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def url(self) -> str:
        return f"http://{self.ip}:{self.port}"

    def close(self) -> None:
        self.server.go_down()
        self.store.close()

    def describe(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "pubkey_x25519": self.keys.x25519_pk.hex(),
            "pubkey_ed25519": self.keys.ed25519_pk.hex(),
            "state": self.server.state,
            "fault": self.server.fault,
            "files": self.store.count(),
            "requests": dict(self.requests),
        }

    def control(self, args: list[str]) -> dict[str, Any]:
        """`devnet ctl fileserver down|up|hang|fault MODE|tamper ID|status`."""
        verb, rest = (args[0], args[1:]) if args else ("status", [])
        if apply_server_verb(self.server, verb, rest, FAULTS):
            pass
        elif verb == "tamper" and len(rest) == 1:
            offset = self.store.tamper(rest[0])
            if offset is None:
                raise DevnetUsageError(f"no file {rest[0]} on the file server")
            return {**self.describe(), "tampered": {"id": rest[0], "offset": offset}}
        elif verb != "status" or rest:
            raise DevnetUsageError(
                "usage: ctl fileserver down | up | hang | fault none|garbage | tamper ID | status"
            )
        return self.describe()

    # -- requests --------------------------------------------------------------------------

    def _app(self, request: Request) -> Response:
        path = request.path.split("?", 1)[0]
        with self._count_lock:
            self.requests[path if path == lsrpc.V4_PATH else "direct"] += 1
        if path == lsrpc.V4_PATH and request.method == "POST":
            return lsrpc.serve_onion(self.keys, request, self.handle)
        return lsrpc.serve_direct(request, self.handle)

    def handle(self, request: HttpRequest) -> HttpReply:
        parts = request.path.strip("/").split("/")
        now = time.time()
        if request.method == "POST" and parts == ["file"]:
            return self._upload(request, now)
        if len(parts) >= 2 and parts[0] == "file" and parts[1]:
            fid = parts[1]
            if request.method == "GET" and len(parts) == 2:
                return self._download(fid, now)
            if request.method == "GET" and parts[2:] == ["info"]:
                return self._info(self.store.info(fid, now))
            if request.method == "POST" and parts[2:] == ["extend"]:
                return self._extend(request, fid, now)
        return HttpReply.text(404, "Not found")

    def _ttl(self, request: HttpRequest) -> float | None:
        raw = request.headers.get("x-fs-ttl")
        if raw is None:
            return DEFAULT_TTL
        try:
            ttl = int(raw)
        except ValueError:
            return None
        return float(ttl) if 0 <= ttl <= MAX_TTL else None

    def _upload(self, request: HttpRequest, now: float) -> HttpReply:
        if not 0 < len(request.body) <= MAX_FILE_SIZE:
            return _status(413)
        ttl = self._ttl(request)
        if ttl is None:
            return _status(400)
        fid, expiry = self.store.put(request.body, ttl, now)
        return HttpReply.json(200, {"id": fid, "expires": expiry})

    def _download(self, fid: str, now: float) -> HttpReply:
        found = self.store.get(fid, now)
        if found is None:
            return _status(404)
        return HttpReply(200, found[0], "application/octet-stream")

    @staticmethod
    def _info(found: tuple[int, float, float] | None) -> HttpReply:
        if found is None:
            return _status(404)
        size, uploaded, expiry = found
        return HttpReply.json(200, {"size": size, "uploaded": uploaded, "expires": expiry})

    def _extend(self, request: HttpRequest, fid: str, now: float) -> HttpReply:
        ttl = self._ttl(request)
        if ttl is None:
            return _status(400)
        if len(fid) != ID_LENGTH:  # upstream never extends short (legacy numeric) ids
            return _status(404)
        return self._info(self.store.extend(fid, ttl, now))
