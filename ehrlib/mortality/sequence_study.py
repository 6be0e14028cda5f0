"""Chapter 10's study: the sequence models under the real-data protocols, on real and synthetic stays.

The protocols are chapter 09's (`protocols.challenge_protocol`, `protocols.kfold_protocol`); this module
only supplies their fitters and collects the results. Every fold runs the two reference models (the
benchmark regression and boosted trees, seeded per fold as in chapter 09) beside the chosen sequence
models, so that every run is paired with the references of the same fold on the same resamples. On the
synthetic data the "challenge" design is applied to the profile's splits: models are cross-fitted on
(a fixed subset of) the training split, calibrated and thresholded on its out-of-fold predictions, and
every fold's model is scored once on the test split (`split_protocol`).

`SequenceResults` (`sequence_metrics.json`) holds the search, the specs, every protocol's typed
results per dataset, the learning curves and the timings; the predictions behind every AUROC are in
`<dataset>_predictions.csv` beside it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from ehrlib.evaluation.bootstrap import Interval
from ehrlib.files import atomic_write_bytes
from ehrlib.icu.episodes import EpisodeSet
from ehrlib.icu.reader import read_dataset
from ehrlib.records import Record
from ehrlib.mortality.lstm import LstmConfig
from ehrlib.mortality.pipelines import (Fitter, gbt_fitter, learning_curve, logistic_fitter, lstm_fitter,
                                       subsample_subjects)
from ehrlib.mortality.protocols import (MakeFitters, ProtocolRun, StudyConfig, challenge_protocol,
                                        predictions_frame)
from ehrlib.mortality.real_report import model_table as real_model_table
from ehrlib.mortality.real_results import ProtocolResult
from ehrlib.mortality.sequence_models import SequenceSpec, sequence_fitter
from ehrlib.mortality.sequence_search import SearchConfig, SearchResult, search_split
from ehrlib.physionet2012.files import ensure_physionet2012
from ehrlib.physionet2012.reader import read_physionet2012
from ehrlib.profiles import Profile

RESULTS_FILE = "sequence_metrics.json"
ModelFactory = Callable[[int], Fitter]  # seed -> fitter


@dataclass
class StudyData:
    """The chapter's stays: PhysioNet 2012 sets A (fit) and B (scored), and the synthetic training subset
    (fit) and test split (scored)."""

    a: EpisodeSet
    b: EpisodeSet
    syn_train: EpisodeSet
    syn_test: EpisodeSet

    def parts(self) -> dict[str, EpisodeSet]:
        """Each part under the label the chapter's data table gives it."""
        return {"PhysioNet 2012, set A (fit)": self.a, "PhysioNet 2012, set B (scored)": self.b,
                "Synthetic, training split (fit)": self.syn_train, "Synthetic, test split (scored)": self.syn_test}


def load_study_data(profile: Profile) -> StudyData:
    """Read PhysioNet 2012 (downloaded if missing) and the profile's synthetic splits; the synthetic training
    stays are a fixed patient subset of `sequence_synthetic_train` stays (all when 0)."""
    sets = read_physionet2012(ensure_physionet2012(progress=False), records=profile.physionet_records or None)
    synthetic = read_dataset(profile.icu_dir, progress=False)
    train = synthetic["train"]
    keep = subsample_subjects(train, profile.sequence_synthetic_train or len(train), profile.seed)
    return StudyData(a=sets["a"].episodes, b=sets["b"].episodes, syn_train=train.take(keep), syn_test=synthetic["test"])


def model_factories(reference: LstmConfig | None, specs: dict[str, SequenceSpec]) -> dict[str, ModelFactory]:
    """Seed -> fitter for the replication's LSTM (`lstm`, when `reference` is given) and each named spec."""
    out: dict[str, ModelFactory] = {}
    if reference is not None:
        out["lstm"] = lambda seed: lstm_fitter(reference, seed=seed)
    for name, spec in specs.items():
        out[name] = lambda seed, spec=spec: sequence_fitter(spec, seed=seed)
    return out


