"""The daemon's receive side: one receive loop shared by every subscriber, started on demand.

While at least one subscriber (a socket connection after `subscribeReceive`, or an SSE stream)
exists, one thread runs `Client.receive(follow=True)` and hands each record to every subscriber.
A record counts as received once it was written to at least one subscriber: if every write
failed, the loop stops without asking for the next record, so the API leaves it unmarked and the
next subscriber gets it again. The receive lock is held by that loop, and only while it runs.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from typing import Any

from sessioncli.api import Client, Error

Deliver = Callable[[int, dict[str, Any]], bool]  # (subscription id, record) -> written?


class ReceiveHub:
    def __init__(
        self, client: Client, *, interval: float = 2.0, on_error: Callable[[str], None]
    ) -> None:
        self.client = client
        self.interval = interval
        self.on_error = on_error
        self._lock = threading.Lock()
        self._subscribers: dict[int, Deliver] = {}
        self._ids = itertools.count(1)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.closed = False

    def subscribe(self, deliver: Deliver) -> int:
        with self._lock:
            sid = next(self._ids)
            self._subscribers[sid] = deliver
            if self._thread is None or not self._thread.is_alive():
                self._stop = threading.Event()
                self._thread = threading.Thread(target=self._run, name="receive", daemon=True)
                self._thread.start()
        return sid

    def unsubscribe(self, sid: int) -> bool:
        with self._lock:
            found = self._subscribers.pop(sid, None) is not None
            if not self._subscribers:
                self._stop.set()
        return found

    def close(self, timeout: float = 10.0) -> None:
        with self._lock:
            self.closed = True
            self._subscribers.clear()
            self._stop.set()
            thread = self._thread
        if thread is not None:
            thread.join(timeout)

    def _deliver(self, record: dict[str, Any]) -> int:
        with self._lock:
            targets = list(self._subscribers.items())
        written = 0
        for sid, deliver in targets:
            if deliver(sid, record):
                written += 1
            else:
                self.unsubscribe(sid)
        return written

    def _run(self) -> None:
        stop = self._stop
        while not stop.is_set():
            try:
                for record in self.client.receive(follow=True, interval=self.interval, stop=stop):
                    if not self._deliver(record):
                        break  # nobody took it: leave it unmarked for the next subscriber
                    if stop.is_set():
                        break
            except Error as exc:
                self.on_error(f"receive failed: {exc.message}")
            if not stop.wait(self.interval):
                continue
