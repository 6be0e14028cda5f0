"""Evaluation metrics for binary risk models, with bootstrap confidence intervals.

Point metrics come from scikit-learn (`roc_auc_score`, `average_precision_score`,
`confusion_matrix`, `brier_score_loss`, ...). The bootstrap is vectorised: one index matrix of
shape (B, n) is drawn from a seeded generator, and AUROC and average precision are computed for all
B replicates at once from ranks and sorted cumulative counts (checked against scikit-learn in the
tests). The same index matrix is used for both models in a paired comparison, so the difference
between two models is measured on identical resamples of the test set.

Definitions used throughout:

- threshold rule: predict positive when ``p >= threshold``;
- AUPRC is scikit-learn's average precision (step-wise, no interpolation);
- ECE uses 10 equal-width bins on [0, 1] (the last bin closed), and is the sum over bins of
  (bin size / n) * |mean predicted probability - fraction of positives|.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import rankdata
from sklearn import metrics as skm


def check_labels_scores(y: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Validate a label vector and a score vector of the same length; return them as arrays."""
    y = np.asarray(y).astype(np.int64).ravel()
    p = np.asarray(p, dtype=np.float64).ravel()
    if y.shape != p.shape:
        raise ValueError(f"labels ({y.size}) and scores ({p.size}) differ in length")
    if not np.isin(y, (0, 1)).all():
        raise ValueError("labels must be 0 or 1")
    if not np.isfinite(p).all():
        raise ValueError(f"scores contain {int((~np.isfinite(p)).sum())} non-finite values")
    return y, p


def expected_calibration_error(y: np.ndarray, p: np.ndarray, n_bins: int = 10) -> float:
    """Expected calibration error with `n_bins` equal-width bins on [0, 1].

    Each prediction falls in bin ``min(floor(p * n_bins), n_bins - 1)`` (so p = 1 lands in the last
    bin); the ECE is the sum over non-empty bins of the bin's share of the predictions times the
    absolute gap between its mean predicted probability and its fraction of positives.
    """
    y, p = check_labels_scores(y, p)
    if ((p < 0) | (p > 1)).any():
        raise ValueError("ECE needs probabilities in [0, 1]")
    bins = np.minimum((p * n_bins).astype(np.int64), n_bins - 1)
    count = np.bincount(bins, minlength=n_bins)
    sum_p = np.bincount(bins, weights=p, minlength=n_bins)
    sum_y = np.bincount(bins, weights=y, minlength=n_bins)
    nonempty = count > 0
    gaps = np.abs(sum_p[nonempty] - sum_y[nonempty])  # = count * |mean p - frac pos|
    return float(gaps.sum() / y.size)


def threshold_metrics(y: np.ndarray, p: np.ndarray, threshold: float) -> dict[str, float | int]:
    """Confusion matrix and the metrics that depend on a decision threshold (p >= threshold).

    Returns tn, fp, fn, tp and recall (sensitivity), precision (PPV), specificity, F1 and accuracy,
    all computed by scikit-learn; precision is 0 when nothing is predicted positive.
    """
    y, p = check_labels_scores(y, p)
    pred = (p >= threshold).astype(np.int64)
    tn, fp, fn, tp = skm.confusion_matrix(y, pred, labels=[0, 1]).ravel()
    return {
        "threshold": float(threshold),
        "tn": int(tn), "fp": int(fp), "fn": int(fn), "tp": int(tp),
        "recall": float(skm.recall_score(y, pred, zero_division=0)),
        "precision": float(skm.precision_score(y, pred, zero_division=0)),
        "specificity": float(skm.recall_score(1 - y, 1 - pred, zero_division=0)),
        "f1": float(skm.f1_score(y, pred, zero_division=0)),
        "accuracy": float(skm.accuracy_score(y, pred)),
    }


