"""NetworkClient against a real devnet: bootstrap, paths, swarms, failures, clocks, privacy."""

from __future__ import annotations

import base64
import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from sessioncli.net.client import NetworkClient
from sessioncli.net.networks import resolve_network
from sessioncli.net.policy import Hedge
from sessioncli.net.transport import HttpResponse, Transport, TransportError
from sessioncli.protocol.ids import Identity
from tests.net.conftest import endpoint_total, node_ids, onion_counts

pytestmark = pytest.mark.slow

ALICE = Identity.from_seed(bytes.fromhex("00112233445566778899aabbccddeeff"))


def _client(devnet, tmp_path: Path, **kw) -> NetworkClient:
    return NetworkClient(
        str(devnet.network_file), cache_root=tmp_path / "cache", **{"timeout": 20.0, **kw}
    )


def _store(client: NetworkClient, text: bytes = b"hi", sid: str = ALICE.session_id):
    return client.store(
        sid, base64.b64encode(text).decode(), ttl_ms=3_600_000, timestamp_ms=client.now_ms()
    )


def test_cold_then_warm(devnet, tmp_path: Path):
    t0 = time.monotonic()
    with _client(devnet, tmp_path) as c:
        out = _store(c, b"first")
        cold = time.monotonic() - t0
        assert out.stored_on and len(out.hash) == 43
        paths = c.paths()
        assert len(paths) == 2 and all(len(p) == 3 for p in paths)
        hops = [n for p in paths for n in p]
        assert len({n.ip.rsplit(".", 1)[0] for n in hops}) == 6  # one node per /24
        swarm = {n.pubkey_ed25519 for n in c.swarm(ALICE.session_id)}
        assert set(out.stored_on) <= swarm
        page = c.retrieve(ALICE, cursors={})
        assert [m.data for m in page.messages] == [base64.b64encode(b"first").decode()]
    cache = tmp_path / "cache" / resolve_network(str(devnet.network_file)).key
    # no swarms.json: alice's swarm was worked out from the pool, which the next client reads
    assert {"pool.json", "paths.json"} <= {p.name for p in cache.iterdir()}

    # warm: a new client (a new process would do the same) costs exactly one onion request;
    # racing a slow answer on a second path is switched off here (a loaded box may take longer
    # than the hedge delay): test_a_quiet_guard_is_raced_by_a_second_path covers the race
    guards = {p[0].pubkey_ed25519 for p in paths}
    ids = node_ids(devnet)
    before = devnet.ctl("stats")
    t0 = time.monotonic()
    with _client(devnet, tmp_path, hedge=Hedge(first=600.0, floor=600.0)) as c:
        _store(c, b"second")
    warm = time.monotonic() - t0
    after = devnet.ctl("stats")
    delta = {k: onion_counts(after)[k] - onion_counts(before).get(k, 0) for k in after}
    counts = sorted(delta[ids[g]] for g in guards)
    # the other path's guard counts one too when it happens to be the swarm member stored on
    assert counts == [0, 1] or (counts == [1, 1] and guards & swarm), counts
    assert endpoint_total(after, "/storage_rpc/v1") == endpoint_total(before, "/storage_rpc/v1")
    assert endpoint_total(after, "/json_rpc") == endpoint_total(before, "/json_rpc")
    print(f"cold store {cold * 1000:.0f} ms, warm store {warm * 1000:.0f} ms")


