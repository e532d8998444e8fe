"""End-to-end figures of the installed command against a devnet: start-up, warm send, fan-out, drain.

Run from a checkout: python benchmarks/bench_cli.py [--repeat 7] [--profile] [--startup-only] [--clean-site] [--code DIR]
Every figure comes from this one run, next to a floor measured in the same run:
  start-up      `sessioncli --version`, `send --help` and one bash completion request (what a Tab
                runs: `_SESSIONCLI_COMPLETE=complete_bash` with COMP_WORDS/COMP_CWORD) vs
                `python -c pass` and `python -c "import typer"`, interleaved, medians
  warm send     `sessioncli send B msg` (caches warm) vs one Python process making one HTTPS
                request (requests, keep-alive off) to a devnet node, and vs sessionpy-messenger
                0.1.0's send (installed into a throwaway venv; skipped with a notice if it cannot
                be), one of each per round, rounds interleaved, medians
  fan-out       `sessioncli send` to 100 recipients in one invocation (messages/s)
  drain         `sessioncli receive` draining 1,000 waiting messages (messages/s)
Peak memory (max RSS) of each command comes from wait4() on that process.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.devnet_support import DevnetProcess  # noqa: E402


def timed(
    argv: list[str], env: dict[str, str], repeat: int, stdin: bytes = b""
) -> tuple[float, int]:
    """Median wall time and the largest max-RSS over `repeat` runs."""
    times, peaks = [], []
    for _ in range(repeat):
        t, rss, _ = run_wait4(argv, env, stdin)
        times.append(t)
        peaks.append(rss)
    return statistics.median(times), max(peaks)


def run_wait4(argv: list[str], env: dict[str, str], stdin: bytes = b"") -> tuple[float, int, bytes]:
    elapsed, _, rss, out = spawn(argv, env, stdin)
    return elapsed, rss, out


def spawn(
    argv: list[str], env: dict[str, str], stdin: bytes = b""
) -> tuple[float, float, int, bytes]:
    """Wall time, CPU time (user + system, from wait4), max RSS and stdout of one process."""
    started = time.perf_counter()
    r_out, w_out = os.pipe()
    r_in, w_in = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        # out of the checkout: `python -m sessioncli` puts the working folder first on sys.path,
        # ahead of PYTHONPATH, so from a checkout's root --code would time that checkout instead
        os.chdir("/")
        os.dup2(r_in, 0)
        os.dup2(w_out, 1)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        for fd in (r_in, w_in, r_out, w_out):
            os.close(fd)
        os.execvpe(argv[0], argv, env)
    os.close(r_in)
    os.close(w_out)
    os.write(w_in, stdin)
    os.close(w_in)
    chunks = []
    while True:
        chunk = os.read(r_out, 65536)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(r_out)
    _, status, usage = os.wait4(pid, 0)
    elapsed = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{argv[:4]}... exited {os.waitstatus_to_exitcode(status)}")
    return elapsed, usage.ru_utime + usage.ru_stime, usage.ru_maxrss, b"".join(chunks)


def startup_rows(
    py: str, cli: list[str], env: dict[str, str], repeat: int
) -> list[tuple[str, str, str, str]]:
    """Start-up figures: every command runs once per round, rounds interleaved, medians reported.

    Interleaving spreads the noise of a loaded machine over all rows alike, so the ratios (the
    figures that count) hold even when the absolute times wander.
    """
    env = dict(env)
    run_wait4([*cli, "-q", "contacts", "add", "alice", "05" + "a" * 64], env)
    run_wait4([*cli, "-q", "contacts", "add", "albert", "05" + "b" * 64], env)
    complete = dict(env, _SESSIONCLI_COMPLETE="complete_bash")
    cases: dict[str, tuple[list[str], dict[str, str]]] = {
        "pass": ([py, "-c", "pass"], env),
        "typer": ([py, "-c", "import typer"], env),
        "version": ([*cli, "--version"], env),
        "help": ([*cli, "send", "--help"], env),
        "tab-contact": (cli, dict(complete, COMP_WORDS="sessioncli send al", COMP_CWORD="2")),
        "tab-command": (cli, dict(complete, COMP_WORDS="sessioncli se", COMP_CWORD="1")),
    }
    times: dict[str, list[float]] = {k: [] for k in cases}
    cpus: dict[str, list[float]] = {k: [] for k in cases}
    peaks: dict[str, int] = dict.fromkeys(cases, 0)
    for _ in range(repeat):
        for key, (argv, case_env) in cases.items():
            t, cpu, rss, out = spawn(argv, case_env)
            if key == "tab-contact" and b"albert" not in out:
                raise SystemExit(f"completion answered {out!r}, not the contacts")
            times[key].append(t)
            cpus[key].append(cpu)
            peaks[key] = max(peaks[key], rss)
    med = {k: statistics.median(v) for k, v in times.items()}
    cpu_med = {k: statistics.median(v) for k, v in cpus.items()}

    def ms(key: str) -> str:
        return f"{med[key] * 1000:.0f} ms (CPU {cpu_med[key] * 1000:.0f} ms)"

    def vs(key: str) -> str:
        wall = f"{med[key] / med['pass']:.2f}x pass, {med[key] / med['typer']:.2f}x import typer"
        cpu = f"{cpu_med[key] / cpu_med['pass']:.2f}x, {cpu_med[key] / cpu_med['typer']:.2f}x"
        return f"{wall} (CPU: {cpu})"

    def mib(key: str) -> str:
        return f"{peaks[key] / 1024:.0f} MiB"

    labels = {
        "pass": "python -c pass",
        "typer": "python -c 'import typer'",
        "version": "sessioncli --version",
        "help": "sessioncli send --help",
        "tab-contact": "one Tab: `sessioncli send al` (contact names)",
        "tab-command": "one Tab: `sessioncli se` (command names)",
    }
    return [(f"start-up: {labels[k]}", ms(k), vs(k), mib(k)) for k in cases]


def clean_interpreter(tmp: Path, env: dict[str, str]) -> tuple[str, dict[str, str]]:
    """The same Python and packages without this machine's site-packages .pth start-up hooks.

    A venv without pip, whose own site-packages is empty, with ours on PYTHONPATH: site.py still
    runs (as on any installation) but processes no .pth file, so `python -c pass` costs what a bare
    interpreter costs. (Here a .pth file imports certifi at every start, about 25 ms of CPU.)
    """
    import subprocess
    import sysconfig

    venv = tmp / "clean-venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    paths = [env["PYTHONPATH"], sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]]
    clean_env = dict(env, PYTHONPATH=os.pathsep.join(dict.fromkeys(paths)))
    clean_env["SESSIONCLI_CONFIG_DIR"] = str(tmp / "clean-config")
    return str(venv / "bin" / "python"), clean_env


def print_rows(args: argparse.Namespace, rows: list[tuple[str, str, str, str]]) -> None:
    print(
        f"machine: {os.cpu_count()} cores, {platform.machine()}, {platform.processor() or platform.platform()}, Python {platform.python_version()}"
    )
    print(
        f"median of {args.repeat} runs where repeated ({max(args.repeat, args.startup_repeat)} for start-up);"
        " RSS = peak resident memory of that process"
    )
    print()
    print("| benchmark | time | ratio / rate | peak RSS |")
    print("| --- | ---: | --- | ---: |")
    for r in rows:
        print(f"| {r[0]} | {r[1]} | {r[2]} | {r[3]} |")


FLOOR_REQUESTS = (
    "import requests,urllib3;urllib3.disable_warnings();"
    "r=requests.post('https://{address}/storage_rpc/v1',"
    "json={{'method':'info','params':{{}}}},verify=False,timeout=10);r.raise_for_status()"
)
FLOOR_STDLIB = (
    "import http.client,ssl;c=ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT);c.check_hostname=False;"
    "c.verify_mode=ssl.CERT_NONE;h=http.client.HTTPSConnection('{host}',{port},context=c,timeout=10);"
    "h.request('POST','/storage_rpc/v1',b'{{\"method\":\"info\",\"params\":{{}}}}',"
    "{{'Content-Type':'application/json'}});r=h.getresponse();r.read();assert r.status==200"
)
SESSIONPY = "sessionpy-messenger==0.1.0"
SESSIONPY_SEND = """
import sys
from pysession_client import network
network.SEED_NODES = [sys.argv[1]]  # the devnet's seed (sessionpy does not verify certificates)
import sessionpy
out = sessionpy.Session(sys.stdin.read().strip()).send_message(sys.argv[2], sys.argv[3])
assert out["message_hash"] and out["sync_message_hash"], out
"""


def install_sessionpy(tmp: Path) -> tuple[str, str] | str:
    """(site-packages folder, a mnemonic) of sessionpy in a throwaway venv, or why it failed.

    It runs on our interpreter with that folder first on PYTHONPATH (not on the venv's python),
    so both clients start alike: the same interpreter and the same site start-up hooks."""
    import subprocess
    import sysconfig

    venv = tmp / "sessionpy-venv"
    try:
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True)
        pip = subprocess.run(
            [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", SESSIONPY],
            capture_output=True,
            text=True,
            timeout=600,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return f"{exc}"
    if pip.returncode != 0:
        return (pip.stderr.strip().splitlines() or ["pip failed"])[-1]
    site = sysconfig.get_path("purelib", vars={"base": str(venv), "platbase": str(venv)})
    made = subprocess.run(
        [
            sys.executable,
            "-c",
            "import os;from pysession_client import mnemonic;"
            "print(mnemonic.encode(os.urandom(16)))",
        ],
        env={"PATH": os.environ.get("PATH", ""), "PYTHONPATH": site},
        capture_output=True,
        text=True,
    )
    if made.returncode != 0:
        return (made.stderr.strip().splitlines() or ["no mnemonic"])[-1]
    return site, made.stdout.strip()


def warm_send_rows(
    args: argparse.Namespace,
    py: str,
    cli: list[str],
    dn: DevnetProcess,
    tmp: Path,
    base_env: dict[str, str],
    alice_env: dict[str, str],
    bob: str,
    cold: float,
) -> list[tuple[str, str, str, str]]:
    """Warm send, --no-sync, the floors and sessionpy's send: one of each per round, interleaved."""
    node = next(n for n in dn.nodes() if n["id"].startswith("n"))
    cases: dict[str, tuple[list[str], dict[str, str], bytes]] = {
        "floor": ([py, "-c", FLOOR_REQUESTS.format(address=node["address"])], base_env, b""),
        "stdlib": (
            [py, "-c", FLOOR_STDLIB.format(host=node["ip"], port=node["port"])],
            base_env,
            b"",
        ),
        "send": ([*cli, "send", bob, "warm send"], alice_env, b""),
        "nosync": ([*cli, "send", "--no-sync", bob, "warm"], alice_env, b""),
    }
    sp = install_sessionpy(tmp)
    if isinstance(sp, tuple):
        seed = json.loads(dn.network_file.read_text())["seeds"][0]["url"]
        sp_env = dict(base_env, PYTHONPATH=sp[0])
        argv = [py, "-c", SESSIONPY_SEND, seed, bob, "from sessionpy"]
        cases["sessionpy"] = (argv, sp_env, sp[1].encode())
    else:
        print(
            f"notice: {SESSIONPY} could not be installed ({sp}): no sessionpy line", file=sys.stderr
        )
    times: dict[str, list[float]] = {k: [] for k in cases}
    cpus: dict[str, list[float]] = {k: [] for k in cases}
    peak = 0
    for _ in range(args.repeat):
        for key, (argv, env, stdin) in cases.items():
            t, cpu, rss, _ = spawn(argv, env, stdin)
            times[key].append(t)
            cpus[key].append(cpu)
            peak = max(peak, rss) if key == "send" else peak
    med = {k: statistics.median(v) for k, v in times.items()}
    cpu_med = {k: statistics.median(v) for k, v in cpus.items()}

    def ms(key: str) -> str:
        return f"{med[key] * 1000:.0f} ms (CPU {cpu_med[key] * 1000:.0f} ms)"

    def cpu_ratio(a: str, b: str) -> str:
        # on a shared machine the CPU ratio (user + system, from wait4) wanders less than wall
        return f" (CPU: {cpu_med[a] / cpu_med[b]:.2f}x)"

    floor = f"one HTTPS request from python, requests ({ms('floor')})"
    rows = [
        ("send, cold cache (bootstrap + paths + swarm)", f"{cold * 1000:.0f} ms", "", ""),
        (
            "send, warm caches",
            ms("send"),
            f"{med['send'] / med['floor']:.2f}x {floor}" + cpu_ratio("send", "floor"),
            f"{peak / 1024:.0f} MiB",
        ),
        (
            "send --no-sync (one onion round trip), warm",
            ms("nosync"),
            f"{med['nosync'] / med['floor']:.2f}x the same floor" + cpu_ratio("nosync", "floor"),
            "",
        ),
        (
            "(one HTTPS request from python, http.client: no requests)",
            ms("stdlib"),
            f"{med['send'] / med['stdlib']:.2f}x: warm send / this" + cpu_ratio("send", "stdlib"),
            "",
        ),
    ]
    if "sessionpy" in med:
        rows.append(
            (
                f"{SESSIONPY} send (message + sync copy; node list and swarms fetched every run)",
                ms("sessionpy"),
                f"warm send = {med['send'] / med['sessionpy']:.2f}x sessionpy's"
                + cpu_ratio("send", "sessionpy"),
                "",
            )
        )
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--recipients", type=int, default=100)
    ap.add_argument("--drain", type=int, default=1000)
    ap.add_argument("--profile", action="store_true", help="print a cProfile of one warm send")
    ap.add_argument("--startup-repeat", type=int, default=31, help="rounds of the start-up rows")
    ap.add_argument(
        "--startup-only", action="store_true", help="only the start-up rows (no devnet)"
    )
    ap.add_argument(
        "--clean-site",
        action="store_true",
        help="also time the start-up rows on an interpreter that runs no .pth start-up hooks",
    )
    ap.add_argument(
        "--code", type=Path, default=REPO, help="checkout whose sessioncli to time (default: this)"
    )
    args = ap.parse_args()

    py = sys.executable
    tmp = Path(tempfile.mkdtemp(prefix="sessioncli-bench-"))
    base_env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp),
        "PYTHONPATH": str(args.code.resolve()),
        "SESSIONCLI_CONFIG_DIR": str(tmp / "config"),
        "SESSIONCLI_STATE_DIR": str(tmp / "state"),
        "SESSIONCLI_CACHE_DIR": str(tmp / "cache"),
    }
    cli = [py, "-m", "sessioncli"]
    rows: list[tuple[str, str, str, str]] = []

    startup_repeat = max(args.repeat, args.startup_repeat)
    rows += startup_rows(py, cli, base_env, startup_repeat)
    if args.clean_site:
        clean_py, clean_env = clean_interpreter(tmp, base_env)
        clean_rows = startup_rows(
            clean_py, [clean_py, "-m", "sessioncli"], clean_env, startup_repeat
        )
        rows += [(f"{r[0]} [clean site]", *r[1:]) for r in clean_rows]
    if args.startup_only:
        print_rows(args, rows)
        return

    with DevnetProcess(tmp / "devnet", nodes=15, swarm_size=5, seed="bench") as dn:
        env = dict(base_env, SESSIONCLI_NETWORK=str(dn.network_file))
        ids = {}
        for who in ("alice", "bob"):
            f = tmp / f"{who}.id"
            _, _, out = run_wait4([*cli, "-q", "keygen", "--identity-file", str(f)], env)
            ids[who] = (f, out.decode().strip())
        alice_env = dict(env, SESSIONCLI_IDENTITY_FILE=str(ids["alice"][0]))
        bob_env = dict(env, SESSIONCLI_IDENTITY_FILE=str(ids["bob"][0]))
        bob = ids["bob"][1]

        cold, _, _ = run_wait4([*cli, "send", bob, "cold"], alice_env)
        rows += warm_send_rows(args, py, cli, dn, tmp, base_env, alice_env, bob, cold)
        recipients = []
        from sessioncli.protocol.crypto import random_bytes
        from sessioncli.protocol.ids import Identity

        for _ in range(args.recipients):
            recipients.append(Identity.from_seed(random_bytes(16)).session_id)
        t_fan, rss_fan, _ = run_wait4(
            [*cli, "send", "--no-sync", ",".join(recipients), "fan-out"], alice_env
        )
        rows.append(
            (
                f"send to {args.recipients} recipients, one invocation",
                f"{t_fan:.2f} s",
                f"{args.recipients / t_fan:.0f} messages/s",
                f"{rss_fan / 1024:.0f} MiB",
            )
        )

        # Fill bob's inbox through the library (one client, 8 threads): the fill is not measured.
        t_fill = time.perf_counter()
        from concurrent.futures import ThreadPoolExecutor

        from sessioncli.keystore import read_identity_file
        from sessioncli.net.client import NetworkClient
        from sessioncli.protocol import message

        alice = Identity.from_seed(read_identity_file(str(ids["alice"][0])).seed)
        filler = NetworkClient(str(dn.network_file), cache_root=tmp / "fill-cache")

        def one(i: int) -> None:
            ts = filler.now_ms()
            content = message.build_text_content(f"drain {i}", ts)
            data = message.encode_dm(alice, bob, content, ts)
            filler.store(bob, data, ttl_ms=3_600_000, timestamp_ms=ts)

        with ThreadPoolExecutor(8) as pool:
            list(pool.map(one, range(args.drain)))
        filler.close()
        fill = time.perf_counter() - t_fill
        t_drain, rss_drain, out = run_wait4([*cli, "receive", "--json"], bob_env)
        got = [json.loads(x) for x in out.splitlines() if x.strip()]
        drained = sum(1 for m in got if m["body"].startswith("drain "))
        rows.append(
            (
                f"receive draining {args.drain} messages",
                f"{t_drain:.2f} s",
                f"{drained / t_drain:.0f} messages/s ({drained} received)",
                f"{rss_drain / 1024:.0f} MiB",
            )
        )
        rows.append(
            (
                f"(filling the inbox: {args.drain} library stores, 8 threads)",
                f"{fill:.1f} s",
                f"{args.drain / fill:.0f} sends/s",
                "",
            )
        )

        if args.profile:
            prof = tmp / "send.prof"
            run_wait4(
                [
                    py,
                    "-m",
                    "cProfile",
                    "-o",
                    str(prof),
                    "-m",
                    "sessioncli",
                    "send",
                    bob,
                    "profiled",
                ],
                alice_env,
            )
            import pstats

            pstats.Stats(str(prof)).sort_stats("cumulative").print_stats(25)

    print_rows(args, rows)


if __name__ == "__main__":
    main()
