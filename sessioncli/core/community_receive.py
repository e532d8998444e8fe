"""Receiving from joined communities: one batched poll per server, one cursor per room and box.

Each poll sends one `POST /batch` per server holding `messages/since/<seqno>` for every joined
room there, plus `/inbox/since/<id>` and `/outbox/since/<id>` on blinded servers (as the apps
do). Updates are handed out in seqno order; the cursor of a room (or box) is written atomically
right after each record is emitted, so a kill -9 repeats at most the one record being written
and loses none. Every post's signature is checked against its poster's (blinded) key; what fails
is dropped and counted.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sessioncli import state
from sessioncli.core.receive import PollStats
from sessioncli.core.records import Record
from sessioncli.errors import SessionCliError

if TYPE_CHECKING:
    from sessioncli.core.communities import Community
    from sessioncli.core.community_server import ServerSession
    from sessioncli.core.inbox import ReceiveContext
    from sessioncli.protocol import sogs
    from sessioncli.protocol.message import Attachment

MAX_PAGES_PER_POLL = 50


@dataclass(frozen=True)
class CommunityRecord:
    """One record; `attachments` for `core/attachment_files.receive_hook` to fetch.

    `download` fetches a post's room files from the post's own room; None (a blinded DM) means
    the network's file server, as for any DM.
    """

    data: dict[str, Any]
    attachments: tuple[Attachment, ...] = ()
    download: Callable[[Attachment, float | None], bytes | bytearray] | None = None

    @property
    def hash(self) -> str:
        return str(self.data.get("hash"))

    def to_json(self) -> dict[str, Any]:
        return dict(self.data)


class Cursors:
    """Per-identity read positions: room URL → seqno, server → last inbox/outbox id."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / "communities.json"
        raw: Any = state.read_json(self.path, {})
        raw = raw if isinstance(raw, dict) else {}
        self.values: dict[str, dict[str, int]] = {}
        for section in ("rooms", "inbox", "outbox"):
            got = raw.get(section)
            got = got if isinstance(got, dict) else {}
            self.values[section] = {
                str(k): v for k, v in got.items() if isinstance(v, int) and not isinstance(v, bool)
            }

    def get(self, section: str, key: str, default: int) -> int:
        return self.values[section].get(key, default)

    def set(self, section: str, key: str, value: int, *, commit: bool) -> None:
        self.values[section][key] = value
        if commit:
            state.atomic_write_json(self.path, {"version": 1, **self.values})


@dataclass
class _Batch:
    paths: list[str] = field(default_factory=list)
    owners: list[tuple[str, Community | None]] = field(default_factory=list)  # section, room


