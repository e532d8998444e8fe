"""Attachments on the wire: read local files, upload each once (in parallel), download with a cap.

Sending: `read_files` refuses anything unusable (missing, a folder, empty, over 10 MB) before
any network traffic; `upload_files` encrypts each file once (desktop's legacy format, padded)
and uploads it through onion v4 to the network's file server, however many recipients the
message has. Receiving: `download` reads at most the pointer's padded, encrypted size (plus the
v4 framing) and checks it; `core/attachment_files.py` writes it safely and keeps the pointers.
"""

from __future__ import annotations

import concurrent.futures
import json
import mimetypes
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sessioncli.errors import (
    ConfigError,
    NetworkUnavailable,
    ProtocolError,
    SessionCliError,
    TemporaryFailure,
    UsageError,
)

if TYPE_CHECKING:
    from sessioncli.net.client import NetworkClient
    from sessioncli.net.networks import FileServer
    from sessioncli.net.policy import Deadline
    from sessioncli.protocol.attachment_message import Pointer
    from sessioncli.protocol.message import Attachment
    from sessioncli.protocol.onion import Body, ServerTarget

MAX_PARALLEL_UPLOADS = 4
MAX_FILE_BYTES = 10_000_000  # desktop's limit (protocol.attachments.MAX_FILE_BYTES)


@dataclass(frozen=True)
class LocalFile:
    """A file to send, read whole: its bytes and what the pointer says about it."""

    label: str  # how the user named it (for messages)
    data: bytes = field(repr=False)
    file_name: str
    content_type: str
    width: int | None = None
    height: int | None = None


# --- reading local files --------------------------------------------------------------------------


def _content_type(name: str) -> str:
    guessed, _ = mimetypes.guess_type(name, strict=False)
    return guessed or "application/octet-stream"


def describe(label: str, data: bytes, file_name: str) -> LocalFile:
    """A LocalFile for `data`: content type from the name, size from the header when an image."""
    from sessioncli.protocol.image_size import HEADER_BYTES, image_size

    if not data:
        raise UsageError(f"{label}: the file is empty (nothing to attach)")
    if len(data) > MAX_FILE_BYTES:
        raise UsageError(
            f"{label}: the file is too large ({len(data)} bytes; at most {MAX_FILE_BYTES})"
        )
    size = image_size(data[:HEADER_BYTES])
    return LocalFile(
        label=label,
        data=data,
        file_name=file_name,
        content_type=_content_type(file_name),
        width=size[0] if size else None,
        height=size[1] if size else None,
    )


def read_file(path_text: str) -> LocalFile:
    """Read one regular file (or a FIFO) of at most MAX_FILE_BYTES; UsageError naming it otherwise."""
    label = path_text
    path = Path(path_text).expanduser()
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise UsageError(f"{label}: no such file") from None
    except (OSError, ValueError) as exc:
        raise UsageError(f"{label}: cannot read it ({getattr(exc, 'strerror', exc)})") from None
    if stat.S_ISDIR(st.st_mode):
        raise UsageError(f"{label}: is a folder, not a file")
    if not (stat.S_ISREG(st.st_mode) or stat.S_ISFIFO(st.st_mode)):
        raise UsageError(f"{label}: not a regular file")
    if stat.S_ISREG(st.st_mode) and st.st_size > MAX_FILE_BYTES:
        raise UsageError(
            f"{label}: the file is too large ({st.st_size} bytes; at most {MAX_FILE_BYTES})"
        )
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise UsageError(f"{label}: cannot read it ({exc.strerror})") from None
    return describe(label, data, path.name)


def read_files(paths: list[str], stdin_data: bytes | None = None) -> list[LocalFile]:
    """Every file named (`-`: `stdin_data`, named "stdin"); all checked before anything is sent."""
    files = []
    for p in paths:
        if p == "-":
            if stdin_data is None:
                raise UsageError("-: stdin was not read")
            files.append(describe("stdin", stdin_data, "stdin"))
        else:
            files.append(read_file(p))
    return files


