"""The community senders for `core.dispatch`: posts to rooms and blinded DMs through a room's server.

A post carries the padded Content signed by our blinded key (our unblinded key on a server
without `blind`); a blinded DM is encrypted for the recipient's 15 id (SPEC §2.3) and left in
their inbox on that server. Each target is sent on its own, in order; one failure is that
target's result, not the others'. A post's files are uploaded to its room first (unencrypted, as
the apps do: core/community_attachments.py) and claimed by the post; a blinded DM carries the
file server pointers every DM gets (encrypted, uploaded once by the caller).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sessioncli.core.recipients import Source, Target
from sessioncli.errors import SessionCliError, UsageError
from sessioncli.exitcodes import ExitCode

if TYPE_CHECKING:
    from sessioncli.core.communities import Community
    from sessioncli.core.community_server import ServerSession
    from sessioncli.core.dispatch import Outgoing, SendContext, SendOutcome


# Outgoing.extra key: the local files (core.attachments.LocalFile) a post uploads to its room.
ROOM_FILES = "room_files"


@dataclass(frozen=True)
class CommunitySendResult:
    """One post or blinded DM: the DM result's keys plus id, seqno, posted_at_ms."""

    source: Source
    recipient: str  # the room URL, or the 15 id of a blinded DM
    recipient_name: str | None
    ok: bool
    timestamp_ms: int = 0
    id: int | None = None
    seqno: int | None = None
    posted_at_ms: int | None = None
    via: str | None = None
    error: str | None = None
    exit_code: int = 0
    warnings: tuple[str, ...] = ()
    first_contact: bool = False

    @property
    def label(self) -> str:
        return self.recipient_name or self.recipient

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "source": self.source,
            "recipient": self.recipient,
            "recipient_name": self.recipient_name,
            "ok": self.ok,
            "hash": None,
            "timestamp_ms": self.timestamp_ms,
            "expires_at_ms": None,
            "stored_on": [],
            "id": self.id,
            "seqno": self.seqno,
            "posted_at_ms": self.posted_at_ms,
            "error": self.error,
        }
        if self.source == "community_dm":
            out["via"] = self.via
        return out


def _session(ctx: SendContext, community: Community) -> ServerSession:
    from sessioncli.core.community_server import ServerSession

    return ServerSession(ctx.net, ctx.identity, community.parsed, blinded=community.blinded)


def _post(ctx: SendContext, target: Target, outgoing: Outgoing) -> CommunitySendResult:
    from sessioncli.core import communities
    from sessioncli.protocol import sogs

    community = communities.get(target.name or "")
    session = _session(ctx, community)
    # Room files, uploaded to this room before the post (each room holds its own copy).
    pointers = _upload_room_files(session, outgoing)
    ts = int(time.time() * 1000)
    padded = sogs.build_post(
        outgoing.body, ts, display_name=outgoing.display_name, attachments=pointers
    )
    files = [p.file_id for p in pointers]
    body = sogs.post_body(padded, session.signer.sign(padded), files)
    room = community.parsed.room
    reply = session.call("POST", f"/room/{room}/message", body, what=f"post to {room!r}")
    posted = sogs.parse_posted(reply.body, what="post")
    return CommunitySendResult(
        "community",
        community.url,
        community.name,
        True,
        timestamp_ms=ts,
        id=posted.id,
        seqno=posted.seqno,
        posted_at_ms=posted.posted_ms or None,
    )


def _upload_room_files(session: ServerSession, outgoing: Outgoing) -> list[Any]:
    files = outgoing.extra.get(ROOM_FILES, ())
    if not files:
        return []
    from sessioncli.core import community_attachments

    return community_attachments.upload(session, tuple(files))


def _dm(ctx: SendContext, target: Target, outgoing: Outgoing) -> CommunitySendResult:
    from sessioncli.core import communities
    from sessioncli.core.community_server import RoomMissing
    from sessioncli.protocol import blinding, sogs

    community = communities.get(target.via or "")
    if not community.blinded:
        raise UsageError(f"{community.name} does not use blinded ids: it has no DM inbox")
    if not target.address.startswith(blinding.BLINDED15_PREFIX):
        raise UsageError(f"{target.address[:10]}… is not a 15 blinded id")
    session = _session(ctx, community)
    ts = int(time.time() * 1000)
    # A blinded DM is a one-to-one conversation: desktop sends its files to the file server,
    # encrypted, as for any DM (`MessageModel.uploadData`: only communities use room files).
    padded = sogs.build_post(
        outgoing.body, ts, display_name=outgoing.display_name, attachments=outgoing.attachments
    )
    try:
        data = blinding.encrypt_blinded_dm(
            ctx.identity.ed25519_secret, community.parsed.server_pk, target.address, padded
        )
    except blinding.BlindingError as exc:
        raise UsageError(f"cannot encrypt to {target.address[:10]}…: {exc}") from None
    try:
        reply = session.call(
            "POST", f"/inbox/{target.address}", sogs.inbox_body(data), what="blinded DM"
        )
    except RoomMissing:
        raise RoomMissing(
            f"{community.parsed.host} does not know {target.address[:10]}…: a blinded id can "
            "receive DMs only after it has used this server"
        ) from None
    posted = sogs.parse_posted(reply.body, what="blinded DM")
    return CommunitySendResult(
        "community_dm",
        target.address,
        None,
        True,
        timestamp_ms=ts,
        id=posted.id,
        posted_at_ms=posted.posted_ms or None,
        via=community.name,
    )


def send_targets(
    ctx: SendContext, targets: Sequence[Target], outgoing: Outgoing
) -> list[SendOutcome]:
    out: list[SendOutcome] = []
    for target in targets:
        try:
            out.append(
                _dm(ctx, target, outgoing)
                if target.source == "community_dm"
                else _post(ctx, target, outgoing)
            )
        except SessionCliError as exc:
            out.append(
                CommunitySendResult(
                    target.source,
                    target.address,
                    target.name,
                    False,
                    via=target.via,
                    error=exc.message,
                    exit_code=int(exc.exit_code or ExitCode.ERROR),
                )
            )
    return out
