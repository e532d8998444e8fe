"""What each SOGS answer means to a user (core/community_server.py::check_reply): code and line."""

from __future__ import annotations

import pytest

from sessioncli.core.community_server import RoomMissing, check_reply
from sessioncli.errors import ProtocolError, TemporaryFailure
from sessioncli.protocol import onion, sogs


def _reply(code: int, body: bytes = b"") -> onion.V4Reply:
    return onion.V4Reply(code, {}, body)


@pytest.mark.parametrize("code", [200, 201, 304])
def test_success_passes(code: int) -> None:
    check_reply(_reply(code), "poll", "h")


@pytest.mark.parametrize(
    ("code", "kind", "exit_code", "words"),
    [
        (429, TemporaryFailure, 75, "rate limiting us"),
        (500, TemporaryFailure, 75, "failed"),
        (503, TemporaryFailure, 75, "failed"),
        (401, ProtocolError, 1, "refused our request signature"),
        (425, ProtocolError, 1, "refused our request time or nonce"),
        (403, ProtocolError, 1, "does not allow"),
        (404, RoomMissing, 1, "not found"),
        (400, ProtocolError, 1, "refused"),
    ],
)
def test_errors_are_one_line_with_the_servers_words(
    code: int, kind: type[Exception], exit_code: int, words: str
) -> None:
    with pytest.raises(kind) as err:
        check_reply(_reply(code, b"Slow down!\nreally"), "post to 'lobby'", "sogs.example")
    message = str(err.value)
    assert words in message and "sogs.example" in message and str(code) in message
    assert "Slow down! really" in message and "\n" not in message
    assert int(err.value.exit_code) == exit_code  # type: ignore[attr-defined]


def test_batch_sub_answers_map_alike() -> None:
    with pytest.raises(RoomMissing):
        check_reply(sogs.SubReply(404, "Not Found"), "room 'x'", "h")
    with pytest.raises(TemporaryFailure):
        check_reply(sogs.SubReply(429, {"error": "too many"}), "room 'x'", "h")
