"""The ctl verbs every devnet HTTP service takes (down, up, hang, fault MODE): ctl fileserver, ctl sogs."""

from __future__ import annotations

from collections.abc import Sequence

from sessioncli.devnet.errors import DevnetUsageError
from sessioncli.devnet.server import NodeServer


def apply_server_verb(
    server: NodeServer, verb: str, rest: Sequence[str], faults: Sequence[str]
) -> bool:
    """Carry out one of the shared verbs on `server`; False if `verb rest` is none of them."""
    if verb == "down" and not rest:
        server.go_down()
    elif verb == "up" and not rest:
        server.start()
    elif verb == "hang" and not rest:
        server.hang()
    elif verb == "fault" and len(rest) == 1:
        if rest[0] not in faults:
            raise DevnetUsageError(f"unknown fault '{rest[0]}' (one of {', '.join(faults)})")
        server.fault = rest[0]
    else:
        return False
    return True