# --- the file server ------------------------------------------------------------------------------


def file_server_of(net: NetworkClient) -> FileServer:
    fs = net.config.file_server
    if fs is None:
        raise ConfigError(
            f"network {net.config.name} has no file server: attachments cannot be sent or fetched",
            hints=('a network file needs a "file_server" entry (devnet up writes one)',),
        )
    return fs


def server_target(fs: FileServer) -> ServerTarget:
    from sessioncli.protocol.onion import ServerTarget

    return ServerTarget(
        host=fs.host, x25519=bytes.fromhex(fs.pubkey_x25519), protocol=fs.scheme, port=fs.port
    )


def _refused(what: str, code: int, body: bytes) -> SessionCliError:
    """A file server's answer other than 200: 5xx is worth retrying, 4xx is final."""
    text = body[:200].decode("utf-8", "replace").strip()
    detail = f"{what}: the file server answered {code}" + (f" ({text})" if text else "")
    if code == 413:
        return ProtocolError(f"{what}: the file server refused it as too large (413)")
    if code >= 500 or code in (408, 425, 429):
        return TemporaryFailure(detail)
    return ProtocolError(detail)


@dataclass(frozen=True)
class Uploaded:
    file_id: str
    expires_s: float | None


def upload_blob(
    net: NetworkClient, fs: FileServer, blob: Body, what: str, timeout: float | Deadline | None
) -> Uploaded:
    """POST /file through onion v4; the server's id (and expiry, when it says)."""
    try:
        reply = net.server_request(
            server_target(fs), "POST", "/file", body=blob, timeout=timeout, max_reply_bytes=65_536
        )
    except (TemporaryFailure, NetworkUnavailable) as exc:
        raise type(exc)(f"{what}: upload failed: {exc.message}") from None
    if reply.code != 200:
        raise _refused(what, reply.code, reply.body)
    try:
        obj: Any = json.loads(reply.body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise TemporaryFailure(f"{what}: the file server's answer is not JSON") from None
    file_id = obj.get("id") if isinstance(obj, dict) else None
    if isinstance(file_id, int) and not isinstance(file_id, bool):
        file_id = str(file_id)  # older servers answered a number
    if not isinstance(file_id, str) or not file_id or len(file_id) > 64:
        raise TemporaryFailure(f"{what}: the file server's answer has no file id")
    expires = obj.get("expires")
    ok = isinstance(expires, int | float) and not isinstance(expires, bool)
    return Uploaded(file_id=file_id, expires_s=float(expires) if ok else None)


def file_url(fs: FileServer, file_id: str, *, deterministic: bool = False) -> str:
    from sessioncli.net.networks import MAINNET_FILE_SERVER
    from sessioncli.protocol import attachments as pa

    # Desktop names the server (#p=) only when it is not the default one.
    default = fs.pubkey_ed25519 == MAINNET_FILE_SERVER.pubkey_ed25519
    return pa.build_file_url(
        fs.url,
        file_id,
        server_ed25519=None if default else fs.pubkey_ed25519,
        deterministic=deterministic,
    )


def _upload_one(
    net: NetworkClient, fs: FileServer, f: LocalFile, timeout: float | Deadline | None
) -> Pointer:
    from sessioncli.protocol import attachments as pa
    from sessioncli.protocol.attachment_message import Pointer

    # The blob is not built here: the onion builder writes it straight into the request (one
    # buffer per attempt), so the file and that buffer are all an upload holds.
    sealed = pa.legacy_seal(f.data)
    up = upload_blob(net, fs, sealed, f.label, timeout)
    return Pointer(
        url=file_url(fs, up.file_id),
        key=sealed.key,
        size=len(f.data),
        digest=sealed.digest,
        content_type=f.content_type,
        file_name=f.file_name,
        width=f.width,
        height=f.height,
        file_id=int(up.file_id) if up.file_id.isdigit() and int(up.file_id) < 2**64 else 0,
    )


def upload_files(
    net: NetworkClient, files: list[LocalFile], *, timeout: float | Deadline | None = None
) -> list[Pointer]:
    """Upload every file once, several at a time; the first failure (in order) is raised."""
    if not files:
        return []
    fs = file_server_of(net)
    workers = max(1, min(MAX_PARALLEL_UPLOADS, len(files)))
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(_upload_one, net, fs, f, timeout) for f in files]
        concurrent.futures.wait(futures)
    return [fut.result() for fut in futures]


