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


def _bash(env: dict[str, str], *words: str, cwd: Path | None = None) -> list[str]:
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
        cwd=cwd,
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
        # issue 12 item 19
        (["sessioncli", "--network", "m"], ["mainnet"]),
        (["sessioncli", "--network", "t"], ["testnet"]),
        (["sessioncli", "--profile", "d"], ["default"]),
        (["sessioncli", "devnet", "ctl", "--dir", "x", "s"], ["stats", "seen", "sogs"]),
        (["sessioncli", "devnet", "ctl", "--dir", "x", "h"], ["hang"]),
    ],
)
def test_bash(contacts: Path, tmp_path: Path, words: list[str], expected: list[str]) -> None:
    # from a folder holding only the shim's bin/: --network also completes paths under the cwd
    assert sorted(_bash(_shim(tmp_path), *words, cwd=tmp_path)) == sorted(expected)


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


def test_network_completion_offers_network_files(tmp_path: Path) -> None:
    dn = tmp_path / "dn"
    dn.mkdir()
    (dn / "network.json").write_text("{}")
    (dn / "notes.txt").write_text("")
    env = _shim(tmp_path)
    assert _bash(env, "sessioncli", "--network", str(tmp_path / "d")) == [f"{dn}/"]
    assert _bash(env, "sessioncli", "--network", f"{dn}/") == [f"{dn}/network.json"]


@pytest.mark.parametrize(
    ("shell", "marker"),
    [
        ("zsh", "#compdef sessioncli"),
        ("fish", "complete --command sessioncli"),
        ("bash", "complete -o"),
    ],
)
def test_show_completion_prints_the_named_shell(
    private_dirs: Path, shell: str, marker: str
) -> None:
    from tests.conftest import run_cli

    res = run_cli(["--show-completion", shell], private_dirs)
    assert res.returncode == 0, res.stderr
    assert marker in res.stdout
    foreign = {"zsh": ["COMPREPLY"], "fish": ["COMPREPLY", "compdef"], "bash": ["compdef"]}
    assert not any(word in res.stdout for word in foreign[shell])
    assert run_cli(["--show-completion", "tcsh"], private_dirs).returncode == 2


def test_help_has_no_typer_type_marks(private_dirs: Path) -> None:
    from tests.conftest import run_cli

    for args in (["send", "-h"], ["contacts", "rename", "-h"], ["devnet", "ctl", "-h"], ["-h"]):
        out = run_cli(args, private_dirs).stdout
        assert "<str>" not in out and "range>" not in out and "{" not in out.splitlines()[0], out
    rename = run_cli(["contacts", "rename", "-h"], private_dirs).stdout
    assert "current name" in rename
