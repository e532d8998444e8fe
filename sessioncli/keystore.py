"""Where the identity secret lives: identity file, SESSIONCLI_IDENTITY, or the OS keyring (sole keyring importer)."""

from __future__ import annotations

import contextlib
import os
import stat
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sessioncli.errors import (
    ConfigError,
    IdentityMissing,
    SecretStoreUnavailable,
    UsageError,
)

SERVICE = "sessioncli"
ENV_IDENTITY = "SESSIONCLI_IDENTITY"

_HOW_TO_PROVIDE = (
    "choose one:",
    "  desktop:  sessioncli keygen            (stores it in the OS keyring)",
    "  server:   sessioncli keygen --identity-file ~/.config/sessioncli/identity",
    "            (read by default when there is no keyring identity; elsewhere: set",
    "            identity_file in config.toml or SESSIONCLI_IDENTITY_FILE)",
    "  CI:       keep the seed in a CI secret, expose it as a file via SESSIONCLI_IDENTITY_FILE",
    "            (or as SESSIONCLI_IDENTITY)",
    "see: man sessioncli (IDENTITY STORAGE)",
)


class SecretFormatError(ConfigError):
    """The stored secret (file, environment, keyring) is neither a seed in hex nor a phrase."""


@dataclass(frozen=True)
class StoredSecret:
    """A seed and where it came from. repr never shows the seed."""

    seed: bytes
    source: str  # "file", "env", "keyring"
    location: str  # path, variable name or keyring entry

    def __repr__(self) -> str:
        return f"StoredSecret(source={self.source!r}, location={self.location!r})"


def keyring_username(profile: str) -> str:
    return f"profile:{profile}"


def parse_secret(text: str, *, origin: str) -> bytes:
    """Seed bytes from hex (16 or 32 bytes) or a recovery phrase; errors never echo the secret."""
    value = text.strip()
    if not value:
        raise SecretFormatError(f"{origin} is empty")
    if len(value) in (32, 64) and all(c in "0123456789abcdefABCDEF" for c in value):
        return bytes.fromhex(value)
    if " " in value:
        from sessioncli.protocol import mnemonic  # the word list only for a phrase

        try:
            return mnemonic.decode(value)
        except mnemonic.MnemonicError as exc:
            raise SecretFormatError(f"{origin}: invalid recovery phrase: {exc.safe}") from None
    raise SecretFormatError(
        f"{origin} holds neither a seed (32 or 64 hex characters) nor a recovery phrase"
    )


# --- identity files ---------------------------------------------------------------------------


def read_identity_file(path_text: str) -> StoredSecret:
    if path_text == "-":
        return StoredSecret(parse_secret(sys.stdin.readline(), origin="stdin"), "file", "-")
    path = Path(path_text).expanduser()
    try:
        st = path.stat()
    except FileNotFoundError:
        raise IdentityMissing(
            f"identity file {path} does not exist",
            hints=("create it with: sessioncli keygen --identity-file " + str(path),),
        ) from None
    except OSError as exc:
        raise ConfigError(f"cannot read identity file {path}: {exc.strerror}") from None
    if stat.S_ISDIR(st.st_mode):
        raise ConfigError(f"identity file {path} is a directory")
    # OpenSSH's rule: a file of ours must be private; a file owned by someone else (a root-owned
    # secret mount) is their business. FIFOs (<(...), systemd credentials) are fine.
    if stat.S_ISREG(st.st_mode) and st.st_uid == os.getuid() and st.st_mode & 0o077:
        raise ConfigError(
            f"permissions {stat.S_IMODE(st.st_mode):04o} for identity file {path} are too open",
            hints=(f"run: chmod 600 {path}",),
        )
    try:
        with open(path, encoding="utf-8", errors="strict") as fh:
            text = fh.read(4096)
    except PermissionError:
        raise ConfigError(f"cannot read identity file {path}: permission denied") from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise ConfigError(f"cannot read identity file {path}: {reason}") from None
    return StoredSecret(parse_secret(text, origin=f"identity file {path}"), "file", str(path))


def write_identity_file(path_text: str, seed: bytes, *, force: bool) -> Path:
    """Create the file 0600 with O_EXCL (no umask or chmod race), parent 0700; never clobber unasked."""
    path = Path(path_text).expanduser()
    if path_text == "-":
        raise UsageError("cannot write an identity to '-'; give a file path")
    if path.is_dir():
        raise UsageError(f"{path} is a directory")
    if path.exists() and not force:
        raise UsageError(
            f"identity file {path} already exists",
            hints=("use --force to replace it (the old identity is lost without its phrase)",),
        )
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, (seed.hex() + "\n").encode("ascii"))
            os.fsync(fd)
        finally:
            os.close(fd)
        if force:
            tmp.replace(path)
        else:
            # link() fails if the target appeared meanwhile: never overwrite without --force.
            try:
                os.link(tmp, path)
            finally:
                tmp.unlink()
    except FileExistsError:
        raise UsageError(f"identity file {path} already exists") from None
    except OSError as exc:
        raise ConfigError(f"cannot write identity file {path}: {exc.strerror}") from None
    return path


