"""Mortality pipelines: every model fitted on train, run through the evaluation protocol, scored on test.

- fitters (``fit(train, val) -> predict``) for the k-fold harness and the learning curves: the
  benchmark logistic regression, boosted trees, the missingness-only regression and the LSTM;
- `run_baselines`: the chapter-7 baselines under `evaluation.protocol.evaluate_model`, with the
  test bootstrap resampling subjects;
- `seed_runs`: the LSTM retrained over several seeds, each paired with the regression on raw scores;
- `learning_curve`: test AUROC against training size (subjects subsampled, validation fixed).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from ehrlib.evaluation.bootstrap import Interval, grouped_bootstrap, grouped_paired_bootstrap, point_metrics
from ehrlib.evaluation.protocol import Evaluated, evaluate_model
from ehrlib.icu.episodes import EpisodeSet
from ehrlib.mortality.baselines import GbtBaseline, LogisticBaseline, MissingnessBaseline
from ehrlib.mortality.lstm import fit_lstm_pipeline, predict_proba
from ehrlib.mortality.news2 import choose_window, news2_uses_consciousness, news2_uses_oxygen
from ehrlib.workers import ordered_map

log = logging.getLogger(__name__)

Predictor = Callable[[EpisodeSet], np.ndarray]
Fitter = Callable[[EpisodeSet, EpisodeSet], Predictor]


def logistic_fitter() -> Fitter:
    """Fitter for the benchmark logistic regression (fitted on the training episodes only)."""
    return lambda train, val: LogisticBaseline().fit(train).predict_proba


def gbt_fitter(seed: int = 0) -> Fitter:
    """Fitter for the gradient-boosted trees (internal early stopping on a share of train)."""
    return lambda train, val: GbtBaseline(seed=seed).fit(train).predict_proba


def missingness_fitter() -> Fitter:
    """Fitter for the regression on observation counts only."""
    return lambda train, val: MissingnessBaseline().fit(train).predict_proba


def lstm_fitter(config: Any, seed: int = 0, progress: bool = False) -> Fitter:
    """Fitter for the LSTM pipeline (preprocessor fitted on train, early stopping on `val`)."""
    def fit(train: EpisodeSet, val: EpisodeSet) -> Predictor:
        prep, result = fit_lstm_pipeline(train, val, config, seed=seed, progress=progress)
        return lambda eps: predict_proba(result.model, prep.transform(eps))

    return fit


@dataclass
class BaselineRun:
    """One fitted baseline: raw validation/test scores, the protocol's evaluation and the fit time."""

    name: str
    p_val: np.ndarray
    p_test: np.ndarray
    evaluated: Evaluated
    seconds: float
    model: Any = None
    notes: dict[str, Any] = field(default_factory=dict)


def run_baselines(train: EpisodeSet, val: EpisodeSet, test: EpisodeSet, n_boot: int = 1000, seed: int = 0,
                  news2_windows: tuple[int, ...] = (12, 24, 48)) -> dict[str, BaselineRun]:
    """Fit the baselines on `train`, calibrate and threshold on `val`, score `test` once (subject bootstrap).

    Keys: "logistic_regression", "gbt", "missingness", "news2". The NEWS2 window is chosen on
    validation AUROC.
    """
    runs: dict[str, BaselineRun] = {}
    groups = test.subject_ids

    def finish(name: str, model: Any, p_val: np.ndarray, p_test: np.ndarray, start: float, **notes: Any) -> None:
        ev = evaluate_model(p_val, val.y, p_test, test.y, groups, n_boot=n_boot, seed=seed)
        runs[name] = BaselineRun(name, p_val, p_test, ev, time.perf_counter() - start, model, notes)
        log.info("%s: test AUROC %.3f (%.1f s)", name, ev.metrics.auroc.value, runs[name].seconds)

    for name, model in (("logistic_regression", LogisticBaseline()), ("gbt", GbtBaseline(seed=seed)),
                        ("missingness", MissingnessBaseline())):
        t = time.perf_counter()
        model.fit(train)
        notes = {"iterations": int(model.model.n_iter_)} if name == "gbt" else {}
        finish(name, model, model.predict_proba(val), model.predict_proba(test), t, **notes)
    t = time.perf_counter()
    news, by_window = choose_window(val, news2_windows)
    finish("news2", news, news.score(val), news.score(test), t, window_hours=news.window_hours,
           validation_auroc_by_window=by_window, consciousness_from_gcs=news2_uses_consciousness(val.variables),
           oxygen_from_fio2=news2_uses_oxygen(val.variables))
    return runs


