"""SOGS `/batch` and `/sequence` (pysogs routes/general.py): several requests under one auth."""

from __future__ import annotations

import json
import re
import urllib.parse
from typing import Any

from sessioncli.devnet.lsrpc import HttpReply, HttpRequest
from sessioncli.devnet.sogs_routes import Context, HttpError, _b64_field, _route, dispatch
from sessioncli.devnet.sogs_store import b64


def _subrequest(item: Any, via: str) -> HttpRequest:
    """One `{"method","path",["headers"],["json"|"b64"|"bytes"]}` (pysogs parse_batch_request)."""
    if not isinstance(item, dict) or "method" not in item or "path" not in item:
        raise HttpError(400, "Bad Request: each subrequest needs method and path")
    method, path, headers = item["method"], item["path"], item.get("headers", {})
    if not isinstance(headers, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in headers.items()
    ):
        raise HttpError(400, "Bad Request: headers must be string pairs")
    if not isinstance(path, str) or not path.startswith("/"):
        raise HttpError(400, "Bad Request: path must start with /")
    has_body = method in ("POST", "PUT")
    if not has_body and method not in ("GET", "DELETE"):
        raise HttpError(400, f"Bad Request: invalid method {method}")
    kinds = [k for k in ("json", "b64", "bytes") if k in item]
    if len(kinds) != (1 if has_body else 0):
        raise HttpError(
            400, "Bad Request: POST/PUT need exactly one of json/b64/bytes, others none"
        )
    lowered = {k.lower(): v for k, v in headers.items()}
    body = b""
    if kinds == ["json"]:
        body = json.dumps(item["json"], separators=(",", ":")).encode()
        lowered.setdefault("content-type", "application/json")
    elif kinds == ["b64"]:
        body = _b64_field(item["b64"]) or b""
    elif kinds == ["bytes"]:
        body = str(item["bytes"]).encode()
    raw_path, _, query = path.partition("?")
    return HttpRequest(method, urllib.parse.unquote(raw_path), query, lowered, body, via)


def _batch(ctx: Context, request: HttpRequest, sequential: bool) -> HttpReply:
    body = _json_body_list(request)
    subrequests = [_subrequest(item, request.via) for item in body]  # all valid, or none run
    results: list[dict[str, Any]] = []
    for sub in subrequests:
        reply = dispatch(ctx, sub)
        content: Any = reply.body
        if reply.content_type.startswith("application/json"):
            content = json.loads(reply.body) if reply.body else None
        else:
            content = b64(reply.body)
        headers = {"content-type": reply.content_type, **reply.headers}
        results.append({"code": reply.code, "headers": headers, "body": content})
        if sequential and not 200 <= reply.code < 300:
            break
    return HttpReply.json(200, results)


def _json_body_list(request: HttpRequest) -> list[Any]:
    if not request.headers.get("content-type", "").lower().startswith("application/json"):
        raise HttpError(415, "Unsupported Media Type: expected application/json")
    try:
        value = json.loads(request.body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise HttpError(400, "Bad Request: invalid JSON") from None
    if not isinstance(value, list):
        raise HttpError(400, "Bad Request: expected a JSON list")
    return value


@_route("POST", r"/batch")
def _batch_route(ctx: Context, request: HttpRequest, match: re.Match[str]) -> HttpReply:
    return _batch(ctx, request, False)


@_route("POST", r"/sequence")
def _sequence_route(ctx: Context, request: HttpRequest, match: re.Match[str]) -> HttpReply:
    return _batch(ctx, request, True)
