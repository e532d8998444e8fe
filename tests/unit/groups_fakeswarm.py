"""An in-memory group swarm that checks requests as a storage server would (SPEC §4.2-4.3, GROUPS-V2 §4.3).

Used by the core/groups tests because the network layer cannot yet sign group requests (see the
issue-18 report); it applies the storage server's rules to the exact request parameters that
protocol/groups/swarm_auth.py builds: admin or subaccount signatures, flags, revocation, the
admin-only and unrevocable namespaces.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sessioncli.core.group_state import StoredItem
from sessioncli.errors import ProtocolError
from sessioncli.protocol import crypto, message, rpc
from sessioncli.protocol.groups import swarm_auth
from sessioncli.protocol.groups.swarm_auth import GroupAuth
from sessioncli.protocol.ids import Identity

ADMIN_ONLY_STORE = {12, 13, 14, -11}


class Refused(ProtocolError):
    """What a storage server answers 401 to."""


@dataclass
class FakeSwarm:
    t: int = 1_700_000_000_000
    stored: dict[tuple[str, int], list[StoredItem]] = field(default_factory=dict)
    revoked: dict[str, set[bytes]] = field(default_factory=dict)
    inbox: dict[str, list[str]] = field(default_factory=dict)
    requests: int = 0
    offline: set[str] = field(default_factory=set)  # recipients whose DMs fail

    def now_ms(self) -> int:
        self.t += 11
        return self.t

    def _check(self, params: dict[str, Any], signed: str, *, need: int, namespace: int) -> None:
        self.requests += 1
        group_id = params["pubkey"]
        assert group_id.startswith("03") and "pubkey_ed25519" not in params
        group_pk = bytes.fromhex(group_id[2:])
        sig = base64.b64decode(params["signature"])
        if "subaccount" not in params:
            if not crypto.verify(group_pk, signed.encode(), sig):
                raise Refused("bad admin signature")
            return
        token = base64.b64decode(params["subaccount"])
        if len(token) != 36 or (token[0] != 0x03 and not token[1] & 0x08):
            raise Refused("bad subaccount token")
        if token in self.revoked.get(group_id, set()) and not (
            namespace < 0 and str(namespace).endswith("11")
        ):
            raise Refused("subaccount revoked")
        if token[1] & need != need:
            raise Refused("subaccount lacks the permission")
        if not crypto.verify(group_pk, token, base64.b64decode(params["subaccount_sig"])):
            raise Refused("subaccount not signed by the group")
        if not crypto.verify(token[4:], signed.encode(), sig):
            raise Refused("bad subaccount signature")

    def store_group(
        self, auth: GroupAuth, namespace: int, data: bytes, *, ttl_ms: int, timestamp_ms: int
    ) -> str:
        p = swarm_auth.build_store(
            auth, data, namespace=namespace, ttl_ms=ttl_ms, timestamp_ms=timestamp_ms
        ).params
        if namespace in ADMIN_ONLY_STORE and "subaccount" in p:
            raise Refused("only the admin key may store here")
        self._check(p, rpc.store_string(namespace, timestamp_ms), need=0x02, namespace=namespace)
        h = message.message_hash(p["pubkey"], namespace, data)
        items = self.stored.setdefault((p["pubkey"], namespace), [])
        if all(i.hash != h for i in items):
            items.append(StoredItem(h, timestamp_ms, data))
        return h

    def retrieve_group(self, auth: GroupAuth, namespace: int) -> list[StoredItem]:
        ts = self.now_ms()
        p = swarm_auth.build_retrieve(auth, namespace=namespace, timestamp_ms=ts).params
        self._check(p, rpc.retrieve_string(namespace, ts), need=0x01, namespace=namespace)
        return list(self.stored.get((p["pubkey"], namespace), []))

    def delete_group(self, auth: GroupAuth, hashes: Sequence[str]) -> None:
        p = swarm_auth.build_delete(auth, hashes).params
        self._check(p, rpc.delete_string(hashes), need=0x04, namespace=0)
        for (gid, _ns), items in self.stored.items():
            if gid == p["pubkey"]:
                items[:] = [i for i in items if i.hash not in hashes]

    def revoke_subaccounts(
        self, group_sk: bytes, tokens: Sequence[bytes], *, unrevoke: bool = False
    ) -> None:
        ts = self.now_ms()
        req = swarm_auth.build_revoke(group_sk, tokens, ts, unrevoke=unrevoke)
        self.requests += 1
        signed = req.method.encode() + str(ts).encode() + b"".join(tokens)
        if not crypto.verify(group_sk[32:], signed, base64.b64decode(req.params["signature"])):
            raise Refused("bad revoke signature")
        bucket = self.revoked.setdefault(req.params["pubkey"], set())
        for t in tokens:
            (bucket.discard if unrevoke else bucket.add)(t)

    def send_dm(
        self, sender: Identity, recipient: str, content: bytes, *, timestamp_ms: int
    ) -> str:
        if recipient in self.offline:
            raise ProtocolError("recipient's swarm unreachable")
        data = message.encode_dm(sender, recipient, content, timestamp_ms)
        self.inbox.setdefault(recipient, []).append(data)
        return message.message_hash(recipient, 0, base64.b64decode(data))