def sequence_fitters(models: dict[str, ModelFactory], seed: int = 0) -> MakeFitters:
    """Fold k's fitters: every model seeded `seed + k`, then boosted trees (seed + k) and the regression
    (the slowest first: `evaluation.crossfit` starts its jobs in this order)."""
    def make(k: int) -> dict[str, Fitter]:
        fit: dict[str, Fitter] = {name: factory(seed + k) for name, factory in models.items()}
        fit.update({"gbt": gbt_fitter(seed=seed + k), "logistic_regression": logistic_fitter()})
        return fit
    return make


def split_protocol(train: EpisodeSet, test: EpisodeSet, make_fitters: MakeFitters,
                   config: StudyConfig = StudyConfig()) -> ProtocolRun:
    """The challenge design on a dataset's own splits: cross-fit on `train`, score `test` per run."""
    run = challenge_protocol(train, test, make_fitters, config)
    run.result.protocol = "split"
    run.result.description = "cross-fit on the training split (out-of-fold calibration and threshold), score the test split"
    return run


@dataclass
class CurvePoint(Record):
    """One learning-curve point: model, training stays, raw-score AUROC on the scored set with its interval."""

    model: str
    n_train: int
    auroc: Interval


def search_curve(fit_set: EpisodeSet, scored: EpisodeSet, spec: SequenceSpec, name: str, sizes: tuple[int, ...],
                 config: SearchConfig, n_boot: int, workers: int = 1) -> list[CurvePoint]:
    """The learning curve of chapter 10: `spec` (labelled `name`), boosted trees and the regression fitted on
    nested patient subsets of the search's training stays (`sequence_search.search_split` with the search's
    `config`), stopped early on its validation stays, scored on `scored`; `workers` fits at a time."""
    train, val = search_split(fit_set, config)
    fitters = {name: sequence_fitter(spec, seed=config.seed), label("gbt"): gbt_fitter(seed=config.seed),
               label("logistic_regression"): logistic_fitter()}
    return learning_curve_points(train, val, scored, fitters, sizes, config.seed, n_boot, workers)


def learning_curve_points(train: EpisodeSet, val: EpisodeSet, test: EpisodeSet, fitters: dict[str, Fitter],
                          sizes: tuple[int, ...], seed: int = 0, n_boot: int = 200, workers: int = 1) -> list[CurvePoint]:
    """`pipelines.learning_curve` with the full-size point fitted there too: every model on nested patient
    subsets of `train` and on all of it (early stopping on the fixed `val`), scored on `test`, `workers`
    fits at a time."""
    ns, auroc = learning_curve(train, val, test, fitters, sizes, None, n_boot=n_boot, seed=seed, workers=workers)
    return [CurvePoint(model=name, n_train=n, auroc=iv) for name, ivs in auroc.items() for n, iv in zip(ns, ivs)]


@dataclass
class SequenceResults(Record):
    """`sequence_metrics.json`: search, specs, protocols per dataset, learning curves, timings (seconds)."""

    search: SearchResult
    specs: dict[str, SequenceSpec]
    protocols: dict[str, dict[str, ProtocolResult]]  # dataset -> protocol -> result
    curves: dict[str, list[CurvePoint]] = field(default_factory=dict)  # dataset -> points
    timings: dict[str, float] = field(default_factory=dict)


def save_predictions(folder: Path, dataset: str, runs: list[tuple[ProtocolRun, EpisodeSet, EpisodeSet]]) -> Path:
    """Write `<dataset>_predictions.csv`: every scored prediction of every protocol (chapter 09's columns:
    protocol, model, run, stay, y, raw, calibrated), atomically."""
    frames = []
    for run, fit_set, scored in runs:
        name = run.result.protocol
        if name == "split":  # the challenge design under its synthetic name
            run = replace(run, result=replace(run.result, protocol="challenge"))
        frames.append(predictions_frame(run, fit_set, scored).assign(protocol=name))
    frame = pd.concat(frames, ignore_index=True)
    data = frame.to_csv(index=False, float_format="%.9g").encode()
    return atomic_write_bytes(Path(folder) / f"{dataset}_predictions.csv", data)


