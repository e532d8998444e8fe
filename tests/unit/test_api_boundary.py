"""Issue 16: the CLI's send/receive and every integration use `sessioncli.api`, not core/ internals.

The same AST walk as tests/unit/test_layers.py (imports at any depth, importlib with a literal).
`sessioncli.api` stays cheap to import: nothing below it is imported at module level.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.unit.test_layers import PACKAGE, forbidden_in

INTERNALS = (
    "sessioncli.core",
    "sessioncli.net",
    "sessioncli.protocol",
    "sessioncli.state",
    "sessioncli.keystore",
)
THROUGH_THE_API = [
    "cli/send.py",
    "cli/receive.py",
    "cli/receive_daemon.py",
    "cli/daemon.py",
    "cli/webhook.py",
    "cli/integrations.py",
    *sorted(str(p.relative_to(PACKAGE)) for p in (PACKAGE / "integrations").glob("*.py")),
]


@pytest.mark.parametrize("module", THROUGH_THE_API)
def test_uses_only_the_api(module: str) -> None:
    path = PACKAGE / module
    assert path.exists(), f"{module} was not found where this test looks"
    assert forbidden_in(path, INTERNALS) == []


def test_importing_the_api_imports_nothing_heavy() -> None:
    code = (
        "import sys, sessioncli.api\n"
        "loaded = sorted(m for m in sys.modules if m.startswith(('sessioncli.', 'nacl', "
        "'requests', 'typer', 'urllib3')))\n"
        "print(' '.join(loaded))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(PACKAGE).parent,
    ).stdout.split()
    allowed = {
        "sessioncli.api",
        "sessioncli.api_values",
        "sessioncli.errors",
        "sessioncli.exitcodes",
    }
    assert set(out) <= allowed, out


def test_the_attachment_limit_is_the_core_one() -> None:
    from sessioncli import api
    from sessioncli.core import attachments

    assert api.MAX_ATTACHMENT_BYTES == attachments.MAX_FILE_BYTES
