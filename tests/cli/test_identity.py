"""keygen / whoami through the real CLI: files, keyring, restore, errors, cron-like runs."""

from __future__ import annotations

import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sessioncli.cli import app
from tests.conftest import CANARY_SEED_HEX, canary_phrase, cli_env, run_cli

VECTOR_PHRASE = "vexed enjoy pigment films adept voted vexed enjoy pigment films adept voted adept"
VECTOR_ID = "05d2ad010eeb72d72e561d9de7bd7b6989af77dcabffa03a5111a6c859ae5c3a72"
SESSION_ID = re.compile(r"05[0-9a-f]{64}")

runner = CliRunner()


def test_keygen_identity_file_then_whoami(tmp_path: Path) -> None:
    ident = tmp_path / "d" / "id"
    res = runner.invoke(app, ["keygen", "--identity-file", str(ident)])
    assert res.exit_code == 0, res.output
    sid = res.stdout.strip()
    assert SESSION_ID.fullmatch(sid)
    assert stat.S_IMODE(ident.stat().st_mode) == 0o600
    assert stat.S_IMODE(ident.parent.stat().st_mode) == 0o700
    assert "UNENCRYPTED" in res.stderr
    who = runner.invoke(app, ["whoami"], env={"SESSIONCLI_IDENTITY_FILE": str(ident)})
    assert who.exit_code == 0
    assert who.stdout.strip() == sid
    assert who.stderr == ""


def test_keygen_json_shape(tmp_path: Path) -> None:
    import json

    res = runner.invoke(app, ["keygen", "--identity-file", str(tmp_path / "id"), "--json"])
    assert res.exit_code == 0
    data = json.loads(res.stdout)
    assert set(data) == {"session_id", "profile", "stored_in"}
    assert data["stored_in"] == "file" and data["profile"] == "default"


def test_restore_known_vector(tmp_path: Path) -> None:
    f = tmp_path / "f"
    res = runner.invoke(
        app, ["keygen", "--restore", "--identity-file", str(f)], input=VECTOR_PHRASE + "\n"
    )
    assert res.exit_code == 0, res.output
    assert res.stdout.strip() == VECTOR_ID


@pytest.mark.parametrize(
    ("phrase", "needle"),
    [
        (VECTOR_PHRASE.rsplit(" ", 1)[0] + " vexed", "checksum"),
        (VECTOR_PHRASE.rsplit(" ", 1)[0], "13th"),
        ("vexed enjoy", "too few"),
        (VECTOR_PHRASE.replace("pigment", "zzzzzz", 1), "unknown word 'zzzzzz'"),
        (VECTOR_PHRASE + " adept adept", "wrong number of words"),
    ],
)
def test_restore_rejects_bad_phrases(tmp_path: Path, phrase: str, needle: str) -> None:
    f = tmp_path / "f"
    res = runner.invoke(
        app, ["keygen", "--restore", "--identity-file", str(f)], input=phrase + "\n"
    )
    assert res.exit_code == 2
    assert needle in res.stderr
    assert res.stderr.count("\n") == 1
    assert res.stdout == ""
    assert not f.exists()


def test_keygen_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    f = tmp_path / "f"
    first = runner.invoke(app, ["keygen", "--identity-file", str(f)])
    second = runner.invoke(app, ["keygen", "--identity-file", str(f)])
    assert second.exit_code == 2 and "already exists" in second.stderr
    third = runner.invoke(app, ["keygen", "--identity-file", str(f), "--force"])
    assert third.exit_code == 0
    assert third.stdout != first.stdout


def test_too_open_identity_file(tmp_path: Path) -> None:
    f = tmp_path / "f"
    f.write_text(CANARY_SEED_HEX + "\n")
    f.chmod(0o644)
    res = runner.invoke(app, ["whoami", "--identity-file", str(f)])
    assert res.exit_code == 78
    assert "chmod 600" in res.stderr
    assert CANARY_SEED_HEX not in res.output


