"""Per-call failure policy, pure: the deadline, what went wrong (69 vs 75), and who is to blame."""

from __future__ import annotations

import time
from collections.abc import Callable


class Deadline:
    """The end of one call (or of a whole command): every wait inside it is capped by it.

    One object is passed down to every request the call makes, from any thread: nothing writes
    to it after construction, so sharing it needs no lock. `now` is injected by tests.
    """

    def __init__(self, seconds: float, *, now: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self._now = now
        self.end = now() + seconds

    def remaining(self) -> float:
        return self.end - self._now()

    def expired(self) -> bool:
        return self.remaining() <= 0.05

    def cap(self, seconds: float) -> float:
        """`seconds`, or less when the deadline is nearer (never below 50 ms)."""
        return max(0.05, min(seconds, self.remaining()))

    def sub(self, seconds: float) -> Deadline:
        """A deadline of its own, ending after `seconds` or with this one, whichever is first."""
        return Deadline(max(0.0, min(seconds, self.remaining())), now=self._now)


Timeout = float | Deadline | None  # what a public call accepts: seconds, a shared deadline, default