def test_hops_cannot_read_recipient_or_method(devnet, tmp_path: Path):
    with _client(devnet, tmp_path) as c:
        path = c.paths()[0]
        c.swarm(ALICE.session_id)
        ids = node_ids(devnet)
        before = {i: len(devnet.ctl("seen", ids[n.pubkey_ed25519])) for i, n in enumerate(path[:2])}
        for _ in range(4):
            _store(c)
            c.retrieve(ALICE, cursors={})
        c.test_paths()  # every path carries a request (random choice may have skipped one)
    needles = (ALICE.session_id, ALICE.session_id[2:], "store", "retrieve", "method", "pubkey")
    for i, node in enumerate(path[:2]):
        seen = devnet.ctl("seen", ids[node.pubkey_ed25519])
        assert len(seen) > before[i]
        # a path node may also be a swarm member, i.e. the destination of another request:
        # only what it saw as a hop (relaying) matters here
        as_hop = [e for e in seen if e.get("kind") != "final"]
        assert as_hop
        text = json.dumps(as_hop)
        for needle in needles:
            assert needle not in text, (i, needle)


def test_guard_down_next_request_succeeds(devnet, tmp_path: Path):
    with _client(devnet, tmp_path) as c:
        _store(c)
        guards = {p[0].pubkey_ed25519 for p in c.paths()}
    # Which cached path a request takes is not the test's to choose (a process keeps the path
    # that last answered, and a path never leads to a node on it), so every cached guard goes
    # down: the next request is sure to meet a dead one.
    ids = node_ids(devnet)

    def dead_paths(c) -> int:
        return sum(p[0].pubkey_ed25519 in guards for p in c.paths())

    for g in guards:
        devnet.ctl("down", ids[g])
    try:
        with _client(devnet, tmp_path) as c:
            assert dead_paths(c) == 2
            for i in range(3):  # every store succeeds, the first one included
                assert _store(c, f"after {i}".encode()).stored_on
            # the path the first store met is gone; the other one is met (and dropped) only
            # when a request draws it: a cached path that is not used is not tested
            assert dead_paths(c) <= 1
        with _client(devnet, tmp_path) as c:
            assert _store(c, b"next process").stored_on
    finally:
        for g in guards:
            devnet.ctl("up", ids[g])


def test_hanging_member_still_succeeds_within_timeout(devnet, tmp_path: Path):
    with _client(devnet, tmp_path, timeout=15.0) as c:
        _store(c)
        in_paths = {n.pubkey_ed25519 for p in c.paths() for n in p}
        members = c.swarm(ALICE.session_id)
        hung = next(n for n in members if n.pubkey_ed25519 not in in_paths)
        devnet.ctl("hang", node_ids(devnet)[hung.pubkey_ed25519])
        t0 = time.monotonic()
        # a cursor makes the hanging member the first choice
        page = c.retrieve(ALICE, cursors={hung.pubkey_ed25519: ""})
        assert time.monotonic() - t0 < 15
        assert page.node.pubkey_ed25519 != hung.pubkey_ed25519
        assert _store(c).stored_on


class _QuietOnce:
    """The real transport, except that once armed, the next onion POST is taken and never
    answered (a guard that completed the handshake, then went quiet: the connect phase's cap
    cannot help), until its own timeout or the end of the test."""

    def __init__(self) -> None:
        self.inner = Transport()
        self.armed = False
        self.release = threading.Event()

    def post(self, url: str, body: bytes, **kw: Any) -> HttpResponse:
        if self.armed and url.endswith("/onion_req/v2"):
            self.armed = False
            self.release.wait(kw["timeout"])
            raise TransportError("timeout", "no answer")
        return self.inner.post(url, body, **kw)

    def close(self) -> None:
        self.release.set()
        self.inner.close()


def test_a_quiet_guard_is_raced_by_a_second_path(devnet, tmp_path: Path):
    """A store whose guard never answers is raced on a second path after the hedge delay: the
    second path's answer is the only one traced (the quiet attempt is never waited for; before,
    it cost a third of the deadline, then a "failed" line, then the retry)."""
    transport, lines = _QuietOnce(), []
    with _client(devnet, tmp_path, transport=transport, trace=lines.append) as c:
        _store(c, b"warm-up")
        transport.armed = True
        lines.clear()
        assert _store(c, b"raced").stored_on
        assert not transport.armed  # the quiet attempt did happen
        stores = [line for line in lines if line.startswith("onion request: store")]
        assert len(stores) == 1 and ": answered in " in stores[0], lines


