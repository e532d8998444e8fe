"""The control API of a running devnet (HTTP on 127.0.0.1, token in control.json): its verb table,
server and client."""

from __future__ import annotations

import http.client
import json
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sessioncli.devnet.errors import DevnetNotRunning, DevnetUsageError
from sessioncli.devnet.server import NodeServer, Request, Response
from sessioncli.errors import SessionCliError

CONTROL_PATH = "/control/v1"
_TOKEN_HEADER = "X-Devnet-Token"  # noqa: S105 - a header name, not a secret

# A verb gets its arguments as strings and returns something JSON can carry; it raises
# DevnetUsageError (exit 2) for arguments it cannot use.
VerbHandler = Callable[[list[str]], Any]


@dataclass(frozen=True)
class Verb:
    handler: VerbHandler
    usage: str  # e.g. "fault NODE MODE": shown when the arguments do not fit


class VerbTable:
    """Control verbs by name. The Devnet registers its own; other parts of the devnet (file server,
    SOGS) add theirs with `add` before or after start."""

    def __init__(self) -> None:
        self._verbs: dict[str, Verb] = {}

    def add(self, name: str, handler: VerbHandler, usage: str) -> None:
        if name in self._verbs:
            raise ValueError(f"control verb {name!r} is already registered")
        self._verbs[name] = Verb(handler, usage)

    def names(self) -> list[str]:
        return sorted(self._verbs)

    def usage(self, name: str) -> str:
        return self._verbs[name].usage

    def run(self, name: str, args: list[str]) -> Any:
        verb = self._verbs.get(name)
        if verb is None:
            raise DevnetUsageError(
                f"bad control command: {name} {' '.join(args)}".strip(),
                hints=(f"verbs: {', '.join(self.names())}",),
            )
        return verb.handler(args)


def need_args(args: list[str], count: int, usage: str) -> list[str]:
    """`args` if there are exactly `count` of them, else a usage error."""
    if len(args) != count:
        raise DevnetUsageError(f"usage: ctl {usage}")
    return args


class ControlServer:
    """Carries out `{"verb", "args"}` requests on the Devnet; only callers holding the token may."""

    def __init__(self, verbs: VerbTable) -> None:
        self._verbs = verbs
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
            result = self._verbs.run(str(verb), args)
        except SessionCliError as exc:
            body = {"error": exc.message, "exit_code": int(exc.exit_code)}
            return Response(400, json.dumps(body).encode())
        return Response(200, json.dumps({"result": result}).encode())


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
