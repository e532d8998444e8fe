"""The address book: names for Session IDs, stored in the config folder with atomic, locked writes."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sessioncli.core import names
from sessioncli.core.recipients import Target
from sessioncli.errors import ConfigError, UsageError
from sessioncli.protocol.ids import InvalidSessionId, parse_session_id

KIND = "contact"  # this module's kind of name in sessioncli.core.names


@dataclass(frozen=True)
class Contact:
    name: str
    session_id: str
    added_ms: int


def _read(item: Any) -> Contact:
    return Contact(
        str(item["name"]), parse_session_id(str(item["session_id"])), int(item["added_ms"])
    )


def _write(c: Contact) -> dict[str, Any]:
    return {"name": c.name, "session_id": c.session_id, "added_ms": c.added_ms}


_STORE = names.NameStore(
    kind=KIND,
    plural="contacts",
    read=_read,
    write=_write,
    name_of=lambda c: c.name,
    list_command="sessioncli contacts list",
    damaged_by=(InvalidSessionId,),
)


def contacts_path() -> Path:
    return _STORE.path()


def check_name(name: str) -> str:
    return names.check_name(name, kind=KIND)


def check_id(text: str) -> str:
    try:
        return parse_session_id(text)
    except InvalidSessionId as exc:
        raise UsageError(f"invalid Session ID {text!r}: {exc}") from None


def list_contacts() -> list[Contact]:
    return _STORE.entries()


def get(name: str) -> Contact:
    return _STORE.get(name)


def add(name: str, session_id: str) -> Contact:
    name = check_name(name)
    sid = check_id(session_id)
    return _STORE.add(Contact(name, sid, int(time.time() * 1000)))


def remove(name: str) -> Contact:
    return _STORE.remove(name)


def rename(old: str, new: str) -> Contact:
    new = check_name(new)
    return _STORE.rename(old, new, lambda c, name: Contact(name, c.session_id, c.added_ms))


def lookup_name(name: str) -> Target | None:
    """The DM target of a contact name (case-insensitive), for sessioncli.core.names."""
    found = _STORE.find(name)
    return None if found is None else Target("dm", found.session_id, name=found.name)


def all_names() -> list[str]:
    return _STORE.names()


def resolve_recipient(text: str) -> tuple[str, str | None]:
    """(Session ID, contact name or None) for a Session ID or a contact name."""
    value = text.strip()
    if names.looks_like_id(value):
        return check_id(value), None
    try:
        contact = get(value)
    except UsageError:
        raise UsageError(
            f"unknown recipient {text!r}: not a Session ID and not a contact",
            hints=("add it with: sessioncli contacts add NAME SESSION_ID",),
        ) from None
    return contact.session_id, contact.name


def name_for(session_id: str) -> str | None:
    """The contact name of a Session ID (the first contact with it); None if there is none or
    the file is damaged. receive asks once per message: the store parses only a changed file."""
    try:
        contacts = _STORE.load_unchanged()
    except ConfigError:
        return None
    return next((c.name for c in contacts.values() if c.session_id == session_id), None)
