"""Devnet errors, each carrying the exit code the CLI gives it."""

from __future__ import annotations

from sessioncli.errors import NetworkUnavailable, TemporaryFailure, UsageError


class DevnetUsageError(UsageError):
    """A bad devnet option, node id, fault mode or clock value."""


class DevnetDirError(UsageError):
    """The devnet folder cannot be created or used."""


class DevnetAlreadyRunning(TemporaryFailure):
    """Another devnet holds the lock on this folder."""


class DevnetNotRunning(NetworkUnavailable):
    """No devnet answers on this folder's control port."""
