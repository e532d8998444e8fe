"""The pure rules of net/ (and receive's): failure scores, exit codes, hops, holders; no sockets."""

from __future__ import annotations

import base64

import nacl.signing
import pytest

from sessioncli.core.receive import FollowHealth, Rotation
from sessioncli.errors import NetworkUnavailable, TemporaryFailure
from sessioncli.net.client import verified_holders
from sessioncli.net.paths import Path, pick_hops, pick_path
from sessioncli.net.policy import Blame, CallLog, Deadline, Hedge, named_node
from sessioncli.protocol import rpc, rpc_answers
from sessioncli.protocol.snode import Node

T, T2 = "t" * 64, "u" * 64


def P(*hops: str) -> tuple[str, ...]:
    return hops


# --- Blame: a table of event sequences and their verdicts -------------------------------------

# (events, target, expected verdict after the last event, expected scores)
# an event: ("built", path) | ("guard", path) | ("down", path, target, guard_cleared)
CASES = [
    pytest.param(
        [
            ("built", P("g1", "a", "b")),
            ("built", P("g2", "c", "d")),
            ("built", P("g3", "e", "f")),
            ("down", P("g1", "a", "b"), T, False),
            ("down", P("g2", "c", "d"), T, False),
            ("down", P("g3", "e", "f"), T, False),
        ],
        T,
        True,
        {"g1": 0, "a": 0, "b": 0, "g2": 0, "c": 0, "d": 0, "f": 0},
        id="three vouched disjoint paths: the target is blamed and the hops cleared",
    ),
    pytest.param(
        [
            ("built", P("g1", "a", "b")),
            ("built", P("g2", "c", "d")),
            ("down", P("g1", "a", "b"), T, False),
            ("down", P("g2", "c", "d"), T, False),
        ],
        T,
        False,
        {"a": 1, "c": 1, T: 2},
        id="two disjoint paths may be two bad relays: not blamed yet",
    ),
    pytest.param(
        [
            ("built", P("g1", "r1", "b")),
            ("built", P("g2", "r1", "d")),
            ("down", P("g1", "r1", "b"), T, False),
            ("down", P("g2", "r1", "d"), T, False),
        ],
        T,
        False,
        {"r1": 2, T: 2},
        id="a shared relay ties the target: not blamed",
    ),
    pytest.param(
        [
            ("built", P("g2", "c", "d")),
            ("down", P("g1", "a", "b"), T, False),
            ("down", P("g2", "c", "d"), T, False),
        ],
        T,
        False,
        {T: 1, "g1": 1},
        id="a cached (unvouched) path does not count against the target",
    ),
    pytest.param(
        [
            ("down", P("g1", "a", "b"), T, True),
            ("down", P("g2", "c", "d"), T, True),
            ("down", P("g3", "e", "f"), T, True),
        ],
        T,
        True,
        {"g1": 0, "g2": 0, "a": 0},
        id="junk with the guards cleared by probes: the target explains it",
    ),
    pytest.param(
        [("guard", P("g1", "a", "b")), ("guard", P("g2", "c", "d"))],
        T,
        False,
        {"g1": 0, "a": 0, T: 0},
        id="silent guards change no score",
    ),
    pytest.param(
        [("down", P("g1", "a", "b"), "", True), ("down", P("g2", "c", "d"), "", True)],
        "",
        False,
        {"a": 1, "c": 1},
        id="a server destination is never blamed",
    ),
]


def _play(events: list[tuple], blame: Blame) -> bool:
    verdict = False
    for ev in events:
        if ev[0] == "built":
            blame.built(ev[1])
        elif ev[0] == "guard":
            blame.guard_failed(ev[1])
        else:
            verdict = blame.downstream_failed(ev[1], ev[2], guard_cleared=ev[3])
    return verdict


