"""The exception root: every error the tool raises on purpose knows its exit code."""

from __future__ import annotations

from sessioncli.exitcodes import ExitCode


class SessionCliError(Exception):
    """Root of every deliberate error. `message` is one line; `hints` are extra stderr lines."""

    exit_code: ExitCode = ExitCode.ERROR

    def __init__(self, message: str, *, hints: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.hints = hints

    def __str__(self) -> str:
        return self.message


class UsageError(SessionCliError):
    """Bad input from the user: arguments, Session IDs, phrases, message bodies."""

    exit_code = ExitCode.USAGE


class ConfigError(SessionCliError):
    """Identity or configuration is missing, unusable or unsafe."""

    exit_code = ExitCode.CONFIG


class IdentityMissing(ConfigError):
    """No identity was found in any of the places we look."""


class SecretStoreUnavailable(ConfigError):
    """No acceptable OS keyring backend could be used."""


class NetworkUnavailable(SessionCliError):
    """The network could not be reached at all (seeds, guards, swarm) after retries."""

    exit_code = ExitCode.UNAVAILABLE


class TemporaryFailure(SessionCliError):
    """Worth retrying later: timeouts, 5xx, a held lock."""

    exit_code = ExitCode.TEMPFAIL


class ProtocolError(SessionCliError):
    """The other side sent something we cannot accept (malformed response, refused request)."""

    exit_code = ExitCode.ERROR


class PartialFailure(SessionCliError):
    """Some of several operations succeeded and some failed (e.g. send to several recipients)."""

    exit_code = ExitCode.PARTIAL
