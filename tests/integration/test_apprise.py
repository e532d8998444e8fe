"""The apprise plugin driven by the real `apprise` CLI: with sessioncli importable, and from a
virtualenv without sessioncli through the daemon."""

from __future__ import annotations

import os
import site
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.test_daemon import DaemonProc

pytestmark = pytest.mark.slow


def install_plugin(user, folder: Path) -> Path:
    res = user.run(["integrations", "apprise", "install", "--dir", str(folder)])
    assert res.returncode == 0, res.stderr
    plugin = Path(res.stdout.strip())
    assert plugin.parent == folder and plugin.is_file()
    return plugin


def apprise_cli(python: str, folder: Path, env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        # what the `apprise` console script runs
        [
            python,
            "-c",
            "import sys; from apprise.cli import main; sys.exit(main())",
            "--plugin-path",
            str(folder),
            *args,
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
        cwd=folder,
    )


def test_apprise_with_the_api(users, tmp_path: Path) -> None:
    alice, bob = users("alice"), users("bob")
    folder = tmp_path / "plugins"
    install_plugin(alice, folder)
    res = apprise_cli(
        sys.executable,
        folder,
        alice.env,
        "-t",
        "Backup",
        "-b",
        "finished OK",
        f"sessioncli://{bob.session_id}?ttl=1h",
    )
    assert res.returncode == 0, res.stdout + res.stderr
    (got,) = bob.receive_json()
    assert got["body"] == "Backup\nfinished OK"
    assert 3_000_000 < got["expires_at_ms"] - got["timestamp_ms"] < 3_700_000


def test_apprise_in_a_venv_without_sessioncli_uses_the_daemon(users, tmp_path: Path) -> None:
    alice, bob, carol = users("alice"), users("bob"), users("carol")
    venv = tmp_path / "venv"
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120
    )
    python = str(venv / "bin" / "python")
    lib = next((venv / "lib").glob("python3*")) / "site-packages"
    # apprise and its dependencies from this interpreter's site-packages, as plain path entries:
    # the editable install's .pth that makes sessioncli importable is not processed from there.
    (lib / "system.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["HOME"] = str(tmp_path)
    probe = subprocess.run(
        [python, "-c", "import apprise, sessioncli"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )
    assert "No module named 'sessioncli'" in probe.stderr
    folder = tmp_path / "plugins"
    install_plugin(alice, folder)
    daemon = DaemonProc(alice, Path(f"/tmp/scli-apr-{os.getpid()}") / "socket")
    try:
        env["SESSIONCLI_SOCKET"] = str(daemon.sock)
        res = apprise_cli(
            python,
            folder,
            env,
            "-b",
            "from another venv",
            f"sessioncli://{bob.session_id}/{carol.session_id}",
        )
        assert res.returncode == 0, res.stdout + res.stderr
    finally:
        daemon.stop()
    assert [m["body"] for m in bob.receive_json()] == ["from another venv"]
    assert [m["body"] for m in carol.receive_json()] == ["from another venv"]


def test_apprise_reports_failure(users, tmp_path: Path) -> None:
    alice = users("alice")
    folder = tmp_path / "plugins"
    install_plugin(alice, folder)
    res = apprise_cli(sys.executable, folder, alice.env, "-b", "x", "sessioncli://nobody-known")
    assert res.returncode != 0
