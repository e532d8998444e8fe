"""A tiny loopback SOCKS5 server (no auth, CONNECT only) that records where clients went."""

from __future__ import annotations

import contextlib
import socket
import struct
import threading


class Socks5Server:
    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.targets: list[tuple[str, int]] = []
        self._stop = False
        threading.Thread(target=self._serve, daemon=True).start()

    @property
    def url(self) -> str:
        return f"socks5h://127.0.0.1:{self.port}"

    def _serve(self) -> None:
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    @staticmethod
    def _recv(conn: socket.socket, n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = conn.recv(n - len(data))
            if not chunk:
                raise ConnectionError("closed")
            data += chunk
        return data

    def _handle(self, conn: socket.socket) -> None:
        with contextlib.suppress(OSError, ConnectionError), conn:
            _, n = self._recv(conn, 2)
            self._recv(conn, n)
            conn.sendall(b"\x05\x00")
            _, cmd, _, atyp = self._recv(conn, 4)
            if atyp == 1:
                host = socket.inet_ntoa(self._recv(conn, 4))
            elif atyp == 3:
                host = self._recv(conn, self._recv(conn, 1)[0]).decode()
            else:
                conn.sendall(b"\x05\x08\x00\x01" + bytes(6))
                return
            (port,) = struct.unpack(">H", self._recv(conn, 2))
            if cmd != 1:
                conn.sendall(b"\x05\x07\x00\x01" + bytes(6))
                return
            try:
                upstream = socket.create_connection((host, port), timeout=10)
            except OSError:
                conn.sendall(b"\x05\x05\x00\x01" + bytes(6))
                return
            self.targets.append((host, port))
            conn.sendall(b"\x05\x00\x00\x01" + bytes(6))
            upstream.settimeout(None)
            threading.Thread(target=self._pipe, args=(upstream, conn), daemon=True).start()
            self._pipe(conn, upstream)

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        with contextlib.suppress(OSError):
            dst.shutdown(socket.SHUT_WR)

    def close(self) -> None:
        self._stop = True
        self.sock.close()
