"""`sessioncli webhook`: an HTTP endpoint for Alertmanager, Grafana or anything that POSTs JSON.

Each POST becomes one message to the configured recipients. The status says what happened, so
that the caller's own retry logic does the right thing: 200 once every recipient acknowledged,
503 for a temporary failure (Alertmanager and Grafana retry; a partial send is temporary too:
a retry may repeat it for those who got it, which beats losing it for the others), 500 with the
reason for a permanent one (a recipient that does not resolve), 400 for a body that is not the
chosen format, 401 without the bearer token when one is set.
"""

from __future__ import annotations

import hmac
import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from sessioncli.api import Client, Error, exit_code
from sessioncli.integrations.alerts import PayloadError, render

MAX_BODY = 1 << 20
TEMPORARY = {3, 69, 75}


class WebhookConfig:
    def __init__(
        self,
        client: Client,
        recipients: list[str],
        fmt: str,
        field: str | None,
        token: str | None,
        log: Callable[[str], None],
    ) -> None:
        self.client = client
        self.recipients = recipients
        self.format = fmt
        self.field = field
        self.token = token
        self.log = log
        self.lock = threading.Lock()  # one send at a time keeps alerts in order


class _Handler(BaseHTTPRequestHandler):
    config: WebhookConfig
    protocol_version = "HTTP/1.1"
    server_version = "sessioncli-webhook"

    def log_message(self, format: str, *args: Any) -> None:
        return  # one line per request is written by _answer instead (no headers, no token)

    def _answer(self, code: int, obj: dict[str, Any]) -> None:
        body = json.dumps(obj, ensure_ascii=False).encode() + b"\n"
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.config.log(f"POST {self.path[:100]} -> {code}")

    def do_GET(self) -> None:
        self._answer(200 if self.path == "/healthz" else 404, {"ok": self.path == "/healthz"})

    def do_POST(self) -> None:
        cfg = self.config
        if cfg.token is not None:
            given = self.headers.get("Authorization", "").encode()
            if not hmac.compare_digest(given, ("Bearer " + cfg.token).encode()):
                self._answer(401, {"ok": False, "error": "unauthorised"})
                return
        length = self.headers.get("Content-Length", "")
        if not length.isdigit() or int(length) > MAX_BODY:
            self._answer(413 if length.isdigit() else 411, {"ok": False, "error": "body size"})
            return
        try:
            text = render(cfg.format, self.rfile.read(int(length)), cfg.field)
        except PayloadError as exc:
            self._answer(400, {"ok": False, "error": str(exc)})
            return
        try:
            with cfg.lock:
                results = cfg.client.send(cfg.recipients, text)
        except Error as exc:
            code = 503 if int(exc.exit_code) in TEMPORARY else 500
            self._answer(code, {"ok": False, "error": exc.message})
            return
        status = exit_code(results)
        answer = {"ok": status == 0, "results": [r.data for r in results]}
        self._answer(200 if status == 0 else 503 if status in TEMPORARY else 500, answer)


def serve(config: WebhookConfig, host: str, port: int, stop: threading.Event) -> None:
    handler = type("Handler", (_Handler,), {"config": config})
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2})
    thread.start()
    config.log(f"listening on http://{host}:{server.server_address[1]}/")
    try:
        stop.wait()
    finally:
        server.shutdown()
        thread.join()
        server.server_close()
