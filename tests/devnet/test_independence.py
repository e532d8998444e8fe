"""The devnet is the other side of the wire: it must not import the client's code."""

from __future__ import annotations

from pathlib import Path

from tests import import_walk

DEVNET = Path(__file__).resolve().parents[2] / "sessioncli" / "devnet"
FORBIDDEN = (
    "sessioncli.protocol",
    "sessioncli.net",
    "sessioncli.core",
    "sessioncli.keystore",
    "sessioncli.state",
)


def imported_modules(path: Path, package: str | None = None) -> list[str]:
    """What a devnet file imports (`package`: where its relative imports point, if not its own)."""
    if package is None:
        package = import_walk.package_of(path, DEVNET.parents[1])
    return import_walk.imported_modules(path, package)


def forbidden_in(path: Path, package: str | None = None) -> list[str]:
    return import_walk.matching(imported_modules(path, package), FORBIDDEN)


def test_devnet_files_import_nothing_from_the_client() -> None:
    files = sorted(DEVNET.rglob("*.py"))
    assert len(files) >= 8, "the devnet package was not found where this test looks"
    offenders = {str(f.relative_to(DEVNET)): forbidden_in(f) for f in files}
    assert {f: names for f, names in offenders.items() if names} == {}


def test_the_check_catches_every_import_form(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "import sessioncli.protocol.crypto\n"
        "from sessioncli.net import transport\n"
        "from sessioncli import core\n"
        "from .. import keystore\n"
        "import importlib\nimportlib.import_module('sessioncli.state')\n"
        "from sessioncli.errors import UsageError\n"
        "from sessioncli.devnet import crypto\n"
    )
    found = forbidden_in(sample, "sessioncli.devnet")
    assert "sessioncli.protocol.crypto" in found
    assert "sessioncli.net" in found
    assert "sessioncli.core" in found
    assert "sessioncli.keystore" in found
    assert "sessioncli.state" in found
    assert not any(n.startswith(("sessioncli.errors", "sessioncli.devnet")) for n in found)


def devnet_import_graph() -> dict[str, set[str]]:
    """Module → the devnet modules it imports (at the top or inside functions alike)."""
    modules = {import_walk.module_name(f, DEVNET.parents[1]): f for f in DEVNET.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        # `from pkg import sub` names pkg.sub; a parent package's __init__ runs for everyone and
        # is not an edge.
        graph[name] = {
            m
            for m in imported_modules(path)
            if m in modules and m != name and m != "sessioncli.devnet"
        }
    return graph


def test_devnet_modules_import_each_other_without_cycles() -> None:
    graph = devnet_import_graph()
    assert "sessioncli.devnet.control" in graph
    done: set[str] = set()

    def visit(name: str, stack: list[str]) -> None:
        if name in stack:
            raise AssertionError(" -> ".join([*stack[stack.index(name) :], name]))
        if name in done:
            return
        for nxt in sorted(graph[name]):
            # A package's own __init__ importing its submodules is how packages work.
            if not name.startswith(nxt + "."):
                visit(nxt, [*stack, name])
        done.add(name)

    for module in sorted(graph):
        visit(module, [])
