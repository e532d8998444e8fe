"""Shell completion without typer: contact names, and bash answers from a cached command table.

A Tab runs `sessioncli` with _SESSIONCLI_COMPLETE set. Importing typer and building the command
tree costs several times a bare interpreter, yet almost every Tab asks one of two things: a command
name (`sessioncli se`) or a contact name (`sessioncli send al`). After typer has answered a bash
request once, `remember` stores the shape of the command tree (commands and, per command, what
its positional arguments complete) in the cache folder, keyed by a fingerprint of the CLI sources
and of typer. `bash_answer` then answers those two kinds of request from the table the way click
resolves them, and returns None for everything else (options, quoting, a stale or missing
table, an argument it does not know), so that typer answers as before. The answers are the same
either way; tests/cli/test_startup.py compares them request by request.

Nothing here imports typer: this module is loaded before the CLI is.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

TYPE_CHECKING = False  # typing, re and importlib.util stay unimported: each costs a Tab ~3-6 ms
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

_TABLE_FORMAT = 2
_TABLE_NAME = "completion-table.json"
# What a positional argument completes, as typer would: contact names, nothing, or something this
# module does not reproduce (choices, files, other callbacks, several values): typer answers.
CONTACT, NOTHING, OTHER = "contact", "nothing", "other"


def complete_contact_name(incomplete: str) -> list[str]:
    """Contact names for shell completion; after commas, completes the last name. Never raises."""
    try:
        from sessioncli.core.contacts import list_contacts

        head, sep, last = incomplete.rpartition(",")
        prefix = head + sep
        return [prefix + c.name for c in list_contacts() if c.name.startswith(last)]
    except Exception:  # completion must never print a traceback at the user's prompt
        return []


def _table_path() -> Path:
    from sessioncli import state

    return state.cache_dir() / _TABLE_NAME


def _fingerprint() -> list[Any]:
    """Changes whenever a CLI module, sessioncli's version, typer or Python changes."""
    from sessioncli import __version__

    here = Path(__file__).parent
    files = []
    for entry in os.scandir(here):
        if entry.name.endswith(".py"):
            st = entry.stat()
            files.append([entry.name, st.st_size, st.st_mtime_ns])
    typer_init = _typer_init()
    typer_stat = os.stat(typer_init) if typer_init else None
    return [
        _TABLE_FORMAT,
        __version__,
        sys.version,
        str(here),
        sorted(files),
        [typer_init, typer_stat.st_size, typer_stat.st_mtime_ns] if typer_stat else None,
    ]


def _typer_init() -> str:
    """typer/__init__.py where `import typer` finds it: the first sys.path entry that has it."""
    for entry in sys.path:
        candidate = os.path.join(entry or os.curdir, "typer", "__init__.py")
        if os.path.isfile(candidate):
            return os.path.abspath(candidate)
    return ""


_SHLEX_SPACE = str.maketrans("\t\r\n", "   ")  # shlex's whitespace, as spaces


def _split_words(text: str) -> list[str] | None:
    """COMP_WORDS split as click's split_arg_string does, or None when quoting would matter."""
    if any(c in text for c in "'\"\\"):
        return None
    return [w for w in text.translate(_SHLEX_SPACE).split(" ") if w]


def bash_answer(environ: Mapping[str, str]) -> str | None:
    """What typer prints for this bash completion request, or None: let typer answer it."""
    if environ.get("_SESSIONCLI_COMPLETE") != "complete_bash":
        return None
    try:
        words = _split_words(environ["COMP_WORDS"])
        cword = int(environ["COMP_CWORD"])
    except (KeyError, ValueError):
        return None
    if words is None or cword < 1:
        return None
    args = words[1:cword]
    incomplete = words[cword] if cword < len(words) else ""
    if any(a.startswith("-") for a in args) or (incomplete and not incomplete[0].isalnum()):
        return None  # options, "--", "=": typer's own resolution
    from sessioncli import state

    table = state.read_json(_table_path())
    if not isinstance(table, dict) or table.get("fingerprint") != _fingerprint():
        return None
    try:
        values = _resolve(table["root"], args, incomplete)
    except (KeyError, TypeError, ValueError):
        return None
    return None if values is None else "\n".join(values) + "\n"


