"""`sessioncli devnet up|ctl` as a user runs them: a subprocess, network.json, signals, exit codes."""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import signal
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.devnet.wire import Account, retrieve_params, rpc, store_params
from tests.devnet_support import REPO, DevnetProcess

pytestmark = pytest.mark.slow


def _cli(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sessioncli", "devnet", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        timeout=timeout,
        check=False,
    )


@pytest.fixture(scope="module")
def devnet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevnetProcess]:
    with DevnetProcess(
        tmp_path_factory.mktemp("cli") / "net", nodes=6, swarm_size=3, seed="cli-tests"
    ) as process:
        yield process


def test_network_file_is_the_contract(devnet: DevnetProcess) -> None:
    document = json.loads(devnet.network_file.read_text())
    assert set(document) == {"name", "seeds", "devnet", "file_server", "communities"}
    assert document["name"] == "devnet-" + hashlib.blake2b(b"cli-tests").hexdigest()[:8]
    assert document["devnet"] == {
        "control": str(devnet.dir / "control.json"),
        "nodes": 6,
        "swarm_size": 3,
        "hardfork": [19, 4],
    }
    (seed,) = document["seeds"]
    assert set(seed) == {"url", "cert_pem"}
    url = urlsplit(seed["url"])
    assert url.scheme == "https"
    assert (
        url.hostname is not None and url.hostname.startswith("127.") and url.hostname.endswith(".1")
    )
    # Pinning exactly as a client would: the seed cert is the only trust anchor, hostname = the IP.
    context = ssl.create_default_context(cadata=seed["cert_pem"])
    conn = http.client.HTTPSConnection(url.hostname, url.port, context=context, timeout=5)
    body = {
        "jsonrpc": "2.0",
        "method": "get_n_service_nodes",
        "params": {
            "active_only": True,
            "fields": {
                "public_ip": True,
                "storage_port": True,
                "pubkey_x25519": True,
                "pubkey_ed25519": True,
                "swarm_id": True,
                "storage_lmq_port": True,
            },
        },
    }
    conn.request(
        "POST", "/json_rpc", body=json.dumps(body), headers={"Content-Type": "application/json"}
    )
    response = conn.getresponse()
    assert response.status == 200
    assert response.getheader("Content-Type") == "application/json"
    states = json.loads(response.read())["result"]["service_node_states"]
    assert len(states) == 6
    assert set(states[0]) == {
        "public_ip",
        "storage_port",
        "pubkey_x25519",
        "pubkey_ed25519",
        "swarm_id",
        "storage_lmq_port",
    }


def test_ctl_list_gives_what_other_verbs_take(devnet: DevnetProcess) -> None:
    nodes = devnet.nodes()
    assert [n["id"] for n in nodes] == ["seed0", "n0", "n1", "n2", "n3", "n4", "n5"]
    for node in nodes:
        assert {
            "id",
            "address",
            "pubkey_ed25519",
            "pubkey_x25519",
            "swarm",
            "state",
            "fault",
        } <= set(node)
        assert node["state"] == "up"
        assert node["fault"] == "none"
    assert len({n["swarm"] for n in nodes if n["id"].startswith("n")}) == 2


def test_ctl_verbs_through_the_command_line(devnet: DevnetProcess) -> None:
    assert [n["state"] for n in devnet.ctl("down", "n1", "n2")] == ["down", "down"]
    assert [n["state"] for n in devnet.ctl("up", "n1", "n2")] == ["up", "up"]
    assert devnet.ctl("hang", "n3")[0]["state"] == "hang"
    assert devnet.ctl("up", "n3")[0]["state"] == "up"
    assert devnet.ctl("clock", "n4", "-90")["clock_offset"] == -90
    assert devnet.ctl("clock", "n4", "0")["clock_offset"] == 0
    assert devnet.ctl("fault", "n5", "garbage")["fault"] == "garbage"
    assert devnet.ctl("fault", "n5", "none")["fault"] == "none"
    assert "n0" in devnet.ctl("stats")
    assert isinstance(devnet.ctl("seen", "n0"), list)
    bad = _cli("ctl", "--dir", str(devnet.dir), "down", "n42")
    assert bad.returncode == 2
    assert "unknown node n42" in bad.stderr
    text = _cli("ctl", "--dir", str(devnet.dir), "list")
    assert text.returncode == 0
    assert text.stdout.count("\n") == 7


def test_second_devnet_on_the_same_dir_is_refused(devnet: DevnetProcess) -> None:
    result = _cli("up", "--dir", str(devnet.dir))
    assert result.returncode == 75
    assert (
        result.stderr.strip().splitlines()[0]
        == f"sessioncli: error: a devnet is already running in {devnet.dir}"
    )
    assert result.stdout == ""


def test_bad_hardfork_is_a_usage_error(tmp_path: Path) -> None:
    result = _cli("up", "--dir", str(tmp_path / "net"), "--hardfork", "19")
    assert result.returncode == 2
    assert "--hardfork must be MAJOR.MINOR" in result.stderr
    assert result.stdout == ""


def test_bad_dir_is_a_usage_error(tmp_path: Path) -> None:
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("x")
    result = _cli("up", "--dir", str(not_a_dir))
    assert result.returncode == 2
    assert "cannot use" in result.stderr
    missing = _cli("ctl", "--dir", str(tmp_path / "nothing"), "list")
    assert missing.returncode == 69


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signals_stop_cleanly_and_a_restart_keeps_ports_and_messages(
    tmp_path: Path, sig: signal.Signals
) -> None:
    directory = tmp_path / "net"
    account = Account.make(f"restart-{sig.name}")
    first = DevnetProcess(directory, nodes=3, swarm_size=3, seed="restart")
    try:
        node = next(n for n in first.nodes() if n["id"] == "n0")
        status, body = rpc(node, "store", store_params(account, b"kept across restarts"))
        assert status == 200
    finally:
        os.killpg(first.process.pid, sig)
        assert first.process.wait(timeout=10) == 0
        first.stop()
    assert not (directory / "network.json").exists()

    with DevnetProcess(directory, nodes=3, swarm_size=3, seed="restart") as second:
        again = next(n for n in second.nodes() if n["id"] == "n0")
        assert again["address"] == node["address"]
        status, got = rpc(again, "retrieve", retrieve_params(account))
        assert status == 200
        assert [m["hash"] for m in got["messages"]] == [body["hash"]]


def test_ready_line_is_the_only_stdout(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sessioncli",
            "devnet",
            "up",
            "--dir",
            str(tmp_path / "d"),
            "--nodes",
            "2",
            "--swarm-size",
            "2",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        start_new_session=True,
    )
    assert process.stdout is not None
    start = time.monotonic()
    line = process.stdout.readline()
    elapsed = time.monotonic() - start
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=10)
    assert line == f"devnet ready: 2 nodes, network file {tmp_path / 'd' / 'network.json'}\n"
    assert out == ""
    assert err == ""
    assert process.returncode == 0
    assert elapsed < 5
