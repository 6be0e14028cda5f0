"""Bootstrap intervals that resample the independent unit: a patient, or a matched case set.

When one unit contributes several samples (several ICU episodes of one subject; every history prefix
of a stroke patient; a case with its two controls), resampling single samples treats correlated
rows as independent and makes intervals too narrow. Here each replicate draws the *groups* with
replacement and a sample's weight is the number of times its group was drawn, which is exactly the
expanded resample, without building it: metrics are computed from the weights.

Vectorised: the scores are sorted once (they are the same in every replicate), ties are collapsed
to one threshold per distinct score, and AUROC, average precision and the confusion counts at a
fixed threshold are weighted sums over that order, for a chunk of replicates at a time. With
`groups=None` every sample is its own group (the ordinary bootstrap). Definitions follow
scikit-learn (`roc_auc_score` with ties counted one half; `average_precision_score`), which the
tests check on explicitly expanded resamples.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Iterator

import numpy as np

from ehrlib.evaluation.metrics import bin_index, check_labels_scores
from ehrlib.records import Record

RANKING = ("auroc", "auprc")
AT_THRESHOLD = ("recall", "precision", "specificity", "f1", "accuracy")


@dataclass(frozen=True)
class Interval(Record):
    """A point estimate with a percentile bootstrap interval (a typed JSON record). An interval that could not
    be computed (no resamples, or none finite) has NaN ends, written as null and read back as NaN."""

    value: float
    ci_low: float | None
    ci_high: float | None

    def __post_init__(self) -> None:
        for name in ("ci_low", "ci_high"):
            if getattr(self, name) is None:
                object.__setattr__(self, name, float("nan"))

    def validate(self) -> None:
        """The interval's ends are ordered."""
        if self.ci_low > self.ci_high:
            raise ValueError(f"ci_low {self.ci_low} exceeds ci_high {self.ci_high}")

    def excludes(self, x: float = 0.0) -> bool:
        """Whether the interval lies entirely above or below `x`."""
        return self.ci_low > x or self.ci_high < x

    def as_dict(self) -> dict[str, float]:
        """Plain dict for JSON."""
        return {"value": self.value, "ci_low": self.ci_low, "ci_high": self.ci_high}


@dataclass(frozen=True)
class Spread(Record):
    """Mean, sample standard deviation (ddof 1; 0 for one run), minimum and maximum of one metric over runs
    or seeds (a typed JSON record): how much a result moves with the draw of a training."""

    mean: float
    sd: float
    min: float
    max: float
    n: int

    @classmethod
    def of(cls, values: list[float]) -> "Spread":
        """The spread of `values`."""
        v = np.asarray(values, dtype=np.float64)
        return cls(mean=float(v.mean()), sd=float(v.std(ddof=1)) if v.size > 1 else 0.0,
                   min=float(v.min()), max=float(v.max()), n=int(v.size))


def group_codes(groups: np.ndarray | None, n: int) -> np.ndarray:
    """Dense 0..G-1 codes of the resampling unit of each of `n` samples (each its own if None)."""
    if groups is None:
        return np.arange(n)
    groups = np.asarray(groups)
    if groups.shape != (n,):
        raise ValueError(f"groups has shape {groups.shape}, expected ({n},)")
    return np.unique(groups, return_inverse=True)[1].reshape(-1)


MEMO_CELLS = 8_000_000  # resamples of at most this many weights (64 MB) are kept for the next call


def weight_chunks(codes: np.ndarray, n_boot: int, seed: int, max_cells: int = 4_000_000
                  ) -> Iterator[np.ndarray]:
    """Replicate weights (read-only chunks of a (n_boot, n) matrix): each row draws the G groups with
    replacement from `default_rng(seed)`; a sample's weight is how often its group was drawn.

    Drawing them is the slow part of a bootstrap on a few thousand stays, and a study evaluates many
    models and runs on the same stays with the same seed, so the last few matrices of up to `MEMO_CELLS`
    weights are remembered (`_drawn_chunks`, a cache of a pure function: same codes, count and seed, same
    weights, whether drawn or remembered)."""
    if n_boot < 1:
        raise ValueError(f"n_boot must be >= 1 (got {n_boot})")
    codes = np.asarray(codes, dtype=np.int64)
    if codes.size == 0 or int(codes.max()) < 0:
        raise ValueError("cannot bootstrap zero samples")
    if n_boot * codes.size <= MEMO_CELLS:
        yield from _drawn_chunks(codes.tobytes(), n_boot, seed, max_cells)
    else:
        yield from _draw_chunks(codes, n_boot, seed, max_cells)


