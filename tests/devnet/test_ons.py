"""The devnet's Session names: `ctl ons add`, and `oxend_request` `ons_resolve` answered in the real
encrypted form (SPEC §4.4; libsession `decrypt_ons_response`), decrypted here with nacl."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from nacl import bindings as sodium

from sessioncli.devnet import ons
from tests.devnet.conftest import Net
from tests.devnet.wire import Account, rpc
from tests.devnet_support import REPO, DevnetProcess

VECTORS = json.loads(
    (
        Path(__file__).resolve().parents[1] / "data" / "libsession-util_test_session_encrypt.json"
    ).read_text()
)["entries"]


def _vector() -> dict[str, Any]:
    (entry,) = [e for e in VECTORS if "ONS" in e["description"]]
    return entry


def test_devnet_encryption_reproduces_the_libsession_vector() -> None:
    """oxend stores the owner's value as libsession decrypts it: the devnet's encryption of the
    vector's Session ID under its name and nonce is the vector's ciphertext."""
    entry = _vector()
    inputs = entry["inputs"]
    sealed = ons.encrypt_value(
        inputs["lowercase_name"],
        bytes.fromhex(entry["expected"]["session_id"]),
        bytes.fromhex(inputs["nonce_hex"]),
    )
    assert sealed.hex() == inputs["ciphertext_hex"]


def _name_hash(name: str) -> str:
    """oxen-core `ons::name_to_hash` of the lower-cased name, base64 (as desktop sends it)."""
    return base64.b64encode(
        hashlib.blake2b(name.lower().encode(), digest_size=32).digest()
    ).decode()


def _decrypt(name: str, result: dict[str, str]) -> str:
    lowered = name.lower().encode()
    key = hashlib.blake2b(
        lowered, digest_size=32, key=hashlib.blake2b(lowered, digest_size=32).digest()
    ).digest()
    plain = sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(
        bytes.fromhex(result["encrypted_value"]), None, bytes.fromhex(result["nonce"]), key
    )
    return bytes(plain).hex()


def _resolve(node: dict[str, Any], name_hash: Any) -> tuple[int, Any]:
    params = {"endpoint": "ons_resolve", "params": {"type": 0, "name_hash": name_hash}}
    return rpc(node, "oxend_request", params)


@pytest.mark.slow
def test_ons_resolve_answers_registered_names_encrypted(healthy: Net) -> None:
    bob = Account.make("ons-bob")
    healthy.devnet.verbs.run("ons", ["add", "Bob_Builder", bob.session_id])
    node = healthy.nodes()[1]
    status, body = _resolve(node, _name_hash("BOB_builder"))
    assert status == 200, body
    result = body["result"]
    assert set(result) == {"encrypted_value", "nonce"}
    assert _decrypt("bob_builder", result) == bob.session_id
    hex_hash = base64.b64decode(_name_hash("bob_builder")).hex()
    assert _resolve(node, hex_hash)[1]["result"] == result  # 64 hex digits work too
    assert _resolve(node, _name_hash("nobody-here"))[1]["result"] == {}
    assert _resolve(node, "not a hash") == (
        400,
        "Invalid name_hash: expected hash as 64 hex digits or 43/44 base64 characters",
    )


@pytest.mark.slow
def test_ons_names_are_checked(healthy: Net) -> None:
    from sessioncli.devnet import DevnetUsageError

    sid = Account.make("ons-check").session_id
    for bad in ("-dash-first", "has space", "x" * 65, ""):
        with pytest.raises(DevnetUsageError):
            healthy.devnet.ons_add(bad, sid)
    with pytest.raises(DevnetUsageError):
        healthy.devnet.ons_add("fine", "05" + "zz" * 32)


@pytest.mark.slow
def test_ctl_ons_add_through_the_command_line_survives_a_restart(tmp_path: Path) -> None:
    alice = Account.make("ons-alice")
    env = {**os.environ, "PYTHONPATH": str(REPO)}

    def ctl(directory: Path, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "sessioncli", "devnet", "ctl", "--dir", str(directory), *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            check=False,
        )

    directory = tmp_path / "net"
    with DevnetProcess(directory, nodes=3, swarm_size=3, seed="ons-cli") as devnet:
        added = devnet.ctl("ons", "add", "Alice", alice.session_id)
        assert added["name"] == "alice" and added["session_id"] == alice.session_id
        assert added["name_hash"] == _name_hash("alice")
        bad = ctl(directory, "ons", "add", "-bad", alice.session_id)
        assert bad.returncode == 2 and "invalid Session name" in bad.stderr
    with DevnetProcess(directory, nodes=3, swarm_size=3, seed="ons-cli") as devnet:
        assert [n["name"] for n in devnet.ctl("ons", "list")] == ["alice"]
        node = next(n for n in devnet.nodes() if n["kind"] == "storage")
        status, body = _resolve(node, _name_hash("alice"))
        assert status == 200
        assert _decrypt("alice", body["result"]) == alice.session_id
        listed = ctl(directory, "ons", "list")
        assert listed.returncode == 0 and alice.session_id in listed.stdout
