"""Probability calibration, decision thresholds and calibration statistics.

- `IsotonicCalibrator` wraps scikit-learn's `IsotonicRegression` (clipped to [0, 1], constant
  beyond the fitted range). Its JSON state is the fitted step function (`X_thresholds_`,
  `y_thresholds_`); loading refits an `IsotonicRegression` on those points, which reproduces the
  same function exactly (the points are already monotone, so the fit leaves them unchanged).
- `select_f1_threshold` picks the threshold that maximises F1 and `threshold_for_sensitivity`
  the highest threshold that still reaches a target recall. Both take only the validation labels
  and scores: the test split never reaches them.
- `calibration_slope_intercept` regresses the outcome on logit(p) (scikit-learn logistic
  regression without penalty): slope 1 and intercept 0 mean perfect calibration.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
from scipy.optimize import brentq
from sklearn import metrics as skm
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression

from ehrlib.io import Record, read_json, write_json
from ehrlib.evaluation.metrics import check_labels_scores

_EPS = 1e-6


@dataclass
class IsotonicCalibrator:
    """Isotonic-regression calibrator of risk scores, with JSON state (no pickle).

    `fit(p_val, y_val)` must be given validation predictions only; `transform(p)` maps any scores to
    calibrated probabilities.
    """

    model: IsotonicRegression | None = field(default=None, repr=False)
    n_fit: int = 0

    @staticmethod
    def _new() -> IsotonicRegression:
        return IsotonicRegression(y_min=0.0, y_max=1.0, increasing=True, out_of_bounds="clip")

    def fit(self, p: np.ndarray, y: np.ndarray) -> "IsotonicCalibrator":
        """Fit the isotonic map from scores `p` to outcomes `y` (validation data only)."""
        y, p = check_labels_scores(y, p)
        if np.unique(y).size < 2:
            raise ValueError("calibration needs both classes in the validation labels")
        self.model = self._new().fit(p, y)
        self.n_fit = int(y.size)
        return self

    def transform(self, p: np.ndarray) -> np.ndarray:
        """Calibrated probabilities for scores `p` (float64)."""
        if self.model is None:
            raise RuntimeError("IsotonicCalibrator is not fitted")
        return np.clip(self.model.predict(np.asarray(p, dtype=np.float64).ravel()), 0.0, 1.0)

    def to_dict(self) -> dict[str, object]:
        """JSON-ready state: the fitted step function's knots (a `CalibratorState`)."""
        if self.model is None:
            raise RuntimeError("IsotonicCalibrator is not fitted")
        return CalibratorState(x_thresholds=self.model.X_thresholds_, y_thresholds=self.model.y_thresholds_,
                               n_fit=self.n_fit).to_dict()

    @classmethod
    def from_dict(cls, state: object, where: str = "") -> "IsotonicCalibrator":
        """Rebuild a calibrator from `to_dict` output (checked: `CalibratorState`) by refitting on its knots."""
        st = CalibratorState.from_dict(state, where=where)
        return cls(model=cls._new().fit(st.x_thresholds, st.y_thresholds), n_fit=st.n_fit)

    def save(self, path: str | os.PathLike) -> Path:
        """Write the state as JSON (atomically)."""
        return write_json(path, self.to_dict())

    @classmethod
    def load(cls, path: str | os.PathLike) -> "IsotonicCalibrator":
        """Read a calibrator written by `save`; errors name the file, the field and the problem."""
        return cls.from_dict(read_json(path), where=str(path))


@dataclass
class CalibratorState(Record):
    """Saved `IsotonicCalibrator`: the step function's knots, checked when loaded (finite, equal in
    length, non-decreasing, calibrated values in [0, 1])."""

    x_thresholds: np.ndarray
    y_thresholds: np.ndarray
    n_fit: int = 0
    kind: Literal["isotonic"] = "isotonic"

    def validate(self) -> None:
        x, yk = np.asarray(self.x_thresholds, float), np.asarray(self.y_thresholds, float)
        if x.size == 0 or x.size != yk.size:
            raise ValueError(f"knots must be non-empty and equal in length, got {x.size} x and {yk.size} y")
        if not (np.isfinite(x).all() and np.isfinite(yk).all()):
            raise ValueError("knots must be finite numbers")
        if np.any(np.diff(x) < 0) or np.any(np.diff(yk) < 0):
            raise ValueError("knots must be non-decreasing")
        if yk.min() < 0 or yk.max() > 1:
            raise ValueError(f"calibrated values must lie in [0, 1], got {yk.min():g} to {yk.max():g}")
        if self.n_fit < 0:
            raise ValueError(f"n_fit must be non-negative, got {self.n_fit}")


# ---------------------------------------------------------------- thresholds


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


# ---------------------------------------------------------------- calibration statistics


