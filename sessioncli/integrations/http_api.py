"""The daemon's optional HTTP front: /api/v1/rpc (JSON-RPC), /api/v1/events (SSE), /api/v1/check.

Loopback only unless a bearer token is configured (then any host: the token guards it). The
token is compared in constant time and never logged or echoed.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

from sessioncli.api import UsageError
from sessioncli.integrations import rpc

if TYPE_CHECKING:
    from sessioncli.integrations.daemon import Daemon
    from sessioncli.integrations.hub import SubscribeOptions


def parse_listen(text: str, *, token: str | None) -> tuple[str, int]:
    """HOST:PORT, with a loopback host unless a token is set."""
    host, sep, port_text = text.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise UsageError(f"invalid listen address {text!r}: expected HOST:PORT")
    if token is None:
        try:
            loopback = ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = host == "localhost"
        if not loopback:
            raise UsageError(
                f"refusing to listen on {host} without a token",
                hints=("use a loopback address, or set a token (--token-file)",),
            )
    return host, int(port_text)


class _Handler(BaseHTTPRequestHandler):
    daemon_ref: Daemon
    token: str | None
    protocol_version = "HTTP/1.1"
    server_version = "sessioncli"

    def log_message(self, format: str, *args: Any) -> None:
        return  # access logs would carry paths and peers; nothing secret, but nothing asked for

    def _authorised(self) -> bool:
        if self.token is None:
            return True
        given = self.headers.get("Authorization", "")
        expected = "Bearer " + self.token
        return hmac.compare_digest(given.encode(), expected.encode())

    def _reply(self, code: int, body: bytes, ctype: str = "application/json") -> None:
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        if not self._authorised():
            self._reply(401, b'{"error":"unauthorised"}\n')
        elif self.path == "/api/v1/check":
            self._reply(200, b'{"ok":true}\n')
        elif self.path == "/api/v1/events":
            self._events()
        else:
            self._reply(404, b'{"error":"not found"}\n')

    def do_POST(self) -> None:
        if not self._authorised():
            self._reply(401, b'{"error":"unauthorised"}\n')
            return
        if self.path != "/api/v1/rpc":
            self._reply(404, b'{"error":"not found"}\n')
            return
        length = self.headers.get("Content-Length", "")
        if not length.isdigit() or int(length) > rpc.MAX_LINE_BYTES:
            self._reply(413, b'{"error":"body missing or too large"}\n')
            return
        body = self.rfile.read(int(length))
        answer = self.daemon_ref.handle(body, _NoStream())
        self._reply(200, answer or b"")

    def _events(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        gone = threading.Event()
        lock = threading.Lock()

        def deliver(_sid: int, record: dict[str, Any]) -> bool:
            data = json.dumps(record, ensure_ascii=False, separators=(",", ":"))
            with lock:
                try:
                    self.wfile.write(b"event: receive\ndata: " + data.encode() + b"\n\n")
                    self.wfile.flush()
                    return True
                except OSError:
                    gone.set()
                    return False

        sid = self.daemon_ref.hub.subscribe(deliver)
        try:
            while not gone.is_set() and not self.daemon_ref.stopping.is_set():
                gone.wait(15.0)
                with lock:  # a comment line keeps proxies from closing an idle stream
                    try:
                        self.wfile.write(b": keep-alive\n\n")
                        self.wfile.flush()
                    except OSError:
                        gone.set()
        finally:
            self.daemon_ref.hub.unsubscribe(sid)


class _NoStream:
    """POST /api/v1/rpc answers once: no notifications, so no subscriptions (use the events)."""

    def subscribe(self, _opts: SubscribeOptions) -> int:
        raise rpc.RpcFault(rpc.INVALID_REQUEST, "subscribe with GET /api/v1/events")

    def unsubscribe(self, _sid: int) -> bool:
        return False

    def drain(self, _opts: SubscribeOptions, _timeout: float) -> int:
        raise rpc.RpcFault(rpc.INVALID_REQUEST, "receive streams: use the Unix socket")


def start_http(daemon: Daemon, host: str, port: int, token: str | None) -> ThreadingHTTPServer:
    handler = type("Handler", (_Handler,), {"daemon_ref": daemon, "token": token})
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True
    ).start()
    return server
