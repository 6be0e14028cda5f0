"""Discrimination and calibration-in-the-large within subgroups, with subject-bootstrap intervals.

For each attribute (e.g. age band, sex, admission type) and each of its levels, the test episodes of
that level are evaluated on their own: AUROC of the raw scores and calibration-in-the-large of the
calibrated probabilities, here the mean predicted risk minus the observed mortality (0 is ideal;
positive means the model over-predicts in that group). Intervals resample subjects within the group.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ehrlib.evaluation.bootstrap import Interval, group_codes, percentile_interval, grouped_bootstrap, weight_chunks
from ehrlib.records import Record

MIN_PER_CLASS = 5


@dataclass
class SubgroupRow(Record):
    """One model in one subgroup: size, deaths, AUROC (raw) and calibration-in-the-large (calibrated)."""

    model: str
    attribute: str
    level: str
    n: int
    deaths: int
    auroc: Interval | None
    citl: Interval


def citl_interval(y: np.ndarray, p: np.ndarray, groups: np.ndarray | None, n_boot: int, seed: int) -> Interval:
    """Mean predicted minus observed risk, with a percentile interval resampling `groups`."""
    y, p = np.asarray(y, dtype=np.float64), np.asarray(p, dtype=np.float64)
    reps = np.concatenate([(w @ (p - y)) / w.sum(axis=1)
                           for w in weight_chunks(group_codes(groups, y.size), n_boot, seed)])
    return percentile_interval(float(np.mean(p - y)), reps)


def age_band(age: np.ndarray) -> np.ndarray:
    """Age bands "<50", "50-64", "65-79", "80+" (years)."""
    edges, names = np.array([50, 65, 80]), np.array(["<50", "50-64", "65-79", "80+"])
    return names[np.searchsorted(edges, np.asarray(age, dtype=np.float64), side="right")]


def subgroup_rows(y: np.ndarray, raw: dict[str, np.ndarray], calibrated: dict[str, np.ndarray],
                  attributes: dict[str, np.ndarray], groups: np.ndarray, n_boot: int = 200, seed: int = 0
                  ) -> list[SubgroupRow]:
    """`SubgroupRow`s for every model x attribute x level; AUROC is None in a level with fewer than
    `MIN_PER_CLASS` deaths or survivors (too few to rank)."""
    y = np.asarray(y).astype(int)
    rows = []
    for attribute, values in attributes.items():
        values = np.asarray(values).astype(str)
        for level in sorted(np.unique(values)):
            sel = values == level
            ys, gs = y[sel], np.asarray(groups)[sel]
            enough = min(ys.sum(), (1 - ys).sum()) >= MIN_PER_CLASS
            for model in raw:
                auroc = (grouped_bootstrap(ys, raw[model][sel], groups=gs, n_boot=n_boot, seed=seed)["auroc"]
                         if enough else None)
                rows.append(SubgroupRow(model=model, attribute=attribute, level=str(level), n=int(sel.sum()),
                                        deaths=int(ys.sum()), auroc=auroc,
                                        citl=citl_interval(ys, calibrated[model][sel], gs, n_boot, seed)))
    return rows
