"""A minimal client of the daemon's socket (standard library only: the apprise plugin copies it).

`call(method, params)` sends one JSON-RPC line and returns the `result`, or raises
`DaemonError` carrying the CLI's exit code for the failure (75 when the daemon is unreachable).
"""

from __future__ import annotations

import json
import os
import socket
from typing import Any


class DaemonError(Exception):
    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code


def socket_path() -> str:
    """$SESSIONCLI_SOCKET, else the daemon's default path."""
    explicit = os.environ.get("SESSIONCLI_SOCKET")
    if explicit:
        return explicit
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime:
        return os.path.join(runtime, "sessioncli", "socket")
    return os.path.join(os.environ.get("TMPDIR") or "/tmp", f"sessioncli-{os.getuid()}", "socket")  # noqa: S108


def call(
    method: str, params: dict[str, Any], *, path: str | None = None, timeout: float = 60.0
) -> Any:
    where = path or socket_path()
    request = {"jsonrpc": "2.0", "method": method, "params": params, "id": 1}
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(where)
            sock.sendall(json.dumps(request).encode("utf-8") + b"\n")
            line = sock.makefile("rb").readline(1 << 24)
    except OSError as exc:
        raise DaemonError(
            f"cannot reach the sessioncli daemon at {where}: {exc.strerror or exc}", 75
        ) from None
    try:
        answer = json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise DaemonError("the sessioncli daemon sent no valid answer", 75) from None
    if "error" in answer:
        err = answer["error"]
        data = err.get("data") or {}
        return_code = data.get("exit_code", 1) if isinstance(data, dict) else 1
        raise DaemonError(str(err.get("message", "daemon error")), int(return_code))
    return answer.get("result")
