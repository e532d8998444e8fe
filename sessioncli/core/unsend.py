"""Unsend: take back a message we sent, as desktop's "delete for everyone" does in a DM.

An UnsendRequest{timestamp, author: us} goes to the recipient and to our own swarm (our linked
devices delete their copy), then our sync copy is deleted from our swarm with a signed
`delete`. The copy in the recipient's swarm cannot be deleted by us (only its owner may): their
app deletes it on the request, and `sessioncli receive` never prints a message after its unsend.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sessioncli.core import send as send_core
from sessioncli.core.msgindex import MessageIndex
from sessioncli.errors import SessionCliError, UsageError

if TYPE_CHECKING:
    from sessioncli.net.client import NetworkClient
    from sessioncli.protocol.ids import Identity


@dataclass(frozen=True)
class UnsendResult:
    hash: str
    recipient: str
    timestamp_ms: int  # of the message taken back
    request_sent: bool  # the UnsendRequest reached the recipient's swarm
    request_hash: str | None
    devices_notified: bool  # the UnsendRequest reached our own swarm
    sync_copy_hash: str | None
    sync_copy_deleted_on: tuple[str, ...]  # our swarm's nodes that confirmed the delete
    error: str | None = None
    exit_code: int = 0
    warnings: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.request_sent

    def to_json(self) -> dict[str, Any]:
        return {
            "hash": self.hash,
            "recipient": self.recipient,
            "timestamp_ms": self.timestamp_ms,
            "ok": self.ok,
            "unsend_request": {"sent": self.request_sent, "hash": self.request_hash},
            "our_devices": {"sent": self.devices_notified},
            "sync_copy": {
                "hash": self.sync_copy_hash,
                "deleted": bool(self.sync_copy_deleted_on),
                "deleted_on": list(self.sync_copy_deleted_on),
            },
            "error": self.error,
        }


def unsend(
    identity: Identity, net: NetworkClient, folder: Path, msg_hash: str, *, ttl_ms: int
) -> UnsendResult:
    from sessioncli.protocol.message_build import build_unsend_request

    index = MessageIndex(folder)
    target = index.get(msg_hash)
    if target.author != identity.session_id:
        raise UsageError(
            f"cannot unsend {target.hash}: {target.author[:10]}… wrote it, not this identity"
        )

    def build(timestamp_ms: int, _sync_target: str | None) -> bytes:
        return build_unsend_request(
            timestamp_ms, message_timestamp_ms=target.timestamp_ms, author=identity.session_id
        )

    # send_messages' "sync copy" of the request is the copy for our own devices
    (sent,) = send_core.send_messages(
        identity,
        net,
        [send_core.Recipient(target.conversation)],
        "",
        ttl_ms=ttl_ms,
        display_name=None,
        state_folder=folder,
        content=build,
    )
    result = UnsendResult(
        hash=target.hash,
        recipient=target.conversation,
        timestamp_ms=target.timestamp_ms,
        request_sent=False,
        request_hash=None,
        devices_notified=False,
        sync_copy_hash=target.sync_hash,
        sync_copy_deleted_on=(),
    )
    if not sent.ok:
        return replace(result, error=sent.error, exit_code=sent.exit_code)
    warnings = list(sent.warnings)
    deleted: tuple[str, ...] = ()
    if target.sync_hash:
        try:
            deleted = tuple(net.delete(identity, [target.sync_hash]))
        except SessionCliError as exc:
            warnings.append(f"deleting our sync copy failed: {exc.message}")
    index.remove(target.hash)
    return replace(
        result,
        request_sent=True,
        request_hash=sent.hash,
        devices_notified=sent.sync_copy,
        sync_copy_deleted_on=deleted,
        warnings=tuple(warnings),
    )
