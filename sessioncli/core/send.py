"""Sending direct messages: encode, store on the recipient's swarm, sync copy, message requests."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sessioncli.core.conversations import Conversation, ConversationStore
from sessioncli.errors import SessionCliError, UsageError
from sessioncli.exitcodes import ExitCode

if TYPE_CHECKING:
    from sessioncli.core.recipients import Source
    from sessioncli.net.client import NetworkClient, StoreOutcome
    from sessioncli.net.policy import Deadline
    from sessioncli.protocol.ids import Identity

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
    from sessioncli.net.policy import Deadline

    # as many at once as the guard connections carry (more threads would only queue on them)
    workers = max(1, min(net.max_in_flight, len(unique)))
    # one --timeout for the whole command: every call of every recipient shares this deadline
    job = _Job(
        identity,
        net,
        body,
        ttl_ms,
        display_name,
        convs.all(),
        sync_copy,
        Deadline(net.timeout),
        content,
    )
    if workers == 1:
        # one recipient (a cron job's usual send): no pool, and no concurrent.futures import
        results = [job.send_one(r) for r in unique]
    else:
        import concurrent.futures

        with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
            results = list(pool.map(job.send_one, unique))
    return _record_sent(convs, results)


@dataclass(frozen=True)
class _Job:
    """What every recipient of one send shares."""

    identity: Identity
    net: NetworkClient
    body: str
    ttl_ms: int
    display_name: str | None
    known: dict[str, Conversation]  # conversations.json as the command started
    sync_copy: bool
    deadline: Deadline
    content: ContentBuilder | None = None

    def build(self, t: int, sync_target: str | None) -> bytes:
        """The Content for timestamp `t`: the feature's own, or a text message."""
        from sessioncli.protocol import message

        if self.content is not None:
            return self.content(t, sync_target)
        return message.build_text_content(
            self.body, t, display_name=self.display_name, sync_target=sync_target
        )

    def send_one(self, recipient: Recipient) -> SendResult:
        sid = recipient.session_id
        try:
            approval_sent = self._approve(sid)
            outcome = self._store_message(sid)
            warnings: list[str] = []
            sync_hash = self._sync_copy(sid, outcome.timestamp_ms, warnings)
        except SessionCliError as exc:
            return SendResult(
                recipient=sid,
                recipient_name=recipient.name,
                ok=False,
                error=exc.message,
                exit_code=int(exc.exit_code),
            )
        return SendResult(
            recipient=sid,
            recipient_name=recipient.name,
            ok=True,
            hash=outcome.hash,
            timestamp_ms=outcome.timestamp_ms,
            expires_at_ms=outcome.expiry_ms,
            stored_on=tuple(outcome.stored_on),
            sync_copy=sync_hash is not None,
            sync_hash=sync_hash,
            approval_sent=approval_sent,
            warnings=tuple(warnings),
        )

    def _approve(self, sid: str) -> bool:
        """Replying to someone who wrote to us first approves their request, as official
        clients do: a MessageRequestResponse goes before our message. True if it went."""
        from sessioncli.protocol import message

        before = self.known.get(sid) or Conversation(sid)
        if not before.pending_request or before.approved_by_us:
            return False

        def encode_mrr(t: int) -> str:
            mrr = message.build_message_request_response(t, display_name=self.display_name)
            return message.encode_dm(self.identity, sid, mrr, t)

        ts0 = self.net.now_ms(timeout=self.deadline)
        self.net.store(
            sid,
            encode_mrr(ts0),
            ttl_ms=self.ttl_ms,
            timestamp_ms=ts0,
            reencode=encode_mrr,
            timeout=self.deadline,
        )
        return True

    def _store_message(self, sid: str) -> StoreOutcome:
        """The message itself. The timestamp is inside the encrypted message: a node refusing
        it (406, our clock was off) makes the client re-encode once with the network's time."""
        from sessioncli.protocol import message

        def encode(t: int) -> str:
            data = message.encode_dm(self.identity, sid, self.build(t, None), t)
            message.check_size(data)
            return data

        ts = self.net.now_ms(timeout=self.deadline)
        return self.net.store(
            sid,
            encode(ts),
            ttl_ms=self.ttl_ms,
            timestamp_ms=ts,
            reencode=encode,
            timeout=self.deadline,
        )

    def _sync_copy(self, sid: str, ts: int, warnings: list[str]) -> str | None:
        """Our own copy (for our other devices), with the stored message's timestamp; its hash."""
        from sessioncli.protocol import message

        own_sid = self.identity.session_id
        if not self.sync_copy or sid == own_sid:
            return None
        own = self.build(ts, sid)
        try:
            return self.net.store(
                own_sid,
                message.encode_dm(self.identity, own_sid, own, ts),
                ttl_ms=self.ttl_ms,
                timestamp_ms=ts,
                timeout=self.deadline,
            ).hash
        except SessionCliError as exc:
            warnings.append(f"sync copy to our own swarm failed: {exc.message}")
            return None


def _record_sent(convs: ConversationStore, results: list[SendResult]) -> list[SendResult]:
    """Mark every conversation we just wrote to approved by us, in one locked write for the
    whole send (it was one fsynced rewrite per recipient: 100 of them for 100 recipients); a
    result says first_contact the first time we write to a peer that has not approved us.

    The write follows the stores, as it did per recipient: a send killed before it leaves those
    conversations unmarked, so a later reply from them shows as a request and our next message
    approves it again (a MessageRequestResponse: harmless). Bookkeeping never costs a message:
    if the write fails, the results stay ok, with a warning."""
    sent = {r.recipient: r.timestamp_ms for r in results if r.ok}
    if not sent:
        return results

    def change(all_convs: dict[str, Conversation]) -> set[str]:
        first: set[str] = set()
        for sid, ts in sent.items():
            c = all_convs.get(sid) or Conversation(sid)
            if not c.approved_us and not c.warned_unapproved:
                first.add(sid)
            all_convs[sid] = replace(
                c,
                approved_by_us=True,
                pending_request=False,
                warned_unapproved=c.warned_unapproved or sid in first,
                last_sent_ms=ts,
            )
        return first

    try:
        first = convs.update(change)
    except SessionCliError as exc:
        why = f"the conversation state was not updated: {exc.message}"
        return [replace(r, warnings=(*r.warnings, why)) if r.ok else r for r in results]
    return [replace(r, first_contact=True) if r.recipient in first else r for r in results]


def overall_exit(results: list[SendResult]) -> ExitCode:
    """0 when all got it; PARTIAL when some did; otherwise the first failure's own code."""
    ok = [r for r in results if r.ok]
    if len(ok) == len(results):
        return ExitCode.OK
    if ok:
        return ExitCode.PARTIAL
    return ExitCode(results[0].exit_code or ExitCode.ERROR)
