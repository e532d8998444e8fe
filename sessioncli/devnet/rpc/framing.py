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


def parse_request(body: bytes) -> tuple[Any, Any]:
    try:
        request = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise bad(f"invalid json: {exc}") from None
    if not isinstance(request, dict):
        raise bad("request must be a JSON object")
    return request.get("method"), request.get("params")
