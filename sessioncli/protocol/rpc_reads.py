"""Storage-server RPC answers to retrieve, info, delete and batch requests, pure → frozen dataclasses.

Wire dicts never leave this module: parsers check every type they read and raise ProtocolError.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from sessioncli.errors import ProtocolError
from sessioncli.protocol.jsonread import json_hex32, json_int, json_object, json_str
from sessioncli.protocol.rpc_answers import network_time


@dataclass(frozen=True)
class Message:
    hash: str
    timestamp_ms: int
    expiration_ms: int
    data: str  # base64


@dataclass(frozen=True)
class RetrieveResult:
    messages: list[Message]
    more: bool
    t: int | None


def parse_retrieve(body: Any) -> RetrieveResult:
    obj = json_object(body, "retrieve response")
    raw = obj.get("messages")
    if not isinstance(raw, list):
        raise ProtocolError("retrieve response: no messages array")
    messages: list[Message] = []
    for entry in raw:
        e = json_object(entry, "retrieved message")
        data = json_str(e.get("data"), "retrieved message data")
        try:
            base64.b64decode(data, validate=True)
        except ValueError:
            raise ProtocolError("retrieved message data is not base64") from None
        messages.append(
            Message(
                hash=json_str(e.get("hash"), "retrieved message hash"),
                timestamp_ms=json_int(e.get("timestamp"), "retrieved message timestamp"),
                expiration_ms=json_int(e.get("expiration"), "retrieved message expiration"),
                data=data,
            )
        )
    more = obj.get("more", False)
    return RetrieveResult(messages=messages, more=more is True, t=network_time(obj))


@dataclass(frozen=True)
class InfoResult:
    version: tuple[int, ...]
    timestamp_ms: int | None
    t: int | None


def parse_info(body: Any) -> InfoResult:
    obj = json_object(body, "info response")
    v = obj.get("version")
    version = tuple(x for x in v if isinstance(x, int)) if isinstance(v, list) else ()
    ts = obj.get("timestamp")
    return InfoResult(
        version=version,
        timestamp_ms=ts if isinstance(ts, int) and not isinstance(ts, bool) else None,
        t=network_time(obj),
    )


@dataclass(frozen=True)
class DeleteResult:
    deleted_by: dict[str, list[str]]  # node ed25519 -> hashes it deleted
    t: int | None


def parse_delete(body: Any) -> DeleteResult:
    obj = json_object(body, "delete response")
    out: dict[str, list[str]] = {}
    swarm = obj.get("swarm")
    if swarm is not None:
        for ed, entry in json_object(swarm, "delete response swarm").items():
            ed_hex = json_hex32(ed, "delete response node key")
            if isinstance(entry, dict) and isinstance(entry.get("deleted"), list):
                out[ed_hex] = [h for h in entry["deleted"] if isinstance(h, str)]
    return DeleteResult(deleted_by=out, t=network_time(obj))


@dataclass(frozen=True)
class SubResult:
    code: int
    body: Any  # handed to the matching parser above, never out of protocol/


def parse_batch(body: Any) -> list[SubResult]:
    obj = json_object(body, "batch response")
    results = obj.get("results")
    if not isinstance(results, list):
        raise ProtocolError("batch response: no results array")
    out = []
    for r in results:
        d = json_object(r, "batch result")
        out.append(SubResult(code=json_int(d.get("code"), "batch result code"), body=d.get("body")))
    return out
