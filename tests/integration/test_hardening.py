"""Issue 12 through the real CLI on one devnet: hostile text, --exec, filters, pipes, locks."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import select
import signal
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pytest

EVIL_BODY = "evil \x1b[31mRED\x1b[0m \x1b]0;title\x07 \x9b2J\r\nforged line\rover"
EVIL_NAME = "ops\n2024-01-01 00:00:00  bank  send money"


def _send_raw(user, to: str, body: str, display_name: str) -> None:
    """Send as a hostile client would: a display name our own CLI refuses to send."""
    from sessioncli.core import context, dispatch, recipients

    opts = context.Options(
        network=user.env["SESSIONCLI_NETWORK"], identity_file=str(user.identity_file)
    )
    resolved = context.resolve(opts)
    ident = context.load_identity(opts)
    net = context.open_network(resolved)
    try:
        results = dispatch.send(
            dispatch.SendContext(ident, net, user.home / "raw-state"),
            recipients.parse_targets([to]),
            dispatch.Outgoing(body, 3_600_000, display_name),
        )
    finally:
        net.close()
    assert all(r.ok for r in results)


def _pty_run(user, args: list[str], columns: int = 60) -> tuple[int, bytes]:
    """Run the CLI with stdout on a pseudo-terminal `columns` wide; (exit code, bytes shown)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    env = {k: v for k, v in user.env.items() if k != "COLUMNS"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "sessioncli", *args],
        stdin=subprocess.DEVNULL,
        stdout=slave,
        stderr=subprocess.PIPE,
        env=env,
    )
    os.close(slave)
    out = b""
    while True:
        ready, _, _ = select.select([master], [], [], 60)
        if not ready:
            break
        try:
            chunk = os.read(master, 4096)
        except OSError:  # EIO: the child closed its side
            break
        if not chunk:
            break
        out += chunk
    os.close(master)
    proc.wait(timeout=60)
    return proc.returncode, out


@pytest.fixture(scope="module")
def pair(devnet, tmp_path_factory):
    """alice and bob on the module's devnet; bob has alice as a contact."""
    from tests.integration.conftest import User

    home = tmp_path_factory.mktemp("hardening")
    alice = User(home, "alice", str(devnet.network_file))
    bob = User(home, "bob", str(devnet.network_file))
    assert bob.run(["contacts", "add", "Alice", alice.session_id]).returncode == 0
    return alice, bob


def test_hostile_body_and_name_are_shown_escaped_json_exact(pair) -> None:
    alice, bob = pair
    _send_raw(alice, bob.session_id, EVIL_BODY, EVIL_NAME)
    # TSV in a pipe: one line, six fields, controls visible
    res = bob.run(["receive", "--peek"])
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert len(lines) == 1
    fields = lines[0].split("\t")
    assert fields[2] == "ops\\n2024-01-01 00:00:00  bank  send money"
    assert (
        fields[5] == "evil \\x1b[31mRED\\x1b[0m \\x1b]0;title\\x07 \\x9b2J\\r\\nforged line\\rover"
    )
    # a terminal: nothing raw, no line longer than the terminal, body lines indented
    code, shown = _pty_run(bob, ["receive", "--peek"], columns=72)
    assert code == 0
    text = shown.decode("utf-8")
    assert "\x1b" not in text and "\x07" not in text and "\x9b" not in text
    rows = text.replace("\r\n", "\n").rstrip("\n").split("\n")
    assert "\r" not in "".join(rows)
    assert all(len(r) <= 72 for r in rows), rows
    assert rows[0].split()[2] == "Alice"  # our contact name, not the sender's forged one
    assert all(r.startswith(" " * 43) for r in rows[1:])
    assert any("forged line" in r for r in rows[1:])
    # JSON: exact
    got = bob.receive_json("--peek")
    assert got[0]["body"] == EVIL_BODY and got[0]["from_name"] == EVIL_NAME
    assert bob.run(["receive"]).returncode == 0  # consume it


