"""The Devnet: builds the nodes in a folder, starts and stops them, and carries out control verbs."""

from __future__ import annotations

import fcntl
import hashlib
import http.client
import json
import os
import ssl
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sessioncli.devnet import onion, rpc
from sessioncli.devnet.control import ControlServer, VerbTable, need_args
from sessioncli.devnet.errors import DevnetAlreadyRunning, DevnetDirError, DevnetUsageError
from sessioncli.devnet.node import DEFAULT_HARDFORK, Network, Node
from sessioncli.devnet.ons import Registry
from sessioncli.devnet.server import FAULTS, App, NodeServer, Request, Response
from sessioncli.devnet.servers import Servers, SogsOptions
from sessioncli.devnet.store import MessageStore
from sessioncli.devnet.tls import ensure_certificate, server_context
from sessioncli.devnet.topology import NodeSpec, build

NETWORK_FILE = "network.json"
CONTROL_FILE = "control.json"
_PORTS_FILE = "ports.json"
_ONS_FILE = "ons.json"
_LOCK_FILE = "devnet.lock"
_READY_PATH = "/devnet/ready"
_PURGE_INTERVAL = 10.0


class Devnet:
    """A local Session network in `directory`: `seeds` seed nodes and `nodes` storage nodes.

    Everything under `directory` survives a restart: certificates, ports, messages."""

    def __init__(
        self,
        directory: Path,
        nodes: int = 15,
        swarm_size: int = 5,
        seed: str = "sessioncli-devnet",
        seeds: int = 1,
        *,
        relay_timeout: float = 3.0,
        replication_timeout: float = 2.0,
        sogs: SogsOptions | None = None,
        hardfork: tuple[int, int] = DEFAULT_HARDFORK,
        in_process_peers: bool = True,
    ) -> None:
        if nodes < 1 or swarm_size < 1 or seeds < 1:
            raise DevnetUsageError("--nodes, --swarm-size and --seeds must be at least 1")
        if nodes > 2000:
            raise DevnetUsageError("--nodes must be at most 2000")
        self.directory = Path(directory).absolute()
        self.node_count = nodes
        self.swarm_size = swarm_size
        self.seed = seed
        self.seed_count = seeds
        self.hardfork = hardfork
        self._relay_timeout = relay_timeout
        self._replication_timeout = replication_timeout
        self._in_process_peers = in_process_peers
        self._lock_fd: int | None = None
        self._net: Network | None = None
        self._control: ControlServer | None = None
        self._stop = threading.Event()
        self._ctl_lock = threading.Lock()
        self._sogs_options = sogs or SogsOptions()
        self._servers: Servers | None = None  # file server and SOGS
        self.verbs = VerbTable()
        self._register_verbs()

    # -- life cycle ------------------------------------------------------------------------

    @property
    def network_file(self) -> Path:
        return self.directory / NETWORK_FILE

    @property
    def control_file(self) -> Path:
        return self.directory / CONTROL_FILE

    @property
    def name(self) -> str:
        return "devnet-" + hashlib.blake2b(self.seed.encode()).hexdigest()[:8]

    def start(self) -> Devnet:
        """Start every node; returns once each one answers and network.json is written."""
        self._prepare_directory()
        try:
            self._start_nodes()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._lock_fd is not None:  # only the devnet that owns the folder cleans it
            for path in (self.network_file, self.control_file):
                path.unlink(missing_ok=True)
        if self._control is not None:
            self._control.go_down()
            self._control = None
        servers, self._servers = self._servers, None
        if servers is not None:
            servers.stop()
        net, self._net = self._net, None
        if net is not None:
            for node in net.nodes:
                node.server.go_down()
            net.close()
            for node in net.nodes:
                if node.store is not None:
                    node.store.close()
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def __enter__(self) -> Devnet:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _prepare_directory(self) -> None:
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.directory / _LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise DevnetDirError(
                f"cannot use {self.directory} as devnet folder: {exc.strerror}"
            ) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise DevnetAlreadyRunning(f"a devnet is already running in {self.directory}") from None
        self._lock_fd = fd
        # A file left by a run that died must not pass for a ready network.
        self.network_file.unlink(missing_ok=True)
        self.control_file.unlink(missing_ok=True)

    def _start_nodes(self) -> None:
        specs = build(self.seed, self.node_count, self.swarm_size, self.seed_count)
        ports = self._load_ports()
        certs = self.directory / "certs"
        data = self.directory / "data"
        data.mkdir(exist_ok=True)
        nodes: list[Node] = []
        try:
            for spec in specs:
                tag = f"{spec.id}-{spec.ed25519_hex[:16]}"
                cert, key = ensure_certificate(certs, tag, spec.ip)
                ctx = server_context(cert, key)
                store = MessageStore(data / f"{tag}.sqlite") if spec.kind == "storage" else None
                server = NodeServer(spec.ip, ports.get(spec.id, 0), ctx, _not_ready)
                nodes.append(Node(spec=spec, server=server, store=store))
        except BaseException:
            # each store holds its file exclusively: a failed start must not keep them locked
            for n in nodes:
                if n.store is not None:
                    n.store.close()
            raise
        net = Network(
            nodes,
            self._relay_timeout,
            self._replication_timeout,
            self.hardfork,
            Registry(self.directory / _ONS_FILE),
            in_process_peers=self._in_process_peers,
        )
        self._net = net
        for node in nodes:
            node.server.app = _make_app(node, net)  # needs the finished network view
            node.server.start()
        self._save_ports({n.id: n.port for n in nodes})
        self._wait_until_answering(nodes)
        self._servers = Servers(
            self.directory, self.seed, {n.ip for n in nodes}, self._sogs_options
        )
        self._servers.start()
        self._control = ControlServer(self.verbs)
        self._control.start(self.control_file)
        threading.Thread(target=self._purge_loop, name="devnet-purge", daemon=True).start()
        self._write_network_file(nodes)

    def _wait_until_answering(self, nodes: list[Node]) -> None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        deadline = time.monotonic() + 10.0
        for node in nodes:
            while True:
                conn = http.client.HTTPSConnection(node.ip, node.port, timeout=2.0, context=context)
                try:
                    conn.request("GET", _READY_PATH)
                    if conn.getresponse().status == 200:
                        break
                except OSError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.02)
                finally:
                    conn.close()

    def _write_network_file(self, nodes: list[Node]) -> None:
        seeds = []
        for node in nodes:
            if node.spec.kind != "seed":
                continue
            cert_file = self.directory / "certs" / f"{node.id}-{node.spec.ed25519_hex[:16]}.crt"
            seeds.append(
                {"url": f"https://{node.ip}:{node.port}", "cert_pem": cert_file.read_text()}
            )
        document = {
            "name": self.name,
            "seeds": seeds,
            "devnet": {
                "control": str(self.control_file),
                "nodes": self.node_count,
                "swarm_size": self.swarm_size,
                "hardfork": list(self.hardfork),
            },
        }
        if self._servers is not None:
            document.update(self._servers.network_entries())
        _atomic_write(self.network_file, json.dumps(document, indent=2) + "\n")

    def _load_ports(self) -> dict[str, int]:
        try:
            raw = json.loads((self.directory / _PORTS_FILE).read_text())
        except (OSError, ValueError):
            return {}
        if not isinstance(raw, dict) or raw.get("seed") != self.seed:
            return {}
        ports = raw.get("ports", {})
        return (
            {k: v for k, v in ports.items() if isinstance(v, int)}
            if isinstance(ports, dict)
            else {}
        )

    def _save_ports(self, ports: dict[str, int]) -> None:
        _atomic_write(
            self.directory / _PORTS_FILE, json.dumps({"seed": self.seed, "ports": ports}) + "\n"
        )

    def _purge_loop(self) -> None:
        while not self._stop.wait(_PURGE_INTERVAL):
            net = self._net
            if net is None:
                return
            for node in net.storage:
                if node.store is not None:
                    try:
                        node.store.purge_expired(node.now_ms())
                    except Exception:  # a store closed by stop() meanwhile
                        return

    # -- control verbs ---------------------------------------------------------------------

    def _network(self) -> Network:
        if self._net is None:
            raise DevnetUsageError("the devnet is not running")
        return self._net

    def _nodes(self, ids: Sequence[str]) -> list[Node]:
        net = self._network()
        if not ids:
            raise DevnetUsageError("name at least one node (see `list`)")
        unknown = [i for i in ids if i not in net.by_id]
        if unknown:
            raise DevnetUsageError(f"unknown node {', '.join(unknown)} (see `list`)")
        return [net.by_id[i] for i in ids]

    def _register_verbs(self) -> None:
        add = self.verbs.add
        add("list", lambda args: self.describe_nodes(), "list")
        add("stats", lambda args: self.stats(), "stats")
        add("down", self.down, "down NODE...")
        add("up", self.up, "up NODE...")
        add("hang", self.hang, "hang NODE...")
        add("seen", lambda args: self.seen(*need_args(args, 1, "seen NODE")), "seen NODE")
        add(
            "fault",
            lambda args: self.fault(*need_args(args, 2, "fault NODE MODE")),
            "fault NODE MODE",
        )
        add("clock", self._clock_verb, "clock NODE SECONDS")
        add("ons", self._ons_verb, "ons add NAME SESSION_ID | ons list")
        add("fileserver", lambda args: self.server_control("fileserver", args), "fileserver VERB")
        add("sogs", lambda args: self.server_control("sogs", args), "sogs VERB")

    def _clock_verb(self, args: list[str]) -> dict[str, Any]:
        node_id, text = need_args(args, 2, "clock NODE SECONDS")
        try:
            seconds = float(text)
        except ValueError:
            raise DevnetUsageError(
                f"clock offset must be a number of seconds, not {text!r}"
            ) from None
        return self.clock(node_id, seconds)

    def _ons_verb(self, args: list[str]) -> Any:
        if args[:1] == ["list"] and len(args) == 1:
            return self.ons_names()
        if args[:1] == ["add"] and len(args) == 3:
            return self.ons_add(args[1], args[2])
        raise DevnetUsageError("usage: ctl ons add NAME SESSION_ID | ctl ons list")

    def ons_add(self, name: str, session_id: str) -> dict[str, Any]:
        """Register (or re-point) a Session name; oxend_request ons_resolve answers it."""
        return self._network().ons.add(name, session_id)

    def ons_names(self) -> list[dict[str, Any]]:
        return self._network().ons.names()

    def describe_nodes(self) -> list[dict[str, Any]]:
        """Every node as `ctl list` shows it (id, kind, address, keys, swarm, state, fault...)."""
        return [_describe(n) for n in self._network().nodes]

    def down(self, ids: Sequence[str]) -> list[dict[str, Any]]:
        nodes = self._nodes(ids)
        with self._ctl_lock:
            for node in nodes:
                node.server.go_down()
        return [_describe(n) for n in nodes]

    def up(self, ids: Sequence[str]) -> list[dict[str, Any]]:
        nodes = self._nodes(ids)
        with self._ctl_lock:
            for node in nodes:
                node.server.start()
            everyone = self._network().nodes
            self._save_ports({n.id: n.port for n in everyone})
            # A seed that had to take a new port must be findable through network.json.
            self._write_network_file(everyone)
        return [_describe(n) for n in nodes]

    def hang(self, ids: Sequence[str]) -> list[dict[str, Any]]:
        nodes = self._nodes(ids)
        with self._ctl_lock:
            for node in nodes:
                node.server.hang()
        return [_describe(n) for n in nodes]

    def clock(self, node_id: str, seconds: float) -> dict[str, Any]:
        (node,) = self._nodes([node_id])
        node.clock_offset = float(seconds)
        return _describe(node)

    def fault(self, node_id: str, mode: str) -> dict[str, Any]:
        if mode not in FAULTS:
            raise DevnetUsageError(f"unknown fault '{mode}' (one of {', '.join(FAULTS)})")
        (node,) = self._nodes([node_id])
        node.server.fault = mode
        return _describe(node)

    def stats(self) -> dict[str, Any]:
        return {
            n.id: {
                "requests": dict(n.requests),
                "methods": dict(n.methods),
                "messages": n.store.count() if n.store is not None else 0,
            }
            for n in self._network().nodes
        }

    def seen(self, node_id: str) -> list[dict[str, Any]]:
        (node,) = self._nodes([node_id])
        return list(node.seen)

    def server_control(self, server: str, args: Sequence[str]) -> Any:
        """`ctl fileserver|sogs ...`: steer the file server or the SOGS (see servers.py)."""
        if self._servers is None:
            raise DevnetUsageError("the devnet is not running")
        with self._ctl_lock:
            result = self._servers.control(server, list(args))
            self._write_network_file(self._network().nodes)  # `up` may have moved a port
        return result

    def node_for(self, node_id: str) -> NodeSpec:
        """The static facts of one node (keys included): for in-process tests."""
        return self._nodes([node_id])[0].spec

    def node_server(self, node_id: str) -> NodeServer:
        """The front end of one node (state, fault, app): for in-process tests of the transports."""
        return self._nodes([node_id])[0].server


