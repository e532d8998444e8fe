"""The `oracle` group built from its seeds in Python: the same Keys, Info and Members bytes as libsession."""

from __future__ import annotations

from sessioncli.protocol import crypto
from sessioncli.protocol.groups import info, members
from sessioncli.protocol.groups.configobj import GroupConfig
from sessioncli.protocol.groups.configpush import DOMAIN_INFO, DOMAIN_MEMBERS
from sessioncli.protocol.groups.keys import GroupKeys
from sessioncli.protocol.groups.members import Member, Status
from sessioncli.protocol.ids import Identity
from tests.unit.groups_vectors import entry, hx

K = "src/config/groups/keys.cpp"
PUSH = entry(K, "ORACLE: Info (seqno 1")
GEN0 = entry(K, "ORACLE: Keys::rekey")
GEN1 = entry(K, "ORACLE: same as previous, generation 1")
SUPP = entry(K, "ORACLE: Keys::key_supplement")
SEEDS = PUSH["inputs"]["seeds"]


def test_oracle_group_from_seeds() -> None:
    group_pk, group_sk = crypto.ed25519_keypair_from_seed(hx(SEEDS["group"]))
    admin, member, member2, late = (
        Identity.from_seed(hx(SEEDS[n])) for n in ("admin", "member", "member2", "late_member")
    )
    keys = GroupKeys(group_pk, admin.ed25519_secret, group_sk)
    gen0 = keys.rekey([])  # what a new Keys object does before it has members
    keys.load_key_message("k0", gen0, SUPP["inputs"]["keys"][0][2])

    group_info = GroupConfig(DOMAIN_INFO, group_pk, group_sk)
    data = group_info.edit()
    info.set_created(data, 1_700_000_000)
    info.set_name(data, "CI alerts")

    group_members = GroupConfig(DOMAIN_MEMBERS, group_pk, group_sk)
    data = group_members.edit()
    members.set_member(data, Member(admin.session_id, name="Admin", admin=True))
    members.set_member(data, Member(member.session_id, name="Member", invite=Status.SENT))
    members.set_member(data, Member(member2.session_id))

    ids = [m.session_id for m in members.read_members(group_members.data)]
    gen1 = keys.rekey(ids)
    info_push = group_info.push(keys.encryption_key())  # the pending gen-1 key
    members_push = group_members.push(keys.encryption_key())

    assert gen0.hex() == GEN0["expected"]["keys_message_hex"]
    assert gen1.hex() == GEN1["expected"]["keys_message_hex"]
    assert info_push.seqno == members_push.seqno == 1
    assert info_push.data.hex() == PUSH["expected"]["info_push_hex"]
    assert members_push.data.hex() == PUSH["expected"]["members_push_hex"]
    sign = group_info._signer()
    assert group_info.message.serialize(sign).hex() == PUSH["expected"]["info_serialized_hex"]
    assert (
        group_members.message.serialize(group_members._signer()).hex()
        == PUSH["expected"]["members_serialized_hex"]
    )

    keys.load_key_message("k1", gen1, SUPP["inputs"]["keys"][1][2])
    assert keys.key_supplement([late.session_id]).hex() == SUPP["expected"]["supplement_hex"]

    # and a member, given only the wire bytes, reads all three back
    mk = GroupKeys(group_pk, member.ed25519_secret)
    assert not mk.load_key_message("k0", gen0, 1)
    assert mk.load_key_message("k1", gen1, 2)
    mi = GroupConfig(DOMAIN_INFO, group_pk)
    assert mi.merge([("i1", info_push.data)], mk.decryption_keys()) == ["i1"]
    assert info.read_info(mi.data) == info.GroupInfo(name="CI alerts", created=1_700_000_000)
    mm = GroupConfig(DOMAIN_MEMBERS, group_pk)
    assert mm.merge([("m1", members_push.data)], mk.decryption_keys()) == ["m1"]
    got = {m.session_id: m for m in members.read_members(mm.data)}
    assert got[admin.session_id].admin and got[admin.session_id].name == "Admin"
    assert got[member.session_id].invite == Status.SENT
    assert got[member2.session_id].invite == Status.NOT_SENT and got[member2.session_id].name == ""
