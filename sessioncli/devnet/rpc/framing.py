"""The storage RPC's answers other than 200 (status + text or JSON body) and the request framing."""

from __future__ import annotations

import json
from typing import Any

Body = dict[str, Any] | str


class RpcError(Exception):
    """An RPC answer other than 200: HTTP status plus a text (or, for 421, JSON) body."""

    def __init__(self, status: int, body: Body) -> None:
        super().__init__(body if isinstance(body, str) else json.dumps(body))
        self.status = status
        self.body = body


def bad(message: str) -> RpcError:
    return RpcError(400, f"invalid request: {message}")


def parse_request(body: bytes) -> tuple[str, dict[str, Any]]:
    """`{"method": name, "params": {...}}`, with the texts of the storage server's
    `RequestHandler::process_client_req(std::string_view ...)`."""
    try:
        request = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise RpcError(400, "invalid json") from None
    if not isinstance(request, dict):
        # nlohmann's find() on a non-object finds nothing: the method check is what fails.
        raise RpcError(400, "invalid json: no `method` field")
    method = request.get("method")
    if not isinstance(method, str):
        raise RpcError(400, "invalid json: no `method` field")
    params = request.get("params")
    if not isinstance(params, dict):
        raise RpcError(400, "invalid json: no `params` field")
    return method, params
