"""One group in memory (keys, Info, Members) and its round trips with the group swarm (sync, push)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from sessioncli.core.group_store import GroupSecrets
from sessioncli.errors import SessionCliError, UsageError

if TYPE_CHECKING:
    from sessioncli.protocol.groups.configobj import GroupConfig
    from sessioncli.protocol.groups.keys import GroupKeys
    from sessioncli.protocol.groups.swarm_auth import GroupAuth
    from sessioncli.protocol.ids import Identity


@dataclass(frozen=True)
class StoredItem:
    """One message as a swarm returns it: hash, storage timestamp, raw bytes."""

    hash: str
    timestamp_ms: int
    data: bytes = field(repr=False)


class GroupSwarm(Protocol):
    """What group use-cases need from the network (see the module docstring of core/groups.py)."""

    def now_ms(self) -> int: ...

    def store_group(
        self, auth: GroupAuth, namespace: int, data: bytes, *, ttl_ms: int, timestamp_ms: int
    ) -> str: ...

    def retrieve_group(self, auth: GroupAuth, namespace: int) -> list[StoredItem]: ...

    def delete_group(self, auth: GroupAuth, hashes: Sequence[str]) -> None: ...

    def revoke_subaccounts(
        self, group_sk: bytes, tokens: Sequence[bytes], *, unrevoke: bool = False
    ) -> None: ...

    def send_dm(
        self, sender: Identity, recipient: str, content: bytes, *, timestamp_ms: int
    ) -> str: ...


class NotAdmin(UsageError):
    """An admin command run by a member."""


class Removed(SessionCliError):
    """We were removed from the group: its new keys and posts are out of reach."""


@dataclass
class SyncResult:
    keys_loaded: int = 0
    info_changed: bool = False
    members_changed: bool = False
    kicked: bool = False
    destroyed: bool = False
    rejected: dict[str, int] = field(default_factory=dict)  # reason -> items dropped (for -v)

    def reject(self, reason: str, n: int = 1) -> None:
        if n:
            self.rejected[reason] = self.rejected.get(reason, 0) + n


@dataclass
class OpenGroup:
    """A group's live objects, made from (and saved back to) its sealed secrets."""

    identity: Identity
    secrets: GroupSecrets
    group_pk: bytes
    group_sk: bytes | None = field(repr=False)
    keys: GroupKeys = field(repr=False)
    info: GroupConfig = field(repr=False)
    members: GroupConfig = field(repr=False)

    @classmethod
    def open(cls, identity: Identity, secrets: GroupSecrets) -> OpenGroup:
        from sessioncli.protocol import crypto
        from sessioncli.protocol.groups.configobj import GroupConfig
        from sessioncli.protocol.groups.configpush import DOMAIN_INFO, DOMAIN_MEMBERS
        from sessioncli.protocol.groups.control import group_pk_of
        from sessioncli.protocol.groups.keys import GroupKeys

        group_pk = group_pk_of(secrets.group_id)
        group_sk = None
        if secrets.group_seed is not None:
            pk, group_sk = crypto.ed25519_keypair_from_seed(secrets.group_seed)
            if pk != group_pk:
                raise UsageError("the stored admin key does not belong to this group")
        me = identity.ed25519_secret

        def config(dump: bytes, domain: str) -> GroupConfig:
            if not dump:
                return GroupConfig(domain, group_pk, group_sk)
            return GroupConfig.load(dump, domain=domain, group_pk=group_pk, group_sk=group_sk)

        keys = (
            GroupKeys.load(secrets.keys_dump, group_pk=group_pk, user_ed_sk=me, group_sk=group_sk)
            if secrets.keys_dump
            else GroupKeys(group_pk, me, group_sk)
        )
        return cls(
            identity,
            secrets,
            group_pk,
            group_sk,
            keys,
            config(secrets.info_dump, DOMAIN_INFO),
            config(secrets.members_dump, DOMAIN_MEMBERS),
        )

    def to_secrets(self) -> GroupSecrets:
        from sessioncli.protocol.groups.info import read_info

        s = self.secrets
        s.keys_dump = self.keys.dump()
        s.info_dump = self.info.dump()
        s.members_dump = self.members.dump()
        name = read_info(self.info.data).name
        if name:
            s.name = name
        return s

    @property
    def admin(self) -> bool:
        return self.group_sk is not None

    def require_admin(self, what: str) -> bytes:
        if self.group_sk is None:
            raise NotAdmin(f"only a group admin can {what}; we are a member of this group")
        return self.group_sk

    def auth(self) -> GroupAuth:
        from sessioncli.protocol.groups.swarm_auth import GroupAuth

        if self.group_sk is not None:
            return GroupAuth(self.group_pk, group_sk=self.group_sk)
        return GroupAuth(
            self.group_pk, user_ed_sk=self.identity.ed25519_secret, auth_data=self.secrets.auth_data
        )

    # --- reading the swarm --------------------------------------------------------------------

    def sync(
        self,
        swarm: GroupSwarm,
        *,
        configs: bool = True,
        fetched: Mapping[int, list[StoredItem]] | None = None,
    ) -> SyncResult:
        """Read Keys, Info, Members (and -11 for members); keys are loaded before the configs.
        With `fetched` (a batched poll's items per namespace), nothing more is read."""
        from sessioncli.protocol.groups import swarm_auth as ns
        from sessioncli.protocol.groups.info import read_info
        from sessioncli.protocol.groups.keys import KeysError
        from sessioncli.protocol.groups.multi_encrypt import read_kicked_notice

        result = SyncResult()
        auth = self.auth()

        def read(namespace: int) -> list[StoredItem]:
            if fetched is not None:
                return list(fetched.get(namespace, []))
            return swarm.retrieve_group(auth, namespace)

        if not self.admin:
            # -11 first: it stays readable after our token is revoked, the others do not
            gen = self.keys.current_generation
            for item in read(ns.NS_REVOKED):
                kicked_at = read_kicked_notice(
                    item.data, self.identity.ed25519_secret, self.group_pk
                )
                if kicked_at is not None and kicked_at >= gen:
                    result.kicked = self.secrets.kicked = True
            if result.kicked:
                return result
        # desktop's order (keys fetched last); a post needs only the keys (`configs=False`)
        wanted = (ns.NS_INFO, ns.NS_MEMBERS, ns.NS_KEYS) if configs else (ns.NS_KEYS,)
        got = {n: read(n) for n in wanted}
        for item in sorted(got[ns.NS_KEYS], key=lambda i: i.timestamp_ms):
            try:
                result.keys_loaded += self.keys.load_key_message(
                    item.hash, item.data, item.timestamp_ms
                )
            except KeysError:
                result.reject("group_keys_unsigned")  # ignored, as libsession ignores it
        keys = self.keys.decryption_keys()
        before_info, before_members = self.info.message.seqno, self.members.message.seqno
        if keys and configs:
            for config, n in ((self.info, ns.NS_INFO), (self.members, ns.NS_MEMBERS)):
                good = config.merge([(i.hash, i.data) for i in got[n]], keys)
                result.reject("group_config_unsigned", len(got[n]) - len(good))
        result.info_changed = self.info.message.seqno != before_info
        result.members_changed = self.members.message.seqno != before_members
        result.destroyed = read_info(self.info.data).destroyed
        return result

    # --- writing the swarm (admins) -----------------------------------------------------------

    def push(self, swarm: GroupSwarm) -> list[str]:
        """Store a pending Keys message first, then dirty Info and Members; returns stored hashes."""
        from sessioncli.protocol.groups import swarm_auth as ns

        self.require_admin("change the group")
        auth = self.auth()
        stored: list[str] = []
        obsolete: list[str] = []
        pending = self.keys.pending
        if pending is not None:
            ts = swarm.now_ms()
            h = swarm.store_group(
                auth, ns.NS_KEYS, pending.message, ttl_ms=ns.CONFIG_TTL_MS, timestamp_ms=ts
            )
            self.keys.load_key_message(h, pending.message, ts)
            stored.append(h)
        enc_key = self.keys.encryption_key()
        for config, namespace in ((self.info, ns.NS_INFO), (self.members, ns.NS_MEMBERS)):
            if not config.dirty:
                continue
            out = config.push(enc_key)
            ts = swarm.now_ms()
            h = swarm.store_group(
                auth, namespace, out.data, ttl_ms=ns.CONFIG_TTL_MS, timestamp_ms=ts
            )
            config.confirm_pushed(out.seqno, h)
            stored.append(h)
            obsolete += out.obsolete
        if obsolete:
            swarm.delete_group(auth, sorted(set(obsolete)))
        return stored

    def rekey(self) -> None:
        """A new key for the current member list; Info and Members are re-encrypted with it."""
        from sessioncli.protocol.groups.members import read_members

        self.require_admin("rotate the group key")
        self.keys.rekey([m.session_id for m in read_members(self.members.data)])
        self.info.edit()  # dirty: the next push re-encrypts with the new key
        self.members.edit()
