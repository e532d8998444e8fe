"""Session Open Group Server (SOGS) wire format (SPEC §8): room URLs, X-SOGS-* auth, bodies, replies.

Pure: the caller supplies the nonce and the clock. Room replies are parsed defensively: a field of
the wrong type makes the whole item unusable (`SogsReplyError`), never a traceback.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from sessioncli.errors import ProtocolError, UsageError
from sessioncli.protocol import blinding, crypto

# pysogs room tokens: letters, digits, '_' and '-', 1-64 (sogs/routes/converters.py).
_ROOM = re.compile(r"[A-Za-z0-9_-]{1,64}")
_HOST = re.compile(r"[A-Za-z0-9.-]{1,253}|\[[0-9A-Fa-f:.]{2,45}\]")
_HEX64 = re.compile(r"[0-9a-fA-F]{64}")
PAGE_LIMIT: Final = 256  # the most a `messages/since` or inbox page holds (pysogs caps it there)


class SogsReplyError(ProtocolError):
    """A server reply (or one item of it) that is not what SOGS sends."""


# --- community URLs ---------------------------------------------------------------------------


@dataclass(frozen=True)
class CommunityUrl:
    """`scheme://host[:port]/ROOM?public_key=HEX`, as the apps share a community."""

    scheme: str  # "https" | "http"
    host: str
    port: int
    room: str
    server_pk: bytes

    @property
    def server_base(self) -> str:
        default = 443 if self.scheme == "https" else 80
        port = "" if self.port == default else f":{self.port}"
        return f"{self.scheme}://{self.host}{port}"

    @property
    def canonical(self) -> str:
        return f"{self.server_base}/{self.room}?public_key={self.server_pk.hex()}"

    @property
    def server_key(self) -> str:
        """One key per server (rooms on it share one batched poll)."""
        return f"{self.server_base}|{self.server_pk.hex()}"


def parse_community_url(text: str) -> CommunityUrl:
    """Validate a community URL; a UsageError names the part that is wrong."""
    value = text.strip()
    try:
        parts = urllib.parse.urlsplit(value)
        port_value = parts.port
    except ValueError:
        raise UsageError(f"invalid community URL {value!a}: bad host or port") from None
    scheme = parts.scheme.lower()
    if scheme not in ("https", "http"):
        raise UsageError(f"invalid community URL {value!a}: the scheme must be https:// or http://")
    host = (parts.hostname or "").lower()
    if "[" in parts.netloc:
        host = f"[{host}]"
    if not host or not _HOST.fullmatch(host) or "@" in parts.netloc:
        raise UsageError(f"invalid community URL {value!a}: bad host")
    port = port_value if port_value is not None else (443 if scheme == "https" else 80)
    if not 0 < port < 65536:
        raise UsageError(f"invalid community URL {value!a}: bad port")
    room = parts.path[1:] if parts.path.startswith("/") else parts.path
    if not room:
        raise UsageError(f"invalid community URL {value!a}: no room (…/ROOM?public_key=…)")
    if not _ROOM.fullmatch(room):
        raise UsageError(
            f"invalid community URL {value!a}: bad room token (letters, digits, '_' and '-', 1-64)"
        )
    query = urllib.parse.parse_qs(parts.query, keep_blank_values=True)
    keys = query.get("public_key") or query.get("pubkey")
    if not keys:
        raise UsageError(f"invalid community URL {value!a}: no ?public_key=<64 hex>")
    key = keys[0]
    if not _HEX64.fullmatch(key):
        raise UsageError(
            f"invalid community URL {value!a}: the public key must be 64 hex digits, "
            f"got {len(key)} characters"
        )
    return CommunityUrl(scheme, host, port, room, bytes.fromhex(key))


# --- request authentication -------------------------------------------------------------------


@dataclass(frozen=True)
class Signer:
    """Who signs requests to one server: blinded (15) when the server has `blind`, else 00."""

    ed25519_secret: bytes = field(repr=False)
    server_pk: bytes
    blinded: bool = True
    variant: blinding.NonceVariant = "libsession"

    @property
    def pubkey_header(self) -> str:
        if self.blinded:
            return blinding.blinded_session_id(self.ed25519_secret, self.server_pk)
        return blinding.UNBLINDED_PREFIX + self.ed25519_secret[32:].hex()

    def sign(self, message: bytes) -> bytes:
        if self.blinded:
            return blinding.blind15_sign(
                self.ed25519_secret, self.server_pk, message, variant=self.variant
            )
        return crypto.sign(self.ed25519_secret, message)


def auth_headers(
    signer: Signer, method: str, endpoint: str, body: bytes | None, *, nonce: bytes, timestamp: int
) -> dict[str, str]:
    """The four X-SOGS-* headers for one request (`endpoint` is the path with its query)."""
    if len(nonce) != 16:
        raise ValueError("the SOGS nonce is 16 bytes")
    ts = str(timestamp).encode("ascii")
    path = urllib.parse.unquote(endpoint).encode("utf-8")
    signed = signer.server_pk + nonce + ts + method.encode("ascii") + path
    if body:
        signed += crypto.blake2b(body, size=64)
    return {
        "X-SOGS-Pubkey": signer.pubkey_header,
        "X-SOGS-Timestamp": ts.decode("ascii"),
        "X-SOGS-Nonce": base64.b64encode(nonce).decode("ascii"),
        "X-SOGS-Signature": base64.b64encode(signer.sign(signed)).decode("ascii"),
    }


# --- request bodies ---------------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def post_body(padded: bytes, signature: bytes, files: Sequence[int] = ()) -> bytes:
    """`POST /room/<token>/message`: the padded Content, our signature, the room files it uses.

    `files` (pysogs `post_message`) claims our uploads for this post, so the server keeps them
    for its attachment lifetime (15 days by default) instead of deleting them after an hour.
    """
    fields: dict[str, Any] = {"data": _b64(padded), "signature": _b64(signature)}
    if files:
        fields["files"] = list(files)
    return json.dumps(fields).encode("utf-8")


def inbox_body(message: bytes) -> bytes:
    """`POST /inbox/<15…id>`: one blinded-DM ciphertext."""
    return json.dumps({"message": _b64(message)}).encode("utf-8")


def messages_since(room: str, seqno: int) -> str:
    return f"/room/{room}/messages/since/{seqno}?limit={PAGE_LIMIT}"


def box_since(box: str, last_id: int) -> str:
    """`/inbox/since/<id>` or `/outbox/since/<id>` (all messages when no id yet)."""
    suffix = f"/since/{last_id}" if last_id else ""
    return f"/{box}{suffix}?limit={PAGE_LIMIT}"


def batch_body(paths: list[str]) -> bytes:
    """`POST /batch` of GET subrequests (each answered independently, in order)."""
    return json.dumps([{"method": "GET", "path": p} for p in paths]).encode("utf-8")


# --- replies ----------------------------------------------------------------------------------


def parse_json(body: bytes, what: str) -> Any:
    try:
        return json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise SogsReplyError(f"{what}: the server's answer is not JSON") from None


@dataclass(frozen=True)
class SubReply:
    code: int
    body: Any  # JSON value, or a str (base64 of a non-JSON body, often "")


def parse_batch_reply(body: bytes, expected: int) -> list[SubReply]:
    data = parse_json(body, "batch")
    if not isinstance(data, list) or len(data) != expected:
        raise SogsReplyError(f"batch: expected a list of {expected} answers")
    out: list[SubReply] = []
    for item in data:
        code = item.get("code") if isinstance(item, dict) else None
        if not isinstance(code, int) or isinstance(code, bool):
            raise SogsReplyError("batch: an answer has no integer code")
        out.append(SubReply(code, item.get("body")))
    return out


def parse_capabilities(body: bytes) -> tuple[str, ...]:
    data = parse_json(body, "capabilities")
    caps = data.get("capabilities") if isinstance(data, dict) else None
    if not isinstance(caps, list) or not all(isinstance(c, str) for c in caps):
        raise SogsReplyError("capabilities: no list of capabilities")
    return tuple(caps)


@dataclass(frozen=True)
class RoomInfo:
    token: str
    name: str
    message_sequence: int


def parse_room_info(body: bytes) -> RoomInfo:
    data = parse_json(body, "room info")
    if not isinstance(data, dict):
        raise SogsReplyError("room info: not an object")
    token, name, seq = data.get("token"), data.get("name"), data.get("message_sequence")
    if not isinstance(token, str) or not isinstance(seq, int) or isinstance(seq, bool) or seq < 0:
        raise SogsReplyError("room info: no token or message_sequence")
    return RoomInfo(token, name if isinstance(name, str) else token, seq)


def _int(d: dict[str, Any], key: str, *, optional: bool = False) -> int | None:
    v = d.get(key)
    if v is None and optional:
        return None
    if not isinstance(v, int) or isinstance(v, bool) or v < 0:
        raise SogsReplyError(f"message: '{key}' is not a non-negative integer")
    return v


def _ts_ms(d: dict[str, Any], key: str) -> int | None:
    v = d.get(key)
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, int | float) or not 0 <= v < 1e11:
        raise SogsReplyError(f"message: '{key}' is not a unix timestamp")
    return int(v * 1000)


def _bytes(d: dict[str, Any], key: str) -> bytes | None:
    v = d.get(key)
    if v is None:
        return None
    if not isinstance(v, str):
        raise SogsReplyError(f"message: '{key}' is not base64")
    try:
        return binascii.a2b_base64(v, strict_mode=True)
    except (binascii.Error, ValueError):
        raise SogsReplyError(f"message: '{key}' is not base64") from None


def _poster(d: dict[str, Any], key: str) -> str:
    v = d.get(key)
    if not isinstance(v, str) or len(v) != 66 or not all(c in "0123456789abcdef" for c in v):
        raise SogsReplyError(f"message: '{key}' is not a Session or blinded id")
    return v


@dataclass(frozen=True)
class RoomMessage:
    """One item of `messages/since`: a post, a later version of one (edit), or its deletion."""

    id: int
    seqno: int
    session_id: str
    posted_ms: int
    edited_ms: int | None
    data: bytes | None = field(repr=False)  # None for a deletion
    signature: bytes | None = field(repr=False)
    whisper: bool = False

    @property
    def deleted(self) -> bool:
        return self.data is None


def parse_room_message(item: Any) -> RoomMessage:
    if not isinstance(item, dict):
        raise SogsReplyError("message: not an object")
    data = _bytes(item, "data")
    if item.get("deleted") is True:
        data = None
    posted = _ts_ms(item, "posted")
    return RoomMessage(
        id=_int(item, "id") or 0,
        seqno=_int(item, "seqno") or 0,
        session_id=_poster(item, "session_id"),
        posted_ms=posted or 0,
        edited_ms=_ts_ms(item, "edited"),
        data=data,
        signature=_bytes(item, "signature"),
        whisper=item.get("whisper") is True,
    )


def parse_message_list(body: Any) -> list[Any]:
    """A subrequest's list body (items are parsed one by one by the caller)."""
    if body in ("", None):  # 304 Not Modified: nothing new
        return []
    if not isinstance(body, list):
        raise SogsReplyError("messages: not a list")
    return body


