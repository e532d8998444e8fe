#!/usr/bin/env python3
"""Run the fuzz properties of tests/fuzz with many more examples than CI does.

    python scripts/fuzz.py --examples 100000            # every property, 100000 examples each
    python scripts/fuzz.py --examples 20000 -k onion     # only the onion-reply properties
    python scripts/fuzz.py --examples 5000 -- -x -p no:randomly   # extra pytest arguments

The properties are the same as in CI (tests/fuzz, `fuzz(N)` in tests/fuzz/_fuzz.py); only the
example count changes, through SESSIONCLI_FUZZ_EXAMPLES. Failures print a reproduce blob.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=100_000, help="examples per property")
    parser.add_argument("-k", dest="keyword", help="only properties matching this pytest -k")
    parser.add_argument("pytest_args", nargs="*", help="passed to pytest (after --)")
    args = parser.parse_args(argv)
    if args.examples < 1:
        parser.error("--examples must be positive")
    env = dict(os.environ, SESSIONCLI_FUZZ_EXAMPLES=str(args.examples))
    cmd = [sys.executable, "-m", "pytest", str(REPO / "tests" / "fuzz"), "-q", "--durations=10"]
    if args.keyword:
        cmd += ["-k", args.keyword]
    cmd += args.pytest_args
    print(f"fuzz: {args.examples} examples per property: {' '.join(cmd[2:])}", file=sys.stderr)
    return subprocess.call(cmd, cwd=REPO, env=env)


if __name__ == "__main__":
    sys.exit(main())
