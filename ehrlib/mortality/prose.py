"""Helpers that place computed values into the chapters' Markdown prose through myst-nb `glue`.

`glue_values(prefix, values)` glues each value under ``prefix + name`` without displaying it; numbers
are glued as plain Python floats/ints (so `{glue:text}` format specs such as ``:.3f`` work) and
everything else as text. Sentences that depend on the run's numbers (which model is better, whether
an interval excludes zero) are built here as strings and glued whole, so the prose never states a
comparison the numbers do not show.
"""

from __future__ import annotations

import numbers
from typing import Any

from ehrlib.evaluation.bootstrap import Interval


def plain(value: Any) -> Any:
    """A JSON-like plain value for glue: Python int/float for numbers, str otherwise."""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    return str(value)


def glue_values(values: dict[str, Any], prefix: str = "") -> None:
    """Glue every value (not displayed) under ``prefix + name``; returns nothing, so a cell ending
    with this call shows no output."""
    from myst_nb import glue

    for name, v in values.items():
        glue(prefix + name, plain(v), display=False)


def interval_text(iv: Interval, digits: int = 3, signed: bool = False) -> str:
    """'0.812 (95 % CI 0.790 to 0.833)'."""
    f = f"+.{digits}f" if signed else f".{digits}f"
    return f"{iv.value:{f}} (95 % CI {iv.ci_low:{f}} to {iv.ci_high:{f}})"


def difference_verdict(diff: Interval, a: str, b: str, what: str = "ranks patients") -> str:
    """A sentence on A minus B read from its interval: better, worse, or not resolved."""
    if diff.ci_low > 0:
        return f"the {a} {what} better than the {b}: the interval lies above zero"
    if diff.ci_high < 0:
        return f"the {b} {what} better than the {a}: the interval lies below zero"
    return f"the interval includes zero, so this test set cannot tell the {a} and the {b} apart"


def compare_word(x: float, y: float, lower: str = "below", higher: str = "above", same: str = "equal to") -> str:
    """'below', 'above' or 'equal to' for x against y."""
    return lower if x < y else higher if x > y else same
