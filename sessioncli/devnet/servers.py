"""The devnet's non-node servers (file server, SOGS): addresses, ports, start/stop, network.json, ctl."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sessioncli.devnet.crypto import NodeKeys, blake2b
from sessioncli.devnet.errors import DevnetUsageError
from sessioncli.devnet.fileserver import FileServer
from sessioncli.devnet.sogs import Sogs
from sessioncli.devnet.sogs_crypto import SogsKeys
from sessioncli.devnet.sogs_routes import Policy

_PORTS_FILE = "servers-ports.json"


@dataclass(frozen=True)
class SogsOptions:
    """How `devnet up` configures its SOGS."""

    room: str = "devnet"
    rate_limit: tuple[int, float] = (5, 16.0)  # posts per seconds per user; (0, 0) = off
    blind: bool = True  # advertise `blind` and refuse unblinded (00) keys, as pysogs does


def parse_rate_limit(text: str) -> tuple[int, float]:
    """`5/16` → (5, 16.0): at most 5 posts in any 16 s per user; `off` or `0` → no limit."""
    if text.strip().lower() in ("off", "0", "none"):
        return (0, 0.0)
    count, sep, seconds = text.partition("/")
    try:
        parsed = (int(count), float(seconds))
    except ValueError:
        parsed = (0, -1.0)
    if not sep or parsed[0] < 1 or parsed[1] <= 0:
        raise DevnetUsageError(
            f"--sogs-rate-limit must be COUNT/SECONDS (e.g. 5/16) or off, not {text!r}"
        )
    return parsed


def server_ip(seed: str, name: str, taken: set[str]) -> str:
    """A loopback 127.X.Y.1 of its own (a /24 no node uses), derived from the devnet seed."""
    counter = 0
    while True:
        digest = blake2b(f"{seed}/server-ip/{name}/{counter}".encode(), 2)
        ip = f"127.{digest[0]}.{digest[1]}.1"
        if (digest[0], digest[1]) != (0, 0) and ip not in taken:
            return ip
        counter += 1


class Servers:
    """Starts the file server and the SOGS next to the nodes; all state lives under DIR."""

    def __init__(self, directory: Path, seed: str, node_ips: set[str], sogs: SogsOptions) -> None:
        self.directory = directory
        taken = set(node_ips)
        ports = self._load_ports()
        fs_ip = server_ip(seed, "fileserver", taken)
        taken.add(fs_ip)
        fs_keys = NodeKeys.from_seed(blake2b(f"{seed}/fileserver".encode(), 32))
        self.fileserver = FileServer(
            directory / "fileserver", fs_ip, ports.get("fileserver", 0), fs_keys
        )
        sogs_ip = server_ip(seed, "sogs", taken)
        self.sogs = Sogs(
            directory / "sogs",
            sogs_ip,
            ports.get("sogs", 0),
            SogsKeys(blake2b(f"{seed}/sogs".encode(), 32)),
            sogs.room,
            Policy(blind=sogs.blind, rate_limit=sogs.rate_limit),
        )

    def start(self) -> None:
        self.fileserver.server.start()
        self.sogs.server.start()
        self.save_ports()

    def stop(self) -> None:
        self.fileserver.close()
        self.sogs.close()

    def network_entries(self) -> dict[str, Any]:
        fs = self.fileserver
        return {
            "file_server": {
                "url": fs.url,
                "pubkey_x25519": fs.keys.x25519_pk.hex(),
                "pubkey_ed25519": fs.keys.ed25519_pk.hex(),
            },
            "communities": [self.sogs.room_url],
        }

    def control(self, server: str, args: list[str]) -> Any:
        if server == "fileserver":
            result = self.fileserver.control(args)
        elif server == "sogs":
            result = self.sogs.control(args)
        else:
            raise DevnetUsageError(f"unknown server {server}")
        self.save_ports()  # `up` may have had to take a new port
        return result

    def _load_ports(self) -> dict[str, int]:
        try:
            raw = json.loads((self.directory / _PORTS_FILE).read_text())
        except (OSError, ValueError):
            return {}
        if not isinstance(raw, dict):
            return {}
        return {k: v for k, v in raw.items() if isinstance(v, int)}

    def save_ports(self) -> None:
        ports = {"fileserver": self.fileserver.port, "sogs": self.sogs.server.port}
        path = self.directory / _PORTS_FILE
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(ports) + "\n")
        os.replace(tmp, path)
