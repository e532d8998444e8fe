"""Room files on a SOGS (SPEC §8): upload headers, the file URL a post's pointer carries, checks.

How the official apps do it (read from session-pysogs `routes/rooms.py` and `routes/messages.py`,
and session-desktop `sogsV3SendFile.ts`, `AttachmentsV2.ts`, `AttachmentsDownload.ts`):
- A community is public, so its attachments are NOT encrypted: desktop uploads the file's own
  bytes (no padding either) as the body of `POST /room/<token>/file`, signed like every other
  SOGS request; the server answers 201 `{"id": N}`. The AttachmentPointer then carries
  `url = <server>/room/<token>/file/<N>`, `id = N` and no key or digest.
- The post that uses the files lists their ids in `files` (`POST /room/<token>/message`): an
  upload no post claims within an hour is deleted; a claimed one lives 15 days.
- pysogs takes the file name from `Content-Disposition: attachment; filename*=UTF-8''…` (RFC 5987,
  documented on the upload route); desktop sends none, we send it, as the route asks clients to.
- Readers fetch `GET /room/<token>/file/<N>` from the room the post came from (desktop takes the
  id and never connects to a host the pointer names), and accept trailing zero padding only.
"""

from __future__ import annotations

import json
import re
import urllib.parse
from typing import Any

from sessioncli.errors import ProtocolError

# RFC 5987 attr-char beyond letters and digits, as the pysogs upload route lists them.
_ATTR_CHARS = "!#$&+-.^_`|~"
_FILE_PATH = re.compile(r"/room/(?P<room>[A-Za-z0-9_-]{1,64})/file/(?P<id>[0-9]{1,19})")
UPLOAD_CONTENT_TYPE = "application/octet-stream"


class RoomFileError(ProtocolError):
    """A room file pointer we will not fetch (another host, another room, not a file URL)."""


def upload_endpoint(room: str) -> str:
    return f"/room/{room}/file"


def file_endpoint(room: str, file_id: int) -> str:
    return f"/room/{room}/file/{file_id}"


def file_url(server_base: str, room: str, file_id: int) -> str:
    """What the pointer carries: the server URL as joined, then the file's endpoint."""
    return server_base + file_endpoint(room, file_id)


def content_disposition(file_name: str | None) -> str:
    """`attachment; filename*=UTF-8''<percent-encoded UTF-8>` (just `attachment` without a name)."""
    if not file_name:
        return "attachment"
    quoted = urllib.parse.quote(file_name.encode("utf-8"), safe=_ATTR_CHARS)
    return f"attachment; filename*=UTF-8''{quoted}"


def upload_headers(file_name: str | None) -> dict[str, str]:
    return {
        "Content-Type": UPLOAD_CONTENT_TYPE,
        "Content-Disposition": content_disposition(file_name),
    }


def parse_uploaded(body: bytes) -> int:
    """The 201 answer to an upload: `{"id": N}`."""
    try:
        data: Any = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise ProtocolError("file upload: the server's answer is not JSON") from None
    file_id = data.get("id") if isinstance(data, dict) else None
    if not isinstance(file_id, int) or isinstance(file_id, bool) or not 0 < file_id < 2**63:
        raise ProtocolError("file upload: the server's answer has no file id")
    return file_id


def _origin(scheme: str, host: str, port: int | None) -> tuple[str, str, int]:
    scheme = scheme.lower()
    return scheme, host.lower().strip("[]"), port or (443 if scheme == "https" else 80)


def room_file_id(url: str, *, scheme: str, host: str, port: int, room: str) -> int:
    """The file id of a pointer URL, if it is a file of this very room on this very server.

    A poster writes the URL; fetching from a host it names would let any poster make every
    reader connect (through our last hop) wherever it likes, so anything else is refused.
    """
    try:
        parts = urllib.parse.urlsplit(url.strip())
        there = _origin(parts.scheme, parts.hostname or "", parts.port)
    except ValueError:
        raise RoomFileError("the attachment URL is not a URL") from None
    if there != _origin(scheme, host, port) or parts.username or parts.password:
        raise RoomFileError("the attachment is on another server: not downloaded")
    found = _FILE_PATH.fullmatch(parts.path)
    if found is None or parts.query or parts.fragment:
        raise RoomFileError("the attachment URL is not a room file URL: not downloaded")
    if found["room"] != room:
        raise RoomFileError("the attachment is in another room: not downloaded")
    return int(found["id"])


def max_download_bytes(size: int | None) -> int:
    """The most a room file download may read: the declared size in desktop's padding bucket,
    plus framing (desktop uploads room files unpadded but accepts zero padding)."""
    from sessioncli.protocol import attachments as pa

    return pa.padded_size(pa.size_to_expect(size)) + pa.V4_REPLY_SLACK


def unpad(data: bytes | bytearray, size: int | None) -> bytes | bytearray:
    """The file trimmed to its declared size; anything beyond it must be zero padding."""
    if size is None or size <= 0:
        return data
    if len(data) < size:
        raise ProtocolError(f"the room file holds {len(data)} bytes, its pointer says {size}")
    if len(data) > size:
        if data.count(b"\0", size) != len(data) - size:
            raise ProtocolError("the room file is longer than its pointer says")
        if isinstance(data, bytearray):
            del data[size:]
        else:
            data = data[:size]
    return data
