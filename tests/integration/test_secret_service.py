"""The real OS keyring: keygen, whoami and --show-phrase through Secret Service (gnome-keyring on D-Bus)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO

pytestmark = [
    pytest.mark.keyring_integration,
    pytest.mark.skipif(
        shutil.which("dbus-run-session") is None or shutil.which("gnome-keyring-daemon") is None,
        reason="needs dbus-run-session and gnome-keyring-daemon "
        "(apt-get install gnome-keyring dbus dbus-x11; .ci/run installs them)",
    ),
]

# Runs inside the D-Bus session: the three commands as subprocesses, then what the keyring holds.
DRIVER = r"""
import json, subprocess, sys
import keyring

def run(*args):
    p = subprocess.run([sys.executable, "-m", "sessioncli", *args], capture_output=True,
                       text=True, timeout=60, stdin=subprocess.DEVNULL)
    return {"rc": p.returncode, "out": p.stdout, "err": p.stderr}

report = {"keygen": run("keygen"), "whoami": run("whoami"), "phrase": run("keygen", "--show-phrase")}
backend = keyring.get_keyring()
report["backend"] = f"{type(backend).__module__}.{type(backend).__name__}"
report["stored"] = keyring.get_password("sessioncli", "profile:default")
with open(sys.argv[1], "w") as fh:
    json.dump(report, fh)
"""


def _env(root: Path) -> dict[str, str]:
    """A login-less, cron-like environment; no PYTHON_KEYRING_BACKEND, so keyring picks by itself."""
    home = root / "home"
    home.mkdir()
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "PYTHONPATH": str(REPO),
        "PYTHONDONTWRITEBYTECODE": "1",
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
        "XDG_STATE_HOME": str(home / ".local" / "state"),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "XDG_RUNTIME_DIR": str(root / "run"),
    }


def _in_keyring_session(root: Path, env: dict[str, str]) -> dict[str, Any]:
    (root / "run").mkdir(mode=0o700)
    report = root / "report.json"
    # The recipe from CONVENTIONS §1.1: a private bus, a "login" collection unlocked with a
    # password on stdin (no prompt, no display), then our commands.
    script = (
        "printf pw | gnome-keyring-daemon --unlock --components=secrets >/dev/null || exit 90; "
        '"$SESSIONCLI_TEST_PYTHON" -c "$SESSIONCLI_TEST_DRIVER" "$SESSIONCLI_TEST_REPORT"'
    )
    proc = subprocess.run(
        ["dbus-run-session", "--", "sh", "-c", script],
        env={
            **env,
            "SESSIONCLI_TEST_PYTHON": sys.executable,
            "SESSIONCLI_TEST_DRIVER": DRIVER,
            "SESSIONCLI_TEST_REPORT": str(report),
        },
        cwd=root,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert proc.returncode == 0, f"D-Bus session failed ({proc.returncode}):\n{proc.stderr}"
    result: dict[str, Any] = json.loads(report.read_text())
    report.unlink()
    return result


def test_identity_round_trip_through_secret_service(tmp_path: Path) -> None:
    root = tmp_path / "kr"
    root.mkdir()
    env = _env(root)
    assert "PYTHON_KEYRING_BACKEND" not in env  # keyring must choose Secret Service by itself
    r = _in_keyring_session(root, env)

    assert r["backend"] == "keyring.backends.SecretService.Keyring", r["backend"]
    for step in ("keygen", "whoami", "phrase"):
        assert r[step]["rc"] == 0, f"{step}: exit {r[step]['rc']}\n{r[step]['err']}"

    session_id = r["keygen"]["out"].strip()
    assert re.fullmatch(r"05[0-9a-f]{64}", session_id), r["keygen"]["out"]
    assert r["whoami"]["out"].strip() == session_id
    assert r["keygen"]["err"] == "" and r["whoami"]["err"] == ""

    seed_hex = r["stored"]
    assert isinstance(seed_hex, str) and re.fullmatch(r"[0-9a-f]{32}", seed_hex), (
        "keyring entry sessioncli/profile:default should hold the seed in hex"
    )
    phrase = r["phrase"]["out"].strip()
    assert len(phrase.split()) == 13, "keygen --show-phrase should print 13 words"
    assert "impersonate" in r["phrase"]["err"]  # the warning goes to stderr, the phrase to stdout

    from sessioncli.protocol import mnemonic

    assert mnemonic.decode(phrase).hex() == seed_hex
    # The phrase restores the same identity without any keyring (no D-Bus out here).
    proc = subprocess.run(
        [sys.executable, "-m", "sessioncli", "whoami"],
        env={**env, "SESSIONCLI_IDENTITY": phrase},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (proc.returncode, proc.stdout.strip()) == (0, session_id), proc.stderr

    # Nothing on disk but gnome-keyring's own (encrypted) store; no secret in plain text anywhere.
    keyrings = Path(env["XDG_DATA_HOME"]) / "keyrings"
    files = [p for p in root.rglob("*") if p.is_file() or p.is_symlink()]
    outside = [str(p.relative_to(root)) for p in files if keyrings not in p.parents]
    assert outside == [], f"files written outside the keyring: {outside}"
    assert any(p.suffix == ".keyring" for p in files), "gnome-keyring stored nothing?"
    secrets = (seed_hex.encode(), bytes.fromhex(seed_hex), phrase.encode())
    for p in files:
        data = p.read_bytes()
        assert not any(s in data for s in secrets), f"secret in plain text in {p}"
    for step in ("keygen", "whoami"):
        assert seed_hex not in r[step]["out"] + r[step]["err"]
