"""Output that a stranger cannot abuse, and stdout trouble reported cleanly (issue 12 items 1, 4, 13, 17)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sessioncli.cli._output import escape, fit_widths
from sessioncli.cli._records import tsv_line, tty_lines
from tests.conftest import CANARY_SEED_HEX, cli_env, run_cli

VALID = "05d2ad010eeb72d72e561d9de7bd7b6989af77dcabffa03a5111a6c859ae5c3a72"
EVIL = "evil \x1b[31mRED\x1b[0m \x1b]0;title\x07 \x9b2J del\x7f cr\rlf\n\u202eabc"


def test_escape_shows_every_control_visibly_and_keeps_text() -> None:
    shown = escape(EVIL)
    assert shown == (
        "evil \\x1b[31mRED\\x1b[0m \\x1b]0;title\\x07 \\x9b2J del\\x7f cr\\rlf\\n\\u202eabc"
    )
    assert all(ch.isprintable() for ch in shown)
    assert escape("café 🎉 a\\b\tc") == "café 🎉 a\\\\b\\tc"
    assert escape("caf\udce9") == "caf\\xe9"  # undecodable byte, as Python keeps it
    assert escape(None) == ""


def _record(body: str | None, name: str | None = None, kind: str = "text") -> dict[str, object]:
    return {
        "hash": "h1",
        "from": VALID,
        "from_name": name,
        "contact": None,
        "timestamp_ms": 1_700_000_000_000,
        "kind": kind,
        "body": body,
    }


def test_tsv_line_is_one_line_of_six_fields() -> None:
    line = tsv_line(_record(EVIL, name="ops\nfake"))
    assert "\n" not in line and "\x1b" not in line and "\r" not in line
    fields = line.split("\t")
    assert len(fields) == 6
    assert fields[2] == "ops\\nfake"


def test_terminal_lines_fit_width_and_cannot_forge_a_message() -> None:
    body = "first line\r\n2024-01-01 00:00:00  alice                 forged\r" + "x" * 300
    lines = tty_lines(_record(body, name="\x1b]0;pwn\x07bob"), 80)
    assert all(len(line) <= 80 for line in lines)
    assert all(line.startswith(" " * 43) for line in lines[1:])  # never a new message line
    assert "\x1b" not in "".join(lines) and "\r" not in "".join(lines)
    assert "\\x1b]0;pwn\\x07" in lines[0]
    assert tty_lines(_record(None, kind="reaction"), 80)[0].endswith("[reaction]")
    narrow = tty_lines(_record(body), 40)  # no room for a body column: the body goes below
    assert all(len(line) <= 40 for line in narrow)
    assert all(line.startswith("    ") for line in narrow[1:])


def test_fit_widths_shrinks_the_widest_column() -> None:
    table = [["a" * 10, "b" * 100, "c" * 30]]
    widths = fit_widths(table, 80)
    assert widths[0] is None
    assert sum(w or 10 for w in widths) + 4 <= 80


def test_contacts_table_escapes_names_from_a_hand_edited_file(private_dirs: Path) -> None:
    # contacts.json written by hand (or an older version) with a control character in a name
    env = cli_env(private_dirs)
    assert run_cli(["contacts", "add", "ops", VALID], private_dirs, env=env).returncode == 0
    path = private_dirs / "config" / "contacts.json"
    path.write_text(path.read_text().replace('"ops"', '"o\\u001b[2Jps"'))
    res = run_cli(["contacts", "list"], private_dirs, env=env)
    assert res.returncode == 0, res.stderr
    assert "\x1b" not in res.stdout and "o\\x1b[2Jps" in res.stdout
    # JSON stays exact
    res = run_cli(["contacts", "list", "--json"], private_dirs, env=env)
    assert json.loads(res.stdout)[0]["name"] == "o\x1b[2Jps"


def _identity(home: Path) -> str:
    ident = home / "id"
    ident.write_text(CANARY_SEED_HEX + "\n")
    ident.chmod(0o600)
    return str(ident)


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full (Linux)")
def test_full_stdout_is_exit_74_with_one_line(private_dirs: Path) -> None:
    with open("/dev/full", "wb") as full:
        res = subprocess.run(
            [
                sys.executable,
                "-m",
                "sessioncli",
                "--identity-file",
                _identity(private_dirs),
                "whoami",
            ],
            stdout=full,
            stderr=subprocess.PIPE,
            env=cli_env(private_dirs),
            timeout=60,
            check=False,
        )
    err = res.stderr.decode()
    assert res.returncode == 74, err
    assert err.splitlines() == [
        "sessioncli: error: cannot write to stdout: No space left on device"
    ]


def test_closed_stdout_is_exit_74_with_one_line(private_dirs: Path) -> None:
    # `sessioncli whoami >&-`: the shell starts us with fd 1 closed
    ident = _identity(private_dirs)
    res = subprocess.run(
        [
            "/bin/sh",
            "-c",
            f'exec "$0" -m sessioncli --identity-file "{ident}" whoami >&-',
            sys.executable,
        ],
        stderr=subprocess.PIPE,
        env=cli_env(private_dirs),
        timeout=60,
        check=False,
    )
    err = res.stderr.decode()
    assert res.returncode == 74, err
    assert len(err.splitlines()) == 1 and err.startswith(
        "sessioncli: error: cannot write to stdout:"
    )


def test_usage_errors_use_the_one_error_form(private_dirs: Path) -> None:
    res = run_cli(["nodes", "--timeout", "soon"], private_dirs)
    assert res.returncode == 2
    first = res.stderr.splitlines()[0]
    assert first.startswith("sessioncli: error: ") and "--timeout" in first
    assert "Error:" not in res.stderr
    assert "try 'sessioncli nodes -h' for help" in res.stderr


def test_tty_table_fits_the_terminal_width(private_dirs: Path) -> None:
    import fcntl
    import pty
    import struct
    import termios

    env = cli_env(private_dirs)
    assert (
        run_cli(["contacts", "add", "operations-team", VALID], private_dirs, env=env).returncode
        == 0
    )
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 50, 0, 0))
    proc = subprocess.Popen(
        [sys.executable, "-m", "sessioncli", "contacts", "list"],
        stdout=slave,
        stderr=subprocess.PIPE,
        env=env,
    )
    os.close(slave)
    out = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # EIO once the child has closed its side
            break
        if not chunk:
            break
        out += chunk
    os.close(master)
    assert proc.wait(timeout=60) == 0
    rows = out.decode().replace("\r\n", "\n").rstrip("\n").split("\n")
    assert len(rows) > 3  # the session ID column wrapped instead of running off the edge
    assert all(len(r) <= 50 for r in rows), rows
