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
