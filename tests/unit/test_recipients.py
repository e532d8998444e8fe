"""Recipient words, the shared name namespace and the receive-record filter."""

from __future__ import annotations

import pytest

from sessioncli.core import contacts, names, recipients
from sessioncli.core.records import RecordFilter
from sessioncli.errors import UsageError

ALICE = "05" + "ab" * 32


def test_session_id_is_a_dm() -> None:
    t = recipients.parse_target(ALICE)
    assert (t.source, t.address, t.name) == ("dm", ALICE, None)


def test_contact_name_is_a_dm_with_its_name() -> None:
    contacts.add("Ops", ALICE)
    t = recipients.parse_target("ops")
    assert (t.source, t.address, t.name) == ("dm", ALICE, "Ops")


def test_at_name_is_an_ons_lookup_lowercased() -> None:
    t = recipients.parse_target("@Alice_1")
    assert (t.source, t.address, t.ons, t.label) == ("dm", "", "alice_1", "@alice_1")


@pytest.mark.parametrize("bad", ["@", "@-x", "@x-", "@a b", "@" + "a" * 65, "@ä"])
def test_bad_ons_names_are_refused(bad: str) -> None:
    with pytest.raises(UsageError, match="invalid Session name"):
        recipients.parse_target(bad)


def test_unknown_name_suggests_the_closest() -> None:
    contacts.add("ops", ALICE)
    with pytest.raises(UsageError) as info:
        recipients.parse_target("opz")
    assert "did you mean 'ops'?" in info.value.hints


def test_group_id_we_are_not_in() -> None:
    with pytest.raises(UsageError, match="not a member"):
        recipients.parse_target("03" + "ab" * 32)


def test_blinded_id_needs_via() -> None:
    with pytest.raises(UsageError, match="--via"):
        recipients.parse_target("15" + "ab" * 32)


def test_duplicates_are_dropped_in_order() -> None:
    contacts.add("ops", ALICE)
    got = recipients.parse_targets(["ops", ALICE, "05" + "cd" * 32])
    assert [t.address for t in got] == [ALICE, "05" + "cd" * 32]


@pytest.mark.parametrize("bad", ["a,b", "-x", "@x", "a\x1bb", "a\x85b", "caf\udce9", "", "a" * 65])
def test_names_that_cannot_work_are_refused(bad: str) -> None:
    with pytest.raises(UsageError):
        names.check_name(bad, kind="contact")


def test_a_held_name_cannot_be_claimed_again() -> None:
    contacts.add("team", ALICE)
    with names.names_lock(), pytest.raises(UsageError, match="already used by a contact"):
        names.claim("TEAM", kind="group")


RECORD = {
    "source": "dm",
    "kind": "text",
    "from": ALICE,
    "contact": "ops",
    "conversation": ALICE,
    "body": "hi",
}


@pytest.mark.parametrize(
    ("flt", "shown"),
    [
        (RecordFilter(), True),
        (RecordFilter(kinds={"reaction"}), False),
        (RecordFilter(senders={"OPS"}), True),
        (RecordFilter(senders={"05" + "cd" * 32}), False),
        (RecordFilter(conversations={"ops"}), True),
        (RecordFilter(sources={"group"}), False),
        (RecordFilter(contacts_only=True), True),
        (RecordFilter(requests_only=True), False),
    ],
)
def test_filter_table(flt: RecordFilter, shown: bool) -> None:
    assert flt.shows(RECORD, approved=lambda _sid: True) is shown


def test_control_kinds_hidden_unless_asked() -> None:
    mrr = {**RECORD, "kind": "message_request_response", "body": None}
    assert not RecordFilter().shows(mrr, approved=lambda _s: True)
    assert RecordFilter(include_control=True).shows(mrr, approved=lambda _s: True)
    assert RecordFilter(kinds={"message_request_response"}).shows(mrr, approved=lambda _s: True)


def test_requests_only_shows_unapproved_senders() -> None:
    flt = RecordFilter(requests_only=True)
    assert flt.shows({**RECORD, "contact": None}, approved=lambda _s: False)


def test_dm_only_options_are_refused_for_other_sources() -> None:
    from sessioncli.core import dispatch
    from sessioncli.core.recipients import Target

    group = Target("group", "03" + "ab" * 32, name="team")
    dispatch.check_supported([Target("dm", ALICE)], options=["--attach"])
    with pytest.raises(UsageError, match="--attach cannot be used with team"):
        dispatch.check_supported([Target("dm", ALICE), group], options=["--attach"])
    dispatch.check_supported([group], options=[])


def test_communities_carry_attach_but_not_the_other_dm_options() -> None:
    from sessioncli.core import dispatch
    from sessioncli.core.recipients import Target

    room = Target("community", "https://h/r?public_key=" + "ab" * 32, name="lobby")
    blinded = Target("community_dm", "15" + "cd" * 32, via="lobby")
    dispatch.check_supported([room, blinded], options=["--attach"])
    with pytest.raises(UsageError, match="--avatar cannot be used with lobby"):
        dispatch.check_supported([room], options=["--attach", "--avatar"])
