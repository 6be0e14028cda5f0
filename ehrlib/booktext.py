"""The book's text from numbers: one convention for numbers and intervals, values glued into the prose, and
the chapters' timings.

Intervals read "0.812 (0.790 to 0.833)" (`interval`), signed where a difference ("+0.021 (-0.004 to
+0.046)"); a spread over runs reads "0.812 ± 0.011 (range 0.798 to 0.826)" (`spread`: mean ± SD, then the
range, named so that it is not read as an interval).
`glue_values` places computed values into the Markdown prose through myst-nb's `glue` (numbers as plain
Python numbers, so `{glue:text}` format specs such as ``:.3f`` work; everything else as text), and `timed`
measures a block of a chapter (`with timed(timings, "train"): ...`).
"""

from __future__ import annotations

import contextlib
import math
import numbers
import time
from dataclasses import dataclass, field
from typing import Any, Iterator, Protocol


class IntervalLike(Protocol):
    """Anything with a point value and the two ends of its interval (`evaluation.bootstrap.Interval`)."""

    value: float
    ci_low: float
    ci_high: float


class SpreadLike(Protocol):
    """Anything with the mean, standard deviation, minimum and maximum of a value over runs."""

    mean: float
    sd: float
    min: float
    max: float


def number(x: float, digits: int = 3, signed: bool = False) -> str:
    """`x` with `digits` decimals, with its sign ("+0.021", "-0.004") when `signed`."""
    return f"{x:{'+' if signed else ''}.{digits}f}"


def duration(seconds: float) -> str:
    """A run time as a reader says it: "under a second", "40 seconds" under two minutes, else "3.4 minutes"."""
    if seconds < 1:
        return "under a second"
    return f"{seconds:.0f} seconds" if seconds < 120 else f"{seconds / 60:.1f} minutes"


def interval(iv: IntervalLike | float, digits: int = 3, signed: bool = False) -> str:
    """"0.812 (0.790 to 0.833)" for an interval, signed for a difference; a bare number is written alone
    ("0.812"), and so is an interval whose ends are missing (None or NaN)."""
    if not hasattr(iv, "ci_low"):
        return number(float(iv), digits, signed)
    if iv.ci_low is None or iv.ci_high is None or math.isnan(iv.ci_low) or math.isnan(iv.ci_high):
        return number(iv.value, digits, signed)
    return (f"{number(iv.value, digits, signed)} ({number(iv.ci_low, digits, signed)} to "
            f"{number(iv.ci_high, digits, signed)})")


def spread(s: SpreadLike, digits: int = 3, signed: bool = False) -> str:
    """"0.812 ± 0.011 (range 0.798 to 0.826)": mean ± standard deviation, then the range over runs (named, so
    that it is not read as a confidence interval)."""
    return (f"{number(s.mean, digits, signed)} ± {number(s.sd, digits)} (range {number(s.min, digits, signed)} to "
            f"{number(s.max, digits, signed)})")


def plain(value: Any) -> Any:
    """A plain value for glue: Python int/float for numbers (numpy's too), str otherwise (booleans too)."""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    return str(value)


def glue_values(values: dict[str, Any], prefix: str = "") -> None:
    """Glue every value (not displayed) under ``prefix + name`` for the chapter's prose; returns nothing,
    so a cell ending with this call shows no output."""
    from myst_nb import glue  # the book's renderer; imported only when a chapter glues

    for name, v in values.items():
        glue(prefix + name, plain(v), display=False)


@dataclass
class Stopwatch:
    """A clock started when made: `elapsed` is the time since, `seconds` the wall time of a `timed` block
    (set when the block ends). `Stopwatch()` alone times a whole chapter across its cells."""

    started: float = field(default_factory=time.perf_counter)
    seconds: float = 0.0

    @property
    def elapsed(self) -> float:
        """Seconds since the clock started."""
        return time.perf_counter() - self.started


@contextlib.contextmanager
def timed(timings: dict[str, float] | None = None, name: str | None = None) -> Iterator[Stopwatch]:
    """Time the block: `with timed(timings, "train"):` stores its seconds as `timings["train"]`;
    `with timed() as clock:` gives them as `clock.seconds`. A block that raises records nothing."""
    if (timings is None) != (name is None):
        raise ValueError("timed() takes both a timings dict and a name, or neither")
    clock = Stopwatch()
    yield clock
    clock.seconds = clock.elapsed
    if timings is not None:
        timings[name] = clock.seconds


__all__ = ["IntervalLike", "SpreadLike", "Stopwatch", "duration", "glue_values", "interval", "number", "plain", "spread",
           "timed"]
