"""The one table of process exit codes (sysexits-flavoured) that the CLI promises to scripts."""

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    ERROR = 1  # unexpected or internal error; permanent rejection by the network
    USAGE = 2  # bad flags or arguments, invalid Session ID, empty or oversized message
    PARTIAL = 3  # send: some recipients got the message and some did not
    UNAVAILABLE = 69  # no seed or service node reachable, no path, after retries
    IOERR = 74  # cannot write to stdout (closed, full disk); a reader that left is not one
    TEMPFAIL = 75  # retryable: timeouts, 5xx, another receive holds the lock
    CONFIG = 78  # no identity, no usable keyring, identity file too open, bad config file
    INTERRUPTED = 130  # Ctrl-C
