"""Settings shared by the fuzz properties: CI example counts, scaled up by scripts/fuzz.py."""

from __future__ import annotations

import os
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

# CI runs each property with its own modest count; `python scripts/fuzz.py --examples N` sets
# SESSIONCLI_FUZZ_EXAMPLES=N and every property runs N examples instead.
ENV = "SESSIONCLI_FUZZ_EXAMPLES"

settings.register_profile(
    "sessioncli-fuzz",
    deadline=None,
    print_blob=True,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.filter_too_much,
        HealthCheck.function_scoped_fixture,
    ],
)


def fuzz(ci_examples: int) -> settings:
    """@fuzz(500): deadline-free settings with `ci_examples` (or $SESSIONCLI_FUZZ_EXAMPLES)."""
    override = os.environ.get(ENV)
    n = int(override) if override else ci_examples
    return settings(settings.get_profile("sessioncli-fuzz"), max_examples=n, deadline=None)


def json_values(max_leaves: int = 12) -> st.SearchStrategy[Any]:
    """Any JSON value: wrong types, huge and negative numbers, odd strings, nesting."""
    scalars = (
        st.none()
        | st.booleans()
        | st.integers()
        | st.integers(min_value=2**63 - 2, max_value=2**70)
        | st.integers(min_value=-(2**70), max_value=-1)
        | st.floats(allow_nan=True, allow_infinity=True)
        | st.text(max_size=80)
        | st.sampled_from(["", "0", "-1", "1e999", "²", "٣", "0.0.0.0", "127.0.0.1", "a" * 64])
    )
    return st.recursive(
        scalars,
        lambda inner: (
            st.lists(inner, max_size=6) | st.dictionaries(st.text(max_size=20), inner, max_size=6)
        ),
        max_leaves=max_leaves,
    )


def deep(depth: int, leaf: Any = 0) -> Any:
    """A JSON value nested `depth` levels (lists and objects alternating)."""
    value = leaf
    for i in range(depth):
        value = [value] if i % 2 else {"a": value}
    return value


def deep_text(depth: int) -> str:
    """Nested JSON text too deep for a recursive parser (never built as Python objects)."""
    return "[" * depth + "]" * depth
