"""Secrets canary for the front doors: the daemon, the webhook, the sendmail shim, the API.

The canary identity's secrets, and the daemon's and webhook's bearer tokens, appear in none of
their responses, logs or files."""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import CANARY_SEED_HEX
from tests.hostile.test_canary import CANARY, canary_env, file_leaks, leaks, make_peer

pytestmark = pytest.mark.slow
TOKEN = "canary-token-7f3a9c"


@pytest.fixture(scope="module")
def devnet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from tests.devnet_support import DevnetProcess

    folder = tmp_path_factory.mktemp("canary-front")
    with DevnetProcess(folder, nodes=12, swarm_size=4, seed=f"canary-{folder.name}") as dn:
        yield dn


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(check, proc) -> None:
    deadline = time.monotonic() + 30
    while not check():
        assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read()
        time.sleep(0.05)


def test_front_doors_never_show_a_secret(devnet: Any, private_dirs: Path) -> None:
    home = private_dirs / "canary"
    home.mkdir()
    env, secrets_at = canary_env(home, "file-hex", devnet.network_file)
    env["SESSIONCLI_DAEMON_TOKEN"] = TOKEN
    env["SESSIONCLI_WEBHOOK_TOKEN"] = TOKEN
    peer_id, _peer = make_peer(private_dirs, devnet.network_file)
    sock = Path(f"/tmp/scli-canary-{os.getpid()}/socket")
    port, hook_port = _free_port(), _free_port()
    daemon = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sessioncli",
            "-v",
            "daemon",
            "--socket",
            str(sock),
            "--http",
            f"127.0.0.1:{port}",
        ],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    hook = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sessioncli",
            "-v",
            "webhook",
            "--listen",
            f"127.0.0.1:{hook_port}",
            "--to",
            peer_id,
            "--format",
            "text",
        ],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    outputs: list[str] = []
    try:
        _wait(sock.exists, daemon)
        _wait(lambda: _connects(hook_port), hook)
        for line in (
            {
                "jsonrpc": "2.0",
                "method": "send",
                "params": {"recipient": peer_id, "message": "hi"},
                "id": 1,
            },
            {
                "jsonrpc": "2.0",
                "method": "send",
                "params": {"recipient": "nobody", "message": "x"},
                "id": 2,
            },
            {"jsonrpc": "2.0", "method": "status", "id": 3},
            {"jsonrpc": "2.0", "method": "listContacts", "id": 4},
            {"jsonrpc": "2.0", "method": "subscribeReceive", "id": 5},
            {"jsonrpc": "2.0", "method": "receive", "params": {"kinds": ["text"]}, "id": 6},
        ):
            with socket.socket(socket.AF_UNIX) as s:
                s.settimeout(60)
                s.connect(str(sock))
                s.sendall(json.dumps(line).encode() + b"\n")
                outputs.append(s.makefile("rb").readline().decode())
        for auth in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Bearer {TOKEN}"}):
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            conn.request("POST", "/api/v1/rpc", b'{"jsonrpc":"2.0","method":"status","id":1}', auth)
            outputs.append(conn.getresponse().read().decode())
            conn = http.client.HTTPConnection("127.0.0.1", hook_port, timeout=60)
            conn.request("POST", "/x", b"alert text", {**auth, "Content-Length": "10"})
            outputs.append(conn.getresponse().read().decode())
        mail = subprocess.run(
            [sys.executable, "-m", "sessioncli.integrations.sendmail", "-i", "-t"],
            input=f"To: {peer_id}\nSubject: s\nX-Cron-Env: <SESSIONCLI_IDENTITY={CANARY_SEED_HEX}>\n\nbody\n",
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert mail.returncode == 0, mail.stderr
        outputs += [mail.stdout, mail.stderr]
        through = subprocess.run(  # `receive --daemon`: what the CLI prints from the daemon
            [sys.executable, "-m", "sessioncli", "receive", "--json", "--daemon"],
            env={**env, "SESSIONCLI_SOCKET": str(sock)},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert through.returncode == 0, through.stderr
        outputs += [through.stdout, through.stderr]
    finally:
        for proc in (daemon, hook):
            proc.terminate()
            out, err = proc.communicate(timeout=30)
            outputs += [out, err]
    assert any(CANARY.session_id in o for o in outputs)  # the status really ran
    for text in outputs:
        assert not leaks(text), leaks(text)
        assert TOKEN not in text
    assert not file_leaks(home, secrets_at)


def _connects(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False
