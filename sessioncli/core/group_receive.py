"""Reading groups: one ReceiveSource per joined group (posts in ns 11, plus info/member changes).

Each record is emitted once across runs, as DMs are (core/receive.py's ReceiveState: a seen
journal written right after each emit, committed after the poll), in the group's own state
folder. Forged input never shows: a post that no key decrypts or whose sender signature fails,
control messages whose admin signature fails — they are counted in `stats.drop_reasons`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sessioncli.core.receive import PollStats, ReceiveState

MAX_PAGES_PER_POLL = 50  # batched polls per group per receive while a member says "more"

if TYPE_CHECKING:
    from sessioncli.core.group_net import GroupFetch
    from sessioncli.core.group_state import OpenGroup, StoredItem
    from sessioncli.core.groups import GroupContext
    from sessioncli.core.inbox import ReceiveContext
    from sessioncli.core.records import ReceiveSource, Record

KEEP_MS = 15 * 24 * 3600 * 1000  # how long a seen hash is kept (posts live 14 days)


@dataclass(frozen=True)
class GroupRecord:
    """One group record: the core record keys (docs/records.md) plus `group`, `group_id`."""

    kind: str
    hash: str
    group: str
    group_id: str
    sender: str
    timestamp_ms: int
    received_at_ms: int
    expires_at_ms: int | None
    outgoing: bool = False
    body: str | None = None
    from_name: str | None = None
    contact: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "source": "group",
            "kind": self.kind,
            "hash": self.hash,
            "from": self.sender,
            "from_name": self.from_name,
            "contact": self.contact,
            "conversation": self.group_id,
            "outgoing": self.outgoing,
            "timestamp_ms": self.timestamp_ms,
            "received_at_ms": self.received_at_ms,
            "expires_at_ms": self.expires_at_ms,
            "body": self.body,
            "group": self.group,
            "group_id": self.group_id,
        }
        for k, v in self.extra.items():
            out.setdefault(k, v)
        return out


class GroupReceiver:
    """Polls one group; hold the identity's receive lock while using it (as for DMs)."""

    def __init__(
        self,
        gctx: GroupContext,
        name: str,
        *,
        include_own: bool = False,
        commit: bool = True,
        contact_name: Callable[[str], str | None] | None = None,
        after_fetch: Callable[[], None] | None = None,
    ) -> None:
        from sessioncli.core import group_store

        self.gctx = gctx
        self.name = name
        self.group_id = group_store.entry_for(name).group_id
        self.state = ReceiveState(gctx.folder / "groups" / self.group_id)
        self.state.load()
        self.include_own = include_own
        self.commit_enabled = commit
        self.contact_name = contact_name or (lambda _sid: None)
        self.stats = PollStats()
        self.reopen = False
        self.after_fetch = after_fetch  # crash-safety test hook, as for DMs (core/receive.py)

    def _drop(self, reason: str, msg_hash: str, *, final: bool = True) -> None:
        self.stats.dropped += 1
        self.stats.drop_reasons[reason] = self.stats.drop_reasons.get(reason, 0) + 1
        if final:
            self._remember(msg_hash)

    def _remember(self, msg_hash: str) -> None:
        expires = int(time.time() * 1000) + KEEP_MS
        if self.commit_enabled:
            self.state.mark_seen(msg_hash, expires)
        else:
            self.state.seen[msg_hash] = expires

    def _record(self, kind: str, h: str, sender: str, ts: int, **kw: Any) -> GroupRecord:
        return GroupRecord(
            kind,
            h,
            self.name,
            self.group_id,
            sender,
            ts,
            int(time.time() * 1000),
            kw.pop("expires_at_ms", None),
            outgoing=sender == self.gctx.identity.session_id,
            contact=self.contact_name(sender),
            **kw,
        )

    def poll(self, emit: Callable[[Record], bool | None], *, limit: int | None = None) -> int:
        """Everything new in the group; with a batching swarm (the network), page after page
        while a member has more, each member read from its own cursors."""
        emitted = 0
        for _ in range(MAX_PAGES_PER_POLL):
            left = None if limit is None else limit - emitted
            got, more = self._poll_once(emit, left)
            emitted += got
            if not more or (limit is not None and emitted >= limit):
                break
        return emitted

    def _fetch(self, group: OpenGroup) -> GroupFetch | None:
        """One batched read of every namespace we follow, or None for a swarm without batches
        (the in-memory test swarms: each namespace is then read on its own, in full)."""
        from sessioncli.protocol.groups import swarm_auth as ns

        poll_group = getattr(self.gctx.swarm, "poll_group", None)
        if poll_group is None:
            return None
        wanted = ns.POLL_ORDER if not group.admin else ns.POLL_ORDER[1:]  # -11: members only
        fetch: GroupFetch = poll_group(group.auth(), wanted, dict(self.state.cursors))
        self.stats.requests += fetch.requests
        self.stats.pages += len(fetch.order)
        return fetch

    def _advance(self, fetch: GroupFetch) -> None:
        """Each member's cursors: past everything for Keys/Info/Members/-11 (applied, or
        rejected for good), and for posts past the last one such that all before are seen
        (a post no key opened yet is read again next time)."""
        from sessioncli.net.groupcall import cursor_key
        from sessioncli.protocol.groups.swarm_auth import NS_MESSAGES

        for node, namespace, hashes in fetch.order:
            for h in hashes:
                if namespace == NS_MESSAGES and h not in self.state.seen:
                    break
                self.state.cursors[cursor_key(node, namespace)] = h

    def _poll_once(
        self, emit: Callable[[Record], bool | None], limit: int | None
    ) -> tuple[int, bool]:
        from sessioncli.core import groups
        from sessioncli.protocol.groups.swarm_auth import NS_MESSAGES

        group = groups._open(self.gctx, self.name)
        fetch = self._fetch(group)
        synced = group.sync(self.gctx.swarm, fetched=fetch.items if fetch else None)
        groups._save(self.gctx, group)
        for reason, n in synced.rejected.items():  # forged Keys/Info/Members: never applied
            self.stats.dropped += n
            self.stats.drop_reasons[reason] = self.stats.drop_reasons.get(reason, 0) + n
        pending: list[GroupRecord] = []
        if synced.kicked:
            pending.append(self._config_record("group_removed", group, "kicked"))
        else:
            if synced.info_changed:
                pending.append(self._config_record("group_info", group, "info"))
            if synced.members_changed:
                pending.append(self._config_record("group_members", group, "members"))
        emitted = 0
        for rec in pending:
            if rec.hash not in self.state.seen and (limit is None or emitted < limit):
                shown = emit(rec)
                self._remember(rec.hash)
                emitted += shown is not False  # a record a filter hid is not counted
        if not synced.kicked:
            items = fetch.items.get(NS_MESSAGES, []) if fetch else None
            left = None if limit is None else limit - emitted
            emitted += self._posts(group, emit, left, items)
        if fetch is not None:
            self._advance(fetch)
        if self.commit_enabled:
            self.state.commit(int(time.time() * 1000))
        return emitted, bool(fetch and fetch.more and not synced.kicked)

    def _config_record(self, kind: str, group: OpenGroup, what: str) -> GroupRecord:
        from sessioncli.core.groups import view

        v = view(group, self.name)
        seqno = group.info.message.seqno if what == "info" else group.members.message.seqno
        h = f"{self.group_id}/{what}/{seqno}/{group.keys.current_generation}"
        extra = {"group_name": v.group_name, "members": [m.to_json() for m in v.members]}
        return self._record(kind, h, self.group_id, int(time.time() * 1000), extra=extra)

    def _posts(
        self,
        group: OpenGroup,
        emit: Callable[[Record], bool | None],
        limit: int | None,
        items: list[StoredItem] | None = None,
    ) -> int:
        from sessioncli.core import groups
        from sessioncli.protocol.groups.swarm_auth import NS_MESSAGES

        if items is None:
            items = self.gctx.swarm.retrieve_group(group.auth(), NS_MESSAGES)
        if self.after_fetch is not None and any(i.hash not in self.state.seen for i in items):
            self.after_fetch()
        emitted = 0
        for item in sorted(items, key=lambda i: (i.timestamp_ms, i.hash)):
            if limit is not None and emitted >= limit:
                break
            if item.hash in self.state.seen:
                self.stats.duplicates += 1
                continue
            rec = self._decode(group, item)
            if self.reopen:
                group, self.reopen = groups._open(self.gctx, self.name), False
            if rec is None:
                continue
            if rec.outgoing and not self.include_own:
                self.stats.own_skipped += 1
                self._remember(item.hash)
                continue
            shown = emit(rec)  # writes and flushes; False: a filter hid it (not counted)
            self._remember(item.hash)
            if shown is not False:
                emitted += 1
                self.stats.emitted += 1
        return emitted

    def _decode(self, group: OpenGroup, item: StoredItem) -> GroupRecord | None:
        from sessioncli.core import groups
        from sessioncli.protocol.groups.control import ControlError, verify_admin_signed
        from sessioncli.protocol.groups.message import (
            GroupMessageError,
            GroupSignatureError,
            classify_post,
            decode_group_post,
        )

        try:
            post = decode_group_post(group.keys.decryption_keys(), group.group_pk, item.data)
        except GroupSignatureError:
            self._drop("group_bad_signature", item.hash)
            return None
        except GroupMessageError:
            # not remembered: a post made with a key stored after our Keys fetch opens next time
            self._drop("group_undecryptable", item.hash, final=False)
            return None
        expires = item.timestamp_ms + groups.MESSAGE_TTL_MS
        control = groups.control_of(post.content)
        if control is None:
            decoded = classify_post(post)
            return self._record(
                decoded.kind,
                item.hash,
                post.sender,
                post.timestamp_ms,
                body=decoded.body,
                from_name=decoded.display_name,
                expires_at_ms=expires,
            )
        if control.kind in ("info_change", "member_change", "delete_member_content"):
            try:
                verify_admin_signed(control, group.group_pk, post.timestamp_ms)
            except ControlError:
                self._drop("group_bad_admin_signature", item.hash)
                return None
        elif group.admin and control.kind in ("invite_response", "member_left"):
            done = groups.handle_control(
                self.gctx, self.name, control, post.sender, post.timestamp_ms
            )
            self.reopen = bool(done)  # it changed (maybe rekeyed) the group on disk
        kind = "group_info" if control.kind == "info_change" else "group_members"
        extra = {
            "change": control.kind,
            "members_changed": list(control.session_ids),
            "updated_name": control.updated_name,
        }
        return self._record(
            kind, item.hash, post.sender, post.timestamp_ms, expires_at_ms=expires, extra=extra
        )

    def close(self) -> None:
        self.state.close()


def open_sources(ctx: ReceiveContext) -> list[ReceiveSource]:
    """core.inbox's entry point (to be listed in inbox._SOURCE_MODULES): every joined group."""
    from sessioncli.core import group_store
    from sessioncli.core.group_net import NetGroupSwarm
    from sessioncli.core.groups import GroupContext

    gctx = GroupContext(ctx.identity, NetGroupSwarm(ctx.net), ctx.folder)
    seed = ctx.identity.ed25519_secret[:32]
    joined = {s.group_id for s in group_store.load_all(ctx.folder, seed) if s.status == "joined"}
    return [
        GroupReceiver(
            gctx,
            e.name,
            include_own=ctx.include_own,
            commit=ctx.commit,
            contact_name=ctx.contact_name,
            after_fetch=ctx.after_fetch,
        )
        for e in group_store.list_entries()
        if e.group_id in joined
    ]
