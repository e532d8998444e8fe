"""Network selection: built-in mainnet pins, network files, and the errors for bad ones."""

from __future__ import annotations

import json
import ssl
from pathlib import Path

import pytest

from sessioncli.errors import ConfigError, UsageError
from sessioncli.exitcodes import ExitCode
from sessioncli.net import networks
from sessioncli.net.transport import cert_fingerprint, validate_proxy
from sessioncli.protocol import crypto

CERTS = Path(networks.__file__).parent / "seed_certs"


def test_mainnet_seeds_are_pinned_and_match_spki():
    cfg = networks.resolve_network(None)
    assert cfg.name == "mainnet"
    assert [s.url for s in cfg.seeds] == [f"https://seed{i}.getsession.org:4443" for i in (1, 2, 3)]
    for seed, (host, spki) in zip(cfg.seeds, networks.MAINNET_SPKI.items(), strict=True):
        pem = (CERTS / f"{host}.pem").read_text()
        assert crypto.cert_spki_sha256_b64(ssl.PEM_cert_to_DER_cert(pem)) == spki
        assert seed.fingerprint == cert_fingerprint(pem)
    # the SPEC's certificate fingerprint for seed1
    assert (
        cfg.seeds[0].fingerprint
        == "36ea0b253537988551ee856e4fd20d55011e9c8b27eaa2f34b8f32a0bdf04f2d"
    )


def test_testnet():
    cfg = networks.resolve_network("testnet")
    assert cfg.name == "testnet" and cfg.seeds[0].url.startswith("http://")


def _write(tmp_path: Path, value: object) -> Path:
    p = tmp_path / "net.json"
    p.write_text(value if isinstance(value, str) else json.dumps(value))
    return p


def test_network_file(tmp_path: Path):
    pem = (CERTS / "seed1.getsession.org.pem").read_text()
    p = _write(
        tmp_path,
        {
            "name": "devnet-0123abcd",
            "seeds": [{"url": "https://127.0.0.1:1/", "cert_pem": pem}],
            "devnet": {},
        },
    )
    cfg = networks.resolve_network(str(p))
    assert cfg.name == "devnet-0123abcd"
    assert cfg.pins == {"https://127.0.0.1:1": cert_fingerprint(pem)}


@pytest.mark.parametrize(
    "content",
    [
        "not json",
        [],
        {"seeds": []},
        {"name": "../x", "seeds": [{"url": "https://127.0.0.1:1"}]},
        {"name": "mainnet", "seeds": [{"url": "http://127.0.0.1:1"}]},
        {"name": "d", "seeds": []},
        {"name": "d", "seeds": [{"url": "https://127.0.0.1:1"}]},
        {"name": "d", "seeds": [{"url": "https://127.0.0.1:1", "cert_pem": "nope"}]},
        {"name": "d", "seeds": [{"url": "ftp://x"}]},
        # a seed URL must be scheme://host:port exactly: its pin is looked up by that form
        {"name": "d", "seeds": [{"url": "http://u@127.0.0.1:1"}]},
        {"name": "d", "seeds": [{"url": "http://127.0.0.1"}]},
        {"name": "d", "seeds": [{"url": "http://[::ffff:127.0.0.1]:1"}]},
        {"name": "d", "seeds": [{"url": "http://127.0.0.1:01"}]},
        {"name": "d", "seeds": [{"url": "http://127.0.0.1:65536"}]},
        {"name": "d", "seeds": [{"url": "http://a..b:1"}]},
    ],
)
def test_bad_network_file_is_config_error(tmp_path: Path, content):
    with pytest.raises(ConfigError) as info:
        networks.resolve_network(str(_write(tmp_path, content)))
    assert info.value.exit_code == ExitCode.CONFIG
    assert "\n" not in info.value.message


def test_a_seed_host_is_lower_cased_for_its_pin(tmp_path: Path):
    pem = (CERTS / "seed1.getsession.org.pem").read_text()
    seeds = [{"url": "https://LocalHost:4443", "cert_pem": pem}]
    cfg = networks.resolve_network(str(_write(tmp_path, {"name": "d", "seeds": seeds})))
    assert cfg.pins == {"https://localhost:4443": cert_fingerprint(pem)}


def test_missing_file_and_unknown_name(tmp_path: Path):
    with pytest.raises(ConfigError, match="does not exist"):
        networks.resolve_network(str(tmp_path / "gone.json"))
    with pytest.raises(UsageError, match="unknown network"):
        networks.resolve_network("mainnte")


def test_proxy_validation():
    assert validate_proxy("socks5h://127.0.0.1:9050")
    with pytest.raises(UsageError):
        validate_proxy("tor://x")
