"""The data tree inside a libsession config message: parse, serialize, prune, diff and apply a diff."""

from __future__ import annotations

import copy
import itertools
from typing import TypeAlias

from sessioncli.protocol.groups.bencode import BencodeError, BtValue

Scalar: TypeAlias = int | bytes
ConfigValue: TypeAlias = int | bytes | set[Scalar] | dict[bytes, "ConfigValue"]
ConfigDict: TypeAlias = dict[bytes, ConfigValue]
"""Config data: scalars (int64 or bytes), sets of scalars, and nested dicts, keyed by bytes."""

Diff = dict[bytes, BtValue]
"""A diff: b"" (scalar set), b"-" (scalar removed), nested Diff, or [[added…], [removed…]]."""

REMOVED = b"-"
CHANGED = b""


class ConfigParseError(BencodeError):
    """A config message (or part of one) breaks libsession's rules."""


def _scalar_order(v: Scalar) -> tuple[bool, int | bytes]:
    # libsession's set order: every int before every string; each sorted naturally
    return (isinstance(v, bytes), v)


def sorted_scalars(values: set[Scalar]) -> list[Scalar]:
    return sorted(values, key=_scalar_order)


def _is_scalar(v: object) -> bool:
    return isinstance(v, int | bytes) and not isinstance(v, bool)


# --- bencode <-> data ------------------------------------------------------------------------


def data_to_bt(data: ConfigDict) -> dict[bytes, BtValue]:
    """The bencodable form (sets become sorted lists)."""
    out: dict[bytes, BtValue] = {}
    for k, v in data.items():
        if isinstance(v, dict):
            out[k] = data_to_bt(v)
        elif isinstance(v, set):
            out[k] = list(sorted_scalars(v))
        else:
            out[k] = v
    return out


def _check_ascending(values: list[BtValue], what: str) -> None:
    for a, b in itertools.pairwise(values):
        if not (_is_scalar(a) and _is_scalar(b)):
            raise ConfigParseError(f"{what}: only ints and strings are allowed")
        assert isinstance(a, int | bytes) and isinstance(b, int | bytes)
        if _scalar_order(a) >= _scalar_order(b):
            raise ConfigParseError(f"{what}: unsorted or duplicate elements")


def parse_data(raw: BtValue, *, top_level: bool = True) -> ConfigDict:
    """Config data from its bencoded form; empty nested dicts/sets are refused (they are pruned)."""
    if not isinstance(raw, dict):
        raise ConfigParseError("config data must be a dict")
    if not top_level and not raw:
        raise ConfigParseError("data contains an unpruned, empty dict")
    out: ConfigDict = {}
    for k, v in raw.items():
        if isinstance(v, dict):
            out[k] = parse_data(v, top_level=False)
        elif isinstance(v, list):
            if not v:
                raise ConfigParseError("data contains an unpruned, empty set")
            if not all(_is_scalar(x) for x in v):
                raise ConfigParseError("data contains a set with a non-scalar value")
            _check_ascending(v, "config set")
            out[k] = {x for x in v if isinstance(x, int | bytes)}
        else:
            out[k] = v
    return out


def parse_diff(raw: BtValue) -> Diff:
    """A diff dict, validated as libsession's load_diff does."""
    if not isinstance(raw, dict):
        raise ConfigParseError("config diff must be a dict")
    out: Diff = {}
    for k, v in raw.items():
        if isinstance(v, bytes):
            if v not in (CHANGED, REMOVED):
                raise ConfigParseError("config diff contains an invalid scalar marker")
            out[k] = v
        elif isinstance(v, list):
            if len(v) != 2 or not all(isinstance(sub, list) for sub in v):
                raise ConfigParseError("config diff set change must be [[added], [removed]]")
            for sub in v:
                assert isinstance(sub, list)
                _check_ascending(sub, "config diff set")
                if len(sub) == 1 and not _is_scalar(sub[0]):
                    raise ConfigParseError("config diff set: only ints and strings are allowed")
            out[k] = v
        elif isinstance(v, dict):
            out[k] = parse_diff(v)
        else:
            raise ConfigParseError("config diff contains an integer value")
    return out


