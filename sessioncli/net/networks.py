"""Which network to talk to: built-in mainnet/testnet seeds (with pinned certificates) or a network file.

`--network` takes `mainnet` (default), `testnet`, or the path of a network file (what
`sessioncli devnet up` writes). Errors, decided here once:
  * a value that is neither a known name nor looks like a path (no `/`, no `.json`) and is not an
    existing file → UsageError (exit 2): it is a typo on the command line;
  * a path that is missing, unreadable, not JSON, or without usable seeds → ConfigError (exit 78):
    the configuration it points to is broken.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sessioncli.errors import ConfigError, UsageError
from sessioncli.net.transport import cert_fingerprint
from sessioncli.protocol import crypto

# base64(SHA-256(SubjectPublicKeyInfo)) per seed (SPEC §5; desktop checks the same values).
MAINNET_SPKI = {
    "seed1.getsession.org": "mlYTXvkmIEYcpswANTpnBwlz9Cswi0py/RQKkbdQOZQ=",
    "seed2.getsession.org": "ZuUxe4wopBR83Yy5fePPNX0c00BnkQCu/49oapFpB0k=",
    "seed3.getsession.org": "4xe+8k1NjxerVTjUsWlZJNKt3PA7Y31pUls2tHYippA=",
}
TESTNET_SEEDS = ("http://seed2.getsession.org:38157",)
_NAME = re.compile(r"[A-Za-z0-9._-]{1,64}")
# A seed's base URL in the one form its certificate pin is looked up by: scheme, a host name or
# IPv4 address, an explicit port without leading zeros; no user, brackets or path. (A pin stored
# under any other spelling of the same address, e.g. an upper-case host, was never found.)
_SEED_URL = re.compile(r"(https?)://([A-Za-z0-9.-]+):([1-9][0-9]{0,4})")
BUILT_IN = ("mainnet", "testnet")


@dataclass(frozen=True)
class Seed:
    url: str  # base URL, no trailing slash
    fingerprint: str | None = field(default=None)  # SHA-256 hex of the pinned certificate

    @property
    def rpc_url(self) -> str:
        return self.url + "/json_rpc"


@dataclass(frozen=True)
class FileServer:
    """The network's file server (SPEC §7): where attachments go, and its keys for onion v4."""

    url: str  # scheme://host[:port], no trailing slash
    pubkey_x25519: str  # hex: the onion v4 layer is encrypted to it
    pubkey_ed25519: str  # hex: names the server in `#p=` of file URLs

    @property
    def scheme(self) -> str:
        return self.url.split("://", 1)[0]

    @property
    def host(self) -> str:
        return self._netloc.rsplit(":", 1)[0] if self._has_port else self._netloc

    @property
    def port(self) -> int:
        if self._has_port:
            return int(self._netloc.rsplit(":", 1)[1])
        return 443 if self.scheme == "https" else 80

    @property
    def _netloc(self) -> str:
        return self.url.split("://", 1)[1]

    @property
    def _has_port(self) -> bool:
        return bool(re.fullmatch(r".+:\d{1,5}", self._netloc))


# SPEC §7: desktop's DEFAULT file server (plain HTTP from the last hop, port 80).
MAINNET_FILE_SERVER = FileServer(
    url="http://filev2.getsession.org",
    pubkey_x25519="09324794aa9c11948189762d198c618148e9136ac9582068180661208927ef34",
    pubkey_ed25519="b8eef9821445ae16e2e97ef8aa6fe782fd11ad5253cd6723b281341dba22e371",
)


@dataclass(frozen=True)
class NetworkConfig:
    name: str
    seeds: tuple[Seed, ...]
    file_server: FileServer | None = None

    @property
    def pins(self) -> dict[str, str]:
        return {s.url: s.fingerprint for s in self.seeds if s.fingerprint}

    @property
    def key(self) -> str:
        """The folder name for this network's caches and state: see `network_key`."""
        return network_key(self)


def network_key(config: NetworkConfig) -> str:
    """What identifies a network on disk (cache and state folders), not just what it is called.

    Two network files may carry the same name (two devnets started with one `--seed`), so a
    file's key is its name plus a digest of its seeds: the pinned certificate of each https seed
    (a seed that moves to another port is still the same seed; a devnet makes a fresh key pair
    per folder), the URL of a seed without one. The built-in networks keep their names as keys,
    so a mainnet user's state never moves.
    """
    if config.name in BUILT_IN:
        return config.name
    import hashlib

    parts = sorted(s.fingerprint or s.url for s in config.seeds)
    digest = hashlib.sha256("\n".join(parts).encode("utf-8")).hexdigest()[:12]
    return f"{config.name[:51]}-{digest}"


