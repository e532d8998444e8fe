"""Files on disk: XDG folders, atomic writes, advisory locks; never holds secrets."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sessioncli.errors import ConfigError, TemporaryFailure

APP = "sessioncli"


def _xdg(env_override: str, xdg_var: str, fallback: str) -> Path:
    explicit = os.environ.get(env_override)
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get(xdg_var)
    root = Path(base).expanduser() if base else Path.home() / fallback
    return root / APP


def config_dir() -> Path:
    """$SESSIONCLI_CONFIG_DIR, else $XDG_CONFIG_HOME/sessioncli (contacts, config.toml)."""
    return _xdg("SESSIONCLI_CONFIG_DIR", "XDG_CONFIG_HOME", ".config")


def state_dir() -> Path:
    """$SESSIONCLI_STATE_DIR, else $XDG_STATE_HOME/sessioncli (receive cursors, seen hashes)."""
    return _xdg("SESSIONCLI_STATE_DIR", "XDG_STATE_HOME", ".local/state")


def cache_dir() -> Path:
    """$SESSIONCLI_CACHE_DIR, else $XDG_CACHE_HOME/sessioncli (node pool, swarms, paths)."""
    return _xdg("SESSIONCLI_CACHE_DIR", "XDG_CACHE_HOME", ".cache")


def ensure_dir(path: Path) -> Path:
    """Create a private (0700) folder and its parents if missing."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def atomic_write_bytes(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Write via a temp file in the same folder, fsync, rename: readers see old or new, never half."""
    ensure_dir(path.parent)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):
        dfd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)


def atomic_write_json(path: Path, value: Any) -> None:
    atomic_write_bytes(path, (json.dumps(value, indent=1, sort_keys=True) + "\n").encode("utf-8"))


def read_json(path: Path, default: Any = None) -> Any:
    """Parsed JSON, or `default` when the file is missing or damaged (caches must never break us)."""
    try:
        with open(path, "rb") as fh:
            return json.loads(fh.read().decode("utf-8"))
    except FileNotFoundError:
        return default
    except (OSError, ValueError, RecursionError):  # RecursionError: absurdly nested JSON
        return default


@contextlib.contextmanager
def file_lock(
    path: Path, *, wait: float | None = 10.0, what: str = "a state file"
) -> Iterator[None]:
    """An flock on `path`. wait=None: fail at once if held; otherwise wait up to `wait` seconds.

    The kernel drops an flock when its holder dies (even by kill -9), so no lock outlives its process.
    """
    ensure_dir(path.parent)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        deadline = None if wait is None else time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    raise ConfigError(f"cannot lock {path}: {exc.strerror}") from None
                if deadline is None or time.monotonic() >= deadline:
                    raise TemporaryFailure(
                        f"{what} is locked by another sessioncli process"
                    ) from None
                time.sleep(0.02)
        yield
    finally:
        os.close(fd)
