"""One namespace for the names a user gives: contacts, communities and groups never share a name.

Each kind keeps its own file in the config folder (contacts.json, communities.json, groups.json)
and plugs in here with a small module exposing:

- `KIND`: "contact" | "community" | "group";
- `lookup_name(name) -> Target | None` (case-insensitive);
- `all_names() -> list[str]`;
- groups also: `lookup_id(group_id) -> Target | None`.

`claim(name)` is called by every `add`/`rename` while holding `names_lock()`, so that two kinds
cannot take the same name, even from two processes at once. Lookup order is the order of
`_KIND_MODULES`, but since names are unique across kinds it only matters for speed.

Each kind keeps its file with a `NameStore`: loading (a damaged file is refused, never
rewritten), locked changes, and the add / rename / remove that claim names here.
"""

from __future__ import annotations

import contextlib
import difflib
import importlib
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Generic, TypeVar

from sessioncli import state
from sessioncli.core.recipients import Target
from sessioncli.errors import ConfigError, UsageError

# No spaces, commas (they separate recipients), C0/C1 controls, DEL or lone surrogates (argv
# bytes that were not UTF-8); '@' (a Session name) and '-' (an option) may not lead.
_NAME = re.compile(r"[^\s,\x00-\x1f\x7f-\x9f\ud800-\udfff]{1,64}")

# Modules that own a kind of name; a new kind adds its module here.
_KIND_MODULES: tuple[str, ...] = (
    "sessioncli.core.contacts",
    "sessioncli.core.communities",
    "sessioncli.core.group_store",
)


def _kinds() -> list[ModuleType]:
    return [importlib.import_module(m) for m in _KIND_MODULES]


def looks_like_id(text: str) -> bool:
    """An attempt at an id (05/03/15…, even a broken one) rather than a name."""
    if len(text) == 66:
        return True
    return text[:2] in ("05", "03", "15") and all(c in "0123456789abcdefABCDEF" for c in text)


def check_name(name: str, *, kind: str) -> str:
    """A name usable for a contact, community or group, or a UsageError saying why not."""
    if looks_like_id(name):
        raise UsageError(f"invalid {kind} name {name!a}: it looks like a Session ID")
    if not _NAME.fullmatch(name):
        raise UsageError(
            f"invalid {kind} name {name!a}: 1-64 characters, no spaces, commas, control "
            "characters or invalid UTF-8"
        )
    if name.startswith(("-", "@")):
        raise UsageError(f"invalid {kind} name {name!r}: it may not start with '-' or '@'")
    return name


@contextlib.contextmanager
def names_lock() -> Iterator[None]:
    """Held by every change to any kind's names (after which each kind takes its own lock)."""
    with state.file_lock(state.config_dir() / ".names.lock", what="the name registry"):
        yield


def owner(name: str) -> tuple[str, Target] | None:
    """(kind, target) of whoever holds `name`, or None."""
    for module in _kinds():
        found = module.lookup_name(name)
        if found is not None:
            return str(module.KIND), found
    return None


def claim(name: str, *, kind: str) -> None:
    """Refuse a name already used by any kind (call under `names_lock()`)."""
    held = owner(name)
    if held is not None:
        held_kind, target = held
        shown = target.name or name
        raise UsageError(
            f"the name {shown!r} is already used by a {held_kind}",
            hints=(
                f"names are shared by contacts, communities and groups; pick another {kind} name",
            ),
        )


def all_names() -> list[str]:
    out: list[str] = []
    for module in _kinds():
        out.extend(module.all_names())
    return sorted(out, key=str.casefold)


def lookup(name: str) -> Target:
    """The target a name stands for; UsageError with a 'did you mean' hint when unknown."""
    held = owner(name)
    if held is not None:
        return held[1]
    hints: list[str] = []
    close = difflib.get_close_matches(name.casefold(), [n.casefold() for n in all_names()], n=1)
    if close:
        real = next(n for n in all_names() if n.casefold() == close[0])
        hints.append(f"did you mean {real!r}?")
    hints.append("add it with: sessioncli contacts add NAME SESSION_ID")
    raise UsageError(
        f"unknown recipient {name!r}: not a Session ID, contact, community or group",
        hints=tuple(hints),
    )


def group_by_id(group_id: str) -> Target:
    for module in _kinds():
        finder = getattr(module, "lookup_id", None)
        if finder is not None:
            found = finder(group_id)
            if found is not None:
                return found  # type: ignore[no-any-return]
    raise UsageError(
        f"{group_id[:10]}… is a group id, and we are not a member of that group",
        hints=("see: sessioncli group list",),
    )


# --- one kind's file of named entries --------------------------------------------------------

Entry = TypeVar("Entry")

# what reading a hand-damaged file can raise (RecursionError: absurdly nested JSON)
_DAMAGED = (ValueError, KeyError, TypeError, OverflowError, RecursionError)


