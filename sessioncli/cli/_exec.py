"""`receive --exec CMD`: run a command once per message, acknowledging a message only on exit 0.

A pipe cannot acknowledge: whatever sits in its buffer when the reader dies is lost. A command
run per message can: the message is marked received only after CMD exits 0, so a bot built on
--exec is at-least-once (a crash while CMD runs repeats that one message on the next start).
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sessioncli.cli._errors import err

# The message's main fields, for CMDs that do not want to parse JSON. Documented in docs/cli.md.
ENV_FIELDS: tuple[tuple[str, str], ...] = (
    ("SESSIONCLI_HASH", "hash"),
    ("SESSIONCLI_SOURCE", "source"),
    ("SESSIONCLI_KIND", "kind"),
    ("SESSIONCLI_FROM", "from"),
    ("SESSIONCLI_FROM_NAME", "from_name"),
    ("SESSIONCLI_CONTACT", "contact"),
    ("SESSIONCLI_CONVERSATION", "conversation"),
    ("SESSIONCLI_TIMESTAMP_MS", "timestamp_ms"),
    ("SESSIONCLI_BODY", "body"),
)
MAX_ENV_VALUE = 64 * 1024  # Linux refuses a single environment string over 128 KiB


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently a failing CMD is retried for one message."""

    max_attempts: int = 5
    first_delay_s: float = 1.0
    max_delay_s: float = 60.0

    def delay_before(self, attempt: int) -> float | None:
        """Seconds to wait before attempt number `attempt` (1-based); None: give up."""
        if attempt <= 1:
            return 0.0
        if attempt > self.max_attempts:
            return None
        return float(min(self.max_delay_s, self.first_delay_s * 2.0 ** (attempt - 2)))


class Stopped(Exception):
    """SIGTERM/SIGINT while a message was still unacknowledged: leave it for the next run."""


def message_env(record: dict[str, Any], base: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ if base is None else base)
    # The handler gets the message, never our identity: a seed given in the environment stays
    # ours (SESSIONCLI_IDENTITY_FILE names a path, not a secret, and is kept).
    env.pop("SESSIONCLI_IDENTITY", None)
    for var, key in ENV_FIELDS:
        env.pop(var, None)
        value = record.get(key)
        if value is None or isinstance(value, bool):
            continue
        text = str(value)
        if "\x00" in text or len(text.encode("utf-8", "surrogateescape")) > MAX_ENV_VALUE:
            continue  # cannot (or should not) go into the environment; stdin always has it
        env[var] = text
    return env


class ExecRunner:
    """Runs CMD for each record until it exits 0 or the policy gives up; honours `stop`."""

    def __init__(self, command: str, policy: RetryPolicy, stop: threading.Event) -> None:
        self.command = command
        self.policy = policy
        self.stop = stop
        self.skipped = 0
        self._run: Callable[[bytes, dict[str, str]], int] = self._run_once

    def deliver(self, record: dict[str, Any]) -> None:
        """Returns once the record may be marked received; raises Stopped when it may not."""
        payload = (json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n").encode()
        env = message_env(record)
        attempt = 1
        while True:
            delay = self.policy.delay_before(attempt)
            if delay is None:
                self.skipped += 1
                err(
                    f"sessioncli: error: --exec command failed {self.policy.max_attempts} times "
                    f"for message {record.get('hash')}; skipped"
                )
                return
            if delay and self.stop.wait(delay):
                raise Stopped()
            code = self._run(payload, env)
            if code == 0:
                return
            err(
                f"sessioncli: warning: --exec command exited {code} for message "
                f"{record.get('hash')} (attempt {attempt} of {self.policy.max_attempts})"
            )
            if self.stop.is_set():
                raise Stopped()
            attempt += 1

    def _run_once(self, payload: bytes, env: dict[str, str]) -> int:
        # Our stdout and stderr are CMD's; only stdin is the message. A CMD that ignores stdin
        # is fine (communicate() drops EPIPE). A signal to us reaches CMD through the process
        # group; we wait for it to finish, so its exit status still decides.
        proc = subprocess.Popen(["/bin/sh", "-c", self.command], stdin=subprocess.PIPE, env=env)
        try:
            proc.communicate(payload)
        except KeyboardInterrupt:
            proc.wait()
            raise
        return -proc.returncode + 128 if proc.returncode < 0 else proc.returncode
