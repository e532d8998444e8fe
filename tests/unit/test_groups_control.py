"""GroupUpdate control messages: field numbers as upstream, admin signatures made and checked."""

from __future__ import annotations

import pytest

from sessioncli.protocol import crypto
from sessioncli.protocol.groups import control as gc
from sessioncli.protocol.groups import subaccount
from sessioncli.protocol.ids import Identity
from sessioncli.protocol.proto import session_pb2 as pb

GROUP_PK, GROUP_SK = crypto.ed25519_keypair_from_seed(bytes(range(32)))
BOB = Identity.from_seed(bytes([7]) * 16)
TS = 1_700_000_000_123


def test_field_numbers_match_upstream() -> None:
    assert pb.DataMessage.DESCRIPTOR.fields_by_name["groupUpdateMessage"].number == 120
    numbers = {f.name: f.number for f in pb.GroupUpdateMessage.DESCRIPTOR.fields}
    assert numbers == {
        "inviteMessage": 1,
        "infoChangeMessage": 2,
        "memberChangeMessage": 3,
        "promoteMessage": 4,
        "memberLeftMessage": 5,
        "inviteResponse": 6,
        "deleteMemberContent": 7,
        "memberLeftNotificationMessage": 8,
    }
    inv = {f.name: f.number for f in pb.GroupUpdateInviteMessage.DESCRIPTOR.fields}
    assert inv == {"groupSessionId": 1, "name": 2, "memberAuthData": 3, "adminSignature": 4}


def _round_trip(update: pb.GroupUpdateMessage) -> gc.Control:
    content = pb.Content.FromString(gc.to_content(update, TS, display_name="Alice"))
    assert content.sigTimestamp == TS and content.dataMessage.profile.displayName == "Alice"
    return gc.read_control(content.dataMessage.groupUpdateMessage)


def test_invite_signed_and_verified() -> None:
    auth = subaccount.make_auth_data(GROUP_SK, BOB.session_id)
    got = _round_trip(gc.invite(GROUP_SK, "CI alerts", auth, BOB.session_id, TS))
    assert got.kind == "invite" and got.name == "CI alerts" and got.auth_data == auth
    assert got.group_id == gc.group_id_of(GROUP_PK)
    assert gc.verify_invite(got, BOB.session_id, TS) == GROUP_PK
    with pytest.raises(gc.ControlError, match="signature"):
        gc.verify_invite(got, BOB.session_id, TS + 1)  # signed for another envelope time
    with pytest.raises(gc.ControlError, match="signature"):
        gc.verify_invite(got, "05" + "11" * 32, TS)  # signed for someone else
    assert "auth_data" not in repr(got) and "admin_signature" not in repr(got)


def test_admin_signed_kinds() -> None:
    cases = [
        gc.info_change(GROUP_SK, gc.INFO_NAME, TS, name="renamed"),
        gc.member_change(GROUP_SK, gc.MEMBER_REMOVED, [BOB.session_id], TS),
        gc.delete_member_content(GROUP_SK, TS, session_ids=[BOB.session_id], message_hashes=["h"]),
    ]
    for update in cases:
        got = _round_trip(update)
        gc.verify_admin_signed(got, GROUP_PK, TS)
        with pytest.raises(gc.ControlError):
            gc.verify_admin_signed(got, GROUP_PK, TS + 1)
        other = crypto.ed25519_keypair_from_seed(bytes(32))[0]
        with pytest.raises(gc.ControlError):
            gc.verify_admin_signed(got, other, TS)
    assert _round_trip(cases[0]).updated_name == "renamed"
    assert _round_trip(cases[1]).session_ids == (BOB.session_id,)


def test_unsigned_kinds() -> None:
    assert _round_trip(gc.invite_response()).approved
    assert _round_trip(gc.member_left()).kind == "member_left"
    assert _round_trip(gc.member_left_notification()).kind == "member_left_notification"
    promo = _round_trip(gc.promote(GROUP_SK[:32], "CI"))
    assert promo.group_seed == GROUP_SK[:32] and "group_seed" not in repr(promo)
    with pytest.raises(gc.ControlError, match="no admin signature"):
        gc.verify_admin_signed(promo, GROUP_PK, TS)


def test_bad_input() -> None:
    with pytest.raises(gc.ControlError):
        gc.read_control(pb.GroupUpdateMessage())
    with pytest.raises(gc.ControlError, match="required"):
        bare = pb.GroupUpdateMessage()
        bare.inviteMessage.name = "x"
        gc.read_control(bare)
    with pytest.raises(gc.ControlError):
        gc.invite(GROUP_SK, "x", b"short", BOB.session_id, TS)
    for bad in ("05" + "00" * 32, "03abc", "03" + "zz" * 32):
        with pytest.raises(gc.ControlError):
            gc.group_pk_of(bad)


def test_group_id_and_member_ids_vectors() -> None:
    from tests.unit.groups_vectors import entry, hx

    e = entry("tests/test_group_keys.cpp", "Group Ed25519 seed")
    pk, sk = crypto.ed25519_keypair_from_seed(hx(e["inputs"]["group_seed_hex"]))
    assert pk.hex() == e["expected"]["group_ed25519_pubkey_hex"] and sk[32:] == pk
    assert gc.group_id_of(pk) == e["expected"]["group_id"]
    assert gc.group_pk_of(e["expected"]["group_id"].upper()) == pk
    ids = entry("tests/test_group_keys.cpp", "Full 32-byte Ed25519 seeds")
    for name, seed in ids["inputs"]["ed25519_seeds_hex"].items():
        assert Identity.from_seed(hx(seed)).session_id == ids["expected"]["session_ids"][name]
