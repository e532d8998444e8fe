"""Blinded DMs (SPEC §2.3) between two identities on one server: both ways, and what is refused."""

from __future__ import annotations

import pytest

from sessioncli.protocol import blinding, crypto

SERVER = bytes.fromhex("c3b3c6f32f0ab5a57f853cc4f30f5da7fda5624b0c77b3fb0829de562ada081d")


def _sk(n: int) -> bytes:
    return crypto.ed25519_keypair_from_seed(bytes([n]) * 32)[1]


ALICE, BOB, EVE = _sk(1), _sk(2), _sk(3)
A_ID = blinding.blinded_session_id(ALICE, SERVER)
B_ID = blinding.blinded_session_id(BOB, SERVER)


def test_both_ways_and_our_outbox() -> None:
    msg = b"hi bob" + b"\x80" + bytes(153)
    data = blinding.encrypt_blinded_dm(ALICE, SERVER, B_ID, msg)
    assert data[:1] == b"\x00"
    opened = blinding.decrypt_blinded_dm(BOB, SERVER, A_ID, B_ID, data)
    assert opened.padded == msg
    assert opened.sender_session_id == "05" + crypto.ed25519_pk_to_x25519(ALICE[32:]).hex()
    # Alice reads her own copy from the outbox.
    assert blinding.decrypt_blinded_dm(ALICE, SERVER, A_ID, B_ID, data).padded == msg
    back = blinding.encrypt_blinded_dm(BOB, SERVER, A_ID, b"hi alice")
    assert blinding.decrypt_blinded_dm(ALICE, SERVER, B_ID, A_ID, back).padded == b"hi alice"


def test_deterministic_nonce_is_at_the_end() -> None:
    nonce = bytes(range(24))
    data = blinding.encrypt_blinded_dm(ALICE, SERVER, B_ID, b"x", nonce=nonce)
    assert data.endswith(nonce)
    assert len(data) == 1 + 1 + 32 + 16 + 24


def test_refusals() -> None:
    data = blinding.encrypt_blinded_dm(ALICE, SERVER, B_ID, b"secret")
    e_id = blinding.blinded_session_id(EVE, SERVER)
    with pytest.raises(blinding.BlindingError, match="neither from nor to us"):
        blinding.decrypt_blinded_dm(EVE, SERVER, A_ID, B_ID, data)
    with pytest.raises(blinding.BlindingError, match="does not decrypt"):
        blinding.decrypt_blinded_dm(BOB, SERVER, A_ID, B_ID, data[:-1] + bytes([data[-1] ^ 1]))
    with pytest.raises(blinding.BlindingError, match="version-0"):
        blinding.decrypt_blinded_dm(BOB, SERVER, A_ID, B_ID, b"\x01" + data[1:])
    # Eve encrypts to Bob but claims to be Alice: the key is derived from the claimed sender,
    # so it does not even decrypt; with her own id it decrypts and names her.
    forged = blinding.encrypt_blinded_dm(EVE, SERVER, B_ID, b"from alice, honest")
    with pytest.raises(blinding.BlindingError):
        blinding.decrypt_blinded_dm(BOB, SERVER, A_ID, B_ID, forged)
    assert blinding.decrypt_blinded_dm(BOB, SERVER, e_id, B_ID, forged).padded.startswith(b"from")
    with pytest.raises(blinding.BlindingError):
        blinding.encrypt_blinded_dm(ALICE, SERVER, "05" + "ab" * 32, b"x")
