"""cli/_typer_plain: which values skip typer's pydantic adapter (they would come back unchanged)."""

from __future__ import annotations

from types import SimpleNamespace

from sessioncli.cli._typer_plain import _plain


def _info(low: float | None = None, high: float | None = None) -> SimpleNamespace:
    return SimpleNamespace(parser=None, min=low, max=high)


def test_numbers_within_their_bounds_are_plain() -> None:
    assert _plain(float, _info(0.2), 2.0) == (True, 2.0)  # receive --interval's default
    assert _plain(int, _info(1), 5) == (True, 5)
    assert _plain(int, _info(1, 5), 5) == (True, 5)
    assert _plain(int, _info(), -3) == (True, -3)


def test_out_of_range_or_other_types_go_to_the_adapter() -> None:
    assert _plain(float, _info(0.2), 0.1)[0] is False  # the adapter refuses it, with its message
    assert _plain(int, _info(1, 5), 6)[0] is False
    assert _plain(float, _info(), 2)[0] is False  # an int for a float: the adapter converts it
    assert _plain(int, _info(), True)[0] is False
    assert _plain(int, _info(), "5")[0] is False
    assert _plain(int, SimpleNamespace(parser=int, min=None, max=None), 5)[0] is False
