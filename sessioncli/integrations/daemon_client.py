"""A minimal client of the daemon's socket (standard library only; the apprise plugin repeats `call`).

`call(method, params)` sends one JSON-RPC line and returns the `result`, or raises
`DaemonError` carrying the CLI's exit code for the failure (75 when the daemon is unreachable);
`Stream` keeps the connection for notifications (`receive --daemon`).
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


class Stream:
    """One connection to the daemon: requests out, then its notifications and answers as they come.

    `receive --daemon` uses it: a `receive` request streams notifications before its answer,
    a `subscribeReceive` streams them until the connection closes.
    """

    def __init__(self, path: str | None = None, *, timeout: float = 60.0) -> None:
        self.where = path or socket_path()
        self._buffer = b""
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self._sock.settimeout(timeout)
            self._sock.connect(self.where)
        except OSError as exc:
            self._sock.close()
            raise self._unreachable(exc) from None

    def _unreachable(self, exc: OSError) -> DaemonError:
        return DaemonError(
            f"cannot reach the sessioncli daemon at {self.where}: {exc.strerror or exc}", 75
        )

    def request(self, method: str, params: dict[str, Any], rid: int = 1) -> None:
        line = {"jsonrpc": "2.0", "method": method, "params": params, "id": rid}
        try:
            self._sock.sendall(json.dumps(line).encode("utf-8") + b"\n")
        except OSError as exc:
            raise self._unreachable(exc) from None

    def next(self, timeout: float | None = None) -> tuple[str, Any] | None:
        """("notification", params) or ("result", result); None when `timeout` passed first.

        An error answer raises DaemonError with its exit code; a closed connection, 75."""
        while b"\n" not in self._buffer:
            self._sock.settimeout(timeout)
            try:
                chunk = self._sock.recv(1 << 16)
            except TimeoutError:
                return None
            except OSError as exc:
                raise self._unreachable(exc) from None
            if not chunk:
                raise DaemonError("the sessioncli daemon closed the connection", 75)
            self._buffer += chunk
            if len(self._buffer) > 1 << 24:
                raise DaemonError("the sessioncli daemon sent no valid answer", 75)
        line, self._buffer = self._buffer.split(b"\n", 1)
        answer = _decode(line)
        if "id" not in answer:
            return "notification", answer.get("params")
        return "result", _result(answer)

    def close(self) -> None:
        self._sock.close()

    def __enter__(self) -> Stream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _decode(line: bytes) -> dict[str, Any]:
    try:
        answer = json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise DaemonError("the sessioncli daemon sent no valid answer", 75) from None
    if not isinstance(answer, dict):
        raise DaemonError("the sessioncli daemon sent no valid answer", 75)
    return answer


def _result(answer: dict[str, Any]) -> Any:
    if "error" in answer:
        err = answer["error"]
        data = err.get("data") or {}
        return_code = data.get("exit_code", 1) if isinstance(data, dict) else 1
        raise DaemonError(str(err.get("message", "daemon error")), int(return_code))
    return answer.get("result")


def call(
    method: str, params: dict[str, Any], *, path: str | None = None, timeout: float = 60.0
) -> Any:
    """One request, its answer (notifications in between are skipped)."""
    with Stream(path, timeout=timeout) as stream:
        stream.request(method, params)
        while True:
            got = stream.next(timeout)
            if got is None:
                raise DaemonError("the sessioncli daemon did not answer in time", 75)
            if got[0] == "result":
                return got[1]
