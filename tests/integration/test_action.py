"""action.yml: its run steps executed as the GitHub runner would, against a devnet."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO

pytestmark = pytest.mark.slow

SEED = "00112233445566778899aabbccddeeff"


def expand(value: str, inputs: dict[str, str], context: dict[str, str]) -> str:
    def one(m: re.Match[str]) -> str:
        expr = m.group(1).strip()
        if expr.startswith("inputs."):
            return inputs[expr[len("inputs.") :]]
        return context[expr]

    return re.sub(r"\$\{\{(.*?)\}\}", one, value)


def test_action_sends_with_the_identity_from_a_secret(users, devnet, tmp_path: Path) -> None:
    bob = users("bob")
    action = yaml.safe_load((REPO / "action.yml").read_text())
    assert action["runs"]["using"] == "composite"
    inputs = {k: str(v.get("default", "")) for k, v in action["inputs"].items()}
    inputs.update(
        recipient=bob.session_id,
        message='build 7 failed: "quotes" $(not run) `nor this`',
        identity=SEED,
        network=str(devnet.network_file),
        ttl="1h",
    )
    output = tmp_path / "github_output"
    output.write_text("")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    # the runner's `python` is the one setup-python installed; here it is this interpreter, and
    # `pip install $ACTION_PATH` is the checkout being importable already
    (bin_dir / "python").write_text(
        f'#!/bin/sh\n[ "$1 $2 $3" = "-m pip install" ] && exit 0\nexec {sys.executable} "$@"\n'
    )
    (bin_dir / "sessioncli").write_text(f'#!/bin/sh\nexec {sys.executable} -m sessioncli "$@"\n')
    for f in bin_dir.iterdir():
        f.chmod(0o755)
    context = {"github.action_path": str(REPO)}
    ran = 0
    for step in action["runs"]["steps"]:
        if "uses" in step:
            assert step["uses"].startswith("actions/setup-python@")
            continue
        assert "${{" not in step["run"], "inputs must reach scripts through env, not be pasted in"
        env = {
            "PATH": f"{bin_dir}:/usr/bin:/bin",
            "HOME": str(tmp_path),
            "PYTHONPATH": str(REPO),
            "GITHUB_OUTPUT": str(output),
            "SESSIONCLI_CONFIG_DIR": str(tmp_path / "config"),
            "SESSIONCLI_STATE_DIR": str(tmp_path / "state"),
            "SESSIONCLI_CACHE_DIR": str(tmp_path / "cache"),
        }
        env.update({k: expand(str(v), inputs, context) for k, v in step.get("env", {}).items()})
        res = subprocess.run(
            [step.get("shell", "bash"), "-e", "-c", step["run"]],
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
            cwd=tmp_path,
        )
        assert res.returncode == 0, res.stderr
        assert SEED not in res.stdout + res.stderr
        ran += 1
    assert ran == 2
    (line,) = output.read_text().splitlines()
    result = json.loads(line.removeprefix("result="))
    assert result["ok"] and result["recipient"] == bob.session_id
    (got,) = bob.receive_json()
    assert got["body"] == inputs["message"]
    assert os.environ.get("SESSIONCLI_IDENTITY") is None