def _resolve(node: dict[str, Any], args: list[str], incomplete: str) -> list[str] | None:
    """Follow click's _resolve_context and _resolve_incomplete for words that are not options."""
    rest = list(args)
    while "commands" in node:
        if node.get("arguments"):
            return None  # a group with its own arguments: not reproduced
        children = {name: child for name, child in node["commands"]}
        if rest and rest[0] in children:
            node = children[rest.pop(0)]
            continue
        # no (known) subcommand: the group completes its visible subcommand names
        return [n for n, c in node["commands"] if n.startswith(incomplete) and not c["hidden"]]
    arguments: list[str] = node["arguments"]
    if len(rest) >= len(arguments):
        return []  # every argument has its word: a command completes only options then
    kind = arguments[len(rest)]
    if kind == NOTHING:
        return []
    if kind == CONTACT:
        return [v for v in complete_contact_name(incomplete) if v.startswith(incomplete)]
    return None


def remember(app: Any, *, start_cache: bool) -> None:
    """Store the command table for later runs and Tabs if it is missing or stale. Never raises.

    Without start_cache, only into a cache folder that already exists: a command that caches
    nothing (keygen without a keyring, say) leaves the disk as it was.
    """
    try:
        fingerprint = _fingerprint()
        path = _table_path()
        if not start_cache and not path.parent.is_dir():
            return
        from sessioncli import state

        old = state.read_json(path)
        if isinstance(old, dict) and old.get("fingerprint") == fingerprint:
            return
        import typer.main

        root_command = typer.main.get_command(app)
        root = dict(_node(root_command), options=_root_options(root_command))
        state.ensure_dir(path.parent)
        state.atomic_write_json(path, {"fingerprint": fingerprint, "root": root}, durable=False)
    except Exception:  # a cache: completion must answer whether or not it can be written
        return


def _node(command: Any) -> dict[str, Any]:
    from typer.core import TyperArgument

    node: dict[str, Any] = {
        "hidden": bool(getattr(command, "hidden", False)),
        "arguments": [_kind(p) for p in command.params if isinstance(p, TyperArgument)],
        "modules": sorted(_modules(command)),
    }
    commands = getattr(command, "commands", None)
    if commands is not None:
        node["commands"] = [[name, _node(sub)] for name, sub in commands.items()]
    return node


def _modules(command: Any) -> set[str]:
    """The CLI modules whose functions make up this command and everything under it."""
    found = set()
    module = getattr(getattr(command, "callback", None), "__module__", "") or ""
    if module.startswith("sessioncli.cli."):
        found.add(module)
    for sub in (getattr(command, "commands", None) or {}).values():
        found |= _modules(sub)
    return found


def _root_options(root: Any) -> dict[str, list[str]]:
    """The root's options a command line may carry before the command name, by how they parse."""
    from typer.core import TyperOption

    flags: list[str] = []
    values: list[str] = []
    for param in root.params:
        if not isinstance(param, TyperOption) or param.is_eager:
            continue  # --help, --version, --install-completion...: they need the whole app
        names = [*param.opts, *param.secondary_opts]
        (flags if param.is_flag or param.count else values).extend(names)
    return {"flags": sorted(flags), "values": sorted(values)}


def modules_for(argv: list[str]) -> list[str] | None:
    """The modules that make up the command this command line runs, from a fresh table; or None.

    None (load every command module) unless the line is: root options that are neither eager
    nor unknown, then a top-level command name the table knows.
    """
    from sessioncli import state

    table = state.read_json(_table_path())
    if not isinstance(table, dict) or table.get("fingerprint") != _fingerprint():
        return None
    try:
        root = table["root"]
        flags, values = set(root["options"]["flags"]), set(root["options"]["values"])
        i = 0
        while i < len(argv) and argv[i].startswith("-") and argv[i] not in ("-", "--"):
            a = argv[i]
            if a in values:
                i += 1  # its value
            elif not (
                a in flags
                or (a.startswith("--") and a.split("=", 1)[0] in values)
                or (a[1] != "-" and all(f"-{c}" in flags for c in a[1:]))
            ):
                return None
            i += 1
        if i >= len(argv):
            return None
        children = {name: child for name, child in root["commands"]}
        modules = children[argv[i]]["modules"] if argv[i] in children else None
    except (KeyError, TypeError, IndexError):
        return None
    if not modules or not all(str(m).startswith("sessioncli.cli.") for m in modules):
        return None
    return [str(m) for m in modules]


def _kind(param: Any) -> str:
    """What typer's TyperArgument.shell_complete would do for this argument."""
    if param.nargs != 1:
        return OTHER
    descriptor = getattr(param, "type_descriptor", None)
    if descriptor is None or not hasattr(param, "_custom_shell_complete"):
        return OTHER  # a typer this module does not know
    if param._custom_shell_complete is not None:
        callback = getattr(descriptor.parameter_info, "autocompletion", None)
        return CONTACT if callback is complete_contact_name else OTHER
    if descriptor.is_choice or descriptor.is_file:
        return OTHER
    return NOTHING
