"""multi_encrypt (tests/test_multi_encrypt.cpp) and subaccount auth (test_group_keys.cpp + oracle) vectors."""

from __future__ import annotations

import pytest

from sessioncli.protocol import crypto
from sessioncli.protocol.groups import multi_encrypt as me
from sessioncli.protocol.groups import subaccount as sa
from sessioncli.protocol.ids import Identity
from tests.unit.groups_vectors import entry, hx

ME = "tests/test_multi_encrypt.cpp"
SEEDS = entry(ME, "Ed25519 seeds")


def keys(i: int) -> tuple[bytes, bytes]:
    """(X25519 secret, X25519 public) of seed i."""
    _, sk = crypto.ed25519_keypair_from_seed(hx(SEEDS["inputs"]["ed25519_seeds_hex"][i]))
    return crypto.ed25519_sk_to_x25519(sk), crypto.ed25519_pk_to_x25519(sk[32:])


def test_seed_x25519_keys() -> None:
    assert [keys(i)[1].hex() for i in range(5)] == SEEDS["expected"]["x25519_pubkeys_hex"]


@pytest.mark.parametrize("which", ["one message for 3", "with one message per recipient"])
def test_encrypt_for_multiple(which: str) -> None:
    e = entry(ME, f"encrypt_for_multiple{',' if which.startswith('one') else ''} {which}")
    inp = e["inputs"]
    messages = [m.encode() for m in inp.get("messages_utf8", [inp.get("message_utf8", "")])]
    a, big_a = keys(0)
    recipients = [keys(i)[1] for i in inp["recipient_seed_indexes"]]
    nonce = hx(inp["nonce_hex"])
    cts = me.encrypt_for_multiple(messages, recipients, nonce, a, big_a, inp["domain"])
    assert [c.hex() for c in cts] == e["expected"]["ciphertexts_hex"]
    for n, i in enumerate(inp["recipient_seed_indexes"]):
        b, big_b = keys(i)
        got = me.decrypt_for_multiple(cts, nonce, b, big_b, big_a, inp["domain"])
        assert got == messages[0 if len(messages) == 1 else n]
    b, big_b = keys(3)
    assert me.decrypt_for_multiple(cts, nonce, b, big_b, big_a, "not test suite") is None
    b, big_b = keys(4)
    assert me.decrypt_for_multiple(cts, nonce, b, big_b, big_a, inp["domain"]) is None


def test_simple_format() -> None:
    e = entry(ME, "encrypt_for_multiple_simple")
    prev = entry(ME, "encrypt_for_multiple with one message per recipient")["inputs"]
    a, big_a = keys(0)
    blob = me.encrypt_for_multiple_simple(
        [m.encode() for m in prev["messages_utf8"]],
        [keys(i)[1] for i in (1, 2, 3)],
        a,
        big_a,
        prev["domain"],
        nonce=hx(prev["nonce_hex"]),
    )
    assert blob.hex() == e["expected"]["encoded_hex"]
    b, big_b = keys(2)
    assert me.decrypt_for_multiple_simple(blob, b, big_b, big_a, prev["domain"]) == b"cruel"
    with pytest.raises(me.MultiEncryptError):
        me.decrypt_for_multiple_simple(b"d1:#3:abce", b, big_b, big_a, prev["domain"])


AUTH = entry("tests/test_group_keys.cpp", "Swarm subaccount auth")
ORACLE = entry("src/config/groups/keys.cpp", "ORACLE: swarm_make_subaccount")


def test_subaccount_signature_vector() -> None:
    inp, exp = AUTH["inputs"], AUTH["expected"]
    group_sk = crypto.ed25519_keypair_from_seed(hx(inp["group_seed_hex"]))[1]
    auth = sa.make_auth_data(group_sk, inp["member_session_id"], write=True)
    assert auth.hex() == exp["member_auth_data_hex_derived"]
    member = Identity.from_seed(hx(inp["member_ed25519_seed_hex"]))
    assert member.session_id == inp["member_session_id"]
    signed = sa.sign_request(inp["message_to_sign_utf8"].encode(), auth, member.ed25519_secret)
    params = signed.as_params()
    assert params["subaccount"] == exp["subaccount_b64"]
    assert params["subaccount_sig"] == exp["subaccount_sig_b64"]
    assert params["signature"] == exp["signature_b64"]
    # what a storage server checks: the group signed the token, and kT signed the request
    assert crypto.verify(group_sk[32:], signed.subaccount, signed.subaccount_sig)
    assert crypto.verify(
        signed.subaccount[4:], inp["message_to_sign_utf8"].encode(), signed.signature
    )
    assert "signature" not in repr(signed)


def test_oracle_auth_data_and_token() -> None:
    seeds, sid = ORACLE["inputs"]["seeds"], ORACLE["inputs"]["member_session_id"]
    group_sk = crypto.ed25519_keypair_from_seed(hx(seeds["group"]))[1]
    assert sa.make_auth_data(group_sk, sid).hex() == ORACLE["expected"]["auth_data_write_hex"]
    ro = sa.make_auth_data(group_sk, sid, write=False)
    assert ro.hex() == ORACLE["expected"]["auth_data_readonly_hex"]
    assert sa.make_token(group_sk, sid).hex() == ORACLE["expected"]["token_hex"]
    member = Identity.from_seed(hx(seeds["member"]))
    assert sa.sign_request(
        b"x", sa.make_auth_data(group_sk, sid), member.ed25519_secret
    ).subaccount == sa.make_token(group_sk, sid)


def test_verify_auth_data() -> None:
    seeds, sid = ORACLE["inputs"]["seeds"], ORACLE["inputs"]["member_session_id"]
    group_sk = crypto.ed25519_keypair_from_seed(hx(seeds["group"]))[1]
    member = Identity.from_seed(hx(seeds["member"]))
    other = Identity.from_seed(hx(seeds["member2"]))
    rw = sa.make_auth_data(group_sk, sid)
    ro = sa.make_auth_data(group_sk, sid, write=False)
    pk = group_sk[32:]
    assert sa.verify_auth_data(pk, member.ed25519_secret, rw, write=True)
    assert sa.verify_auth_data(pk, member.ed25519_secret, ro)
    assert not sa.verify_auth_data(pk, member.ed25519_secret, ro, write=True)
    assert not sa.verify_auth_data(pk, member.ed25519_secret, rw, delete=True)
    assert not sa.verify_auth_data(pk, other.ed25519_secret, rw)  # made for someone else
    forged = bytearray(rw)
    forged[1] |= sa.FLAG_DELETE  # flags are under the group signature
    assert not sa.verify_auth_data(pk, member.ed25519_secret, bytes(forged))
    assert not sa.verify_auth_data(pk, member.ed25519_secret, rw[:99])
    with pytest.raises(sa.SubaccountError):
        sa.sign_request(b"x", rw[:99], member.ed25519_secret)
