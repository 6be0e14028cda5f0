"""The book's evaluation protocol, one implementation for the chapters and the k-fold harness.

For every model: (1) choose and fit a calibrator on the **validation** scores (`select_calibrator`:
Platt or isotonic, by cross-validated log loss within validation); (2) choose the F1-optimal and the
90 %-sensitivity thresholds on the calibrated validation probabilities; (3) score the test set once.

What is measured on what:

- discrimination (AUROC, AUPRC) on the **raw** test scores: calibration maps are monotone but an
  isotonic step function creates ties, which lowers AUROC, so models are compared on what they rank;
- threshold metrics on the calibrated test probabilities at the validation-chosen threshold;
- calibration (Brier, ECE with intervals, ICI, slope, intercept) on the calibrated probabilities,
  and, when the raw scores are probabilities, on those too.

Intervals come from `bootstrap.grouped_bootstrap` resampling `groups` (subjects for ICU episodes).
The result is a typed `ModelEvaluation` record (`ehrlib.records.Record`), validated when written and read.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ehrlib.evaluation.bootstrap import Interval, calibration_intervals, grouped_bootstrap
from ehrlib.evaluation.calibration import Calibrator, curve_intervals, integrated_calibration_index, select_calibrator
from ehrlib.evaluation.metrics import check_labels_scores, probability_metrics, ranking_metrics, threshold_metrics
from ehrlib.evaluation.thresholds import ThresholdChoice, choose_thresholds
from ehrlib.records import Record

AT_THRESHOLD = ("recall", "precision", "specificity", "f1", "accuracy")


@dataclass
class CalibrationStats(Record):
    """Calibration of one set of test probabilities, each with its bootstrap interval: Brier, 10-bin ECE,
    integrated calibration index, calibration slope and intercept (1 and 0 ideal); and how many outputs
    are exactly 0 or 1."""

    brier: Interval
    ece: Interval
    ici: Interval
    slope: Interval
    intercept: Interval
    n_exact_zero: int
    n_exact_one: int


@dataclass
class ModelEvaluation(Record):
    """Every test metric of one model under the protocol (see the module docstring)."""

    n: int
    prevalence: float
    n_boot: int
    resampling_unit: str
    auroc: Interval
    auprc: Interval
    calibrator: str
    calibrator_cv_log_loss: dict[str, float]
    threshold: float
    validation_f1: float
    at_threshold: dict[str, Interval]
    confusion_matrix: list[list[int]]
    sensitivity_target: float
    sensitivity_threshold: float
    at_sensitivity: dict[str, float]
    calibrated: CalibrationStats
    raw: CalibrationStats | None = None

    def validate(self) -> None:
        """Sizes and probabilities in range; every threshold metric present."""
        if self.n < 1 or not 0 <= self.prevalence <= 1:
            raise ValueError(f"n {self.n} / prevalence {self.prevalence} out of range")
        missing = sorted(set(AT_THRESHOLD) - set(self.at_threshold))
        if missing:
            raise ValueError(f"at_threshold lacks {missing}")
        if sum(map(sum, self.confusion_matrix)) != self.n:
            raise ValueError("confusion matrix does not add up to n")


def metric_entries(m: ModelEvaluation) -> dict[str, Interval | float]:
    """A model's headline metrics by name (intervals where it has them), for tables and figures."""
    return {"auroc": m.auroc, "auprc": m.auprc, **m.at_threshold, "brier": m.calibrated.brier,
            "ece": m.calibrated.ece, "ici": m.calibrated.ici}


@dataclass
class FittedProtocol:
    """What the validation split fixed: the calibrator, its selection losses and the thresholds."""

    calibrator: Calibrator
    cv_log_loss: dict[str, float]
    choice: ThresholdChoice

    def calibrate(self, p: np.ndarray) -> np.ndarray:
        """Calibrated probabilities of raw scores `p`."""
        return self.calibrator.transform(p)


def fit_protocol(p_val: np.ndarray, y_val: np.ndarray, sensitivity: float = 0.9, seed: int = 0) -> FittedProtocol:
    """Choose and fit the calibrator, then the thresholds, on validation scores and labels only."""
    y_val, p_val = check_labels_scores(y_val, p_val)
    calibrator, losses = select_calibrator(p_val, y_val, seed=seed)
    choice = choose_thresholds(y_val, calibrator.transform(p_val), sensitivity)
    return FittedProtocol(calibrator=calibrator, cv_log_loss=losses, choice=choice)