@pytest.mark.parametrize(("events", "target", "blamed", "scores"), CASES)
def test_blame_table(events, target, blamed, scores) -> None:
    blame = Blame()
    assert _play(events, blame) is blamed
    for node, score in scores.items():
        assert blame.score[node] == score, node
    # the evidence, not its order, decides (built events stay first: they happen before sends)
    built = [e for e in events if e[0] == "built"]
    rest = [e for e in events if e[0] != "built"]
    again = Blame()
    _play(built + rest[::-1], again)
    assert again.to_blame(target) is blamed if target else True


def test_spent_paths_and_barred_guards() -> None:
    blame = Blame()
    blame.built(P("x", "g1", "y"))
    blame.guard_failed(P("g1", "a", "b"))
    assert not blame.usable(P("g1", "a", "b"))
    assert not blame.usable(P("g1", "x", "y"))  # g1 is barred as a guard
    assert blame.usable(P("x", "g1", "y"))  # ... not as a relay
    assert not blame.usable(P("h", "i", "j"))  # and a cached path is not trusted any more
    blame.downstream_failed(P("g2", "c", "d"), T, guard_cleared=True)
    blame.built(P("g2", "e", "f"))
    assert blame.usable(P("g2", "e", "f"))  # a probe cleared g2
    assert not blame.usable(P("g3", T, "f"), avoid=T)  # never through the target


def test_rank_prefers_fewer_failures_and_shuns_swarm_members_last() -> None:
    blame = Blame(shun=frozenset({"m1"}))
    blame.downstream_failed(P("g1", "r1", "r2"), T, guard_cleared=True)
    blame.downstream_failed(P("g2", "r1", "r3"), T2, guard_cleared=True)
    assert blame.score["r1"] == 2
    order = sorted(["r1", "r2", "m1", "fresh"], key=blame.rank)  # (shunned, sick, score)
    assert order == ["fresh", "r2", "r1", "m1"]
    assert blame.clean(P("g9", "fresh", "x")) and not blame.clean(P("g9", "r2", "x"))


def test_a_node_that_failed_a_probe_ranks_last_and_takes_the_blame() -> None:
    blame = Blame()
    blame.probe_failed("junk")
    assert sorted(["junk", "r1"], key=blame.rank) == ["r1", "junk"]
    blame.downstream_failed(P("g1", "junk", "b"), T, guard_cleared=True)
    assert not blame.downstream_failed(P("g2", "c", "d"), T, guard_cleared=True)  # junk explains
    assert blame.score[T] == 2


# (502s as (path, named node), target, target to blame after the last, barred guards, suspects)
NAMED = [
    pytest.param(
        [(P("g1", "a", "b"), "a")], T, False, {"g1"}, {}, id="the guard named its next hop"
    ),
    pytest.param(
        [(P("g1", "a", "b"), "b")], T, False, set(), {"a": 1}, id="a relay named its next hop"
    ),
    pytest.param(
        [(P("g1", "a", "b"), T)], T, False, set(), {"b": 1}, id="named once, by the last relay"
    ),
    pytest.param(
        [(P("g1", "a", "b"), T), (P("g2", "c", "b"), T)],
        T,
        False,
        set(),
        {"b": 2},
        id="named twice by the same relay: that relay is the likelier liar",
    ),
    pytest.param(
        [(P("g1", "a", "b"), T), (P("g2", "c", "d"), T)],
        T,
        True,
        set(),
        {"b": 1, "d": 1},
        id="named by two different hops: the target is to blame",
    ),
    pytest.param(
        [(P("g1", "a", "b"), "z" * 64)], T, False, {"g1"}, {}, id="a stranger named: the guard"
    ),
    pytest.param(
        [(P("g1", "a", "b"), "b"), (P("g2", "c", "d"), "d")],
        "",
        False,
        set(),
        {"a": 1, "c": 1},
        id="on the way to a server",
    ),
]


