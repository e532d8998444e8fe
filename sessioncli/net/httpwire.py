"""HTTP/1.1 framing for net.direct: a request's head, and a response parser fed bytes (no I/O).

Why our own: http.client parses every header block through the email package, which costs a
short command ~6 ms of imports and each answer ~0.3-1 ms of CPU; a send to 100 recipients reads
100+ answers. We need a small part of HTTP: POST with a Content-Length, and answers framed by
Content-Length, chunked, or the server's close. Everything else a server sends is a
FramingError, and every limit below bounds what a hostile server can make us hold.
"""

from __future__ import annotations

from collections.abc import Mapping

# What one answer's status line and headers (and its interim 1xx heads, and a chunked body's
# trailers) may take together. A node's head is ~150 bytes; http.client allowed 100 headers of
# 64 KiB each.
MAX_HEAD_BYTES = 64 * 1024
MAX_HEADERS = 100
MAX_CHUNK_LINE = 4096  # a chunk-size line with extensions
MAX_LENGTH_DIGITS = 18  # Content-Length and chunk sizes: no int() of a 60 KB number

# Character classes as strings for str.strip and bytes.translate, not regular expressions:
# compiling those cost a short command ~0.6 ms at import.
_FIELD_NAME_CHARS = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
_HEX_DIGITS = b"0123456789abcdefABCDEF"
_DECIMAL = tuple("0123456789")
# Control bytes no head may hold (tab, CR and LF are judged where they stand)
_CONTROLS = bytes([*range(0, 9), 11, 12, *range(14, 32), 127])


class FramingError(ValueError):
    """The server's bytes are not a well-formed HTTP/1.x answer (the message says what)."""


class NoAnswer(FramingError):
    """The connection closed before the first byte of an answer."""


