"""Decision thresholds, chosen on validation only, and the decision curve.

- `select_f1_threshold` picks the threshold that maximises F1 and `threshold_for_sensitivity` the
  highest threshold that still reaches a target recall; both take only validation labels and scores.
- `threshold_curve` gives the threshold metrics over a grid of thresholds (vectorised).
- `net_benefit` and `decision_curve` (Vickers and Elkin 2006): at threshold probability t, treating
  the patients with p >= t has net benefit TP / n - FP / n * t / (1 - t); treating everyone has
  prevalence - (1 - prevalence) * t / (1 - t), treating no one 0. `net_benefit_interval` gives the
  net benefit at one threshold with bootstrap intervals, paired against treating everyone.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn import metrics as skm

from ehrlib.evaluation.bootstrap import Interval, group_codes, percentile_interval, weight_chunks
from ehrlib.evaluation.metrics import check_labels_scores
from ehrlib.records import Record



def select_f1_threshold(y_val: np.ndarray, p_val: np.ndarray) -> dict[str, float]:
    """The threshold (rule p >= t) that maximises F1 on the validation labels and scores.

    Candidates are the distinct scores (scikit-learn's `precision_recall_curve`); ties in F1 go to
    the lowest such threshold. Returns the threshold with the validation F1, precision and recall.
    """
    y, p = check_labels_scores(y_val, p_val)
    precision, recall, thresholds = skm.precision_recall_curve(y, p)
    precision, recall = precision[:-1], recall[:-1]  # the last point (recall 0) has no threshold
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros_like(denom), where=denom > 0)
    best = int(np.argmax(f1))
    return {"threshold": float(thresholds[best]), "f1": float(f1[best]),
            "precision": float(precision[best]), "recall": float(recall[best])}


def threshold_for_sensitivity(y_val: np.ndarray, p_val: np.ndarray, target: float = 0.9) -> dict[str, float]:
    """The highest threshold (rule p >= t) whose validation sensitivity is at least `target`.

    Uses scikit-learn's `roc_curve` (all distinct scores as candidates). Returns the threshold with
    the validation sensitivity and specificity it gives.
    """
    if not 0 < target <= 1:
        raise ValueError(f"target sensitivity must be in (0, 1], got {target}")
    y, p = check_labels_scores(y_val, p_val)
    fpr, tpr, thresholds = skm.roc_curve(y, p, drop_intermediate=False)
    ok = np.flatnonzero((tpr >= target) & np.isfinite(thresholds))
    i = int(ok[0])  # thresholds decrease along the curve: the first that reaches the target is highest
    return {"threshold": float(thresholds[i]), "sensitivity": float(tpr[i]),
            "specificity": float(1 - fpr[i]), "target": float(target)}


def threshold_curve(y: np.ndarray, p: np.ndarray, thresholds: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Recall, precision, specificity, F1 and accuracy at each threshold (vectorised).

    Default thresholds: 101 values from 0 to 1. Precision is 0 where nothing is predicted positive.
    """
    y, p = check_labels_scores(y, p)
    t = np.linspace(0, 1, 101) if thresholds is None else np.asarray(thresholds, dtype=np.float64)
    pred = p[None, :] >= t[:, None]
    pos = y.astype(bool)[None, :]
    tp = (pred & pos).sum(1)
    fp = (pred & ~pos).sum(1)
    fn = (~pred & pos).sum(1)
    tn = (~pred & ~pos).sum(1)
    safe = lambda a, b: np.divide(a, b, out=np.zeros(a.shape, dtype=np.float64), where=b > 0)  # noqa: E731
    precision, recall = safe(tp, tp + fp), safe(tp, tp + fn)
    return {"threshold": t, "recall": recall, "precision": precision, "specificity": safe(tn, tn + fp),
            "f1": safe(2 * precision * recall, precision + recall), "accuracy": (tp + tn) / y.size}


@dataclass(frozen=True)
class ThresholdChoice(Record):
    """The decision threshold chosen on validation, with the alternative operating point.

    Saved and loaded as JSON through `Record` (`to_dict`/`from_dict`/`save`/`load`), checked on
    load: thresholds and F1 in [0, 1], a sensitivity target in (0, 1], a positive validation size.
    """

    threshold: float
    criterion: str
    validation_f1: float
    sensitivity_target: float
    sensitivity_threshold: float
    n_validation: int

    def validate(self) -> None:
        for name in ("threshold", "validation_f1", "sensitivity_threshold"):
            v = getattr(self, name)
            if not 0.0 <= v <= 1.0:
                raise ValueError(f"{name} {v!r} is outside [0, 1]")
        if not 0.0 < self.sensitivity_target <= 1.0:
            raise ValueError(f"sensitivity_target {self.sensitivity_target!r} is outside (0, 1]")
        if self.n_validation < 1:
            raise ValueError(f"n_validation must be positive, got {self.n_validation}")
        if not self.criterion.strip():
            raise ValueError("criterion is empty")



def choose_thresholds(y_val: np.ndarray, p_val: np.ndarray, sensitivity: float = 0.9) -> ThresholdChoice:
    """F1-optimal threshold and the `sensitivity` operating point, both from validation data only."""
    f1 = select_f1_threshold(y_val, p_val)
    sens = threshold_for_sensitivity(y_val, p_val, sensitivity)
    return ThresholdChoice(threshold=f1["threshold"], criterion="max F1 on validation",
                           validation_f1=f1["f1"], sensitivity_target=sensitivity,
                           sensitivity_threshold=sens["threshold"], n_validation=int(np.size(y_val)))


def net_benefit(y: np.ndarray, p: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """Net benefit of treating the patients with p >= t, for each threshold probability t in (0, 1)."""
    y, p = check_labels_scores(y, p)
    t = np.asarray(thresholds, dtype=np.float64)
    if ((t <= 0) | (t >= 1)).any():
        raise ValueError("decision-curve thresholds must lie strictly between 0 and 1")
    treat = p[None, :] >= t[:, None]
    tp = (treat & (y[None, :] == 1)).sum(axis=1)
    fp = (treat & (y[None, :] == 0)).sum(axis=1)
    return tp / y.size - fp / y.size * t / (1 - t)


def treat_all_net_benefit(y: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """Net benefit of treating every patient at each threshold probability."""
    prevalence = float(np.mean(y))
    t = np.asarray(thresholds, dtype=np.float64)
    return prevalence - (1 - prevalence) * t / (1 - t)


def decision_curve(y: np.ndarray, predictions: dict[str, np.ndarray], thresholds: np.ndarray
                   ) -> dict[str, np.ndarray]:
    """Net benefit of each model's probabilities, of treat-all and of treat-none over `thresholds`."""
    t = np.asarray(thresholds, dtype=np.float64)
    out = {"threshold": t, "treat all": treat_all_net_benefit(y, t), "treat none": np.zeros_like(t)}
    out.update({name: net_benefit(y, p, t) for name, p in predictions.items()})
    return out


def net_benefit_interval(y: np.ndarray, p: np.ndarray, threshold: float, *, groups: np.ndarray | None = None,
                         n_boot: int = 1000, seed: int = 0, level: float = 0.95) -> dict[str, Interval]:
    """Net benefit at `threshold` of acting on `p >= threshold` ("model"), of treating everyone ("treat all")
    and their difference ("difference"), each with a percentile interval from the same bootstrap resamples
    of `groups` (the independent unit, as in `bootstrap.grouped_bootstrap`)."""
    y, p = check_labels_scores(y, p)
    if not 0 < threshold < 1:
        raise ValueError(f"threshold probability {threshold} must lie strictly between 0 and 1")
    odds = threshold / (1 - threshold)
    pos, treat = y == 1, p >= threshold

    def rows(w: np.ndarray) -> dict[str, np.ndarray]:
        n = w.sum(axis=1)
        model = (w @ (treat & pos) - odds * (w @ (treat & ~pos))) / n
        prevalence = (w @ pos) / n
        everyone = prevalence - (1 - prevalence) * odds
        return {"model": model, "treat all": everyone, "difference": model - everyone}

    point = {k: float(v[0]) for k, v in rows(np.ones((1, y.size))).items()}
    parts = [rows(w) for w in weight_chunks(group_codes(groups, y.size), n_boot, seed)]
    return {k: percentile_interval(point[k], np.concatenate([part[k] for part in parts]), level) for k in point}
