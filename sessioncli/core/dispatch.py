"""One send to many kinds of recipient: resolves @names, splits by source, keeps the order given.

`send()` is what the CLI, the daemon and the API call. Each source has a sender module in
`_SENDERS` exposing `send_targets(ctx, targets, outgoing) -> list[SendOutcome]` (one outcome per
target, in order); a new kind of conversation adds one line there. Everything that can be
refused (an unsupported source, an unresolvable @name) is refused before anything is sent.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from sessioncli.core.recipients import Source, Target
from sessioncli.errors import UsageError
from sessioncli.exitcodes import ExitCode

if TYPE_CHECKING:
    from sessioncli.net.client import NetworkClient
    from sessioncli.protocol.ids import Identity
    from sessioncli.protocol.message_build import Expiration

# source -> module with `send_targets(ctx, targets, outgoing)`
_SENDERS: dict[Source, str] = {
    "dm": "sessioncli.core.dispatch_dm",
    "group": "sessioncli.core.group_send",
    "community": "sessioncli.core.community_send",
    "community_dm": "sessioncli.core.community_send",
}


@dataclass(frozen=True)
class Outgoing:
    """What to send, whatever the recipient; features add defaulted fields here."""

    body: str
    ttl_ms: int
    display_name: str | None = None
    sync_copy: bool = True
    extra: dict[str, Any] = field(default_factory=dict)  # per-feature options, by name
    # already uploaded (core/attachments.py): protocol.attachment_message.Pointer, ProfilePicture
    attachments: tuple[Any, ...] = ()
    profile_picture: Any = None
    reply_to: str | None = None  # storage hash of the message quoted (core/msgindex)
    disappear: Expiration | None = None  # disappearing message settings (core/disappear)


@dataclass(frozen=True)
class SendContext:
    identity: Identity
    net: NetworkClient
    state_folder: Path


class SendOutcome(Protocol):
    """One recipient's result; `to_json()` carries at least source, recipient, ok, error."""

    @property
    def ok(self) -> bool: ...
    @property
    def exit_code(self) -> int: ...
    @property
    def error(self) -> str | None: ...
    @property
    def warnings(self) -> tuple[str, ...]: ...
    @property
    def first_contact(self) -> bool: ...
    @property
    def label(self) -> str: ...

    def to_json(self) -> dict[str, Any]: ...


# Send options only direct messages carry yet: a community or group send refuses them before
# anything is uploaded or sent, rather than dropping them silently.
DM_ONLY_OPTIONS = ("--attach", "--avatar", "--reply-to", "--disappear")
# ... and those of them another kind of conversation carries too (core/community_send.py).
ALSO_CARRIED: dict[Source, tuple[str, ...]] = {
    "community": ("--attach",),
    "community_dm": ("--attach",),
}


def check_supported(targets: Sequence[Target], *, options: Sequence[str] = ()) -> None:
    """Refuse what cannot be sent (exit 2): an unknown source, or a DM-only option elsewhere."""
    for t in targets:
        if t.source not in _SENDERS:
            raise UsageError(f"cannot send to {t.label}: {t.source} messages are not supported")
        dm_only = [
            o for o in options if o in DM_ONLY_OPTIONS and o not in ALSO_CARRIED.get(t.source, ())
        ]
        if dm_only and t.source != "dm":
            raise UsageError(
                f"{', '.join(dm_only)} cannot be used with {t.label}: "
                f"{t.source} messages do not carry it yet"
            )


def resolve_names(ctx: SendContext, targets: Sequence[Target]) -> list[Target]:
    """Replace each @name by the DM target it resolves to (core/ons.py)."""
    if all(t.ons is None for t in targets):
        return list(targets)
    from sessioncli.core import ons

    out: list[Target] = []
    for t in targets:
        if t.ons is not None:
            t = Target("dm", ons.resolve(ctx.net, t.ons, ctx.state_folder), name="@" + t.ons)
        # a name may resolve to an id also given: one recipient, one result
        if all((o.source, o.address) != (t.source, t.address) for o in out):
            out.append(t)
    return out


def send(ctx: SendContext, targets: Sequence[Target], outgoing: Outgoing) -> list[SendOutcome]:
    """Send to every target (sources in parallel where their senders are); results in order."""
    check_supported(targets)
    resolved = resolve_names(ctx, targets)
    results: dict[int, SendOutcome] = {}
    for source, module_name in _SENDERS.items():
        indexed = [(i, t) for i, t in enumerate(resolved) if t.source == source]
        if not indexed:
            continue
        module = importlib.import_module(module_name)
        got = module.send_targets(ctx, [t for _, t in indexed], outgoing)
        for (i, _), outcome in zip(indexed, got, strict=True):
            results[i] = outcome
    return [results[i] for i in range(len(resolved))]


def overall_exit(results: Sequence[SendOutcome]) -> ExitCode:
    """0 when all got it; PARTIAL when some did; otherwise the first failure's own code."""
    ok = [r for r in results if r.ok]
    if len(ok) == len(results):
        return ExitCode.OK
    if ok:
        return ExitCode.PARTIAL
    return ExitCode(results[0].exit_code or ExitCode.ERROR)
