"""config.toml: flag > environment > config file > default, and broken files exit 78 naming the line."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from sessioncli.core import context, settings
from tests.conftest import CANARY_SEED_HEX, cli_env, run_cli

HOUR_MS = 3_600_000
SOMEONE = "05" + "ab" * 32


def write_config(home: Path, text: str) -> Path:
    folder = home / "config"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


# --- broken config files, through the real command --------------------------------------------


@pytest.mark.parametrize(
    ("text", "line", "needles"),
    [
        ('ttl = "1h"\n\ncolour = "red"\n', 3, ["unknown setting 'colour'", "known settings:"]),
        ('network = "testnet"\nttl = 1h\n', 2, ["Expected newline or end of document"]),
        ('# defaults\nttl = "5s"\n', 2, ["TTL '5s' is out of range"]),
        ('ttl = "soon"\n', 1, ["invalid TTL 'soon'"]),
        ('timeout = "fast"\n', 1, ["timeout must be a positive number"]),
        ("display_name = 7\n", 1, ["display_name must be a non-empty string"]),
    ],
    ids=["unknown-key", "bad-toml", "ttl-out-of-range", "ttl-unparsable", "timeout-type", "type"],
)
@pytest.mark.parametrize("command", [["send", SOMEONE, "hi"], ["receive"]])
def test_broken_config_exits_78_naming_file_line_and_problem(
    private_dirs: Path, text: str, line: int, needles: list[str], command: list[str]
) -> None:
    path = write_config(private_dirs, text)
    env = cli_env(private_dirs, SESSIONCLI_IDENTITY=CANARY_SEED_HEX)
    res = run_cli(command, private_dirs, env=env)
    assert res.returncode == 78, res.stderr
    assert res.stdout == ""
    first = res.stderr.splitlines()[0]
    assert first.startswith("sessioncli: error: config file ")
    assert str(path) in first
    assert f"line {line}" in first
    for needle in needles:
        assert needle in res.stderr
    assert CANARY_SEED_HEX not in res.stderr


def test_unreadable_config_is_78(private_dirs: Path) -> None:
    path = write_config(private_dirs, "")
    path.write_bytes(b'ttl = "\xff"\n')
    res = run_cli(["send", SOMEONE, "hi"], private_dirs, env=cli_env(private_dirs))
    assert res.returncode == 78
    assert str(path) in res.stderr and "not UTF-8" in res.stderr


# --- precedence, resolved the way every networked command resolves it --------------------------

LAYERS = ("flag", "env", "config")


def _opts(flag: dict[str, object]) -> context.Options:
    return context.Options(
        network=flag.get("network"),  # type: ignore[arg-type]
        proxy=flag.get("proxy"),  # type: ignore[arg-type]
        timeout=flag.get("timeout"),  # type: ignore[arg-type]
    )


@pytest.mark.parametrize(
    "present",
    [("flag", "env", "config"), ("env", "config"), ("config",), (), ("flag", "config"), ("flag",)],
    ids=lambda p: "+".join(p) or "none",
)
def test_precedence_network_proxy_timeout(
    private_dirs: Path, monkeypatch: pytest.MonkeyPatch, present: tuple[str, ...]
) -> None:
    values = {
        "network": {"flag": "/f/flag.json", "env": "/e/env.json", "config": "/c/config.json"},
        "proxy": {"flag": "socks5h://f:1", "env": "socks5h://e:2", "config": "socks5h://c:3"},
        "timeout": {"flag": 11.0, "env": 22.0, "config": 33.0},
    }
    envvars = {"network": "SESSIONCLI_NETWORK", "proxy": "SESSIONCLI_PROXY"}
    flag: dict[str, object] = {}
    if "flag" in present:
        flag = {k: v["flag"] for k, v in values.items()}
    if "env" in present:
        for key, var in envvars.items():
            monkeypatch.setenv(var, str(values[key]["env"]))
        monkeypatch.setenv("SESSIONCLI_TIMEOUT", "22")
    if "config" in present:
        write_config(
            private_dirs,
            f'network = "{values["network"]["config"]}"\n'
            f'proxy = "{values["proxy"]["config"]}"\n'
            "timeout = 33\n",
        )
    got = context.resolve(_opts(flag))
    winner = next((layer for layer in LAYERS if layer in present), None)
    if winner is None:
        assert (got.network, got.proxy, got.timeout) == (None, None, settings.DEFAULT_TIMEOUT_S)
        assert settings.network_key(got.network) == "mainnet"
    else:
        assert got.network == values["network"][winner]
        assert got.proxy == values["proxy"][winner]
        assert got.timeout == values["timeout"][winner]


@pytest.mark.parametrize(
    ("flag", "env", "config", "expected_ms"),
    [
        ("4h", "3h", "2h", 4 * HOUR_MS),
        (None, "3h", "2h", 3 * HOUR_MS),
        (None, None, "2h", 2 * HOUR_MS),
        (None, None, None, settings.DEFAULT_TTL_MS),
    ],
)
def test_precedence_ttl(
    private_dirs: Path,
    monkeypatch: pytest.MonkeyPatch,
    flag: str | None,
    env: str | None,
    config: str | None,
    expected_ms: int,
) -> None:
    if env:
        monkeypatch.setenv("SESSIONCLI_TTL", env)
    if config:
        write_config(private_dirs, f'ttl = "{config}"\n')
    assert settings.resolve_ttl_ms(flag, settings.load_config()) == expected_ms


# --- the same precedence, observed through `send` (errors name the value that won) -------------


def _send(home: Path, args: list[str], **env: str) -> tuple[int, str]:
    res = run_cli(
        ["send", SOMEONE, "hi", *args],
        home,
        env=cli_env(home, SESSIONCLI_IDENTITY=CANARY_SEED_HEX, **env),
    )
    assert res.stdout == ""
    return res.returncode, res.stderr


def test_send_ttl_flag_beats_env_beats_config(private_dirs: Path) -> None:
    write_config(private_dirs, 'ttl = "1h"\n')
    code, err = _send(private_dirs, ["--ttl", "5s"], SESSIONCLI_TTL="3s")
    assert code == 2 and "TTL '5s'" in err and "'3s'" not in err
    code, err = _send(private_dirs, [], SESSIONCLI_TTL="3s")
    assert code == 2 and "TTL '3s'" in err


def test_send_timeout_flag_means_env_is_not_read(private_dirs: Path) -> None:
    write_config(private_dirs, "timeout = 5\n")
    code, err = _send(private_dirs, [], SESSIONCLI_TIMEOUT="soon")
    assert code == 2 and "SESSIONCLI_TIMEOUT='soon'" in err  # env beats config, and is checked
    code, err = _send(
        private_dirs, ["--timeout", "5", "--ttl", "1s"], SESSIONCLI_TIMEOUT="soon"
    )  # the flag wins, so the bad env value is never looked at; the bad TTL stops the send
    assert code == 2 and "SESSIONCLI_TIMEOUT" not in err and "TTL '1s'" in err


def test_send_network_env_beats_config_and_flag_beats_env(private_dirs: Path) -> None:
    write_config(private_dirs, f'network = "{private_dirs / "config-net.json"}"\n')
    code, err = _send(private_dirs, [])
    assert code == 78 and "config-net.json" in err
    code, err = _send(private_dirs, [], SESSIONCLI_NETWORK=str(private_dirs / "env-net.json"))
    assert code == 78 and "env-net.json" in err and "config-net.json" not in err
    code, err = _send(
        private_dirs,
        ["--network", str(private_dirs / "flag-net.json")],
        SESSIONCLI_NETWORK=str(private_dirs / "env-net.json"),
    )
    assert code == 78 and "flag-net.json" in err and "env-net.json" not in err


# --- end to end over a devnet: what the network stored and what the recipient saw ---------------


@pytest.fixture(scope="module")
def devnet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    from tests.devnet_support import DevnetProcess

    folder = tmp_path_factory.mktemp("config-devnet")
    with DevnetProcess(folder, nodes=6, swarm_size=3, seed=f"config-{folder.name}") as dn:
        yield dn


@pytest.mark.slow
def test_devnet_ttl_display_name_and_proxy_precedence(devnet: object, private_dirs: Path) -> None:
    """What the network stored (TTL) and what the recipient saw (display name), per layer."""
    network_file = str(devnet.network_file)  # type: ignore[attr-defined]
    alice_home, bob_home = private_dirs / "alice", private_dirs / "bob"
    ids: dict[str, str] = {}
    envs: dict[str, dict[str, str]] = {}
    for name, home in (("alice", alice_home), ("bob", bob_home)):
        home.mkdir()
        envs[name] = cli_env(home, SESSIONCLI_IDENTITY_FILE=str(home / "identity"))
        made = run_cli(["-q", "keygen"], home, env=envs[name])
        assert made.returncode == 0, made.stderr
        ids[name] = made.stdout.strip()

    # Proxy: a bad one at every layer; the error names the one that won. (Nothing is sent.)
    write_config(alice_home, f'network = "{network_file}"\nproxy = "ftp://config-proxy"\n')
    for args, env, winner in (
        (["--proxy", "ftp://flag-proxy"], {"SESSIONCLI_PROXY": "ftp://env-proxy"}, "flag"),
        ([], {"SESSIONCLI_PROXY": "ftp://env-proxy"}, "env"),
        ([], {}, "config"),
    ):
        res = run_cli([*args, "send", ids["bob"], "x"], alice_home, env={**envs["alice"], **env})
        assert res.returncode == 2, res.stderr
        assert f"ftp://{winner}-proxy" in res.stderr, (winner, res.stderr)

    # TTL and display name: Alice's config names the devnet and her defaults.
    write_config(
        alice_home, f'network = "{network_file}"\nttl = "2h"\ndisplay_name = "from-config"\n'
    )
    cases = {
        "flag": (["--ttl", "4h", "--name", "from-flag"], {"SESSIONCLI_TTL": "3h"}, 4, "from-flag"),
        "env": ([], {"SESSIONCLI_TTL": "3h", "SESSIONCLI_DISPLAY_NAME": "from-env"}, 3, "from-env"),
        "config": ([], {}, 2, "from-config"),
    }
    for label, (args, env, hours, _) in cases.items():
        res = run_cli(
            ["send", ids["bob"], f"case {label}", "--json", *args],
            alice_home,
            env={**envs["alice"], **env},
        )
        assert res.returncode == 0, res.stderr
        sent = json.loads(res.stdout)
        assert sent["ok"] is True
        assert sent["expires_at_ms"] - sent["timestamp_ms"] == hours * HOUR_MS, (label, sent)

    got = run_cli(["--network", network_file, "receive", "--json"], bob_home, env=envs["bob"])
    assert got.returncode == 0, got.stderr
    records = {r["body"]: r for r in map(json.loads, got.stdout.splitlines())}
    for label, (_, _, _, name) in cases.items():
        assert records[f"case {label}"]["from_name"] == name, label
        assert records[f"case {label}"]["from"] == ids["alice"]
