"""JSON-RPC 2.0 for the daemon: framing, errors, and the method table over one `api.Client`.

Method and parameter names follow signal-cli's where they exist (`send`, `listContacts`,
`version`, `subscribeReceive`, `unsubscribeReceive`); results are ours (docs/daemon.md).
Subscriptions are the caller's business (the server knows its connections); this module maps one
request object to one response object and does no I/O of its own beyond the client's.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sessioncli import __version__
from sessioncli.api import Client, Error, UsageError, exit_code, parse_recipients

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
# Our own range (-32000..-32099 is for implementations): the exit code rides in error.data.
SESSION_ERROR = -32000

MAX_LINE_BYTES = 1 << 20  # a request line longer than this is refused and the connection closed


class RpcFault(Exception):
    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data


@dataclass(frozen=True)
class Request:
    id: Any
    method: str
    params: dict[str, Any]
    notification: bool


def parse_request(line: bytes) -> Request:
    """One request object from one line; RpcFault for what JSON-RPC calls invalid."""
    try:
        obj = json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise RpcFault(PARSE_ERROR, "parse error: not a JSON object") from None
    if not isinstance(obj, dict) or obj.get("jsonrpc") != "2.0":
        raise RpcFault(INVALID_REQUEST, 'invalid request: expected {"jsonrpc": "2.0", ...}')
    method = obj.get("method")
    if not isinstance(method, str):
        raise RpcFault(INVALID_REQUEST, "invalid request: no method")
    params = obj.get("params", {})
    if params is None:
        params = {}
    if not isinstance(params, dict):
        raise RpcFault(INVALID_PARAMS, "params must be an object")
    rid = obj.get("id")
    if isinstance(rid, bool) or not (rid is None or isinstance(rid, int | str)):
        raise RpcFault(INVALID_REQUEST, "invalid request: id must be a string or an integer")
    return Request(rid, method, params, notification="id" not in obj)


def result_line(rid: Any, result: Any) -> bytes:
    return _line({"jsonrpc": "2.0", "id": rid, "result": result})


def error_line(rid: Any, fault: RpcFault) -> bytes:
    error: dict[str, Any] = {"code": fault.code, "message": fault.message}
    if fault.data is not None:
        error["data"] = fault.data
    return _line({"jsonrpc": "2.0", "id": rid, "error": error})


def notification_line(method: str, params: dict[str, Any]) -> bytes:
    return _line({"jsonrpc": "2.0", "method": method, "params": params})


def _line(obj: dict[str, Any]) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n"


def fault_of(exc: Error) -> RpcFault:
    """Our error as a JSON-RPC error: one line, with the CLI's exit code for the same failure."""
    code = INVALID_PARAMS if isinstance(exc, UsageError) else SESSION_ERROR
    return RpcFault(code, exc.message, {"exit_code": int(exc.exit_code)})


def _text(params: dict[str, Any], key: str, *, required: bool = True) -> str | None:
    value = params.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str):
        raise RpcFault(INVALID_PARAMS, f"params.{key} must be a string")
    return value


class Methods:
    """The daemon's request methods (subscriptions are handled by the server around this)."""

    def __init__(self, client: Client, status: Callable[[], dict[str, Any]]) -> None:
        self.client = client
        self._status = status

    def call(self, request: Request) -> Any:
        handler = {
            "send": self.send,
            "listContacts": self.list_contacts,
            "version": self.version,
            "status": self.status,
        }.get(request.method)
        if handler is None:
            raise RpcFault(METHOD_NOT_FOUND, f"method not found: {request.method}")
        try:
            return handler(request.params)
        except Error as exc:
            raise fault_of(exc) from None

    def send(self, params: dict[str, Any]) -> dict[str, Any]:
        recipient = params.get("recipient", params.get("recipients"))
        if isinstance(recipient, str):
            recipients = [recipient]
        elif (
            isinstance(recipient, list) and recipient and all(isinstance(r, str) for r in recipient)
        ):
            recipients = list(recipient)
        else:
            raise RpcFault(INVALID_PARAMS, "params.recipient must be a string or a list of strings")
        message = _text(params, "message")
        assert message is not None
        ttl = params.get("ttl")
        if ttl is not None and (isinstance(ttl, bool) or not isinstance(ttl, str | int)):
            raise RpcFault(INVALID_PARAMS, "params.ttl must be a duration string or milliseconds")
        name = _text(params, "name", required=False)
        reply_to = _text(params, "replyTo", required=False)
        disappear = _text(params, "disappear", required=False)
        after = _text(params, "disappearAfter", required=False) or "send"
        sync = params.get("sync", True)
        if not isinstance(sync, bool):
            raise RpcFault(INVALID_PARAMS, "params.sync must be true or false")
        used = [
            flag for flag, value in (("--reply-to", reply_to), ("--disappear", disappear)) if value
        ]
        targets = parse_recipients(
            recipients, via=_text(params, "via", required=False), options=used
        )
        results = self.client.send(
            targets,
            message,
            ttl=ttl,
            display_name=name,
            sync_copy=sync,
            reply_to=reply_to,
            disappear=disappear,
            disappear_after=after,
        )
        return {"results": [r.data for r in results], "exit_code": exit_code(results)}

    def list_contacts(self, _params: dict[str, Any]) -> list[dict[str, Any]]:
        return self.client.contacts()

    def version(self, _params: dict[str, Any]) -> dict[str, Any]:
        return {"version": __version__}

    def status(self, _params: dict[str, Any]) -> dict[str, Any]:
        return self._status()