# --- the OS keyring ---------------------------------------------------------------------------


def _keyring_backend() -> Any:
    """An acceptable keyring backend, or SecretStoreUnavailable explaining why there is none."""
    try:
        import keyring
        import keyring.backends.chainer
        import keyring.backends.fail
        import keyring.backends.null

        backend = keyring.get_keyring()
    except Exception as exc:  # keyring raises RuntimeError, ImportError, InitError...
        raise _unavailable(str(exc)) from None
    if isinstance(backend, keyring.backends.fail.Keyring):
        raise _unavailable(_fail_reason())
    if isinstance(backend, keyring.backends.null.Keyring):
        raise _unavailable("the null keyring backend is configured (it silently drops secrets)")
    explicit = bool(os.environ.get("PYTHON_KEYRING_BACKEND"))
    if isinstance(backend, keyring.backends.chainer.ChainerBackend):
        good = [b for b in backend.backends if _priority(b) >= 1]
        if not good and not explicit:
            raise _unavailable("only weak (plaintext or prompting) keyring backends are installed")
    elif _priority(backend) < 1 and not explicit:
        raise _unavailable(
            f"keyring backend {type(backend).__name__} is not recommended (stores secrets weakly)"
        )
    return backend


def _priority(backend: Any) -> float:
    try:
        return float(backend.priority)
    except Exception:
        return 0.0


def _fail_reason() -> str:
    if not os.environ.get("DBUS_SESSION_BUS_ADDRESS") and sys.platform.startswith("linux"):
        return "no D-Bus session (DBUS_SESSION_BUS_ADDRESS is unset), so no Secret Service"
    return "no recommended keyring backend is available"


def _unavailable(reason: str) -> SecretStoreUnavailable:
    return SecretStoreUnavailable(
        "no usable OS keyring for the identity",
        hints=(f"keyring said: {reason}", *_HOW_TO_PROVIDE),
    )


def keyring_read(profile: str) -> StoredSecret | None:
    backend = _keyring_backend()
    try:
        value = backend.get_password(SERVICE, keyring_username(profile))
    except Exception as exc:
        raise _unavailable(f"{type(exc).__name__}: {exc}") from None
    if value is None:
        return None
    where = f"keyring {SERVICE}/{keyring_username(profile)}"
    return StoredSecret(parse_secret(value, origin=where), "keyring", where)


def keyring_write(profile: str, seed: bytes) -> str:
    backend = _keyring_backend()
    try:
        backend.set_password(SERVICE, keyring_username(profile), seed.hex())
    except Exception as exc:  # KeyringError, RuntimeError, EOFError from prompting backends
        raise _unavailable(f"{type(exc).__name__}: {exc}") from None
    return f"keyring {SERVICE}/{keyring_username(profile)}"


def keyring_available() -> bool:
    try:
        _keyring_backend()
    except SecretStoreUnavailable:
        return False
    return True


# --- resolution -------------------------------------------------------------------------------


def default_identity_file(profile: str) -> Path | None:
    """The conventional identity file (config folder/identity), for the default profile only."""
    if profile != "default":
        return None
    from sessioncli import state

    return state.config_dir() / "identity"


def load_secret(
    profile: str, identity_file: str | None, *, configured_file: str | None = None
) -> StoredSecret:
    """First found wins (docs/cli.md, IDENTITY STORAGE in the man page):

    1. --identity-file / SESSIONCLI_IDENTITY_FILE, 2. SESSIONCLI_IDENTITY, 3. identity_file in
    config.toml, 4. the OS keyring, 5. the default identity file when it exists. The default
    file comes after the keyring so that creating it never silently replaces a desktop user's
    keyring identity; it is held to the same 0600 rule as any identity file.
    """
    if identity_file:
        return read_identity_file(identity_file)
    env_value = os.environ.get(ENV_IDENTITY)
    if env_value is not None and env_value.strip():
        return StoredSecret(parse_secret(env_value, origin=ENV_IDENTITY), "env", ENV_IDENTITY)
    if configured_file:
        return read_identity_file(configured_file)
    fallback = default_identity_file(profile)
    try:
        found = keyring_read(profile)
    except SecretStoreUnavailable as exc:
        if fallback is not None and fallback.exists():
            return read_identity_file(str(fallback))
        raise IdentityMissing(
            f"no identity for profile {profile!r}: no identity file, no {ENV_IDENTITY}, "
            "and no usable OS keyring",
            hints=(exc.hints[0], *_HOW_TO_PROVIDE),
        ) from None
    if found is None:
        if fallback is not None and fallback.exists():
            return read_identity_file(str(fallback))
        raise IdentityMissing(
            f"no identity for profile {profile!r} (not in the keyring, no identity file, "
            f"no {ENV_IDENTITY})",
            hints=_HOW_TO_PROVIDE,
        )
    return found
