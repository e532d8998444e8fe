"""What a recipient word means: a DM, a community, a group or a Session name, from one namespace.

Every command that takes a recipient (`send`, `--to`, `contacts add NAME @ONS`, the daemon, the
sendmail shim) goes through `parse_target`, so that one word means one thing everywhere:

- `05…` (66 hex): a direct message to that Session ID;
- `03…` (66 hex): a group we have joined (by id);
- `15…` (66 hex) with `via=COMMUNITY`: a blinded DM through that community's inbox;
- `@name`: a Session name (ONS), resolved through the network before sending (the `@` is
  required, so that a typo in a contact name never goes to a stranger who registered it);
- anything else: a name from the one namespace shared by contacts, communities and groups
  (case-insensitive; see `sessioncli.core.names`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from sessioncli.errors import UsageError

Source = Literal["dm", "community", "community_dm", "group"]
"""The kind of conversation: in send results and receive records alike (`"source"` in JSON)."""

SOURCES: tuple[Source, ...] = ("dm", "community", "community_dm", "group")

# ONS names: letters, digits, '-' and '_' (no leading/trailing '-'), at most 64 (SPEC §4.4).
_ONS_NAME = re.compile(r"[a-z0-9_](?:[a-z0-9_-]{0,62}[a-z0-9_])?")
_HEX66 = re.compile(r"[0-9a-fA-F]{66}")


@dataclass(frozen=True)
class Target:
    """One resolved (or, for `@name`, still to be resolved) recipient of a send.

    `address` is what the network needs: a 05/03/15 id, or a community's canonical URL.
    `name` is the word the user typed when it was a name (contact, community, group), else None.
    `ons` is set (and `address` empty) for an `@name` that the sender must resolve first.
    `via` is the community name a blinded DM goes through.
    """

    source: Source
    address: str
    name: str | None = None
    ons: str | None = None
    via: str | None = None

    @property
    def label(self) -> str:
        """How messages and errors name this recipient."""
        if self.ons is not None:
            return "@" + self.ons
        return self.name or self.address


def check_ons_name(text: str) -> str:
    """The lowercase ONS name of `text` (without `@`), or a UsageError naming what is wrong."""
    name = text.lower()
    if not _ONS_NAME.fullmatch(name):
        raise UsageError(
            f"invalid Session name {text!r}: letters, digits, '-' and '_', at most 64, "
            "not starting or ending with '-'"
        )
    return name


def parse_target(text: str, *, via: str | None = None) -> Target:
    """Map one recipient word to a Target; raises UsageError (exit 2) for what cannot work."""
    from sessioncli.core import names

    value = text.strip()
    if not value:
        raise UsageError("empty recipient")
    if via is not None:
        return _blinded_dm(value, via)
    if value.startswith("@"):
        return Target("dm", "", ons=check_ons_name(value[1:]))
    if names.looks_like_id(value):
        if _HEX66.fullmatch(value) and value[:2] == "03":
            return names.group_by_id(value.lower())
        if _HEX66.fullmatch(value) and value[:2] == "15":
            raise UsageError(
                f"{value[:10]}… is a blinded community id: send to it with --via COMMUNITY"
            )
        from sessioncli.core.contacts import check_id

        return Target("dm", check_id(value))  # says what is wrong with a broken id
    return names.lookup(value)


def _blinded_dm(value: str, via: str) -> Target:
    from sessioncli.core import names

    community = names.lookup(via)
    if community.source != "community":
        raise UsageError(f"--via {via!r} is not a community (see: sessioncli community list)")
    if not (_HEX66.fullmatch(value) and value[:2] in ("15", "25", "05")):
        raise UsageError(f"invalid blinded id {value!r}: expected 66 hex digits starting 15")
    return Target("community_dm", value.lower(), via=community.name)


def parse_targets(words: list[str], *, via: str | None = None) -> list[Target]:
    """Parse every word, keeping the first of duplicates (same source and address)."""
    out: list[Target] = []
    seen: set[tuple[str, str, str | None]] = set()
    for word in words:
        target = parse_target(word, via=via)
        key = (target.source, target.address, target.ons)
        if key not in seen:
            seen.add(key)
            out.append(target)
    if not out:
        raise UsageError("no recipient given")
    return out