def test_exec_acknowledges_only_after_exit_0_retries_then_skips(pair, tmp_path: Path) -> None:
    alice, bob = pair
    for text in ("one", "two", "three"):
        assert alice.run(["send", "-q", bob.session_id, text]).returncode == 0
    log = tmp_path / "log"
    # fails "two" always; the others succeed on the first try
    cmd = (
        f'printf "%s %s %s\\n" "$SESSIONCLI_BODY" "$SESSIONCLI_KIND" "$(cat)" >> {log}; '
        '[ "$SESSIONCLI_BODY" != two ]'
    )
    res = bob.run(["receive", "--exec", cmd, "--max-attempts", "2"])
    assert res.returncode == 0, res.stderr
    seen = [line.split(" ", 2) for line in log.read_text().splitlines()]
    assert [s[0] for s in seen] == ["one", "two", "two", "three"]  # in order, "two" twice
    assert all(s[1] == "text" for s in seen)
    assert json.loads(seen[0][2])["body"] == "one"  # the record as JSON on stdin
    two_hash = json.loads(seen[1][2])["hash"]
    assert f"failed 2 times for message {two_hash}; skipped" in res.stderr
    assert bob.run(["receive"]).stdout == ""  # all three acknowledged (two skipped)

    # a CMD that is stopped (SIGTERM) while failing leaves its message for the next run
    assert alice.run(["send", "-q", bob.session_id, "four"]).returncode == 0
    proc = subprocess.Popen(
        [sys.executable, "-m", "sessioncli", "receive", "-f", "--exec", "exit 1"],
        env=bob.env,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
    )
    assert proc.stderr is not None
    first = proc.stderr.readline().decode()  # the first failed attempt
    assert "--exec command exited 1" in first, first
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 0
    again = bob.receive_json()
    assert [r["body"] for r in again] == ["four"]


def test_filters_and_max_count_shown_records_only(pair) -> None:
    alice, bob = pair
    carol_home = bob.home.parent
    from tests.integration.conftest import User

    carol = User(carol_home, "carol", alice.env["SESSIONCLI_NETWORK"])
    assert carol.run(["send", "-q", alice.session_id, "from carol"]).returncode == 0
    assert bob.run(["send", "-q", alice.session_id, "from bob"]).returncode == 0
    assert alice.run(["contacts", "add", "Bobby", bob.session_id]).returncode == 0
    got = alice.run(["receive", "--peek", "--from", "bobby"])  # contact names, any case
    assert [line.split("\t")[5] for line in got.stdout.splitlines()] == ["from bob"]
    got = alice.run(["receive", "--peek", "--contacts-only"])
    assert [line.split("\t")[5] for line in got.stdout.splitlines()] == ["from bob"]
    got = alice.run(["receive", "--peek", "--from", carol.session_id, "--from", "Bobby"])
    assert len(got.stdout.splitlines()) == 2
    got = alice.run(["receive", "--peek", "--conversation", "BOBBY"])
    assert [line.split("\t")[5] for line in got.stdout.splitlines()] == ["from bob"]
    got = alice.run(["receive", "--peek", "--requests"])  # alice wrote to bob, never to carol
    assert [line.split("\t")[5] for line in got.stdout.splitlines()] == ["from carol"]
    assert alice.run(["receive"]).returncode == 0

    # alice answers carol's request: carol gets the approval (a control message) and the text
    assert alice.run(["send", "-q", carol.session_id, "hello carol"]).returncode == 0
    got = carol.run(["receive", "--max", "1"])
    assert got.returncode == 0, got.stderr
    assert [line.split("\t")[4:] for line in got.stdout.splitlines()] == [["text", "hello carol"]]
    assert carol.run(["receive"]).stdout == ""  # the hidden approval was consumed too
    assert alice.run(["send", "-q", carol.session_id, "again"]).returncode == 0
    kinds = carol.run(["receive", "--kind", "message_request_response"])
    assert kinds.stdout == ""  # asked only for approvals: the text is hidden (and consumed)


