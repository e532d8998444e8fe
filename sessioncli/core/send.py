"""Sending direct messages: encode, store on the recipient's swarm, sync copy, message requests."""

from __future__ import annotations

import concurrent.futures
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sessioncli.core.conversations import Conversation, ConversationStore
from sessioncli.errors import SessionCliError, TemporaryFailure, UsageError
from sessioncli.exitcodes import ExitCode

if TYPE_CHECKING:
    from sessioncli.core.recipients import Source
    from sessioncli.net.client import NetworkClient
    from sessioncli.protocol.ids import Identity

MAX_PARALLEL = 8

ContentBuilder = Callable[[int, "str | None"], bytes]
"""(timestamp_ms, sync target or None) -> serialized Content: what a feature sends instead of
text (a reply, a reaction, an unsend request); None for the sync copy's target means the
recipient's copy."""


@dataclass(frozen=True)
class Recipient:
    session_id: str
    name: str | None = None  # the contact name the user typed, if any


@dataclass(frozen=True)
class SendResult:
    recipient: str
    recipient_name: str | None
    ok: bool
    hash: str | None = None
    timestamp_ms: int = 0
    expires_at_ms: int | None = None
    stored_on: tuple[str, ...] = ()
    error: str | None = None
    exit_code: int = 0
    sync_copy: bool = False
    sync_hash: str | None = None  # the storage hash of our sync copy (unsend deletes it)
    approval_sent: bool = False
    first_contact: bool = False  # they have never approved us: this lands in message requests
    warnings: tuple[str, ...] = field(default=())
    source: Source = "dm"  # the kind of conversation (sessioncli.core.recipients.Source)

    @property
    def label(self) -> str:
        return self.recipient_name or self.recipient

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "recipient": self.recipient,
            "recipient_name": self.recipient_name,
            "ok": self.ok,
            "hash": self.hash,
            "timestamp_ms": self.timestamp_ms,
            "expires_at_ms": self.expires_at_ms,
            "stored_on": list(self.stored_on),
            "error": self.error,
        }


def check_body(body: str) -> str:
    if not body.strip():
        raise UsageError("empty message: nothing to send")
    return body


def check_fits(body: str, display_name: str | None) -> None:
    """Refuse an oversized message before any network traffic, naming the limit."""
    from sessioncli.protocol import message

    size = len(body.encode("utf-8"))
    # Fast path: far below the limit there is nothing to compute.
    if size < 60_000:
        return
    limit = message.max_body_bytes(display_name=display_name, sync_target="05" + "0" * 64)
    if size > limit:
        raise UsageError(
            f"message too large: {size} bytes; the network stores at most "
            f"{message.MAX_STORE_BYTES} bytes per message, which leaves {limit} bytes of text"
        )


class _Budget:
    """One --timeout for the whole send: the network client gives each call (network time, the
    message, the approval, the sync copy) its full timeout, so each call gets what is left."""

    def __init__(self, net: NetworkClient) -> None:
        self.net = net
        self.seconds = net.timeout
        self.end = time.monotonic() + net.timeout

    def next_call(self) -> None:
        left = self.end - time.monotonic()
        if left <= 0.05:
            raise TemporaryFailure("send timed out (--timeout)")
        self.net.timeout = left  # all threads compute it from the same end: races are harmless


def send_messages(
    identity: Identity,
    net: NetworkClient,
    recipients: list[Recipient],
    body: str,
    *,
    ttl_ms: int,
    display_name: str | None,
    state_folder: Path,
    sync_copy: bool = True,
    content: ContentBuilder | None = None,
) -> list[SendResult]:
    """Send `body` (or what `content` builds) to every recipient in parallel; one result each,
    in the order given."""
    if content is None:
        check_body(body)
        check_fits(body, display_name)
    convs = ConversationStore(state_folder)
    unique: list[Recipient] = []
    for r in recipients:
        if all(u.session_id != r.session_id for u in unique):
            unique.append(r)
    workers = max(1, min(MAX_PARALLEL, len(unique)))
    budget = _Budget(net)
    try:
        with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
            futures = [
                pool.submit(
                    _send_one,
                    identity,
                    net,
                    r,
                    body,
                    ttl_ms,
                    display_name,
                    convs,
                    sync_copy,
                    budget,
                    content,
                )
                for r in unique
            ]
            return [f.result() for f in futures]
    finally:
        net.timeout = budget.seconds