def calibration_stats(y: np.ndarray, p: np.ndarray, groups: np.ndarray | None, n_boot: int, seed: int,
                      curve_boot: int | None = None) -> CalibrationStats:
    """`CalibrationStats` of probabilities `p` (intervals resample `groups`); ICI, slope and intercept
    use `curve_boot` resamples (default `n_boot`; 0 leaves their intervals undefined)."""
    iv = calibration_intervals(y, p, groups=groups, n_boot=n_boot, seed=seed)
    cv = curve_intervals(y, p, groups=groups, n_boot=n_boot if curve_boot is None else curve_boot, seed=seed)
    return CalibrationStats(brier=iv["brier"], ece=iv["ece"], ici=cv["ici"], slope=cv["slope"],
                            intercept=cv["intercept"], n_exact_zero=int((p == 0).sum()),
                            n_exact_one=int((p == 1).sum()))


def score_test(fitted: FittedProtocol, p_test: np.ndarray, y_test: np.ndarray, groups: np.ndarray | None = None,
               n_boot: int = 1000, seed: int = 0, curve_boot: int | None = None) -> tuple[ModelEvaluation, np.ndarray]:
    """Score the test split once with what validation fixed; returns the record and the calibrated
    test probabilities. `groups` (subject ids) is the bootstrap's resampling unit; `curve_boot` the
    resamples behind the calibration slope, intercept and ICI (see `calibration_stats`)."""
    y, p_raw = check_labels_scores(y_test, p_test)
    p_cal = fitted.calibrate(p_raw)
    choice = fitted.choice
    ranking = grouped_bootstrap(y, p_raw, groups=groups, n_boot=n_boot, seed=seed)
    at_t = grouped_bootstrap(y, p_cal, threshold=choice.threshold, groups=groups, n_boot=n_boot, seed=seed)
    tm = threshold_metrics(y, p_cal, choice.threshold)
    op = threshold_metrics(y, p_cal, choice.sensitivity_threshold)
    is_prob = bool(((p_raw >= 0) & (p_raw <= 1)).all())
    record = ModelEvaluation(
        n=int(y.size), prevalence=float(y.mean()), n_boot=int(n_boot),
        resampling_unit="subject" if groups is not None else "episode",
        auroc=ranking["auroc"], auprc=ranking["auprc"], calibrator=fitted.calibrator.kind,
        calibrator_cv_log_loss=dict(fitted.cv_log_loss), threshold=float(choice.threshold),
        validation_f1=float(choice.validation_f1), at_threshold={k: at_t[k] for k in AT_THRESHOLD},
        confusion_matrix=[[int(tm["tn"]), int(tm["fp"])], [int(tm["fn"]), int(tm["tp"])]],
        sensitivity_target=float(choice.sensitivity_target), sensitivity_threshold=float(choice.sensitivity_threshold),
        at_sensitivity={k: float(op[k]) for k in AT_THRESHOLD},
        calibrated=calibration_stats(y, p_cal, groups, n_boot, seed, curve_boot),
        raw=calibration_stats(y, p_raw, groups, n_boot, seed, curve_boot) if is_prob else None)
    record.validate()
    return record, p_cal


@dataclass
class Evaluated:
    """A model run through the protocol: what validation fixed, the test record and the test probabilities."""

    fitted: FittedProtocol
    metrics: ModelEvaluation
    p_test: np.ndarray


def evaluate_model(p_val: np.ndarray, y_val: np.ndarray, p_test: np.ndarray, y_test: np.ndarray,
                   groups_test: np.ndarray | None = None, n_boot: int = 1000, seed: int = 0,
                   sensitivity: float = 0.9) -> Evaluated:
    """The whole protocol: `fit_protocol` on validation, then `score_test` once on test."""
    fitted = fit_protocol(p_val, y_val, sensitivity, seed)
    record, p_cal = score_test(fitted, p_test, y_test, groups_test, n_boot, seed)
    return Evaluated(fitted=fitted, metrics=record, p_test=p_cal)


def point_scores(fitted: FittedProtocol, p_test: np.ndarray, y_test: np.ndarray) -> dict[str, float]:
    """Point metrics of one held-out set (the k-fold's per-fold scores): AUROC/AUPRC on raw scores,
    threshold metrics, Brier, ECE and ICI on calibrated probabilities."""
    y, p_raw = check_labels_scores(y_test, p_test)
    p_cal = fitted.calibrate(p_raw)
    tm = threshold_metrics(y, p_cal, fitted.choice.threshold)
    out = {**ranking_metrics(y, p_raw), **probability_metrics(y, p_cal),
           "ici": integrated_calibration_index(y, p_cal), "threshold": float(fitted.choice.threshold)}
    out.update({k: float(tm[k]) for k in AT_THRESHOLD})
    return out
