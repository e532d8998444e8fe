"""The SOGS endpoints (pysogs routes/{general,rooms,messages,dm}.py): what each path answers, and when."""

from __future__ import annotations

import base64
import binascii
import json
import re
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import formatdate
from typing import Any

from sessioncli.devnet.lsrpc import HttpReply, HttpRequest
from sessioncli.devnet.sogs_auth import AuthUser
from sessioncli.devnet.sogs_store import SogsStore, b64

ACTIVE_CUTOFF = 7 * 86400  # pysogs ROOM_DEFAULT_ACTIVE_THRESHOLD
MAX_UPLOAD = 10_000_000


@dataclass(frozen=True)
class Policy:
    blind: bool  # capabilities include "blind"; unblinded keys are refused
    rate_limit: tuple[int, float]  # (posts, seconds) per user per room; (0, 0) = none


@dataclass
class Context:
    store: SogsStore
    policy: Policy
    user: AuthUser | None
    now: float


class HttpError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.reply = HttpReply.text(code, message)


Route = Callable[[Context, HttpRequest, "re.Match[str]"], HttpReply]
_ROUTES: list[tuple[str, re.Pattern[str], Route]] = []
_ROOM = r"(?P<room>[\w-]{1,64})"


def _route(method: str, pattern: str) -> Callable[[Route], Route]:
    def register(handler: Route) -> Route:
        _ROUTES.append((method, re.compile(pattern + r"\Z"), handler))
        return handler

    return register


def dispatch(ctx: Context, request: HttpRequest) -> HttpReply:
    matched_path = False
    for method, pattern, handler in _ROUTES:
        match = pattern.match(request.path)
        if match is None:
            continue
        matched_path = True
        if method == request.method:
            try:
                return handler(ctx, request, match)
            except HttpError as exc:
                return exc.reply
    if matched_path:
        return HttpReply.text(405, "Method Not Allowed")
    return HttpReply.text(404, "Not Found")


# -- helpers ---------------------------------------------------------------------------------


def _require_user(ctx: Context) -> AuthUser:
    if ctx.user is None:
        raise HttpError(401, "X-SOGS-* request authentication required")
    return ctx.user


def _room(ctx: Context, match: re.Match[str]) -> dict[str, Any]:
    room = ctx.store.room(match["room"])
    if room is None:
        raise HttpError(404, "Not Found")
    if ctx.user is not None:
        ctx.store.touch_room(room["id"], ctx.user.session_id, ctx.now)
    return room