def _describe(node: Node) -> dict[str, Any]:
    return {
        "id": node.id,
        "kind": node.spec.kind,
        "address": f"{node.ip}:{node.port}",
        "ip": node.ip,
        "port": node.port,
        "pubkey_ed25519": node.spec.ed25519_hex,
        "pubkey_x25519": node.spec.x25519_hex,
        "swarm": format(node.spec.swarm_id, "x") if node.spec.swarm_id is not None else None,
        "state": node.state,
        "fault": node.fault,
        "clock_offset": node.clock_offset,
    }


def _not_ready(request: Request) -> Response:
    return Response.text(503, "Service node is not ready: starting")


def _make_app(node: Node, net: Network) -> App:
    storage = node.spec.kind == "storage"

    def app(request: Request) -> Response:
        path = request.path.split("?", 1)[0]
        if path == _READY_PATH:
            return Response(200, b"{}")
        node.count(path)
        if request.method != "POST":
            return Response.text(405, "Method not allowed")
        if not storage:
            if path == "/json_rpc":
                return _seed_rpc(net, request.body)
            return Response.text(404, "Not found")
        if path == "/storage_rpc/v1":
            try:
                method, params = rpc.parse_request(request.body)
            except rpc.RpcError as exc:
                return _rpc_response(exc.status, exc.body)
            return _rpc_response(*rpc.run(node, net, method, params))
        if path == onion.ONION_PATH:
            return onion.handle(node, net, request)
        if path == rpc.SWARM_RPC_PATH:
            return _rpc_response(*rpc.run_forwarded(node, net, request.body, request.headers))
        return Response.text(404, "Not found")

    return app


def _rpc_response(status: int, body: rpc.Body) -> Response:
    if isinstance(body, dict):
        return Response(status, json.dumps(body).encode())
    return Response.text(status, body)


def _seed_rpc(net: Network, body: bytes) -> Response:
    try:
        request = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return Response.text(400, "invalid json")
    if not isinstance(request, dict):
        return Response.text(400, "invalid json")
    reply: dict[str, Any] = {"jsonrpc": "2.0", "id": request.get("id", "0")}
    params = request.get("params", {})
    # oxend answers both names (get_service_nodes is the older one).
    if request.get("method") not in ("get_n_service_nodes", "get_service_nodes"):
        reply["error"] = {"code": -32601, "message": "Method not found"}
    elif not isinstance(params, dict):
        reply["error"] = {"code": -32602, "message": "Invalid params"}
    else:
        reply["result"] = net.service_node_states(params)
    return Response(200, json.dumps(reply).encode())


def _atomic_write(path: Path, text: str, mode: int = 0o644) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as out:
        out.write(text)
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, path)


__all__ = ["Devnet"]