@pytest.mark.parametrize(("reports", "target", "blamed", "barred", "suspects"), NAMED)
def test_named_table(reports, target, blamed, barred, suspects) -> None:
    blame = Blame()
    verdicts = [blame.named(path, named, target) for path, named in reports]
    assert verdicts[-1] is blamed and (not target or blame.to_blame(target) is blamed)
    assert blame.no_guard == barred
    assert {k: v for k, v in blame.score.items() if v} == suspects
    assert all(path in blame.spent for path, _ in reports)


# --- CallLog: 69 only when nothing ever answered ----------------------------------------------


@pytest.mark.parametrize(
    ("answered_here", "answered_before", "error"),
    [
        (False, False, NetworkUnavailable),
        (True, False, TemporaryFailure),
        (False, True, TemporaryFailure),
    ],
)
def test_call_log_exit_rule(answered_here, answered_before, error) -> None:
    log = CallLog()
    log.fail("guard 1.2.3.4: no answer within 2.0 s")
    log.fail("path via 1.2.3.5: HTTP 504", answered=answered_here)
    exc = log.error("store for 05ab…", network_answered=answered_before)
    assert type(exc) is error
    assert exc.message == "store for 05ab… failed: path via 1.2.3.5: HTTP 504"


def test_deadline_with_a_fake_clock() -> None:
    now = [100.0]
    d = Deadline(10, now=lambda: now[0])
    assert d.remaining() == 10 and d.cap(30) == 10 and d.cap(2) == 2
    sub = d.sub(4)
    now[0] = 105.0
    assert sub.expired() and not d.expired() and d.remaining() == 5
    now[0] = 110.0
    assert d.expired() and d.cap(5) == 0.05
    assert d.sub(4).expired()  # a sub-deadline never outlives its parent


@pytest.mark.parametrize(
    ("status", "text", "named"),
    [
        (502, "Next node not found: " + "ab" * 32, "ab" * 32),
        (502, "Next node is currently unreachable: " + "AB" * 32, "ab" * 32),
        (502, "Next node not found: nothex", None),
        (504, "Next node not found: " + "ab" * 32, None),
        (502, "Failed to reach 127.0.0.1:1", None),
    ],
)
def test_named_node(status, text, named) -> None:
    assert named_node(status, text) == named


# --- pick_hops: one node per /24 across paths, else within a path ------------------------------


def _n(i: int, subnet: int | None = None) -> Node:
    s = i if subnet is None else subnet
    return Node(f"10.0.{s}.{i % 250 + 1}", 1000 + i, f"{i:064x}", f"{i:064x}", 0)


def test_pick_hops_prefers_unused_subnets_then_falls_back_per_path() -> None:
    g = _n(0)
    ranked = [_n(1, subnet=9), _n(2), _n(3)]
    assert pick_hops(g, ranked, used_subnets={"10.0.9"}) == [g, _n(2), _n(3)]
    # only /24s that other paths use are left: the rule holds within this path only
    tight = [_n(4, subnet=7), _n(5, subnet=7), _n(6, subnet=8)]
    assert pick_hops(g, tight, used_subnets={"10.0.7", "10.0.8"}) == [g, _n(4, 7), _n(6, 8)]
    assert pick_hops(g, [_n(4, 7), _n(5, 7)], used_subnets=set()) is None
    assert pick_hops(g, ranked, used_subnets=set(), exclude={_n(2).pubkey_ed25519}) == [
        g,
        _n(1, 9),
        _n(3),
    ]


# --- pick_path: the path that last answered while its guard has room, else the least busy ------


def test_pick_path_keeps_the_last_path_until_its_guard_is_full() -> None:
    import random

    a, b = Path([_n(1), _n(2), _n(3)]), Path([_n(4), _n(5), _n(6)])
    rng = random.Random(7)
    assert pick_path([a, b], None, rng, capacity=4) in (a, b)  # first request: at random
    a.in_flight = 3
    assert pick_path([a, b], a, rng, capacity=4) is a  # one TLS session for the whole command
    a.in_flight = 4  # every kept connection of a's guard busy: b, not a fifth connection
    assert pick_path([a, b], a, rng, capacity=4) is b
    b.in_flight = 4
    a.in_flight = 5
    assert pick_path([a, b], a, rng, capacity=4) is b  # both full: the less busy one
    assert pick_path([a], a, rng, capacity=4) is a  # the only one left, however busy
    assert pick_path([b], a, rng, capacity=4) is b  # the last one is not usable here


