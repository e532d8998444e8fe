"""Builds what a networked command needs (identity, network client, state folder) from plain values."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sessioncli.core import settings
from sessioncli.core.conversations import network_identity_dir

if TYPE_CHECKING:
    from sessioncli.net.client import NetworkClient
    from sessioncli.protocol.ids import Identity


@dataclass(frozen=True)
class Options:
    """Plain values from the CLI (flags and environment already merged by typer)."""

    profile: str = "default"
    network: str | None = None
    identity_file: str | None = None
    proxy: str | None = None
    timeout: float | None = None


@dataclass(frozen=True)
class Resolved:
    network: str | None
    proxy: str | None
    timeout: float
    config: settings.Config


def resolve(opts: Options) -> Resolved:
    cfg = settings.load_config()
    return Resolved(
        network=settings.pick(opts.network, "SESSIONCLI_NETWORK", cfg.network),
        proxy=settings.pick(opts.proxy, "SESSIONCLI_PROXY", cfg.proxy),
        timeout=settings.resolve_timeout(opts.timeout, cfg),
        config=cfg,
    )


_request_trace: list[Callable[[str], None]] = []  # set once per process by the CLI's -v


def trace_requests(sink: Callable[[str], None]) -> None:
    """Every network client opened from now on reports each onion request to `sink` (-v)."""
    _request_trace[:] = [sink]


def open_network(resolved: Resolved, *, timeout: float | None = None) -> NetworkClient:
    from sessioncli.net.client import NetworkClient

    return NetworkClient(
        resolved.network,
        timeout=timeout if timeout is not None else resolved.timeout,
        proxy=resolved.proxy or _no_proxy_anywhere(),
        trace=_request_trace[0] if _request_trace else None,
    )


def _no_proxy_anywhere() -> str | None:
    """ "none" when nothing could give requests a proxy: no HTTP(S)_PROXY / ALL_PROXY variable and
    a platform without system proxy settings (urllib reads those on macOS and Windows). Then the
    transport goes direct without importing urllib.request to ask getproxies() (~15 ms of every
    networked command); otherwise None lets the transport ask."""
    if sys.platform in ("darwin", "win32"):
        return None
    names = ("http_proxy", "https_proxy", "all_proxy")
    if any(value for key, value in os.environ.items() if key.lower() in names):
        return None
    return "none"


def load_identity(opts: Options) -> Identity:
    from sessioncli.core import identity

    ident, _ = identity.load(opts.profile, opts.identity_file)
    return ident


def state_folder(resolved: Resolved, session_id: str) -> Path:
    return network_identity_dir(resolved.network, session_id)


@dataclass(frozen=True)
class Account:
    """What a command acting as the identity starts from: settings, identity, its state folder."""

    resolved: Resolved
    identity: Identity
    folder: Path


def open_account(opts: Options) -> Account:
    resolved = resolve(opts)
    identity = load_identity(opts)
    return Account(resolved, identity, state_folder(resolved, identity.session_id))
