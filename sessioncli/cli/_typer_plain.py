"""Typer 0.29's value coercion without pydantic for values that are already of their plain type.

typer 0.29 checks every parameter value with a pydantic TypeAdapter that it builds on first use,
and building the first one imports pydantic: about two thirds of the time `send --help` or one
shell-completion request takes (docs/performance.md, "Start-up"). Almost every value sessioncli
processes is already what its annotation says: a `str` from argv or the environment, an `int` from
a counted flag, a list of `str` from a repeatable option, a number within its bounds. For exactly
those, the adapter returns the value unchanged (a list: an equal new list), so we return it
ourselves. Anything else (a number to parse from text, an out-of-range or custom-parsed value, a
file, a choice, a path) goes, unchanged, to the adapter typer would have built, on the first value
that needs it.

typer 0.26 to 0.28 coerce without pydantic and have no `typer.core.build_runtime_param`;
install() then leaves them alone.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, get_args, get_origin


def _plain(annotation: Any, info: Any, value: Any) -> tuple[bool, Any]:
    """(True, what the TypeAdapter would return) when that is the value itself, else (False, None)."""
    if getattr(info, "parser", None) is not None:
        return False, None
    if annotation is str and type(value) is str:
        return True, value
    if annotation in (int, float) and type(value) is annotation and _within(info, value):
        return True, value
    if (
        get_origin(annotation) is list
        and get_args(annotation) == (str,)
        and isinstance(value, list | tuple)
        and all(type(item) is str for item in value)
    ):
        return True, list(value)
    return False, None


def _within(info: Any, value: float) -> bool:
    """A number inside its min/max (click's range type has checked it; an in-range value is not
    clamped): the adapter returns it unchanged. Out of range, the adapter answers (and refuses).
    (`receive`'s defaults, `--interval 2.0` with min=0.2, used to import pydantic on every run.)"""
    low, high = getattr(info, "min", None), getattr(info, "max", None)
    return (low is None or value >= low) and (high is None or value <= high)


def install() -> None:
    """Route plain values around pydantic in typer >= 0.29; a no-op on older typer."""
    try:
        from typer import _coercion, core
    except ImportError:  # typer < 0.29: no pydantic to avoid
        return
    found = getattr(core, "build_runtime_param", None)
    if found is None or getattr(found, "sessioncli_plain", False):
        return
    build_original: Callable[[Any], Any] = found

    class PlainFirst(_coercion.RuntimeParam):
        """Answers plain values itself; builds typer's own coercion for the rest, once."""

        _descriptor: Any
        _full: Any

        def __init__(self, descriptor: Any) -> None:
            super().__init__(
                parameter_info=descriptor.parameter_info, annotation=descriptor.annotation
            )
            object.__setattr__(self, "_descriptor", descriptor)
            object.__setattr__(self, "_full", None)

        def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
            handled, result = _plain(self.annotation, self.parameter_info, value)
            if handled:
                return result
            full = self._full
            if full is None:
                full = build_original(self._descriptor)
                object.__setattr__(self, "_full", full)
            return full._coerce_value(value, param=param, ctx=ctx)

    def build(descriptor: Any) -> Any:
        if descriptor.file_annotation is not None:
            return build_original(descriptor)  # opens files: typer's own path, no pydantic
        return PlainFirst(descriptor)

    build.sessioncli_plain = True  # type: ignore[attr-defined]
    setattr(core, "build_runtime_param", build)  # noqa: B010 (not re-exported by typer.core)
