"""Secrets canary: the canary identity's seed, phrase and secret keys never leak into output or files."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sessioncli.protocol.ids import Identity
from tests.conftest import CANARY_SEED_HEX, canary_phrase, cli_env, run_cli

CANARY = Identity.from_seed(bytes.fromhex(CANARY_SEED_HEX))
PHRASE = canary_phrase()
WORDS = PHRASE.split()


def _secret_texts() -> dict[str, str]:
    texts = {
        "seed hex": CANARY_SEED_HEX,
        "phrase": PHRASE,
        "ed25519 secret key hex": CANARY.ed25519_secret.hex(),
        "ed25519 seed hex": CANARY.ed25519_secret[:32].hex(),
        "x25519 secret key hex": CANARY.x25519_secret.hex(),
    }
    for name, value in list(texts.items()):
        if name.endswith("hex"):
            texts[name.replace("hex", "HEX")] = value.upper()
    for name, raw in {
        "seed": CANARY.seed,
        "ed25519 secret key": CANARY.ed25519_secret,
        "x25519 secret key": CANARY.x25519_secret,
    }.items():
        texts[f"{name} base64"] = base64.b64encode(raw).decode().rstrip("=")
    return texts


SECRET_TEXTS = _secret_texts()
SECRET_BYTES = {
    "raw seed": CANARY.seed,
    "raw ed25519 secret key": CANARY.ed25519_secret,
    "raw x25519 secret key": CANARY.x25519_secret,
}
# Three phrase words in a row (any spacing or case) would be a partial leak of the phrase.
PHRASE_RUNS = [
    re.compile(r"\W+".join(re.escape(w) for w in WORDS[i : i + 3]), re.IGNORECASE)
    for i in range(len(WORDS) - 2)
]


def leaks(text: str) -> list[str]:
    found = [name for name, s in SECRET_TEXTS.items() if s.lower() in text.lower()]
    if " ".join(text.split()).lower().find(PHRASE.lower()) >= 0 and "phrase" not in found:
        found.append("phrase")
    if any(r.search(text) for r in PHRASE_RUNS):
        found.append("three phrase words in a row")
    return found


def file_leaks(root: Path, skip: set[Path]) -> list[str]:
    out = []
    for path in sorted(root.rglob("*")):
        if not path.is_file() or path in skip:
            continue
        data = path.read_bytes()
        for name, raw in SECRET_BYTES.items():
            if raw in data:
                out.append(f"{path}: {name}")
        out += [f"{path}: {name}" for name in leaks(data.decode("latin-1"))]
    return out


@pytest.fixture(scope="module")
def devnet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from tests.devnet_support import DevnetProcess

    folder = tmp_path_factory.mktemp("canary-devnet")
    with DevnetProcess(folder, nodes=12, swarm_size=4, seed=f"canary-{folder.name}") as dn:
        yield dn


class Runner:
    """Runs the CLI as the canary (or as the peer) and checks every output as it goes."""

    def __init__(self, home: Path, env: dict[str, str], secrets_at: set[Path]) -> None:
        self.home = home
        self.env = env
        self.secrets_at = secrets_at
        self.count = 0

    def run(
        self, args: list[str], *, input: str | None = None, expect: int | tuple[int, ...] | None = 0
    ) -> Any:
        res = run_cli(["-vv", *args], self.home, input=input, env=self.env, timeout=120)
        self.count += 1
        assert not leaks(res.stdout), (args, leaks(res.stdout))
        assert not leaks(res.stderr), (args, leaks(res.stderr))
        assert "Traceback" not in res.stderr, (args, res.stderr)
        if expect is not None:
            wanted = expect if isinstance(expect, tuple) else (expect,)
            assert res.returncode in wanted, (args, res.returncode, res.stderr)
        return res


def make_peer(home: Path, network_file: Path) -> tuple[str, Runner]:
    ident = home / "peer-identity"
    env = cli_env(
        home / "peer", SESSIONCLI_NETWORK=str(network_file), SESSIONCLI_IDENTITY_FILE=str(ident)
    )
    peer = Runner(home / "peer", env, {ident})
    return peer.run(["keygen", "-q"]).stdout.strip(), peer


def canary_env(home: Path, mode: str, network_file: Path) -> tuple[dict[str, str], set[Path]]:
    extra: dict[str, str] = {"SESSIONCLI_NETWORK": str(network_file)}
    secrets_at: set[Path] = set()
    if mode.startswith("file"):
        ident = home / "identity"
        ident.write_text((CANARY_SEED_HEX if mode == "file-hex" else PHRASE) + "\n")
        ident.chmod(0o600)
        extra["SESSIONCLI_IDENTITY_FILE"] = str(ident)
        secrets_at.add(ident)
    elif mode.startswith("env"):
        extra["SESSIONCLI_IDENTITY"] = CANARY_SEED_HEX if mode == "env-hex" else PHRASE
    else:
        keyring_file = home / "keyring.json"
        extra["PYTHON_KEYRING_BACKEND"] = "tests.memkeyring.FileKeyring"
        extra["SESSIONCLI_TEST_KEYRING_FILE"] = str(keyring_file)
        secrets_at.add(keyring_file)
    return cli_env(home, **extra), secrets_at


def exercise(canary: Runner, peer: Runner, peer_id: str, *, full: bool) -> None:
    """Every command, successes and failures; `full` adds the slower and rarer ones."""
    assert canary.run(["whoami"]).stdout.strip() == CANARY.session_id
    assert json.loads(canary.run(["whoami", "--json"]).stdout)["session_id"] == CANARY.session_id
    peer.run(["send", CANARY.session_id, "hello canary"])
    canary.run(["send", peer_id, "hello peer"])
    got = canary.run(["receive", "--json"]).stdout
    assert "hello canary" in got
    canary.run(["send", "05abc", "x"], expect=2)
    canary.run(["send", "--ttl", "30d", peer_id, "x"], expect=2)
    canary.run(["path", "--test"])
    # receive --exec: the handler's environment and stdin carry the message, never our seed
    peer.run(["send", CANARY.session_id, "for the handler"])
    handled = canary.run(["receive", "--exec", "env; cat"]).stdout
    assert "for the handler" in handled and "SESSIONCLI_HASH=" in handled
    if not full:
        return
    canary.run(["send", "--json", "--name", "Canary", "--ttl", "1h", peer_id, "json send"])
    canary.run(["send", peer_id], input="from stdin\n")
    canary.run(["send", "nobody", "x"], expect=2)
    canary.run(["send", "--ttl", "soon", peer_id, "x"], expect=2)
    canary.run(["send", peer_id, ""], expect=2)
    canary.run(["contacts", "add", "peer", peer_id])
    canary.run(["contacts", "add", "peer", peer_id], expect=2)
    canary.run(["contacts", "add", "bad", "05zz"], expect=2)
    canary.run(["contacts", "list"])
    canary.run(["contacts", "list", "--json"])
    canary.run(["contacts", "show", "peer", "--json"])
    canary.run(["send", "peer", "to a contact"])
    peer.run(["send", CANARY.session_id, "again"])
    canary.run(["receive"])
    canary.run(["receive", "--peek", "--include-own", "--json"])
    canary.run(["nodes"])
    canary.run(["nodes", "--refresh", "--json"])
    canary.run(["nodes", "--swarm", CANARY.session_id, "--json"])
    canary.run(["path"])
    canary.run(["path", "--json"])
    canary.run(["path", "--rebuild", "--json"])
    canary.run(["path", "--test", "--json"])
    canary.run(["keygen"], expect=None)  # refuses to replace (or says where it lives): no secret
    canary.run(["keygen", "--json"], expect=None)
    canary.run(["--network", "nonexistent", "send", peer_id, "x"], expect=2)
    canary.run(["contacts", "remove", "peer"])


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["file-hex", "file-phrase", "env-hex", "env-phrase", "keyring"])
def test_no_secret_in_any_output_or_file(devnet: Any, private_dirs: Path, mode: str) -> None:
    home = private_dirs / mode
    home.mkdir()
    env, secrets_at = canary_env(home, mode, devnet.network_file)
    canary = Runner(home, env, secrets_at)
    if mode == "keyring":
        made = canary.run(["keygen", "--restore", "--json"], input=PHRASE + "\n")
        assert json.loads(made.stdout)["session_id"] == CANARY.session_id
        assert (home / "keyring.json").exists()
    peer_id, peer = make_peer(private_dirs, devnet.network_file)
    exercise(canary, peer, peer_id, full=mode == "file-hex")

    # The network down: every node (seeds too) refuses; commands fail, still without secrets.
    everyone = [n["id"] for n in devnet.nodes()]
    devnet.ctl("down", *everyone)
    try:
        down = (69, 75)
        canary.run(["send", "--timeout", "3", peer_id, "x"], expect=down)
        canary.run(["receive", "--timeout", "3"], expect=down)
        canary.run(["path", "--test", "--timeout", "3"], expect=(0, *down))  # may list failures
        canary.run(["nodes", "--refresh", "--timeout", "3"], expect=down)
    finally:
        devnet.ctl("up", *everyone)

    written = [p for p in home.rglob("*") if p.is_file() and p not in secrets_at]
    assert any("state" in p.parts for p in written) and any("cache" in p.parts for p in written)
    assert not file_leaks(home, secrets_at)
    assert not file_leaks(private_dirs / "peer", set())
    assert not file_leaks(devnet.dir, set())


def test_keygen_restore_to_a_file_and_json(private_dirs: Path) -> None:
    ident = private_dirs / "restored"
    env = cli_env(private_dirs, SESSIONCLI_IDENTITY_FILE=str(ident))
    canary = Runner(private_dirs, env, {ident})
    made = canary.run(["keygen", "--restore", "--json"], input=PHRASE + "\n")
    assert json.loads(made.stdout)["session_id"] == CANARY.session_id
    assert ident.stat().st_mode & 0o777 == 0o600
    canary.run(["keygen", "--restore"], input=PHRASE + "\n", expect=None)  # exists: refused
    wrong = " ".join([*WORDS[:12], "zzzz"])
    canary.run(["keygen", "--restore", "--force"], input=wrong + "\n", expect=2)
    assert not file_leaks(private_dirs, {ident})


def test_fresh_keygen_json_does_not_print_its_own_secret(private_dirs: Path) -> None:
    ident = private_dirs / "fresh"
    env = cli_env(private_dirs, SESSIONCLI_IDENTITY_FILE=str(ident))
    made = run_cli(["-vv", "keygen", "--json"], private_dirs, env=env)
    assert made.returncode == 0, made.stderr
    seed_text = ident.read_text().strip()
    phrase = run_cli(["keygen", "--show-phrase"], private_dirs, env=env).stdout.strip()
    assert len(phrase.split()) == 13
    fresh = Identity.from_seed(bytes.fromhex(seed_text))
    for secret in (seed_text, phrase, fresh.ed25519_secret.hex(), fresh.x25519_secret.hex()):
        assert secret.lower() not in (made.stdout + made.stderr).lower()
    assert json.loads(made.stdout)["session_id"] == fresh.session_id


@pytest.mark.parametrize("mode", ["file-hex", "file-phrase", "env-hex", "env-phrase", "keyring"])
def test_show_phrase_is_the_one_exception(private_dirs: Path, mode: str) -> None:
    """`keygen --show-phrase` prints exactly the phrase on stdout; stderr only warns."""
    env, secrets_at = canary_env(private_dirs, mode, private_dirs / "unused-network.json")
    if mode == "keyring":
        Runner(private_dirs, env, secrets_at).run(["keygen", "--restore"], input=PHRASE + "\n")
    res = run_cli(["-vv", "keygen", "--show-phrase"], private_dirs, env=env)
    assert res.returncode == 0, res.stderr
    assert res.stdout == PHRASE + "\n"
    assert not leaks(res.stderr)
    assert "anyone who sees this phrase" in res.stderr
    quiet = run_cli(["-q", "keygen", "--show-phrase"], private_dirs, env=env)
    assert quiet.stdout == PHRASE + "\n" and quiet.stderr == ""
    assert not file_leaks(private_dirs, secrets_at)


def test_the_detectors_see_a_leak(tmp_path: Path) -> None:
    """The checks above are not vacuous: each form of each secret is caught."""
    for text in SECRET_TEXTS.values():
        assert leaks(f"x {text} y")
    assert leaks("  ".join(WORDS[4:7]).upper())
    assert not leaks(CANARY.session_id + " " + CANARY.ed25519_public.hex())
    for raw in SECRET_BYTES.values():
        (tmp_path / "f").write_bytes(b"head" + raw + b"tail")
        assert file_leaks(tmp_path, set())
    (tmp_path / "f").write_text(json.dumps({"seed": CANARY_SEED_HEX}))
    assert file_leaks(tmp_path, set()) and not file_leaks(tmp_path, {tmp_path / "f"})
