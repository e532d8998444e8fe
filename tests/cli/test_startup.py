"""Start-up paths: --version and a bash Tab answer without typer, and answer exactly what typer does."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sessioncli import __version__
from sessioncli.cli import _complete, app
from tests.conftest import cli_env
from tests.packaging.test_completion import _bash, _shim

ALICE = "05" + "a" * 64
BOB = "05" + "b" * 64

# Requests the table answers (command and contact names) and requests it leaves to typer.
ANSWERED = [
    "sessioncli ",
    "sessioncli se",
    "sessioncli s",
    "sessioncli nosuch ",
    "sessioncli nosuch se",
    "sessioncli send ",
    "sessioncli send al",
    "sessioncli send bob,ali",
    "sessioncli send alice ",
    "sessioncli send alice hello ",
    "sessioncli send alice hello more words",
    "sessioncli contacts ",
    "sessioncli contacts re",
    "sessioncli contacts show b",
    "sessioncli contacts remove alb",
    "sessioncli contacts rename ali",
    "sessioncli contacts rename alice a",
    "sessioncli devnet ",
    "sessioncli whoami ",
    "sessioncli receive x",
    "sessioncli\nsend\nal",  # the committed bash script joins COMP_WORDS with newlines
]
LEFT_TO_TYPER = [
    "sessioncli devnet ctl ",  # its verbs complete through a callback: typer answers
    "sessioncli -",
    "sessioncli --pro",
    "sessioncli -q send al",
    "sessioncli send --t",
    "sessioncli send x --to b",
    "sessioncli send 'al",
    'sessioncli send "bob",a',
    "sessioncli send .",
]


def _words_env(words: str) -> dict[str, str]:
    parts = words.replace("\n", " ").split(" ")
    return {
        "_SESSIONCLI_COMPLETE": "complete_bash",
        "COMP_WORDS": words,
        "COMP_CWORD": str(len(parts) - 1),
    }


@pytest.fixture
def contacts(private_dirs: Path) -> Path:
    from sessioncli.core import contacts as core

    core.add("alice", ALICE)
    core.add("bob", BOB)
    core.add("albert", BOB)
    return private_dirs


def _typer_answer(env: dict[str, str]) -> str:
    res = CliRunner().invoke(app, [], env=env, prog_name="sessioncli")
    assert res.exit_code == 0, res.output
    return res.stdout


@pytest.mark.parametrize("words", ANSWERED + LEFT_TO_TYPER)
def test_table_answers_what_typer_answers(contacts: Path, words: str) -> None:
    _complete.remember(app, start_cache=True)
    env = _words_env(words)
    fast = _complete.bash_answer(env)
    if words in LEFT_TO_TYPER:
        assert fast is None
    else:
        assert fast is not None
        assert fast == _typer_answer(env)


def test_stale_or_damaged_table_leaves_the_answer_to_typer(contacts: Path) -> None:
    env = _words_env("sessioncli se")
    assert _complete.bash_answer(env) is None  # no table yet
    _complete.remember(app, start_cache=True)
    assert _complete.bash_answer(env) == "send\n"
    table_path = contacts / "cache" / "completion-table.json"
    table = json.loads(table_path.read_text())
    table["fingerprint"][1] = "0.0.0-another-version"
    table_path.write_text(json.dumps(table))
    assert _complete.bash_answer(env) is None
    _complete.remember(app, start_cache=True)  # a stale table is rebuilt
    assert _complete.bash_answer(env) == "send\n"
    table_path.write_text("{not json")
    assert _complete.bash_answer(env) is None
    table_path.write_text(json.dumps({"fingerprint": _complete._fingerprint(), "root": []}))
    assert _complete.bash_answer(env) is None


def test_table_is_keyed_by_the_cli_sources() -> None:
    """Every command module's size and mtime are in the key: a changed CLI never answers stale."""
    import sessioncli.cli

    folder = Path(sessioncli.cli.__file__).parent
    entries = {name: [size, mtime] for name, size, mtime in _complete._fingerprint()[4]}
    assert entries.keys() == {p.name for p in folder.glob("*.py")}
    for name, (size, mtime) in entries.items():
        st = (folder / name).stat()
        assert [size, mtime] == [st.st_size, st.st_mtime_ns]


def _imports(env: dict[str, str], *args: str) -> tuple[set[str], str]:
    res = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "sessioncli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert res.returncode == 0, res.stderr[-500:]
    names = {line.split("|")[-1].strip() for line in res.stderr.splitlines() if "|" in line}
    return names, res.stdout