def _draw_chunks(codes: np.ndarray, n_boot: int, seed: int, max_cells: int) -> Iterator[np.ndarray]:
    """Draw the replicate weights of `weight_chunks`, a chunk of at most `max_cells` at a time."""
    n_groups = int(codes.max()) + 1
    rng = np.random.default_rng(seed)
    step = max(1, max_cells // max(codes.size, 1))
    for start in range(0, n_boot, step):
        rows = min(step, n_boot - start)
        counts = rng.multinomial(n_groups, np.full(n_groups, 1.0 / n_groups), size=rows)
        chunk = counts[:, codes].astype(np.float64)
        chunk.setflags(write=False)
        yield chunk


@functools.lru_cache(maxsize=4)
def _drawn_chunks(codes: bytes, n_boot: int, seed: int, max_cells: int) -> tuple[np.ndarray, ...]:
    """`_draw_chunks` for codes given as bytes, remembered for the next call with the same arguments."""
    return tuple(_draw_chunks(np.frombuffer(codes, dtype=np.int64), n_boot, seed, max_cells))


class _Order:
    """The samples sorted by score once, with the boundaries of equal-score runs (thresholds)."""

    def __init__(self, y: np.ndarray, p: np.ndarray) -> None:
        self.order = np.argsort(p, kind="stable")
        ps = p[self.order]
        self.starts = np.flatnonzero(np.r_[True, ps[1:] != ps[:-1]])
        self.pos = y[self.order].astype(bool)

    def per_score(self, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Positive and negative weight at each distinct score (ascending), for each replicate row."""
        ws = w[:, self.order]
        wpos = np.add.reduceat(np.where(self.pos, ws, 0.0), self.starts, axis=1)
        wneg = np.add.reduceat(np.where(self.pos, 0.0, ws), self.starts, axis=1)
        return wpos, wneg


def _ranking_rows(order: _Order, w: np.ndarray) -> dict[str, np.ndarray]:
    """Weighted AUROC (ties count one half) and average precision for each replicate row."""
    wpos, wneg = order.per_score(w)
    n_pos, n_neg = wpos.sum(axis=1), wneg.sum(axis=1)
    below = np.cumsum(wneg, axis=1) - wneg
    tp = np.cumsum(wpos[:, ::-1], axis=1)[:, ::-1]  # predicted positive at threshold = this score
    fp = np.cumsum(wneg[:, ::-1], axis=1)[:, ::-1]
    with np.errstate(invalid="ignore", divide="ignore"):
        auroc = (wpos * (below + 0.5 * wneg)).sum(axis=1) / (n_pos * n_neg)
        precision = np.where(tp + fp > 0, tp / (tp + fp), 0.0)
        auprc = (wpos * precision).sum(axis=1) / n_pos
    ok = (n_pos > 0) & (n_neg > 0)
    return {"auroc": np.where(ok, auroc, np.nan), "auprc": np.where(n_pos > 0, auprc, np.nan)}


def _threshold_rows(y: np.ndarray, p: np.ndarray, threshold: float, w: np.ndarray) -> dict[str, np.ndarray]:
    """Weighted recall, precision, specificity, F1 and accuracy at `p >= threshold`, per row."""
    pred, pos = p >= threshold, y.astype(bool)
    tp, fp = w @ (pred & pos), w @ (pred & ~pos)
    fn, tn = w @ (~pred & pos), w @ (~pred & ~pos)
    with np.errstate(invalid="ignore", divide="ignore"):
        recall = np.where(tp + fn > 0, tp / (tp + fn), np.nan)
        precision = np.where(tp + fp > 0, tp / (tp + fp), 0.0)
        specificity = np.where(tn + fp > 0, tn / (tn + fp), np.nan)
        f1 = np.where(2 * tp + fp + fn > 0, 2 * tp / (2 * tp + fp + fn), 0.0)
    return {"recall": recall, "precision": precision, "specificity": specificity, "f1": f1,
            "accuracy": (tp + tn) / w.sum(axis=1)}


def replicate_metrics(y: np.ndarray, p: np.ndarray, *, threshold: float | None = None,
                      groups: np.ndarray | None = None, n_boot: int = 1000, seed: int = 0
                      ) -> dict[str, np.ndarray]:
    """Each bootstrap replicate's AUROC and AUPRC (and, given a threshold, the metrics at it),
    resampling `groups` (the independent unit) with replacement; NaN where a replicate lacks a class."""
    y, p = check_labels_scores(y, p)
    order, codes = _Order(y, p), group_codes(groups, y.size)
    parts: list[dict[str, np.ndarray]] = []
    for w in weight_chunks(codes, n_boot, seed):
        rows = _ranking_rows(order, w)
        if threshold is not None:
            rows.update(_threshold_rows(y, p, threshold, w))
        parts.append(rows)
    return {k: np.concatenate([part[k] for part in parts]) for k in parts[0]}


def percentile_interval(value: float, reps: np.ndarray, level: float = 0.95) -> Interval:
    """`value` with the percentile interval of the finite replicates `reps`."""
    reps = reps[np.isfinite(reps)]
    if reps.size == 0:
        return Interval(float(value), float("nan"), float("nan"))
    lo, hi = np.percentile(reps, [100 * (1 - level) / 2, 100 * (1 + level) / 2])
    return Interval(float(value), float(lo), float(hi))


def point_metrics(y: np.ndarray, p: np.ndarray, threshold: float | None = None) -> dict[str, float]:
    """The same metrics on the sample itself (every weight 1)."""
    y, p = check_labels_scores(y, p)
    w = np.ones((1, y.size))
    rows = _ranking_rows(_Order(y, p), w)
    if threshold is not None:
        rows.update(_threshold_rows(y, p, threshold, w))
    return {k: float(v[0]) for k, v in rows.items()}


def grouped_bootstrap(y: np.ndarray, p: np.ndarray, *, threshold: float | None = None,
                      groups: np.ndarray | None = None, n_boot: int = 1000, seed: int = 0,
                      level: float = 0.95) -> dict[str, Interval]:
    """AUROC, AUPRC (and the metrics at `threshold`) with percentile intervals from a bootstrap
    that resamples `groups`: subjects for ICU episodes, matched case sets for the stroke cohort."""
    point = point_metrics(y, p, threshold)
    reps = replicate_metrics(y, p, threshold=threshold, groups=groups, n_boot=n_boot, seed=seed)
    return {k: percentile_interval(point[k], reps[k], level) for k in point}


def grouped_paired_bootstrap(y: np.ndarray, p_a: np.ndarray, p_b: np.ndarray, *,
                             groups: np.ndarray | None = None, n_boot: int = 1000, seed: int = 0,
                             level: float = 0.95, reps_b: dict[str, np.ndarray] | None = None
                             ) -> dict[str, dict[str, float]]:
    """Model A minus model B on the same resamples of `groups`: for AUROC and AUPRC the point
    difference, its percentile interval and a two-sided bootstrap p-value (twice the smaller share
    of replicates on either side of zero, capped at 1). `reps_b`, B's `replicate_metrics` for the
    same `groups`, `n_boot` and `seed`, saves recomputing them when B is paired with many models."""
    ra = replicate_metrics(y, p_a, groups=groups, n_boot=n_boot, seed=seed)
    rb = reps_b if reps_b is not None else replicate_metrics(y, p_b, groups=groups, n_boot=n_boot, seed=seed)
    pa, pb = point_metrics(y, p_a), point_metrics(y, p_b)
    out: dict[str, dict[str, float]] = {}
    for k in RANKING:
        diff = ra[k] - rb[k]
        diff = diff[np.isfinite(diff)]
        iv = percentile_interval(pa[k] - pb[k], diff, level)
        p_value = min(1.0, 2 * min((diff <= 0).mean(), (diff >= 0).mean())) if diff.size else float("nan")
        out[k] = {"a": pa[k], "b": pb[k], **iv.as_dict(), "p_value": float(p_value), "n_boot": int(diff.size)}
    return out


def _calibration_rows(y: np.ndarray, p: np.ndarray, bins: np.ndarray, n_bins: int, w: np.ndarray
                      ) -> dict[str, np.ndarray]:
    """Weighted 10-bin ECE and Brier score for each replicate row of weights `w`."""
    onehot = np.zeros((y.size, n_bins))
    onehot[np.arange(y.size), bins] = 1.0
    count, sum_p, sum_y = w @ onehot, w @ (onehot * p[:, None]), w @ (onehot * y[:, None])
    total = w.sum(axis=1)
    return {"ece": np.abs(sum_p - sum_y).sum(axis=1) / total, "brier": w @ (p - y) ** 2 / total}


def replicate_calibration(y: np.ndarray, p: np.ndarray, *, groups: np.ndarray | None = None,
                          n_boot: int = 1000, seed: int = 0, n_bins: int = 10) -> dict[str, np.ndarray]:
    """Each replicate's ECE (the `metrics.reliability_bins` binning) and Brier score, resampling
    `groups`; for the same `groups`, `n_boot` and `seed` the resamples are those of `replicate_metrics`."""
    y, p = check_labels_scores(y, p)
    bins, codes = bin_index(p, n_bins), group_codes(groups, y.size)
    parts = [_calibration_rows(y.astype(np.float64), p, bins, n_bins, w) for w in weight_chunks(codes, n_boot, seed)]
    return {k: np.concatenate([part[k] for part in parts]) for k in parts[0]}


def calibration_intervals(y: np.ndarray, p: np.ndarray, *, groups: np.ndarray | None = None,
                          n_boot: int = 1000, seed: int = 0, level: float = 0.95) -> dict[str, Interval]:
    """ECE and Brier score of probabilities `p` with percentile intervals from the grouped bootstrap."""
    y, p = check_labels_scores(y, p)
    w = np.ones((1, y.size))
    point = _calibration_rows(y.astype(np.float64), p, bin_index(p), 10, w)
    reps = replicate_calibration(y, p, groups=groups, n_boot=n_boot, seed=seed)
    return {k: percentile_interval(float(point[k][0]), reps[k], level) for k in ("ece", "brier")}
