"""An apprise plugin: `sessioncli://RECIPIENT[/RECIPIENT...][?ttl=1h]` sends Session messages.

Apprise loads this file from its plugin path (`sessioncli integrations apprise install` puts it
there). It sends through the `sessioncli` Python API when sessioncli is importable in apprise's
environment, and through a running `sessioncli daemon` (its Unix socket: $SESSIONCLI_SOCKET or
the daemon's default path) when it is not, so it also works when apprise lives in another
virtualenv. The identity never appears in the URL: it is wherever sessioncli keeps it.
(`session://`, `sessions://` and `sogs://` belong to apprise's own community plugin.)

This file stands alone (standard library and apprise only), since it is copied out of the
package; its socket call repeats sessioncli.integrations.daemon_client for that reason.
"""

from __future__ import annotations

import json
import os
import socket
from typing import Any
from urllib.parse import unquote

from apprise.decorators import notify


def _recipients(meta: dict[str, Any]) -> list[str]:
    parts = [meta.get("host") or ""]
    parts += (meta.get("fullpath") or "").split("/")
    return [unquote(p) for p in parts if p and p.strip()]


def _socket_path() -> str:
    explicit = os.environ.get("SESSIONCLI_SOCKET")
    if explicit:
        return explicit
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime:
        return os.path.join(runtime, "sessioncli", "socket")
    return os.path.join(os.environ.get("TMPDIR") or "/tmp", f"sessioncli-{os.getuid()}", "socket")  # noqa: S108


def _via_daemon(recipients: list[str], text: str, ttl: str | None) -> bool:
    params: dict[str, Any] = {"recipient": recipients, "message": text}
    if ttl:
        params["ttl"] = ttl
    request = {"jsonrpc": "2.0", "method": "send", "params": params, "id": 1}
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(120)
        sock.connect(_socket_path())
        sock.sendall(json.dumps(request).encode("utf-8") + b"\n")
        answer = json.loads(sock.makefile("rb").readline(1 << 24))
    return "result" in answer and answer["result"].get("exit_code") == 0


def _via_api(recipients: list[str], text: str, ttl: str | None) -> bool:
    from sessioncli.api import Client

    with Client() as client:
        return all(r.ok for r in client.send(recipients, text, ttl=ttl))


@notify(on="sessioncli", name="Session (sessioncli)")
def sessioncli_notify(
    body: str, title: str, notify_type: str, meta: dict[str, Any], *args: Any, **kwargs: Any
) -> bool:
    recipients = _recipients(meta)
    if not recipients:
        return False
    text = f"{title}\n{body}" if title else body
    ttl = (meta.get("qsd") or {}).get("ttl")
    try:
        import sessioncli.api  # noqa: F401
    except ImportError:
        try:
            return _via_daemon(recipients, text, ttl)
        except (OSError, ValueError):
            return False
    try:
        return _via_api(recipients, text, ttl)
    except Exception:  # apprise expects True/False; the reason is the API's to log
        return False
