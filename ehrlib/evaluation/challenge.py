"""The PhysioNet/Computing in Cardiology Challenge 2012 scores (Silva et al. 2012).

- **Event 1** scores a binary prediction of in-hospital death by the smaller of its sensitivity and
  its positive predictive value: ``min(Se, +P)``, 0 (worst) to 1. Where nothing is predicted
  positive, +P is undefined and the score is 0.
- **Event 2** scores risk estimates by the organisers' normalised Hosmer-Lemeshow H statistic
  (their `lemeshow.m`, version 1.4): the stays are sorted by estimated risk (a stable sort, ties in
  file order), cut into D = 10 groups of M = floor(N / 10) stays (the last N - 10 M stays fall in no
  group), and ``H = sum_d (O_d - M c_d)^2 / (M c_d (1 - c_d) + 0.001) / (c_10 - c_1)``, where O_d is
  the number of deaths and c_d the mean estimated risk in group d. Lower is better; dividing by the
  range of the group risks penalises estimates that do not spread.

Both are tested against hand computations. Event 1's interval resamples the independent unit
(`groups`) with the same resamples as `bootstrap.replicate_metrics`.
"""

from __future__ import annotations

import numpy as np

from ehrlib.evaluation.bootstrap import Interval, percentile_interval, point_metrics, replicate_metrics
from ehrlib.evaluation.metrics import check_labels_scores

N_GROUPS = 10


def event1_score(y: np.ndarray, p: np.ndarray, threshold: float) -> float:
    """Challenge event 1: min(sensitivity, positive predictive value) of the rule p >= threshold."""
    m = point_metrics(y, p, threshold)
    return float(min(m["recall"], np.nan_to_num(m["precision"], nan=0.0)))


def hosmer_lemeshow_h(y: np.ndarray, p: np.ndarray, n_groups: int = N_GROUPS) -> float:
    """Challenge event 2: the normalised Hosmer-Lemeshow H statistic of risk estimates `p` (see module doc)."""
    y, p = check_labels_scores(y, p)
    m = y.size // n_groups
    if m == 0:
        raise ValueError(f"the H statistic needs at least {n_groups} stays, got {y.size}")
    order = np.argsort(p, kind="stable")[: m * n_groups].reshape(n_groups, m)
    observed = y[order].sum(axis=1).astype(np.float64)
    centroid = p[order].mean(axis=1)
    h = (observed - m * centroid) ** 2 / (m * centroid * (1 - centroid) + 0.001)
    spread = centroid[-1] - centroid[0]
    return float(h.sum() / spread) if spread > 0 else float("inf")


def challenge_scores(y: np.ndarray, p: np.ndarray, threshold: float, *, groups: np.ndarray | None = None,
                     n_boot: int = 1000, seed: int = 0) -> tuple[Interval, float]:
    """Event 1 at `threshold` with a percentile bootstrap interval that resamples `groups` (stays,
    when None), and event 2 of probabilities `p` as a point value: the H statistic of a bootstrap
    resample is biased upwards (duplicated stays add sampling noise to every group's count), so a
    percentile interval would not be centred on it."""
    y, p = check_labels_scores(y, p)
    reps = replicate_metrics(y, p, threshold=threshold, groups=groups, n_boot=n_boot, seed=seed)
    e1 = np.minimum(reps["recall"], np.nan_to_num(reps["precision"], nan=0.0))
    return percentile_interval(event1_score(y, p, threshold), e1), hosmer_lemeshow_h(y, p)
