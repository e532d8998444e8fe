"""`receive --daemon`: the same receive, read from a running daemon's subscription (docs/daemon.md).

Without --follow it calls the daemon's `receive` method: the daemon polls every source once
(at once, not at its next interval), streams what it found as `receive` notifications, then
answers `{"received": N}`; that answer is how we know everything waiting was handed out. With
--follow it calls `subscribeReceive` and prints notifications until SIGTERM, --max, --timeout
without a new message, or a reader that went away. The filters travel as the request's params,
so the daemon marks exactly what a direct receive would mark (hidden messages included), and
--max stops the daemon writing to us, so nothing is handed out that we do not print.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import typer

from sessioncli.cli._errors import err
from sessioncli.errors import UsageError

# What a direct receive does locally that a daemon's subscription cannot do for us.
_LOCAL_ONLY = {
    "--peek": "the daemon owns the receive cursor",
    "--exec": "the daemon counts a message as received once it is written to us",
    "--attachments": "the daemon does not download attachments for a subscriber",
    "--read-receipts": "the daemon does not send read receipts for a subscriber",
}

NO_ANSWER_S = 30.0  # without --timeout: how long a one-shot receive waits for the daemon's poll


def check_options(used: list[str]) -> None:
    for flag in used:
        raise UsageError(f"{flag} cannot be used with --daemon: {_LOCAL_ONLY[flag]}")


def params_of(
    *,
    kinds: list[str],
    senders: list[str],
    conversations: list[str],
    contacts_only: bool,
    requests_only: bool,
    include_control: bool,
    include_own: bool,
    max_count: int | None,
) -> dict[str, Any]:
    params: dict[str, Any] = {
        "kinds": kinds,
        "senders": senders,
        "conversations": conversations,
        "contactsOnly": contacts_only,
        "requestsOnly": requests_only,
        "includeControl": include_control,
        "includeOwn": include_own,
    }
    if max_count is not None:
        params["maxMessages"] = max_count
    return params


def run(
    params: dict[str, Any],
    emit: Callable[[dict[str, Any]], None],
    *,
    follow: bool,
    timeout: float | None,
    interval: float,
    stop: threading.Event,
    stdout_gone: Callable[[], bool],
) -> None:
    from sessioncli.integrations import daemon_client

    try:
        if follow:
            _follow(params, emit, timeout, interval, stop, stdout_gone)
        else:
            _once(params, emit, timeout or NO_ANSWER_S)
    except daemon_client.DaemonError as exc:
        err(f"sessioncli: error: {exc.message}")
        raise typer.Exit(exc.exit_code) from None


def _once(params: dict[str, Any], emit: Callable[[dict[str, Any]], None], wait: float) -> None:
    from sessioncli.integrations import daemon_client

    with daemon_client.Stream(timeout=wait) as stream:
        stream.request("receive", {**params, "timeout": wait})
        deadline = time.monotonic() + wait + 5  # the daemon answers a late poll itself
        while True:
            got = stream.next(max(0.1, deadline - time.monotonic()))
            if got is None:
                raise daemon_client.DaemonError("the sessioncli daemon did not answer in time", 75)
            kind, value = got
            if kind == "result":
                return
            if isinstance(value, dict) and isinstance(value.get("message"), dict):
                emit(value["message"])


def _follow(
    params: dict[str, Any],
    emit: Callable[[dict[str, Any]], None],
    timeout: float | None,
    interval: float,
    stop: threading.Event,
    stdout_gone: Callable[[], bool],
) -> None:
    from sessioncli.integrations import daemon_client

    most = params.get("maxMessages")
    with daemon_client.Stream() as stream:
        stream.request("subscribeReceive", params)
        shown = 0
        last_new = time.monotonic()
        while not stop.is_set():
            got = stream.next(min(interval, 0.5))  # short waits: SIGTERM and idle checks
            if got is None or got[0] == "result":
                if timeout is not None and time.monotonic() - last_new >= timeout:
                    return
                if got is None and stdout_gone():
                    return  # the reader left while we were idle
                continue
            value = got[1]
            if isinstance(value, dict) and isinstance(value.get("message"), dict):
                emit(value["message"])
                shown += 1
                last_new = time.monotonic()
                if most is not None and shown >= most:
                    return
