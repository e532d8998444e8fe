"""Runs every shell, crontab, systemd and CI example in README.md and docs/ against a devnet."""

from __future__ import annotations

import json
import re
import shlex
import signal
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.slow

RUNNABLE = {"sh", "crontab", "ini", "yaml", "python"}
# Python blocks are run where the page is the API's reference; elsewhere they are sketches that
# assume a test's context (e.g. docs/devnet.md's use of tmp_path).
PYTHON_DOCS = {"api.md"}
BOT_SEED = "00112233445566778899aabbccddeeff"


@dataclass(frozen=True)
class Example:
    doc: str
    line: int
    lang: str
    code: str

    @property
    def id(self) -> str:
        return f"{self.doc}:{self.line}:{self.lang}"


def _examples() -> list[Example]:
    docs = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
    found: list[Example] = []
    for doc in docs:
        if doc.name == "cli.md":  # generated --help text, not examples
            continue
        lines = doc.read_text(encoding="utf-8").splitlines()
        i = 0
        while i < len(lines):
            m = re.match(r"^```(\w+)\s*$", lines[i])
            if m:
                start = i
                j = i + 1
                while j < len(lines) and lines[j].strip() != "```":
                    j += 1
                if m.group(1) in RUNNABLE and (m.group(1) != "python" or doc.name in PYTHON_DOCS):
                    found.append(
                        Example(
                            doc.name,
                            start + 1,
                            m.group(1),
                            "\n".join(lines[start + 1 : j]),
                        )
                    )
                i = j
            i += 1
    return found


EXAMPLES = _examples()


