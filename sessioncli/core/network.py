"""Use-cases behind `nodes` and `path`: the node pool, a swarm, the onion paths and their test."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sessioncli.core import context

if TYPE_CHECKING:
    from sessioncli.net.client import Node
    from sessioncli.net.pathcheck import PathTest


@dataclass(frozen=True)
class PathView:
    hops: list[Node]  # guard first
    test: PathTest | None


def list_nodes(
    opts: context.Options, *, refresh: bool = False, swarm_of: str | None = None
) -> list[Node]:
    """The cached (or refreshed) node pool, or the swarm that holds `swarm_of`'s messages."""
    net = context.open_network(context.resolve(opts))
    try:
        if swarm_of is not None:
            return net.swarm(swarm_of, refresh=refresh)
        return net.pool(refresh=refresh)
    finally:
        net.close()


def show_paths(
    opts: context.Options, *, rebuild: bool = False, test: bool = False
) -> list[PathView]:
    """The onion paths (built if needed), each optionally tested with one request."""
    net = context.open_network(context.resolve(opts))
    try:
        paths = net.paths(rebuild=rebuild)
        if not test:
            return [PathView(hops=p, test=None) for p in paths]
        return [PathView(hops=t.path, test=t) for t in net.test_paths()]
    finally:
        net.close()