# --- store holders: signed by each member, for the hash we computed ---------------------------


def _answer(data: bytes, sid: str, members: list[nacl.signing.SigningKey], forged: int) -> dict:
    h = rpc.message_hash(sid, 0, data)
    swarm = {}
    for i, key in enumerate(members):
        ed = key.verify_key.encode().hex()
        signer = members[0] if i == forged else key  # a junk node signing for another
        sig = base64.b64encode(signer.sign(h.encode()).signature).decode()
        swarm[ed] = {"hash": h, "signature": sig, "expiry": 1}
    return {"hash": h, "swarm": swarm}


def test_holders_need_their_own_signature_over_our_hash() -> None:
    keys = [nacl.signing.SigningKey.generate() for _ in range(4)]
    eds = [k.verify_key.encode().hex() for k in keys]
    sid = "05" + "cd" * 32
    result = rpc_answers.parse_store(_answer(b"hello", sid, keys, forged=2))
    expected = rpc.message_hash(sid, 0, b"hello")
    assert verified_holders(result, eds[0], expected, set(eds)) == [eds[0], eds[1], eds[3]]
    assert verified_holders(result, eds[0], expected, {eds[0]}) == [eds[0]]  # not in the swarm
    other = rpc.message_hash(sid, 0, b"something else")
    assert verified_holders(result, eds[0], other, set(eds)) == []
    alone = rpc_answers.parse_store({"hash": expected})
    assert verified_holders(alone, eds[1], expected, set(eds)) == [eds[1]]


# --- receive: rotation and blindness ----------------------------------------------------------