def seed_mean_table(results: dict[str, ProtocolResult], models: list[str]) -> pd.DataFrame:
    """AUROC mean and SD over runs and the mean paired difference from the trees and the regression,
    one row per (protocol, model present)."""
    rows = []
    for protocol, res in results.items():
        for m in models:
            if m not in res.models:
                continue
            sp = res.models[m].spread
            row = {"protocol": protocol, "model": m, "runs": sp["auroc"].n, "auroc_mean": sp["auroc"].mean,
                   "auroc_sd": sp["auroc"].sd, "validation_auroc": res.models[m].validation_auroc}
            for ref in ("gbt", "logistic_regression"):
                key = f"diff_auroc_{ref}"
                row[f"minus_{ref}"] = sp[key].mean if key in sp else np.nan
            rows.append(row)
    return pd.DataFrame(rows)


LABELS = {"lstm": "LSTM (replication)", "lstm_tuned": "LSTM, trained well", "grud": "GRU-D",
          "attention": "Attention over hours", "gbt": "Boosted trees", "logistic_regression": "Benchmark regression"}


def label(name: str) -> str:
    """A model's name as chapter 10 writes it."""
    return LABELS.get(name, name)


def best_new_model(result: ProtocolResult, candidates: tuple[str, ...] = ("lstm_tuned", "grud", "attention")) -> str:
    """The new sequence model with the highest validation AUROC (out of fold over the fitting set): the one
    choice the chapter makes between its models, on validation only."""
    present = [m for m in candidates if m in result.models]
    if not present:
        raise ValueError(f"none of {list(candidates)} is among the models {sorted(result.models)}")
    return max(present, key=lambda m: result.models[m].validation_auroc)