@dataclass(frozen=True)
class NameStore(Generic[Entry]):
    """`<plural>.json` in the config folder: {"version": 1, plural: [entry, ...]}, by casefold name.

    `read` builds an entry from one JSON item (raising one of _DAMAGED or `damaged_by` when the
    item is bad); `write` is its inverse; `name_of` is the entry's name.
    """

    kind: str  # "contact": the kind of name in this namespace
    plural: str  # "contacts": the file's name, its list key and its lock
    read: Callable[[Any], Entry]
    write: Callable[[Entry], dict[str, Any]]
    name_of: Callable[[Entry], str]
    list_command: str  # where a user sees the names ("sessioncli contacts list")
    damaged_by: tuple[type[Exception], ...] = ()
    # load_unchanged's last parse: (file identity, entries)
    _parsed: dict[str, tuple[tuple[int, ...], dict[str, Entry]]] = field(
        default_factory=dict, compare=False, repr=False
    )

    def path(self) -> Path:
        return state.config_dir() / f"{self.plural}.json"

    def load(self) -> dict[str, Entry]:
        try:
            raw = self.path().read_bytes()
        except FileNotFoundError:
            return {}
        import json

        damaged: tuple[type[Exception], ...] = (*_DAMAGED, *self.damaged_by)
        try:
            data: Any = json.loads(raw.decode("utf-8"))
            entries = (self.read(item) for item in data[self.plural])
            return {self.name_of(e).casefold(): e for e in entries}
        except damaged:
            raise ConfigError(
                f"{self.plural} file {self.path()} is damaged",
                hints=("fix or remove it; sessioncli never rewrites a file it cannot read",),
            ) from None

    def load_unchanged(self) -> Mapping[str, Entry]:
        """load() for readers asked once per message: the file is parsed again only when it
        changed (inode, size or mtime: every save replaces it). Changes go through load()."""
        path = self.path()
        try:
            st = path.stat()
        except OSError:
            return self.load()
        key = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
        last = self._parsed.get(str(path))
        if last is not None and last[0] == key:
            return last[1]
        entries = self.load()
        self._parsed.clear()
        self._parsed[str(path)] = (key, entries)
        return entries

    def _save(self, entries: dict[str, Entry]) -> None:
        ordered = sorted(entries.values(), key=lambda e: self.name_of(e).casefold())
        state.atomic_write_json(
            self.path(), {"version": 1, self.plural: [self.write(e) for e in ordered]}
        )

    @contextlib.contextmanager
    def changing(self, *, claims: bool = False) -> Iterator[dict[str, Entry]]:
        """The entries under this kind's lock (and `names_lock()` when names are claimed); what
        the block leaves in them is saved if it changed and the block did not raise."""
        held = names_lock() if claims else contextlib.nullcontext()
        lock = state.config_dir() / f".{self.plural}.lock"
        with held, state.file_lock(lock, what=f"the {self.plural} file"):
            entries = self.load()
            before = dict(entries)
            yield entries
            if entries != before:
                self._save(entries)

    def entries(self) -> list[Entry]:
        return sorted(self.load().values(), key=lambda e: self.name_of(e).casefold())

    def names(self) -> list[str]:
        return [self.name_of(e) for e in self.entries()]

    def find(self, name: str) -> Entry | None:
        return self.load().get(name.casefold())

    def get(self, name: str) -> Entry:
        found = self.find(name)
        if found is None:
            raise UsageError(f"unknown {self.kind} {name!r}", hints=(f"see: {self.list_command}",))
        return found

    def _refuse_taken(self, entries: dict[str, Entry], name: str) -> None:
        taken = entries.get(name.casefold())
        if taken is not None:
            raise UsageError(f"a {self.kind} named {self.name_of(taken)!r} already exists")

    def add(
        self, entry: Entry, *, refuse: Callable[[dict[str, Entry]], None] | None = None
    ) -> Entry:
        """Store `entry` under its (checked) name, claimed in the shared namespace; `refuse`
        may raise first to turn away what this kind allows only once (a room, a group id)."""
        name = self.name_of(entry)
        with self.changing(claims=True) as entries:
            if refuse is not None:
                refuse(entries)
            self._refuse_taken(entries, name)
            claim(name, kind=self.kind)
            entries[name.casefold()] = entry
        return entry

    def rename(self, old: str, new: str, renamed: Callable[[Entry, str], Entry]) -> Entry:
        """`renamed(entry, new)` stored under `new` in place of the entry named `old`."""
        with self.changing(claims=True) as entries:
            found = entries.pop(old.casefold(), None)
            if found is None:
                raise UsageError(f"unknown {self.kind} {old!r}")
            self._refuse_taken(entries, new)
            if new.casefold() != old.casefold():
                claim(new, kind=self.kind)
            entry = renamed(found, new)
            entries[new.casefold()] = entry
        return entry

    def remove(self, name: str) -> Entry:
        with self.changing() as entries:
            found = entries.pop(name.casefold(), None)
            if found is None:
                raise UsageError(f"unknown {self.kind} {name!r}")
        return found
