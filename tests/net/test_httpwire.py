"""HTTP/1.1 framing (net.httpwire): answers in every framing, split anywhere; hostile answers fail."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sessioncli.net import httpwire
from sessioncli.net.httpwire import FramingError, NoAnswer, ResponseParser, request_head


def parse(data: bytes, *, split: int = 0, close: bool = False) -> tuple[ResponseParser, bytes]:
    """Feed `data` whole (split=0) or in `split`-byte pieces, then the close if asked."""
    parser = ResponseParser()
    body = b""
    step = split or max(1, len(data))
    for i in range(0, len(data), step):
        body += b"".join(parser.feed(data[i : i + step]))
    if close:
        parser.end()
    return parser, body


OK_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"

# (answer, closed after it, status, body, keep_alive)
GOOD = [
    (OK_HEAD + b"Content-Length: 5\r\n\r\nhello", False, 200, b"hello", True),
    (b"HTTP/1.1 200 OK\nContent-Length: 2\n\nhi", False, 200, b"hi", True),  # bare LF
    (b"HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n", False, 200, b"", True),  # no reason
    (b"HTTP/1.1 404 Not Found\r\nContent-Length: 3\r\n\r\nnop", False, 404, b"nop", True),
    (OK_HEAD + b"Content-Length: 5, 5\r\n\r\nhello", False, 200, b"hello", True),
    (OK_HEAD + b"Connection: close\r\nContent-Length: 2\r\n\r\nhi", False, 200, b"hi", False),
    (
        OK_HEAD + b"connection: Keep-Alive, CLOSE\r\nContent-Length: 0\r\n\r\n",
        False,
        200,
        b"",
        False,
    ),
    (b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nhi", False, 200, b"hi", False),
    (
        b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\nx",
        False,
        200,
        b"x",
        True,
    ),
    (
        b"HTTP/1.0 200 OK\r\nKeep-Alive: timeout=5\r\nContent-Length: 1\r\n\r\nx",
        False,
        200,
        b"x",
        True,
    ),
    (b"HTTP/1.0 200 OK\r\n\r\nuntil the close", True, 200, b"until the close", False),
    (OK_HEAD + b"\r\nuntil the close", True, 200, b"until the close", False),
    (
        OK_HEAD + b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n1;ext=1\r\n!\r\n0\r\n\r\n",
        False,
        200,
        b"hello!",
        True,
    ),
    (
        OK_HEAD + b"Transfer-Encoding: Chunked\r\n\r\nA \r\n0123456789\r\n0\r\nX-T: 1\r\n\r\n",
        False,
        200,
        b"0123456789",
        True,
    ),
    (OK_HEAD + b"Transfer-Encoding: chunked\r\n\r\n0\r\n", True, 200, b"", False),  # no last CRLF
    (
        OK_HEAD + b"Transfer-Encoding: chunked\r\nContent-Length: 99\r\n\r\n2\r\nhi\r\n0\r\n\r\n",
        False,
        200,
        b"hi",
        False,  # both framings: answered, but the connection is not trusted further
    ),
    (
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: x\r\n\r\n"
        + OK_HEAD
        + b"Content-Length: 2\r\n\r\nok",
        False,
        200,
        b"ok",
        True,
    ),
    (b"HTTP/1.1 204 No Content\r\n\r\n", False, 204, b"", True),
    (b"HTTP/1.1 304 Not Modified\r\nContent-Length: 7\r\n\r\n", False, 304, b"", True),
    (OK_HEAD + b"Content-Length: 2\r\n\r\nhiEXTRA", False, 200, b"hi", False),  # junk after it
]


@pytest.mark.parametrize(("answer", "close", "status", "body", "keep_alive"), GOOD)
@pytest.mark.parametrize("split", [0, 1, 2, 3, 7])
def test_good_answers_in_any_pieces(
    answer: bytes, close: bool, status: int, body: bytes, keep_alive: bool, split: int
) -> None:
    parser, got = parse(answer, split=split, close=close)
    assert parser.done and parser.head is not None
    assert (parser.head.status, got, parser.keep_alive) == (status, body, keep_alive)


def test_headers_are_case_insensitive_and_repeats_join() -> None:
    parser, _ = parse(
        b"HTTP/1.1 200 OK\r\ncontent-TYPE: application/json\r\nX-A: 1\r\nx-a:  2 \r\n"
        b"X-Fold: one\r\n  two\r\nContent-Length: 0\r\n\r\n"
    )
    assert parser.head is not None
    assert parser.head.header("Content-Type") == "application/json"
    assert parser.head.header("X-A") == "1, 2"
    assert parser.head.header("x-fold") == "one two"
    assert parser.head.header("missing", "none") == "none"


def test_a_body_cut_short_by_the_close_ends_there_as_http_client_did() -> None:
    parser, got = parse(OK_HEAD + b"Content-Length: 10\r\n\r\nabc", close=True)
    assert (got, parser.done, parser.cut_short, parser.keep_alive) == (b"abc", True, True, False)


def test_a_close_before_any_byte_is_no_answer() -> None:
    with pytest.raises(NoAnswer):
        ResponseParser().end()
    parser = ResponseParser()
    parser.feed(b"HTTP/1.1 2")
    with pytest.raises(FramingError) as info:
        parser.end()
    assert not isinstance(info.value, NoAnswer)


BAD = [
    b"\r\n\r\n",
    b"HTTP/2 200 OK\r\n\r\n",
    b"HTTP/1.1 20 OK\r\n\r\n",
    b"HTTP/1.1 2000 OK\r\n\r\n",
    b"HTTP/1.1 099 OK\r\n\r\n",
    b"HTTP/1.1  200 OK\r\n\r\n",
    b"HTTP/1.1 +20 OK\r\n\r\n",
    b"HTTP/1.1 200OK\r\n\r\n",
    b"ICY 200 OK\r\n\r\n",
    b"http/1.1 200 OK\r\n\r\n",
    b"HTTP/1.1 200 O\rK\r\n\r\n",
    b"HTTP/1.1 200 OK\x00\r\n\r\n",
    b"HTTP/1.1 101 Switching Protocols\r\n\r\n",
    OK_HEAD + b"no colon here\r\n\r\n",
    OK_HEAD + b"Bad Name: x\r\n\r\n",
    OK_HEAD + b": no name\r\n\r\n",
    OK_HEAD + b"X: a\rb\r\n\r\n",
    OK_HEAD + b"X: a\x01b\r\n\r\n",
    b"HTTP/1.1 200 OK\r\n folded first\r\n\r\n",
    OK_HEAD + b"Content-Length: -1\r\n\r\n",
    OK_HEAD + b"Content-Length: abc\r\n\r\n",
    OK_HEAD + b"Content-Length: 1e3\r\n\r\n",
    OK_HEAD + b"Content-Length: 0x10\r\n\r\n",
    OK_HEAD + b"Content-Length: +5\r\n\r\n",
    OK_HEAD + b"Content-Length: 5, 6\r\n\r\n",
    OK_HEAD + b"Content-Length: 5\r\nContent-Length: 6\r\n\r\n",
    OK_HEAD + b"Content-Length:\r\n\r\n",
    OK_HEAD + "Content-Length: \uff15\r\n\r\n".encode(),  # fullwidth five
    OK_HEAD + b"Content-Length: \xb2\r\n\r\n",  # superscript two: str.isdigit says yes
    OK_HEAD + b"Content-Length: " + b"9" * 19 + b"\r\n\r\n",
    OK_HEAD + b"Transfer-Encoding: gzip, chunked\r\n\r\n",
    OK_HEAD + b"Transfer-Encoding: \r\n\r\n",
    OK_HEAD + b"Transfer-Encoding: chunked\r\n\r\n-5\r\n",
    OK_HEAD + b"Transfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n",
    OK_HEAD + b"Transfer-Encoding: chunked\r\n\r\nzz\r\n",
    OK_HEAD + b"Transfer-Encoding: chunked\r\n\r\n\r\n",
    OK_HEAD + b"Transfer-Encoding: chunked\r\n\r\n" + b"f" * 19 + b"\r\n",
    OK_HEAD + b"Transfer-Encoding: chunked\r\n\r\n2\r\nhiXX0\r\n\r\n",
]


@pytest.mark.parametrize("answer", BAD)
def test_malformed_answers_are_framing_errors(answer: bytes) -> None:
    with pytest.raises(FramingError):
        parse(answer)


@pytest.mark.parametrize(
    "answer",
    [
        OK_HEAD + b"Transfer-Encoding: chunked\r\n\r\n5\r\nhel",
        OK_HEAD + b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello",
        OK_HEAD + b"Transfer-Encoding: chunked\r\n\r\n5",
        OK_HEAD + b"Content-Length: 5",
    ],
)
def test_a_close_inside_a_chunked_answer_or_a_head_is_an_error(answer: bytes) -> None:
    with pytest.raises(FramingError):
        parse(answer, close=True)


def _never_holds_more_than_the_limits(stream: bytes, piece: int = 4096) -> FramingError:
    """Feed `stream` until the parser refuses it; its buffer stays within the limits meanwhile."""
    parser = ResponseParser()
    for i in range(0, len(stream), piece):
        try:
            parser.feed(stream[i : i + piece])
        except FramingError as exc:
            return exc
        assert len(parser._buf) <= httpwire.MAX_HEAD_BYTES + piece
    raise AssertionError("the parser took it all")


def test_endless_headers_huge_lines_and_long_chunk_lines_are_refused_in_bounded_memory() -> None:
    _never_holds_more_than_the_limits(OK_HEAD + b"X-Endless: yes\r\n" * 100_000)
    _never_holds_more_than_the_limits(OK_HEAD + b"X-Huge: " + b"a" * 10_000_000)
    _never_holds_more_than_the_limits(b"HTTP/1.1 200 " + b"b" * 10_000_000)
    _never_holds_more_than_the_limits(b"HTTP/1.1 100 Continue\r\n\r\n" * 100_000)
    chunked = OK_HEAD + b"Transfer-Encoding: chunked\r\n\r\n"
    _never_holds_more_than_the_limits(chunked + b"1;" + b"e" * 10_000_000)
    _never_holds_more_than_the_limits(chunked + b"0\r\n" + b"X-Trailer: x\r\n" * 100_000)
    assert "headers" in str(
        _never_holds_more_than_the_limits(OK_HEAD + b"X: y\r\n" * 200 + b"\r\n")
    )


def test_a_head_trickling_in_byte_by_byte_is_not_rescanned_each_time() -> None:
    """64 KiB of head one byte at a time: linear work, not 64K scans of the whole buffer."""
    parser = ResponseParser()
    stream = OK_HEAD + b"X: " + b"a" * (httpwire.MAX_HEAD_BYTES - 100)
    for i in range(len(stream)):
        parser.feed(stream[i : i + 1])
    assert parser._scanned >= len(stream) - 3 and parser.head is None


def test_the_request_head_is_what_http_client_wrote() -> None:
    head = request_head(
        "POST", "/onion_req/v2", "127.0.0.1", False, 8443, {"Content-Length": "3", "X": "y"}
    )
    assert head == (
        b"POST /onion_req/v2 HTTP/1.1\r\nHost: 127.0.0.1:8443\r\nAccept-Encoding: identity\r\n"
        b"Content-Length: 3\r\nX: y\r\n\r\n"
    )
    assert b"Host: [::1]\r\n" in request_head("POST", "/", "::1", True, 443, {})
    for target, header in [
        ("/a b", "x"),
        ("/a\r\nX: 1", "x"),
        ("/", "x\r\nInjected: 1"),
        ("/", "x\ny"),
        ("/", "x\ry"),
        ("/", "x\x00y"),
    ]:
        with pytest.raises(ValueError):
            request_head("POST", target, "h", True, 443, {"Content-Type": header})


# A generated well-formed answer: its framing, body and where the bytes are split.
_framings = st.sampled_from(["length", "chunked", "close"])


@st.composite
def answers(draw: st.DrawFn) -> tuple[bytes, bytes, bool]:
    body = draw(st.binary(max_size=300))
    framing = draw(_framings)
    names = draw(st.lists(st.sampled_from(["X-A", "Server", "Date", "x-b"]), max_size=4))
    head = b"HTTP/1.1 200 OK\r\n" + b"".join(n.encode() + b": v\r\n" for n in names)
    if framing == "length":
        return head + b"Content-Length: %d\r\n\r\n" % len(body) + body, body, False
    if framing == "close":
        return head + b"\r\n" + body, body, True
    cuts = sorted(draw(st.lists(st.integers(0, len(body)), max_size=5)))
    chunks = [body[a:b] for a, b in zip([0, *cuts], [*cuts, len(body)], strict=True)]
    framed = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks if c)
    return head + b"Transfer-Encoding: chunked\r\n\r\n" + framed + b"0\r\n\r\n", body, False


@settings(max_examples=300, deadline=None)
@given(answers(), st.lists(st.integers(1, 50), min_size=1, max_size=20))
def test_fuzz_any_split_of_a_good_answer_gives_its_body(
    answer: tuple[bytes, bytes, bool], sizes: list[int]
) -> None:
    data, body, close = answer
    parser = ResponseParser()
    got = b""
    at = 0
    while at < len(data):
        size = sizes[at % len(sizes)]
        got += b"".join(parser.feed(data[at : at + size]))
        at += size
    if close:
        parser.end()
    assert parser.done and got == body


@settings(max_examples=500, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.binary(max_size=40),
            st.sampled_from(
                [
                    b"HTTP/1.1 200 OK\r\n",
                    b"HTTP/1.0 100 Continue\r\n",
                    b"Content-Length: 3\r\n",
                    b"Content-Length: -3\r\n",
                    b"Transfer-Encoding: chunked\r\n",
                    b"\r\n",
                    b"\n",
                    b"3\r\nabc\r\n",
                    b"0\r\n",
                    b"ffffffff\r\n",
                ]
            ),
        ),
        max_size=12,
    ),
    st.booleans(),
)
def test_fuzz_any_bytes_give_an_answer_or_a_framing_error(pieces: list[bytes], close: bool) -> None:
    """Never another exception, and never a body longer than the bytes that came."""
    parser = ResponseParser()
    got = 0
    try:
        for piece in pieces:
            got += sum(len(p) for p in parser.feed(piece))
        if close:
            parser.end()
    except FramingError:
        return
    assert got <= sum(len(p) for p in pieces)
    if parser.done:
        assert parser.head is not None and 200 <= parser.head.status <= 999
