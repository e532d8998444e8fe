"""Bad command-line input, table-driven: each case gets its documented exit code and one clear line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import CANARY_SEED_HEX, cli_env, run_cli

VALID = "05d2ad010eeb72d72e561d9de7bd7b6989af77dcabffa03a5111a6c859ae5c3a72"


def _setup(home: Path) -> dict[str, str]:
    ident = home / "id"
    ident.write_text(CANARY_SEED_HEX + "\n")
    ident.chmod(0o600)
    loose = home / "loose"
    loose.write_text(CANARY_SEED_HEX + "\n")
    loose.chmod(0o644)
    unreadable = home / "unreadable"  # a folder: unreadable as a file even for root
    unreadable.mkdir()
    garbage = home / "garbage"
    garbage.write_text("zz\n")
    garbage.chmod(0o600)
    corrupt = home / "corrupt-network.json"
    corrupt.write_text("{not json")
    wrongshape = home / "wrongshape.json"
    wrongshape.write_text(json.dumps({"name": "x", "seeds": "nope"}))
    return {
        "ID": str(ident),
        "LOOSE": str(loose),
        "UNREADABLE": str(unreadable),
        "GARBAGE": str(garbage),
        "CORRUPT": str(corrupt),
        "WRONGSHAPE": str(wrongshape),
        "MISSING": str(home / "missing.json"),
    }


# (name, args, stdin, expected exit code, words the one error line must contain)
CASES: list[tuple[str, list[str], bytes | None, int, str]] = [
    ("short id", ["send", "05abc", "hi"], None, 2, "66 hex"),
    ("bad prefix", ["send", "07" + VALID[2:], "hi"], None, 2, "start with 05"),
    ("unknown group", ["send", "03" + VALID[2:], "hi"], None, 2, "not a member"),
    ("non hex", ["send", "05" + "z" * 64, "hi"], None, 2, "hexadecimal"),
    ("unknown contact", ["send", "nobody", "hi"], None, 2, "unknown recipient 'nobody'"),
    ("empty message", ["send", VALID, ""], None, 2, "empty message"),
    ("blank stdin", ["send", VALID], b"\n", 2, "empty message"),
    ("binary stdin", ["send", VALID], b"\x00\x01\x02", 2, "binary"),
    ("invalid utf-8", ["send", VALID], b"caf\xe9\n", 2, "UTF-8"),
    ("oversized", ["send", VALID, "x" * 80_000], None, 2, "too large"),
    ("oversized stdin", ["send", VALID], b"y" * 1_100_000, 2, "too large"),
    ("bad ttl", ["send", "--ttl", "soon", VALID, "hi"], None, 2, "invalid TTL"),
    ("ttl too long", ["send", "--ttl", "30d", VALID, "hi"], None, 2, "out of range"),
    ("ttl too short", ["send", "--ttl", "1s", VALID, "hi"], None, 2, "out of range"),
    ("too-open identity", ["--identity-file", "{LOOSE}", "whoami"], None, 78, "chmod 600"),
    ("missing identity", ["--identity-file", "{MISSING}", "whoami"], None, 78, "does not exist"),
    (
        "unreadable identity",
        ["--identity-file", "{UNREADABLE}", "whoami"],
        None,
        78,
        "identity file",
    ),
    ("garbage identity", ["--identity-file", "{GARBAGE}", "whoami"], None, 78, "neither a seed"),
    ("missing network", ["--network", "{MISSING}", "send", VALID, "hi"], None, 78, "network file"),
    ("corrupt network", ["--network", "{CORRUPT}", "send", VALID, "hi"], None, 78, "network file"),
    (
        "wrong-shape network",
        ["--network", "{WRONGSHAPE}", "send", VALID, "hi"],
        None,
        78,
        "network file",
    ),
    ("bad contact id", ["contacts", "add", "x", "05zz"], None, 2, "invalid Session ID"),
    (
        "contact name is an id",
        ["contacts", "add", VALID, VALID],
        None,
        2,
        "looks like a Session ID",
    ),
    ("unknown subcommand", ["frobnicate"], None, 2, "No such command"),
    ("bad profile", ["--profile", "a/b", "whoami"], None, 2, "--profile"),
    ("show unknown contact", ["contacts", "show", "nobody"], None, 2, "unknown contact"),
    # issue 12 item 4: bytes that are not UTF-8 in argv ("caf\xe9"), as on stdin
    ("invalid utf-8 argv", ["send", VALID, "caf\udce9"], None, 2, "not valid UTF-8"),
    # item 1: display names we send carry no control characters
    ("control display name", ["send", "--name", "a\nb", VALID, "hi"], None, 2, "display name"),
    ("escape display name", ["send", "--name", "a\x1b[2J", VALID, "hi"], None, 2, "control"),
    # item 5: contact names that could not work
    ("comma contact", ["contacts", "add", "a,b", VALID], None, 2, "commas"),
    ("control contact", ["contacts", "add", "a\x07b", VALID], None, 2, "control"),
    ("c1 contact", ["contacts", "add", "a\x9bb", VALID], None, 2, "control"),
    ("non-utf-8 contact", ["contacts", "add", "caf\udce9", VALID], None, 2, "UTF-8"),
    ("at contact", ["contacts", "add", "@ops", VALID], None, 2, "'@'"),
    ("dash contact", ["contacts", "add", "--", "-ops", VALID], None, 2, "'-'"),
    # item 13: usage errors in the one error form
    ("missing argument", ["send"], None, 2, "sessioncli: error: Missing argument"),
    # item 18: the error names what --ttl accepts, and what it names is accepted
    ("ttl words", ["send", "--ttl", "1h30x", VALID, "hi"], None, 2, "1h30m"),
]


@pytest.mark.parametrize(
    ("name", "args", "stdin", "code", "needle"), CASES, ids=[c[0] for c in CASES]
)
def test_bad_input(
    private_dirs: Path, name: str, args: list[str], stdin: bytes | None, code: int, needle: str
) -> None:
    paths = _setup(private_dirs)
    argv = [a.format(**paths) if "{" in a else a for a in args]
    if "--identity-file" not in argv:
        argv = ["--identity-file", paths["ID"], *argv]
    env = cli_env(private_dirs)
    res = run_cli(
        argv, private_dirs, input=stdin if stdin is not None else b"", env=env, timeout=60
    )
    assert res.returncode == code, (res.returncode, res.stderr)
    assert needle in res.stderr, res.stderr
    assert "Traceback" not in res.stderr
    assert res.stdout == ""
    assert CANARY_SEED_HEX not in res.stderr
    # one error line (typer's usage errors add a Usage/Try header; our own errors give one line)
    errors = [line for line in res.stderr.splitlines() if "error" in line.lower()]
    assert len(errors) == 1, res.stderr
