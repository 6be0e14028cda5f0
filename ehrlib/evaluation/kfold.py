"""K-fold validation by patient, with everything fitted inside each training fold.

The public replication fitted its calibrator and threshold on the very fold it scored (and wrote its
k-fold results file by hand). Here, for each of the `n_splits` folds of scikit-learn's
`StratifiedGroupKFold` (stratified on the label, grouped by patient, so no patient is on both
sides):

1. the training fold is split again by patient (stratified, one fold of an inner
   `StratifiedGroupKFold`) into an inner training set and an inner validation set;
2. the model (its preprocessor included) is fitted on the inner training set, with the inner
   validation set for early stopping;
3. the calibrator and the thresholds are fitted on the inner validation predictions only, by the
   same `protocol.fit_protocol` the chapters use;
4. the held-out fold is scored once (`protocol.point_scores`: AUROC/AUPRC on raw scores, the rest on
   calibrated probabilities).

Models are passed as *fitters*: functions ``fit(train, val) -> predict`` where ``predict(episodes)``
returns risk scores (`ehrlib.mortality.pipelines` builds them). The harness knows no model and never
hands a fitter the held-out fold.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

import numpy as np
from sklearn.model_selection import StratifiedGroupKFold

from ehrlib.evaluation.metrics import ranking_metrics
from ehrlib.evaluation.protocol import fit_protocol, point_scores
from ehrlib.logs import get_logger

if TYPE_CHECKING:  # any dataset with `y`, `subject_ids` and `take(idx)`; the ICU's EpisodeSet is one
    from ehrlib.icu.episodes import EpisodeSet as Episodes

FOLD_METRICS = ("auroc", "auprc", "recall", "precision", "specificity", "f1", "accuracy", "brier", "ece",
                "ici", "threshold")

log = get_logger(__name__)

Predictor = Callable[["Episodes"], np.ndarray]
Fitter = Callable[["Episodes", "Episodes"], Predictor]


@dataclass(frozen=True)
class KFoldConfig:
    """Settings of the k-fold run: outer folds, inner validation share (1 / inner_splits), seed."""

    n_splits: int = 5
    inner_splits: int = 5
    seed: int = 0

    def __post_init__(self) -> None:
        if self.n_splits < 2 or self.inner_splits < 2:
            raise ValueError("n_splits and inner_splits must be at least 2")


def patient_folds(y: np.ndarray, groups: np.ndarray, n_splits: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """(train_idx, test_idx) pairs of a shuffled `StratifiedGroupKFold`: stratified by `y`, grouped by patient."""
    y = np.asarray(y).astype(int)
    if np.bincount(y, minlength=2).min() < n_splits:
        raise ValueError(f"each class needs at least {n_splits} episodes for {n_splits} folds")
    splitter = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    return [(np.sort(tr), np.sort(te)) for tr, te in splitter.split(np.zeros(y.size), y, groups)]


def inner_split(y: np.ndarray, groups: np.ndarray, n_splits: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Split a training fold by patient into (inner_train_idx, inner_val_idx); val is about 1 / n_splits."""
    return patient_folds(y, groups, n_splits, seed)[0]


def run_fold(train: Episodes, test: Episodes, fitters: dict[str, Fitter], config: KFoldConfig,
             fold: int = 0) -> dict[str, object]:
    """Fit every model inside `train` (inner train/val by patient) and score it once on `test`.

    Returns a JSON-ready record: sizes, prevalence, the stays of each part (for leak checks), the
    oracle AUROC of the generator's true risk on `test` when available, and per model its test
    metrics (`protocol.point_scores`) and seconds.
    """
    tr_idx, va_idx = inner_split(train.y, train.subject_ids, config.inner_splits, config.seed + 1000 + fold)
    inner_train, inner_val = train.take(tr_idx), train.take(va_idx)
    y_val, y_test = np.asarray(inner_val.y).astype(int), np.asarray(test.y).astype(int)
    record: dict[str, object] = {
        "fold": fold, "n_inner_train": len(inner_train), "n_inner_val": len(inner_val), "n_test": len(test),
        "prevalence_test": float(y_test.mean()),
        "stays": {"inner_train": inner_train.stays.tolist(), "inner_val": inner_val.stays.tolist(),
                  "test": test.stays.tolist()},
    }
    if test.true_risk is not None:
        record["oracle"] = ranking_metrics(y_test, test.true_risk)
    for name, fit in fitters.items():
        start = time.perf_counter()
        predict = fit(inner_train, inner_val)
        p_val, p_test = np.asarray(predict(inner_val)), np.asarray(predict(test))
        metrics = point_scores(fit_protocol(p_val, y_val, seed=config.seed), p_test, y_test)
        metrics["seconds"] = time.perf_counter() - start
        record[name] = metrics
    return record


def summarise(folds: list[dict[str, object]], models: list[str]) -> dict[str, dict[str, dict[str, float]]]:
    """Mean and sample standard deviation (ddof 1) of each metric across folds, per model (and oracle)."""
    out: dict[str, dict[str, dict[str, float]]] = {}
    for name in [*models, "oracle"]:
        rows = [f[name] for f in folds if name in f]
        if not rows:
            continue
        out[name] = {}
        for k in rows[0]:
            vals = np.array([r[k] for r in rows], dtype=np.float64)
            out[name][k] = {"mean": float(vals.mean()), "sd": float(vals.std(ddof=1)) if vals.size > 1 else 0.0,
                            "min": float(vals.min()), "max": float(vals.max())}
    return out


def run_kfold(episodes: Episodes, fitters: dict[str, Fitter], config: KFoldConfig = KFoldConfig(),
              progress: bool = True, keep_stays: bool = False) -> dict[str, object]:
    """Patient-grouped, stratified k-fold validation of several models on `episodes` (train + val).

    Returns ``{"config", "folds": [per-fold records], "summary": {model: {metric: {mean, sd, ...}}},
    "seconds"}``. Per-fold stay lists are dropped unless `keep_stays` (they are only for leak checks).
    """
    start = time.perf_counter()
    folds = []
    splits = patient_folds(episodes.y, episodes.subject_ids, config.n_splits, config.seed)
    for k, (tr, te) in enumerate(splits):
        t0 = time.perf_counter()
        if progress:
            log.info("fold %d/%d: %d training episodes, %d held out", k + 1, config.n_splits, tr.size, te.size)
        record = run_fold(episodes.take(tr), episodes.take(te), fitters, config, fold=k)
        if not keep_stays:
            record.pop("stays")
        folds.append(record)
        if progress:
            scores = ", ".join(f"{m} AUROC {record[m]['auroc']:.3f}" for m in fitters)
            log.info("fold %d/%d done in %.1f s: %s", k + 1, config.n_splits, time.perf_counter() - t0, scores)
    return {"config": {"n_splits": config.n_splits, "inner_splits": config.inner_splits, "seed": config.seed,
                       "n_episodes": len(episodes)},
            "folds": folds, "summary": summarise(folds, list(fitters)), "seconds": time.perf_counter() - start}
