"""Swarm-space maths, pure: where a pubkey lives on the 2^64 ring and which swarm is nearest."""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence

from sessioncli.protocol.snode import MAX_SWARM_ID, Node

RING = 2**64


def swarm_space(pubkey_hex: str) -> int:
    """XOR of the four big-endian u64 words of the 32-byte key (the 1-byte prefix is ignored)."""
    raw = bytes.fromhex(pubkey_hex)
    if len(raw) != 33:
        raise ValueError("pubkey must be 33 bytes (prefix + 32)")
    key = raw[1:]
    value = 0
    for i in range(0, 32, 8):
        value ^= int.from_bytes(key[i : i + 8], "big")
    return value


def nearest_swarm(space: int, swarm_ids: Iterable[int]) -> int:
    """The swarm id nearest to `space` on the ring; ties go to the left (smaller) neighbour."""
    ids = sorted({s for s in swarm_ids if s != MAX_SWARM_ID})
    if not ids:
        raise ValueError("no swarms")
    i = bisect.bisect_left(ids, space)
    right = ids[i % len(ids)]
    left = ids[i - 1]  # i == 0 wraps to the largest
    d_right = (right - space) % RING
    d_left = (space - left) % RING
    return right if d_right < d_left else left


def swarm_members(pubkey_hex: str, nodes: Sequence[Node]) -> list[Node]:
    """The members of `pubkey_hex`'s swarm, computed offline from nodes that know their swarm_id."""
    known = [n for n in nodes if n.swarm_id is not None and n.swarm_id != MAX_SWARM_ID]
    if not known:
        return []
    sid = nearest_swarm(
        swarm_space(pubkey_hex), (n.swarm_id for n in known if n.swarm_id is not None)
    )
    return [n for n in known if n.swarm_id == sid]
