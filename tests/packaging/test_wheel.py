"""The shipped artefacts: generated files have not drifted, and the wheel works in a clean venv."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.slow


def _run_script(name: str, timeout: float) -> None:
    proc = subprocess.run(
        ["bash", str(REPO / "scripts" / name)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert proc.returncode == 0, f"scripts/{name} exited {proc.returncode}:\n{proc.stderr[-6000:]}"


@pytest.mark.skipif(
    shutil.which("help2man") is None, reason="help2man is not installed (apt-get install help2man)"
)
def test_generated_files_are_up_to_date() -> None:
    """completions/, man/sessioncli.1 and docs/cli.md match what scripts/regen.sh makes now."""
    _run_script("check_generated.sh", timeout=300)


@pytest.mark.skipif(
    shutil.which("man") is None, reason="man is not installed (apt-get install man-db)"
)
def test_wheel_in_a_clean_venv() -> None:
    """Build, install, --version, man page, bash completion and a devnet round trip."""
    _run_script("check_wheel.sh", timeout=900)
