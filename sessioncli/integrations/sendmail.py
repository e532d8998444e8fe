"""`sessioncli-sendmail`: what cron, Nagios and `mail` call as /usr/sbin/sendmail, sending via Session.

It reads one RFC 5322 message from stdin to EOF, maps each recipient address to a Session
recipient (config.toml `[sendmail.aliases]`, with `*` as the catch-all; else the address's local
part as a contact name or Session ID), and sends `Subject` as the first line with the text part
below. Every header is dropped: cron's `X-Cron-Env` carries the job's whole environment. Long
output keeps its head and tail around a marker. Exit 0 only when every recipient's message was
acknowledged (75/69/3 otherwise; 78 for an address that maps to nothing), so cron logs failures.
No typer on this path: it starts in the time of a bare `import sessioncli.api`.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass, field

# Options that take a value (glued `-fADDR` or separate `-f ADDR`); `-o` and `-b` glue theirs.
_WITH_VALUE = frozenset("fFBrNRVXChLOqd")
_HARMLESS = frozenset("FfBdN")  # what cron and friends pass with a value: no warning for these
_HARMLESS_O = frozenset({"i", "em", "ee", "ep", "eq", "ew", "di", "db", "dq", "dd"})
_MAX_STDIN = 10_000_000


@dataclass
class Args:
    recipients: list[str] = field(default_factory=list)
    from_headers: bool = False  # -t: recipients also from To/Cc/Bcc
    max_chars: int | None = None
    ignored: list[str] = field(default_factory=list)


class SendmailError(Exception):
    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code


def parse_args(argv: Sequence[str]) -> Args:
    args = Args()
    i = 0
    while i < len(argv):
        a = argv[i]
        i += 1
        if a == "--":
            args.recipients.extend(argv[i:])
            break
        if a.startswith("--max-chars"):
            value = a.split("=", 1)[1] if "=" in a else (argv[i] if i < len(argv) else "")
            i += 0 if "=" in a else 1
            if not value.isdigit() or not 100 <= int(value) <= 60_000:
                raise SendmailError("--max-chars takes a number from 100 to 60000", 2)
            args.max_chars = int(value)
            continue
        if not a.startswith("-") or a == "-":
            args.recipients.append(a)
            continue
        i = _parse_group(a, argv, i, args)
    return args


def _parse_group(a: str, argv: Sequence[str], i: int, args: Args) -> int:
    """One `-xyz` group: flags glued together; a letter that takes a value ends the group."""
    for j, letter in enumerate(a[1:], start=1):
        rest = a[j + 1 :]
        if letter == "b":  # -bm is "read a message from stdin": the only mode we have
            if rest not in ("m", ""):
                raise SendmailError(f"mode -b{rest} is not supported (only -bm)", 2)
            return i
        if letter == "o":  # -oi, -oem, -odi: delivery options that change nothing for us
            if rest not in _HARMLESS_O:
                args.ignored.append("-o" + rest)
            return i
        if letter in _WITH_VALUE:
            if not rest:
                if i >= len(argv):
                    raise SendmailError(f"option -{letter} needs a value", 2)
                i += 1
            if letter not in _HARMLESS:
                args.ignored.append("-" + letter)
            return i
        if letter == "t":
            args.from_headers = True
        elif letter != "i":  # -i: a lone '.' does not end the message; we read to EOF anyway
            args.ignored.append("-" + letter)
    return i


def message_text(raw: bytes) -> tuple[str, list[str]]:
    """(Subject line + text part, header recipients) of an RFC 5322 message; headers dropped."""
    from email import policy
    from email.parser import BytesParser
    from email.utils import getaddresses

    msg = BytesParser(policy=policy.default).parsebytes(raw)
    subject = str(msg.get("Subject", "") or "").strip()
    part = msg.get_body(preferencelist=("plain",)) if msg.is_multipart() else msg
    body = ""
    if part is not None:
        try:
            content = part.get_content()
        except (LookupError, ValueError, KeyError):
            payload = part.get_payload(decode=True)
            content = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
        body = content if isinstance(content, str) else ""
    body = body.replace("\r\n", "\n").strip("\n")
    text = f"{subject}\n{body}" if subject and body else (subject or body)
    addresses = [
        addr
        for _name, addr in getaddresses(
            [str(v) for k in ("To", "Cc", "Bcc") for v in msg.get_all(k, [])]
        )
        if addr
    ]
    return text, addresses


def truncate(text: str, max_chars: int) -> str:
    """Keep the head and the tail (where errors usually are) around a marker."""
    if len(text) <= max_chars:
        return text
    head = max_chars * 3 // 5
    tail = max_chars - head - 40
    cut = len(text) - head - tail
    return f"{text[:head]}\n[… {cut} characters cut …]\n{text[-tail:]}"


def map_address(address: str, aliases: dict[str, str]) -> str | None:
    """The recipient words for an address: alias (full, then local part), else the local part."""
    address = address.strip().strip("<>")
    local = address.split("@", 1)[0]
    for key in (address.casefold(), local.casefold()):
        if key in aliases:
            return aliases[key]
    return None


def resolve_recipients(addresses: list[str], aliases: dict[str, str]) -> list[str]:
    from sessioncli.api import is_recipient

    words: list[str] = []
    for address in addresses:
        mapped = map_address(address, aliases)
        if mapped is None:
            local = address.strip().strip("<>").split("@", 1)[0]
            mapped = local if is_recipient(local) else aliases.get("*")
        if mapped is None:
            raise SendmailError(
                f"address {address!r} maps to no Session recipient "
                "(add it to [sendmail.aliases] in config.toml, or a '*' catch-all)",
                78,
            )
        words.extend(w.strip() for w in mapped.split(",") if w.strip())
    if not words:
        raise SendmailError("no recipients (give addresses, or -t with To: headers)", 2)
    return words


def _send(words: list[str], text: str) -> int:
    import os

    if os.environ.get("SESSIONCLI_SOCKET"):
        from sessioncli.integrations import daemon_client

        try:
            result = daemon_client.call("send", {"recipient": words, "message": text})
        except daemon_client.DaemonError as exc:
            raise SendmailError(exc.message, exc.exit_code) from None
        for r in result["results"]:
            if not r.get("ok"):
                _warn(f"{r.get('recipient_name') or r.get('recipient')}: {r.get('error')}")
        return int(result["exit_code"])
    from sessioncli.api import Client, exit_code

    with Client() as client:
        results = client.send(words, text)
    for r in results:
        if not r.ok:
            _warn(f"{r.data.get('recipient_name') or r.recipient}: {r.error}")
    return exit_code(results)


def _warn(line: str) -> None:
    sys.stderr.write(f"sessioncli-sendmail: {line}\n")


def run(argv: Sequence[str]) -> int:
    from sessioncli.api import Error, sendmail_settings

    try:
        args = parse_args(argv)
        if args.ignored:
            _warn(f"warning: ignoring options {' '.join(sorted(set(args.ignored)))}")
        raw = sys.stdin.buffer.read(_MAX_STDIN + 1)
        if len(raw) > _MAX_STDIN:
            raise SendmailError("message larger than 10 MB", 2)
        text, header_addresses = message_text(raw)
        aliases, max_chars = sendmail_settings()
        addresses = args.recipients + (header_addresses if args.from_headers else [])
        words = resolve_recipients(addresses, aliases)
        limit = args.max_chars or max_chars or 2000
        body = truncate(text, limit) if text.strip() else "(empty message)"
        return _send(words, body)
    except SendmailError as exc:
        _warn(exc.message)
        return exc.exit_code
    except Error as exc:
        _warn(exc.message)
        return int(exc.exit_code)
    except KeyboardInterrupt:
        return 130


def main() -> None:
    raise SystemExit(run(sys.argv[1:]))


if __name__ == "__main__":
    main()
