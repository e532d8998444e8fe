"""`sessioncli devnet up|ctl`: run a local Session network, and steer a running one."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from sessioncli.cli._errors import cli_errors
from sessioncli.cli._output import emit_json, emit_line, emit_ndjson, emit_rows
from sessioncli.cli.app import app

devnet_app = typer.Typer(
    name="devnet",
    help="A local Session network (seed, storage nodes, onion routing) for offline tests.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(devnet_app, name="devnet")

DirOption = Annotated[
    Path,
    typer.Option(
        "--dir",
        metavar="DIR",
        help="Folder of the devnet: certificates, ports, messages, network.json.",
    ),
]


@devnet_app.command("up")
@cli_errors
def up(
    directory: DirOption,
    nodes: Annotated[
        int, typer.Option("--nodes", min=1, max=2000, metavar="N", help="Storage nodes.")
    ] = 15,
    swarm_size: Annotated[
        int, typer.Option("--swarm-size", min=1, metavar="N", help="Storage nodes per swarm.")
    ] = 5,
    seed: Annotated[
        str | None,
        typer.Option(
            "--seed",
            metavar="TEXT",
            help="Derives node keys, addresses, swarm ids and the network's name.",
            show_default="the folder's own: kept from its last run, else made from its path",
        ),
    ] = None,
    seeds: Annotated[
        int, typer.Option("--seeds", min=1, max=16, metavar="N", help="Seed nodes.")
    ] = 1,
    sogs_rate_limit: Annotated[
        str,
        typer.Option(
            "--sogs-rate-limit",
            metavar="COUNT/SECONDS",
            help="Posts the SOGS takes per user per room: COUNT/SECONDS or off.",
        ),
    ] = "5/16",
    sogs_blind: Annotated[
        bool,
        typer.Option(
            "--sogs-blind/--sogs-no-blind",
            help="SOGS advertises `blind` and refuses unblinded (00) keys, as pysogs does.",
        ),
    ] = True,
    hardfork: Annotated[
        str,
        typer.Option(
            "--hardfork",
            metavar="MAJOR.MINOR",
            help="Network version the nodes report (hf), MAJOR.MINOR.",
        ),
    ] = "19.4",
) -> None:
    """Run a devnet in the foreground until SIGINT/SIGTERM; one line on stdout once it is ready.

    Point the client at it with `--network DIR/network.json`."""
    import signal
    import threading

    from sessioncli.devnet import Devnet
    from sessioncli.devnet.servers import SogsOptions, parse_rate_limit

    sogs = SogsOptions(rate_limit=parse_rate_limit(sogs_rate_limit), blind=sogs_blind)
    stop = threading.Event()

    def request_stop(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    from sessioncli.devnet.errors import DevnetUsageError

    major, dot, minor = hardfork.partition(".")
    if not (major.isdigit() and dot and minor.isdigit()):
        raise DevnetUsageError(f"--hardfork must be MAJOR.MINOR (e.g. 19.4), not {hardfork!r}")
    devnet = Devnet(
        directory,
        nodes=nodes,
        swarm_size=swarm_size,
        seed=seed or default_seed(directory),
        seeds=seeds,
        sogs=sogs,
        hardfork=(int(major), int(minor)),
    )
    try:
        devnet.start()
        emit_line(f"devnet ready: {nodes} nodes, network file {devnet.network_file}")
        while not stop.wait(0.5):
            pass
    finally:
        devnet.stop()


def default_seed(directory: Path) -> str:
    """A seed of the folder's own, so two devnets get distinct names (and so distinct state).

    A folder that ran before keeps the seed it ran with (it is in its ports.json), so its keys,
    certificates and stored messages stay valid; a new folder's seed comes from its absolute
    path. `--seed` still chooses one (tests pin theirs).
    """
    import json

    try:
        saved = json.loads((directory / "ports.json").read_text("utf-8")).get("seed")
    except (OSError, ValueError, AttributeError):
        saved = None
    if isinstance(saved, str) and saved:
        return saved
    return f"sessioncli-devnet:{directory.absolute()}"


DEVNET_VERBS = (
    "list",
    "down",
    "up",
    "hang",
    "clock",
    "fault",
    "stats",
    "seen",
    "fileserver",
    "sogs",
    "ons",
)


def _complete_verb(incomplete: str) -> list[str]:
    return [v for v in DEVNET_VERBS if v.startswith(incomplete)]


@devnet_app.command(
    "ctl",
    context_settings={"ignore_unknown_options": True},
)
@cli_errors
def ctl(
    directory: DirOption,
    verb: Annotated[
        str,
        typer.Argument(
            metavar="VERB",
            help="list | down NODE... | up NODE... | hang NODE... | "
            "clock NODE SECONDS | fault NODE MODE | stats | seen NODE | "
            "fileserver down|up|hang|fault MODE|tamper ID|status | "
            "sogs down|up|hang|fault MODE|clock SECONDS|seen|status | "
            "ons add NAME SESSION_ID | ons list",
            autocompletion=_complete_verb,
        ),
    ],
    args: Annotated[
        list[str] | None, typer.Argument(metavar="ARGS", help="Node ids and values.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Steer a running devnet: take nodes down, make them hang or misbehave, read counters.

    Fault modes: none, garbage, truncate, oversize, relay502, relay504, stale421."""
    from sessioncli.devnet.control import call

    result = call(directory, verb, list(args or []))
    if as_json:
        emit_json(result)
        return
    _render(verb, result)


def _render(verb: str, result: Any) -> None:
    if verb in ("fileserver", "sogs"):
        for record in result if isinstance(result, list) else [result]:
            emit_ndjson(record)
    elif verb == "stats":
        rows = [
            (node_id, endpoint, count)
            for node_id, info in result.items()
            for endpoint, count in sorted(info["requests"].items())
        ]
        emit_rows(("node", "endpoint", "requests"), rows)
    elif verb == "seen":
        for record in result:
            emit_ndjson(record)
    elif verb == "ons":
        names = result if isinstance(result, list) else [result]
        emit_rows(("name", "session_id"), [(n["name"], n["session_id"]) for n in names])
    elif verb in ("list", "down", "up", "hang", "clock", "fault"):
        nodes = result if isinstance(result, list) else [result]
        emit_rows(
            ("id", "address", "swarm", "state", "fault", "clock", "pubkey_ed25519"),
            [
                (
                    n["id"],
                    n["address"],
                    n["swarm"] or "-",
                    n["state"],
                    n["fault"],
                    n["clock_offset"],
                    n["pubkey_ed25519"],
                )
                for n in nodes
            ],
        )
    else:  # a verb another part of the devnet registered (file server, SOGS...)
        emit_json(result)
