"""Storage RPC of a devnet node (SPEC §4): entry points; the methods live in the submodules."""

from sessioncli.devnet.rpc.dispatch import run, run_forwarded
from sessioncli.devnet.rpc.framing import Body, RpcError, parse_request
from sessioncli.devnet.rpc.swarm import SWARM_RPC_PATH

__all__ = ["SWARM_RPC_PATH", "Body", "RpcError", "parse_request", "run", "run_forwarded"]
