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
    client = NetworkClient(str(_network(tmp_path)), cache_root=tmp_path / "cache", **kw)
    fake = FakeTransport()
    client._transport = fake  # type: ignore[assignment]
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
    from sessioncli.net import client as client_mod

    client, fake = _client(tmp_path)
    client._load()
    nodes = list(client._pool.values())
    path = client_mod._Path(nodes[:3])
    client._paths = [path]
    target, missing = nodes[10], nodes[2]
    fake.answer = lambda _url, _body: HttpResponse(
        502, (wording + missing.pubkey_ed25519).encode(), "text/plain"
    )
    with pytest.raises(client_mod._PathTrouble):
        client._send(
            target,
            client_mod.rpc.build_info(),
            client_mod.Deadline(5),
            client_mod._Tracker(),
            path=path,
        )
    assert missing.pubkey_ed25519 not in client._pool
    assert path not in client._paths


# --- 5: a thread waiting for another one's path building keeps its own deadline -----------------


def test_waiting_for_the_build_lock_respects_the_deadline(tmp_path: Path):
    client, _ = _client(tmp_path, timeout=0.5)
    client._build_lock.acquire()  # another thread is building paths (and stuck)
    release = threading.Timer(4.0, client._build_lock.release)
    release.start()
    t0 = time.monotonic()
    try:
        with pytest.raises(TemporaryFailure):
            client.paths()
        assert time.monotonic() - t0 < 2.0
    finally:
        release.cancel()  # (before the fix, the timer is what let paths() go on)
        if client._build_lock.locked():
            client._build_lock.release()


# --- 7: the swarm cache is bounded ------------------------------------------------------------


def test_swarm_cache_keeps_the_most_recently_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from sessioncli.net import client as client_mod

    monkeypatch.setattr(client_mod, "MAX_SWARMS", 5)
    client, _ = _client(tmp_path)
    client._load()
    members = list(client._pool.values())[:3]
    sids = [f"05{i:064x}" for i in range(8)]
    for sid in sids[:5]:
        client._set_swarm(sid, members)
    client.swarm(sids[0])  # used: now the most recent
    for sid in sids[5:]:
        client._set_swarm(sid, members)
    assert set(client._swarms) == {sids[0], *sids[4:]}
    saved = json.loads((tmp_path / "cache" / CACHE_KEY / "swarms.json").read_text())
    assert len(saved) == 5 and set(sids[5:]) <= set(saved)
    fresh, _ = _client(tmp_path, nodes=0)
    fresh._load()
    assert len(fresh._swarms) == 5
