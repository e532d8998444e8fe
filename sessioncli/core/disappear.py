"""Disappearing messages: the `--disappear DURATION --disappear-after read|send` policy.

As desktop (`ExpirableMessage`): the Content carries expirationType and expirationTimer; a
delete-after-send message is stored with the timer as its TTL (the network drops it when the
apps do), a delete-after-read one keeps the default TTL (the recipient's app shortens it once
read). The timer range is the network's TTL range for direct messages: 10 s to 14 days.

No control message goes alongside. Desktop applies the expiration fields of each incoming message
to that message (`DisappearingMessages.getMessageReadyToDisappear` sets the message's own
expirationType/expireTimer from its Content), whatever the conversation's setting; an
ExpirationTimerUpdate (DataMessage.flags = EXPIRATION_TIMER_UPDATE) would instead change the
conversation's setting for every later message in the recipient's app, which a one-off
`--disappear` must not do.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sessioncli.core import settings
from sessioncli.errors import UsageError

if TYPE_CHECKING:
    from sessioncli.protocol.message_build import Expiration

AFTER_CHOICES = ("read", "send")


def parse(duration: str, after: str = "send") -> Expiration:
    """A UsageError (exit 2) for a timer outside 10s..14d or an unknown --disappear-after."""
    from sessioncli.protocol.message_build import Expiration

    if after not in AFTER_CHOICES:
        raise UsageError(f"invalid --disappear-after {after!r}: use read or send")
    ms = settings.parse_duration_ms(duration, what="--disappear duration")
    if not settings.MIN_TTL_MS <= ms <= settings.MAX_TTL_MS or ms % 1000:
        raise UsageError(
            f"--disappear {duration!r} is out of range: use whole seconds from 10s to 14d"
        )
    if after == "send":
        return Expiration("delete_after_send", ms // 1000)
    return Expiration("delete_after_read", ms // 1000)


def store_ttl_ms(expiration: Expiration | None, default_ttl_ms: int) -> int:
    """The store TTL for a message: the timer when it disappears after sending, else the default."""
    if expiration is not None and expiration.mode == "delete_after_send":
        return expiration.seconds * 1000
    return default_ttl_ms


def check_no_ttl(expiration: Expiration | None, ttl: str | None) -> None:
    if expiration is not None and ttl is not None:
        raise UsageError(
            "--disappear and --ttl cannot be combined: a disappearing message's lifetime "
            "on the network follows its timer"
        )
