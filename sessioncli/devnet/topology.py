"""Who is in the devnet: node identities, loopback addresses, swarm ids and the swarm-space rule."""

from __future__ import annotations

import bisect
from dataclasses import dataclass

from sessioncli.devnet.crypto import NodeKeys, blake2b

# Swarm id of a decommissioned node: belongs to no swarm (SPEC §5).
INVALID_SWARM_ID = 2**64 - 1
_RING = 2**64
_ZBASE32 = "ybndrfg8ejkmcpqxot1uwisza345h769"


@dataclass(frozen=True)
class NodeSpec:
    """Static facts about one node, derived from the devnet seed and the node's index."""

    id: str  # short name the control verbs accept: n0.., seed0..
    kind: str  # "storage" or "seed"
    ip: str
    keys: NodeKeys
    swarm_id: int | None  # None for seed nodes

    @property
    def ed25519_hex(self) -> str:
        return self.keys.ed25519_pk.hex()

    @property
    def x25519_hex(self) -> str:
        return self.keys.x25519_pk.hex()


def zbase32(data: bytes) -> str:
    bits = int.from_bytes(data, "big")
    nbits = len(data) * 8
    pad = (-nbits) % 5
    bits <<= pad
    nbits += pad
    return "".join(_ZBASE32[(bits >> (nbits - 5 * (i + 1))) & 31] for i in range(nbits // 5))


def swarm_space(pubkey_hex: str) -> int:
    """XOR of the four big-endian 64-bit words of the 32-byte key (the prefix byte is ignored)."""
    raw = bytes.fromhex(pubkey_hex)[-32:]
    value = 0
    for i in range(0, 32, 8):
        value ^= int.from_bytes(raw[i : i + 8], "big")
    return value


def nearest_swarm(space: int, swarm_ids: list[int]) -> int:
    """The swarm id nearest to `space` on the 2^64 ring; ties go to the left neighbour."""
    ids = sorted(s for s in swarm_ids if s != INVALID_SWARM_ID)
    if not ids:
        raise ValueError("no swarms")
    i = bisect.bisect_left(ids, space)
    right = ids[i % len(ids)]
    left = ids[i - 1]  # i == 0 wraps to the largest id
    d_right = (right - space) % _RING
    d_left = (space - left) % _RING
    return right if d_right < d_left else left


def _ip_for(seed: str, kind: str, index: int, taken: set[str]) -> str:
    counter = 0
    while True:
        digest = blake2b(f"{seed}/ip/{kind}/{index}/{counter}".encode(), 2)
        x, y = digest[0], digest[1]
        ip = f"127.{x}.{y}.1"
        # 127.0.0.0/24 stays free for the control API and whatever else runs on localhost.
        if (x, y) != (0, 0) and ip not in taken:
            return ip
        counter += 1


def build(seed: str, nodes: int, swarm_size: int, seeds: int) -> list[NodeSpec]:
    """Seeds first, then storage nodes; node i joins swarm i mod (nodes // swarm_size)."""
    if nodes < 1 or swarm_size < 1 or seeds < 1:
        raise ValueError("nodes, swarm_size and seeds must be at least 1")
    swarm_count = max(1, nodes // swarm_size)
    swarm_ids: list[int] = []
    counter = 0
    while len(swarm_ids) < swarm_count:
        value = int.from_bytes(blake2b(f"{seed}/swarm/{counter}".encode(), 8), "big")
        counter += 1
        if value != INVALID_SWARM_ID and value not in swarm_ids:
            swarm_ids.append(value)
    taken: set[str] = set()
    specs: list[NodeSpec] = []
    for kind, count, prefix in (("seed", seeds, "seed"), ("storage", nodes, "n")):
        for i in range(count):
            ip = _ip_for(seed, kind, i, taken)
            taken.add(ip)
            keys = NodeKeys.from_seed(blake2b(f"{seed}/{kind}/{i}".encode(), 32))
            specs.append(
                NodeSpec(
                    id=f"{prefix}{i}",
                    kind=kind,
                    ip=ip,
                    keys=keys,
                    swarm_id=swarm_ids[i % swarm_count] if kind == "storage" else None,
                )
            )
    return specs
