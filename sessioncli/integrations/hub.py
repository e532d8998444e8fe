"""The daemon's receive side: one receive loop shared by every subscriber, started on demand.

While at least one subscriber exists (a socket connection after `subscribeReceive` or during a
`receive` call, or an SSE stream), one thread holds an open `api.Client.receiving()` and polls
it every `interval` seconds, handing each message to every subscriber. The receive lock is held
by that loop, and only while it runs.

A message counts as received once every subscriber has taken it or passed it over: written to
its connection, or not wanted by its filter (as a direct receive marks a message its filters
hide). If no subscriber took it (every write failed, or nobody is left), the poll is abandoned
before the message is marked, so the next subscriber gets it again.

A one-shot subscriber (the `receive` method, what `sessioncli receive --daemon` without
--follow calls) is drained once a complete poll that started after it subscribed has ended: the
loop is woken at once for it, and the poll's failures are its answer.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sessioncli.api import Client, Error, ReceiveFilter, TemporaryFailure
from sessioncli.integrations import rpc

Deliver = Callable[[int, dict[str, Any]], bool]  # (subscription id, record) -> written?


class _NobodyTook(Exception):
    """Raised from the emit callback: leave the message unmarked."""


@dataclass(frozen=True)
class SubscribeOptions:
    """What one subscriber wants (params of subscribeReceive / receive, docs/daemon.md)."""

    filter: ReceiveFilter = field(default_factory=lambda: ReceiveFilter(include_control=True))
    include_own: bool = False
    max_messages: int | None = None

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> SubscribeOptions:
        def words(key: str) -> tuple[str, ...]:
            value = params.get(key, [])
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise rpc.RpcFault(rpc.INVALID_PARAMS, f"params.{key} must be a list of strings")
            return tuple(value)

        def flag(key: str, default: bool = False) -> bool:
            value = params.get(key, default)
            if not isinstance(value, bool):
                raise rpc.RpcFault(rpc.INVALID_PARAMS, f"params.{key} must be true or false")
            return value

        most = params.get("maxMessages")
        if most is not None and (isinstance(most, bool) or not isinstance(most, int) or most < 1):
            raise rpc.RpcFault(rpc.INVALID_PARAMS, "params.maxMessages must be a positive integer")
        flt = ReceiveFilter(
            kinds=words("kinds"),
            senders=words("senders"),
            conversations=words("conversations"),
            contacts_only=flag("contactsOnly"),
            requests_only=flag("requestsOnly"),
            include_control=flag("includeControl", True),
        )
        return cls(flt, flag("includeOwn"), most)


class _Subscriber:
    def __init__(
        self,
        deliver: Deliver,
        shows: Callable[[dict[str, Any]], bool],
        opts: SubscribeOptions,
        drain_after: int | None,
    ) -> None:
        self.deliver = deliver
        self.shows = shows
        self.include_own = opts.include_own
        self.left = opts.max_messages
        self.drain_after = drain_after  # one-shot: drained by the end of this poll (or later)
        self.done = threading.Event()
        self.failure: Error | None = None
        self.written = 0

    def wants(self, record: dict[str, Any]) -> bool:
        if record.get("outgoing") and not self.include_own:
            return False
        return self.shows(record)


class ReceiveHub:
    def __init__(
        self, client: Client, *, interval: float = 2.0, on_error: Callable[[str], None]
    ) -> None:
        self.client = client
        self.interval = interval
        self.on_error = on_error
        self._lock = threading.Lock()
        self._subscribers: dict[int, _Subscriber] = {}
        self._ids = itertools.count(1)
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._polls = 0  # polls started so far (one-shot subscribers wait for a later one)
        self.closed = False

    def subscribe(self, deliver: Deliver, opts: SubscribeOptions | None = None) -> int:
        return self._add(deliver, opts or SubscribeOptions(), one_shot=False)[0]

    def _add(
        self, deliver: Deliver, opts: SubscribeOptions, *, one_shot: bool
    ) -> tuple[int, _Subscriber]:
        shows = self.client.shows(opts.filter)  # a bad --conversation fails here (usage)
        with self._lock:
            if self.closed:
                raise TemporaryFailure("the daemon is stopping")
            sid = next(self._ids)
            sub = _Subscriber(deliver, shows, opts, self._polls + 1 if one_shot else None)
            self._subscribers[sid] = sub
            if self._stop.is_set() or self._thread is None or not self._thread.is_alive():
                previous = self._thread
                self._stop = threading.Event()
                self._thread = threading.Thread(
                    target=self._run, args=(previous,), name="receive", daemon=True
                )
                self._thread.start()
            self._wake.set()  # poll now: a new subscriber wants what is waiting
        return sid, sub

    def drain(self, deliver: Deliver, opts: SubscribeOptions, timeout: float) -> int:
        """One-shot: deliver what one complete poll finds, then return how many were written.

        Raises the poll's first failure (after delivering what the other sources brought)."""
        sid, sub = self._add(deliver, opts, one_shot=True)
        try:
            if not sub.done.wait(timeout):
                raise TemporaryFailure(f"the daemon's poll did not finish within {timeout:g} s")
        finally:
            self.unsubscribe(sid)
        if sub.failure is not None:
            raise sub.failure
        return sub.written

    def unsubscribe(self, sid: int) -> bool:
        with self._lock:
            sub = self._subscribers.pop(sid, None)
            if not self._subscribers:
                self._stop.set()
                self._wake.set()
        if sub is not None:
            sub.done.set()
        return sub is not None

    def close(self, timeout: float = 10.0) -> None:
        with self._lock:
            self.closed = True
            subs = list(self._subscribers.values())
            self._subscribers.clear()
            self._stop.set()
            self._wake.set()
            thread = self._thread
        for sub in subs:
            sub.failure = sub.failure or TemporaryFailure("the daemon is stopping")
            sub.done.set()
        if thread is not None:
            thread.join(timeout)

    def _deliver(self, record: dict[str, Any]) -> None:
        with self._lock:
            targets = list(self._subscribers.items())
        took = 0
        for sid, sub in targets:
            if sub.done.is_set():
                continue
            if not sub.wants(record):
                took += 1  # passed over, as a direct receive's filter hides it
            elif sub.deliver(sid, record):
                took += 1
                sub.written += 1
                if sub.left is not None:
                    sub.left -= 1
                    if sub.left <= 0:
                        self.unsubscribe(sid)  # --max reached: nothing more is written to it
            else:
                self.unsubscribe(sid)
        if not took:
            raise _NobodyTook

    def _one_shots(self) -> list[_Subscriber]:
        with self._lock:
            return [s for s in self._subscribers.values() if s.drain_after is not None]

    def _polled(self, number: int | None, failures: list[Error]) -> None:
        """A poll ended (None: could not run): one-shot subscribers that waited for it are done."""
        for sub in self._one_shots():
            if sub.drain_after is not None and (number is None or number >= sub.drain_after):
                sub.failure = failures[0] if failures else None
                sub.done.set()

    def _run(self, previous: threading.Thread | None) -> None:
        if previous is not None:
            previous.join()  # it is letting go of the receive lock
        stop = self._stop
        while not stop.is_set():
            try:
                with self.client.receiving(include_own=True) as rx:
                    self._poll_loop(rx, stop)
            except _NobodyTook:
                stop.wait(0.05)
                continue  # reopen: the message stays for whoever subscribes next
            except Error as exc:
                self.on_error(f"receive failed: {exc.message}")
                self._polled(None, [exc])  # e.g. another receive holds the lock: tell them now
            if not stop.wait(self.interval):
                continue

    def _poll_loop(self, rx: Any, stop: threading.Event) -> None:
        while not stop.is_set():
            with self._lock:
                self._polls += 1
                number = self._polls
                self._wake.clear()
            # A one-shot subscriber needs what is waiting on every member: a full poll, not the
            # rotating one --follow makes after its first.
            polled = rx.poll(self._deliver, follow=not self._one_shots())
            for exc in polled.failures:
                self.on_error(f"poll failed: {exc.message}")
            self._polled(number, polled.failures)
            self._wake.wait(self.interval)
