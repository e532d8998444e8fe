"""The committed completion scripts complete commands, options and contact names in real shells."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from sessioncli.cli.contacts import complete_contact_name
from tests.conftest import REPO

ALICE = "05" + "a" * 64
BOB = "05" + "b" * 64


@pytest.fixture
def contacts(private_dirs: Path) -> Path:
    from sessioncli.core import contacts as core

    core.add("alice", ALICE)
    core.add("bob", BOB)
    core.add("albert", BOB)
    return private_dirs


def test_callback_lists_matching_contacts(contacts: Path) -> None:
    assert sorted(complete_contact_name("al")) == ["albert", "alice"]
    assert sorted(complete_contact_name("")) == ["albert", "alice", "bob"]
    assert complete_contact_name("alice,b") == ["alice,bob"]
    assert complete_contact_name("zed") == []


@pytest.mark.parametrize("damage", ["garbage", "folder", "config-dir-is-a-file"])
def test_callback_never_raises(
    private_dirs: Path, monkeypatch: pytest.MonkeyPatch, damage: str
) -> None:
    config = private_dirs / "config"
    config.mkdir(parents=True, exist_ok=True)
    target = config / "contacts.json"
    if damage == "garbage":
        target.write_text("{not json")
    elif damage == "folder":
        target.mkdir()
    else:
        (private_dirs / "plain").write_text("x")
        monkeypatch.setenv("SESSIONCLI_CONFIG_DIR", str(private_dirs / "plain"))
    assert complete_contact_name("a") == []


def _shim(tmp_path: Path) -> dict[str, str]:
    """PATH with a `sessioncli` that runs this checkout, as an installed script would."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "sessioncli"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m sessioncli "$@"\n')
    shim.chmod(0o755)
    return {
        **os.environ,
        "PATH": f"{bin_dir}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        "PYTHONPATH": str(REPO),
    }


def _bash(env: dict[str, str], *words: str) -> list[str]:
    script = (
        'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); '
        '_sessioncli_completion sessioncli; printf "%s\\n" "${COMPREPLY[@]}"'
    )
    proc = subprocess.run(
        ["bash", "-c", script, "_", str(REPO / "completions" / "sessioncli.bash"), *words],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return [line for line in proc.stdout.splitlines() if line]


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        (["sessioncli", "se"], ["send"]),
        (["sessioncli", "contacts", "re"], ["remove", "rename"]),
        (["sessioncli", "send", "--t"], ["--to", "--ttl", "--timeout"]),
        (["sessioncli", "send", "al"], ["alice", "albert"]),
        (["sessioncli", "send", "bob,ali"], ["bob,alice"]),
        (["sessioncli", "send", "x", "--to", "b"], ["bob"]),
        (["sessioncli", "contacts", "show", "b"], ["bob"]),
        (["sessioncli", "contacts", "remove", "alb"], ["albert"]),
        (["sessioncli", "contacts", "rename", "ali"], ["alice"]),
    ],
)
def test_bash(contacts: Path, tmp_path: Path, words: list[str], expected: list[str]) -> None:
    assert sorted(_bash(_shim(tmp_path), *words)) == sorted(expected)


@pytest.mark.skipif(shutil.which("fish") is None, reason="fish is not installed")
def test_fish(contacts: Path, tmp_path: Path) -> None:
    script = f"source {REPO / 'completions' / 'sessioncli.fish'}; complete -C 'sessioncli send al'"
    out = subprocess.run(
        ["fish", "--no-config", "-c", script],
        env=_shim(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    assert sorted(line.split("\t")[0] for line in out.splitlines()) == ["albert", "alice"]


def test_zsh_script_works_from_fpath() -> None:
    """compinit only picks up files whose first line is #compdef; autoload must complete at once."""
    text = (REPO / "completions" / "_sessioncli").read_text()
    assert text.startswith("#compdef sessioncli\n")
    assert "loadautofunc" in text
