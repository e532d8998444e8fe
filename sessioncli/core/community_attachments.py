"""Attachments in community posts: room file uploads before a post, capped room file downloads.

The wire details (plaintext room files, `files` in the post, fetching only from the post's own
room) and where they come from are in `protocol/sogs_files.py`. The local files are read and
checked by `core/attachments.py` (the same limits as for DMs) before anything is sent.
"""

from __future__ import annotations

import concurrent.futures
from typing import TYPE_CHECKING

from sessioncli.errors import NetworkUnavailable, ProtocolError, TemporaryFailure

if TYPE_CHECKING:
    from sessioncli.core.attachments import LocalFile
    from sessioncli.core.community_server import ServerSession
    from sessioncli.protocol.attachment_message import Pointer
    from sessioncli.protocol.message import Attachment

UPLOAD_REPLY_BYTES = 65_536  # `{"id": N}` (or a short error)


def _upload_one(session: ServerSession, f: LocalFile) -> Pointer:
    from sessioncli.protocol import sogs_files
    from sessioncli.protocol.attachment_message import Pointer

    room = session.url.room
    try:
        reply = session.call(
            "POST",
            sogs_files.upload_endpoint(room),
            f.data,
            what=f"upload of {f.label!r}",
            headers=sogs_files.upload_headers(f.file_name),
            max_reply_bytes=UPLOAD_REPLY_BYTES,
        )
    except (TemporaryFailure, NetworkUnavailable) as exc:
        raise type(exc)(f"{f.label}: upload failed: {exc.message}", hints=exc.hints) from None
    file_id = sogs_files.parse_uploaded(reply.body)
    return Pointer(
        url=sogs_files.file_url(session.url.server_base, room, file_id),
        key=b"",  # a room file is the file itself: no key, no digest (as desktop sends it)
        size=len(f.data),
        content_type=f.content_type,
        file_name=f.file_name,
        width=f.width,
        height=f.height,
        file_id=file_id,
    )


def upload(session: ServerSession, files: tuple[LocalFile, ...]) -> list[Pointer]:
    """Upload every file to the session's room (a few at a time); the first failure is raised."""
    if not files:
        return []
    from sessioncli.core.attachments import MAX_PARALLEL_UPLOADS

    workers = max(1, min(MAX_PARALLEL_UPLOADS, len(files)))
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(_upload_one, session, f) for f in files]
        concurrent.futures.wait(futures)
    return [fut.result() for fut in futures]


def download(
    session: ServerSession, att: Attachment, *, timeout: float | None = None
) -> bytes | bytearray:
    """Fetch one post's attachment from the post's own room; the file, trimmed to its size."""
    from sessioncli.protocol import attachments as pa
    from sessioncli.protocol import sogs_files

    url = session.url
    file_id = sogs_files.room_file_id(
        att.url or "", scheme=url.scheme, host=url.host, port=url.port, room=url.room
    )
    if att.file_id and att.file_id != file_id:
        raise ProtocolError("the attachment's id and URL name different files: not downloaded")
    if att.size is not None and att.size > pa.MAX_FILE_BYTES:
        raise ProtocolError(f"the attachment is too large ({att.size} bytes): not downloaded")
    if timeout is not None:
        session.timeout = timeout
    try:
        reply = session.request(
            "GET",
            sogs_files.file_endpoint(url.room, file_id),
            max_reply_bytes=sogs_files.max_download_bytes(att.size),
        )
    except (TemporaryFailure, NetworkUnavailable) as exc:
        raise type(exc)(f"download failed: {exc.message}") from None
    if reply.code == 404:
        raise ProtocolError("the room no longer has it (404: expired or never uploaded)")
    from sessioncli.core.community_server import check_reply

    check_reply(reply, "download", url.host)
    return sogs_files.unpad(reply.body, att.size)
