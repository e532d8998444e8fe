"""The control API of a running devnet (HTTP on 127.0.0.1, token in control.json) and its client."""

from __future__ import annotations

import http.client
import json
import os
import secrets
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sessioncli.devnet.errors import DevnetNotRunning, DevnetUsageError
from sessioncli.devnet.server import NodeServer, Request, Response
from sessioncli.errors import SessionCliError

if TYPE_CHECKING:
    from sessioncli.devnet.cluster import Devnet

CONTROL_PATH = "/control/v1"
_TOKEN_HEADER = "X-Devnet-Token"  # noqa: S105 - a header name, not a secret


class ControlServer:
    """Carries out `{"verb", "args"}` requests on the Devnet; only callers holding the token may."""

    def __init__(self, devnet: Devnet) -> None:
        self._devnet = devnet
        self._token = secrets.token_hex(16)
        self._server = NodeServer("127.0.0.1", 0, None, self._handle)

    def start(self, control_file: Path) -> None:
        port = self._server.start()
        document = {"url": f"http://127.0.0.1:{port}", "token": self._token, "pid": os.getpid()}
        tmp = control_file.with_name(f".{control_file.name}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(json.dumps(document) + "\n")
        os.replace(tmp, control_file)

    def go_down(self) -> None:
        self._server.go_down()

    def _handle(self, request: Request) -> Response:
        if request.path != CONTROL_PATH or request.method != "POST":
            return Response.text(404, "Not found")
        if not secrets.compare_digest(request.headers.get(_TOKEN_HEADER.lower(), ""), self._token):
            return Response.text(403, "bad control token")
        try:
            command = json.loads(request.body)
            verb = command["verb"]
            args = [str(a) for a in command.get("args", [])]
        except (ValueError, KeyError, TypeError):
            return Response.text(400, 'expected {"verb": ..., "args": [...]}')
        try:
            result = self._run(verb, args)
        except SessionCliError as exc:
            body = {"error": exc.message, "exit_code": int(exc.exit_code)}
            return Response(400, json.dumps(body).encode())
        return Response(200, json.dumps({"result": result}).encode())

    def _run(self, verb: str, args: list[str]) -> Any:
        devnet = self._devnet
        if verb == "list":
            return devnet.list()
        if verb == "stats":
            return devnet.stats()
        if verb in ("down", "up", "hang"):
            return getattr(devnet, verb)(args)
        if verb in ("fileserver", "sogs"):
            return devnet.server_control(verb, args)
        if verb == "seen" and len(args) == 1:
            return devnet.seen(args[0])
        if verb == "fault" and len(args) == 2:
            return devnet.fault(args[0], args[1])
        if verb == "clock" and len(args) == 2:
            try:
                seconds = float(args[1])
            except ValueError:
                raise DevnetUsageError(
                    f"clock offset must be a number of seconds, not {args[1]!r}"
                ) from None
            return devnet.clock(args[0], seconds)
        raise DevnetUsageError(f"bad control command: {verb} {' '.join(args)}".strip())


def call(directory: Path, verb: str, args: list[str], timeout: float = 30.0) -> Any:
    """Run one control verb on the devnet serving `directory`; raises DevnetNotRunning if none does."""
    control_file = Path(directory) / "control.json"
    try:
        document = json.loads(control_file.read_text())
        url = str(document["url"])
        token = str(document["token"])
    except (OSError, ValueError, KeyError, TypeError):
        raise DevnetNotRunning(
            f"no devnet is running in {directory}",
            hints=(f"start one with: sessioncli devnet up --dir {directory}",),
        ) from None
    host_port = url.removeprefix("http://")
    host, _, port = host_port.partition(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=timeout)
    try:
        conn.request(
            "POST",
            CONTROL_PATH,
            body=json.dumps({"verb": verb, "args": args}),
            headers={_TOKEN_HEADER: token, "Content-Type": "application/json"},
        )
        response = conn.getresponse()
        body = response.read()
    except OSError:
        raise DevnetNotRunning(f"the devnet in {directory} does not answer (stopped?)") from None
    finally:
        conn.close()
    try:
        reply = json.loads(body)
    except ValueError:
        reply = {"error": body.decode("utf-8", "replace")}
    if response.status != 200:
        message = reply.get("error", f"control API answered {response.status}")
        raise DevnetUsageError(str(message))
    return reply["result"]
