"""A warm text send and a plain receive import only what they use: a cron job pays every import per run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

# Modules a one-recipient text DM send with warm caches (no config.toml, no files, no picture)
# must not load; each cost it milliseconds of start-up (benchmarks/bench_cli.py, issue 19).
NOT_ON_A_TEXT_SEND = (
    "cryptography",  # onion layers are sealed by libsodium
    "google.protobuf",  # protocol/protowire.py writes what a send sends
    "sessioncli.protocol.message_decode",
    "http.client",  # net/direct.py frames HTTP/1.1 itself (net/httpwire.py)
    "email",
    "tomllib",  # no config.toml
    "tempfile",  # state files get their temporary name from os.open(O_EXCL)
    "concurrent.futures",  # one recipient: no thread pool
    "importlib.resources",  # mainnet's bundled certificates only
    "sessioncli.core.attachments",
    "sessioncli.core.avatar",
    "sessioncli.core.community_send",
    "sessioncli.protocol.sogs",
    "sessioncli.protocol.mnemonic",  # the identity file holds hex, not a phrase
    "sessioncli.net.groupcall",
    "sessioncli.net.polling",
    "sessioncli.net.pathcheck",
)
# ... and a receive that downloads nothing, with no community joined.
NOT_ON_A_PLAIN_RECEIVE = (
    "cryptography",
    "tempfile",
    "concurrent.futures",
    "importlib.resources",
    "sessioncli.core.attachments",
    "sessioncli.protocol.sogs",
    "sessioncli.protocol.mnemonic",
    "sessioncli.net.groupcall",
)

# Runs the CLI as `python -m sessioncli` does, then writes the loaded module names to a file.
_RUN_AND_LIST = (
    "import atexit, json, runpy, sys\n"
    "out = sys.argv.pop(1)\n"
    "atexit.register(lambda: open(out, 'w').write(json.dumps(sorted(sys.modules))))\n"
    "sys.argv[0] = 'sessioncli'\n"
    "runpy.run_module('sessioncli', run_name='__main__', alter_sys=True)\n"
)


def _loaded(user, args: list[str], tmp_path: Path) -> set[str]:
    listing = tmp_path / "modules.json"
    proc = subprocess.run(
        [sys.executable, "-c", _RUN_AND_LIST, str(listing), *args],
        env=user.env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return set(json.loads(listing.read_text()))


def _present(loaded: set[str], names: tuple[str, ...]) -> list[str]:
    return [n for n in names if n in loaded or any(m.startswith(n + ".") for m in loaded)]


def test_a_warm_text_send_and_a_plain_receive_skip_unused_modules(users, tmp_path: Path) -> None:
    alice, bob = users("alice"), users("bob")
    assert alice.run(["send", "-q", bob.session_id, "cold: fills the caches"]).returncode == 0
    loaded = _loaded(alice, ["send", "-q", bob.session_id, "warm"], tmp_path)
    assert "sessioncli.net.client" in loaded  # it did send
    assert _present(loaded, NOT_ON_A_TEXT_SEND) == []

    loaded = _loaded(bob, ["receive", "--json"], tmp_path)
    assert "sessioncli.core.receive" in loaded
    assert _present(loaded, NOT_ON_A_PLAIN_RECEIVE) == []
    assert [m["body"] for m in bob.receive_json("--peek")] == []  # that receive took both