@dataclass(frozen=True)
class BoxMessage:
    """One blinded DM from `/inbox` or `/outbox`."""

    id: int
    posted_ms: int
    expires_ms: int | None
    sender: str
    recipient: str
    message: bytes = field(repr=False)


def parse_box_message(item: Any) -> BoxMessage:
    if not isinstance(item, dict):
        raise SogsReplyError("inbox message: not an object")
    message = _bytes(item, "message")
    if message is None:
        raise SogsReplyError("inbox message: no message")
    return BoxMessage(
        id=_int(item, "id") or 0,
        posted_ms=_ts_ms(item, "posted_at") or 0,
        expires_ms=_ts_ms(item, "expires_at"),
        sender=_poster(item, "sender"),
        recipient=_poster(item, "recipient"),
        message=message,
    )


@dataclass(frozen=True)
class Posted:
    id: int
    seqno: int | None
    posted_ms: int


def parse_posted(body: bytes, *, what: str) -> Posted:
    """The 201 answer to a post or an inbox message."""
    data = parse_json(body, what)
    if not isinstance(data, dict):
        raise SogsReplyError(f"{what}: not an object")
    posted = _ts_ms(data, "posted") or _ts_ms(data, "posted_at") or 0
    return Posted(_int(data, "id") or 0, _int(data, "seqno", optional=True), posted)


