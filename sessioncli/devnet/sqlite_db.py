"""One SQLite file behind one lock, in autocommit WAL mode: what every devnet store is built on."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import ClassVar


class LockedDatabase:
    """Thread-safe through one lock; each public call of a store is one short transaction.

    A store names its `SCHEMA` (CREATE ... IF NOT EXISTS, run at every open) and any `PRAGMAS`
    beyond WAL, and whether it is `EXCLUSIVE` to this process; `_lock` guards every use of `_db`.
    """

    SCHEMA: ClassVar[str]
    PRAGMAS: ClassVar[tuple[str, ...]] = ()
    # Only this process opens the file: no file locks per transaction, WAL index in memory.
    EXCLUSIVE: ClassVar[bool] = False

    def __init__(self, path: Path) -> None:
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        if self.EXCLUSIVE:  # before WAL is entered, or the index stays in shared memory
            self._db.execute("PRAGMA locking_mode=EXCLUSIVE")
        self._db.execute("PRAGMA journal_mode=WAL")
        for pragma in self.PRAGMAS:
            self._db.execute(f"PRAGMA {pragma}")
        self._db.executescript(self.SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()