def _auroc_fast(y: np.ndarray, p: np.ndarray) -> float:
    """AUROC by the rank-sum formula (ties averaged), vectorised; NaN with one class only."""
    from scipy.stats import rankdata

    pos = y == 1
    n1, n0 = int(pos.sum()), int((~pos).sum())
    if n1 == 0 or n0 == 0:
        return float("nan")
    return float((rankdata(p)[pos].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def seed_mean_difference(run: ProtocolRun, y: np.ndarray, model: str, ref: str, n_boot: int = 1000,
                         seed: int = 0) -> Interval:
    """The paired AUROC difference `model` minus `ref` averaged over the runs, with a 95 % bootstrap
    interval: stays are resampled (once for all runs when they score the same stays, as in the challenge
    and split designs; within each fold for the k-fold design) and the mean over runs of the per-run
    difference is recomputed on each resample. `y` holds the labels of the scored stays (the test set,
    or the pooled set for the k-fold design). This is the interval of the seed-mean difference."""
    cf, rng, labels = run.crossfit, np.random.default_rng(seed), np.asarray(y).astype(int)
    if run.result.protocol == "kfold":
        folds = [np.flatnonzero(cf.fold == k) for k in range(int(cf.fold.max()) + 1)]
        runs = [(labels[i], cf.oof[model][i], cf.oof[ref][i]) for i in folds]
    else:
        runs = [(labels, cf.test[model][k], cf.test[ref][k]) for k in range(cf.test[model].shape[0])]
    value = float(np.mean([_auroc_fast(t, a) - _auroc_fast(t, b) for t, a, b in runs]))
    shared = run.result.protocol != "kfold"
    boots = np.empty(n_boot)
    for i in range(n_boot):
        idx = rng.integers(0, len(runs[0][0]), len(runs[0][0])) if shared else None
        diffs = []
        for t, a, b in runs:
            j = idx if shared else rng.integers(0, len(t), len(t))
            diffs.append(_auroc_fast(t[j], a[j]) - _auroc_fast(t[j], b[j]))
        boots[i] = np.nanmean(diffs)
    low, high = np.nanpercentile(boots, [2.5, 97.5])
    return Interval(value, float(low), float(high))


def spec_table(specs: dict[str, SequenceSpec]) -> pd.DataFrame:
    """One row per new model: its inputs, training (loss, learning rate, batch, epochs) and architecture."""
    def arch(s: SequenceSpec) -> str:
        if s.kind == "lstm":
            return (f"LSTM {s.lstm_config().units}, dropout {s.lstm_dropout:g} inputs, "
                    f"{s.lstm_recurrent_dropout:g} recurrent, {s.lstm_head_dropout:g} head")
        if s.kind == "grud":
            g = s.grud
            return f"GRU-D {g.units}, dense {list(g.dense)}, dropout {g.head_dropout:g}, L2 {g.l2:g}"
        t = s.attention
        return (f"{t.layers} encoder block{'s' if t.layers != 1 else ''}, d_model {t.d_model}, {t.heads} heads, feed-forward {t.ff_units}, "
                f"dense {list(t.dense)}, dropout {t.head_dropout:g}")
    return pd.DataFrame([{"Model": label(k), "Inputs": s.inputs.label, "Training": s.train.label,
                          "Batch, epochs (patience)": f"{s.train.batch_size}, {s.train.max_epochs} ({s.train.patience})",
                          "Architecture": arch(s)} for k, s in specs.items()])


def model_table(result: ProtocolResult, names: list[str]) -> pd.DataFrame:
    """Chapter 9's model table (`real_report.model_table`) for the models of `names` present, with chapter
    10's labels and the mean seconds per run (fit and predict)."""
    names = [m for m in names if m in result.models]
    out = real_model_table(result, names)
    out["Model"] = [label(m) for m in names]
    out["Seconds per run"] = [round(result.models[m].seconds / len(result.models[m].runs), 1) for m in names]
    return out


def run_aurocs(result: ProtocolResult, names: list[str]) -> dict[str, list[float]]:
    """Each present model's scored AUROC of every run, under chapter 10's labels (for `plots.runs_figure`)."""
    return {label(m): [r.evaluation.auroc.value for r in result.models[m].runs] for m in names if m in result.models}


def curve_series(points: list[CurvePoint]) -> tuple[list[int], dict[str, list[Interval]]]:
    """The learning curve's sizes and each model's intervals in size order (for `plots.learning_size_figure`)."""
    sizes = sorted({p.n_train for p in points})
    models = list(dict.fromkeys(p.model for p in points))
    by = {(p.model, p.n_train): p.auroc for p in points}
    return sizes, {m: [by[(m, n)] for n in sizes] for m in models}


def curve_trend(points: list[CurvePoint], model: str, ref: str) -> str:
    """What the last step of the learning curve says: whether `model` gained more AUROC than `ref` between
    the two largest training sizes (the gap then widens in its favour) or less (the gap narrows or turns)."""
    sizes, series = curve_series(points)
    if len(sizes) < 2:
        return "a single training size says nothing about the trend"
    gain = {m: series[m][-1].value - series[m][-2].value for m in (model, ref)}
    gap = series[model][-1].value - series[ref][-1].value
    trend = "gains more than" if gain[model] > gain[ref] else "gains less than"
    return (f"from {sizes[-2]:,} to {sizes[-1]:,} stays the {model} {trend} the {ref.lower()} "
            f"({gain[model]:+.3f} against {gain[ref]:+.3f}), ending {abs(gap):.3f} "
            f"{'above' if gap > 0 else 'below' if gap < 0 else 'level with'} them")