def logit(p: np.ndarray, eps: float = _EPS) -> np.ndarray:
    """log(p / (1 - p)) with p clipped to [eps, 1 - eps] (isotonic outputs can be exactly 0 or 1)."""
    p = np.clip(np.asarray(p, dtype=np.float64), eps, 1 - eps)
    return np.log(p) - np.log1p(-p)


def calibration_slope_intercept(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    """Calibration slope and intercept of probabilities `p` against outcomes `y`.

    The slope is the coefficient of logit(p) in an unpenalised logistic regression of y on logit(p)
    (scikit-learn, C = inf); the intercept is the calibration-in-the-large, the intercept fitted with
    logit(p) as an offset (slope fixed at 1), found by solving the score equation
    sum(y - sigmoid(a + logit p)) = 0. Perfect calibration: slope 1, intercept 0.
    """
    y, p = check_labels_scores(y, p)
    z = logit(p)
    lr = LogisticRegression(C=np.inf, max_iter=1000).fit(z[:, None], y)
    score = lambda a: float(np.sum(y - 1.0 / (1.0 + np.exp(-(a + z)))))  # noqa: E731
    intercept = brentq(score, -30.0, 30.0)
    return {"slope": float(lr.coef_[0, 0]), "intercept": float(intercept),
            "slope_model_intercept": float(lr.intercept_[0])}


def reliability_bins(y: np.ndarray, p: np.ndarray, n_bins: int = 10) -> dict[str, np.ndarray]:
    """Per-bin mean predicted probability, fraction of positives and count (equal-width bins).

    Same binning as `ehrlib.evaluation.metrics.expected_calibration_error`; empty bins are dropped.
    """
    y, p = check_labels_scores(y, p)
    bins = np.minimum((p * n_bins).astype(np.int64), n_bins - 1)
    count = np.bincount(bins, minlength=n_bins)
    keep = count > 0
    mean_p = np.bincount(bins, weights=p, minlength=n_bins)[keep] / count[keep]
    frac = np.bincount(bins, weights=y, minlength=n_bins)[keep] / count[keep]
    return {"mean_predicted": mean_p, "fraction_positive": frac, "count": count[keep],
            "bin_left": np.arange(n_bins)[keep] / n_bins}


# ---------------------------------------------------------------- the evaluation protocol


@dataclass
class CalibratedEvaluation:
    """Result of `calibrate_and_evaluate`: fitted calibrator and threshold, test probabilities and metrics."""

    calibrator: IsotonicCalibrator
    choice: ThresholdChoice
    p_test: np.ndarray
    metrics: dict[str, object]


def calibrate_and_evaluate(p_val: np.ndarray, y_val: np.ndarray, p_test: np.ndarray, y_test: np.ndarray,
                           n_boot: int = 1000, seed: int = 0, sensitivity: float = 0.9) -> CalibratedEvaluation:
    """The book's protocol for every model: fit an isotonic calibrator on the validation scores, choose the
    F1-optimal and the `sensitivity` thresholds on the calibrated validation probabilities, then score the
    test set once.

    `metrics` is `ehrlib.evaluation.metrics.evaluate` on the calibrated test probabilities, plus `raw` (AUROC, AUPRC,
    Brier, ECE, slope and intercept of the uncalibrated scores when they are probabilities),
    `calibration` (the same for the calibrated ones), `threshold_choice` and
    `sensitivity_operating_point` (test metrics at the validation-chosen sensitivity threshold).
    """
    from ehrlib.evaluation.metrics import evaluate, probability_metrics, ranking_metrics, threshold_metrics

    calibrator = IsotonicCalibrator().fit(p_val, y_val)
    cal_val = calibrator.transform(p_val)
    choice = choose_thresholds(y_val, cal_val, sensitivity)
    cal_test = calibrator.transform(p_test)
    out = evaluate(y_test, cal_test, choice.threshold, n_boot=n_boot, seed=seed)
    p_raw = np.asarray(p_test, dtype=np.float64)
    raw: dict[str, float] = ranking_metrics(y_test, p_raw)
    if ((p_raw >= 0) & (p_raw <= 1)).all():
        raw.update(probability_metrics(y_test, p_raw))
        raw.update(calibration_slope_intercept(y_test, p_raw))
    out["raw"] = raw
    out["calibration"] = {**probability_metrics(y_test, cal_test), **calibration_slope_intercept(y_test, cal_test)}
    out["threshold_choice"] = dict(choice.__dict__)
    op = threshold_metrics(y_test, cal_test, choice.sensitivity_threshold)
    out["sensitivity_operating_point"] = {"target": sensitivity, **op}
    return CalibratedEvaluation(calibrator=calibrator, choice=choice, p_test=cal_test, metrics=out)
