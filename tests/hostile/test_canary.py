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
        self.outputs: list[str] = []

    def run(
        self, args: list[str], *, input: str | None = None, expect: int | tuple[int, ...] | None = 0
    ) -> Any:
        res = run_cli(["-vv", *args], self.home, input=input, env=self.env, timeout=120)
        self.count += 1
        self.outputs += [res.stdout, res.stderr]
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


def exercise_community(canary: Runner, peer: Runner, devnet: Any) -> None:
    """Community commands; the canary's blinded secret scalar (k·a) must not leak either."""
    from sessioncli.protocol import blinding

    url = json.loads(Path(devnet.network_file).read_text())["communities"][0]
    server_pk = bytes.fromhex(url.split("public_key=")[1])
    canary.run(["community", "add", "room", url, "--json"])
    peer.run(["community", "add", "room", url])
    peer_blinded = json.loads(peer.run(["community", "show", "room", "--json"]).stdout)["our_id"]
    canary.run(["send", "--json", "--name", "Canary", "room", "canary post"])
    canary.run(["send", "--via", "room", peer_blinded, "canary dm"])
    canary.run(["receive", "--json", "--include-own", "--conversation", "room"])
    canary.run(["community", "list", "--json"])
    canary.run(["community", "show", "room"])
    canary.run(["community", "add", "room2", url + "x"], expect=2)
    scalar = blinding.blind15_keys(CANARY.ed25519_secret, server_pk).secret
    for text in canary.outputs:
        assert scalar.hex() not in text.lower()
        assert base64.b64encode(scalar).decode().rstrip("=") not in text
    SECRET_BYTES["raw blinded scalar"] = scalar
    SECRET_TEXTS["blinded scalar hex"] = scalar.hex()


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
    if mode == "file-hex":
        exercise_community(canary, peer, devnet)

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


def _forms(raw: bytes) -> list[bytes]:
    """A secret as raw bytes, hex (both cases) and base64: every way it could be written."""
    b64 = base64.b64encode(raw).rstrip(b"=")
    return [raw, raw.hex().encode(), raw.hex().upper().encode(), b64]