def test_reader_that_leaves_is_exit_0_and_idle_follow_notices(pair) -> None:
    alice, bob = pair
    for text in ("p1", "p2", "p3"):
        assert alice.run(["send", "-q", bob.session_id, text]).returncode == 0
    sh = subprocess.run(
        [
            "/bin/sh",
            "-c",
            '{ "$0" -m sessioncli receive; echo $? > "$1"; } | head -1',
            sys.executable,
            str(bob.home / "status"),
        ],
        env=bob.env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert sh.stdout.endswith("\tp1\n"), sh.stdout
    assert "Traceback" not in sh.stderr and "error" not in sh.stderr, sh.stderr
    assert (bob.home / "status").read_text().strip() == "0"
    assert bob.run(["receive"]).returncode == 0

    # a reader leaving a --follow: the next message is not committed, exit 0
    follow = subprocess.Popen(
        [sys.executable, "-m", "sessioncli", "receive", "-f", "--interval", "0.5"],
        env=bob.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert follow.stdout is not None
    assert alice.run(["send", "-q", bob.session_id, "q1"]).returncode == 0
    assert follow.stdout.readline().decode().endswith("\tq1\n")
    follow.stdout.close()
    assert alice.run(["send", "-q", bob.session_id, "q2"]).returncode == 0
    assert follow.wait(timeout=60) == 0
    assert [r["body"] for r in bob.receive_json()] == ["q2"]

    # an idle --follow whose reader left lets go of the lock within one interval
    read_end, write_end = os.pipe()
    follow = subprocess.Popen(
        [sys.executable, "-m", "sessioncli", "receive", "-f", "--interval", "0.5"],
        env=bob.env,
        stdout=write_end,
        stderr=subprocess.PIPE,
    )
    os.close(write_end)
    # while it runs, --peek is not refused (it commits nothing, so it takes no lock)
    peek = bob.run(["receive", "--peek"])
    assert peek.returncode == 0, peek.stderr
    os.close(read_end)
    assert follow.wait(timeout=60) == 0
    assert bob.run(["receive"]).returncode == 0  # the lock is free


def test_ttl_with_two_units_is_accepted(pair) -> None:
    alice, bob = pair
    res = alice.run(["send", "--ttl", "1h30m", "--json", bob.session_id, "ttl"])
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["expires_at_ms"] - out["timestamp_ms"] == 90 * 60 * 1000
    assert bob.run(["receive"]).returncode == 0


def _modes(root: Path) -> dict[str, int]:
    return {
        str(p.relative_to(root)): p.stat().st_mode & 0o777
        for p in [root, *root.rglob("*")]
        if p.is_dir()
    }


def test_state_and_cache_folders_are_0700_whatever_the_umask(devnet, tmp_path: Path) -> None:
    from tests.integration.conftest import User

    dave = User(tmp_path, "dave", str(devnet.network_file))
    res = subprocess.run(
        ["/bin/sh", "-c", 'umask 000; exec "$0" -m sessioncli receive', sys.executable],
        env=dave.env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert res.returncode == 0, res.stderr
    for name in ("state", "cache"):
        modes = _modes(dave.home / name)
        assert len(modes) >= 2 and set(modes.values()) == {0o700}, modes


def test_two_devnets_of_one_name_are_two_networks_and_old_state_moves(
    devnet, pair, tmp_path: Path
) -> None:
    from sessioncli.net.networks import resolve_network
    from tests.devnet_support import DevnetProcess

    alice, bob = pair
    a_file = str(devnet.network_file)
    with DevnetProcess(
        tmp_path / "b", nodes=6, swarm_size=3, seed=f"e2e-{devnet.dir.name}"
    ) as other:
        b_file = str(other.network_file)
        same = [json.loads(Path(f).read_text())["name"] for f in (a_file, b_file)]
        assert same[0] == same[1]  # called alike...
        a_key, b_key = (resolve_network(f).key for f in (a_file, b_file))
        assert a_key != b_key  # ...but two networks
        on_b = ["--network", b_file]
        res = alice.run([*on_b, "send", "-q", bob.session_id, "to B only"])
        assert res.returncode == 0, res.stderr
        assert bob.receive_json() == []  # not on network A
        got = bob.run([*on_b, "receive", "--json"])
        assert [json.loads(x)["body"] for x in got.stdout.splitlines()] == ["to B only"]
        assert (bob.home / "state" / b_key / bob.session_id).is_dir()
        assert (bob.home / "cache" / b_key).is_dir()

    # state an older version kept under the bare name moves to the new key on first use
    assert alice.run(["send", "-q", bob.session_id, "seen once"]).returncode == 0
    assert [r["body"] for r in bob.receive_json()] == ["seen once"]
    new = bob.home / "state" / a_key
    old = bob.home / "state" / same[0]
    new.rename(old)
    assert bob.receive_json() == []  # nothing received twice
    assert new.is_dir() and not old.exists()


def test_devnets_get_distinct_names_by_default(tmp_path: Path) -> None:
    from tests.devnet_support import DevnetProcess

    names = []
    for sub in ("x", "y"):
        with DevnetProcess(tmp_path / sub, nodes=3, swarm_size=3, seed=None) as dn:
            names.append(json.loads(dn.network_file.read_text())["name"])
    with DevnetProcess(tmp_path / "x", nodes=3, swarm_size=3, seed=None) as dn:
        again = json.loads(dn.network_file.read_text())["name"]
    assert names[0] != names[1]
    assert again == names[0]  # a folder keeps its seed (and keys, and messages) across restarts


def test_pipe_output_is_whole_and_words_are_one_form(devnet, pair) -> None:
    alice, bob = pair
    assert alice.run(["send", "-q", bob.session_id, "hello"]).returncode == 0
    assert bob.run(["receive"]).returncode == 0  # alice has written to bob: she approved him
    shown = dict(
        line.split("\t") for line in bob.run(["contacts", "show", "alice"]).stdout.splitlines()
    )
    assert shown["approved_us"] == "yes" and shown["name"] == "Alice"  # case-insensitive
    listed = bob.run(["contacts", "list"]).stdout.split("\t")
    assert listed[3].strip() == "yes"
    nodes = bob.run(["nodes"])
    assert nodes.returncode == 0, nodes.stderr
    keys = [line.split("\t")[1] for line in nodes.stdout.splitlines()]
    assert keys and all(len(k) == 64 and "…" not in k for k in keys)
    paths = bob.run(["path", "--test"])
    assert all(len(line.split("\t")[4]) == 64 for line in paths.stdout.splitlines())
    tested = json.loads(bob.run(["path", "--test", "--json"]).stdout)
    assert all(isinstance(p["test"]["rtt_ms"], int) for p in tested if p["test"]["ok"])


def test_did_you_mean(pair) -> None:
    _, bob = pair
    res = bob.run(["send", "alicf", "hi"])
    assert res.returncode == 2 and "did you mean 'Alice'?" in res.stderr
    res = bob.run(["contacts", "show", "alicf"])
    assert res.returncode == 2 and "did you mean 'Alice'?" in res.stderr


def test_demo_json_has_integer_milliseconds_and_the_send_shape(private_dirs: Path) -> None:
    from tests.conftest import run_cli

    res = run_cli(["demo", "--nodes", "6", "--json"], private_dirs, timeout=180)
    assert res.returncode == 0, res.stderr
    data = json.loads(res.stdout)
    assert all(isinstance(v, int) for k, v in data.items() if k.endswith("_ms"))
    assert isinstance(data["stored_on"], list) and data["stored_on"]


def test_verbose_shows_paths_storers_and_times(pair) -> None:
    alice, bob = pair
    res = alice.run(["-v", "send", bob.session_id, "verbose"])
    assert res.returncode == 0, res.stderr
    assert "path 0: guard " in res.stderr and "stored on " in res.stderr
    assert "send took " in res.stderr
    assert "nodes: " in alice.run(["nodes", "-v"]).stderr
    assert "paths: " in alice.run(["path", "-v"]).stderr
    assert bob.run(["receive"]).returncode == 0


def test_a_stopped_devnet_says_how_to_rehearse_an_outage(tmp_path: Path, pair) -> None:
    from tests.devnet_support import DevnetProcess

    alice, _ = pair
    with DevnetProcess(tmp_path / "gone", nodes=3, swarm_size=3) as dn:
        network_file = str(dn.network_file)
    res = alice.run(["--network", network_file, "nodes"])
    assert res.returncode == 78
    assert "devnet ctl --dir DIR down NODE" in res.stderr


def test_verbose_shows_each_onion_request(users) -> None:
    """Issue 12 item 7: -v names the path (guard first), the swarm member and the time of each
    request, for send, path --test and receive alike."""
    alice, bob = users("alice"), users("bob")
    for args in (["send", "--no-sync", bob.session_id, "traced"], ["path", "--test"], ["receive"]):
        res = alice.run(["-v", *args])
        assert res.returncode == 0, res.stderr
        lines = [
            ln for ln in res.stderr.splitlines() if ln.startswith("sessioncli: onion request:")
        ]
        assert lines, (args, res.stderr)
        assert all(" via " in ln and " -> " in ln and ln.endswith(" ms") for ln in lines)
    quiet = alice.run(["send", bob.session_id, "untraced"])
    assert "onion request" not in quiet.stderr
