"""Fuzzing the storage-RPC response parsers: any JSON value gives a result or a ProtocolError."""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sessioncli.errors import ProtocolError
from sessioncli.protocol import crypto, rpc_answers, rpc_reads, snode
from tests.fuzz._fuzz import deep, fuzz, json_values

ED_PK, ED_SK = crypto.ed25519_keypair_from_seed(bytes(range(32)))
ED_HEX = ED_PK.hex()

PARSERS: dict[str, Callable[[Any], Any]] = {
    "service_nodes": rpc_answers.parse_service_nodes,
    "swarm": rpc_answers.parse_swarm,
    "store": rpc_answers.parse_store,
    "retrieve": rpc_reads.parse_retrieve,
    "info": rpc_reads.parse_info,
    "delete": rpc_reads.parse_delete,
    "batch": rpc_reads.parse_batch,
    "node_from_json": snode.Node.from_json,
}


def parsed_or_refused(parser: Callable[[Any], Any], body: Any) -> Any:
    try:
        result = parser(body)
    except ProtocolError as exc:
        assert str(exc)
        return None
    return result


# Almost-valid bodies: a valid response of each kind with a few values replaced or removed.
NASTY: list[Any] = [
    None, True, 0, -1, 1.5, float("inf"), float("nan"), 2**64, -(2**70), "", "x", "0.0.0.0",
    "²", "٣", "9" * 5000, "f" * 5000, "é", [], {}, [None], {"": None}, "A" * 64, "g" * 64,
]  # fmt: skip
NODE = {
    "public_ip": "127.0.0.1", "ip": "127.0.0.1", "storage_port": 443, "port": "443",
    "port_https": 443, "pubkey_ed25519": ED_HEX, "pubkey_x25519": ED_HEX, "swarm_id": 7,
}  # fmt: skip
MESSAGE = {"hash": "h", "timestamp": 1, "expiration": 2, "data": "AA=="}
STORE_ENTRY = {"hash": "h", "expiry": 5, "signature": "AA==", "failed": False}
VALID: dict[str, Any] = {
    "service_nodes": {"result": {"service_node_states": [NODE]}},
    "swarm": {"snodes": [NODE], "swarm": "ff", "t": 5},
    "store": {"hash": "h", "swarm": {ED_HEX: STORE_ENTRY}, "t": 5},
    "retrieve": {"messages": [MESSAGE], "more": False, "t": 5},
    "info": {"version": [2, 10, 0], "timestamp": 5, "t": 5},
    "delete": {"swarm": {ED_HEX: {"deleted": ["h"]}}, "t": 5},
    "batch": {"results": [{"code": 200, "body": {}}]},
    "node_from_json": {**NODE},
}
_KEYS = sorted({*NODE, *MESSAGE, *STORE_ENTRY, "deleted", "code", "body", "result",
                "service_node_states", "snodes", "swarm", "messages", "more", "version",
                "results", "t", "hash"})  # fmt: skip
nasty_values = st.sampled_from(NASTY).map(copy.deepcopy) | json_values(4)


@st.composite
def almost_valid(draw: st.DrawFn, name: str) -> Any:
    """VALID[name] with up to 3 values (at any depth) replaced, removed or added."""
    body = json.loads(json.dumps(VALID[name]))
    for _ in range(draw(st.integers(1, 3))):
        holders: list[Any] = []
        stack = [body]
        while stack:
            item = stack.pop()
            if isinstance(item, dict | list):
                holders.append(item)
                stack.extend(item.values() if isinstance(item, dict) else item)
        holder = draw(st.sampled_from(holders))
        if isinstance(holder, dict):
            key = draw(st.sampled_from(sorted(holder) or _KEYS) | st.sampled_from(_KEYS))
            if draw(st.booleans()) and key in holder:
                del holder[key]
            else:
                holder[key] = draw(nasty_values)
        elif holder:
            holder[draw(st.integers(0, len(holder) - 1))] = draw(nasty_values)
        else:
            holder.append(draw(nasty_values))
    return body


