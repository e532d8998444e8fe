"""A running node (its clock, store, counters, what it saw) and the network view every node shares."""

from __future__ import annotations

import itertools
import threading
import time
from collections import Counter, deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from sessioncli.devnet import crypto
from sessioncli.devnet.bus import NodeBus
from sessioncli.devnet.crypto import NodeKeys
from sessioncli.devnet.ons import Registry
from sessioncli.devnet.peers import PeerPool
from sessioncli.devnet.server import DOWN, NodeServer
from sessioncli.devnet.store import MessageStore
from sessioncli.devnet.topology import NodeSpec, nearest_swarm, swarm_space, zbase32

DEFAULT_HARDFORK = (19, 4)
STORAGE_VERSION = [2, 8, 0]
_SEEN_LIMIT = 1000
# Entries a per-request cache keeps before it starts over (bounded memory on a long run).
_CACHE_LIMIT = 4096
# Forwarded bodies remembered as verified: the members check one right after it is sent, so a few
# suffice, and a body can be ~100 kB.
_VERIFIED_LIMIT = 64
_seen_seq = itertools.count(1)


@dataclass
class Node:
    """Runtime of one node. `server` is its front end; `store` is None for seed nodes."""

    spec: NodeSpec
    server: NodeServer
    store: MessageStore | None
    clock_offset: float = 0.0
    requests: Counter[str] = field(default_factory=Counter)
    methods: Counter[str] = field(default_factory=Counter)
    seen: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=_SEEN_LIMIT))
    _count_lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def id(self) -> str:
        return self.spec.id

    @property
    def ip(self) -> str:
        return self.spec.ip

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def keys(self) -> NodeKeys:
        return self.spec.keys

    @property
    def state(self) -> str:
        return self.server.state

    @property
    def fault(self) -> str:
        return self.server.fault

    def now_ms(self) -> int:
        return int((time.time() + self.clock_offset) * 1000)

    def count(self, endpoint: str) -> None:
        with self._count_lock:
            self.requests[endpoint] += 1

    def count_method(self, method: str) -> None:
        with self._count_lock:
            self.methods[method] += 1

    def record_seen(self, entry: dict[str, Any]) -> None:
        entry["seq"] = next(_seen_seq)
        entry["time_ms"] = int(time.time() * 1000)
        self.seen.append(entry)


