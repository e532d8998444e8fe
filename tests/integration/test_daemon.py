"""`sessioncli daemon` driven as its callers do: JSON-RPC lines on its socket, SSE over HTTP."""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


class DaemonProc:
    def __init__(self, user, sock: Path, *extra: str) -> None:
        self.sock = sock
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "sessioncli",
                "daemon",
                "--socket",
                str(sock),
                "--interval",
                "0.3",
                *extra,
            ],
            env=user.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 30
        while not sock.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(self.proc.stderr.read().decode() if self.proc.stderr else "")
            time.sleep(0.05)

    def connect(self) -> socket.socket:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(60)
        s.connect(str(self.sock))
        return s

    def call(self, method: str, params: dict | None = None, rid: int = 1) -> dict:
        with self.connect() as s:
            s.sendall(
                json.dumps(
                    {"jsonrpc": "2.0", "method": method, "params": params or {}, "id": rid}
                ).encode()
                + b"\n"
            )
            return json.loads(s.makefile("rb").readline())

    def stop(self) -> tuple[int, str]:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        return self.proc.returncode, self.proc.stderr.read().decode() if self.proc.stderr else ""


@pytest.fixture
def daemon_for(tmp_path: Path):
    started: list[DaemonProc] = []

    def start(user, name: str = "d", *extra: str) -> DaemonProc:
        folder = Path(
            f"/tmp/scli-{os.getpid()}-{len(started)}-{name}"
        )  # short: sun_path is 108 bytes
        d = DaemonProc(user, folder / "socket", *extra)
        started.append(d)
        return d

    yield start
    for d in started:
        d.stop()


def test_signal_cli_style_send_and_subscribe(users, daemon_for) -> None:
    alice, bob = users("alice"), users("bob")
    a, b = daemon_for(alice, "a"), daemon_for(bob, "b")
    mode = stat.S_IMODE(a.sock.stat().st_mode)
    assert mode & 0o077 == 0 and stat.S_IMODE(a.sock.parent.stat().st_mode) == 0o700
    assert a.call("version")["result"]["version"]
    with b.connect() as sub:
        sub.sendall(b'{"jsonrpc":"2.0","method":"subscribeReceive","id":7}\n')
        reader = sub.makefile("rb")
        answer = json.loads(reader.readline())
        assert answer["id"] == 7 and isinstance(answer["result"], int)
        sent = a.call("send", {"recipient": bob.session_id, "message": "via the daemon"})
        result = sent["result"]
        assert result["exit_code"] == 0 and result["results"][0]["ok"], sent
        note = json.loads(reader.readline())
    assert note["method"] == "receive"
    message = note["params"]["message"]
    assert message["body"] == "via the daemon" and message["from"] == alice.session_id
    assert message["source"] == "dm"
    # It counted as received once written to the subscriber: a CLI receive sees nothing more.
    b.stop()
    assert bob.receive_json() == []


def test_bad_requests_get_errors_and_the_daemon_survives(users, daemon_for) -> None:
    alice = users("alice")
    d = daemon_for(alice)
    with d.connect() as s:
        s.sendall(b"x" * (1 << 20) + b"y" * 100 + b"\n")
        error = json.loads(s.makefile("rb").readline())
        assert error["error"]["code"] == -32600
    assert d.call("nope")["error"]["code"] == -32601
    bad = d.call("send", {"recipient": "nobody", "message": "x"})
    assert bad["error"]["data"]["exit_code"] == 2 and "unknown recipient" in bad["error"]["message"]
    with d.connect() as s:
        s.sendall(b"{not json\n")
        assert json.loads(s.makefile("rb").readline())["error"]["code"] == -32700
    assert d.call("version")["result"]


def test_disconnect_mid_request_and_100_clients(users, daemon_for) -> None:
    alice, bob = users("alice"), users("bob")
    d = daemon_for(alice)
    s = d.connect()
    s.sendall(
        json.dumps(
            {
                "jsonrpc": "2.0",
                "method": "send",
                "params": {"recipient": bob.session_id, "message": "left early"},
                "id": 1,
            }
        ).encode()
        + b"\n"
    )
    s.close()  # gone before the answer
    answers: list[dict] = []
    lock = threading.Lock()

    def one(i: int) -> None:
        got = d.call("version", rid=i)
        with lock:
            answers.append(got)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(100)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(90)
    assert sorted(a["id"] for a in answers) == list(range(100))
    deadline = time.monotonic() + 60
    got: list[dict] = []
    while time.monotonic() < deadline and not got:
        got = bob.receive_json()
    assert [m["body"] for m in got] == ["left early"]


