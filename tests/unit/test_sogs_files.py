"""Room files (protocol/sogs_files.py): upload headers, pointer URLs we fetch or refuse, padding."""

from __future__ import annotations

import json

import pytest

from sessioncli.errors import ProtocolError
from sessioncli.protocol import sogs, sogs_files
from sessioncli.protocol.attachment_message import Pointer, build_content
from sessioncli.protocol.proto import session_pb2 as pb

HERE = {"scheme": "https", "host": "sogs.example", "port": 443, "room": "lobby"}


def test_content_disposition_is_rfc5987_as_pysogs_documents_it() -> None:
    # The example of pysogs' upload route: `my 🎂.txt`.
    assert sogs_files.content_disposition("my \U0001f382.txt") == (
        "attachment; filename*=UTF-8''my%20%F0%9F%8E%82.txt"
    )
    assert (
        sogs_files.content_disposition("a!#$&+-.^_`|~z")
        == "attachment; filename*=UTF-8''a!#$&+-.^_`|~z"
    )
    assert sogs_files.content_disposition('x;y"z') == "attachment; filename*=UTF-8''x%3By%22z"
    assert sogs_files.content_disposition(None) == "attachment"
    assert sogs_files.upload_headers("f")["Content-Type"] == "application/octet-stream"


def test_room_file_urls_of_this_room_only() -> None:
    ok = sogs_files.room_file_id("https://SOGS.example/room/lobby/file/42", **HERE)
    assert ok == 42
    assert sogs_files.room_file_id("https://sogs.example:443/room/lobby/file/7", **HERE) == 7
    refused = {
        "http://sogs.example/room/lobby/file/1": "another server",
        "https://evil.example/room/lobby/file/1": "another server",
        "https://sogs.example:8443/room/lobby/file/1": "another server",
        "https://user@sogs.example/room/lobby/file/1": "another server",
        "https://sogs.example/room/other/file/1": "another room",
        "https://sogs.example/room/lobby/file/1/name.txt": "not a room file URL",
        "https://sogs.example/room/lobby/file/1?x=1": "not a room file URL",
        "https://sogs.example/room/lobby/file/../../x": "not a room file URL",
        "https://sogs.example/file/1": "not a room file URL",
        "": "another server",
        "https://[::1/room/lobby/file/1": "not a URL",
    }
    for url, words in refused.items():
        with pytest.raises(sogs_files.RoomFileError, match=words):
            sogs_files.room_file_id(url, **HERE)


def test_unpad_accepts_only_zero_padding() -> None:
    assert sogs_files.unpad(b"abc\0\0", 3) == b"abc"
    assert sogs_files.unpad(bytearray(b"abc\0"), 3) == bytearray(b"abc")
    assert sogs_files.unpad(b"abc", None) == b"abc"
    with pytest.raises(ProtocolError, match="longer"):
        sogs_files.unpad(b"abcd", 3)
    with pytest.raises(ProtocolError, match="holds 2 bytes"):
        sogs_files.unpad(b"ab", 3)


def test_parse_uploaded() -> None:
    assert sogs_files.parse_uploaded(b'{"id": 12}') == 12
    for bad in (b"[]", b'{"id": "12"}', b'{"id": true}', b'{"id": 0}', b"nope"):
        with pytest.raises(ProtocolError):
            sogs_files.parse_uploaded(bad)


def test_post_body_claims_its_files_and_pointer_has_no_key() -> None:
    body = json.loads(sogs.post_body(b"d", b"s" * 64, [3, 4]))
    assert body["files"] == [3, 4]
    assert "files" not in json.loads(sogs.post_body(b"d", b"s" * 64))
    room_file = Pointer(
        url="https://h/room/r/file/3", key=b"", size=5, file_name="a.txt", file_id=3
    )
    content = pb.Content.FromString(build_content("hi", 1_700_000_000_000, attachments=[room_file]))
    (ptr,) = content.dataMessage.attachments
    assert not ptr.HasField("key") and not ptr.HasField("digest")
    assert ptr.deprecated_id == 3 and ptr.url == room_file.url and ptr.size == 5