def error_words(body: bytes, limit: int = 200) -> str:
    """The server's own words from an error body, on one printable line."""
    text = body[:limit].decode("utf-8", "replace")
    text = "".join(c if c.isprintable() else " " for c in text).strip()
    return " ".join(text.split())


# --- post content -----------------------------------------------------------------------------


def build_post(
    body: str,
    timestamp_ms: int,
    *,
    display_name: str | None = None,
    attachments: Sequence[Any] = (),
) -> bytes:
    """The padded Content of a community post or blinded DM (libsession `encode_for_community`).

    `attachments` are `attachment_message.Pointer`s: room files for a post, file server
    pointers (encrypted, as for DMs) for a blinded DM.
    """
    from sessioncli.protocol import message

    if not attachments:
        return message.pad(
            message.build_text_content(body, timestamp_ms, display_name=display_name)
        )
    from sessioncli.protocol import attachment_message

    content = attachment_message.build_content(
        body, timestamp_ms, attachments=attachments, display_name=display_name
    )
    return message.pad(content)


def decode_content(padded: bytes, sender: str, sender_key: str, timestamp_ms: int) -> Any:
    """Unpad and classify a community Content like a DM's (a `message.DecodedMessage`)."""
    from sessioncli.protocol import message
    from sessioncli.protocol.proto import session_pb2 as pb

    raw = message.unpad(padded)
    try:
        content = pb.Content.FromString(raw)
    except Exception as exc:  # untrusted bytes: any parser failure means the same to us
        raise message.MessageDecodeError("bad_content", str(exc)) from exc
    sig_ts = int(content.sigTimestamp)
    # The one classifier for every Content (private to message.py, shared on purpose).
    return message.classify_content(
        content, raw, sender, sender_key, timestamp_ms, legacy=not sig_ts
    )
