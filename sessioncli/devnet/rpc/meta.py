"""Requests made of other requests: batch, sequence and ifelse.

Every subrequest is parsed before anything runs, so one bad subrequest fails the whole request
with a 400. Mirrors `batch::load_from`, `as_subrequest`, `load_condition`, `ifelse::load_from`
(session-storage-server `oxenss/rpc/client_rpc_endpoints.cpp`) and the `rpc::batch` /
`rpc::sequence` / `rpc::ifelse` `process_client_req` (`oxenss/rpc/request_handler.cpp`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sessioncli.devnet.node import STORAGE_VERSION, Network, Node, chain_height
from sessioncli.devnet.rpc import fields as f
from sessioncli.devnet.rpc.base import Loaded
from sessioncli.devnet.rpc.framing import Body, bad

BATCH_REQUEST_MAX = 20
META_METHODS = frozenset({"batch", "sequence", "ifelse"})

# Parses one request by method name (None: no such method); raises RpcError(400) on bad params.
LoadOne = Callable[[str, dict[str, Any]], Loaded | None]
# Runs one loaded request as a top-level client request: (status, body).
RunOne = Callable[[Node, Network, Loaded], tuple[int, Body]]


def load_batch(load_one: LoadOne, params: dict[str, Any]) -> list[Loaded]:
    requests = params.get("requests")
    if not isinstance(requests, list) or not requests:
        raise bad('Invalid batch request: no valid "requests" field')
    if len(requests) > BATCH_REQUEST_MAX:
        raise bad("Invalid batch request: subrequest limit exceeded")
    loaded: list[Loaded] = []
    for sub in requests:
        if not isinstance(sub, dict):
            raise bad("Invalid batch request: requests must be objects")
        method, sub_params = sub.get("method"), sub.get("params")
        if not isinstance(method, str) or not isinstance(sub_params, dict):
            raise bad("Invalid batch request: subrequests must have method/params keys")
        one = load_one(method, sub_params)
        if one is None:
            raise bad(f'Invalid batch subrequest: invalid method "{method}"')
        if one.name in META_METHODS:
            raise bad("Invalid batch subrequest: subrequests may not contain meta-requests")
        loaded.append(one)
    return loaded


def run_batch(
    run_one: RunOne, stop_on_error: bool, node: Node, net: Network, subs: list[Loaded]
) -> dict[str, Any]:
    results: list[dict[str, Any]] = []
    for sub in subs:
        code, body = run_one(node, net, sub)
        results.append({"code": code, "body": body})
        if stop_on_error and not 200 <= code <= 299:
            break
    return {"results": results}


@dataclass(frozen=True)
class Condition:
    hf_at_least: tuple[int, ...] | None
    hf_before: tuple[int, ...] | None
    v_at_least: tuple[int, ...] | None
    v_before: tuple[int, ...] | None
    height_at_least: int | None
    height_before: int | None

    def holds(self, hf: tuple[int, int], version: tuple[int, ...], height: int) -> bool:
        checks = [
            self.hf_at_least is None or hf >= self.hf_at_least,
            self.hf_before is None or hf < self.hf_before,
            self.v_at_least is None or version >= self.v_at_least,
            self.v_before is None or version < self.v_before,
            self.height_at_least is None or height >= self.height_at_least,
            self.height_before is None or height < self.height_before,
        ]
        return all(checks)


def _fixed(values: list[int] | None, size: int) -> tuple[int, ...] | None:
    """[major, minor...] padded with zeros and cut to `size`; an empty list is "not given"."""
    if not values:
        return None
    return tuple((values + [0] * size)[:size])


def load_condition(cond: dict[str, Any]) -> Condition:
    condition = Condition(
        height_at_least=f.integer(cond, "height_at_least"),
        height_before=f.integer(cond, "height_before"),
        hf_at_least=_fixed(f.integers(cond, "hf_at_least"), 2),
        hf_before=_fixed(f.integers(cond, "hf_before"), 2),
        v_at_least=_fixed(f.integers(cond, "v_at_least"), 3),
        v_before=_fixed(f.integers(cond, "v_before"), 3),
    )
    if all(v is None for v in vars(condition).values()):
        raise bad('Invalid ifelse request: must specify at least one "if" condition')
    return condition


@dataclass(frozen=True)
class IfElse:
    condition: Condition
    then: Loaded | None
    otherwise: Loaded | None


def _branch(load_one: LoadOne, params: dict[str, Any], key: str) -> Loaded | None:
    if key not in params:
        return None
    branch = params[key]
    if not isinstance(branch, dict):
        raise bad(f"Invalid ifelse request: {key} must be an object")
    method = branch.get("method")
    if not isinstance(method, str) or "params" not in branch:
        raise bad(f"Invalid ifelse request: {key} must have method/params keys")
    sub_params = branch["params"] if isinstance(branch["params"], dict) else {}
    loaded = load_one(method, sub_params)
    if loaded is None:
        # Upstream names the branch key here, not the method.
        raise bad(f'Invalid ifelse request method "{key}"')
    return loaded


def load_ifelse(load_one: LoadOne, params: dict[str, Any]) -> IfElse:
    cond = params.get("if")
    if not isinstance(cond, dict):
        raise bad('Invalid ifelse request: no valid "if" field')
    condition = load_condition(cond)
    then, otherwise = _branch(load_one, params, "then"), _branch(load_one, params, "else")
    if then is None and otherwise is None:
        raise bad('Invalid ifelse request: at least one of "then"/"else" required')
    return IfElse(condition, then, otherwise)


def run_ifelse(run_one: RunOne, node: Node, net: Network, req: IfElse) -> dict[str, Any]:
    height = chain_height()
    holds = req.condition.holds(net.hardfork, tuple(STORAGE_VERSION), height)
    reply: dict[str, Any] = {
        "hf": net.hf,
        "v": STORAGE_VERSION,
        "height": height,
        "condition": holds,
    }
    branch = req.then if holds else req.otherwise
    if branch is not None:
        code, body = run_one(node, net, branch)
        reply["result"] = {"code": code, "body": body}
    return reply