def _json_body(request: HttpRequest) -> dict[str, Any]:
    # Flask's request.json: a non-JSON content type is 415, unparseable JSON 400.
    if not request.headers.get("content-type", "").lower().startswith("application/json"):
        raise HttpError(415, "Unsupported Media Type: expected application/json")
    try:
        value = json.loads(request.body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise HttpError(400, "Bad Request: invalid JSON") from None
    if not isinstance(value, dict):
        raise HttpError(400, "Bad Request: expected a JSON object")
    return value


def _b64_field(value: Any) -> bytes | None:
    if not isinstance(value, str):
        return None
    try:
        return base64.b64decode(value + "=" * (-len(value) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise HttpError(400, "Bad Request: invalid base64") from None


def _int_param(request: HttpRequest, name: str, default: int, low: int, high: int) -> int:
    raw = request.param(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise HttpError(400, f"Bad Request: {name} must be an integer") from None
    return min(max(value, low), high)  # pysogs truncates out-of-range values


def _files(body: dict[str, Any]) -> list[int]:
    files = body.get("files", [])
    if not isinstance(files, list) or not all(isinstance(f, int) for f in files):
        raise HttpError(400, "Bad Request: files must be a list of file ids")
    return files


# -- general ---------------------------------------------------------------------------------


def capabilities(policy: Policy) -> list[str]:
    return sorted(["sogs", "reactions", *(["blind"] if policy.blind else [])])


@_route("GET", r"/capabilities")
def _capabilities(ctx: Context, request: HttpRequest, match: re.Match[str]) -> HttpReply:
    caps = capabilities(ctx.policy)
    reply: dict[str, Any] = {"capabilities": caps}
    required = request.param("required")
    if required is not None:
        missing = [c for c in required.split(",") if c not in caps]
        if missing:
            reply["missing"] = missing
            return HttpReply.json(412, reply)
    return HttpReply.json(200, reply)


# -- rooms -----------------------------------------------------------------------------------


def room_info(ctx: Context, room: dict[str, Any]) -> dict[str, Any]:
    info: dict[str, Any] = {
        "token": room["token"],
        "name": room["name"],
        "info_updates": room["info_updates"],
        "message_sequence": room["message_sequence"],
        "created": room["created"],
        "active_users": ctx.store.active_users(room["id"], ctx.now - ACTIVE_CUTOFF),
        "active_users_cutoff": ACTIVE_CUTOFF,
        "moderators": [],
        "admins": [],
        "read": True,
        "write": True,
        "upload": True,
    }
    if room["description"] is not None:
        info["description"] = room["description"]
    return info


@_route("GET", r"/rooms")
def _rooms(ctx: Context, request: HttpRequest, match: re.Match[str]) -> HttpReply:
    rooms = [ctx.store.room(t) for t in ctx.store.room_tokens()]
    return HttpReply.json(200, [room_info(ctx, r) for r in rooms if r is not None])


@_route("GET", rf"/room/{_ROOM}")
def _room_info(ctx: Context, request: HttpRequest, match: re.Match[str]) -> HttpReply:
    return HttpReply.json(200, room_info(ctx, _room(ctx, match)))


@_route("GET", rf"/room/{_ROOM}/pollInfo/(?P<n>\d+)")
def _poll_info(ctx: Context, request: HttpRequest, match: re.Match[str]) -> HttpReply:
    room = _room(ctx, match)
    info = room_info(ctx, room)
    reply = {k: info[k] for k in ("token", "active_users", "read", "write", "upload")}
    if room["info_updates"] != int(match["n"]):
        reply["details"] = info
    return HttpReply.json(200, reply)


# -- messages --------------------------------------------------------------------------------


def _render(
    ctx: Context,
    request: HttpRequest,
    rows: list[tuple[Any, ...]],
    since: int | None = None,
) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for msg_id, sid, data, sig, posted, edited, seqno, seqno_data, seqno_reactions in rows:
        if since is not None and seqno_reactions > since >= seqno_data:
            out.append({"id": msg_id, "seqno": seqno})  # a reactions-only update
            continue
        msg: dict[str, Any] = {"id": msg_id, "posted": posted, "seqno": seqno, "session_id": sid}
        if data is None:
            msg.update(data=None, deleted=True)
        else:
            msg.update(data=b64(data), signature=b64(sig))
        if edited is not None:
            msg["edited"] = edited
        out.append(msg)
    limit = _int_param(request, "reactors", 4, 0, 20)
    live = [m["id"] for m in out if m.get("data", "") is not None]
    viewer = ctx.user.session_id if ctx.user else None
    reactions = ctx.store.reactions(live, viewer, limit)
    for msg in out:
        if msg.get("data", "") is not None:
            msg["reactions"] = reactions.get(msg["id"], {})
    return out


@_route("GET", rf"/room/{_ROOM}/messages/since/(?P<seqno>\d+)")
def _since(ctx: Context, request: HttpRequest, match: re.Match[str]) -> HttpReply:
    room = _room(ctx, match)
    since = int(match["seqno"])
    flags = request.param("t") or ""
    rows = ctx.store.messages(
        room["id"],
        since=since,
        limit=_int_param(request, "limit", 100, 1, 256),
        reaction_updates="r" in flags,
    )
    return HttpReply.json(200, _render(ctx, request, rows, since))


@_route("GET", rf"/room/{_ROOM}/messages/recent")
def _recent(ctx: Context, request: HttpRequest, match: re.Match[str]) -> HttpReply:
    room = _room(ctx, match)
    rows = ctx.store.messages(room["id"], limit=_int_param(request, "limit", 100, 1, 256))
    return HttpReply.json(200, _render(ctx, request, rows))


@_route("GET", rf"/room/{_ROOM}/messages/before/(?P<id>\d+)")
def _before(ctx: Context, request: HttpRequest, match: re.Match[str]) -> HttpReply:
    room = _room(ctx, match)
    limit = _int_param(request, "limit", 100, 1, 256)
    rows = ctx.store.messages(room["id"], before=int(match["id"]), limit=limit)
    return HttpReply.json(200, _render(ctx, request, rows))


@_route("GET", rf"/room/{_ROOM}/message/(?P<id>\d+)")
def _single(ctx: Context, request: HttpRequest, match: re.Match[str]) -> HttpReply:
    room = _room(ctx, match)
    rows = ctx.store.messages(room["id"], single=int(match["id"]), limit=1)
    if not rows:
        return HttpReply.text(404, "Not Found")
    return HttpReply.json(200, _render(ctx, request, rows)[0])


def _post_fields(body: dict[str, Any]) -> tuple[bytes, bytes]:
    data, sig = _b64_field(body.get("data")), _b64_field(body.get("signature"))
    if data is None or sig is None or len(sig) != 64:
        raise HttpError(400, "Bad Request: data and a 64-byte signature are required")
    return data, sig


@_route("POST", rf"/room/{_ROOM}/message")
def _post(ctx: Context, request: HttpRequest, match: re.Match[str]) -> HttpReply:
    user = _require_user(ctx)
    room = _room(ctx, match)
    body = _json_body(request)
    data, sig = _post_fields(body)
    if body.get("whisper_to") or body.get("whisper_mods"):
        raise HttpError(403, "Permission denied")  # whispers are for moderators; there are none
    files = _files(body)
    count, seconds = ctx.policy.rate_limit
    if count and ctx.store.recent_posts(room["id"], user.session_id, ctx.now - seconds) >= count:
        raise HttpError(429, "Rate limited")
    message = ctx.store.add_post(room["id"], user.session_id, data, sig, ctx.now, files)
    return HttpReply.json(201, message)


@_route("PUT", rf"/room/{_ROOM}/message/(?P<id>\d+)")
def _edit(ctx: Context, request: HttpRequest, match: re.Match[str]) -> HttpReply:
    user = _require_user(ctx)
    room = _room(ctx, match)
    body = _json_body(request)
    data, sig = _post_fields(body)
    change = (data, sig, _files(body))
    outcome = ctx.store.edit_post(room["id"], int(match["id"]), user.session_id, change, ctx.now)
    return _outcome(outcome)


@_route("DELETE", rf"/room/{_ROOM}/message/(?P<id>\d+)")
def _delete(ctx: Context, request: HttpRequest, match: re.Match[str]) -> HttpReply:
    user = _require_user(ctx)
    room = _room(ctx, match)
    return _outcome(ctx.store.delete_post(room["id"], int(match["id"]), user.session_id))


def _outcome(outcome: str) -> HttpReply:
    if outcome == "missing":
        return HttpReply.text(404, "Not Found")
    if outcome == "forbidden":
        return HttpReply.text(403, "Permission denied")
    return HttpReply.json(200, {})


def _react(ctx: Context, match: re.Match[str], add: bool) -> HttpReply:
    user = _require_user(ctx)
    room = _room(ctx, match)
    reaction = match["reaction"]
    if not 1 <= len(reaction) <= 12:
        raise HttpError(400, "Bad Request: invalid reaction")
    result = ctx.store.react(room["id"], int(match["id"]), reaction, user.session_id, add, ctx.now)
    if result is None:
        return HttpReply.text(404, "Not Found")
    changed, seqno = result
    return HttpReply.json(200, {"added" if add else "removed": changed, "seqno": seqno})


_REACTION = rf"/room/{_ROOM}/reaction/(?P<id>\d+)/(?P<reaction>.+)"


@_route("PUT", _REACTION)
def _add_reaction(ctx: Context, request: HttpRequest, match: re.Match[str]) -> HttpReply:
    return _react(ctx, match, True)


@_route("DELETE", _REACTION)
def _remove_reaction(ctx: Context, request: HttpRequest, match: re.Match[str]) -> HttpReply:
    return _react(ctx, match, False)


# -- room files ------------------------------------------------------------------------------


def _filename(disposition: str) -> str | None:
    """`attachment; filename*=UTF-8''my%20file.txt` (RFC 5987) or `filename="x"`."""
    for part in disposition.split(";"):
        key, _, value = part.strip().partition("=")
        if key.lower() == "filename*" and value.lower().startswith("utf-8''"):
            return urllib.parse.unquote(value[7:])
        if key.lower() == "filename":
            return value.strip('"')
    return None


@_route("POST", rf"/room/{_ROOM}/file")
def _upload(ctx: Context, request: HttpRequest, match: re.Match[str]) -> HttpReply:
    user = _require_user(ctx)
    room = _room(ctx, match)
    if len(request.body) > MAX_UPLOAD:
        return HttpReply.text(413, "Payload Too Large")
    name = _filename(request.headers.get("content-disposition", ""))
    file_id = ctx.store.add_file(room["id"], user.session_id, request.body, name, ctx.now)
    return HttpReply.json(201, {"id": file_id})


@_route("GET", rf"/room/{_ROOM}/file/(?P<id>\d+)(?:/[^/]+)?")
def _download(ctx: Context, request: HttpRequest, match: re.Match[str]) -> HttpReply:
    room = _room(ctx, match)
    found = ctx.store.file(room["id"], int(match["id"]), ctx.now)
    if found is None:
        return HttpReply.text(404, "Not Found")
    data, name, uploaded, expiry = found
    disposition = "attachment"
    if name:
        disposition += "; filename*=UTF-8''" + urllib.parse.quote(name.encode("utf-8"))
    # pysogs `serve_file`: the upload time as Date, the current expiry as Expires (HTTP dates).
    headers = {"content-disposition": disposition, "date": formatdate(uploaded, usegmt=True)}
    if expiry is not None:
        headers["expires"] = formatdate(expiry, usegmt=True)
    return HttpReply(200, data, "application/octet-stream", headers)


# -- blinded DMs -----------------------------------------------------------------------------


def _blind_user(ctx: Context) -> AuthUser:
    user = _require_user(ctx)
    if not user.blinded:
        raise HttpError(401, "This endpoint requires blinded pubkeys be used")
    return user


@_route("POST", r"/inbox/(?P<sid>[12]5[0-9a-fA-F]{64})")
def _send_dm(ctx: Context, request: HttpRequest, match: re.Match[str]) -> HttpReply:
    user = _require_user(ctx)
    recipient = match["sid"]
    if not ctx.store.user_exists(recipient):  # never made an authenticated request here
        return HttpReply.text(404, "Not Found")
    body = _json_body(request)
    data = _b64_field(body.get("message"))
    if data is None:
        raise HttpError(400, "Bad Request: message is required")
    return HttpReply.json(201, ctx.store.send_dm(user.session_id, recipient, data, ctx.now))


def _box(ctx: Context, request: HttpRequest, outbox: bool, since: int | None) -> HttpReply:
    user = _blind_user(ctx)
    limit = _int_param(request, "limit", 100, 1, 256)
    messages = ctx.store.dms(user.session_id, outbox, since, limit, ctx.now)
    if not messages and since is not None:
        return HttpReply(304, b"", "text/plain; charset=utf-8")  # pysogs: Not Modified
    return HttpReply.json(200, messages)


@_route("GET", r"/inbox")
def _inbox(ctx: Context, request: HttpRequest, match: re.Match[str]) -> HttpReply:
    return _box(ctx, request, False, None)


@_route("GET", r"/inbox/since/(?P<id>\d+)")
def _inbox_since(ctx: Context, request: HttpRequest, match: re.Match[str]) -> HttpReply:
    return _box(ctx, request, False, int(match["id"]))


@_route("GET", r"/outbox")
def _outbox(ctx: Context, request: HttpRequest, match: re.Match[str]) -> HttpReply:
    return _box(ctx, request, True, None)


@_route("GET", r"/outbox/since/(?P<id>\d+)")
def _outbox_since(ctx: Context, request: HttpRequest, match: re.Match[str]) -> HttpReply:
    return _box(ctx, request, True, int(match["id"]))


@_route("DELETE", r"/inbox")
def _clear_inbox(ctx: Context, request: HttpRequest, match: re.Match[str]) -> HttpReply:
    user = _blind_user(ctx)
    return HttpReply.json(200, {"deleted": ctx.store.delete_inbox(user.session_id)})