def test_version_alone_does_not_import_typer(private_dirs: Path) -> None:
    names, out = _imports(cli_env(private_dirs), "--version")
    assert out == f"sessioncli {__version__}\n"
    assert out == CliRunner().invoke(app, ["--version"]).stdout  # what the option prints
    assert not {n for n in names if n.split(".")[0] in {"typer", "click", "pydantic", "rich"}}


def test_version_with_other_options_still_goes_through_typer(private_dirs: Path) -> None:
    names, out = _imports(cli_env(private_dirs), "-q", "--version")
    assert out == f"sessioncli {__version__}\n"
    assert "typer" in names


def test_second_tab_in_real_bash_does_not_import_typer(contacts: Path, tmp_path: Path) -> None:
    env = _shim(tmp_path)
    assert sorted(_bash(env, "sessioncli", "send", "al")) == ["albert", "alice"]  # typer; table
    assert sorted(_bash(env, "sessioncli", "send", "al")) == ["albert", "alice"]  # the table
    assert sorted(_bash(env, "sessioncli", "co")) == ["community", "contacts"]
    names, out = _imports(
        dict(cli_env(contacts), **_words_env("sessioncli contacts show b")),
    )
    assert out == "bob\n"
    assert not {n for n in names if n.split(".")[0] in {"typer", "click", "pydantic", "rich"}}


# What a command line runs, and whether the table may load only that command's modules for it.
ONE_COMMAND = [
    ["send", "--help"],
    ["-q", "send", "--help"],
    ["--profile", "work", "-qv", "send", "--help"],
    ["--network=testnet", "receive", "--help"],
    ["contacts", "add", "--help"],
    ["contacts", "--help"],
    ["devnet", "up", "--help"],
    ["keygen", "--help"],
    ["whoami", "--help"],
    ["nodes", "--help"],
    ["path", "--help"],
    ["demo", "--help"],
    ["send", "--bogus"],
    ["contacts", "nosuch"],
]
WHOLE_APP = [
    [],
    ["--help"],
    ["-h", "send"],
    ["--version", "send"],
    ["--bogus", "send", "--help"],
    ["nosuch", "--help"],
    ["--", "send"],
    ["-", "send"],
    ["--profile"],
]


@pytest.mark.parametrize("argv", ONE_COMMAND + WHOLE_APP)
def test_one_command_loads_alone_and_says_the_same(private_dirs: Path, argv: list[str]) -> None:
    _complete.remember(app, start_cache=True)
    modules = _complete.modules_for(argv)
    if argv in WHOLE_APP:
        assert modules is None
        return
    assert modules and all(m.startswith("sessioncli.cli.") for m in modules)

    def run(*flags: str, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, *flags, "-m", "sessioncli", *argv],
            capture_output=True,
            text=True,
            env=cli_env(private_dirs, COLUMNS="80", **env),
            timeout=60,
            check=False,
        )

    res = run("-X", "importtime")  # the table is fresh: this command's modules only
    whole = run(SESSIONCLI_CACHE_DIR=str(private_dirs / "no-cache"))  # no table: every module
    assert not (private_dirs / "no-cache").exists()
    own_lines = [ln for ln in res.stderr.splitlines() if not ln.startswith("import time:")]
    assert (res.returncode, res.stdout, own_lines) == (
        whole.returncode,
        whole.stdout,
        whole.stderr.splitlines(),
    )
    loaded = {line.split("|")[-1].strip() for line in res.stderr.splitlines() if "|" in line}
    skipped = {"sessioncli.cli.demo", "sessioncli.cli.devnet"} - set(modules)  # nobody imports
    assert skipped and not (skipped & loaded)


def test_no_table_is_started_by_a_command_that_caches_nothing(private_dirs: Path) -> None:
    res = subprocess.run(
        [sys.executable, "-m", "sessioncli", "send", "--help"],
        capture_output=True,
        env=cli_env(private_dirs),
        timeout=60,
        check=False,
    )
    assert res.returncode == 0
    assert not (private_dirs / "cache").exists()
    (private_dirs / "cache").mkdir()
    subprocess.run(
        [sys.executable, "-m", "sessioncli", "send", "--help"],
        capture_output=True,
        env=cli_env(private_dirs),
        timeout=60,
        check=True,
    )
    assert (private_dirs / "cache" / "completion-table.json").is_file()
    assert _complete.modules_for(["send", "--help"])