def mainnet() -> NetworkConfig:
    from importlib import resources  # the bundled certificates: mainnet only

    seeds = []
    for host, spki in MAINNET_SPKI.items():
        pem = (resources.files("sessioncli.net") / "seed_certs" / f"{host}.pem").read_text("ascii")
        import ssl

        der = ssl.PEM_cert_to_DER_cert(pem)
        if crypto.cert_spki_sha256_b64(der) != spki:
            raise ConfigError(f"bundled certificate for {host} does not match its SPKI pin")
        seeds.append(Seed(url=f"https://{host}:4443", fingerprint=cert_fingerprint(pem)))
    return NetworkConfig(name="mainnet", seeds=tuple(seeds), file_server=MAINNET_FILE_SERVER)


def testnet() -> NetworkConfig:
    return NetworkConfig(name="testnet", seeds=tuple(Seed(url=u) for u in TESTNET_SEEDS))


def resolve_network(value: str | None) -> NetworkConfig:
    if value is None or value == "" or value == "mainnet":
        return mainnet()
    if value == "testnet":
        return testnet()
    try:
        path = Path(value).expanduser()
    except RuntimeError:  # "~nosuchuser/...": no such home folder, so no such file either
        path = Path(value)
    if not path.exists() and "/" not in value and not value.endswith(".json"):
        raise UsageError(
            f"unknown network {value!r}",
            hints=("use mainnet, testnet, or the path of a network file (as `devnet up` writes)",),
        )
    return load_network_file(path)


def load_network_file(path: Path) -> NetworkConfig:
    if "\x00" in str(path):
        raise UsageError(f"invalid network file name {str(path)!a}: it holds a NUL byte")
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        hints: tuple[str, ...] = ()
        if (path.parent / "ports.json").exists():  # a devnet folder: its devnet is not running
            hints = (
                "a stopped devnet removes its network.json; to rehearse an outage (exit 69), "
                "keep it running and use: sessioncli devnet ctl --dir DIR down NODE...",
            )
        raise ConfigError(f"network file {path} does not exist", hints=hints) from None
    except OSError as exc:
        raise ConfigError(f"cannot read network file {path}: {exc.strerror}") from None
    try:
        obj: Any = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise ConfigError(f"network file {path} is not valid JSON") from None
    if not isinstance(obj, dict):
        raise ConfigError(f"network file {path}: expected a JSON object")
    name = obj.get("name")
    if (
        not isinstance(name, str)
        or not _NAME.fullmatch(name)
        or name in {".", "..", "mainnet", "testnet"}
    ):
        raise ConfigError(
            f"network file {path}: 'name' must be 1-64 of [A-Za-z0-9._-] and not mainnet/testnet"
        )
    raw_seeds = obj.get("seeds")
    if not isinstance(raw_seeds, list) or not raw_seeds:
        raise ConfigError(f"network file {path}: 'seeds' must be a non-empty list")
    seeds = [_seed(path, i, s) for i, s in enumerate(raw_seeds)]
    return NetworkConfig(
        name=name, seeds=tuple(seeds), file_server=_file_server(path, obj.get("file_server"))
    )


def _seed(path: Path, i: int, s: Any) -> Seed:
    """One entry of network.json's "seeds": its URL in the form pins are looked up by, and the
    pin of an https seed's certificate."""
    if not isinstance(s, dict) or not isinstance(s.get("url"), str):
        raise ConfigError(f"network file {path}: seed {i} has no 'url'")
    url = s["url"].rstrip("/")
    parts = _SEED_URL.fullmatch(url)
    if parts is None or int(parts[3]) > 65535 or ".." in parts[2]:
        raise ConfigError(f"network file {path}: seed {i} url {url!r} is not http(s)://host:port")
    url = f"{parts[1]}://{parts[2].lower()}:{parts[3]}"
    if not url.startswith("https://"):
        return Seed(url=url, fingerprint=None)
    pem = s.get("cert_pem")
    if not isinstance(pem, str):
        raise ConfigError(f"network file {path}: https seed {url} needs a 'cert_pem' to pin")
    try:
        return Seed(url=url, fingerprint=cert_fingerprint(pem))
    except ValueError:
        raise ConfigError(
            f"network file {path}: seed {url} cert_pem is not a PEM certificate"
        ) from None


def _file_server(path: Path, raw: Any) -> FileServer | None:
    """network.json's optional "file_server": {"url", "pubkey_x25519", "pubkey_ed25519"}."""
    if raw is None:
        return None
    bad = (
        f"network file {path}: 'file_server' needs url (http(s)://host[:port]) and two 64-hex keys"
    )
    if not isinstance(raw, dict):
        raise ConfigError(bad)
    url, x, ed = raw.get("url"), raw.get("pubkey_x25519"), raw.get("pubkey_ed25519")
    if not all(isinstance(v, str) for v in (url, x, ed)):
        raise ConfigError(bad)
    assert isinstance(url, str) and isinstance(x, str) and isinstance(ed, str)
    url = url.rstrip("/")
    if not re.fullmatch(r"https?://[A-Za-z0-9.-]+(:\d{1,5})?", url):
        raise ConfigError(bad)
    if not all(re.fullmatch(r"[0-9a-fA-F]{64}", k) for k in (x, ed)):
        raise ConfigError(bad)
    return FileServer(url=url, pubkey_x25519=x.lower(), pubkey_ed25519=ed.lower())
