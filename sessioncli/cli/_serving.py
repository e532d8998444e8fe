"""Shared by the serving commands (daemon, webhook): the HTTP bearer token, from a file or env."""

from __future__ import annotations

import os
from pathlib import Path

from sessioncli.errors import ConfigError


def read_token(token_file: str | None, *env_vars: str) -> str | None:
    """The HTTP bearer token: the first line of `token_file`, else the first of `env_vars` that is
    set; never argv (a token on a command line is readable by every user of the machine)."""
    if token_file:
        try:
            text = Path(token_file).read_text("utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read token file {token_file}: {exc}") from None
        if not text:
            raise ConfigError(f"token file {token_file} is empty")
        return text.splitlines()[0]
    return next((os.environ[v] for v in env_vars if os.environ.get(v)), None)
