"""The `nodes` and `path` commands, seed pinning, proxies and exit codes, against a devnet."""

from __future__ import annotations

import base64
import json
import socket
import threading
from pathlib import Path

import pytest

from sessioncli.errors import NetworkUnavailable
from sessioncli.net.client import NetworkClient
from sessioncli.net.networks import resolve_network
from sessioncli.protocol.ids import Identity
from tests.conftest import run_cli
from tests.net.socks5 import Socks5Server

pytestmark = pytest.mark.slow

CERTS = Path(__file__).resolve().parents[2] / "sessioncli" / "net" / "seed_certs"


def test_nodes_and_path_json(devnet, private_dirs: Path):
    net = ["--network", str(devnet.network_file)]
    listed = {n["pubkey_ed25519"]: n for n in devnet.nodes() if n["kind"] == "storage"}
    r = run_cli([*net, "nodes", "--json"], private_dirs)
    assert r.returncode == 0, r.stderr
    nodes = json.loads(r.stdout)
    assert {n["pubkey_ed25519"] for n in nodes} == set(listed)
    for n in nodes:
        real = listed[n["pubkey_ed25519"]]
        assert (n["ip"], n["port"], n["pubkey_x25519"]) == (
            real["ip"],
            real["port"],
            real["pubkey_x25519"],
        )
        assert n["swarm"] == real["swarm"] and n["address"] == real["address"]

    r = run_cli([*net, "path", "--json", "--test", "--timeout", "20"], private_dirs)
    assert r.returncode == 0, r.stderr
    paths = json.loads(r.stdout)
    assert len(paths) == 2
    for p in paths:
        assert [h["role"] for h in p["hops"]] == ["guard", "relay", "relay"]
        assert all(h["pubkey_ed25519"] in listed for h in p["hops"])
        assert p["test"]["ok"] and p["test"]["rtt_ms"] > 0

    sid = Identity.from_seed(bytes(16)).session_id
    r = run_cli([*net, "nodes", "--swarm", sid, "--json"], private_dirs)
    assert r.returncode == 0, r.stderr
    swarm = json.loads(r.stdout)
    assert len(swarm) == 5 and len({n["swarm"] for n in swarm}) == 1

    r = run_cli([*net, "path"], private_dirs)  # a pipe: TSV, guard first, same cached paths
    assert r.returncode == 0
    rows = [line.split("\t") for line in r.stdout.splitlines()]
    assert [row[2] for row in rows] == ["guard", "relay", "relay"] * 2
    assert [row[3] for row in rows] == [h["address"] for p in paths for h in p["hops"]]

    r = run_cli([*net, "nodes", "--swarm", "05zz"], private_dirs)
    assert r.returncode == 2 and "--swarm" in r.stderr


def test_seed_with_other_certificate_is_refused(devnet, private_dirs: Path, tmp_path: Path):
    doc = json.loads(devnet.network_file.read_text())
    for seed in doc["seeds"]:
        seed["cert_pem"] = (CERTS / "seed1.getsession.org.pem").read_text()
    bad = tmp_path / "pinned-wrong.json"
    bad.write_text(json.dumps(doc))
    r = run_cli(["--network", str(bad), "nodes", "--timeout", "10"], private_dirs)
    assert r.returncode == 69, r.stderr
    first = r.stderr.splitlines()[0]
    assert first.startswith("sessioncli: error: seed https://") and "pinned" in first
    assert "Traceback" not in r.stderr and r.stdout == ""


def test_nothing_answers_is_unavailable(tmp_path: Path, private_dirs: Path):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    f = tmp_path / "dead.json"
    f.write_text(
        json.dumps({"name": "devnet-dead", "seeds": [{"url": f"http://127.0.0.1:{port}"}]})
    )
    r = run_cli(["--network", str(f), "nodes", "--timeout", "5"], private_dirs)
    assert r.returncode == 69, r.stderr
    assert len(r.stderr.splitlines()[0]) < 200
    r = run_cli(["--network", str(tmp_path / "missing.json"), "nodes"], private_dirs)
    assert r.returncode == 78 and "does not exist" in r.stderr


def test_proxy_carries_seed_and_guard_traffic(devnet, tmp_path: Path, private_dirs: Path):
    proxy = Socks5Server()
    try:
        ident = Identity.from_seed(bytes(range(16)))
        with NetworkClient(
            str(devnet.network_file), cache_root=tmp_path / "c", proxy=proxy.url
        ) as c:
            out = c.store(ident.session_id, "aGk=", ttl_ms=600_000, timestamp_ms=c.now_ms())
            assert out.stored_on
            guards = {(p[0].ip, p[0].port) for p in c.paths()}
        seed_url = json.loads(devnet.network_file.read_text())["seeds"][0]["url"]
        seed = seed_url.split("//")[1].rsplit(":", 1)
        assert (seed[0], int(seed[1])) in proxy.targets
        assert guards & set(proxy.targets)
        # the CLI takes --proxy (and SESSIONCLI_PROXY) the same way
        before = len(proxy.targets)
        r = run_cli(
            ["--network", str(devnet.network_file), "--proxy", proxy.url, "nodes", "--refresh"],
            private_dirs,
        )
        assert r.returncode == 0, r.stderr
        assert len(proxy.targets) > before
    finally:
        proxy.close()
    r = run_cli(
        [
            "--network",
            str(devnet.network_file),
            "--proxy",
            "socks5h://127.0.0.1:1",
            "nodes",
            "--refresh",
            "--timeout",
            "5",
        ],
        private_dirs,
    )
    assert r.returncode in (69, 75) and "proxy" in r.stderr


def test_parallel_threads_share_one_client(devnet, tmp_path: Path):
    ids = [Identity.from_seed(bytes([i]) * 16).session_id for i in range(8)]
    errors: list[BaseException] = []
    results = []
    with NetworkClient(str(devnet.network_file), cache_root=tmp_path / "c", timeout=30) as c:

        def send(sid: str) -> None:
            try:
                results.append(
                    c.store(
                        sid,
                        base64.b64encode(sid.encode()).decode(),
                        ttl_ms=600_000,
                        timestamp_ms=c.now_ms(),
                    )
                )
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=send, args=(sid,)) for sid in ids]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors and len(results) == 8
        assert len(c.paths()) == 2  # built once, shared
    # a damaged cache costs time, not correctness
    cache = tmp_path / "c" / resolve_network(str(devnet.network_file)).key
    assert cache.is_dir()
    for f in cache.glob("*.json"):
        f.write_text("{garbage")
    with NetworkClient(str(devnet.network_file), cache_root=tmp_path / "c") as c:
        assert c.store(ids[0], "aGk=", ttl_ms=600_000, timestamp_ms=c.now_ms()).stored_on


def test_unreachable_network_error_type(tmp_path: Path):
    f = tmp_path / "dead.json"
    f.write_text(json.dumps({"name": "devnet-dead2", "seeds": [{"url": "http://127.0.0.1:9"}]}))
    with (
        pytest.raises(NetworkUnavailable),
        NetworkClient(str(f), cache_root=tmp_path / "c", timeout=3) as c,
    ):
        c.pool()