def _send_one(
    identity: Identity,
    net: NetworkClient,
    recipient: Recipient,
    body: str,
    ttl_ms: int,
    display_name: str | None,
    convs: ConversationStore,
    sync_copy: bool,
    budget: _Budget,
    content: ContentBuilder | None = None,
) -> SendResult:
    from sessioncli.protocol import message

    def build(t: int, sync_target: str | None) -> bytes:
        if content is not None:
            return content(t, sync_target)
        return message.build_text_content(
            body, t, display_name=display_name, sync_target=sync_target
        )

    sid = recipient.session_id
    try:
        before = convs.get(sid)
        warnings: list[str] = []
        approval_sent = False
        # Replying to someone who wrote to us first approves their request, as official clients
        # do: a MessageRequestResponse goes before our message.
        if before.pending_request and not before.approved_by_us:
            budget.next_call()
            ts0 = net.now_ms()
            budget.next_call()

            def encode_mrr(t: int) -> str:
                mrr = message.build_message_request_response(t, display_name=display_name)
                return message.encode_dm(identity, sid, mrr, t)

            net.store(sid, encode_mrr(ts0), ttl_ms=ttl_ms, timestamp_ms=ts0, reencode=encode_mrr)
            approval_sent = True
        budget.next_call()
        ts = net.now_ms()

        # the timestamp is inside the encrypted message: a node refusing it (406, our clock was
        # off) makes the client re-encode once with the network's time
        def encode(t: int) -> str:
            data = message.encode_dm(identity, sid, build(t, None), t)
            message.check_size(data)
            return data

        data = encode(ts)
        budget.next_call()
        outcome = net.store(sid, data, ttl_ms=ttl_ms, timestamp_ms=ts, reencode=encode)
        ts = outcome.timestamp_ms
        synced = False
        sync_hash = None
        if sync_copy and sid != identity.session_id:
            try:
                own = build(ts, sid)
                budget.next_call()
                sync_hash = net.store(
                    identity.session_id,
                    message.encode_dm(identity, identity.session_id, own, ts),
                    ttl_ms=ttl_ms,
                    timestamp_ms=ts,
                ).hash
                synced = True
            except SessionCliError as exc:
                warnings.append(f"sync copy to our own swarm failed: {exc.message}")
        first_contact = _record_sent(convs, sid, ts)
        return SendResult(
            recipient=sid,
            recipient_name=recipient.name,
            ok=True,
            hash=outcome.hash,
            timestamp_ms=ts,
            expires_at_ms=outcome.expiry_ms,
            stored_on=tuple(outcome.stored_on),
            sync_copy=synced,
            sync_hash=sync_hash,
            approval_sent=approval_sent,
            first_contact=first_contact,
            warnings=tuple(warnings),
        )
    except SessionCliError as exc:
        return SendResult(
            recipient=sid,
            recipient_name=recipient.name,
            ok=False,
            error=exc.message,
            exit_code=int(exc.exit_code),
        )


def _record_sent(convs: ConversationStore, sid: str, ts: int) -> bool:
    """Mark the conversation approved by us; True the first time we write to an unapproved peer."""

    def change(all_convs: dict[str, Conversation]) -> bool:
        c = all_convs.get(sid) or Conversation(sid)
        warn = not c.approved_us and not c.warned_unapproved
        all_convs[sid] = replace(
            c,
            approved_by_us=True,
            pending_request=False,
            warned_unapproved=c.warned_unapproved or warn,
            last_sent_ms=ts,
        )
        return warn

    return convs.update(change)


def overall_exit(results: list[SendResult]) -> ExitCode:
    """0 when all got it; PARTIAL when some did; otherwise the first failure's own code."""
    ok = [r for r in results if r.ok]
    if len(ok) == len(results):
        return ExitCode.OK
    if ok:
        return ExitCode.PARTIAL
    return ExitCode(results[0].exit_code or ExitCode.ERROR)
