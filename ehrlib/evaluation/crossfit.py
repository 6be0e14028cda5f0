"""Cross-fitting: out-of-fold predictions over a training set, and each fold's model on a test set.

For each of `n_splits` patient folds of `train` (`kfold.patient_folds`: stratified, grouped by
patient), the other folds are split again by patient into an inner training set, on which every
model is fitted, and an inner validation set, which the fitter may use for early stopping only. The
fitted model predicts the held-out fold (its *out-of-fold* predictions) and, when given, every stay
of `test`. No model ever predicts a stay it was fitted or stopped on.

Two uses, both in the real-data chapter:

- **fit on one set, score another** (the PhysioNet 2012 challenge's protocol): calibrator and
  threshold are fitted on the out-of-fold predictions over the whole training set (thousands of
  stays instead of a small validation split), then each fold's model is scored once on `test`;
- **k-fold over a pooled set**: each held-out fold is scored once, with a calibrator and threshold
  fitted on its own inner validation predictions (`inner_val`), as `kfold.run_fold` does.

Models are passed as a function of the fold index returning fitters (``fit(train, val) ->
predict``), so that each fold's network gets its own seed. Every (fold, model) fit is an independent job:
with `workers` > 1 they run a few at a time (`ehrlib.workers.ordered_map`), with the same predictions,
and each model's seconds are then its wall time while sharing the cores. Jobs start model by model, in
the order the fitters are listed (list the slowest first, so that no long fit runs alone at the end).
The module knows no model and no study.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

import numpy as np

from ehrlib.evaluation.kfold import Fitter, inner_split, patient_folds
from ehrlib.logs import get_logger
from ehrlib.workers import ordered_map

if TYPE_CHECKING:  # any dataset with `y`, `subject_ids` and `take(idx)`
    from ehrlib.icu.episodes import EpisodeSet as Episodes

log = get_logger(__name__)


@dataclass(frozen=True)
class CrossFitConfig:
    """Folds, inner validation share (1 / inner_splits of each training part), the seed, and how many
    fits run at once."""

    n_splits: int = 5
    inner_splits: int = 8
    seed: int = 0
    workers: int = 1


@dataclass
class CrossFit:
    """Raw predictions of a cross-fit: `oof[model]` over the training set (n,), `test[model]` of each
    fold's model (n_splits, n_test), `inner_val[model][k]` on fold k's inner validation stays
    (`inner_idx[k]`, indices into the training set), `fold` of each training stay, fit seconds."""

    fold: np.ndarray
    oof: dict[str, np.ndarray] = field(default_factory=dict)
    test: dict[str, np.ndarray] = field(default_factory=dict)
    inner_idx: list[np.ndarray] = field(default_factory=list)
    inner_val: dict[str, list[np.ndarray]] = field(default_factory=dict)
    seconds: dict[str, list[float]] = field(default_factory=dict)


@dataclass(frozen=True)
class _Job:
    """One model of one fold: fit on the inner training stays `tr[inner[0]]`, stop early on `tr[inner[1]]`,
    predict the held-out stays `te` (and the test set)."""

    k: int
    name: str
    fit: Fitter
    tr: np.ndarray
    te: np.ndarray
    inner: tuple[np.ndarray, np.ndarray]


def _run_job(job: _Job, train: Episodes, test: Episodes | None) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, float]:
    """Fit one job's model; its held-out, inner validation and test predictions and the seconds taken."""
    start = time.perf_counter()
    inner_train, inner_val = train.take(job.tr[job.inner[0]]), train.take(job.tr[job.inner[1]])
    predict = job.fit(inner_train, inner_val)
    held = np.asarray(predict(train.take(job.te)), dtype=np.float64)
    val = np.asarray(predict(inner_val), dtype=np.float64)
    scored = None if test is None else np.asarray(predict(test), dtype=np.float64)
    seconds = time.perf_counter() - start
    log.info("fold %d, %s: fitted and predicted in %.1f s", job.k + 1, job.name, seconds)
    return held, val, scored, seconds


def cross_fit(train: Episodes, make_fitters: Callable[[int], dict[str, Fitter]], test: Episodes | None = None,
              config: CrossFitConfig = CrossFitConfig()) -> CrossFit:
    """Out-of-fold predictions of every model over `train` and each fold's model on `test` (see module doc)."""
    y, groups = np.asarray(train.y).astype(int), train.subject_ids
    folds = patient_folds(y, groups, config.n_splits, config.seed)
    cf = CrossFit(fold=np.empty(len(train), dtype=np.int64))
    parts, fitters = [], []
    for k, (tr, te) in enumerate(folds):
        cf.fold[te] = k
        inner = inner_split(y[tr], groups[tr], config.inner_splits, config.seed + 1000 + k)
        cf.inner_idx.append(tr[inner[1]])
        parts.append((tr, te, inner))
        fitters.append(make_fitters(k))
    jobs = [_Job(k, name, fitters[k][name], *parts[k]) for name in fitters[0] for k in range(len(parts))]
    done = ordered_map(lambda job: _run_job(job, train, test), jobs, config.workers)
    for job, (held, val, scored, seconds) in sorted(zip(jobs, done), key=lambda pair: pair[0].k):
        cf.oof.setdefault(job.name, np.full(len(train), np.nan))[job.te] = held
        cf.inner_val.setdefault(job.name, []).append(val)
        if scored is not None:
            cf.test.setdefault(job.name, []).append(scored)
        cf.seconds.setdefault(job.name, []).append(seconds)
    cf.test = {name: np.stack(parts) for name, parts in cf.test.items()}
    return cf
