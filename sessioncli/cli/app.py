"""The typer application, its global options, and the context object every command reads."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.core import TyperGroup

from sessioncli import __version__
from sessioncli.cli import _typer_plain

if TYPE_CHECKING:
    from sessioncli.api import Client
    from sessioncli.core import context

_typer_plain.install()  # before any value is processed: keeps pydantic out of start-up

# Global options users also write after the subcommand (`sessioncli keygen --identity-file F -q`),
# as with gh or signal-cli. The root group moves them in front of the subcommand before parsing.
_GLOBAL_WITH_VALUE = ("--profile", "--network", "--identity-file", "--proxy")
_GLOBAL_FLAGS = ("-q", "--quiet", "-v", "--verbose")


def hoist_global_options(args: list[str]) -> list[str]:
    """Move global options found after the first subcommand to just before it."""
    head: list[str] = []
    i = 0
    while i < len(args):  # the part before the subcommand stays as it is
        a = args[i]
        if a == "--" or not a.startswith("-"):
            break
        head.append(a)
        if a in _GLOBAL_WITH_VALUE and i + 1 < len(args):
            head.append(args[i + 1])
            i += 1
        i += 1
    rest = args[i:]
    moved: list[str] = []
    kept: list[str] = []
    j = 0
    while j < len(rest):
        a = rest[j]
        if a == "--":
            kept.extend(rest[j:])
            break
        name = a.split("=", 1)[0]
        if name in _GLOBAL_WITH_VALUE:
            if "=" in a:
                moved.append(a)
            elif j + 1 < len(rest):
                moved += [a, rest[j + 1]]
                j += 1
            else:
                kept.append(a)
        elif a in _GLOBAL_FLAGS or (
            len(a) > 2 and a[0] == "-" and a[1] != "-" and set(a[1:]) <= {"v", "q"}
        ):
            moved.append(a)
        else:
            kept.append(a)
        j += 1
    return head + moved + kept


def _default_completion_shell(args: list[str]) -> list[str]:
    """A bare `--show-completion` (no shell named) means the current shell."""
    out = list(args)
    for i, a in enumerate(out):
        if a == "--":
            break
        if a == "--show-completion" and (i + 1 == len(out) or out[i + 1].startswith("-")):
            out.insert(i + 1, "auto")
            break
    return out


def _plain_argument_names() -> None:
    """Arguments in help as Unix tools write them: `RECIPIENT`, `[MESSAGE]`, no `<str>` after.

    typer 0.29 writes a required argument as `{RECIPIENT}` in the usage line and adds a type
    (`<str>`, `<list[str]>`) to each argument's help line; both read as syntax to type. Where a
    typer lacks these hooks, its own rendering stays.
    """
    from typer import core

    argument = getattr(core, "TyperArgument", None)
    if argument is None or not hasattr(argument, "_usage_display_name"):
        return

    def usage_name(self: Any) -> str:
        name = str(self.metavar or self.name).upper()
        shown = name if self.required else f"[{name}]"
        return shown + ("..." if self.nargs != 1 else "")

    argument._usage_display_name = usage_name
    argument.display_type_rich = lambda self, ctx: None


_plain_argument_names()


class _RootGroup(TyperGroup):
    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        return super().parse_args(ctx, hoist_global_options(_default_completion_shell(args)))


app = typer.Typer(
    cls=_RootGroup,
    name="sessioncli",
    help=(
        "Headless, scriptable, onion-routed client for the Session private messenger.\n\n"
        "Data goes to stdout, messages to stderr; a successful quiet command prints nothing. "
        "Exit codes: 0 ok, 1 error, 2 usage, 3 partial send, 69 network unavailable, "
        "74 cannot write to stdout, 75 temporary failure (retry later), 78 identity/configuration, "
        "130 interrupted."
    ),
    no_args_is_help=True,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    add_completion=False,  # our own --show-completion SHELL below; --install-completion: docs
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _completion_shells() -> None:
    """Register typer's bash/zsh/fish completion (add_completion=False skips it, with its flags)."""
    try:
        from typer._completion_classes import completion_init
    except ImportError:  # an older typer registers them on import
        return
    completion_init()


_completion_shells()


@dataclass
class Globals:
    """Global options, resolved once in the callback and handed to every command."""

    profile: str = "default"
    network: str | None = None
    identity_file: str | None = None
    proxy: str | None = None
    quiet: bool = False
    verbose: int = 0

    def options(self, timeout: float | None = None) -> context.Options:
        """The plain values core/context.py builds a command's identity and network from."""
        from sessioncli.core import context

        return context.Options(self.profile, self.network, self.identity_file, self.proxy, timeout)

    def client(self, timeout: float | None = None) -> Client:
        """The `api.Client` these options name: how send, receive, daemon and webhook open one."""
        from sessioncli.api import Client

        return Client(
            profile=self.profile,
            network=self.network,
            identity_file=self.identity_file,
            proxy=self.proxy,
            timeout=timeout,
        )


