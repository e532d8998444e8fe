"""User defaults from config.toml, and how flags, environment, config and defaults combine."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, fields
from pathlib import Path

from sessioncli import state
from sessioncli.errors import ConfigError, UsageError

DEFAULT_TIMEOUT_S = 30.0
DEFAULT_TTL_MS = 14 * 24 * 3600 * 1000  # what official clients use for a DM
MIN_TTL_MS = 10 * 1000  # storage server minimum
MAX_TTL_MS = 14 * 24 * 3600 * 1000  # storage server maximum for the public inbox (namespace 0)

_UNITS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}
_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)")
_DURATION = re.compile(r"(?:\d+(?:\.\d+)?\s*(?:ms|s|m|h|d|w)\s*)+|\d+(?:\.\d+)?")


@dataclass(frozen=True)
class Config:
    """What config.toml may set. None means: not set there."""

    network: str | None = None
    display_name: str | None = None
    ttl: str | None = None
    proxy: str | None = None
    timeout: float | None = None
    identity_file: str | None = None  # after the flag and the environment, before the keyring
    avatar: str | None = None  # path of the profile picture sent with messages
    # [sendmail] table: aliases (address or local part -> recipient words), max_chars
    sendmail_aliases: dict[str, str] = field(default_factory=dict)
    sendmail_max_chars: int | None = None


_TABLES = {"sendmail"}  # TOML tables (the other settings are plain keys)


def config_path() -> Path:
    return state.config_dir() / "config.toml"


def parse_duration_ms(text: str, *, what: str = "duration") -> int:
    """'90s', '30m', '1h30m', '14d', '2w', '500ms' or bare seconds -> milliseconds."""
    value = text.strip().lower()
    if not _DURATION.fullmatch(value):
        raise UsageError(
            f"invalid {what} {text!r}: use numbers with units ms, s, m, h, d or w "
            "(e.g. 90s, 1h, 1h30m, 2d)"
        )
    if value.replace(".", "", 1).isdigit():
        return int(float(value) * 1000)
    return int(sum(float(n) * _UNITS[u] for n, u in _PART.findall(value)))


def parse_ttl_ms(text: str) -> int:
    ttl = parse_duration_ms(text, what="TTL")
    if not MIN_TTL_MS <= ttl <= MAX_TTL_MS:
        raise UsageError(
            f"TTL {text!r} is out of range: the network accepts 10s to 14d for direct messages"
        )
    return ttl


def _line_of(text: str, key: str) -> int:
    for number, line in enumerate(text.splitlines(), 1):
        if re.match(rf"\s*{re.escape(key)}\s*=", line):
            return number
    return 1


def load_config(path: Path | None = None) -> Config:
    """Read config.toml; a missing file is an empty config, a broken one is exit 78 with the line."""
    path = path or config_path()
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return Config()
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    import tomllib  # only when there is a file: most cron jobs have none

    try:
        text = raw.decode("utf-8")
        data = tomllib.loads(text)
    except UnicodeDecodeError:
        raise ConfigError(f"config file {path}: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path}: {exc}") from None
    except (ValueError, RecursionError):  # e.g. an integer beyond int's digit limit, deep nesting
        raise ConfigError(f"config file {path}: a value is too long or too deeply nested") from None
    known = {f.name for f in fields(Config) if not f.name.startswith("sendmail_")} | _TABLES
    values: dict[str, object] = {}
    for key, value in data.items():
        line = _line_of(text, key)
        if key == "sendmail":
            values.update(_sendmail_table(value, path, text))
            continue
        if key not in known:
            raise ConfigError(
                f"config file {path}, line {line}: unknown setting {key!r}",
                hints=(f"known settings: {', '.join(sorted(known))}",),
            )
        if key == "timeout":
            if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                raise ConfigError(
                    f"config file {path}, line {line}: timeout must be a positive number of seconds"
                )
            values[key] = float(value)
            continue
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(f"config file {path}, line {line}: {key} must be a non-empty string")
        if key == "ttl":
            try:
                parse_ttl_ms(value)
            except UsageError as exc:
                raise ConfigError(f"config file {path}, line {line}: {exc.message}") from None
        values[key] = value
    return Config(**values)  # type: ignore[arg-type]


def _sendmail_table(value: object, path: Path, text: str) -> dict[str, object]:
    where = f"config file {path}, line {_line_of(text, 'aliases')}"
    if not isinstance(value, dict):
        raise ConfigError(f"config file {path}: [sendmail] must be a table")
    out: dict[str, object] = {}
    for key, item in value.items():
        if key == "aliases":
            if not isinstance(item, dict) or not all(
                isinstance(k, str) and isinstance(v, str) and v.strip() for k, v in item.items()
            ):
                raise ConfigError(f"{where}: [sendmail.aliases] maps addresses to recipient names")
            out["sendmail_aliases"] = {k.casefold(): v for k, v in item.items()}
        elif key == "max_chars":
            if isinstance(item, bool) or not isinstance(item, int) or not 100 <= item <= 60_000:
                raise ConfigError(f"{where}: sendmail max_chars must be 100 to 60000")
            out["sendmail_max_chars"] = item
        else:
            raise ConfigError(
                f"config file {path}: unknown setting sendmail.{key}",
                hints=("known: sendmail.aliases, sendmail.max_chars",),
            )
    return out


def pick(flag: str | None, env_var: str, config_value: str | None) -> str | None:
    """flag > environment > config file (the default is the caller's)."""
    if flag:
        return flag
    env = os.environ.get(env_var)
    if env:
        return env
    return config_value


def resolve_timeout(flag: float | None, config: Config) -> float:
    if flag is not None:
        return flag
    env = os.environ.get("SESSIONCLI_TIMEOUT")
    if env:
        try:
            value = float(env)
        except ValueError:
            raise UsageError(f"SESSIONCLI_TIMEOUT={env!r} is not a number of seconds") from None
        if value <= 0:
            raise UsageError("SESSIONCLI_TIMEOUT must be positive")
        return value
    return config.timeout if config.timeout is not None else DEFAULT_TIMEOUT_S


def resolve_ttl_ms(flag: str | None, config: Config) -> int:
    chosen = pick(flag, "SESSIONCLI_TTL", config.ttl)
    return parse_ttl_ms(chosen) if chosen else DEFAULT_TTL_MS


def network_key(network: str | None) -> str:
    """The folder name of a network's state: mainnet, testnet, or a network file's name + digest.

    See `sessioncli.net.networks.network_key`: a file's key names what identifies the network
    (its seeds and their certificates), so two devnets called alike never share state.
    """
    if not network or network == "mainnet":
        return "mainnet"
    if network == "testnet":
        return "testnet"
    from sessioncli.net.networks import resolve_network

    return resolve_network(network).key


def legacy_network_key(network: str | None) -> str | None:
    """The folder name state used before networks were keyed by their seeds: the file's name."""
    if not network or network in ("mainnet", "testnet"):
        return None
    import json

    try:
        path = Path(network).expanduser()
    except RuntimeError:  # "~user/..." for a user that does not exist
        path = Path(network)
    try:
        name = str(json.loads(path.read_text("utf-8"))["name"])
    except (OSError, ValueError, KeyError, TypeError, RecursionError):
        return None
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", name)[:64]
    return safe or "custom"
