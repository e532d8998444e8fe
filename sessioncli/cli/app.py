"""The typer application, its global options, and the context object every command reads."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from sessioncli import __version__

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


class _RootGroup(TyperGroup):
    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        return super().parse_args(ctx, hoist_global_options(list(args)))


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
    context_settings={"help_option_names": ["-h", "--help"]},
)


@dataclass
class Globals:
    """Global options, resolved once in the callback and handed to every command."""

    profile: str = "default"
    network: str | None = None
    identity_file: str | None = None
    proxy: str | None = None
    quiet: bool = False
    verbose: int = 0


def get_globals(ctx: typer.Context) -> Globals:
    root = ctx.find_root()
    obj = root.obj
    if isinstance(obj, Globals):
        return obj
    return Globals()


def _version(value: bool) -> None:
    if value:
        typer.echo(f"sessioncli {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    ctx: typer.Context,
    profile: Annotated[
        str,
        typer.Option(
            "--profile",
            envvar="SESSIONCLI_PROFILE",
            help="Identity profile (one keyring entry and state folder per profile).",
        ),
    ] = "default",
    network: Annotated[
        str | None,
        typer.Option(
            "--network",
            envvar="SESSIONCLI_NETWORK",
            help="mainnet, testnet, or the path of a network file (as `devnet up` writes).",
            show_default="mainnet",
        ),
    ] = None,
    identity_file: Annotated[
        str | None,
        typer.Option(
            "--identity-file",
            envvar="SESSIONCLI_IDENTITY_FILE",
            help="Read (or with keygen, write) the identity from this file instead of the keyring.",
        ),
    ] = None,
    proxy: Annotated[
        str | None,
        typer.Option(
            "--proxy",
            envvar="SESSIONCLI_PROXY",
            help="Proxy for connections to seeds and guards, e.g. socks5h://127.0.0.1:9050; none: direct.",
        ),
    ] = None,
    quiet: Annotated[
        bool, typer.Option("-q", "--quiet", help="No informational output on stderr.")
    ] = False,
    verbose: Annotated[
        int, typer.Option("-v", "--verbose", count=True, help="More detail on stderr (repeatable).")
    ] = 0,
    version: Annotated[
        bool | None,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
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


def _valid_profile(name: str) -> bool:
    import re

    return re.fullmatch(r"[A-Za-z0-9._-]{1,64}", name) is not None and name not in {".", ".."}


TimeoutOpt = Annotated[
    float | None,
    typer.Option(
        "--timeout", min=0.1, help="Give up after SECONDS (exit 69 or 75).", show_default="30"
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for programs.")]
