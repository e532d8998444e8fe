"""A local Session network (seed + storage nodes + onion routing); shares no code with the client."""

from sessioncli.devnet.cluster import Devnet
from sessioncli.devnet.errors import (
    DevnetAlreadyRunning,
    DevnetDirError,
    DevnetNotRunning,
    DevnetUsageError,
)

__all__ = [
    "Devnet",
    "DevnetAlreadyRunning",
    "DevnetDirError",
    "DevnetNotRunning",
    "DevnetUsageError",
]
