"""`sessioncli-sendmail` driven as cron drives it: its argv, an RFC 5322 message on stdin."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

CRON_ARGV = ["-FCronDaemon", "-i", "-B8BITMIME", "-oem", "-oi", "-t", "-f", "root", "-odi"]
CRON_MAIL = (
    "From: root (Cron Daemon)\nTo: root\nSubject: Cron <root@web1> /usr/local/bin/backup\n"
    "Content-Type: text/plain; charset=UTF-8\nX-Cron-Env: <SHELL=/bin/sh>\n"
    "X-Cron-Env: <DB_PASSWORD=hunter2>\n\nbackup failed: {detail}\n"
)


def sendmail(user, argv, stdin: str, **env: str):
    return subprocess.run(
        [sys.executable, "-m", "sessioncli.integrations.sendmail", *argv],
        input=stdin.encode(),
        env={**user.env, **env},
        capture_output=True,
        timeout=120,
        check=False,
    )


def configure(user, text: str) -> None:
    folder = user.home / "config"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.toml").write_text(text)


def test_cron_mail_arrives_as_subject_and_body_without_headers(users) -> None:
    alice, bob = users("alice"), users("bob")
    configure(alice, f'[sendmail.aliases]\nroot = "{bob.session_id}"\n')
    res = sendmail(alice, CRON_ARGV, CRON_MAIL.format(detail="disk full"))
    assert res.returncode == 0, res.stderr
    assert res.stderr == b""  # cron's own options raise no warning
    (got,) = bob.receive_json()
    assert got["body"] == "Cron <root@web1> /usr/local/bin/backup\nbackup failed: disk full"
    assert "hunter2" not in got["body"]


def test_catch_all_contacts_and_long_output(users) -> None:
    alice, bob, carol = users("alice"), users("bob"), users("carol")
    assert alice.run(["contacts", "add", "carol", carol.session_id]).returncode == 0
    configure(alice, f'[sendmail]\nmax_chars = 500\n[sendmail.aliases]\n"*" = "{bob.session_id}"\n')
    long = "line\n" * 2000 + "THE END"
    res = sendmail(alice, ["-i", "carol@localhost", "whoever"], f"Subject: big\n\n{long}\n")
    assert res.returncode == 0, res.stderr
    (to_carol,) = carol.receive_json()
    (to_bob,) = bob.receive_json()
    assert to_carol["body"] == to_bob["body"]
    assert len(to_bob["body"]) <= 500 and to_bob["body"].endswith("THE END")
    assert "characters cut" in to_bob["body"]


def test_unmapped_address_is_78_naming_it(users) -> None:
    alice = users("alice")
    res = sendmail(alice, ["-t"], "To: nobody@host\nSubject: x\n\ny\n")
    assert res.returncode == 78
    assert b"'nobody@host'" in res.stderr


def _unreachable_network(devnet, folder) -> str:
    """The devnet's network file with its seed moved to a loopback port nobody listens on: a
    cold cache then cannot bootstrap (a short timeout no longer guarantees a failure, since a
    cold send on a quiet loopback devnet can finish in under 0.2 s)."""
    import json
    import re
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    obj = json.loads(Path(devnet.network_file).read_text())
    obj["name"] = "unreachable"
    for seed in obj["seeds"]:
        seed["url"] = re.sub(r":\d+$", f":{port}", seed["url"].rstrip("/"))
    path = folder / "unreachable.json"
    path.write_text(json.dumps(obj))
    return str(path)


def test_partial_and_failed_sends_exit_nonzero(users, devnet) -> None:
    alice, bob = users("alice"), users("bob")
    configure(alice, f'[sendmail.aliases]\nroot = "{bob.session_id}"\n')
    res = sendmail(
        alice,
        ["root"],
        "Subject: s\n\nb\n",
        SESSIONCLI_NETWORK=_unreachable_network(devnet, alice.home),
        SESSIONCLI_TIMEOUT="5",
        SESSIONCLI_CACHE_DIR=str(alice.home / "cold"),
    )
    assert res.returncode in (69, 75), res.stderr
    assert res.stderr.count(b"\n") == 1
