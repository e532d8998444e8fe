"""Desktop's X-SOGS-* header vectors (blinded and unblinded, with and without a body)."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from sessioncli.protocol import blinding, crypto, sogs

DATA = Path(__file__).resolve().parent.parent / "data"
ENTRIES: list[dict[str, Any]] = json.loads(
    (DATA / "session-desktop_OpenGroupAuthentication_test.json").read_text("utf-8")
)["entries"]


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: str(e["description"])[:40])
def test_desktop_auth_headers(entry: dict[str, Any]) -> None:
    i, x = entry["inputs"], entry["expected"]
    pk, sk = crypto.ed25519_keypair_from_seed(bytes.fromhex(i["ed25519_seed_hex"]))
    assert pk.hex() == i["ed25519_pubkey_hex"]
    server = bytes.fromhex(i["server_pubkey_hex"])
    body = i["body_utf8"].encode("utf-8") if i.get("body_utf8") is not None else None
    signer = sogs.Signer(sk, server, blinded=i["blinded"], variant="desktop")
    headers = sogs.auth_headers(
        signer,
        i["method"],
        i["path"],
        body,
        nonce=base64.b64decode(i["nonce_b64"]),
        timestamp=i["timestamp"],
    )
    assert headers == {k: x[k] for k in headers}
    assert set(headers) == {k for k in x if k.startswith("X-SOGS-")}
    # Our own (libsession) nonce gives other bytes that the server verifies alike.
    ours = sogs.auth_headers(
        sogs.Signer(sk, server, blinded=i["blinded"]),
        i["method"],
        i["path"],
        body,
        nonce=base64.b64decode(i["nonce_b64"]),
        timestamp=i["timestamp"],
    )
    signed = server + base64.b64decode(i["nonce_b64"]) + str(i["timestamp"]).encode()
    signed += i["method"].encode() + i["path"].encode()
    if body:
        signed += crypto.blake2b(body, size=64)
    sig = base64.b64decode(ours["X-SOGS-Signature"])
    assert blinding.verify_by_id(ours["X-SOGS-Pubkey"], signed, sig)