class Network:
    """What every node knows about the others: addresses, keys, swarms; plus shared plumbing."""

    def __init__(
        self,
        nodes: list[Node],
        relay_timeout: float,
        replication_timeout: float,
        hardfork: tuple[int, int] = DEFAULT_HARDFORK,
        ons: Registry | None = None,
        in_process_peers: bool = True,
    ) -> None:
        self.nodes = nodes
        self.hardfork = hardfork
        self.ons = ons if ons is not None else Registry()  # what oxend's ons_resolve knows
        self.by_id = {n.id: n for n in nodes}
        self.storage = [n for n in nodes if n.spec.kind == "storage"]
        self.by_ed25519 = {n.spec.ed25519_hex: n for n in self.storage}
        self.swarm_ids = sorted(
            {n.spec.swarm_id for n in self.storage if n.spec.swarm_id is not None}
        )
        # Both asked several times per store (entry node, each member): computed once each.
        self._members = {
            swarm_id: [n for n in self.storage if n.spec.swarm_id == swarm_id]
            for swarm_id in self.swarm_ids
        }
        self._swarm_by_key: dict[str, int] = {}
        # (sender, signature) -> the forwarded body it was found valid for (see verified_peer).
        self._verified: dict[tuple[str, bytes], bytes] = {}
        self.relay_timeout = relay_timeout
        self.replication_timeout = replication_timeout
        # Node-to-node requests: in-process between these nodes (bus.py says why), or all HTTPS.
        self.peers: NodeBus | PeerPool = (
            NodeBus([n.server for n in nodes]) if in_process_peers else PeerPool()
        )
        self.executor = ThreadPoolExecutor(max_workers=64, thread_name_prefix="devnet-fanout")

    @property
    def hf(self) -> list[int]:
        """The `hf` field of replies: [major, minor]."""
        return list(self.hardfork)

    def swarm_of(self, pubkey_hex: str) -> int:
        swarm_id = self._swarm_by_key.get(pubkey_hex)
        if swarm_id is None:
            swarm_id = nearest_swarm(swarm_space(pubkey_hex), self.swarm_ids)
            if len(self._swarm_by_key) >= _CACHE_LIMIT:
                self._swarm_by_key.clear()
            self._swarm_by_key[pubkey_hex] = swarm_id
        return swarm_id

    def members(self, swarm_id: int) -> list[Node]:
        return list(self._members.get(swarm_id, ()))

    def verified_peer(self, sender: Node, signature: bytes, body: bytes) -> bool:
        """Whether `signature` is `sender`'s over `body`. Every member checks the same forwarded
        request: a (sender, signature) already found valid for these very bytes is not checked
        again (verification is deterministic, so the answer is the same)."""
        key = (sender.spec.ed25519_hex, signature)
        if self._verified.get(key) == body:
            return True
        if not crypto.verify_ed25519(signature, body, sender.keys.ed25519_pk):
            return False
        if len(self._verified) >= _VERIFIED_LIMIT:
            self._verified.clear()
        self._verified[key] = body
        return True

    def swarm_json(
        self, swarm_id: int, now_ms: int, leave_out: Node | None = None
    ) -> dict[str, Any]:
        """The get_swarm / 421 body: every registered member (a crashed host stays registered)."""
        snodes = [
            {
                "address": _snode_address(n),
                "pubkey_legacy": n.spec.ed25519_hex,
                "pubkey_x25519": n.spec.x25519_hex,
                "pubkey_ed25519": n.spec.ed25519_hex,
                "port": str(n.port),
                "port_https": n.port,
                "port_omq": n.port,
                "port_quic": n.port,
                "ip": n.ip,
            }
            for n in self.members(swarm_id)
            if n is not leave_out
        ]
        return {"snodes": snodes, "swarm": format(swarm_id, "x"), "t": now_ms, "hf": self.hf}

    def service_node_states(self, params: dict[str, Any]) -> dict[str, Any]:
        """oxend's get_n_service_nodes result (SPEC §5), from the seed or via oxend_request."""
        active_only = bool(params.get("active_only", False))
        fields = params.get("fields")
        wanted: set[str] | None = None
        if isinstance(fields, dict) and fields:
            wanted = {k for k, v in fields.items() if v}
        elif isinstance(fields, list) and fields:
            wanted = {str(k) for k in fields}
        states = []
        for n in self.storage:
            down = n.state == DOWN
            if down and active_only:
                continue
            # A node that stopped sending proofs shows as oxend shows it: no ip, no swarm.
            entry: dict[str, Any] = {
                "public_ip": "0.0.0.0" if down else n.ip,
                "storage_port": n.port,
                "storage_lmq_port": n.port,
                "pubkey_x25519": n.spec.x25519_hex,
                "pubkey_ed25519": n.spec.ed25519_hex,
                "service_node_pubkey": n.spec.ed25519_hex,
                "swarm_id": 2**64 - 1 if down else n.spec.swarm_id,
                "requested_unlock_height": 0,
                "active": not down,
                "funded": True,
            }
            if wanted is not None:
                entry = {k: v for k, v in entry.items() if k in wanted}
            states.append(entry)
        limit = params.get("limit")
        if isinstance(limit, int) and not isinstance(limit, bool) and 0 < limit < len(states):
            states = states[:limit]
        height = chain_height()
        return {
            "service_node_states": states,
            "height": height,
            "target_height": height,
            "hardfork": self.hardfork[0],
            "status": "OK",
        }

    def close(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)
        self.peers.close()


def chain_height() -> int:
    """A plausible, slowly growing block height (one block per two minutes)."""
    return 1_000_000 + int(time.time()) // 120 % 1_000_000


def _snode_address(node: Node) -> str:
    return zbase32(node.keys.ed25519_pk) + ".snode"