def get_globals(ctx: typer.Context) -> Globals:
    root = ctx.find_root()
    obj = root.obj
    if isinstance(obj, Globals):
        return obj
    return Globals()


_SHELLS = ("bash", "zsh", "fish")


def _show_completion(value: str | None) -> None:
    """Print the completion script for the shell asked for (typer's own flag ignored the name)."""
    if value is None:
        return
    shell = value
    if shell == "auto":
        import os

        shell = os.path.basename(os.environ.get("SHELL", "")) or "bash"
    if shell not in _SHELLS:
        raise typer.BadParameter(
            f"unknown shell {value!r}: use {', '.join(_SHELLS)}", param_hint="'--show-completion'"
        )
    from typer._completion_shared import get_completion_script

    typer.echo(
        get_completion_script(
            prog_name="sessioncli", complete_var="_SESSIONCLI_COMPLETE", shell=shell
        ),
        nl=False,
    )
    raise typer.Exit()


def _version(value: bool) -> None:
    if value:
        typer.echo(f"sessioncli {__version__}")
        raise typer.Exit()


def complete_network(incomplete: str) -> list[str]:
    """mainnet, testnet, then folders and .json files under what was typed. Never raises."""
    try:
        import glob
        import os

        found = [n for n in ("mainnet", "testnet") if n.startswith(incomplete)]
        for path in sorted(glob.glob(os.path.expanduser(incomplete) + "*"))[:50]:
            if os.path.isdir(path):
                found.append(path + "/")
            elif path.endswith(".json"):
                found.append(path)
        return found
    except Exception:  # completion must never print a traceback at the user's prompt
        return []


def complete_profile(incomplete: str) -> list[str]:
    """Profiles that have state or a config: `default` and any `SESSIONCLI_PROFILE` in use."""
    import os

    names = {"default", os.environ.get("SESSIONCLI_PROFILE") or "default"}
    return sorted(n for n in names if n.startswith(incomplete))


@app.callback()
def main_options(
    ctx: typer.Context,
    profile: Annotated[
        str,
        typer.Option(
            "--profile",
            envvar="SESSIONCLI_PROFILE",
            metavar="NAME",
            help="Which identity: one keyring entry per profile (state follows the Session ID).",
            autocompletion=complete_profile,
        ),
    ] = "default",
    network: Annotated[
        str | None,
        typer.Option(
            "--network",
            envvar="SESSIONCLI_NETWORK",
            metavar="NETWORK",
            help="mainnet, testnet, or the path of a network file (as `devnet up` writes).",
            autocompletion=complete_network,
            show_default="mainnet",
        ),
    ] = None,
    identity_file: Annotated[
        str | None,
        typer.Option(
            "--identity-file",
            envvar="SESSIONCLI_IDENTITY_FILE",
            metavar="PATH",
            help="Read (or with keygen, write) the identity from this file instead of the keyring.",
        ),
    ] = None,
    proxy: Annotated[
        str | None,
        typer.Option(
            "--proxy",
            envvar="SESSIONCLI_PROXY",
            metavar="URL",
            help="Proxy for connections to seeds and guards, e.g. socks5h://127.0.0.1:9050; none: direct.",
        ),
    ] = None,
    quiet: Annotated[
        bool, typer.Option("-q", "--quiet", help="No informational output on stderr.")
    ] = False,
    verbose: Annotated[
        int,
        typer.Option(
            "-v",
            "--verbose",
            count=True,
            show_default=False,
            help="More detail on stderr (repeatable).",
        ),
    ] = 0,
    version: Annotated[
        bool | None,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = None,
    show_completion: Annotated[
        str | None,
        typer.Option(
            "--show-completion",
            metavar="[SHELL]",
            callback=_show_completion,
            is_eager=True,
            expose_value=False,
            help="Print the completion script for SHELL (bash, zsh or fish; default: $SHELL).",
        ),
    ] = None,
) -> None:
    if profile != "default" and not _valid_profile(profile):
        raise typer.BadParameter(
            "use letters, digits, '.', '_' or '-' (at most 64)", param_hint="'--profile'"
        )
    ctx.obj = Globals(
        profile=profile,
        network=network or None,
        identity_file=identity_file or None,
        proxy=proxy or None,  # the usual *_PROXY variables apply below the config file (transport)
        quiet=quiet,
        verbose=verbose,
    )
    if verbose and not quiet:
        from sessioncli.cli._errors import err
        from sessioncli.core import context

        context.trace_requests(lambda line: err(f"sessioncli: {line}"))


def _valid_profile(name: str) -> bool:
    import re

    return re.fullmatch(r"[A-Za-z0-9._-]{1,64}", name) is not None and name not in {".", ".."}


TimeoutOpt = Annotated[
    float | None,
    typer.Option(
        "--timeout",
        min=0.1,
        metavar="SECONDS",
        help="Give up after SECONDS (exit 69 or 75).",
        show_default="30",
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for programs.")]
