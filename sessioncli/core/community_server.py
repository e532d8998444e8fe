"""Authenticated requests to one SOGS through onion v4, and what each HTTP answer means to a user.

Error mapping (documented in README "Communities"): no answer / path trouble → 69 or 75 (from
`NetworkClient.server_request`); 429 and 5xx → 75 with the server's words; 401 (signature
refused), 425 (clock or nonce refused), 403 (not allowed), other 4xx → 1; a reply that is not
what SOGS sends → 1.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sessioncli.errors import ProtocolError, TemporaryFailure
from sessioncli.protocol import crypto, onion, sogs

if TYPE_CHECKING:
    from sessioncli.net.client import NetworkClient
    from sessioncli.protocol.ids import Identity

MAX_REPLY_BYTES = 8_000_000


class RoomMissing(ProtocolError):
    """The server answered that the room (or the DM recipient) does not exist (exit 1)."""


def server_target(url: sogs.CommunityUrl) -> onion.ServerTarget:
    host = url.host.strip("[]")
    return onion.ServerTarget(host, url.server_pk, protocol=url.scheme, port=url.port)


def check_reply(reply: onion.V4Reply | sogs.SubReply, what: str, host: str) -> None:
    """Raise the error a non-2xx answer stands for (one line naming the server)."""
    code = reply.code
    if 200 <= code < 300 or code == 304:
        return
    raw = reply.body if isinstance(reply.body, bytes) else str(reply.body or "").encode()
    words = sogs.error_words(raw)
    said = f": {words}" if words else ""
    if code == 429:
        raise TemporaryFailure(
            f"{host} is rate limiting us ({what}, 429){said}",
            hints=("wait a little and try again",),
        )
    if code >= 500:
        raise TemporaryFailure(f"{host} failed ({what}, HTTP {code}){said}")
    if code == 401:
        raise ProtocolError(f"{host} refused our request signature ({what}, 401){said}")
    if code == 425:
        raise ProtocolError(
            f"{host} refused our request time or nonce ({what}, 425){said}",
            hints=("check this machine's clock: the server accepts ±24 hours",),
        )
    if code == 403:
        raise ProtocolError(f"{host} does not allow this ({what}, 403){said}")
    if code == 404:
        raise RoomMissing(f"{host}: {what}: not found (404){said}")
    raise ProtocolError(f"{host} refused {what} (HTTP {code}){said}")


@dataclass
class ServerSession:
    """One identity talking to one server; signs every request but `/capabilities`."""

    net: NetworkClient
    identity: Identity
    url: sogs.CommunityUrl
    blinded: bool = True
    timeout: float | None = None

    @property
    def signer(self) -> sogs.Signer:
        return sogs.Signer(self.identity.ed25519_secret, self.url.server_pk, blinded=self.blinded)

    @property
    def our_id(self) -> str:
        """How the server (and every reader) sees us: our 15 id, or 05 when not blinded."""
        if self.blinded:
            return self.signer.pubkey_header
        return self.identity.session_id

    def request(
        self,
        method: str,
        endpoint: str,
        body: bytes | None = None,
        *,
        auth: bool = True,
        headers: dict[str, str] | None = None,
        max_reply_bytes: int = MAX_REPLY_BYTES,
    ) -> onion.V4Reply:
        """One request; `headers` replace the JSON Content-Type (a room file upload sends its own)."""
        if headers is None:
            headers = {"Content-Type": "application/json"} if body is not None else {}
        headers = dict(headers)
        if auth:
            headers.update(
                sogs.auth_headers(
                    self.signer,
                    method,
                    endpoint,
                    body,
                    nonce=crypto.random_bytes(16),
                    timestamp=int(time.time()),
                )
            )
        return self.net.server_request(
            server_target(self.url),
            method,
            endpoint,
            headers=headers,
            body=body,
            timeout=self.timeout,
            max_reply_bytes=max_reply_bytes,
        )

    def call(
        self,
        method: str,
        endpoint: str,
        body: bytes | None = None,
        *,
        what: str,
        auth: bool = True,
        headers: dict[str, str] | None = None,
        max_reply_bytes: int = MAX_REPLY_BYTES,
    ) -> onion.V4Reply:
        reply = self.request(
            method, endpoint, body, auth=auth, headers=headers, max_reply_bytes=max_reply_bytes
        )
        check_reply(reply, what, self.url.host)
        return reply