# --- downloading ----------------------------------------------------------------------------------


def _server_for(net: NetworkClient, url: str) -> tuple[FileServer, Any]:
    """The network's file server if `url` is on it; ProtocolError otherwise.

    Desktop only fetches from file servers it knows (by host); the last hop connects to the
    host a URL names, so a sender-chosen host is refused rather than reached.
    """
    from sessioncli.protocol import attachments as pa

    parsed = pa.parse_file_url(url)
    fs = file_server_of(net)
    here = pa.parse_file_url(fs.url + "/file/0")
    if parsed.base != here.base:
        raise ProtocolError("the attachment is on a file server this network does not use")
    if parsed.server_ed25519 and parsed.server_ed25519 != fs.pubkey_ed25519:
        raise ProtocolError("the attachment names a different file server key")
    return fs, parsed


def download(
    net: NetworkClient, att: Attachment, *, timeout: float | Deadline | None = None
) -> bytes | bytearray:
    """Fetch, check and decrypt one attachment; the plaintext, trimmed to its declared size."""
    from sessioncli.protocol import attachments as pa

    if not att.url:
        raise ProtocolError("the attachment has no URL")
    fs, parsed = _server_for(net, att.url)
    cap = pa.max_download_bytes(att.size, deterministic=parsed.deterministic)
    try:
        reply = net.server_request(
            server_target(fs),
            "GET",
            f"/file/{parsed.file_id}",
            timeout=timeout,
            max_reply_bytes=cap,
        )
    except (TemporaryFailure, NetworkUnavailable) as exc:
        raise type(exc)(f"download failed: {exc.message}") from None
    if reply.code == 404:
        raise ProtocolError("the file server no longer has it (404: expired or never uploaded)")
    if reply.code != 200:
        raise _refused("download", reply.code, reply.body)
    # reply.data, not .body: the downloaded blob is read where it was decrypted, not copied
    if parsed.deterministic:
        return pa.trim(pa.s_decrypt(reply.data, att.key), att.size)
    return pa.legacy_decrypt(reply.data, att.key, att.digest, att.size)


def extension_for(content_type: str | None) -> str:
    if not content_type:
        return ""
    return mimetypes.guess_extension(content_type.split(";")[0].strip(), strict=False) or ""


def upload_for_send(
    net: NetworkClient, files: list[LocalFile], avatar: LocalFile | None, state_folder: Path
) -> tuple[list[Pointer], Any]:
    """Upload the files (and the profile picture if it needs it) before the message is sent.

    One --timeout covers the whole send: the uploads share a deadline, and the message gets
    what is left of it. Any failure raises, so no message ever points at a missing file.
    """
    if not files and avatar is None:
        return [], None
    from sessioncli.core import avatar as avatar_core
    from sessioncli.net.policy import Deadline

    deadline = Deadline(net.timeout)
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        picture = (
            pool.submit(avatar_core.profile_picture, net, avatar, state_folder, deadline)
            if avatar is not None
            else None
        )
        pointers = upload_files(net, files, timeout=deadline)
        result = picture.result() if picture is not None else None
    if deadline.expired():
        raise TemporaryFailure("send timed out (--timeout) after uploading the attachments")
    net.timeout = deadline.remaining()
    return pointers, result
