"""The API's plain values (results, drafts, filters) and the checks that need no `Client`.

Re-exported by `sessioncli.api` (use them from there). Like it, this imports nothing below the
API at module level: every core/ import is inside a function, so `import sessioncli.api` stays
as cheap as `import dataclasses`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sessioncli.errors import UsageError

if TYPE_CHECKING:
    from sessioncli.core.attachments import LocalFile as Attachment
    from sessioncli.protocol.message_build import Expiration

# The largest file `read_attachments` takes (core.attachments.MAX_FILE_BYTES; a test keeps them
# equal): a literal, so that importing the API imports no attachment code.
MAX_ATTACHMENT_BYTES = 10_000_000


@dataclass(frozen=True)
class SendResult:
    """One recipient's outcome; `data` is exactly the object `send --json` prints for it."""

    ok: bool
    exit_code: int
    error: str | None
    warnings: tuple[str, ...]
    first_contact: bool
    data: dict[str, Any]
    label: str = ""  # how messages name the recipient (contact name, short id, community)
    stored_on: tuple[str, ...] | None = None  # DMs: the swarm members that acknowledged it

    @property
    def recipient(self) -> str:
        return str(self.data.get("recipient"))


@dataclass(frozen=True)
class Recipients:
    """Recipients parsed and checked (`parse_recipients`): what `compose()` sends to."""

    words: tuple[str, ...]
    targets: tuple[Any, ...]  # core.recipients.Target: internal


@dataclass(frozen=True)
class Draft:
    """A message checked by `Client.compose()`, ready for `Client.send_draft()`."""

    recipients: Recipients
    text: str
    ttl_ms: int
    display_name: str | None
    sync_copy: bool
    files: tuple[Attachment, ...]
    avatar: Attachment | None
    reply_to: str | None
    disappear: Expiration | None


@dataclass(frozen=True)
class Hop:
    """One node of an onion path."""

    address: str
    pubkey_ed25519: str


@dataclass(frozen=True)
class ReceiveFilter:
    """What a receive shows (`receive --kind/--from/--conversation/--contacts-only/--requests`).

    Empty means no restriction. Control messages (typing, message_request_response, ...) are
    shown only with `include_control` or when named in `kinds`. Hidden messages still count
    as received.
    """

    kinds: tuple[str, ...] = ()
    senders: tuple[str, ...] = ()
    conversations: tuple[str, ...] = ()
    contacts_only: bool = False
    requests_only: bool = False
    include_control: bool = False


def parse_recipients(
    recipients: str | Sequence[str], *, via: str | None = None, options: Sequence[str] = ()
) -> Recipients:
    """Recipient words (comma-separated too) → `Recipients`; UsageError (2) when one cannot work.

    `via`: send 15… blinded ids as DMs through this community; `options`: the DM-only options in
    use, spelled as the CLI spells them ("--attach", "--avatar", "--reply-to", "--disappear"),
    refused for recipients that cannot carry them yet.
    """
    from sessioncli.core import dispatch
    from sessioncli.core import recipients as rcp

    words = [recipients] if isinstance(recipients, str) else list(recipients)
    words = [p for w in words for p in w.split(",") if p.strip()]
    targets = rcp.parse_targets(words, via=via)  # UsageError when no word is left
    dispatch.check_supported(targets, options=options)
    return Recipients(tuple(words), tuple(targets))


def is_recipient(word: str) -> bool:
    """Whether one word names a recipient (a Session ID, contact, community, group, @name)."""
    from sessioncli.core import recipients as rcp

    try:
        rcp.parse_target(word)
    except UsageError:
        return False
    return True


def read_attachments(paths: Sequence[str], stdin_data: bytes | None = None) -> list[Attachment]:
    """Read every file to attach (`-`: `stdin_data`), all checked before anything is sent."""
    if not paths:
        return []  # a text send does not import the attachment modules
    from sessioncli.core import attachments as attachments_core

    return attachments_core.read_files(list(paths), stdin_data)


def check_display_name(name: str) -> str:
    """A display name we send: valid UTF-8 without control characters (they would reach, and
    could rewrite, the other side's terminal)."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise UsageError(
            f"the display name is not valid UTF-8 text (character {exc.start})"
        ) from None
    if any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in name):
        raise UsageError(f"invalid display name {name!a}: it holds control characters")
    return name


def sendmail_settings() -> tuple[dict[str, str], int | None]:
    """config.toml's [sendmail] table: (aliases, max_chars) for `sessioncli-sendmail`."""
    from sessioncli.core import settings

    config = settings.load_config()
    return dict(config.sendmail_aliases), config.sendmail_max_chars


def exit_code(results: Sequence[SendResult]) -> int:
    """The CLI's exit status for these results: 0 all, 3 some, else the first failure's code."""
    ok = [r for r in results if r.ok]
    if len(ok) == len(results):
        return 0
    if ok:
        return 3
    return results[0].exit_code or 1
