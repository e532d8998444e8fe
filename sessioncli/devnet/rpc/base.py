"""What every storage RPC method is: a loader (parameters → request, or a 400) and a runner."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sessioncli.devnet.node import Network, Node

# Parses the params object into the method's own request value; raises RpcError(400, ...).
Loader = Callable[[dict[str, Any]], Any]
# Carries a loaded request out as `node`; `params` is what a recursive method forwards to the
# other swarm members; `forwarded` says this node got it from one of them.
Runner = Callable[[Node, Network, Any, dict[str, Any], bool], dict[str, Any]]


@dataclass(frozen=True)
class Method:
    load: Loader
    run: Runner
    recursive: bool = False  # forwarded to every other swarm member


@dataclass(frozen=True)
class Loaded:
    """A request that parsed: its method name, the method, the parsed value, the raw params."""

    name: str
    method: Method
    request: Any
    params: dict[str, Any]
