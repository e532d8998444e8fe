"""Files on disk: XDG folders, atomic writes, advisory locks; never holds secrets."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import stat
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
    """Create a private (0700) folder and any missing parents 0700, whatever the umask.

    mkdir's mode is filtered by the umask and `parents=True` makes parents with the umask's
    default (0777 under umask 000, 0755 under 022: a state folder listing every Session ID used
    on the host). So each folder we create is chmod-ed to 0700; our own top folders that an
    older version made too open are tightened on first use.
    """
    if not path.is_dir():
        missing: list[Path] = []
        probe = path
        while not probe.exists() and probe != probe.parent:
            missing.append(probe)
            probe = probe.parent
        for folder in reversed(missing):
            try:
                folder.mkdir(mode=0o700)
            except FileExistsError:
                continue  # made by a parallel process: its own mkdir chose the mode
            os.chmod(folder, 0o700)
    _tighten_roots()
    return path


_tightened = False


def _tighten_roots() -> None:
    """Once per process: our state and cache folders drop group/other access if they have it.

    (The config folder is left as it is: a user may share it on purpose; we create it 0700.)"""
    global _tightened
    if _tightened:
        return
    _tightened = True
    for root in (state_dir(), cache_dir()):
        with contextlib.suppress(OSError):
            st = root.stat()
            if st.st_uid == os.getuid() and st.st_mode & 0o077:
                os.chmod(root, 0o700)
        with contextlib.suppress(OSError):  # the per-network folders directly below
            for child in root.iterdir():
                st = child.lstat()
                mine = st.st_uid == os.getuid() and stat.S_ISDIR(st.st_mode)
                if mine and st.st_mode & 0o077:
                    os.chmod(child, 0o700)


def atomic_write_bytes(path: Path, data: bytes, mode: int = 0o600, *, durable: bool = True) -> None:
    """Write via a temp file in the same folder, fsync, rename: readers see old or new, never half.

    durable=False (caches: losing one costs a rebuild, never correctness) skips both fsyncs:
    other processes still see old or new, and after a power cut the file may be old, empty or
    gone, which every cache reader treats as missing. 100 swarm lookups of a fan-out send were
    200 fsyncs."""
    ensure_dir(path.parent)
    fd, tmp = _create_temp(path)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            if durable:
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    if not durable:
        return
    with contextlib.suppress(OSError):
        dfd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)


def _create_temp(path: Path) -> tuple[int, str]:
    """A new file beside `path` (".NAME.RANDOM.tmp", 0600, opened exclusively), as
    tempfile.mkstemp makes, without importing tempfile (and random, shutil) on every command."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC | getattr(os, "O_NOFOLLOW", 0)
    for _ in range(100):
        tmp = str(path.parent / f".{path.name}.{os.urandom(6).hex()}.tmp")
        try:
            return os.open(tmp, flags, 0o600), tmp
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary name beside {path}")


def atomic_write_json(path: Path, value: Any, *, durable: bool = True) -> None:
    text = json.dumps(value, indent=1, sort_keys=True) + "\n"
    atomic_write_bytes(path, text.encode("utf-8"), durable=durable)


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
