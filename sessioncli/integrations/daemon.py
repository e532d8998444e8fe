"""`sessioncli daemon`: JSON-RPC 2.0 over a Unix socket (one object per line), optional HTTP.

One identity per daemon, one warm `api.Client` shared by every connection. The socket lives in a
private folder (0700; 0710 with `--socket-group`), the socket itself is 0600 (0660 with a group),
and a lock beside it makes a second daemon on the same path refuse to start. SIGTERM stops
accepting, lets sends in flight finish (up to `grace` seconds), then returns.
"""

from __future__ import annotations

import contextlib
import os
import socket
import stat
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sessioncli.api import Client, ConfigError, Error, TemporaryFailure
from sessioncli.integrations import rpc
from sessioncli.integrations.hub import ReceiveHub, SubscribeOptions

if TYPE_CHECKING:
    from typing import Protocol

    class Peer(Protocol):
        """Who sent a request: what subscriptions mean on its transport."""

        def subscribe(self, opts: SubscribeOptions) -> int: ...
        def unsubscribe(self, sid: int) -> bool: ...
        def drain(self, opts: SubscribeOptions, timeout: float) -> int: ...


SD_LISTEN_FDS_START = 3


def default_socket_path() -> Path:
    """$XDG_RUNTIME_DIR/sessioncli/socket; without it (cron, system units) a private /tmp folder."""
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime:
        return Path(runtime) / "sessioncli" / "socket"
    return Path(os.environ.get("TMPDIR") or "/tmp") / f"sessioncli-{os.getuid()}" / "socket"  # noqa: S108


def _private_dir(folder: Path, gid: int | None) -> None:
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = folder.lstat()
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
        raise ConfigError(f"socket folder {folder} is not a folder of ours")
    if gid is not None:
        os.chown(folder, -1, gid)
        os.chmod(folder, 0o710)  # noqa: S103  (the group may reach the socket, not list it)
    elif info.st_mode & 0o077:
        os.chmod(folder, 0o700)


@contextlib.contextmanager
def _exclusive(path: Path) -> Iterator[None]:
    import fcntl

    fd = os.open(str(path) + ".lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise TemporaryFailure(f"another sessioncli daemon is listening on {path}") from None
        yield
    finally:
        os.close(fd)


def activated_socket() -> socket.socket | None:
    """The listening socket systemd passed us (socket activation), if it did."""
    if os.environ.get("LISTEN_PID") != str(os.getpid()) or os.environ.get("LISTEN_FDS") != "1":
        return None
    for name in ("LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"):
        os.environ.pop(name, None)  # not inherited by anything we start
    return socket.socket(fileno=SD_LISTEN_FDS_START)


def _bound_socket(path: Path, gid: int | None) -> socket.socket:
    """A socket listening on `path`. It is bound and set listening under a temporary name, then
    renamed into place: a client that sees the path can connect at once (bound but not yet
    listening, a connect is refused, which clients that wait for the path met under load)."""
    with contextlib.suppress(FileNotFoundError):
        path.unlink()  # stale: the lock says nobody serves it
    staging = path.with_name(f".{path.name}.{os.getpid()}")
    with contextlib.suppress(FileNotFoundError):
        staging.unlink()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o177)  # never a moment where the socket is open to others
    try:
        sock.bind(str(staging))
    finally:
        os.umask(old)
    if gid is not None:
        os.chown(staging, -1, gid)
        os.chmod(staging, 0o660)
    sock.listen(128)
    os.replace(staging, path)
    return sock


class Daemon:
    """The running daemon: a listening socket, its connections, the receive hub."""

    def __init__(
        self,
        client: Client,
        *,
        log: Callable[[str], None],
        grace: float = 5.0,
        interval: float = 2.0,
    ) -> None:
        self.client = client
        self.log = log
        self.grace = grace
        self.methods = rpc.Methods(client, client.status)
        self.hub = ReceiveHub(client, interval=interval, on_error=log)
        self.stopping = threading.Event()
        self._busy = 0
        self._idle = threading.Condition()

    # --- requests in flight ----------------------------------------------------------------

    @contextlib.contextmanager
    def in_flight(self) -> Iterator[None]:
        with self._idle:
            self._busy += 1
        try:
            yield
        finally:
            with self._idle:
                self._busy -= 1
                self._idle.notify_all()

    def drain(self) -> None:
        with self._idle:
            self._idle.wait_for(lambda: self._busy == 0, timeout=self.grace)

    def handle(self, line: bytes, peer: Peer) -> bytes | None:
        """One request line → one response line (None for a notification)."""
        rid: Any = None
        try:
            request = rpc.parse_request(line)
            rid = request.id
            if self.stopping.is_set():
                raise rpc.RpcFault(rpc.SESSION_ERROR, "the daemon is stopping", {"exit_code": 75})
            result = self._dispatch(request, peer)
        except rpc.RpcFault as fault:
            return rpc.error_line(rid, fault)
        except Error as exc:
            return rpc.error_line(rid, rpc.fault_of(exc))
        except Exception as exc:  # a bug answers as one, without a secret or a traceback
            self.log(f"internal error: {type(exc).__name__}")
            return rpc.error_line(rid, rpc.RpcFault(rpc.INTERNAL_ERROR, "internal error"))
        return None if request.notification else rpc.result_line(rid, result)

    def _dispatch(self, request: rpc.Request, peer: Peer) -> Any:
        if request.method == "subscribeReceive":
            return peer.subscribe(SubscribeOptions.from_params(request.params))
        if request.method == "unsubscribeReceive":
            sub = request.params.get("subscription")
            if isinstance(sub, bool) or not isinstance(sub, int):
                raise rpc.RpcFault(rpc.INVALID_PARAMS, "params.subscription must be an integer")
            return peer.unsubscribe(sub)
        if request.method == "receive":
            opts = SubscribeOptions.from_params(request.params)
            wait = request.params.get("timeout", 60)
            if isinstance(wait, bool) or not isinstance(wait, int | float) or wait <= 0:
                raise rpc.RpcFault(rpc.INVALID_PARAMS, "params.timeout must be positive seconds")
            return {"received": peer.drain(opts, float(wait))}
        with self.in_flight():
            return self.methods.call(request)

    # --- the Unix socket -------------------------------------------------------------------

    def serve_socket(self, path: Path, *, gid: int | None = None) -> None:
        """Serve systemd's socket when activated, else bind `path` (exclusively) and serve it."""
        activated = activated_socket()
        if activated is not None:
            self.log("listening on the socket systemd passed")
            self._accept_loop(activated)
            return
        _private_dir(path.parent, gid)
        with _exclusive(path):
            listener = _bound_socket(path, gid)
            self.log(f"listening on {path}")
            try:
                self._accept_loop(listener)
            finally:
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()

    def _accept_loop(self, listener: socket.socket) -> None:
        listener.settimeout(0.2)
        try:
            while not self.stopping.is_set():
                try:
                    conn, _ = listener.accept()
                except TimeoutError:
                    continue
                except OSError:
                    if self.stopping.is_set():
                        break
                    raise
                threading.Thread(target=self._connection, args=(conn,), daemon=True).start()
        finally:
            listener.close()

    def _connection(self, conn: socket.socket) -> None:
        from sessioncli.integrations.connection import Connection

        Connection(self, conn).run()

    def stop(self) -> None:
        """SIGTERM: refuse new requests, let sends in flight finish, end the receive loop."""
        self.stopping.set()
        self.drain()
        self.hub.close()
