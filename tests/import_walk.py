"""Which modules a Python file imports, read from its AST: shared by the layer and devnet tests.

Imports at any depth count (a lazy import inside a function is still a dependency), relative
imports are resolved against the file's own package, and `importlib.import_module("literal")`
counts as an import of that name.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path


def module_name(path: Path, root: Path) -> str:
    """The dotted name of `path`, a file below `root` (the folder holding the top package)."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def package_of(path: Path, root: Path) -> str:
    """The package that relative imports in `path` resolve against."""
    name = module_name(path, root)
    return name if path.name == "__init__.py" else name.rsplit(".", 1)[0]


def imported_modules(path: Path, package: str) -> list[str]:
    """Every module `path` imports; `from m import x` names both m and m.x (x may be a module)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module or ""
            names.append(module)
            names.extend(f"{module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "import_module":
            names.extend(
                a.value
                for a in node.args
                if isinstance(a, ast.Constant) and isinstance(a.value, str)
            )
    return names


def matching(names: Iterable[str], forbidden: Iterable[str]) -> list[str]:
    """The names that are, or lie under, one of `forbidden`, sorted without repeats."""
    bad = tuple(forbidden)
    return sorted({n for n in names if any(n == b or n.startswith(b + ".") for b in bad)})
