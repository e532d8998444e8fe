"""Requests made of other requests: batch and sequence."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sessioncli.devnet.rpc.framing import Body, RpcError, bad

MAX_SUBREQUESTS = 20
META_METHODS = frozenset({"batch", "sequence"})

# Runs one subrequest (method, params) and returns its reply body; raises RpcError.
RunOne = Callable[[str, dict[str, Any]], dict[str, Any]]


def batch(params: dict[str, Any], run_one: RunOne, *, stop_on_error: bool) -> dict[str, Any]:
    requests = params.get("requests")
    if not isinstance(requests, list) or not 1 <= len(requests) <= MAX_SUBREQUESTS:
        raise bad(f"requests must be a list of 1-{MAX_SUBREQUESTS} subrequests")
    for sub in requests:
        if not isinstance(sub, dict) or not isinstance(sub.get("method"), str):
            raise bad("every subrequest needs a method")
        if sub["method"] in META_METHODS:
            raise bad("batch requests may not be nested")
    results: list[dict[str, Any]] = []
    for sub in requests:
        sub_params = sub.get("params", {})
        try:
            if not isinstance(sub_params, dict):
                raise bad("params must be an object")
            body: Body = run_one(sub["method"], sub_params)
            code = 200
        except RpcError as exc:
            code, body = exc.status, exc.body
        results.append({"code": code, "body": body})
        if stop_on_error and not 200 <= code < 300:
            break
    return {"results": results}
