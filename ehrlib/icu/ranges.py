"""Plausible ranges of the known ICU variables, and the policy for values outside them.

Follows the MIMIC-III benchmark's `mimic3benchmark/resources/variable_ranges.csv` (Harutyunyan et al.
2019, github.com/YerevaNN/mimic3-benchmarks): a value outside a variable's OUTLIER bounds is an entry
error and is removed; a value outside its VALID bounds (but inside the outlier bounds) is clipped to the
valid bound. The bounds below are that file's columns OUTLIER LOW, VALID LOW, VALID HIGH and OUTLIER HIGH,
in the units of this project's files, with one exception marked below (weight).

Policies (`apply_range_policy`), never silent:
- "error": an impossible value, outside the OUTLIER bounds (or above a physical limit: saturation
  100 %, FiO2 1), raises `DataFormatError` naming the file, line, column and value. Used for this
  project's synthetic data, whose generator charts only possible values (some below the benchmark's
  VALID low bound, e.g. glucose 30 mg/dL or lactate 0.3 mmol/L, which real patients do reach).
- "clean": the benchmark's rule (remove outliers, clip to valid bounds); the counts per variable are
  kept in `EpisodeSet.cleaning` so a chapter can report them. Used for external data.
- "keep": values are read as they are (for inspecting raw files only).
Variables without known ranges (and the categorical Glasgow / capillary-refill columns, checked by
their own score ranges) are only required to be finite and representable as float32.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Mapping

import numpy as np

__all__ = ["POLICIES", "RangePolicy", "VARIABLE_RANGES", "VariableRange", "apply_range_policy", "cleaning_table"]

RangePolicy = Literal["error", "clean", "keep"]
POLICIES: tuple[str, ...] = ("error", "clean", "keep")


@dataclass(frozen=True)
class VariableRange:
    """Bounds of one variable: removed outside [outlier_low, outlier_high], clipped to [valid_low, valid_high]."""

    outlier_low: float
    valid_low: float
    valid_high: float
    outlier_high: float
    physical_high: float | None = None  # a hard limit below outlier_high (percentages, fractions)

    def __post_init__(self) -> None:
        if not self.outlier_low <= self.valid_low <= self.valid_high <= self.outlier_high:
            raise ValueError(f"bounds out of order: {self}")

    @property
    def possible(self) -> tuple[float, float]:
        """The bounds outside which a value is impossible (the "error" policy's bounds)."""
        high = self.outlier_high if self.physical_high is None else min(self.outlier_high, self.physical_high)
        return self.outlier_low, high


#: Known variables (this project's synthetic names and the real benchmark's spellings).
VARIABLE_RANGES: dict[str, VariableRange] = {
    "Heart Rate": VariableRange(0, 0, 350, 390),
    "Systolic blood pressure": VariableRange(0, 0, 375, 375),
    "Diastolic blood pressure": VariableRange(0, 0, 375, 375),
    "Mean blood pressure": VariableRange(0, 14, 330, 375),
    "Respiratory rate": VariableRange(0, 0, 300, 330),
    "Oxygen saturation": VariableRange(0, 0, 100, 150, physical_high=100),
    "Temperature": VariableRange(14.2, 26, 45, 47),
    "Fraction inspired oxygen": VariableRange(0.2, 0.21, 1, 1.1, physical_high=1),
    "pH": VariableRange(6.3, 6.3, 8.4, 10),
    "Glucose": VariableRange(0, 33, 2000, 2200),
    "Lactate": VariableRange(0, 0.4, 30, 33),
    "Creatinine": VariableRange(0, 0.1, 60, 66),
    "Potassium": VariableRange(0, 0, 12, 15),
    "Sodium": VariableRange(0, 50, 225, 250),
    "White blood cells": VariableRange(0, 0, 1000, 1100),
    "Hemoglobin": VariableRange(0, 0, 25, 30),
    "Bicarbonate": VariableRange(0, 0, 60, 66),
    "Blood urea nitrogen": VariableRange(0, 0, 250, 275),
    "Height": VariableRange(0, 0, 240, 275),  # cm
    "Weight": VariableRange(0, 0, 250, 300),  # kg; project's choice: the benchmark's outlier high is 250
}

_FLOAT32_MAX = float(np.finfo(np.float32).max)


def apply_range_policy(values: np.ndarray, variable: str, policy: RangePolicy) -> tuple[np.ndarray, dict[str, int], int]:
    """Apply `policy` to one variable's float64 values (NaN: not measured).

    Returns (values, counts, first_bad): the cleaned values, {"removed": n, "clipped": n} (zeros
    unless "clean"), and the index of the first impossible value under "error" (-1 if none: the
    caller raises, naming the file and line). Unknown variables pass unchanged.
    """
    counts = {"removed": 0, "clipped": 0}
    rng = VARIABLE_RANGES.get(variable)
    if rng is None or policy == "keep":
        return values, counts, -1
    if policy == "error":
        low, high = rng.possible
        bad = np.flatnonzero((values < low) | (values > high))
        return values, counts, int(bad[0]) if bad.size else -1
    if policy != "clean":
        raise ValueError(f"unknown range policy {policy!r}; expected one of {POLICIES}")
    outlier = (values < rng.outlier_low) | (values > rng.outlier_high)
    clip = ~outlier & ((values < rng.valid_low) | (values > rng.valid_high))
    counts = {"removed": int(outlier.sum()), "clipped": int(clip.sum())}
    if counts["removed"] or counts["clipped"]:
        values = np.where(outlier, np.nan, np.clip(values, rng.valid_low, rng.valid_high))
    return values, counts, -1


def too_large_for_float32(values: np.ndarray) -> np.ndarray | None:
    """Indices of finite values whose magnitude float32 cannot hold (they would become infinity), or
    None when there are none (the common case, checked without allocating an index array)."""
    if not (np.any(values > _FLOAT32_MAX) or np.any(values < -_FLOAT32_MAX)):
        return None
    return np.flatnonzero(np.abs(values) > _FLOAT32_MAX)


def cleaning_table(data: Mapping[str, Any]) -> "pd.DataFrame":
    """Per variable and split, how many charted values the "clean" policy removed and clipped, from the
    `cleaning` counts of each split's `EpisodeSet` (an empty table when nothing was changed): the
    table a chapter shows for external data."""
    import pandas as pd

    rows = [{"split": split, "variable": var, "removed": c.get("removed", 0), "clipped": c.get("clipped", 0)}
            for split, es in data.items() for var, c in sorted(es.cleaning.items())]
    return pd.DataFrame(rows, columns=["split", "variable", "removed", "clipped"])