# --- prune / diff / apply --------------------------------------------------------------------


def prune(data: ConfigDict) -> bool:
    """Drop empty sets and dicts, recursively; True if anything nested was removed."""
    removed = False
    for k in list(data):
        v = data[k]
        if isinstance(v, dict):
            removed |= prune(v)
            if not v:
                del data[k]
                removed = True
        elif isinstance(v, set) and not v:
            del data[k]
            removed = True
    return removed


def _set_diff(old: set[Scalar], new: set[Scalar]) -> list[BtValue] | None:
    added = sorted_scalars(new - old)
    removed = sorted_scalars(old - new)
    if not added and not removed:
        return None
    return [list(added), list(removed)]


def _kind(v: ConfigValue) -> int:
    return 2 if isinstance(v, dict) else 1 if isinstance(v, set) else 0


def _as_new(v: ConfigValue) -> BtValue:
    if isinstance(v, dict):
        return diff(ConfigDict(), v) or {}
    if isinstance(v, set):
        return _set_diff(set(), v) or [[], []]
    return CHANGED


def diff(old: ConfigDict, new: ConfigDict) -> Diff | None:
    """What changed from `old` to `new` (None if nothing), as libsession's diff_impl writes it."""
    out: Diff = {}
    for k in sorted(old.keys() | new.keys()):
        if k not in new:
            o = old[k]
            if isinstance(o, dict):
                out[k] = diff(o, ConfigDict()) or {}
            elif isinstance(o, set):
                out[k] = _set_diff(o, set()) or [[], []]
            else:
                out[k] = REMOVED
            continue
        n = new[k]
        if k not in old or _kind(old[k]) != _kind(n):
            out[k] = _as_new(n)  # a type change is a new value (it deletes the old one on merge)
            continue
        o = old[k]
        if isinstance(o, dict) and isinstance(n, dict):
            sub = diff(o, n)
            if sub is not None:
                out[k] = sub
        elif isinstance(o, set) and isinstance(n, set):
            sd = _set_diff(o, n)
            if sd is not None:
                out[k] = sd
        elif o != n or type(o) is not type(n):
            out[k] = CHANGED
    return out or None


def apply_diff(data: ConfigDict, changes: Diff, source: ConfigDict) -> None:
    """Replay `changes` onto `data`, taking values from `source` (the message that carried them).

    As libsession: a key whose source value is missing or of another type than the diff says is
    deleted now (a later diff removes or retypes it anyway); empty containers are left for prune().
    """
    for k, change in changes.items():
        src = source.get(k)
        wrong_type = (
            src is None
            or (isinstance(change, bytes) and _kind(src) != 0)
            or (isinstance(change, list) and not isinstance(src, set))
            or (isinstance(change, dict) and not isinstance(src, dict))
        )
        if wrong_type:
            data.pop(k, None)
            continue
        assert src is not None
        if isinstance(change, bytes):
            if change == REMOVED:
                data.pop(k, None)
            elif change == CHANGED:
                data[k] = src
            else:
                raise ConfigParseError("invalid diff marker")
        elif isinstance(change, dict):
            sub = data.get(k)
            if not isinstance(sub, dict):
                sub = data[k] = ConfigDict()
            assert isinstance(src, dict)
            apply_diff(sub, change, src)
        elif isinstance(change, list):
            target = data.get(k)
            if not isinstance(target, set):
                target = data[k] = set()
            added, removed = change
            assert isinstance(added, list) and isinstance(removed, list)
            for v in added:
                if not _is_scalar(v):
                    raise ConfigParseError("invalid set diff value")
                assert isinstance(v, int | bytes)
                target.add(v)
            for v in removed:
                if not _is_scalar(v):
                    raise ConfigParseError("invalid set diff value")
                assert isinstance(v, int | bytes)
                target.discard(v)
        else:
            raise ConfigParseError("invalid diff value type")


def deep_copy(data: ConfigDict) -> ConfigDict:
    return copy.deepcopy(data)