@pytest.mark.parametrize("size", [1, 3, 5, 7, 12])
def test_rotation_asks_every_member_within_five_polls(size: int) -> None:
    members = [f"m{i}" for i in range(size)]
    rotation = Rotation()
    last: dict[str, int] = dict.fromkeys(members, 0)  # the first poll asked everyone
    for poll in range(1, 40):
        asked = rotation.pick(members)
        assert len(asked) == -(-size // 5)  # ceil(size / 5): the cost of a poll stays small
        for m in asked:
            last[m] = poll
        assert all(poll - at < 5 for at in last.values()), (poll, last)


def test_follow_health_warns_once_after_three_failures_and_once_on_recovery() -> None:
    h = FollowHealth()
    assert [h.failed() for _ in range(5)] == [False, False, True, False, False]
    assert h.answered() is True and h.answered() is False
    assert [h.failed(), h.failed(), h.answered()] == [False, False, False]


# --- second chances for barred guards: (events, node, may guard again) -------------------------
# an event: ("guard", path) (no answer: barred) | ("named", path) (a 502 named a node: barred,
# the guard answered) | ("down", path) (a relayed 5xx or junk, guard not cleared) | ("probe", ed)
# (failed a direct probe) | ("again", ed) (probed again, answered)
SECOND_CHANCES = [
    pytest.param([], "g1", False, id="never barred: nothing to give back"),
    pytest.param([("named", P("g1", "a", "b"))], "g1", True, id="barred for a 502 it relayed"),
    pytest.param([("down", P("g1", "a", "b"))], "g1", True, id="barred for a relayed 504"),
    pytest.param(
        [("down", P("g1", "a", "b"))], "a", False, id="a relay of a failed path was not barred"
    ),
    pytest.param(
        [("named", P("g1", "a", "b")), ("probe", "g1")], "g1", False, id="failed a probe: sick"
    ),
    pytest.param(
        [("guard", P("g1", "a", "b")), ("sick", "g1")], "g1", False, id="silent as a guard: sick"
    ),
    pytest.param(
        [("named", P("g1", "a", "b")), ("again", "g1"), ("named", P("g1", "c", "d"))],
        "g1",
        False,
        id="one second chance per call: the culprit stays barred",
    ),
]


@pytest.mark.parametrize(("events", "node", "again"), SECOND_CHANCES)
def test_second_chance_table(events, node, again) -> None:
    blame = Blame()
    for ev in events:
        if ev[0] in ("guard", "named"):
            blame.guard_failed(ev[1])
        elif ev[0] == "down":
            blame.downstream_failed(ev[1], T)
        elif ev[0] in ("probe", "sick"):
            blame.probe_failed(ev[1])
        else:
            blame.guard_again(ev[1])
    assert blame.may_guard_again(node) is again


def test_a_guard_given_a_second_chance_may_carry_a_fresh_path() -> None:
    blame = Blame()
    blame.guard_failed(P("g1", "a", "b"))
    assert blame.may_guard_again("g1")
    blame.guard_again("g1")
    blame.built(P("g1", "c", "d"))
    assert blame.usable(P("g1", "c", "d"))
    assert not blame.usable(P("g1", "a", "b"))  # the failed path stays spent


def test_build_gives_barred_guards_a_second_chance_when_no_other_is_left(tmp_path) -> None:
    """Six nodes, every one barred as a guard by relayed failures in this call: a fresh path
    is still built (the call used to stop with "no guard node answered" here), on a guard
    that answered its probe again; a node that failed a probe gets no second chance."""
    import random

    from sessioncli.net.cache import NetCache
    from sessioncli.net.guards import Probe
    from sessioncli.net.paths import PathManager, PathSet
    from sessioncli.net.pool import NodePool

    nodes = [_n(i) for i in range(6)]
    pool = NodePool(NetCache(tmp_path, "test"))
    pool.replace(nodes, 0)
    eds = [n.pubkey_ed25519 for n in nodes]
    manager = PathManager(
        pool,
        PathSet(NetCache(tmp_path, "test")),
        prober=lambda node, _t: Probe("bad" if node.pubkey_ed25519 == eds[0] else "ok"),
        ensure_pool=lambda _d: None,
        learned=lambda _n, _p: None,
        rng=random.Random(1),
    )
    blame = Blame()
    for i in range(6):
        blame.downstream_failed(P(eds[i], eds[(i + 1) % 6], eds[(i + 2) % 6]), T)
    blame.probe_failed(eds[0])
    (fresh,) = manager.build(1, Deadline(5.0), blame)
    assert fresh.key[0] != eds[0] and fresh.key[0] in blame.second_chance
    assert blame.usable(fresh.key)


# --- Hedge: when a second path races an idempotent request ---------------------------------


@pytest.mark.parametrize(
    ("answers", "cap", "delay"),
    [
        pytest.param([], 6.0, 1.5, id="no answer yet: the first delay"),
        pytest.param([0.02, 0.04], 6.0, 0.5, id="quick answers: the floor"),
        pytest.param([0.02, 0.4], 6.0, pytest.approx(1.2), id="three times the slowest"),
        pytest.param([2.0], 6.0, 3.0, id="never later than half the attempt's cap"),
        pytest.param([5.0] + [0.1] * 8, 6.0, pytest.approx(0.5), id="only recent answers count"),
    ],
)
def test_hedge_delay(answers, cap, delay) -> None:
    hedge = Hedge(first=1.5, floor=0.5, factor=3.0, samples=8)
    for seconds in answers:
        hedge.observe(seconds)
    assert hedge.delay(cap) == delay


def test_a_busy_path_is_not_chosen_for_the_race() -> None:
    blame = Blame()
    assert blame.usable(P("g1", "a", "b"))
    blame.busy.add(P("g1", "a", "b"))
    assert not blame.usable(P("g1", "a", "b")) and blame.usable(P("g2", "c", "d"))
