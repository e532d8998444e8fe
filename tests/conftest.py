"""Shared fixtures: private config/state/cache folders, an in-memory keyring, the canary identity."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

# The canary: a throwaway identity whose secrets must never show up in any output or file.
CANARY_SEED_HEX = "c0ffee00c0ffee00c0ffee00deadbeef"
CANARY_PHRASE_WORDS = None  # filled lazily by canary_phrase()


def canary_phrase() -> str:
    from sessioncli.protocol import mnemonic

    return mnemonic.encode(bytes.fromhex(CANARY_SEED_HEX))


_ENV_TO_CLEAR = (
    "SESSIONCLI_PROFILE",
    "SESSIONCLI_NETWORK",
    "SESSIONCLI_IDENTITY_FILE",
    "SESSIONCLI_IDENTITY",
    "SESSIONCLI_PROXY",
    "SESSIONCLI_DEBUG",
    "PYTHON_KEYRING_BACKEND",
    "ALL_PROXY",
    "HTTPS_PROXY",
    "HTTP_PROXY",
    "https_proxy",
    "http_proxy",
    "all_proxy",
)


@pytest.fixture(autouse=True)
def private_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Every test gets its own config/state/cache folders and no inherited sessioncli settings."""
    for name in _ENV_TO_CLEAR:
        monkeypatch.delenv(name, raising=False)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("SESSIONCLI_CONFIG_DIR", str(home / "config"))
    monkeypatch.setenv("SESSIONCLI_STATE_DIR", str(home / "state"))
    monkeypatch.setenv("SESSIONCLI_CACHE_DIR", str(home / "cache"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    yield home


@pytest.fixture
def memory_keyring() -> Iterator[object]:
    import keyring

    from tests.memkeyring import MemoryKeyring

    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


def cli_env(home: Path, **extra: str) -> dict[str, str]:
    """A minimal, cron-like environment for running the installed command in a subprocess."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "LANG": "C",
        "PYTHONPATH": str(REPO),
        "SESSIONCLI_CONFIG_DIR": str(home / "config"),
        "SESSIONCLI_STATE_DIR": str(home / "state"),
        "SESSIONCLI_CACHE_DIR": str(home / "cache"),
    }
    env.update(extra)
    return env


def run_cli(
    args: list[str],
    home: Path,
    *,
    input: str | bytes | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    """Run `python -m sessioncli ARGS` in a subprocess with a cron-like environment."""
    data = input.encode("utf-8") if isinstance(input, str) else (input or b"")
    raw = subprocess.run(
        [sys.executable, "-m", "sessioncli", *args],
        input=data,
        capture_output=True,
        env=env if env is not None else cli_env(home),
        timeout=timeout,
        check=False,
    )
    return subprocess.CompletedProcess(
        raw.args,
        raw.returncode,
        raw.stdout.decode("utf-8", "replace"),
        raw.stderr.decode("utf-8", "replace"),
    )