class ServerSource:
    """One SOGS with the rooms we joined on it (a `ReceiveSource`)."""

    def __init__(self, ctx: ReceiveContext, rooms: list[Community], cursors: Cursors) -> None:
        from sessioncli.core.community_server import ServerSession

        self.ctx = ctx
        self.rooms = rooms
        self.cursors = cursors
        first = rooms[0]
        self.blinded = first.blinded
        self.session: ServerSession = ServerSession(
            ctx.net, ctx.identity, first.parsed, blinded=self.blinded
        )
        self.server = first.parsed.server_key
        self.stats = PollStats()

    def _batch(self) -> _Batch:
        from sessioncli.protocol import sogs

        b = _Batch()
        for room in self.rooms:
            seq = self.cursors.get("rooms", room.url, room.start_seqno)
            b.paths.append(sogs.messages_since(room.parsed.room, seq))
            b.owners.append(("rooms", room))
        if self.blinded:
            for box in ("inbox", "outbox"):
                b.paths.append(sogs.box_since(box, self.cursors.get(box, self.server, 0)))
                b.owners.append((box, None))
        return b

    def poll(self, emit: Callable[[Record], bool | None], *, limit: int | None = None) -> int:
        from sessioncli.core.community_server import check_reply
        from sessioncli.protocol import sogs

        emitted = 0
        for _ in range(MAX_PAGES_PER_POLL):
            batch = self._batch()
            body = sogs.batch_body(batch.paths)
            reply = self.session.call("POST", "/batch", body, what="poll")
            answers = sogs.parse_batch_reply(reply.body, len(batch.paths))
            self.stats.pages += 1
            if os.environ.get("SESSIONCLI_FAULT") == "crash-after-fetch":
                os._exit(137)  # like the DM receiver: die as kill -9 would, before any output
            full = False
            boxes: dict[str, list[Any]] = {}
            failed: SessionCliError | None = None
            for (section, room), answer in zip(batch.owners, answers, strict=True):
                what = f"room {room.parsed.room!r}" if room else section
                try:  # one room's trouble (gone, forbidden) must not cost the others' messages
                    check_reply(answer, what, self.session.url.host)
                    items = sogs.parse_message_list(answer.body)
                except SessionCliError as exc:
                    failed = failed or exc
                    continue
                full = full or len(items) >= sogs.PAGE_LIMIT
                left = None if limit is None else limit - emitted
                if left is not None and left <= 0:
                    return emitted
                if room is not None:
                    emitted += self._room(room, items, emit, left)
                else:
                    boxes[section] = items
            left = None if limit is None else limit - emitted
            emitted += self._boxes(boxes, emit, left)
            if failed is not None:
                raise failed
            if not full:
                break
        return emitted

    # --- rooms --------------------------------------------------------------------------------

    def _room(
        self,
        room: Community,
        items: list[Any],
        emit: Callable[[Record], bool | None],
        left: int | None,
    ) -> int:
        from sessioncli.protocol import sogs

        parsed: list[sogs.RoomMessage] = []
        for item in items:
            try:
                parsed.append(sogs.parse_room_message(item))
            except sogs.SogsReplyError:
                self._drop("bad_item")
        start = self.cursors.get("rooms", room.url, room.start_seqno)
        emitted = 0
        for m in sorted(parsed, key=lambda m: m.seqno):
            if m.seqno <= start:
                continue  # the server repeated what we already have
            if left is not None and emitted >= left:
                break
            record = self._room_record(room, m)
            if record is not None and emit(record) is not False:  # False: hidden by a filter
                emitted += 1
                self.stats.emitted += 1
            self.cursors.set("rooms", room.url, m.seqno, commit=self.ctx.commit)
        return emitted

    def _room_record(self, room: Community, m: sogs.RoomMessage) -> CommunityRecord | None:
        from sessioncli.protocol import blinding, message, sogs

        outgoing = m.session_id in (self.session.our_id, self.ctx.identity.session_id)
        if outgoing and not self.ctx.include_own:
            self.stats.own_skipped += 1
            return None
        base: dict[str, Any] = {
            "source": "community",
            "hash": f"{room.parsed.room}/{m.id}"
            + (f"/{m.seqno}" if m.edited_ms or m.deleted else ""),
            "from": m.session_id,
            "from_name": None,
            "contact": self.ctx.contact_name(m.session_id) if m.session_id[:2] == "05" else None,
            "conversation": room.url,
            "outgoing": outgoing,
            "timestamp_ms": m.posted_ms,
            "received_at_ms": int(time.time() * 1000),
            "expires_at_ms": None,
            "kind": "deletion",
            "body": None,
            "community": room.name,
            "seqno": m.seqno,
            "id": m.id,
        }
        if m.data is None:
            return CommunityRecord(base)
        if m.signature is None or not blinding.verify_by_id(m.session_id, m.data, m.signature):
            self._drop("bad_signature")
            return None
        try:
            decoded = sogs.decode_content(m.data, m.session_id, m.session_id[2:], m.posted_ms)
        except message.MessageDecodeError as exc:
            self._drop(exc.reason)
            return None
        attachments = tuple(getattr(decoded, "attachments", ()) or ())
        return CommunityRecord(
            _merge(base, decoded, edit_ms=m.edited_ms),
            attachments,
            self._room_download(room) if attachments else None,
        )

    def _room_download(
        self, room: Community
    ) -> Callable[[Attachment, float | None], bytes | bytearray]:
        from sessioncli.core import community_attachments
        from sessioncli.core.community_server import ServerSession

        # The room's own server and token: where the post came from, whatever its pointer says.
        session = ServerSession(self.ctx.net, self.ctx.identity, room.parsed, blinded=self.blinded)

        def download(att: Attachment, timeout: float | None) -> bytes | bytearray:
            return community_attachments.download(session, att, timeout=timeout)

        return download

    # --- blinded DMs --------------------------------------------------------------------------

    def _boxes(
        self, boxes: dict[str, list[Any]], emit: Callable[[Record], bool | None], left: int | None
    ) -> int:
        """Inbox and outbox together, in the server's id order (one conversation, both ways)."""
        from sessioncli.protocol import sogs

        parsed: list[tuple[str, sogs.BoxMessage]] = []
        for box, items in boxes.items():
            for item in items:
                try:
                    parsed.append((box, sogs.parse_box_message(item)))
                except sogs.SogsReplyError:
                    self._drop("bad_item")
        emitted = 0
        for box, m in sorted(parsed, key=lambda pair: (pair[1].id, pair[0])):
            if m.id <= self.cursors.get(box, self.server, 0):
                continue
            if left is not None and emitted >= left:
                break
            record = self._dm_record(box, m)
            if record is not None and emit(record) is not False:  # False: hidden by a filter
                emitted += 1
                self.stats.emitted += 1
            self.cursors.set(box, self.server, m.id, commit=self.ctx.commit)
        return emitted

    def _dm_record(self, box: str, m: sogs.BoxMessage) -> CommunityRecord | None:
        from sessioncli.protocol import blinding, message, sogs

        outgoing = box == "outbox"
        if outgoing and not self.ctx.include_own:
            self.stats.own_skipped += 1
            return None
        try:
            opened = blinding.decrypt_blinded_dm(
                self.ctx.identity.ed25519_secret,
                self.session.url.server_pk,
                m.sender,
                m.recipient,
                m.message,
            )
            decoded = sogs.decode_content(
                opened.padded, m.sender, opened.sender_ed25519.hex(), m.posted_ms
            )
        except blinding.BlindingError:
            self._drop("blinded_dm_failed")
            return None
        except message.MessageDecodeError as exc:
            self._drop(exc.reason)
            return None
        base: dict[str, Any] = {
            "source": "community_dm",
            "hash": f"{box}/{self.session.url.host}/{m.id}",
            "from": m.sender,
            "from_name": None,
            "contact": self.ctx.contact_name(opened.sender_session_id),
            "conversation": m.recipient if outgoing else m.sender,
            "outgoing": outgoing,
            "timestamp_ms": m.posted_ms,
            "received_at_ms": int(time.time() * 1000),
            "expires_at_ms": m.expires_ms,
            "kind": "text",
            "body": None,
            "community": self.rooms[0].name,
            "id": m.id,
            "session_id": opened.sender_session_id,
        }
        attachments = tuple(getattr(decoded, "attachments", ()) or ())
        return CommunityRecord(_merge(base, decoded, edit_ms=None), attachments)

    def _drop(self, reason: str) -> None:
        self.stats.dropped += 1
        self.stats.drop_reasons[reason] = self.stats.drop_reasons.get(reason, 0) + 1

    def close(self) -> None:
        return None


def _merge(base: dict[str, Any], decoded: Any, *, edit_ms: int | None) -> dict[str, Any]:
    data = decoded.to_json_dict()
    out = dict(base)
    out["kind"] = "edit" if edit_ms is not None else data["kind"]
    out["body"] = data["body"]
    out["from_name"] = data["display_name"]
    if edit_ms is not None:
        out["edited_at_ms"] = edit_ms
    for key, value in data.items():
        if key not in out and key not in ("sender", "display_name", "timestamp_ms"):
            out[key] = value
    return out


def open_sources(ctx: ReceiveContext, *, only: Collection[str] = ()) -> list[ServerSource]:
    """One source per server holding joined rooms (for `core/inbox.py`); `only`: these URLs."""
    from sessioncli.core import communities

    by_server: dict[str, list[Community]] = {}
    for c in communities.list_communities():
        if only and c.url not in only:
            continue
        by_server.setdefault(c.parsed.server_key, []).append(c)
    cursors = Cursors(ctx.folder)
    return [ServerSource(ctx, rooms, cursors) for rooms in by_server.values()]
