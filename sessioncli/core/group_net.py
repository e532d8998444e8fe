"""The NetworkClient seen as a GroupSwarm: group-swarm calls through net/groupcall.py, invites as DMs."""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sessioncli.core.group_state import StoredItem
from sessioncli.errors import ProtocolError

if TYPE_CHECKING:
    from sessioncli.net.client import NetworkClient
    from sessioncli.protocol.groups.swarm_auth import GroupAuth
    from sessioncli.protocol.ids import Identity
    from sessioncli.protocol.rpc import RpcRequest

DM_TTL_MS = 14 * 24 * 3600 * 1000


@dataclass
class GroupFetch:
    """One batched poll of a group: per namespace the union of what the members returned
    (each message once, oldest first), each member's page order (for its cursors), the
    namespaces some member refused (HTTP code), and whether a member has more."""

    items: dict[int, list[StoredItem]] = field(default_factory=dict)
    order: list[tuple[str, int, list[str]]] = field(default_factory=list)  # (node, ns, hashes)
    refused: dict[int, int] = field(default_factory=dict)
    more: bool = False
    requests: int = 0


class NetGroupSwarm:
    """Adapts NetworkClient to core.group_state.GroupSwarm."""

    def __init__(self, net: NetworkClient) -> None:
        self.net = net

    def now_ms(self) -> int:
        return self.net.now_ms()

    def send_dm(
        self, sender: Identity, recipient: str, content: bytes, *, timestamp_ms: int
    ) -> str:
        from sessioncli.protocol.message import encode_dm

        data = encode_dm(sender, recipient, content, timestamp_ms)
        return self.net.store(recipient, data, ttl_ms=DM_TTL_MS, timestamp_ms=timestamp_ms).hash

    def _call(self, group_id: str, make: Callable[[int], RpcRequest], what: str) -> dict[str, Any]:
        body = self.net.group_request(group_id, make, what=what, recursive=what != "retrieve")
        if not isinstance(body, dict):
            raise ProtocolError(f"group {what}: unexpected answer")
        return body

    def store_group(
        self, auth: GroupAuth, namespace: int, data: bytes, *, ttl_ms: int, timestamp_ms: int
    ) -> str:
        from sessioncli.protocol.groups import swarm_auth

        body = self._call(
            auth.group_id,
            lambda _now: swarm_auth.build_store(
                auth, data, namespace=namespace, ttl_ms=ttl_ms, timestamp_ms=timestamp_ms
            ),
            "store",
        )
        h = body.get("hash")
        if not isinstance(h, str):
            raise ProtocolError("group store: no message hash in the answer")
        return h

    def retrieve_group(self, auth: GroupAuth, namespace: int) -> list[StoredItem]:
        from sessioncli.protocol.groups import swarm_auth

        body = self._call(
            auth.group_id,
            lambda now: swarm_auth.build_retrieve(auth, namespace=namespace, timestamp_ms=now),
            "retrieve",
        )
        out: list[StoredItem] = []
        for m in body.get("messages", []):
            try:
                out.append(
                    StoredItem(str(m["hash"]), int(m["timestamp"]), base64.b64decode(m["data"]))
                )
            except (KeyError, TypeError, ValueError):
                continue  # one malformed entry must not cost the others
        return out

    def poll_group(
        self, auth: GroupAuth, namespaces: Sequence[int], cursors: Mapping[str, str]
    ) -> GroupFetch:
        """Every member of the group's swarm, one batch of `namespaces` each (net/groupcall.py);
        `cursors` maps net.groupcall.cursor_key(node, ns) to that member's last hash there."""
        from sessioncli.protocol.groups import swarm_auth

        def make(namespace: int, now: int, last_hash: str | None) -> RpcRequest:
            return swarm_auth.build_retrieve(
                auth, namespace=namespace, timestamp_ms=now, last_hash=last_hash
            )

        poll = self.net.group_poll(auth.group_id, make, namespaces=namespaces, cursors=cursors)
        out = GroupFetch(requests=poll.requests)
        seen: dict[int, dict[str, StoredItem]] = {n: {} for n in namespaces}
        for page in poll.pages:
            for n, code in page.refused.items():
                out.refused[n] = code
            for n, (msgs, more) in page.pages.items():
                out.more = out.more or more
                out.order.append((page.node, n, [m.hash for m in msgs]))
                for m in msgs:
                    try:
                        item = StoredItem(m.hash, m.timestamp_ms, base64.b64decode(m.data))
                    except ValueError:
                        continue  # one malformed entry must not cost the others
                    seen[n].setdefault(m.hash, item)
        for n, by_hash in seen.items():
            out.items[n] = sorted(by_hash.values(), key=lambda i: (i.timestamp_ms, i.hash))
        return out

    def delete_group(self, auth: GroupAuth, hashes: Sequence[str]) -> None:
        from sessioncli.protocol.groups import swarm_auth

        self._call(auth.group_id, lambda _now: swarm_auth.build_delete(auth, hashes), "delete")

    def revoke_subaccounts(
        self, group_sk: bytes, tokens: Sequence[bytes], *, unrevoke: bool = False
    ) -> None:
        from sessioncli.protocol.groups import swarm_auth
        from sessioncli.protocol.groups.control import group_id_of

        self._call(
            group_id_of(group_sk[32:]),
            lambda now: swarm_auth.build_revoke(group_sk, tokens, now, unrevoke=unrevoke),
            "unrevoke_subaccount" if unrevoke else "revoke_subaccount",
        )