def ranking_metrics(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    """AUROC and AUPRC (average precision) from scikit-learn."""
    y, p = check_labels_scores(y, p)
    return {"auroc": float(skm.roc_auc_score(y, p)), "auprc": float(skm.average_precision_score(y, p))}


def probability_metrics(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    """Brier score (scikit-learn) and 10-bin expected calibration error of probabilities."""
    y, p = check_labels_scores(y, p)
    return {"brier": float(skm.brier_score_loss(y, p)), "ece": expected_calibration_error(y, p)}


# ---------------------------------------------------------------- vectorised bootstrap


def bootstrap_indices(n: int, n_boot: int, seed: int) -> np.ndarray:
    """A (n_boot, n) matrix of resampling indices drawn with replacement from `default_rng(seed)`."""
    if n < 1 or n_boot < 1:
        raise ValueError(f"need n >= 1 and n_boot >= 1 (got n={n}, n_boot={n_boot})")
    return np.random.default_rng(seed).integers(0, n, size=(n_boot, n))


def auroc_rows(y: np.ndarray, p: np.ndarray) -> np.ndarray:
    """AUROC of every row of (B, n) label and score matrices (Mann-Whitney U from average ranks).

    Rows with a single class get NaN.
    """
    ranks = rankdata(p, axis=1)  # average ranks handle ties exactly like roc_auc_score
    n_pos = y.sum(axis=1)
    n_neg = y.shape[1] - n_pos
    u = (ranks * y).sum(axis=1) - n_pos * (n_pos + 1) / 2.0
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where((n_pos > 0) & (n_neg > 0), u / (n_pos * n_neg), np.nan)


def average_precision_rows(y: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Average precision of every row of (B, n) label and score matrices, as scikit-learn defines it.

    Rows are sorted by descending score; tied scores form one threshold, so each positive is
    credited with the precision at the end of its tie group: AP = mean over positives of that
    precision. Rows without positives get NaN.
    """
    order = np.argsort(-p, axis=1, kind="stable")
    ps = np.take_along_axis(p, order, axis=1)
    ys = np.take_along_axis(y, order, axis=1).astype(np.float64)
    n = p.shape[1]
    tp = np.cumsum(ys, axis=1)
    precision = tp / np.arange(1, n + 1)
    group_end = np.ones_like(ps, dtype=bool)
    group_end[:, :-1] = ps[:, :-1] != ps[:, 1:]
    end_idx = np.where(group_end, np.arange(n), n)
    end_idx = np.minimum.accumulate(end_idx[:, ::-1], axis=1)[:, ::-1]
    prec_at_end = np.take_along_axis(precision, end_idx, axis=1)
    n_pos = ys.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n_pos > 0, (ys * prec_at_end).sum(axis=1) / n_pos, np.nan)


def _chunks(n_boot: int, n: int, max_cells: int = 4_000_000) -> list[slice]:
    """Row slices of the bootstrap matrix that keep each chunk under `max_cells` values."""
    step = max(1, max_cells // max(n, 1))
    return [slice(i, min(i + step, n_boot)) for i in range(0, n_boot, step)]


def bootstrap_ranking(y: np.ndarray, p: np.ndarray, idx: np.ndarray) -> dict[str, np.ndarray]:
    """AUROC and AUPRC of each bootstrap replicate given by the index matrix `idx` (B, n)."""
    y, p = check_labels_scores(y, p)
    out = {"auroc": np.empty(idx.shape[0]), "auprc": np.empty(idx.shape[0])}
    for sl in _chunks(idx.shape[0], idx.shape[1]):
        yb, pb = y[idx[sl]], p[idx[sl]]
        out["auroc"][sl] = auroc_rows(yb, pb)
        out["auprc"][sl] = average_precision_rows(yb, pb)
    return out


@dataclass(frozen=True)
class Interval:
    """A point estimate with a percentile bootstrap interval."""

    value: float
    ci_low: float
    ci_high: float

    def as_dict(self) -> dict[str, float]:
        """Plain dict for JSON."""
        return {"value": self.value, "ci_low": self.ci_low, "ci_high": self.ci_high}


def _percentile_interval(value: float, reps: np.ndarray, level: float) -> Interval:
    lo, hi = np.nanpercentile(reps, [100 * (1 - level) / 2, 100 * (1 + level) / 2])
    return Interval(float(value), float(lo), float(hi))


def bootstrap_ci(y: np.ndarray, p: np.ndarray, n_boot: int = 1000, seed: int = 0,
                 level: float = 0.95) -> dict[str, Interval]:
    """AUROC and AUPRC with percentile bootstrap intervals (`n_boot` resamples of the cases)."""
    y, p = check_labels_scores(y, p)
    point = ranking_metrics(y, p)
    reps = bootstrap_ranking(y, p, bootstrap_indices(y.size, n_boot, seed))
    return {k: _percentile_interval(point[k], reps[k], level) for k in ("auroc", "auprc")}


def paired_bootstrap(y: np.ndarray, p_a: np.ndarray, p_b: np.ndarray, n_boot: int = 1000,
                     seed: int = 0, level: float = 0.95) -> dict[str, dict[str, float]]:
    """Paired bootstrap comparison of model A against model B on the same cases.

    Both models are scored on the same resamples; for AUROC and AUPRC this returns the point
    difference A - B, its percentile interval, and a two-sided bootstrap p-value (twice the smaller
    share of replicates on either side of zero, capped at 1).
    """
    y, p_a = check_labels_scores(y, p_a)
    _, p_b = check_labels_scores(y, p_b)
    idx = bootstrap_indices(y.size, n_boot, seed)
    ra, rb = bootstrap_ranking(y, p_a, idx), bootstrap_ranking(y, p_b, idx)
    pa, pb = ranking_metrics(y, p_a), ranking_metrics(y, p_b)
    out: dict[str, dict[str, float]] = {}
    for k in ("auroc", "auprc"):
        diff = ra[k] - rb[k]
        diff = diff[np.isfinite(diff)]
        iv = _percentile_interval(pa[k] - pb[k], diff, level)
        p_value = min(1.0, 2 * min((diff <= 0).mean(), (diff >= 0).mean()))
        out[k] = {"a": pa[k], "b": pb[k], **iv.as_dict(), "p_value": float(p_value), "n_boot": int(diff.size)}
    return out


def evaluate(y: np.ndarray, p: np.ndarray, threshold: float, n_boot: int = 1000, seed: int = 0,
             probabilities: bool = True) -> dict[str, object]:
    """Every test metric of one model: AUROC/AUPRC with 95 % bootstrap CIs, threshold metrics,
    confusion matrix, and (when `p` are probabilities) Brier score and ECE.

    The result is JSON-ready: ``{"auroc": {"value", "ci_low", "ci_high"}, "auprc": {...},
    "recall": ..., "precision": ..., "specificity": ..., "f1": ..., "accuracy": ..., "brier": ...,
    "ece": ..., "confusion_matrix": [[tn, fp], [fn, tp]], "n": ..., "prevalence": ...}``.
    """
    y, p = check_labels_scores(y, p)
    cis = bootstrap_ci(y, p, n_boot=n_boot, seed=seed)
    tm = threshold_metrics(y, p, threshold)
    out: dict[str, object] = {k: v.as_dict() for k, v in cis.items()}
    out.update({k: tm[k] for k in ("threshold", "recall", "precision", "specificity", "f1", "accuracy")})
    out["confusion_matrix"] = [[tm["tn"], tm["fp"]], [tm["fn"], tm["tp"]]]
    if probabilities:
        out.update(probability_metrics(y, p))
    out["n"] = int(y.size)
    out["prevalence"] = float(y.mean())
    out["n_boot"] = int(n_boot)
    return out


def metric_value(entry: object) -> float:
    """The point value of a metric entry that is either a number or a ``{"value": ...}`` dict."""
    if isinstance(entry, dict):
        return float(entry["value"])
    return float(entry)  # type: ignore[arg-type]

