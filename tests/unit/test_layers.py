"""The layers as failing tests: protocol/ is pure, net/ never reaches up into core/ or cli/.

Walks every module's AST with tests/import_walk.py (as tests/devnet/test_independence.py does
for the devnet), and also looks for reads of the environment, which belong at the edge (cli/,
core/settings.py): deeper layers get the resolved values passed in.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests import import_walk

PACKAGE = Path(__file__).resolve().parents[2] / "sessioncli"

# layer -> modules it must not import (a name matches itself and everything under it)
RULES = {
    "protocol": (
        "sessioncli.net",
        "sessioncli.core",
        "sessioncli.cli",
        "sessioncli.state",
        "sessioncli.keystore",
        "socket",
        "requests",
        "urllib3",
        "http",
        "time",
    ),
    "net": ("sessioncli.core", "sessioncli.cli", "typer", "click"),
    "core": ("sessioncli.cli", "typer", "click"),
}
NO_ENVIRONMENT = ("protocol", "net")


def imported_modules(path: Path) -> list[str]:
    return import_walk.imported_modules(path, import_walk.package_of(path, PACKAGE.parent))


def environment_reads(path: Path) -> list[int]:
    """Lines that read os.environ or call os.getenv / os.putenv."""
    tree = ast.parse(path.read_text(), filename=str(path))
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv", "environb"):
            lines.append(node.lineno)
        elif isinstance(node, ast.alias) and node.name in ("environ", "getenv"):
            lines.append(getattr(node, "lineno", 0))
    return lines


def forbidden_in(path: Path, forbidden: tuple[str, ...]) -> list[str]:
    return import_walk.matching(imported_modules(path), forbidden)


@pytest.mark.parametrize("layer", sorted(RULES))
def test_layer_imports_nothing_above_it(layer: str) -> None:
    files = sorted((PACKAGE / layer).rglob("*.py"))
    assert len(files) >= 4, f"sessioncli/{layer} was not found where this test looks"
    offenders = {str(f.relative_to(PACKAGE)): forbidden_in(f, RULES[layer]) for f in files}
    assert {f: names for f, names in offenders.items() if names} == {}


@pytest.mark.parametrize("layer", NO_ENVIRONMENT)
def test_layer_reads_no_environment(layer: str) -> None:
    files = sorted((PACKAGE / layer).rglob("*.py"))
    offenders = {str(f.relative_to(PACKAGE)): environment_reads(f) for f in files}
    assert {f: lines for f, lines in offenders.items() if lines} == {}


def test_the_walker_catches_every_form(tmp_path: Path) -> None:
    pkg = tmp_path / "sessioncli" / "net"
    pkg.mkdir(parents=True)
    sample = pkg / "sample.py"
    sample.write_text(
        "import time\n"
        "from ..core import send\n"
        "from . import policy\n"
        "def f():\n"
        "    from sessioncli.cli import app\n"
        "    import importlib\n"
        "    importlib.import_module('sessioncli.state')\n"
        "    import os\n"
        "    return os.environ.get('X'), os.getenv('Y')\n"
    )
    global PACKAGE
    saved, PACKAGE = PACKAGE, tmp_path / "sessioncli"
    try:
        found = forbidden_in(sample, RULES["protocol"])
        env = environment_reads(sample)
    finally:
        PACKAGE = saved
    assert "time" in found and "sessioncli.core" in found and "sessioncli.cli.app" in found
    assert "sessioncli.state" in found and "sessioncli.net.policy" in found
    assert env == [9, 9]


def test_net_modules_and_functions_stay_small() -> None:
    """net/: no module over 500 lines, no function over 60 (issue 11: small units that each own
    one thing are what makes the failure handling reviewable)."""
    long_modules, long_functions = {}, {}
    for path in sorted((PACKAGE / "net").rglob("*.py")):
        name = str(path.relative_to(PACKAGE))
        lines = len(path.read_text().splitlines())
        if lines > 500:
            long_modules[name] = lines
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                size = (node.end_lineno or node.lineno) - node.lineno + 1
                if size > 60:
                    long_functions[f"{name}:{node.name}"] = size
    assert long_modules == {} and long_functions == {}