def test_421_replaces_a_wrong_cached_swarm(devnet, tmp_path: Path):
    with _client(devnet, tmp_path) as c:
        right = {n.pubkey_ed25519 for n in c.swarm(ALICE.session_id)}
        wrong = [n for n in c.pool() if n.pubkey_ed25519 not in right]
        c._set_swarm(ALICE.session_id, wrong[:5])  # what a stale cache would hold
        out = _store(c)
        assert set(out.stored_on) <= right
        assert {n.pubkey_ed25519 for n in c.swarm(ALICE.session_id)} == right


def test_stale421_fault_is_followed(devnet, tmp_path: Path):
    with _client(devnet, tmp_path) as c:
        _store(c)
        in_paths = {n.pubkey_ed25519 for p in c.paths() for n in p}
        members = c.swarm(ALICE.session_id)
        bad = next(n for n in members if n.pubkey_ed25519 not in in_paths)
        devnet.ctl("fault", node_ids(devnet)[bad.pubkey_ed25519], "stale421")
        page = c.retrieve(ALICE, cursors={bad.pubkey_ed25519: ""})
        assert page.node.pubkey_ed25519 != bad.pubkey_ed25519
        assert page.messages


def test_node_clock_ten_minutes_off(devnet, tmp_path: Path):
    with _client(devnet, tmp_path) as c:
        _store(c)
        in_paths = {n.pubkey_ed25519 for p in c.paths() for n in p}
        members = c.swarm(ALICE.session_id)
        skewed = next(n for n in members if n.pubkey_ed25519 not in in_paths)
        devnet.ctl("clock", node_ids(devnet)[skewed.pubkey_ed25519], "600")
        others = [n.pubkey_ed25519 for n in members if n != skewed]
        # only the skewed node may answer: the signature must use its time
        page = c.retrieve(ALICE, cursors={}, exclude=others)
        assert page.node == skewed and page.messages
        # and the other members still work (network time is the median)
        assert c.retrieve(ALICE, cursors={}, exclude=[skewed.pubkey_ed25519]).messages


def test_client_clock_ten_minutes_off(devnet, tmp_path: Path):
    with _client(devnet, tmp_path, clock=lambda: time.time() - 600) as c:
        assert abs(c.now_ms() - time.time() * 1000) < 5_000  # learnt from the network
        out = _store(c, b"late clock")
        assert abs(out.timestamp_ms - time.time() * 1000) < 5_000
        page = c.retrieve(ALICE, cursors={})
        assert page.messages
    with _client(devnet, tmp_path, clock=lambda: time.time() - 600) as c:  # warm: from the cache
        assert abs(c.now_ms() - time.time() * 1000) < 5_000
        assert c.retrieve(ALICE, cursors={}).messages


@pytest.mark.parametrize("mode", ["garbage", "truncate", "oversize", "relay502", "relay504"])
def test_faulty_relay_on_a_path(devnet, tmp_path: Path, mode: str):
    with _client(devnet, tmp_path, timeout=20.0) as c:
        _store(c)
        middle = c.paths()[0][1]
        devnet.ctl("fault", node_ids(devnet)[middle.pubkey_ed25519], mode)
        t0 = time.monotonic()
        for i in range(4):
            assert _store(c, f"{mode} {i}".encode()).stored_on
        assert time.monotonic() - t0 < 20
        assert c.retrieve(ALICE, cursors={}).messages


def test_persistent_406_is_a_clock_error(devnet, tmp_path: Path):
    from sessioncli.net.client import ClockError

    with _client(devnet, tmp_path) as c, pytest.raises(ClockError) as info:
        c.store(ALICE.session_id, "aGk=", ttl_ms=600_000, timestamp_ms=c.now_ms() + 600_000)
    assert "check your clock" in info.value.message and info.value.exit_code == 1


