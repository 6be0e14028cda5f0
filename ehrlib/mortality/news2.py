"""A NEWS2-style early-warning score (Royal College of Physicians 2017) from the hourly episodes.

Scored items: respiration rate, SpO2 (scale 1), systolic blood pressure, pulse and temperature
(Celsius, as in the benchmark files), with the NEWS2 bands in `NEWS2_TABLE`. Two items depend on
what the data chart:

- **consciousness (ACVPU)**: on data holding the Glasgow coma scale total (the real MIMIC-III
  benchmark), an hour whose carried-forward GCS is below 15 counts as "not alert" and scores 3;
  otherwise it scores 0 (alert). Sedated, intubated patients often chart GCS < 15, so this is an
  approximation.
- **supplemental oxygen**: on data holding the fraction of inspired oxygen (the real benchmark's
  17 variables), an hour whose carried-forward FiO2 exceeds 0.21 (room air) scores 2, as "oxygen"
  does in NEWS2 (values above 1 are read as percentages); otherwise it scores 0 (air).

A vital the data do not chart at all (SpO2 in the PhysioNet 2012 data) is not scored
(`news2_vitals`). Each hour every item carries its last observed value forward; an item not yet observed scores 0
(assumed normal). The hourly total is the sum of the items, and the episode's score is its worst
(maximum) hourly total over the last `window_hours` of the 48 h. The integer score ranks risk; the
evaluation protocol maps it to probabilities with a calibrator fitted on validation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ehrlib.evaluation.metrics import ranking_metrics
from ehrlib.icu.episodes import EpisodeSet
from ehrlib.records import Record
from ehrlib.mortality.hourly import forward_fill

# NEWS2 (RCP 2017) parameter tables: inclusive upper edges and the points of each band.
NEWS2_TABLE: dict[str, tuple[tuple[float, ...], tuple[int, ...]]] = {
    "Respiratory rate": ((8, 11, 20, 24), (3, 1, 0, 2, 3)),
    "Oxygen saturation": ((91, 93, 95), (3, 2, 1, 0)),
    "Systolic blood pressure": ((90, 100, 110, 219), (3, 2, 1, 0, 3)),
    "Heart Rate": ((40, 50, 90, 110, 130), (3, 1, 0, 1, 2, 3)),
    "Temperature": ((35.0, 36.0, 38.0, 39.0), (3, 1, 0, 1, 2)),
}

NEWS2_GCS_VARIABLE = "Glascow coma scale total"
NEWS2_GCS_POINTS = 3
NEWS2_FIO2_VARIABLE = "Fraction inspired oxygen"
NEWS2_OXYGEN_POINTS = 2
ROOM_AIR_FIO2 = 0.21


def news2_vitals(variables: Sequence[str], required: int = 4) -> list[str]:
    """The NEWS2 vitals the data chart, in `NEWS2_TABLE` order; fewer than `required` is an error.

    The PhysioNet 2012 data chart arterial SaO2 but no pulse oximetry, so there the score has no
    SpO2 item; an absent vital scores 0, like one not yet observed.
    """
    present = [v for v in NEWS2_TABLE if v in list(variables)]
    if len(present) < required:
        missing = [v for v in NEWS2_TABLE if v not in present]
        raise ValueError(f"NEWS2 needs at least {required} of its vitals; {missing} are absent from {list(variables)}")
    return present


def news2_uses_consciousness(variables: Sequence[str]) -> bool:
    """Whether `news2_hourly` scores consciousness for data with these variables (GCS total present)."""
    return NEWS2_GCS_VARIABLE in list(variables)


def news2_uses_oxygen(variables: Sequence[str]) -> bool:
    """Whether `news2_hourly` scores supplemental oxygen for data with these variables (FiO2 present)."""
    return NEWS2_FIO2_VARIABLE in list(variables)


def news2_component(variable: str, values: np.ndarray) -> np.ndarray:
    """NEWS2 points of one vital for an array of values; NaN (not yet observed) scores 0."""
    edges, points = NEWS2_TABLE[variable]
    v = np.asarray(values, dtype=np.float64)
    pts = np.asarray(points, dtype=np.int8)[np.searchsorted(np.asarray(edges, dtype=np.float64), v, side="left")]
    return np.where(np.isfinite(v), pts, 0).astype(np.int8)


def oxygen_points(fio2: np.ndarray) -> np.ndarray:
    """Supplemental-oxygen points: `NEWS2_OXYGEN_POINTS` where FiO2 exceeds room air (percent read as /100)."""
    f = np.asarray(fio2, dtype=np.float64)
    f = np.where(f > 1.0, f / 100.0, f)
    return np.where(np.isfinite(f) & (f > ROOM_AIR_FIO2 + 1e-9), NEWS2_OXYGEN_POINTS, 0).astype(np.int16)


def news2_hourly(episodes: EpisodeSet) -> np.ndarray:
    """Hourly NEWS2-style totals (n, steps) int: last observation carried forward, unseen items 0.

    Adds consciousness from GCS and supplemental oxygen from FiO2 when the data hold them.
    """
    variables = list(episodes.variables)
    vitals = news2_vitals(variables)
    extra = [v for v, used in ((NEWS2_GCS_VARIABLE, news2_uses_consciousness(variables)),
                               (NEWS2_FIO2_VARIABLE, news2_uses_oxygen(variables))) if used]
    names = vitals + extra
    cols = [variables.index(v) for v in names]
    filled = forward_fill(np.asarray(episodes.values)[:, :, cols], np.asarray(episodes.mask)[:, :, cols])
    total = np.zeros(filled.shape[:2], dtype=np.int16)
    for j, var in enumerate(vitals):
        total += news2_component(var, filled[:, :, j])
    for j, var in enumerate(extra, start=len(vitals)):
        if var == NEWS2_GCS_VARIABLE:
            gcs = filled[:, :, j]
            total += np.where(np.isfinite(gcs) & (gcs < 15), NEWS2_GCS_POINTS, 0).astype(np.int16)
        else:
            total += oxygen_points(filled[:, :, j])
    return total


def news2_score(episodes: EpisodeSet, window_hours: int = 48) -> np.ndarray:
    """Episode NEWS2-style score: the worst hourly total over the last `window_hours` steps (float64)."""
    hourly = news2_hourly(episodes)
    if not 1 <= window_hours <= hourly.shape[1]:
        raise ValueError(f"window_hours must be in 1..{hourly.shape[1]}, got {window_hours}")
    return hourly[:, -window_hours:].max(axis=1).astype(np.float64)


@dataclass
class News2Baseline(Record):
    """The NEWS2-style score as a risk ranking: its one fitted setting is the final window (hours),
    chosen on validation AUROC by `choose_window`. Saved and loaded as a validated JSON record."""

    window_hours: int = 48

    def validate(self) -> None:
        """The window is a positive number of hours."""
        if self.window_hours < 1:
            raise ValueError(f"window_hours must be >= 1, got {self.window_hours}")

    def score(self, episodes: EpisodeSet) -> np.ndarray:
        """The raw integer score (as float) of each episode."""
        return news2_score(episodes, self.window_hours)


def choose_window(val: EpisodeSet, windows: tuple[int, ...] = (12, 24, 48)) -> tuple[News2Baseline, dict[str, float]]:
    """The window with the best validation AUROC (ties: the shorter), and each window's validation AUROC."""
    auroc = {w: ranking_metrics(val.y, news2_score(val, w))["auroc"] for w in windows}
    best = max(windows, key=lambda w: (auroc[w], -w))
    return News2Baseline(window_hours=best), {str(w): v for w, v in auroc.items()}
