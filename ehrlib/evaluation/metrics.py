"""Point metrics for binary risk models (no resampling: intervals live in `bootstrap`).

Point metrics come from scikit-learn (`roc_auc_score`, `average_precision_score`,
`confusion_matrix`, `brier_score_loss`, ...). Definitions used throughout the book:

- threshold rule: predict positive when ``p >= threshold``;
- AUPRC is scikit-learn's average precision (step-wise, no interpolation);
- calibration bins (`reliability_bins`, the one binning used by ECE and the reliability diagram):
  10 equal-width bins on [0, 1], the last one closed; ECE is the sum over bins of (bin size / n) *
  |mean predicted probability - fraction of positives|.
- `LOWER_IS_BETTER` names the metrics (Brier, ECE, ICI) for which a smaller value is an improvement.
"""

from __future__ import annotations

import numpy as np
from sklearn import metrics as skm

LOWER_IS_BETTER = frozenset({"brier", "ece", "ici"})


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


def bin_index(p: np.ndarray, n_bins: int = 10) -> np.ndarray:
    """Calibration bin of each probability: ``min(floor(p * n_bins), n_bins - 1)`` (p = 1 in the last)."""
    p = np.asarray(p, dtype=np.float64)
    if ((p < 0) | (p > 1)).any():
        raise ValueError("calibration bins need probabilities in [0, 1]")
    return np.minimum((p * n_bins).astype(np.int64), n_bins - 1)


def reliability_bins(y: np.ndarray, p: np.ndarray, n_bins: int = 10) -> dict[str, np.ndarray]:
    """Per-bin mean predicted probability, fraction of positives and count (empty bins dropped)."""
    y, p = check_labels_scores(y, p)
    bins = bin_index(p, n_bins)
    count = np.bincount(bins, minlength=n_bins)
    keep = count > 0
    mean_p = np.bincount(bins, weights=p, minlength=n_bins)[keep] / count[keep]
    frac = np.bincount(bins, weights=y, minlength=n_bins)[keep] / count[keep]
    return {"mean_predicted": mean_p, "fraction_positive": frac, "count": count[keep],
            "bin_left": np.arange(n_bins)[keep] / n_bins}


def expected_calibration_error(y: np.ndarray, p: np.ndarray, n_bins: int = 10) -> float:
    """Expected calibration error over `reliability_bins`: sum of bin share times |mean p - fraction positive|."""
    b = reliability_bins(y, p, n_bins)
    gaps = b["count"] * np.abs(b["mean_predicted"] - b["fraction_positive"])
    return float(gaps.sum() / b["count"].sum())


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


def metric_value(entry: object) -> float:
    """The point value of a metric entry: a number, an object with `.value`, or a ``{"value": ...}`` dict.

    The one reader of metric values in the package (tables, figures and the report all use it).
    """
    if isinstance(entry, dict):
        return float(entry["value"])
    if hasattr(entry, "value"):
        return float(entry.value)  # type: ignore[union-attr]
    return float(entry)  # type: ignore[arg-type]


def relative_improvement(metric: str, model: float, reference: float) -> float:
    """Improvement (%) of `model` over `reference` on `metric`, positive when the model is better.

    For higher-is-better metrics that is ``100 * (model - reference) / |reference|``; for the
    lower-is-better ones (`LOWER_IS_BETTER`: Brier, ECE, ICI) the sign flips, so a lower Brier score
    shows as a positive improvement. NaN when the reference is 0.
    """
    if reference == 0:
        return float("nan")
    change = 100.0 * (model - reference) / abs(reference)
    return -change if metric in LOWER_IS_BETTER else change