class DocsWorld:
    """One user's machine: HOME, a keyring, the devnet as the network, and "ops" on a phone."""

    def __init__(self, root: Path, network_file: Path) -> None:
        self.home = root / "home"
        self.home.mkdir(parents=True)
        self.bin = root / "bin"
        self.bin.mkdir()
        shim = self.bin / "sessioncli"
        shim.write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} -m sessioncli "$@"\n')
        shim.chmod(0o755)
        # The CI example installs the package from its repository; here the checkout is importable.
        pip = self.bin / "pip"
        pip.write_text(
            "#!/bin/sh\n"
            f'[ "$1 $2" = {shlex.quote("install " + str(REPO))} ] && exit 0\n'
            f'exec {shlex.quote(sys.executable)} -m pip "$@"\n'
        )
        pip.chmod(0o755)
        self.env = {
            "PATH": f"{self.bin}:/usr/bin:/bin",
            "HOME": str(self.home),
            "LANG": "C.UTF-8",
            "PYTHONPATH": str(REPO),
            "XDG_CONFIG_HOME": str(self.home / ".config"),
            "XDG_STATE_HOME": str(self.home / ".local/state"),
            "XDG_CACHE_HOME": str(self.home / ".cache"),
            "PYTHON_KEYRING_BACKEND": "tests.memkeyring.FileKeyring",
            "SESSIONCLI_TEST_KEYRING_FILE": str(self.home / "keyring.json"),
            "SESSIONCLI_NETWORK": str(network_file),
        }
        self.ops_received: list[dict] = []
        self.ops_file = root / "ops-phone.identity"
        self.ops_id = self.cli(["--identity-file", str(self.ops_file), "-q", "keygen"]).strip()
        self.env["OPS_ID"] = self.ops_id
        self.community_url = json.loads(Path(network_file).read_text())["communities"][0]
        # "ops" reads the room from a phone of its own: its own list of joined communities.
        self.ops_env = dict(
            self.env,
            SESSIONCLI_IDENTITY_FILE=str(self.ops_file),
            XDG_CONFIG_HOME=str(root / "ops-config"),
        )
        self.cli(["community", "add", "watch", self.community_url], env=self.ops_env)

    def room_posts(self) -> list[dict]:
        """What "ops" reads in the devnet's community since it joined."""
        out = self.cli(["receive", "--json", "--conversation", "watch"], env=self.ops_env)
        return [json.loads(line) for line in out.splitlines()]

    def cli(self, args: list[str], env: dict[str, str] | None = None) -> str:
        res = subprocess.run(
            [sys.executable, "-m", "sessioncli", *args],
            env=env or self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert res.returncode == 0, res.stderr
        return res.stdout

    def sh(self, script: str, env: dict[str, str] | None = None, timeout: float = 180) -> str:
        res = subprocess.run(
            ["bash", "-e", "-o", "pipefail", "-c", script],
            env=env or self.env,
            cwd=self.home,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        assert res.returncode == 0, f"exit {res.returncode}\n{script}\n--- stderr:\n{res.stderr}"
        assert "Traceback" not in res.stderr
        return res.stdout

    def ops_inbox(self) -> list[dict]:
        """Everything "ops" has received so far (receive consumes, so keep a running list)."""
        env = dict(self.env, SESSIONCLI_IDENTITY_FILE=str(self.ops_file))
        out = self.cli(["receive", "--json"], env=env)
        self.ops_received += [json.loads(line) for line in out.splitlines()]
        return self.ops_received


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory):
    from tests.devnet_support import DevnetProcess

    root = tmp_path_factory.mktemp("docs")
    with DevnetProcess(root / "devnet", seed="docs") as devnet:
        yield DocsWorld(root, devnet.network_file)


def _run_crontab(world: DocsWorld, code: str) -> None:
    env = dict(world.env)
    jobs = []
    for line in code.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        var = re.match(r"^([A-Z_][A-Z0-9_]*)=(.*)$", line)
        if var:
            env[var.group(1)] = var.group(2).replace("/home/alerts", str(world.home))
            if var.group(1) == "PATH":  # the test's `sessioncli` stands where pipx would put it
                env["PATH"] = f"{world.bin}:{env['PATH']}"
            continue
        fields = line.split(None, 5)
        assert len(fields) == 6, f"not a cron job line: {line}"
        jobs.append(fields[5].replace("\\%", "%"))
    ident = env.get("SESSIONCLI_IDENTITY_FILE")
    if ident and not Path(ident).exists():
        world.cli(["keygen", "-q", "--identity-file", ident], env=env)
    env.pop("MAILTO", None)
    before = len(world.ops_inbox())
    for job in jobs:
        out = world.sh(job, env=env)
        assert out == "", "a cron job must be silent on success"
    assert len(world.ops_inbox()) >= before + len(jobs)


def _run_systemd(world: DocsWorld, code: str) -> None:
    env = dict(world.env)
    exec_start = None
    for line in code.splitlines():
        if line.startswith("Environment="):
            key, _, value = line[len("Environment=") :].partition("=")
            env[key] = value.replace("%h", str(world.home))
        elif line.startswith("ExecStart="):
            exec_start = line[len("ExecStart=") :].replace("%h", str(world.home))
    assert exec_start, "unit has no ExecStart"
    ident = Path(env["SESSIONCLI_IDENTITY_FILE"])
    if not ident.exists():
        world.cli(["keygen", "-q", "--identity-file", str(ident)], env=env)
    me = world.cli(["whoami"], env=dict(env)).strip()
    named = re.search(r"%h/([\w.-]+\.ndjson)", code)
    log = world.home / (named.group(1) if named else "session-inbox.ndjson")
    before = (log.read_text() if log.exists() else "").count("hello bot")
    proc = subprocess.Popen(shlex.split(exec_start), env=env, stderr=subprocess.PIPE, text=True)
    try:
        ops_env = dict(world.env, SESSIONCLI_IDENTITY_FILE=str(world.ops_file))
        world.cli(["send", me, "hello bot"], env=ops_env)

        def count() -> int:
            return (log.read_text() if log.exists() else "").count("hello bot")

        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and count() <= before:
            time.sleep(0.2)
        assert count() > before, log
    finally:
        proc.send_signal(signal.SIGTERM)  # what `systemctl stop` does
        code_ = proc.wait(timeout=30)
    assert code_ == 0, proc.stderr.read() if proc.stderr else ""


def _run_ci_step(world: DocsWorld, code: str) -> None:
    env = dict(world.env, GITHUB_RUN_ID="42", GITHUB_REPOSITORY="example/app")
    lines = code.splitlines()
    script: list[str] = []
    section = None
    for line in lines:
        stripped = line.strip()
        if stripped == "env:":
            section = "env"
            continue
        if stripped.startswith("run: |"):
            section = "run"
            continue
        if section == "env" and ":" in stripped:
            key, _, value = stripped.partition(":")
            value = value.strip()
            value = value.replace("${{ secrets.SESSION_BOT_SEED }}", BOT_SEED)
            value = value.replace("${{ vars.OPS_SESSION_ID }}", world.ops_id)
            value = value.replace("${{ vars.SESSIONCLI_SOURCE }}", str(REPO))
            value = value.replace("${{ vars.SESSION_COMMUNITY_URL }}", world.community_url)
            assert "${{" not in value, f"unknown CI expression in {line}"
            env[key.strip()] = value
        elif section == "run":
            script.append(line)
    if "COMMUNITY_URL" in env:  # a post to the devnet's community: "ops" reads the room
        world.sh(textwrap.dedent("\n".join(script)), env=env)
        posts = world.room_posts()
        assert [p["body"] for p in posts] == ["release 42 of example/app is out"], posts
        assert posts[0]["from_name"] == "Release bot" and posts[0]["from"].startswith("15")
        return
    before = len(world.ops_inbox())
    world.sh(textwrap.dedent("\n".join(script)), env=env)
    assert len(world.ops_inbox()) >= before + 1


def _run_python(world: DocsWorld, code: str) -> None:
    res = subprocess.run(
        [sys.executable, "-c", code],
        env=world.env,
        cwd=world.home,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert res.returncode == 0, f"{code}\n--- stderr:\n{res.stderr}"


@pytest.mark.parametrize("example", EXAMPLES, ids=[e.id for e in EXAMPLES])
def test_example(world: DocsWorld, example: Example) -> None:
    if example.lang == "sh":
        env = dict(world.env, DISK_ALERT_PERCENT="0")  # make the threshold example fire
        world.sh(example.code, env=env)
    elif example.lang == "crontab":
        _run_crontab(world, example.code)
    elif example.lang == "ini":
        _run_systemd(world, example.code)
    elif example.lang == "yaml":
        _run_ci_step(world, example.code)
    elif example.lang == "python":
        _run_python(world, example.code)


def test_the_examples_reached_the_phone(world: DocsWorld) -> None:
    """Runs after the examples: what they sent really arrived at "ops", once each."""
    bodies = [m["body"] for m in world.ops_inbox()]
    for expected in ("backup finished on", "disk check ok", "nightly job done", "build 42 of"):
        assert sum(expected in b for b in bodies) == 1, (expected, bodies)
    assert len({m["hash"] for m in world.ops_received}) == len(world.ops_received)


def test_every_example_language_is_known() -> None:
    assert EXAMPLES, "no runnable examples found"
    assert {e.lang for e in EXAMPLES} == RUNNABLE
