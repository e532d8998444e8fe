"""Reactions: `react HASH EMOJI [--remove]` on a message from the local index, as the apps send them.

EMOJI must be one grapheme cluster (the `regex` package's \\X: flags, skin tones, ZWJ
sequences and keycaps count as one) that is an emoji: it holds an Extended_Pictographic
character, a regional-indicator pair or a keycap. Plain letters and digits are refused.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sessioncli.core import send as send_core
from sessioncli.core.msgindex import MessageIndex
from sessioncli.errors import UsageError

if TYPE_CHECKING:
    from sessioncli.net.client import NetworkClient
    from sessioncli.protocol.ids import Identity

_KEYCAP = "\u20e3"


def check_emoji(text: str) -> str:
    import regex  # type: ignore[import-untyped]

    value = text.strip()
    one = regex.fullmatch(r"\X", value) is not None
    emoji = bool(regex.search(r"\p{Extended_Pictographic}|\p{Regional_Indicator}", value))
    if not one or not (emoji or _KEYCAP in value):
        raise UsageError(f"invalid emoji {text!r}: give exactly one emoji, e.g. 👍")
    return value


def react(
    identity: Identity,
    net: NetworkClient,
    folder: Path,
    msg_hash: str,
    emoji: str,
    *,
    remove: bool = False,
    display_name: str | None = None,
    ttl_ms: int,
) -> send_core.SendResult:
    """Send the reaction (and its sync copy) to the conversation the message belongs to."""
    from sessioncli.protocol.message_build import build_reaction_content

    emoji = check_emoji(emoji)
    target = MessageIndex(folder).get(msg_hash)

    def build(timestamp_ms: int, sync_target: str | None) -> bytes:
        return build_reaction_content(
            timestamp_ms,
            message_timestamp_ms=target.timestamp_ms,
            author=target.author,
            emoji=emoji,
            remove=remove,
            display_name=display_name,
            sync_target=sync_target,
        )

    (result,) = send_core.send_messages(
        identity,
        net,
        [send_core.Recipient(target.conversation)],
        "",
        ttl_ms=ttl_ms,
        display_name=display_name,
        state_folder=folder,
        content=build,
    )
    return result
