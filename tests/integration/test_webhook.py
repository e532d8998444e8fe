"""`sessioncli webhook` fed the JSON that Alertmanager and Grafana really POST (firing, resolved)."""

from __future__ import annotations

import http.client
import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ALERTMANAGER_FIRING = {
    "version": "4",
    "groupKey": '{}:{alertname="DiskFull"}',
    "truncatedAlerts": 0,
    "status": "firing",
    "receiver": "session",
    "groupLabels": {"alertname": "DiskFull"},
    "commonLabels": {"alertname": "DiskFull", "severity": "critical"},
    "commonAnnotations": {"summary": "Disk almost full"},
    "externalURL": "http://alertmanager:9093",
    "alerts": [
        {
            "status": "firing",
            "labels": {"alertname": "DiskFull", "severity": "critical", "instance": "web1:9100"},
            "annotations": {"summary": "Disk 95% full on web1", "description": "/var is at 95%"},
            "startsAt": "2026-12-01T10:00:00Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://prometheus:9090/graph?g0.expr=disk",
            "fingerprint": "1a2b3c",
        }
    ],
}
ALERTMANAGER_RESOLVED = {
    **ALERTMANAGER_FIRING,
    "status": "resolved",
    "alerts": [
        {**ALERTMANAGER_FIRING["alerts"][0], "status": "resolved", "endsAt": "2026-12-01T10:05:00Z"}
    ],
}
GRAFANA_FIRING = {
    "receiver": "session",
    "status": "firing",
    "orgId": 1,
    "alerts": [
        {
            "status": "firing",
            "labels": {"alertname": "High CPU", "grafana_folder": "Infra", "host": "db1"},
            "annotations": {"summary": "CPU above 90% on db1"},
            "startsAt": "2026-12-01T10:00:00Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://grafana:3000/alerting/grafana/abc/view",
            "fingerprint": "9f8e",
            "silenceURL": "http://grafana:3000/alerting/silence/new?alertmanager=grafana",
            "dashboardURL": "",
            "panelURL": "",
            "values": {"A": 93.2},
            "valueString": "[ var='A' labels={host=db1} value=93.2 ]",
        }
    ],
    "groupLabels": {"alertname": "High CPU"},
    "commonLabels": {"alertname": "High CPU", "grafana_folder": "Infra", "host": "db1"},
    "commonAnnotations": {"summary": "CPU above 90% on db1"},
    "externalURL": "http://grafana:3000/",
    "version": "1",
    "groupKey": '{}:{alertname="High CPU"}',
    "truncatedAlerts": 0,
    "title": "[FIRING:1] High CPU (Infra db1)",
    "state": "alerting",
    "message": "**Firing**\n\nValue: A=93.2",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Webhook:
    def __init__(self, user, *args: str, env: dict | None = None) -> None:
        self.port = free_port()
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "sessioncli",
                "webhook",
                "--listen",
                f"127.0.0.1:{self.port}",
                *args,
            ],
            env={**user.env, **(env or {})},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(self.proc.stderr.read().decode()) from None
                time.sleep(0.05)

    def post(self, payload, headers: dict | None = None) -> tuple[int, dict]:
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        conn.request(
            "POST", "/alert", body, {"Content-Type": "application/json", **(headers or {})}
        )
        res = conn.getresponse()
        return res.status, json.loads(res.read())

    def stop(self) -> str:
        self.proc.terminate()
        self.proc.wait(30)
        return self.proc.stderr.read().decode()


def test_alertmanager_firing_and_resolved(users) -> None:
    alice, bob = users("alice"), users("bob")
    hook = Webhook(alice, "--to", bob.session_id, "--format", "alertmanager")
    try:
        assert hook.post(ALERTMANAGER_FIRING)[0] == 200
        assert hook.post(ALERTMANAGER_RESOLVED)[0] == 200
        code, answer = hook.post(b"not json")
        assert code == 400 and "not JSON" in answer["error"]
    finally:
        log = hook.stop()
    firing, resolved = (
        m["body"] for m in sorted(bob.receive_json(), key=lambda m: m["timestamp_ms"])
    )
    assert firing.startswith("[FIRING:1] DiskFull (severity=critical)")
    assert "Disk 95% full on web1" in firing and "instance=web1:9100" in firing
    assert "http://prometheus:9090/graph?g0.expr=disk" in firing
    assert resolved.startswith("[RESOLVED:1] DiskFull")
    assert "-> 200" in log and "-> 400" in log


def test_grafana_and_token(users, tmp_path: Path) -> None:
    alice, bob = users("alice"), users("bob")
    token = tmp_path / "token"
    token.write_text("s3cr3t-t0ken\n")
    hook = Webhook(alice, "--to", bob.session_id, "--format", "grafana", "--token-file", str(token))
    try:
        assert hook.post(GRAFANA_FIRING)[0] == 401
        code, answer = hook.post(GRAFANA_FIRING, {"Authorization": "Bearer s3cr3t-t0ken"})
        assert code == 200 and answer["results"][0]["ok"]
    finally:
        log = hook.stop()
    (got,) = bob.receive_json()
    assert got["body"].startswith("[FIRING:1] High CPU (Infra db1)")
    assert "CPU above 90% on db1" in got["body"] and "var='A'" in got["body"]
    assert "s3cr3t" not in log


def test_json_field_and_text(users) -> None:
    alice, bob = users("alice"), users("bob")
    hook = Webhook(alice, "--to", bob.session_id, "--format", "json", "--field", "event.text")
    try:
        assert hook.post({"event": {"text": "deploy done"}})[0] == 200
        assert hook.post({"event": {}})[0] == 400
    finally:
        hook.stop()
    assert [m["body"] for m in bob.receive_json()] == ["deploy done"]


def test_network_down_is_503_so_alertmanager_retries(users, devnet, tmp_path: Path) -> None:
    alice, bob = users("alice"), users("bob")
    net = json.loads(Path(devnet.network_file).read_text())
    dead = free_port()
    for seed in net["seeds"]:
        seed["url"] = f"https://127.0.0.1:{dead}"
    net["name"] = "dead-net"
    broken = tmp_path / "dead.json"
    broken.write_text(json.dumps(net))
    hook = Webhook(
        alice,
        "--to",
        bob.session_id,
        env={
            "SESSIONCLI_NETWORK": str(broken),
            "SESSIONCLI_TIMEOUT": "2",
            "SESSIONCLI_CACHE_DIR": str(tmp_path / "c"),
        },
    )
    try:
        code, answer = hook.post(ALERTMANAGER_FIRING)
    finally:
        hook.stop()
    assert code == 503 and answer["ok"] is False


def test_public_listen_needs_a_token(users) -> None:
    alice, bob = users("alice"), users("bob")
    res = alice.run(["webhook", "--listen", "0.0.0.0:9", "--to", bob.session_id])
    assert res.returncode == 2 and "without a token" in res.stderr
    res = alice.run(["webhook", "--to", "nobody-known"])
    assert res.returncode == 2 and "unknown recipient" in res.stderr
