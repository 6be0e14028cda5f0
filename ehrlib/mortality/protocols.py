"""The real-data study (chapter 09): every mortality model under two protocols on PhysioNet 2012.

- **challenge** (the PhysioNet 2012 challenge's own design): models are cross-fitted on set A
  (`evaluation.crossfit`: five patient folds, each fold's model fitted on the other four with an
  inner validation share for early stopping only); calibrator and F1 threshold are chosen on the
  out-of-fold predictions over all of set A, and each of the five fold models is scored once on set B.
  A run is one fold's model with its own seed, so a model's spread over runs is the spread over
  seeds *and* training subsets, and the paired differences are taken run by run.
- **kfold**: five-fold cross-validation over sets A and B pooled; each held-out fold is scored once
  with a calibrator and threshold fitted on its own inner validation predictions.

Models are the book's (`pipelines` fitters: the replication's LSTM, the benchmark regression, boosted
trees, missingness only, NEWS2-style) plus the organisers' SAPS-I and SOFA, used as risk scores
(`clinical_score_fitter`), and, for the ablation, the same models with the static descriptors
removed (`without_descriptors`). Results are the typed records of `real_results`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from ehrlib.evaluation.bootstrap import Interval, grouped_paired_bootstrap, replicate_metrics
from ehrlib.evaluation.challenge import challenge_scores
from ehrlib.evaluation.crossfit import CrossFit, CrossFitConfig, cross_fit
from ehrlib.evaluation.metrics import ranking_metrics
from ehrlib.evaluation.protocol import FittedProtocol, fit_protocol, score_test
from ehrlib.icu.episodes import EpisodeSet
from ehrlib.files import atomic_write_bytes
from sklearn.linear_model import LogisticRegression

from ehrlib.mortality.baselines import FeatureStandardiser
from ehrlib.mortality.lstm import LstmConfig
from ehrlib.mortality.news2 import choose_window
from ehrlib.mortality.pipelines import (Fitter, gbt_fitter, logistic_fitter, lstm_fitter, missingness_fitter)
from ehrlib.mortality.real_results import ModelRuns, ProtocolResult, RunRecord
from ehrlib.workers import ordered_map

MakeFitters = Callable[[int], dict[str, Fitter]]
PREDICTIONS_FILE = "predictions.csv"
NO_DESCRIPTORS = "_no_descriptors"


@dataclass(frozen=True)
class StudyConfig:
    """Folds, inner validation shares (early stopping; the k-fold protocol's calibration), bootstrap
    resamples, seed, the reference models every model is paired with, and how many fits run at once
    (`evaluation.crossfit`: the same predictions with any number)."""

    n_splits: int = 5
    inner_splits: int = 8
    kfold_inner_splits: int = 5
    n_boot: int = 1000
    ablation_boot: int = 200  # the ablation's copies: only their point AUROCs are compared, run by run
    seed: int = 0
    references: tuple[str, ...] = ("gbt", "logistic_regression")
    workers: int = 1


def drop_descriptors(episodes: EpisodeSet) -> EpisodeSet:
    """The same episodes without their static descriptors (arrays shared, not copied)."""
    return replace(episodes, static=None, static_names=[])


def without_descriptors(fit: Fitter) -> Fitter:
    """A fitter that never sees the static descriptors, in fitting or predicting."""
    def fit_plain(train: EpisodeSet, val: EpisodeSet) -> Callable[[EpisodeSet], np.ndarray]:
        predict = fit(drop_descriptors(train), drop_descriptors(val))
        return lambda episodes: predict(drop_descriptors(episodes))
    return fit_plain


def clinical_score_fitter(scores: pd.Series) -> Fitter:
    """A published severity score (SAPS-I, SOFA by subject id) as a model: its value is the risk score;
    an unknown score takes the median of the training stays' known scores."""
    def fit(train: EpisodeSet, val: EpisodeSet) -> Callable[[EpisodeSet], np.ndarray]:
        median = float(np.nanmedian(scores.reindex(train.subject_ids).to_numpy(dtype=np.float64)))
        return lambda eps: np.nan_to_num(scores.reindex(eps.subject_ids).to_numpy(dtype=np.float64), nan=median)
    return fit


def news2_fitter() -> Fitter:
    """The NEWS2-style score with its window chosen on the validation stays."""
    return lambda train, val: choose_window(val)[0].score


def is_ablation(name: str) -> bool:
    """Whether a model is one of the descriptor ablation's copies (scored with `ablation_boot` resamples)."""
    return name.endswith(NO_DESCRIPTORS) or name == "descriptors_only"


def descriptors_fitter(C: float = 1.0) -> Fitter:
    """L2 logistic regression on the static descriptors alone (age, sex, height, weight, ICU type),
    mean-imputed and standardised on the training stays: what the admission facts say by themselves."""
    def fit(train: EpisodeSet, val: EpisodeSet) -> Callable[[EpisodeSet], np.ndarray]:
        scaler = FeatureStandardiser().fit(train.static)
        model = LogisticRegression(C=C, max_iter=1000).fit(scaler.transform(train.static), np.asarray(train.y))
        return lambda eps: model.predict_proba(scaler.transform(eps.static))[:, 1]
    return fit


def study_fitters(outcomes: pd.DataFrame, lstm: LstmConfig | None, seed: int = 0, ablation: bool = True,
                  lstm_ablation: bool = True) -> MakeFitters:
    """The chapter's models for fold `k` (each fold's LSTM and trees seeded `seed + k`): the replication's
    LSTM (when `lstm` is given), the baselines, NEWS2-style, the organisers' SAPS-I and SOFA (`outcomes`
    by RecordID), and for the ablation the LSTM, regression and trees without descriptors and a
    regression on the descriptors alone."""
    def make(k: int) -> dict[str, Fitter]:
        fit: dict[str, Fitter] = {}
        if lstm is not None:
            fit["lstm"] = lstm_fitter(lstm, seed=seed + k)
        fit.update({"logistic_regression": logistic_fitter(), "gbt": gbt_fitter(seed=seed + k),
                    "missingness": missingness_fitter(), "news2": news2_fitter(),
                    "saps1": clinical_score_fitter(outcomes["saps1"]), "sofa": clinical_score_fitter(outcomes["sofa"])})
        if ablation:
            plain = {"logistic_regression": logistic_fitter(), "gbt": gbt_fitter(seed=seed + k)}
            if lstm is not None and lstm_ablation:
                plain["lstm"] = lstm_fitter(lstm, seed=seed + k)
            fit.update({name + NO_DESCRIPTORS: without_descriptors(f) for name, f in plain.items()})
            fit["descriptors_only"] = descriptors_fitter()
        return fit
    return make


def _run(name: str, k: int, seed: int, fitted: FittedProtocol, p: dict[str, np.ndarray], y: np.ndarray,
         groups: np.ndarray, config: StudyConfig, n_fit: int, ref_reps: dict) -> tuple[RunRecord, np.ndarray]:
    """Score one run of model `name` once (raw scores of every model in `p`, for the paired differences;
    `ref_reps`, from `_reference_replicates`, holds the references' bootstrap replicates of this run)."""
    n_boot = config.ablation_boot if is_ablation(name) else config.n_boot
    record, p_cal = score_test(fitted, p[name], y, groups, n_boot, config.seed, curve_boot=0)  # runs compared by spread
    e1, e2 = challenge_scores(y, p_cal, fitted.choice.threshold, groups=groups, n_boot=n_boot, seed=config.seed)
    diffs = {}
    for ref in config.references:
        if ref != name and ref in p:
            d = grouped_paired_bootstrap(y, p[name], p[ref], groups=groups, n_boot=n_boot, seed=config.seed,
                                         reps_b=ref_reps[(ref, n_boot)])
            diffs[ref] = Interval(d["auroc"]["value"], d["auroc"]["ci_low"], d["auroc"]["ci_high"])
    return RunRecord(run=k, seed=seed, n_fit=n_fit, evaluation=record, event1=e1, event2=e2, diff_auroc=diffs), p_cal


@dataclass
class ProtocolRun:
    """A protocol's typed result, the cross-fit behind it and the calibrated scored predictions."""

    result: ProtocolResult
    crossfit: CrossFit
    calibrated: dict[str, np.ndarray]  # model -> (runs, n_scored) for the challenge, (n,) for the k-fold
    seconds: float


def _reference_replicates(p: dict[str, np.ndarray], y: np.ndarray, groups: np.ndarray, config: StudyConfig
                          ) -> dict[tuple[str, int], dict[str, np.ndarray]]:
    """The references' bootstrap replicates of one run, for every resample count its models use (computed
    once, before the models are scored, so that models scored side by side share them)."""
    counts = {config.ablation_boot if is_ablation(name) else config.n_boot for name in p}
    return {(ref, n): replicate_metrics(y, p[ref], groups=groups, n_boot=n, seed=config.seed)
            for ref in config.references if ref in p for n in counts}


def challenge_protocol(a: EpisodeSet, b: EpisodeSet, make_fitters: MakeFitters,
                       config: StudyConfig = StudyConfig()) -> ProtocolRun:
    """Cross-fit on set A, calibrate and threshold on its out-of-fold predictions, score set B per run
    (models scored `config.workers` at a time)."""
    start = time.perf_counter()
    cf = cross_fit(a, make_fitters, b, CrossFitConfig(config.n_splits, config.inner_splits, config.seed, config.workers))
    y_a, y_b, groups = np.asarray(a.y).astype(int), np.asarray(b.y).astype(int), b.subject_ids
    n_fit = int(np.mean([len(a) - (cf.fold == k).sum() - len(cf.inner_idx[k]) for k in range(config.n_splits)]))
    p_runs = [{m: cf.test[m][k] for m in cf.test} for k in range(config.n_splits)]
    ref_reps = [_reference_replicates(p_k, y_b, groups, config) for p_k in p_runs]

    def score(name: str) -> tuple[ModelRuns, np.ndarray]:
        fitted = fit_protocol(cf.oof[name], y_a, seed=config.seed)
        runs = [_run(name, k, config.seed + k, fitted, p_runs[k], y_b, groups, config, n_fit, ref_reps[k])
                for k in range(config.n_splits)]
        return (ModelRuns.of([r for r, _ in runs], float(np.sum(cf.seconds[name])),
                             ranking_metrics(y_a, cf.oof[name])["auroc"]), np.stack([c for _, c in runs]))

    scored = dict(zip(cf.oof, ordered_map(score, list(cf.oof), config.workers)))
    models, calibrated = {m: r for m, (r, _) in scored.items()}, {m: c for m, (_, c) in scored.items()}
    result = ProtocolResult(
        protocol="challenge", description="fit on set A (out-of-fold calibration and threshold), score set B",
        n_fit=n_fit, n_scored=len(b), deaths_scored=int(y_b.sum()), n_splits=config.n_splits,
        n_boot=config.n_boot, references=[r for r in config.references if r in models], models=models)
    result.validate()
    return ProtocolRun(result, cf, calibrated, time.perf_counter() - start)


def kfold_protocol(pooled: EpisodeSet, make_fitters: MakeFitters, config: StudyConfig = StudyConfig()) -> ProtocolRun:
    """K-fold over the pooled sets: each fold scored once, calibrated on its own inner validation (models
    scored `config.workers` at a time)."""
    start = time.perf_counter()
    cf = cross_fit(pooled, make_fitters, None, CrossFitConfig(config.n_splits, config.kfold_inner_splits, config.seed,
                                                              config.workers))
    y, groups = np.asarray(pooled.y).astype(int), pooled.subject_ids
    runs: dict[str, list[RunRecord]] = {name: [] for name in cf.oof}
    calibrated = {name: np.full(len(pooled), np.nan) for name in cf.oof}
    for k in range(config.n_splits):
        held = cf.fold == k
        n_fit = int((~held).sum() - len(cf.inner_idx[k]))
        p_k = {m: cf.oof[m][held] for m in cf.oof}
        ref_reps = _reference_replicates(p_k, y[held], groups[held], config)

        def score(name: str) -> tuple[RunRecord, np.ndarray]:
            fitted = fit_protocol(cf.inner_val[name][k], y[cf.inner_idx[k]], seed=config.seed)
            return _run(name, k, config.seed + k, fitted, p_k, y[held], groups[held], config, n_fit, ref_reps)

        for name, (run, p_cal) in zip(cf.oof, ordered_map(score, list(cf.oof), config.workers)):
            runs[name].append(run)
            calibrated[name][held] = p_cal
    val_auroc = {name: float(np.mean([ranking_metrics(y[cf.inner_idx[k]], cf.inner_val[name][k])["auroc"]
                                      for k in range(config.n_splits)])) for name in cf.oof}
    models = {name: ModelRuns.of(r, float(np.sum(cf.seconds[name])), val_auroc[name]) for name, r in runs.items()}
    result = ProtocolResult(
        protocol="kfold", description=f"{config.n_splits}-fold cross-validation over sets A and B pooled",
        n_fit=int(np.mean([r.n_fit for r in next(iter(runs.values()))])), n_scored=len(pooled),
        deaths_scored=int(y.sum()), n_splits=config.n_splits, n_boot=config.n_boot,
        references=[r for r in config.references if r in models], models=models)
    result.validate()
    return ProtocolRun(result, cf, calibrated, time.perf_counter() - start)


def predictions_frame(run: ProtocolRun, fit_set: EpisodeSet, scored: EpisodeSet) -> pd.DataFrame:
    """Long table of every scored prediction: protocol, model, run, stay, label, raw and calibrated."""
    cf, parts = run.crossfit, []
    for name in cf.oof:
        if run.result.protocol == "challenge":
            for k in range(cf.test[name].shape[0]):
                parts.append(pd.DataFrame({"model": name, "run": k, "stay": scored.stays, "y": scored.y,
                                           "raw": cf.test[name][k], "calibrated": run.calibrated[name][k]}))
        else:
            parts.append(pd.DataFrame({"model": name, "run": cf.fold, "stay": scored.stays, "y": scored.y,
                                       "raw": cf.oof[name], "calibrated": run.calibrated[name]}))
    frame = pd.concat(parts, ignore_index=True)
    frame.insert(0, "protocol", run.result.protocol)
    return frame


def save_predictions(folder: Path, frames: list[pd.DataFrame]) -> Path:
    """Write the scored predictions of every protocol to `predictions.csv` (atomically)."""
    data = pd.concat(frames, ignore_index=True).to_csv(index=False, float_format="%.9g").encode()
    return atomic_write_bytes(Path(folder) / PREDICTIONS_FILE, data)


def recomputed_auroc(predictions: pd.DataFrame) -> pd.Series:
    """The raw-score AUROC of every (protocol, model, run) recomputed from the predictions table."""
    return predictions.groupby(["protocol", "model", "run"]).apply(
        lambda g: ranking_metrics(g["y"].to_numpy(), g["raw"].to_numpy())["auroc"], include_groups=False)