def test_old_pool_is_refreshed_from_three_nodes(devnet, tmp_path: Path):
    with _client(devnet, tmp_path) as c:
        _store(c)
    pool_file = tmp_path / "cache" / resolve_network(str(devnet.network_file)).key / "pool.json"
    pool = json.loads(pool_file.read_text())
    pool["fetched_at_ms"] = 1  # older than 6 h
    pool_file.write_text(json.dumps(pool))
    with _client(devnet, tmp_path) as c:  # before the fix: RecursionError
        assert c.swarm(ALICE.session_id, refresh=True)
        assert _store(c, b"after refresh").stored_on
    stats = devnet.ctl("stats")
    # SPEC §5: three pool nodes were asked (15 nodes < 24 in common, so a seed is used after)
    assert sum(v.get("methods", {}).get("oxend_request", 0) for v in stats.values()) == 3
    fetched = json.loads(pool_file.read_text())["fetched_at_ms"]
    assert abs(fetched - time.time() * 1000) < 60_000
    with _client(devnet, tmp_path) as c:  # `nodes --refresh`
        assert len(c.pool(refresh=True)) == len(pool["nodes"])


def _skew_saved_clock(devnet, tmp_path: Path, cache: Path, seconds: int) -> None:
    """What clock.json holds after running with a clock `seconds` behind, since corrected."""
    clock_file = cache / resolve_network(str(devnet.network_file)).key / "clock.json"
    now = int(time.time() * 1000)
    nodes = [n["pubkey_ed25519"] for n in devnet.nodes() if n["kind"] == "storage"]
    clock_file.write_text(json.dumps({"offsets": {n: [seconds * 1000, now] for n in nodes}}))


def test_saved_clock_from_before_the_user_fixed_it(devnet, tmp_path: Path):
    with _client(devnet, tmp_path) as c:
        _store(c)
    _skew_saved_clock(devnet, tmp_path, tmp_path / "cache", 600)
    encoded: list[int] = []

    def reencode(ts: int) -> str:
        encoded.append(ts)
        return base64.b64encode(f"at {ts}".encode()).decode()

    with _client(devnet, tmp_path) as c:
        ts = c.now_ms()
        assert ts - time.time() * 1000 > 500_000  # what the saved offsets say
        out = c.store(
            ALICE.session_id, reencode(ts), ttl_ms=3_600_000, timestamp_ms=ts, reencode=reencode
        )
        assert len(encoded) <= 2 and out.stored_on  # first try or after one re-encode
        assert out.timestamp_ms == encoded[-1]
        assert abs(out.timestamp_ms - time.time() * 1000) < 5_000
        assert abs(c.now_ms() - time.time() * 1000) < 5_000  # the saved offsets are gone
        assert _store(c, b"next").stored_on  # and the next store goes through at once


def test_saved_clock_skew_send_command(devnet, tmp_path: Path, private_dirs: Path):
    from tests.conftest import cli_env, run_cli

    env = cli_env(
        private_dirs,
        SESSIONCLI_NETWORK=str(devnet.network_file),
        SESSIONCLI_IDENTITY_FILE=str(private_dirs / "identity"),
    )
    assert run_cli(["keygen", "-q"], private_dirs, env=env).returncode == 0
    bob = Identity.from_seed(bytes(16)).session_id
    first = run_cli(["send", bob, "before"], private_dirs, env=env)
    assert first.returncode == 0, first.stderr
    _skew_saved_clock(devnet, tmp_path, private_dirs / "cache", 600)
    second = run_cli(["send", "--json", bob, "after"], private_dirs, env=env)
    assert second.returncode == 0, second.stderr
    (result,) = [json.loads(line) for line in second.stdout.splitlines() if line.strip()]
    assert abs(result["timestamp_ms"] - time.time() * 1000) < 10_000, result
