"""Sentences of the mortality chapters that depend on the run's numbers (which model is better, whether
an interval excludes zero), built as strings and glued whole (`ehrlib.booktext.glue_values`), so the prose
never states a comparison the numbers do not show.
"""

from __future__ import annotations

from ehrlib.evaluation.bootstrap import Interval


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
