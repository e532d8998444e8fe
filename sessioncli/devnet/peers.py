"""Node-to-node HTTPS: kept-alive connections from one node's address to another's, with timeouts."""

from __future__ import annotations

import http.client
import ssl
import threading
from collections import defaultdict
from dataclasses import dataclass

from sessioncli.devnet.tls import unverified_client_context

# A relay passes back any answer, but a node that sends without end must not exhaust memory.
MAX_REPLY_BYTES = 64 * 1024 * 1024
# Idle connections kept per (source, destination). Real service nodes multiplex every request
# between two nodes over one connection; here one HTTP/1.1 connection carries one request at a
# time, so a burst (a send to 100 recipients: 8 onion requests in flight, each store replicated
# to 4 members) needs several. With 8, two such sends still opened ~57 new TLS connections.
MAX_IDLE_PER_PEER = 32


class PeerUnreachable(Exception):
    """Could not connect (refused, reset before an answer, TLS failure)."""


class PeerTimeout(Exception):
    """Connected, but no complete answer within the timeout."""


@dataclass(frozen=True)
class PeerReply:
    status: int
    body: bytes
    content_type: str


class PeerPool:
    """Idle connections per (source ip, destination) so relays and replication skip TLS handshakes."""

    def __init__(self) -> None:
        self._context: ssl.SSLContext = unverified_client_context()
        self._idle: dict[tuple[str, str, int], list[http.client.HTTPConnection]] = defaultdict(list)
        self._lock = threading.Lock()

    def post(
        self,
        source_ip: str,
        host: str,
        port: int,
        path: str,
        body: bytes,
        timeout: float,
        headers: dict[str, str] | None = None,
        tls: bool = True,
    ) -> PeerReply:
        key = (source_ip, host, port)
        conn = self._take(key) if tls else None
        reused = conn is not None
        if conn is None:
            conn = self._connect(source_ip, host, port, timeout, tls)
        conn.timeout = timeout
        if conn.sock is not None:
            conn.sock.settimeout(timeout)
        try:
            reply = self._exchange(conn, path, body, headers or {})
        except PeerUnreachable:
            conn.close()
            if not reused:
                raise
            # A kept-alive connection the other side closed meanwhile: one fresh attempt.
            conn = self._connect(source_ip, host, port, timeout, tls)
            try:
                reply = self._exchange(conn, path, body, headers or {})
            except BaseException:
                conn.close()
                raise
        except BaseException:
            conn.close()
            raise
        if tls and not reply[1]:
            self._give_back(key, conn)
        else:
            conn.close()
        return reply[0]

    def close(self) -> None:
        with self._lock:
            conns = [c for idle in self._idle.values() for c in idle]
            self._idle.clear()
        for conn in conns:
            conn.close()

    def _take(self, key: tuple[str, str, int]) -> http.client.HTTPConnection | None:
        with self._lock:
            idle = self._idle.get(key)
            return idle.pop() if idle else None

    def _give_back(self, key: tuple[str, str, int], conn: http.client.HTTPConnection) -> None:
        with self._lock:
            idle = self._idle[key]
            if len(idle) < MAX_IDLE_PER_PEER:
                idle.append(conn)
                return
        conn.close()

    def _connect(
        self, source_ip: str, host: str, port: int, timeout: float, tls: bool
    ) -> http.client.HTTPConnection:
        conn: http.client.HTTPConnection
        if tls:
            conn = http.client.HTTPSConnection(
                host, port, timeout=timeout, context=self._context, source_address=(source_ip, 0)
            )
        else:
            conn = http.client.HTTPConnection(
                host, port, timeout=timeout, source_address=(source_ip, 0)
            )
        try:
            conn.connect()
        except TimeoutError as exc:
            conn.close()
            raise PeerTimeout(str(exc)) from exc
        except (OSError, ssl.SSLError) as exc:
            conn.close()
            raise PeerUnreachable(str(exc)) from exc
        return conn

    @staticmethod
    def _exchange(
        conn: http.client.HTTPConnection, path: str, body: bytes, headers: dict[str, str]
    ) -> tuple[PeerReply, bool]:
        sent = False
        try:
            conn.request("POST", path, body=body, headers={**headers, "Connection": "keep-alive"})
            sent = True
            response = conn.getresponse()
            data = response.read(MAX_REPLY_BYTES)
            closing = response.will_close or not response.isclosed()
            reply = PeerReply(response.status, data, response.getheader("Content-Type", "") or "")
            return reply, closing
        except TimeoutError as exc:
            raise PeerTimeout(str(exc)) from exc
        except http.client.IncompleteRead as exc:
            raise PeerUnreachable(f"truncated answer: {exc}") from exc
        except (ConnectionError, http.client.RemoteDisconnected) as exc:
            if sent:
                raise PeerUnreachable(f"connection lost: {exc}") from exc
            raise PeerUnreachable(str(exc)) from exc
        except (OSError, http.client.HTTPException, ssl.SSLError) as exc:
            raise PeerUnreachable(str(exc)) from exc
