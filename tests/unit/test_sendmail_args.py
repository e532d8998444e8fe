"""sendmail argv as cron, cronie, systemd-cron, Nagios and mail(1) pass it; message parsing."""

from __future__ import annotations

import pytest

from sessioncli.integrations.sendmail import (
    SendmailError,
    map_address,
    message_text,
    parse_args,
    truncate,
)


@pytest.mark.parametrize(
    ("argv", "recipients", "headers", "ignored"),
    [
        (["-FCronDaemon", "-i", "-B8BITMIME", "-oem", "root"], ["root"], False, []),  # Debian cron
        (["-FCronDaemon", "-i", "-odi", "-oem", "-oi", "-t"], [], True, []),  # cronie
        (["-i", "-B8BITMIME", "-t", "-f", "root"], [], True, []),  # systemd-cron
        (["-ti", "-fnagios@host"], [], True, []),  # glued and grouped
        (["-oi", "-t", "--", "ops"], ["ops"], True, []),
        (["-v", "-Ocheck", "ops"], ["ops"], False, ["-O", "-v"]),
        (["-oXfoo", "ops"], ["ops"], False, ["-oXfoo"]),
    ],
)
def test_argv_forms(argv, recipients, headers, ignored) -> None:
    args = parse_args(argv)
    assert args.recipients == recipients
    assert args.from_headers is headers
    assert sorted(args.ignored) == ignored


@pytest.mark.parametrize("argv", [["-bs"], ["-f"], ["--max-chars", "5"]])
def test_unusable_argv(argv) -> None:
    with pytest.raises(SendmailError):
        parse_args(argv)


def test_headers_are_dropped_and_subject_leads() -> None:
    raw = (
        b"From: root (Cron Daemon)\r\nTo: root, ops@example.org\r\nCc: Team <team>\r\n"
        b"Subject: Cron <root@host> backup\r\nX-Cron-Env: <AWS_SECRET=hunter2>\r\n"
        b"Content-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
        b"backup failed: disk =E2=9C=97\r\n"
    )
    text, addresses = message_text(raw)
    assert text == "Cron <root@host> backup\nbackup failed: disk ✗"
    assert "hunter2" not in text and "X-Cron" not in text
    assert addresses == ["root", "ops@example.org", "team"]


def test_multipart_takes_the_text_part() -> None:
    raw = (
        b'Subject: s\nMIME-Version: 1.0\nContent-Type: multipart/alternative; boundary="b"\n\n'
        b"--b\nContent-Type: text/html\n\n<p>html</p>\n--b\nContent-Type: text/plain\n\nplain text\n--b--\n"
    )
    assert message_text(raw)[0] == "s\nplain text"


def test_truncation_keeps_head_and_tail() -> None:
    text = "HEAD" + "x" * 10_000 + "TAIL"
    out = truncate(text, 2000)
    assert len(out) <= 2000 and out.startswith("HEAD") and out.endswith("TAIL")
    assert "characters cut" in out
    assert truncate("short", 2000) == "short"


def test_aliases_full_address_then_local_part() -> None:
    aliases = {"root@db1": "dba", "root": "ops", "*": "fallback"}
    assert map_address("root@db1", aliases) == "dba"
    assert map_address("<ROOT@web>", aliases) == "ops"
    assert map_address("nobody", aliases) is None
