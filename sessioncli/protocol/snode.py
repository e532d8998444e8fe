"""A service node (Node): where it listens, its keys and swarm, checked as it is read from JSON."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sessioncli.errors import ProtocolError
from sessioncli.protocol.jsonread import json_hex32, json_int, json_object, json_str

MAX_SWARM_ID = 2**64 - 1  # decommissioned nodes carry this id and belong to no swarm
# A dotted-quad IPv4 address as ipaddress.IPv4Address accepts it (no leading zeros, each part
# 0-255, ASCII digits only), about 7x faster: every command reads the whole node pool (~2,000
# nodes on mainnet) from its cache file.
_IPV4_PART = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_IPV4 = re.compile(rf"(?:{_IPV4_PART}\.){{3}}{_IPV4_PART}")


@dataclass(frozen=True)
class Node:
    """A service node: where it listens and its keys (lowercase hex)."""

    ip: str
    port: int
    pubkey_ed25519: str
    pubkey_x25519: str
    swarm_id: int | None

    @property
    def address(self) -> str:
        return f"{self.ip}:{self.port}"

    @property
    def subnet24(self) -> str:
        return ".".join(self.ip.split(".")[:3])

    def to_json(self) -> dict[str, Any]:
        return {
            "ip": self.ip,
            "port": self.port,
            "pubkey_ed25519": self.pubkey_ed25519,
            "pubkey_x25519": self.pubkey_x25519,
            "swarm_id": self.swarm_id,
        }

    @classmethod
    def from_json(cls, obj: Any) -> Node:
        """Read back what `to_json` wrote (cache files); ProtocolError if damaged."""
        d = json_object(obj, "node")
        swarm = d.get("swarm_id")
        if swarm is not None and (not isinstance(swarm, int) or isinstance(swarm, bool)):
            raise ProtocolError("node swarm_id is not an integer")
        return make_node(
            d.get("ip"), d.get("port"), d.get("pubkey_ed25519"), d.get("pubkey_x25519"), swarm
        )


def make_node(ip: Any, port: Any, ed: Any, x: Any, swarm_id: int | None) -> Node:
    """A Node from untrusted JSON fields: IPv4, port 1-65535 (int or digits), 32-byte hex keys."""
    ip_s = json_str(ip, "node ip")
    if _IPV4.fullmatch(ip_s) is None:
        raise ProtocolError(f"node ip {ip_s[:40]!r} is not an IPv4 address")
    if isinstance(port, str) and port.isascii() and port.isdigit() and len(port) <= 5:
        port = int(port)
    port_i = json_int(port, "node port")
    if not 0 < port_i < 65536:
        raise ProtocolError("node port out of range")
    return Node(
        ip=ip_s,
        port=port_i,
        pubkey_ed25519=json_hex32(ed, "node pubkey_ed25519"),
        pubkey_x25519=json_hex32(x, "node pubkey_x25519"),
        swarm_id=swarm_id,
    )
