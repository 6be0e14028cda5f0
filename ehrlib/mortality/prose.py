"""Sentences of the mortality chapters that depend on the run's numbers (which model is better, whether
an interval excludes zero), built as strings and glued whole (`ehrlib.booktext.glue_values`), so the prose
never states a comparison the numbers do not show.
"""

from __future__ import annotations

from ehrlib.evaluation.bootstrap import Interval


def difference_verdict(diff: Interval, a: str, b: str) -> str:
    """A sentence on A minus B (an AUROC difference) read from its interval: better, worse, or not resolved.
    Phrased so that a plural model name ("the trees") reads as well as a singular one."""
    if diff.ci_low > 0:
        return f"patients are ranked better with the {a} than with the {b}: the interval lies above zero"
    if diff.ci_high < 0:
        return f"patients are ranked better with the {b} than with the {a}: the interval lies below zero"
    return f"the interval includes zero, so this test set cannot tell the {a} and the {b} apart"


def and_list(items: list[str]) -> str:
    """"a", "a and b", "a, b and c"."""
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def model_word(name: str) -> str:
    """A model's display name as it reads inside a sentence: "gradient-boosted trees", but "LSTM + focal
    loss" and "NEWS2-style score" keep their capitals."""
    first = name.split()[0]
    return name if first.isupper() or any(ch.isdigit() for ch in first) else name[0].lower() + name[1:]


def compare_word(x: float, y: float, lower: str = "below", higher: str = "above", same: str = "equal to") -> str:
    """'below', 'above' or 'equal to' for x against y."""
    return lower if x < y else higher if x > y else same


def runs_verdict(diffs: list[Interval], what: str = "seeds") -> str:
    """How many paired intervals lie wholly below and above zero: 'below zero for 4 of 5 seeds, above for none'."""
    below = sum(d.ci_high < 0 for d in diffs)
    above = sum(d.ci_low > 0 for d in diffs)
    if below == above == 0:
        return f"no {what[:-1] if what.endswith('s') else what}'s paired 95 % interval excludes zero"
    word = lambda k: "none" if k == 0 else f"{k} of {len(diffs)} {what}"  # noqa: E731
    return f"the paired interval lies below zero for {word(below)} and above zero for {word(above)}"


def sign_verdict(values: list[float], what: str = "folds") -> str:
    """'negative in every fold', 'positive in every fold' or 'positive in 1 of 3 folds (negative in 2)'."""
    pos, neg, n = sum(v > 0 for v in values), sum(v < 0 for v in values), len(values)
    if n and pos == n:
        return f"positive in every one of the {n} {what}"
    if n and neg == n:
        return f"negative in every one of the {n} {what}"
    return f"positive in {pos} of the {n} {what} and negative in {neg}"