def test_valid_bodies_parse() -> None:
    for name, body in VALID.items():
        assert parsed_or_refused(PARSERS[name], body) is not None, name


@pytest.mark.parametrize("name", sorted(PARSERS))
@fuzz(120)
@given(body=json_values())
def test_any_json_value(name: str, body: Any) -> None:
    parsed_or_refused(PARSERS[name], body)


@pytest.mark.parametrize("name", sorted(PARSERS))
@fuzz(300)
@given(data=st.data())
def test_structured_but_wrong(name: str, data: st.DataObject) -> None:
    parsed_or_refused(PARSERS[name], data.draw(almost_valid(name)))


@pytest.mark.parametrize("name", sorted(PARSERS))
@pytest.mark.parametrize("depth", [50, 500])
def test_deep_nesting(name: str, depth: int) -> None:
    for key in [None, *_KEYS]:
        body = deep(depth) if key is None else {key: deep(depth)}
        parsed_or_refused(PARSERS[name], body)


@fuzz(300)
@given(body=json_values())
def test_network_time_and_error_text(body: Any) -> None:
    t = rpc_answers.network_time(body)
    assert t is None or (isinstance(t, int) and t > 0)
    text = rpc_answers.error_text(body)
    assert isinstance(text, str) and len(text) <= 200 and "\n" not in text


@fuzz(300)
@given(
    hash_=st.text(max_size=60),
    sig=st.binary(max_size=80).map(lambda b: base64.b64encode(b).decode()) | st.text(max_size=90),
    sign_it=st.booleans(),
)
def test_store_signatures(hash_: str, sig: str, sign_it: bool) -> None:
    """Per-node store signatures of any shape are checked, never crash the parser."""
    if sign_it:
        sig = base64.b64encode(crypto.sign(ED_SK, hash_.encode("ascii", "replace"))).decode()
    result = parsed_or_refused(
        rpc_answers.parse_store,
        {"hash": hash_, "swarm": {ED_HEX: {"hash": hash_, "signature": sig}}},
    )
    assert result is not None
    node = result.nodes[0]
    if node.signature_ok:
        assert hash_ and crypto.verify(
            ED_PK, hash_.encode("ascii", "replace"), base64.b64decode(sig)
        )


def test_retrieve_accepts_only_base64_data() -> None:
    msg = {"hash": "h", "timestamp": 1, "expiration": 2}
    for bad in ["!!", "AAA", "AA=A", "é", " AA=="]:
        assert (
            parsed_or_refused(rpc_reads.parse_retrieve, {"messages": [dict(msg, data=bad)]}) is None
        )
    ok = parsed_or_refused(rpc_reads.parse_retrieve, {"messages": [dict(msg, data="AA==")]})
    assert ok is not None and ok.messages[0].data == "AA=="


def test_json_text_round_trip_of_fuzzed_values_is_stable() -> None:
    # error_text must render bodies as JSON; a sanity check of the helper the fuzzers rely on.
    assert json.loads(json.dumps(deep(100))) == deep(100)


@pytest.mark.parametrize(
    "port", ["²", "9" * 5000, "٣"], ids=["superscript", "5000-digits", "arabic"]
)
@pytest.mark.parametrize("name", ["service_nodes", "swarm", "node_from_json"])
def test_port_digit_strings(name: str, port: str) -> None:
    """A port string that str.isdigit() accepts but int() may not: refused, never ValueError."""
    body = json.loads(json.dumps(VALID[name]))
    node = body if name == "node_from_json" else (body.get("result") or body)
    node = (
        node if name == "node_from_json" else node.get("service_node_states", node.get("snodes"))[0]
    )
    for key in ("storage_port", "port", "port_https"):
        node[key] = port
    parsed_or_refused(PARSERS[name], body)