def request_head(
    method: str, target: str, host: str, default_port: bool, port: int, headers: Mapping[str, str]
) -> bytes:
    """The request line and headers (Host, Accept-Encoding: identity, `headers`), as http.client
    wrote them. ValueError when a part would break the framing (a space or control character)."""
    host_field = f"[{host}]" if ":" in host else host
    if not default_port:
        host_field += f":{port}"
    lines = [f"{method} {target} HTTP/1.1", f"Host: {host_field}", "Accept-Encoding: identity"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    line_ends = len(lines) + 1
    if (
        _has_controls(head)
        or head.count(b"\n") != line_ends
        or head.count(b"\r") != line_ends
        or " " in target + host
    ):
        raise ValueError("a request line or header would break the HTTP framing")
    return head


def _has_controls(data: bytes) -> bool:
    return len(data.translate(None, _CONTROLS)) != len(data)


class ResponseHead:
    """A final answer's status and headers (names lower-case; repeated ones joined by ", ")."""

    __slots__ = ("headers", "minor_version", "status")

    def __init__(self, minor_version: int, status: int, headers: dict[str, str]) -> None:
        self.minor_version = minor_version  # HTTP/1.x
        self.status = status
        self.headers = headers

    def header(self, name: str, default: str = "") -> str:
        return self.headers.get(name.lower(), default)


def parse_head(data: bytes) -> ResponseHead:
    """A status line and header lines (without the blank line that ends them)."""
    if _has_controls(data):
        raise FramingError("control characters in the answer's head")
    lines = data.decode("latin-1").split("\n")
    status_line = lines[0].removesuffix("\r")
    minor, status = _status(status_line)
    if len(lines) - 1 > MAX_HEADERS:
        raise FramingError(f"more than {MAX_HEADERS} headers")
    headers: dict[str, str] = {}
    last = ""
    for raw in lines[1:]:
        line = raw.removesuffix("\r")
        if line[:1] in (" ", "\t") and last:  # obsolete line folding: one value, as http.client
            folded = line.strip(" \t")
            if "\r" in folded:
                raise FramingError(f"bad header line {line[:60]!r}")
            headers[last] = f"{headers[last]} {folded}" if headers[last] else folded
            continue
        name, colon, value = line.partition(":")
        if not colon or not name or name.strip(_FIELD_NAME_CHARS) or "\r" in value:
            raise FramingError(f"bad header line {line[:60]!r}")
        last = name.lower()
        value = value.strip(" \t")
        headers[last] = f"{headers[last]}, {value}" if last in headers else value
    return ResponseHead(minor, status, headers)


def _status(line: str) -> tuple[int, int]:
    """HTTP/1.x's minor version and the status of a status line ("HTTP/1.1 200 OK")."""
    code = line[9:12]
    if (
        not line.startswith("HTTP/1.")
        or line[7:8] not in _DECIMAL
        or line[8:9] != " "
        or len(code) != 3
        or code.strip("0123456789")
        or code[0] == "0"
        or line[12:13] not in ("", " ")
        or "\r" in line
    ):
        raise FramingError(f"bad status line {line[:60]!r}")
    return int(line[7]), int(code)


def _blank_line(buf: bytearray, start: int) -> tuple[int, int]:
    """Where the first empty line ("\\n\\n" or "\\n\\r\\n") after `start` begins and ends;
    (-1, -1) when there is none yet. The head is what comes before."""
    crlf = buf.find(b"\n\r\n", start)
    lf = buf.find(b"\n\n", start, None if crlf < 0 else crlf + 1)
    if lf >= 0:
        return lf, lf + 2
    if crlf >= 0:
        return crlf, crlf + 3
    return -1, -1


# Parser states
_HEAD, _LENGTH, _CHUNK_SIZE, _CHUNK_DATA, _CHUNK_END, _TRAILERS, _UNTIL_CLOSE, _DONE = range(8)


class ResponseParser:
    """One answer, fed as it arrives: `feed` returns the body's pieces, `head` is set once the
    final head is in (interim 1xx heads are skipped), `done` once the body is complete.
    `keep_alive`: the connection may carry another request (only meaningful when done)."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self._state = _HEAD
        self._scanned = 0  # where to resume looking for the end of the head
        self._head_budget = MAX_HEAD_BYTES
        self._left = 0  # bytes of the Content-Length body, or of the current chunk
        self.received = 0
        self.head: ResponseHead | None = None
        self.length: int | None = None  # the declared Content-Length
        self.keep_alive = False
        self.cut_short = False  # the server closed inside a Content-Length body

    @property
    def done(self) -> bool:
        return self._state == _DONE

    def feed(self, data: bytes) -> list[bytes]:
        """The body bytes `data` completes, in pieces (FramingError on a malformed answer)."""
        self.received += len(data)
        if self._state == _DONE:
            self.keep_alive = self.keep_alive and not data  # bytes nobody asked for
            return []
        self._buf += data
        pieces: list[bytes] = []
        while self._buf and self._step(pieces):
            pass
        if self._state == _DONE and self._buf:
            self.keep_alive = False
        return pieces

    def end(self) -> None:
        """The server closed the connection: the body ends here if its framing allows that."""
        if self._state == _HEAD:
            if self.received == 0:
                raise NoAnswer("connection closed by the server")
            raise FramingError("connection closed inside the answer's head")
        if self._state == _LENGTH:
            self.cut_short = True  # http.client returned what came: the caller's parse decides
        elif self._state in (_CHUNK_SIZE, _CHUNK_DATA, _CHUNK_END):
            raise FramingError("connection closed inside a chunked answer")
        self._state = _DONE
        self.keep_alive = False

    def _step(self, pieces: list[bytes]) -> bool:
        """Consume what the current state can from the buffer; False when it needs more bytes."""
        state = self._state
        if state == _HEAD:
            return self._take_head()
        if state in (_LENGTH, _CHUNK_DATA, _UNTIL_CLOSE):
            return self._take_body(pieces)
        if state == _CHUNK_SIZE:
            return self._take_chunk_size()
        if state == _CHUNK_END:
            return self._take_chunk_end()
        if state == _TRAILERS:
            return self._take_trailer()
        return False

    def _take_head(self) -> bool:
        start, end = _blank_line(self._buf, self._scanned)
        if start < 0 or start >= self._head_budget:
            if len(self._buf) > self._head_budget:
                raise FramingError(f"answer head larger than {MAX_HEAD_BYTES} bytes")
            self._scanned = max(0, len(self._buf) - 2)
            return False
        head = parse_head(bytes(self._buf[:start]))
        self._head_budget -= end
        del self._buf[:end]
        self._scanned = 0
        if 100 <= head.status < 200:
            if head.status == 101:
                raise FramingError("the server switched protocols unasked")
            return True  # an interim answer (100 Continue, 103 Early Hints): the real one follows
        self.head = head
        self._frame(head)
        return True

    def _frame(self, head: ResponseHead) -> None:
        """How the body of `head` ends (RFC 9112 section 6.3), and whether the connection stays."""
        connection = {t.strip().lower() for t in head.header("connection").split(",")}
        if head.minor_version >= 1:
            self.keep_alive = "close" not in connection
        else:  # HTTP/1.0 stays open only when the server says so (as http.client read it)
            self.keep_alive = "keep-alive" in connection or bool(head.header("keep-alive"))
        coding = head.headers.get("transfer-encoding")
        length = head.headers.get("content-length")
        if head.status in (204, 304):
            self._state = _DONE
        elif coding is not None:
            if [c.strip().lower() for c in coding.split(",")] != ["chunked"]:
                raise FramingError(f"unsupported transfer coding {coding[:40]!r}")
            self.keep_alive = self.keep_alive and length is None  # both: a smuggling attempt
            self._state = _CHUNK_SIZE
        elif length is not None:
            values = {v.strip(" \t") for v in length.split(",")}
            value = values.pop()
            if (
                values
                or not (value.isascii() and value.isdigit())
                or len(value) > MAX_LENGTH_DIGITS
            ):
                raise FramingError(f"bad Content-Length {length[:40]!r}")
            self.length = self._left = int(value)
            self._state = _LENGTH if self._left else _DONE
        else:
            self.keep_alive = False
            self._state = _UNTIL_CLOSE

    def _take_body(self, pieces: list[bytes]) -> bool:
        buf = self._buf
        if self._state == _UNTIL_CLOSE:
            pieces.append(bytes(buf))
            buf.clear()
            return False
        n = min(self._left, len(buf))
        pieces.append(bytes(buf[:n]))
        del buf[:n]
        self._left -= n
        if self._left == 0:
            self._state = _DONE if self._state == _LENGTH else _CHUNK_END
        return True

    def _line(self, limit: int) -> bytes | None:
        """The next line from the buffer without its line end, None until it is complete."""
        end = self._buf.find(b"\n", self._scanned, limit + 1)
        if end < 0:
            if len(self._buf) > limit:
                raise FramingError("line too long in a chunked answer")
            self._scanned = len(self._buf)
            return None
        line = bytes(self._buf[:end]).removesuffix(b"\r")
        del self._buf[: end + 1]
        self._scanned = 0
        return line

    def _take_chunk_size(self) -> bool:
        line = self._line(MAX_CHUNK_LINE)
        if line is None:
            return False
        size = line.split(b";", 1)[0].strip(b" \t")
        if not size or size.strip(_HEX_DIGITS) or len(size) > MAX_LENGTH_DIGITS:
            raise FramingError(f"bad chunk size {line[:40]!r}")
        self._left = int(size, 16)
        self._state = _CHUNK_DATA if self._left else _TRAILERS
        return True

    def _take_chunk_end(self) -> bool:
        if self._buf.startswith(b"\r\n"):
            del self._buf[:2]
        elif self._buf.startswith(b"\n"):
            del self._buf[:1]
        elif self._buf == b"\r":
            return False
        else:
            raise FramingError("chunk not followed by a line end")
        self._state = _CHUNK_SIZE
        return True

    def _take_trailer(self) -> bool:
        line = self._line(max(0, self._head_budget))
        if line is None:
            return False
        self._head_budget -= len(line) + 2
        if self._head_budget < 0:
            raise FramingError(f"trailers larger than {MAX_HEAD_BYTES} bytes")
        if not line:
            self._state = _DONE
        return True
