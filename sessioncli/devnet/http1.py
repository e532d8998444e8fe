"""HTTP/1.1 request heads for the devnet's front ends: request line, headers, keep-alive, limits."""

# Why not http.server: BaseHTTPRequestHandler parses every head through http.client.parse_headers
# and email.feedparser, the largest part of what the devnet's front end cost per request once
# node-to-node traffic left HTTP (yappi during a 100-recipient send: parse_request ~13% of the
# devnet's CPU). What it did is kept: limits (request line 414, a header line or more than 100
# headers 431), versions (HTTP/1.0 closes unless `Connection: keep-alive`, HTTP/1.1 keeps alive
# unless `Connection: close`, 2.0 and up 505), `Expect: 100-continue`, a leading `//` in the path
# folded to `/`, header values as email's compat32 policy gives them (leading blanks stripped,
# folded lines joined), Content-Length and Connection read from their first occurrence, every
# other header by its last. Stricter: anything but `METHOD PATH HTTP/x.y` (HTTP/0.9 included) and
# a header line that is not `name: value` are 400, and error answers are plain text, not HTML.

from __future__ import annotations

from dataclasses import dataclass
from http import HTTPStatus
from typing import BinaryIO

MAX_LINE = 65536
MAX_HEADERS = 100
REASONS = {status.value: status.phrase for status in HTTPStatus}
# Header-name characters as email's header regexp accepts them: printable ASCII but ':' and space.
_NAME_CHARS = frozenset(chr(c) for c in range(0x21, 0x7F)) - {":"}


class BadRequest(Exception):
    """A request head the front end answers with `status` and closes the connection on."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class Head:
    method: str
    path: str
    headers: dict[str, str]  # lower-cased names; a repeated header keeps its last value
    content_length: str  # as the first Content-Length said it ("" if none)
    keep_alive: bool
    expect_continue: bool


def read_head(rfile: BinaryIO) -> Head | None:
    """The next request head on the connection; None at a clean end (EOF or an empty line)."""
    raw = rfile.readline(MAX_LINE + 1)
    if len(raw) > MAX_LINE:
        raise BadRequest(414, "Request-URI Too Long")
    words = raw.decode("iso-8859-1").rstrip("\r\n").split()
    if not words:
        return None
    if len(words) != 3:
        raise BadRequest(400, f"Bad request syntax ({' '.join(words)[:200]!r})")
    method, path, version = words
    http11 = _at_least_http11(version)
    keep_alive = http11
    if path.startswith("//"):  # as http.server does, so it never reads as a network path
        path = "/" + path.lstrip("/")
    headers, first = _read_headers(rfile)
    connection = first.get("connection", "").lower()
    if connection == "close":
        keep_alive = False
    elif connection == "keep-alive":
        keep_alive = True
    return Head(
        method=method,
        path=path,
        headers=headers,
        content_length=first.get("content-length", ""),
        keep_alive=keep_alive,
        expect_continue=http11 and first.get("expect", "").lower() == "100-continue",
    )


def _at_least_http11(version: str) -> bool:
    """True for HTTP/1.1 (and 1.x after it): keep-alive unless the client says close."""
    if not version.startswith("HTTP/"):
        raise BadRequest(400, f"Bad request version ({version[:50]!r})")
    parts = version[5:].split(".")
    if len(parts) != 2 or not all(p.isascii() and p.isdigit() and 0 < len(p) <= 10 for p in parts):
        raise BadRequest(400, f"Bad request version ({version[:50]!r})")
    number = (int(parts[0]), int(parts[1]))
    if number >= (2, 0):
        raise BadRequest(505, f"Invalid HTTP version ({version[5:]})")
    return number >= (1, 1)


def _read_headers(rfile: BinaryIO) -> tuple[dict[str, str], dict[str, str]]:
    """(every header by its last value, the first value of each name), names lower-cased."""
    # (lower-cased name, the value's pieces with their line ends: a folded line adds a piece)
    lines: list[tuple[str, list[str]]] = []
    count = 0
    while True:
        raw = rfile.readline(MAX_LINE + 1)
        if len(raw) > MAX_LINE:
            raise BadRequest(431, "Line too long")
        if raw in (b"\r\n", b"\n", b""):
            break
        count += 1  # every line counts, folded or not, as http.client counted them
        if count > MAX_HEADERS:
            raise BadRequest(431, "Too many headers")
        line = raw.decode("iso-8859-1")
        if line[0] in " \t" and lines:  # a folded line continues the header before it
            lines[-1][1].append(line)
            continue
        name, colon, value = line.partition(":")
        if not colon or not name or not set(name) <= _NAME_CHARS:
            raise BadRequest(400, "Bad header line")
        lines.append((name.lower(), [value.lstrip(" \t")]))
    headers: dict[str, str] = {}
    first: dict[str, str] = {}
    for name, pieces in lines:
        value = "".join(pieces).rstrip("\r\n")
        headers[name] = value
        first.setdefault(name, value)
    return headers, first


def error_answer(status: int, message: str) -> bytes:
    """A whole plain-text error response that closes the connection."""
    body = message.encode("utf-8", "replace")
    return (
        f"HTTP/1.1 {status} {REASONS.get(status, '')}\r\n"
        "Server: devnet-storage-server\r\n"
        "Connection: close\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode("latin-1") + body
