"""Every entry of the blinding vector files (libsession, pysogs, desktop) against protocol/blinding.py."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sessioncli.protocol import blinding, crypto

DATA = Path(__file__).resolve().parent.parent / "data"


def entries(name: str) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = json.loads((DATA / name).read_text("utf-8"))["entries"]
    return result


LIBSESSION = entries("libsession-util_test_blinding.json")
PYSOGS = entries("session-pysogs_test_blinding.json")
KNOWN = entries("session-desktop_knownBlindedKeys_test.json")


def _kind(entry: dict[str, Any]) -> str:
    return str(entry["description"]).split("(")[0].split(":")[0].strip()


def test_every_libsession_entry_is_covered() -> None:
    kinds = {_kind(e) for e in LIBSESSION}
    assert kinds <= {
        "Key material used by all blinding tests",
        "blind25_id",
        "blind15_id",
        "blind25_sign",
        "blind15_sign",
        "Version-check blinding",
        "blind_version_sign",
    }, kinds
    assert len(LIBSESSION) == 20


def _sk(hex_sk: str) -> bytes:
    return bytes.fromhex(hex_sk)


@pytest.mark.parametrize("entry", LIBSESSION, ids=lambda e: _kind(e))
def test_libsession_blinding(entry: dict[str, Any]) -> None:
    i, x = entry["inputs"], entry["expected"]
    kind = _kind(entry)
    if kind == "Key material used by all blinding tests":
        for n in ("1", "2"):
            sk = _sk(i[f"user{n}_ed25519_sk_hex"])
            assert "05" + crypto.ed25519_pk_to_x25519(sk[32:]).hex() == x[f"user{n}_session_id"]
        return
    if kind in ("Version-check blinding", "blind_version_sign"):
        pk, vsk = blinding.version_check_keypair(_sk(i["ed25519_sk_hex"]))
        if "version_pubkey_hex" in x:
            assert pk.hex() == x["version_pubkey_hex"]
            assert vsk.hex() == x["version_sk64_hex"]
        else:
            msg = i["signed_message_utf8"].encode()
            assert msg == f"{i['timestamp']}GET/session_version?platform={i['platform']}".encode()
            assert crypto.sign(vsk, msg).hex() == x["signature_hex"]
        return
    server = bytes.fromhex(i["server_pubkey_hex"])
    if kind == "blind15_id":
        positive, other = blinding.blind15_ids_of_session_id(i["session_id"], server)
        assert positive == x["blinded15_id_positive"]
        assert other != positive
    elif kind == "blind25_id":
        assert blinding.blind25_id_of_session_id(i["session_id"], server) == x["blinded25_id"]
    elif kind == "blind15_sign":
        sk, msg = _sk(i["ed25519_sk_hex"]), i["message_utf8"].encode()
        sig = blinding.blind15_sign(sk, server, msg, variant="libsession")
        assert sig.hex() == x["signature_hex"]
        assert blinding.verify_by_id(blinding.blinded_session_id(sk, server), msg, sig)
        # The desktop variant signs differently but verifies alike.
        other = blinding.blind15_sign(sk, server, msg, variant="desktop")
        assert other != sig
        assert blinding.verify_by_id(blinding.blinded_session_id(sk, server), msg, other)
        sid = "05" + crypto.ed25519_pk_to_x25519(sk[32:]).hex()
        assert blinding.blinded_session_id(sk, server) in blinding.blind15_ids_of_session_id(
            sid, server
        )
    elif kind == "blind25_sign":
        sk, msg = _sk(i["ed25519_sk_hex"]), i["message_utf8"].encode()
        sig = blinding.blind25_sign(sk, server, msg)
        assert sig.hex() == x["signature_hex"]
        sid = "05" + crypto.ed25519_pk_to_x25519(sk[32:]).hex()
        assert blinding.verify_by_id(blinding.blind25_id_of_session_id(sid, server), msg, sig)
    else:  # pragma: no cover - the coverage test above lists every kind
        pytest.fail(kind)


@pytest.mark.parametrize("entry", PYSOGS, ids=lambda e: e["expected"]["blinded15_id"][:12])
def test_pysogs_blinded_ids(entry: dict[str, Any]) -> None:
    i, x = entry["inputs"], entry["expected"]
    pk, sk = crypto.ed25519_keypair_from_seed(bytes.fromhex(i["ed25519_seed_hex"]))
    server = bytes.fromhex(i["server_pubkey_hex"])
    assert "05" + crypto.ed25519_pk_to_x25519(pk).hex() == x["session_id_derived"]
    assert blinding.blinded_session_id(sk, server) == x["blinded15_id"]
    assert x["blinded15_id"] in blinding.blind15_ids_of_session_id(x["session_id_derived"], server)
    assert blinding.blind15_public_of_ed25519(pk, server).hex() == x["blinded15_id"][2:]


@pytest.mark.parametrize("entry", KNOWN)
def test_desktop_known_blinded_key(entry: dict[str, Any]) -> None:
    i, x = entry["inputs"], entry["expected"]
    server = bytes.fromhex(i["server_pubkey_hex"])
    positive, other = blinding.blind15_ids_of_session_id(i["session_id"], server)
    assert positive == x["blinded15_positive_variant_derived"]
    assert other == x["blinded15_id"]
    assert blinding.blind25_id_of_session_id(i["session_id"], server) == x["blinded25_id_derived"]