@dataclass
class SeedRun:
    """One LSTM seed: raw test AUROC/AUPRC and the paired difference from the reference model."""

    seed: int
    auroc: float
    auprc: float
    diff_auroc: Interval
    seconds: float
    p_test: np.ndarray


def seed_run(seed: int, p_test: np.ndarray, test: EpisodeSet, p_reference: np.ndarray, n_boot: int,
             seconds: float = 0.0) -> SeedRun:
    """Score one seed's raw test predictions and pair them with the reference's (subject bootstrap)."""
    groups = test.subject_ids
    own = point_metrics(test.y, p_test)
    paired = grouped_paired_bootstrap(test.y, p_test, p_reference, groups=groups, n_boot=n_boot, seed=seed)
    diff = Interval(paired["auroc"]["value"], paired["auroc"]["ci_low"], paired["auroc"]["ci_high"])
    return SeedRun(seed=seed, auroc=own["auroc"], auprc=own["auprc"], diff_auroc=diff,
                   seconds=seconds, p_test=p_test)


def train_seed(train: EpisodeSet, val: EpisodeSet, test: EpisodeSet, config: Any, seed: int) -> tuple[np.ndarray, float]:
    """Train the LSTM pipeline with `seed`; return its raw test predictions and the seconds it took."""
    t = time.perf_counter()
    predict = lstm_fitter(config, seed=seed)(train, val)
    return predict(test), time.perf_counter() - t


def subsample_subjects(episodes: EpisodeSet, size: int, seed: int) -> np.ndarray:
    """Sorted indices of the first subjects of a seeded permutation holding at least `size` episodes
    (all when size >= n); for one seed, a larger subset contains every smaller one."""
    if size >= len(episodes):
        return np.arange(len(episodes))
    _, inverse, counts = np.unique(episodes.subject_ids, return_inverse=True, return_counts=True)
    order = np.random.default_rng(seed).permutation(counts.size)
    k = int(np.searchsorted(np.cumsum(counts[order]), size)) + 1
    keep = np.zeros(counts.size, dtype=bool)
    keep[order[:k]] = True
    return np.flatnonzero(keep[inverse.reshape(-1)])


def learning_curve(train: EpisodeSet, val: EpisodeSet, test: EpisodeSet, fitters: dict[str, Fitter],
                   sizes: tuple[int, ...], full: dict[str, np.ndarray] | None, n_boot: int = 200, seed: int = 0,
                   workers: int = 1) -> tuple[list[int], dict[str, list[Interval]]]:
    """Raw-score test AUROC (subject-bootstrap interval) of each model fitted on subsets of `train`.

    Subsets are whole subjects, nested (a larger subset contains the smaller ones for a given seed);
    validation (early stopping) and test stay fixed. The last point is the whole training split: read
    from `full` (each model's raw test predictions when fitted on all of it, already computed), or fitted
    here when `full` is None. The fits run `workers` at a time (`ehrlib.workers.ordered_map`: the same
    predictions with any number). Returns the sizes and, per model, a list of `Interval`.
    """
    groups = test.subject_ids
    subsets = [train.take(subsample_subjects(train, size, seed)) for size in sorted({s for s in sizes if s < len(train)})]
    subsets.append(train)
    jobs = [(sub, name) for sub in (subsets if full is None else subsets[:-1]) for name in fitters]
    preds = ordered_map(lambda job: fitters[job[1]](job[0], val)(test), jobs, workers)
    if full is not None:
        jobs += [(train, name) for name in fitters]
        preds += [full[name] for name in fitters]
    auroc: dict[str, list[Interval]] = {name: [] for name in fitters}
    for (sub, name), p in zip(jobs, preds):
        auroc[name].append(grouped_bootstrap(test.y, p, groups=groups, n_boot=n_boot, seed=seed)["auroc"])
        log.info("learning curve: %s on %d episodes, AUROC %.3f", name, len(sub), auroc[name][-1].value)
    return [len(sub) for sub in subsets], auroc
