"""Network time: median of node offsets, per-node time for signing."""

from __future__ import annotations

from sessioncli.net.clock import NetworkClock


def test_median_ignores_one_skewed_node_and_node_time_is_its_own():
    now = [1000.0]
    c = NetworkClock(lambda: now[0])
    c.observe("a", 1_000_000 + 600_000)  # our clock is 10 min behind
    c.observe("b", 1_000_000 + 600_100)
    c.observe("c", 1_000_000 + 1_200_000)  # one node a further 10 min off
    assert abs(c.offset_ms() - 600_100) < 1
    assert c.now_for("c") == 1_000_000 + 1_200_000
    assert c.now_for("unknown") == c.now_ms()
    restored = NetworkClock(lambda: now[0])
    restored.load_json(c.to_json())
    assert restored.offset_ms() == c.offset_ms()
    restored.load_json({"offsets": {"x": ["bad", 1]}})
    assert restored.node_offset_ms("x") is None


def _saved(offset_ms: int, nodes: str, at: int) -> dict:
    return {"offsets": {n: [offset_ms, at] for n in nodes}}


def test_saved_offsets_are_dropped_once_a_fresh_sample_disagrees():
    now = [1000.0]
    c = NetworkClock(lambda: now[0])
    # saved while this computer's clock was 10 min behind; the user has fixed it since
    c.load_json(_saved(600_000, "abcde", 999_000))
    assert c.offset_ms() == 600_000
    c.observe("x", 1_000_000)  # a fresh sample: no offset at all
    assert c.offset_ms() == 600_000  # one node alone may be skewed: the saved offsets stay
    c.observe("y", 1_000_000)  # a second one agrees with it: most fresh samples disagree
    assert c.offset_ms() == 0 and c.now_for("a") == 1_000_000
    assert c.dirty and set(c.to_json()["offsets"]) == {"x", "y"}


def test_one_skewed_sample_does_not_drop_saved_offsets():
    now = [1000.0]
    c = NetworkClock(lambda: now[0])
    c.load_json(_saved(0, "abcde", 999_000))
    c.observe("x", 1_000_000 + 600_000)  # a node 10 min ahead
    c.observe("y", 1_000_000)  # agrees with the saved offsets
    c.observe("z", 1_000_000 - 600_000)  # another skewed one: still a minority
    assert c.offset_ms() == 0 and {"a", "b", "x"} <= set(c.to_json()["offsets"])


def test_saved_offsets_that_agree_are_kept():
    now = [1000.0]
    c = NetworkClock(lambda: now[0])
    c.load_json(_saved(600_000, "abcde", 999_000))
    c.observe("x", 1_000_000 + 601_000)  # within a few seconds of the saved median
    assert set(c.to_json()["offsets"]) == set("abcdex")
    # a node with a skew of its own that we saved before: its own offset is the reference
    c2 = NetworkClock(lambda: now[0])
    c2.load_json({"offsets": {**_saved(0, "abcd", 999_000)["offsets"], "e": [120_000, 999_000]}})
    c2.observe("e", 1_000_000 + 120_500)
    assert c2.offset_ms() == 0 and len(c2.to_json()["offsets"]) == 5


def test_a_node_that_refused_our_time_signs_for_itself_but_stays_out_of_the_median():
    now = [1000.0]
    c = NetworkClock(lambda: now[0])
    for n in "abc":
        c.observe(n, 1_000_000)
    for n in "wxyz":  # most of one swarm 10 min behind, met through 406s
        c.observe(n, 1_000_000 - 600_000, refused=True)
    assert c.offset_ms() == 0 and c.now_for("w") == 1_000_000 - 600_000
    c.observe("w", 1_000_000 - 600_000)  # a later normal answer does not bring it back in
    assert c.offset_ms() == 0
    restored = NetworkClock(lambda: now[0])
    restored.load_json(c.to_json())
    assert restored.offset_ms() == 0 and restored.now_for("x") == 1_000_000 - 600_000
    c.observe("x", 1_000_000)  # its clock was fixed: it counts again
    assert "x" not in c.to_json()["refused"]


def test_median_matches_the_standard_library():
    import random
    import statistics

    from sessioncli.net.clock import _median

    rng = random.Random(7)
    for n in range(1, 10):
        for _ in range(50):
            values = [rng.randint(-(10**9), 10**9) for _ in range(n)]
            assert _median(values) == statistics.median(values)