def test_group_secrets_stay_sealed(private_dirs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The canary as a group admin (seed, keys) and as a member (memberAuthData): no secret leaves
    the sealed state, which only the identity opens (issue 18 §3). Core-level: the CLI and the
    network's signed group requests are not wired yet, so the swarm is the in-memory checker."""
    from sessioncli.core import group_store, groups
    from sessioncli.core.group_state import OpenGroup
    from sessioncli.protocol import message
    from tests.unit.groups_fakeswarm import FakeSwarm

    swarm = FakeSwarm()
    peer = Identity.from_seed(b"group-peer-seed!")
    folder = private_dirs / "state" / "net" / CANARY.session_id
    ctx = groups.GroupContext(CANARY, swarm, folder, "Canary")
    made = groups.create(ctx, "canary-team", [peer.session_id])
    # and a group where the canary is only a member (its memberAuthData is a secret too)
    peer_ctx = groups.GroupContext(peer, swarm, private_dirs / "peer-state", "Peer")
    with monkeypatch.context() as m:  # the peer has its own config folder (its group names)
        m.setenv("SESSIONCLI_CONFIG_DIR", str(private_dirs / "peer-state" / "config"))
        other = groups.create(peer_ctx, "peer-team", [CANARY.session_id])
    dm = message.decode_dm(CANARY, swarm.inbox[CANARY.session_id][0])
    invite = groups.control_of(dm.raw_content)
    assert invite is not None
    groups.record_invite(ctx, invite, dm.sender, dm.timestamp_ms)
    joined = groups.accept(ctx, other.group_id, name="peer-team-2")

    secrets: list[bytes] = []
    for view in (made, joined):
        sealed = group_store.load(folder, CANARY.ed25519_secret[:32], view.group_id)
        assert sealed is not None
        og = OpenGroup.open(CANARY, sealed)
        secrets += og.keys.decryption_keys()
        secrets += [s for s in (sealed.group_seed, sealed.auth_data) if s]
        if og.group_sk is not None:
            secrets.append(og.group_sk)
        shown = json.dumps(view.to_json()) + repr(view) + repr(sealed) + repr(og)
        assert not leaks(shown)
        for raw in secrets:
            for form in _forms(raw)[1:]:
                assert form.decode() not in shown
        path = group_store.state_path(folder, view.group_id)
        assert path.stat().st_mode & 0o777 == 0o600
    assert len(secrets) >= 5  # 2 keys, the admin seed and secret key, the auth data
    assert not file_leaks(private_dirs, {p for p in (private_dirs / "peer-state").rglob("*")})
    for path in private_dirs.rglob("*"):
        if path.is_file() and "peer-state" not in path.parts:
            data = path.read_bytes()
            for raw in secrets:
                assert not any(form in data for form in _forms(raw)), path


def _key_forms(raw: bytes) -> list[str]:
    return [
        raw.hex(),
        base64.b64encode(raw).decode().rstrip("="),
        base64.urlsafe_b64encode(raw).decode().rstrip("="),
    ]


@pytest.mark.slow
def test_attachment_and_profile_keys_stay_in_their_state_files(
    devnet: Any, private_dirs: Path, tmp_path: Path
) -> None:
    """Attachment keys (64 B) and the profile key (32 B) live only in attachments.json/avatar.json."""
    home = private_dirs / "files"
    home.mkdir()
    env, secrets_at = canary_env(home, "file-hex", devnet.network_file)
    canary = Runner(home, env, secrets_at)
    peer_id, peer = make_peer(private_dirs, devnet.network_file)
    (tmp_path / "log.txt").write_bytes(b"attached log\n")
    (tmp_path / "pic.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100))
    outputs = [
        canary.run(
            [
                "send",
                "--json",
                "--avatar",
                str(tmp_path / "pic.png"),
                peer_id,
                "file",
                "-a",
                str(tmp_path / "log.txt"),
            ]
        ),
        canary.run(["receive", "--json", "--include-own", "--attachments", str(tmp_path / "own")]),
    ]
    got = peer.run(["receive", "--json", "--attachments", str(tmp_path / "in")])
    outputs.append(got)
    msg_hash = json.loads(got.stdout.splitlines()[0])["hash"]
    outputs.append(
        peer.run(["attachments", "fetch", msg_hash, "--dir", str(tmp_path / "again"), "--json"])
    )
    kept = list(private_dirs.rglob("attachments.json"))  # the peer's and our own sync copy's
    avatar = list(home.rglob("avatar.json"))
    assert kept and avatar
    keys = [
        base64.b64decode(a["key"])
        for f in kept
        for e in json.loads(f.read_text()).values()
        for a in e["attachments"]
    ]
    keys += [base64.b64decode(json.loads(avatar[0].read_text())["key"])]
    assert all(len(k) in (32, 64) for k in keys)
    forms = [f for k in keys for f in _key_forms(k)]
    for res in outputs:
        for form in forms:
            assert form not in res.stdout and form not in res.stderr
    allowed = {*kept, *avatar}
    for root in (home, private_dirs / "peer", devnet.dir):
        for path in root.rglob("*"):
            if path.is_file() and path not in allowed:
                data = path.read_bytes()
                assert not any(k in data for k in keys), path
                text = data.decode("latin-1")
                assert not any(f in text for f in forms), path
    assert all(oct(p.stat().st_mode & 0o777) == "0o600" for p in [*kept, *avatar])


@pytest.mark.slow
def test_group_secrets_never_leave_through_the_cli(devnet: Any, private_dirs: Path) -> None:
    """The canary as admin and as member of groups driven through the real CLI (-vv): no group
    secret (admin seed and secret key, group keys, memberAuthData) in any output or file."""
    from sessioncli.core import group_store
    from sessioncli.core.group_state import OpenGroup

    home = private_dirs / "groups"
    home.mkdir()
    env, secrets_at = canary_env(home, "file-hex", devnet.network_file)
    canary = Runner(home, env, secrets_at)
    peer_id, peer = make_peer(private_dirs, devnet.network_file)
    made = json.loads(canary.run(["group", "create", "ours", "-m", peer_id, "--json"]).stdout)
    other = json.loads(
        peer.run(["group", "create", "theirs", "-m", CANARY.session_id, "--json"]).stdout
    )
    invites = [json.loads(x) for x in canary.run(["receive", "--json"]).stdout.splitlines()]
    assert [i["group_id"] for i in invites if i["kind"] == "group_invite"] == [other["group_id"]]
    canary.run(["group", "accept", other["group_id"], "--name", "joined", "--json"])
    peer.run(["receive"])
    peer.run(["group", "accept", "ours"])
    canary.run(["send", "ours", "admin post"])
    canary.run(["send", "--json", "joined", "member post"])
    canary.run(["receive", "--json"])
    canary.run(["group", "list", "--json"])
    canary.run(["group"])
    canary.run(["group", "show", "ours", "--json"])
    canary.run(["group", "show", "joined"])
    canary.run(["group", "add", "joined", peer_id], expect=2)  # a member is not an admin

    sealed = sorted(home.rglob("groups/*.sealed"))
    assert len(sealed) == 2
    secrets: list[bytes] = []
    for path in sealed:
        state = group_store.load(path.parent.parent, CANARY.ed25519_secret[:32], path.stem)
        assert state is not None
        og = OpenGroup.open(CANARY, state)
        secrets += og.keys.decryption_keys()
        secrets += [s for s in (state.group_seed, state.auth_data, og.group_sk) if s]
    assert made["group_id"] in {p.stem for p in sealed} and len(secrets) >= 5
    canary.run(["group", "remove", "ours", peer_id, "--json"])  # a rekey: one more key
    canary.run(["group", "leave", "joined"])
    for text in canary.outputs:
        for raw in secrets:
            assert not any(form.decode() in text for form in _forms(raw)[1:])
    for path in home.rglob("*"):
        if path.is_file() and path not in secrets_at:
            data = path.read_bytes()
            for raw in secrets:
                assert not any(form in data for form in _forms(raw)), path
    assert not file_leaks(home, secrets_at)
