"""The devnet's Session Open Group Server: one room, reached by onion v4 (or direct HTTP), ctl, audit log."""

from __future__ import annotations

import itertools
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any

from sessioncli.devnet import lsrpc, sogs_batch, sogs_routes
from sessioncli.devnet.errors import DevnetUsageError
from sessioncli.devnet.lsrpc import HttpReply, HttpRequest
from sessioncli.devnet.server import NodeServer, Request, Response
from sessioncli.devnet.server_ctl import apply_server_verb
from sessioncli.devnet.sogs_auth import AuthFailure, authenticate
from sessioncli.devnet.sogs_crypto import SogsKeys
from sessioncli.devnet.sogs_routes import Context, Policy
from sessioncli.devnet.sogs_store import SogsStore

# garbage: 512 random bytes for every request (played by NodeServer); auth401: every request
# that carries X-SOGS-* headers is refused as if its signature were wrong.
FAULTS = ("none", "garbage", "auth401")
_SEEN_LIMIT = 5000
_BATCH_ROUTES = sogs_batch  # importing it registers /batch and /sequence


class Sogs:
    """pysogs' behaviour on its own loopback address; every request is logged with the id it
    authenticated as, so tests can prove the server only ever saw blinded ids."""

    def __init__(
        self, directory: Path, ip: str, port: int, keys: SogsKeys, room: str, policy: Policy
    ) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.keys = keys
        self._onion_keys = keys.onion_keys
        self.policy = policy
        self.room = room
        self.store = SogsStore(directory / "sogs.sqlite")
        self.store.ensure_room(room, "Devnet", "The devnet's community", time.time())
        self.server = NodeServer(ip, port, None, self._app)
        self.seen: deque[dict[str, Any]] = deque(maxlen=_SEEN_LIMIT)
        self._seq = itertools.count(1)
        self._seen_lock = threading.Lock()
        self.clock_offset = 0.0  # seconds; a skewed server clock makes every auth answer 425

    @property
    def base_url(self) -> str:
        return f"http://{self.server.ip}:{self.server.port}"

    @property
    def room_url(self) -> str:
        """The share URL as the apps show it: http://HOST:PORT/ROOM?public_key=<64 hex>."""
        return f"{self.base_url}/{self.room}?public_key={self.keys.x25519_pk.hex()}"

    def close(self) -> None:
        self.server.go_down()
        self.store.close()

    def describe(self) -> dict[str, Any]:
        return {
            "url": self.base_url,
            "room": self.room,
            "room_url": self.room_url,
            "pubkey_x25519": self.keys.x25519_pk.hex(),
            "capabilities": sogs_routes.capabilities(self.policy),
            "rate_limit": list(self.policy.rate_limit),
            "state": self.server.state,
            "fault": self.server.fault,
            "clock_offset": self.clock_offset,
            "requests": len(self.seen),
        }

    def control(self, args: list[str]) -> Any:
        """`devnet ctl sogs down|up|hang|fault MODE|clock SECONDS|seen|status`."""
        verb, rest = (args[0], args[1:]) if args else ("status", [])
        if apply_server_verb(self.server, verb, rest, FAULTS):
            pass
        elif verb == "clock" and len(rest) == 1:
            try:
                self.clock_offset = float(rest[0])
            except ValueError:
                raise DevnetUsageError(f"clock offset must be seconds, not {rest[0]!r}") from None
        elif verb == "seen" and not rest:
            with self._seen_lock:
                return list(self.seen)
        elif verb != "status" or rest:
            raise DevnetUsageError(
                "usage: ctl sogs down | up | hang | fault none|garbage|auth401 | clock SECONDS"
                " | seen | status"
            )
        return self.describe()

    # -- requests --------------------------------------------------------------------------

    def _app(self, request: Request) -> Response:
        if request.path.split("?", 1)[0] == lsrpc.V4_PATH and request.method == "POST":
            return lsrpc.serve_onion(self._onion_keys, request, self.handle)
        return lsrpc.serve_direct(request, self.handle)

    def handle(self, request: HttpRequest) -> HttpReply:
        """Authenticate (auth headers sit on the outer request; batch parts inherit them)."""
        now = time.time() + self.clock_offset
        if self.server.fault == "auth401" and request.headers.get("x-sogs-pubkey"):
            reply = HttpReply.text(
                401, "Invalid authentication: X-SOGS-Signature verification failed"
            )
            self._record(request, None, reply.code)
            return reply
        try:
            user = authenticate(request, self.store, self.keys.x25519_pk, self.policy.blind, now)
        except AuthFailure as exc:
            self._record(request, None, exc.reply.code)
            return exc.reply
        context = Context(self.store, self.policy, user, now)
        reply = sogs_routes.dispatch(context, request)
        self._record(request, user.session_id if user else None, reply.code)
        return reply

    def _record(self, request: HttpRequest, session_id: str | None, code: int) -> None:
        entry = {
            "seq": next(self._seq),
            "time_ms": int(time.time() * 1000),
            "via": request.via,
            "method": request.method,
            "path": request.target,
            "pubkey": request.headers.get("x-sogs-pubkey"),
            "session_id": session_id,
            "code": code,
        }
        with self._seen_lock:
            self.seen.append(entry)
