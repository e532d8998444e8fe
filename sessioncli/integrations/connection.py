"""One client connection to the daemon's socket: read request lines, write responses and events.

Lines are capped (`rpc.MAX_LINE_BYTES`): a longer one gets one error response and the connection
is closed, so a garbage megabyte costs one buffer, not the daemon. A client that disconnects
mid-request loses only its own answer; its subscriptions end with it.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from typing import TYPE_CHECKING, Any

from sessioncli.integrations import rpc

if TYPE_CHECKING:
    from sessioncli.integrations.daemon import Daemon
    from sessioncli.integrations.hub import SubscribeOptions


class Connection:
    def __init__(self, daemon: Daemon, conn: socket.socket) -> None:
        self.daemon = daemon
        self.conn = conn
        self._write_lock = threading.Lock()
        self._subscriptions: set[int] = set()
        self.alive = True

    def write(self, data: bytes) -> bool:
        with self._write_lock:
            if not self.alive:
                return False
            try:
                self.conn.sendall(data)
                return True
            except OSError:
                self.alive = False
                return False

    def _deliver(self, sid: int, record: dict[str, Any]) -> bool:
        return self.write(
            rpc.notification_line("receive", {"subscription": sid, "message": record})
        )

    def subscribe(self, opts: SubscribeOptions) -> int:
        sid = self.daemon.hub.subscribe(self._deliver, opts)
        self._subscriptions.add(sid)
        return sid

    def drain(self, opts: SubscribeOptions, timeout: float) -> int:
        """The `receive` method: what one poll finds, as notifications, before the answer."""
        return self.daemon.hub.drain(self._deliver, opts, timeout)

    def unsubscribe(self, sid: int) -> bool:
        if sid not in self._subscriptions:
            return False
        self._subscriptions.discard(sid)
        return self.daemon.hub.unsubscribe(sid)

    def run(self) -> None:
        self.conn.settimeout(None)
        try:
            reader = self.conn.makefile("rb")
            while self.alive and not self.daemon.stopping.is_set():
                line = reader.readline(rpc.MAX_LINE_BYTES + 1)
                if not line:
                    break
                if len(line) > rpc.MAX_LINE_BYTES:
                    fault = rpc.RpcFault(rpc.INVALID_REQUEST, "request line too long")
                    self.write(rpc.error_line(None, fault))
                    break
                if not line.strip():
                    continue
                answer = self.daemon.handle(line, self)
                if answer is not None:
                    self.write(answer)
        except OSError:
            pass
        finally:
            self.alive = False
            for sid in list(self._subscriptions):
                self.daemon.hub.unsubscribe(sid)
            with contextlib.suppress(OSError):
                self.conn.close()