def test_sigterm_while_sending_loses_nothing_and_doubles_nothing(users, daemon_for) -> None:
    alice, bob = users("alice"), users("bob")
    d = daemon_for(alice)
    results: list[dict] = []

    def send(i: int) -> None:
        results.append(d.call("send", {"recipient": bob.session_id, "message": f"term {i}"}, rid=i))

    threads = [threading.Thread(target=send, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    time.sleep(0.3)
    code, _ = d.stop()
    for t in threads:
        t.join(60)
    assert code == 0
    acknowledged = {
        f"term {r['id']}" for r in results if "result" in r and r["result"]["exit_code"] == 0
    }
    refused = [r for r in results if "error" in r]
    assert all(r["error"]["data"]["exit_code"] == 75 for r in refused)
    got = [m["body"] for m in bob.receive_json()]
    assert len(got) == len(set(got))  # nothing doubled
    assert acknowledged <= set(got)  # nothing acknowledged was lost


def test_second_daemon_on_the_same_socket_refuses(users, daemon_for, tmp_path: Path) -> None:
    alice = users("alice")
    d = daemon_for(alice)
    res = subprocess.run(
        [sys.executable, "-m", "sessioncli", "daemon", "--socket", str(d.sock)],
        env=alice.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert res.returncode == 75
    assert "another sessioncli daemon is listening" in res.stderr
    assert d.call("version")["result"]  # the first one still serves


def test_http_rpc_check_and_events(users, daemon_for) -> None:
    import http.client

    alice, bob = users("alice"), users("bob")
    port = _free_port()
    b = daemon_for(bob, "h", "--http", f"127.0.0.1:{port}")
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request("GET", "/api/v1/check")
    check = conn.getresponse()
    assert check.status == 200 and json.loads(check.read()) == {"ok": True}
    events = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    events.request("GET", "/api/v1/events")
    stream = events.getresponse()
    assert stream.status == 200
    time.sleep(0.5)
    sent = subprocess.run(
        [sys.executable, "-m", "sessioncli", "send", bob.session_id, "to sse"],
        env=alice.env,
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert sent.returncode == 0, sent.stderr
    data = None
    while data is None:
        line = stream.fp.readline()
        assert line, "stream ended"
        if line.startswith(b"data: "):
            data = json.loads(line[6:])
    assert data["body"] == "to sse"
    body = json.dumps({"jsonrpc": "2.0", "method": "version", "id": 3}).encode()
    conn.request("POST", "/api/v1/rpc", body, {"Content-Type": "application/json"})
    assert json.loads(conn.getresponse().read())["result"]["version"]
    assert b.proc.poll() is None


def test_http_refuses_a_public_address_without_a_token(users) -> None:
    alice = users("alice")
    res = alice.run(["daemon", "--socket", "/tmp/never-used/socket", "--http", "0.0.0.0:1"])
    assert res.returncode == 2 and "without a token" in res.stderr


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_sendmail_through_the_daemon(users, daemon_for) -> None:
    alice, bob = users("alice"), users("bob")
    d = daemon_for(alice, "m")
    res = subprocess.run(
        [sys.executable, "-m", "sessioncli.integrations.sendmail", "-i", bob.session_id],
        input=b"Subject: via daemon\n\nbody\n",
        env={
            **alice.env,
            "SESSIONCLI_SOCKET": str(d.sock),
            "SESSIONCLI_IDENTITY_FILE": "/nonexistent",
        },
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert res.returncode == 0, res.stderr
    assert [m["body"] for m in bob.receive_json()] == ["via daemon\nbody"]


def test_systemd_socket_activation(users, tmp_path: Path) -> None:
    alice = users("alice")
    path = Path(f"/tmp/scli-act-{os.getpid()}.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    listener.listen(8)
    fd = listener.fileno()
    proc = subprocess.Popen(
        [
            "sh",
            "-c",
            f"LISTEN_PID=$$ LISTEN_FDS=1 exec {sys.executable} -m sessioncli daemon --socket /nonexistent/never",
        ],
        env=alice.env,
        stdin=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        pass_fds=(3,),
        preexec_fn=lambda: os.dup2(fd, 3),
    )
    listener.close()
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(60)
            s.connect(str(path))
            s.sendall(b'{"jsonrpc":"2.0","method":"version","id":1}\n')
            assert json.loads(s.makefile("rb").readline())["result"]["version"]
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0, proc.stderr.read() if proc.stderr else ""
        path.unlink()


def test_cli_send_through_the_daemon(users, daemon_for) -> None:
    alice, bob = users("alice"), users("bob")
    d = daemon_for(alice, "c")
    env = {**alice.env, "SESSIONCLI_SOCKET": str(d.sock)}
    res = subprocess.run(
        [sys.executable, "-m", "sessioncli", "send", "--json", bob.session_id, "cli via daemon"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["ok"] is True
    bad = subprocess.run(
        [sys.executable, "-m", "sessioncli", "send", "nobody-known", "x"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert bad.returncode == 2 and bad.stderr.count("\n") <= 3
    d.stop()
    gone = subprocess.run(
        [sys.executable, "-m", "sessioncli", "send", "--daemon", bob.session_id, "x"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert gone.returncode == 75 and "cannot reach the sessioncli daemon" in gone.stderr
    assert [m["body"] for m in bob.receive_json()] == ["cli via daemon"]
