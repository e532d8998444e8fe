"""NetworkClient logic without a network: a scripted transport and a pre-filled cache."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from sessioncli.errors import NetworkUnavailable, SessionCliError, TemporaryFailure
from sessioncli.net import networks
from sessioncli.net.client import NetworkClient
from sessioncli.net.transport import HttpResponse, TransportError

NAME = "offline-test"
# caches live under what identifies the network (its seeds), not its name alone
CACHE_KEY = networks.NetworkConfig(NAME, (networks.Seed("http://127.0.0.1:9"),)).key
SID = "05" + "ab" * 32


def _node(i: int) -> dict[str, Any]:
    return {
        "ip": f"10.{i // 200}.{i % 200}.1",
        "port": 20000 + i,
        "pubkey_ed25519": f"{i:064x}",
        "pubkey_x25519": f"{i + 1000:064x}",
        "swarm_id": i % 5,
    }


class FakeTransport:
    """Every request fails to connect, unless `answer` says otherwise; records what was asked."""

    def __init__(self, answer: Any = None) -> None:
        self.calls: list[str] = []
        self.answer = answer

    def post(
        self,
        url: str,
        body: bytes,
        *,
        timeout: float,
        content_type: str = "",
        max_bytes: Any = None,
    ) -> HttpResponse:
        self.calls.append(url)
        if self.answer is not None:
            result = self.answer(url, body)
            if result is not None:
                return result
        raise TransportError("connect", "connection refused")

    def close(self) -> None:
        pass


def _network(tmp_path: Path) -> Path:
    path = tmp_path / "network.json"
    path.write_text(json.dumps({"name": NAME, "seeds": [{"url": "http://127.0.0.1:9"}]}))
    return path


def _client(
    tmp_path: Path, *, nodes: int = 30, fetched_at_ms: int | None = None, **kw: Any
) -> tuple[NetworkClient, FakeTransport]:
    cache = tmp_path / "cache" / CACHE_KEY
    cache.mkdir(parents=True, exist_ok=True)
    if nodes:
        at = int(time.time() * 1000) if fetched_at_ms is None else fetched_at_ms
        pool = {"fetched_at_ms": at, "nodes": [_node(i) for i in range(nodes)]}
        (cache / "pool.json").write_text(json.dumps(pool))
    fake = FakeTransport()
    client = NetworkClient(
        str(_network(tmp_path)), cache_root=tmp_path / "cache", transport=fake, **kw
    )
    return client, fake


# --- 1: an old pool is refreshed without recursion ---------------------------------------------


def test_old_pool_does_not_recurse_and_fails_cleanly(tmp_path: Path):
    client, fake = _client(tmp_path, fetched_at_ms=1, timeout=3.0)
    with pytest.raises(NetworkUnavailable):  # before the fix: RecursionError
        client.swarm(SID)
    assert fake.calls  # it did try the network
    # the failed refresh is remembered: the next run does not try again at once
    saved = json.loads((tmp_path / "cache" / CACHE_KEY / "pool.json").read_text())
    assert saved["fetched_at_ms"] == 1 and saved["refresh_failed_at_ms"] > 1
    assert len(saved["nodes"]) == 30


def test_nodes_refresh_of_an_old_pool_does_not_recurse(tmp_path: Path):
    client, _ = _client(tmp_path, fetched_at_ms=1, timeout=3.0)
    with pytest.raises(SessionCliError):
        client.pool(refresh=True)
    assert len(client.pool()) == 30  # the old pool is still there


# --- 6: both 502 wordings drop the node named ---------------------------------------------------


@pytest.mark.parametrize(
    "wording", ["Next node not found: ", "Next node is currently unreachable: "]
)
def test_502_next_node_drops_that_node(tmp_path: Path, wording: str):
    cache = tmp_path / "cache" / CACHE_KEY
    cache.mkdir(parents=True)
    (cache / "paths.json").write_text(json.dumps({"paths": [[_node(i) for i in range(3)]]}))
    client, fake = _client(tmp_path)
    missing = _node(2)["pubkey_ed25519"]

    def answer(url: str, _body: bytes) -> HttpResponse:
        if url.endswith("/storage_rpc/v1"):  # a guard probe: a proper answer with a time
            return HttpResponse(200, json.dumps({"t": int(time.time() * 1000)}).encode(), "")
        return HttpResponse(502, (wording + missing).encode(), "text/plain")

    fake.answer = answer
    tests = client.test_paths()
    assert tests and not any(t.ok for t in tests)
    # out of every path at once; struck in the pool (a broken guard may name a healthy hop)
    saved = json.loads((cache / "paths.json").read_text())
    assert all(missing not in {h["pubkey_ed25519"] for h in p} for p in saved["paths"])
    assert json.loads((cache / "pool.json").read_text())["strikes"].get(missing, 0) >= 1
    client.paths(rebuild=True)  # fresh paths, and every one of them gets the node named
    client.test_paths()
    assert missing not in {n.pubkey_ed25519 for n in client.pool()}  # 3 strikes: forgotten


# --- 5: a thread waiting for another one's path building keeps its own deadline -----------------


def test_waiting_for_the_build_lock_respects_the_deadline(tmp_path: Path):
    from sessioncli.net.policy import Deadline

    client, _ = _client(tmp_path, timeout=0.5)
    holder = client._paths  # the client's one path manager (serialises building)
    entered, leave = threading.Event(), threading.Event()

    def stuck_builder() -> None:
        with holder.building(Deadline(10)):
            entered.set()
            leave.wait(10)

    thread = threading.Thread(target=stuck_builder)
    thread.start()
    entered.wait(5)
    try:
        with pytest.raises(TemporaryFailure):
            client.paths()
    finally:
        leave.set()
        thread.join()


# --- 7: the swarm cache is bounded ------------------------------------------------------------


def test_swarm_cache_keeps_the_most_recently_used(tmp_path: Path):
    from sessioncli.net.cache import NetCache
    from sessioncli.net.pool import nodes_from_json
    from sessioncli.net.swarms import SwarmCache

    cache = NetCache(tmp_path, NAME)
    swarms = SwarmCache(cache, limit=5)
    members = nodes_from_json([_node(i) for i in range(3)])
    sids = [f"05{i:064x}" for i in range(8)]
    now = int(time.time() * 1000)
    for sid in sids[:5]:
        swarms.put(sid, members, now)
    assert swarms.fresh(sids[0], now) == members  # used: now the most recent
    for sid in sids[5:]:
        swarms.put(sid, members, now)
    assert set(swarms.sids()) == {sids[0], *sids[5:], sids[4]}
    saved = json.loads((tmp_path / NAME / "swarms.json").read_text())
    assert len(saved) == 5 and set(sids[5:]) <= set(saved)
    again = SwarmCache(cache, limit=5)
    again.load()
    assert len(again.sids()) == 5


# --- issue 12 item 9: the guard error names the pool it tried from ------------------------------


def test_no_guard_answered_names_the_real_pool_size(tmp_path: Path):
    client, fake = _client(tmp_path, timeout=5.0)
    with pytest.raises(NetworkUnavailable) as info:
        client.paths()
    assert "no guard node answered" in info.value.message
    (hint,) = info.value.hints
    assert "of the 30 nodes in the pool" in hint and "pool of 0" not in hint
    assert any(url.endswith("/storage_rpc/v1") for url in fake.calls)