def test_identity_from_env_seed_and_phrase(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SESSIONCLI_IDENTITY", VECTOR_PHRASE)
    assert runner.invoke(app, ["whoami"]).stdout.strip() == VECTOR_ID
    monkeypatch.setenv("SESSIONCLI_IDENTITY", "0123456789abcdef0123456789abcdef")
    assert runner.invoke(app, ["whoami"]).stdout.strip() == VECTOR_ID


def test_bad_env_secret_is_not_echoed(monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "not a valid phrase but secret-ish words here"
    monkeypatch.setenv("SESSIONCLI_IDENTITY", secret)
    res = runner.invoke(app, ["whoami"])
    assert res.exit_code == 78
    assert secret not in res.output
    assert "secret-ish" not in res.output


def test_keyring_round_trip_and_show_phrase(memory_keyring: object) -> None:
    res = runner.invoke(app, ["--profile", "work", "keygen"])
    assert res.exit_code == 0, res.output
    sid = res.stdout.strip()
    assert runner.invoke(app, ["--profile", "work", "whoami"]).stdout.strip() == sid
    again = runner.invoke(app, ["--profile", "work", "keygen"])
    assert again.exit_code == 2 and "already has an identity" in again.stderr
    phrase = runner.invoke(app, ["--profile", "work", "keygen", "--show-phrase"])
    assert phrase.exit_code == 0
    assert len(phrase.stdout.split()) == 13
    assert "impersonate" in phrase.stderr
    # the default profile is separate
    assert runner.invoke(app, ["whoami"]).exit_code == 78


def test_no_identity_anywhere_exits_78() -> None:
    res = runner.invoke(app, ["whoami"])
    assert res.exit_code == 78
    assert res.stderr.startswith("sessioncli: error: no identity")
    assert "Traceback" not in res.output


def test_headless_keygen_without_keyring_writes_nothing(private_dirs: Path) -> None:
    """A real subprocess on this D-Bus-less machine: keyring's fail backend -> exit 78."""
    before = {p for p in private_dirs.rglob("*")}
    res = run_cli(["keygen"], private_dirs)
    assert res.returncode == 78, res.stderr
    assert "no usable OS keyring" in res.stderr
    assert "--identity-file" in res.stderr
    assert "Traceback" not in res.stderr
    assert res.stdout == ""
    assert {p for p in private_dirs.rglob("*")} == before


@pytest.mark.parametrize(
    "backend", ["keyring.backends.null.Keyring", "keyring.backends.fail.Keyring"]
)
def test_refuses_null_and_fail_backends(private_dirs: Path, backend: str) -> None:
    res = run_cli(
        ["keygen"], private_dirs, env=cli_env(private_dirs, PYTHON_KEYRING_BACKEND=backend)
    )
    assert res.returncode == 78
    assert "no usable OS keyring" in res.stderr


def test_subprocess_keyring_backend(private_dirs: Path) -> None:
    env = cli_env(
        private_dirs,
        PYTHON_KEYRING_BACKEND="tests.memkeyring.FileKeyring",
        SESSIONCLI_TEST_KEYRING_FILE=str(private_dirs / "kr.json"),
    )
    made = run_cli(["keygen", "--json"], private_dirs, env=env)
    assert made.returncode == 0, made.stderr
    assert '"stored_in":"keyring"' in made.stdout
    who = run_cli(["whoami"], private_dirs, env=env)
    assert who.stdout.strip() in made.stdout


def test_cron_like_environment(private_dirs: Path) -> None:
    ident = private_dirs / "id"
    ident.write_text(CANARY_SEED_HEX + "\n")
    ident.chmod(0o600)
    env = {
        "PATH": "/usr/bin:/bin:" + str(Path(sys.executable).parent),
        "HOME": str(private_dirs),
        "PYTHONPATH": cli_env(private_dirs)["PYTHONPATH"],
    }
    res = subprocess.run(
        [
            "env",
            "-i",
            *[f"{k}={v}" for k, v in env.items()],
            sys.executable,
            "-m",
            "sessioncli",
            "--identity-file",
            str(ident),
            "whoami",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    assert res.returncode == 0, res.stderr
    assert SESSION_ID.fullmatch(res.stdout.strip())
    for secret in (CANARY_SEED_HEX, canary_phrase()):
        assert secret not in res.stdout + res.stderr


_TAB = {"_SESSIONCLI_COMPLETE": "complete_bash", "COMP_CWORD": "1"}


@pytest.mark.parametrize(
    ("args", "extra_env"),
    [
        (["--version"], {}),
        (["--help"], {}),
        (["send", "--help"], {}),
        ([], {**_TAB, "COMP_WORDS": "sessioncli se"}),  # a Tab, first (typer) and then (table)
        ([], {**_TAB, "COMP_WORDS": "sessioncli -"}),  # option names: always typer
    ],
)
def test_startup_imports_stay_light(
    private_dirs: Path, args: list[str], extra_env: dict[str, str]
) -> None:
    for _ in range(2 if extra_env else 1):
        res = subprocess.run(
            [sys.executable, "-X", "importtime", "-m", "sessioncli", *args],
            capture_output=True,
            text=True,
            env=cli_env(private_dirs, **extra_env),
            timeout=60,
            check=False,
        )
        assert res.returncode in (0, 2), res.stderr[-500:]
        imported = {
            line.split("|")[-1].strip().split(".")[0]
            for line in res.stderr.splitlines()
            if "|" in line
        }
        # pydantic: typer 0.29 imports it to check values unless cli/_typer_plain.py steps in;
        # rich: typer renders help with it unless rich_markup_mode=None.
        heavy = ("requests", "keyring", "nacl", "google", "cryptography", "urllib3", "pydantic")
        for name in (*heavy, "rich"):
            assert name not in imported, f"{name} imported by sessioncli {' '.join(args)}"


def test_stored_phrase_errors_name_positions_not_words(monkeypatch: pytest.MonkeyPatch) -> None:
    """A broken phrase from a file or the environment never echoes its words."""
    words = VECTOR_PHRASE.split()
    for broken in (
        " ".join([*words[:-1], "vexed"]),  # checksum mismatch
        " ".join([*words[:3], "zzzzzz", *words[4:]]),  # unknown word
    ):
        monkeypatch.setenv("SESSIONCLI_IDENTITY", broken)
        res = runner.invoke(app, ["whoami"])
        assert res.exit_code == 78
        for w in set(broken.split()):
            assert f"'{w}'" not in res.stderr
        assert "word" in res.stderr


# issue 12 item 11: identity_file in config.toml, the default identity file after the keyring


def _seed_file(path: Path, seed_hex: str, mode: int = 0o600) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(seed_hex + "\n")
    path.chmod(mode)


def test_default_identity_file_is_read_when_no_keyring_holds_one(private_dirs: Path) -> None:
    default = private_dirs / "config" / "identity"  # SESSIONCLI_CONFIG_DIR/identity
    _seed_file(default, VECTOR_PHRASE)
    res = run_cli(["whoami", "--json"], private_dirs)  # no D-Bus here: the keyring is unusable
    assert res.returncode == 0, res.stderr
    assert VECTOR_ID in res.stdout and '"stored_in":"file"' in res.stdout
    default.chmod(0o644)  # the 0600 rule holds for the default file too
    res = run_cli(["whoami"], private_dirs)
    assert res.returncode == 78 and "chmod 600" in res.stderr
    # another profile never reads the default profile's file
    default.chmod(0o600)
    assert run_cli(["--profile", "work", "whoami"], private_dirs).returncode == 78


def test_keyring_identity_wins_over_the_default_file(private_dirs: Path) -> None:
    env = cli_env(
        private_dirs,
        PYTHON_KEYRING_BACKEND="tests.memkeyring.FileKeyring",
        SESSIONCLI_TEST_KEYRING_FILE=str(private_dirs / "kr.json"),
    )
    # a keyring that works but holds nothing: the file is used
    _seed_file(private_dirs / "config" / "identity", VECTOR_PHRASE)
    assert run_cli(["whoami"], private_dirs, env=env).stdout.strip() == VECTOR_ID
    made = run_cli(["keygen"], private_dirs, env=env)
    assert made.returncode == 0, made.stderr
    who = run_cli(["whoami"], private_dirs, env=env)
    assert who.stdout.strip() == made.stdout.strip() != VECTOR_ID  # never changes silently


def test_identity_file_in_config_toml(private_dirs: Path) -> None:
    ident = private_dirs / "srv-identity"
    _seed_file(ident, VECTOR_PHRASE)
    config = private_dirs / "config" / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(f'identity_file = "{ident}"\n')
    assert run_cli(["whoami"], private_dirs).stdout.strip() == VECTOR_ID
    # the flag and the environment still win
    other = private_dirs / "other"
    _seed_file(other, CANARY_SEED_HEX)
    by_flag = run_cli(["--identity-file", str(other), "whoami"], private_dirs)
    assert by_flag.stdout.strip() != VECTOR_ID and by_flag.returncode == 0
    # keygen with the setting writes there (and refuses to overwrite)
    again = run_cli(["keygen"], private_dirs)
    assert again.returncode == 2 and "already exists" in again.stderr, again.stderr


def test_show_phrase_never_goes_into_json(private_dirs: Path) -> None:
    ident = private_dirs / "id"
    _seed_file(ident, CANARY_SEED_HEX)
    res = run_cli(
        ["--identity-file", str(ident), "keygen", "--show-phrase", "--json"], private_dirs
    )
    assert res.returncode == 2
    assert res.stdout == "" and canary_phrase() not in res.stderr
    assert "--json" in res.stderr
