"""Storage requests on a group's swarm, signed as the admin (group key) or as a member (subaccount)."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from sessioncli.protocol import crypto, rpc
from sessioncli.protocol.groups import subaccount
from sessioncli.protocol.groups.control import group_id_of
from sessioncli.protocol.rpc import RpcRequest

NS_MESSAGES: Final = 11
NS_KEYS: Final = 12
NS_INFO: Final = 13
NS_MEMBERS: Final = 14
NS_REVOKED: Final = -11  # "you were removed" notices; readable even with a revoked subaccount
POLL_ORDER: Final = (NS_REVOKED, NS_MESSAGES, NS_INFO, NS_MEMBERS, NS_KEYS)  # as desktop polls
CONFIG_TTL_MS: Final = 30 * 24 * 3600 * 1000  # desktop TTL_DEFAULT.CONFIG_MESSAGE


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


@dataclass(frozen=True)
class GroupAuth:
    """Who signs: the admin (group secret key), or a member (their key + memberAuthData)."""

    group_pk: bytes
    group_sk: bytes | None = field(default=None, repr=False)
    user_ed_sk: bytes | None = field(default=None, repr=False)
    auth_data: bytes | None = field(default=None, repr=False)

    @property
    def group_id(self) -> str:
        return group_id_of(self.group_pk)

    @property
    def admin(self) -> bool:
        return self.group_sk is not None

    def params(self, signed_text: str) -> dict[str, Any]:
        """pubkey + signature (+ subaccount, subaccount_sig for a member); no pubkey_ed25519."""
        if self.group_sk is not None:
            return {
                "pubkey": self.group_id,
                "signature": rpc.sign_string(self.group_sk, signed_text),
            }
        if self.user_ed_sk is None or self.auth_data is None:
            raise ValueError("a member signs with its own key and the memberAuthData")
        msg = signed_text.encode("ascii")
        signed = subaccount.sign_request(msg, self.auth_data, self.user_ed_sk)
        return {"pubkey": self.group_id, **signed.as_params()}


def build_store(
    auth: GroupAuth, data: bytes, *, namespace: int, ttl_ms: int, timestamp_ms: int
) -> RpcRequest:
    return rpc.signed_store(
        auth.params, _b64(data), namespace=namespace, ttl_ms=ttl_ms, timestamp_ms=timestamp_ms
    )


def build_retrieve(
    auth: GroupAuth,
    *,
    namespace: int,
    timestamp_ms: int,
    last_hash: str | None = None,
    max_count: int | None = None,
) -> RpcRequest:
    return rpc.signed_retrieve(
        auth.params,
        namespace=namespace,
        timestamp_ms=timestamp_ms,
        last_hash=last_hash,
        max_count=max_count,
    )


def build_delete(auth: GroupAuth, hashes: Sequence[str]) -> RpcRequest:
    return rpc.signed_delete(auth.params, hashes)


def build_revoke(
    group_sk: bytes, tokens: Sequence[bytes], timestamp_ms: int, *, unrevoke: bool = False
) -> RpcRequest:
    """revoke_subaccount / unrevoke_subaccount (admin only).

    The signature covers method + timestamp + the raw tokens concatenated (SPEC §4.3; storage
    server client_rpc_endpoints.h, where `revoke`/`unrevoke` take a list of tokens).
    """
    method = "unrevoke_subaccount" if unrevoke else "revoke_subaccount"
    if not tokens or any(len(t) != subaccount.TOKEN_LEN for t in tokens):
        raise ValueError("subaccount tokens are 36 bytes each")
    signed = method.encode() + str(timestamp_ms).encode() + b"".join(tokens)
    return RpcRequest(
        method,
        {
            "pubkey": group_id_of(group_sk[32:]),
            "unrevoke" if unrevoke else "revoke": [_b64(t) for t in tokens],
            "timestamp": timestamp_ms,
            "signature": _b64(crypto.sign(group_sk, signed)),
        },
    )
