"""Assembling the typed mortality results from what the chapters computed, and reloading artifacts.

The chapters call these instead of building dictionaries by hand: the data summary, the training
record, the true-risk oracle, the saved predictions (written by chapter 03, read back by 04 and 07,
matched by stay), the episode attributes for subgroups (the generator's `latent.csv`), the k-fold
record and the missingness-mechanism ablation on small generated datasets.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ehrlib.evaluation.bootstrap import Interval, calibration_intervals, grouped_bootstrap, grouped_paired_bootstrap
from ehrlib.evaluation.calibration import curve_intervals
from ehrlib.evaluation.subgroups import age_band
from ehrlib.icu.episodes import EpisodeSet
from ehrlib.icu.reader import read_dataset
from ehrlib.icu.synth import IcuConfig, RealismFlags, proportional_split
from ehrlib.icu.writer import generate_icu_dataset
from ehrlib.files import atomic_write_text
from ehrlib.mortality.bundle import save_artifacts, update_artifacts
from ehrlib.mortality.results import (Ablation, AblationRow, Comparison, DataSummary, KFoldResult, Oracle,
                                      PairedDifference, SplitCount, TrainingRecord, results_path, update_results)

log = logging.getLogger(__name__)
PREDICTIONS_FILE = "predictions.csv"


def data_summary(data: dict[str, EpisodeSet], external: bool) -> DataSummary:
    """Split sizes, deaths and subjects, variables and source of the dataset."""
    first = next(iter(data.values()))
    return DataSummary(
        splits={s: SplitCount(n=len(e), deaths=int(e.y.sum()), prevalence=float(e.y.mean()),
                              subjects=int(np.unique(e.subject_ids).size)) for s, e in data.items()},
        n_variables=len(first.variables), variables=list(first.variables),
        source="external" if external else "synthetic", has_true_risk=first.true_risk is not None)


def training_record(result: Any, prep: Any, n_train: int, masked: dict[str, float], val_scores: dict[str, float],
                    oracle_val_auroc: float | None) -> TrainingRecord:
    """Chapter 03's training record from the `TrainResult` and the fitted preprocessor."""
    return TrainingRecord(
        config=result.config.to_json(), n_parameters=int(result.model.count_params()), epochs_run=result.epochs_run,
        best_epoch=result.best_epoch, seconds=result.seconds, seconds_per_epoch=result.seconds_per_epoch,
        xla=bool(result.xla), n_train=n_train, n_features=prep.n_features, masked_step_fraction=masked,
        val_auroc_raw=val_scores["auroc"], val_auprc_raw=val_scores["auprc"], oracle_val_auroc=oracle_val_auroc,
        history=result.history)


def save_lstm_run(results_dir: Path, result: Any, prep: Any, parts: dict[str, tuple[EpisodeSet, np.ndarray]],
                  n_train: int, masked: dict[str, float], val_scores: dict[str, float], oracle_val_auroc: float | None,
                  load_seconds: float) -> list[str]:
    """Chapter 03's outputs: the model bundle and the raw predictions (`parts`: split to episodes and
    predictions) in `results_dir/mortality`, and a fresh results file holding the training record and the
    data-loading time; returns the files it wrote, relative to `results_dir`."""
    folder = Path(results_dir) / "mortality"
    written = [*save_artifacts(folder, result.model, prep).values(), save_predictions(folder, parts)]
    record = training_record(result, prep, n_train, masked, val_scores, oracle_val_auroc)
    update_results(results_dir, fresh=True, training=record, timings={"data_load_seconds": load_seconds})
    written.append(results_path(results_dir))
    return [str(Path(p).relative_to(results_dir)) for p in written]


def save_calibration(folder: Path, fitted: Any) -> None:
    """Chapter 04's fitted calibrator and threshold (`evaluate_model(...).fitted`) as `calibrator.json` and
    `threshold.json` in `folder`, and into the model's bundle there (one checked bundle)."""
    fitted.calibrator.save(Path(folder) / "calibrator.json")
    fitted.choice.save(Path(folder) / "threshold.json")
    update_artifacts(folder, calibrator=fitted.calibrator, threshold=fitted.choice)


def oracle_record(test: EpisodeSet, n_boot: int, seed: int) -> Oracle | None:
    """The true risk scored like a model on test (None when the data have no true risk)."""
    if test.true_risk is None:
        return None
    groups = test.subject_ids
    ranking = grouped_bootstrap(test.y, test.true_risk, groups=groups, n_boot=n_boot, seed=seed)
    ece = calibration_intervals(test.y, test.true_risk, groups=groups, n_boot=n_boot, seed=seed)["ece"]
    ici = curve_intervals(test.y, test.true_risk, groups=groups, n_boot=n_boot, seed=seed)["ici"]
    return Oracle(auroc=ranking["auroc"], auprc=ranking["auprc"], ece=ece, ici=ici)


def comparison(test: EpisodeSet, p_a: np.ndarray, p_b: np.ndarray, n_boot: int, seed: int) -> Comparison:
    """Paired subject bootstrap of model A minus model B on raw test scores."""
    paired = grouped_paired_bootstrap(test.y, p_a, p_b, groups=test.subject_ids, n_boot=n_boot, seed=seed)
    return Comparison(auroc=PairedDifference.from_bootstrap(paired["auroc"]),
                      auprc=PairedDifference.from_bootstrap(paired["auprc"]))


def save_predictions(directory: Path, parts: dict[str, tuple[EpisodeSet, np.ndarray]]) -> Path:
    """Write raw predictions with stay, subject, label and true risk for each split (atomically)."""
    frames = [pd.DataFrame({"split": name, "stay": es.stays, "subject_id": es.subject_ids, "y_true": es.y,
                            "true_risk": es.true_risk if es.true_risk is not None else np.nan, "p_raw": p})
              for name, (es, p) in parts.items()]
    return atomic_write_text(Path(directory) / PREDICTIONS_FILE, pd.concat(frames, ignore_index=True).to_csv(index=False))


def load_predictions(directory: Path, episodes: EpisodeSet, split: str) -> np.ndarray:
    """Raw predictions of `split` saved by chapter 03, in the order of `episodes`; labels must agree."""
    path = Path(directory) / PREDICTIONS_FILE
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file (run chapter 03 first)")
    pred = pd.read_csv(path)
    part = pred[pred["split"] == split].set_index("stay")
    missing = np.setdiff1d(episodes.stays, part.index.to_numpy())
    if missing.size:
        raise ValueError(f"{path}: {missing.size} {split} stays have no prediction (e.g. {missing[0]})")
    part = part.loc[episodes.stays]
    if not np.array_equal(part["y_true"].to_numpy(), episodes.y):
        raise ValueError(f"{path}: {split} labels do not match the dataset's {split} split")
    return part["p_raw"].to_numpy(dtype=np.float64)


def episode_attributes(icu_dir: Path, stays: np.ndarray) -> dict[str, np.ndarray] | None:
    """Age band, sex and admission type of each stay from the generator's `latent.csv`, or None when the
    dataset has no such file (the real benchmark's files lack these attributes)."""
    path = Path(icu_dir) / "latent.csv"
    if not path.exists():
        return None
    lat = pd.read_csv(path, usecols=["stay", "age", "sex", "admission_type"]).set_index("stay").loc[stays]
    return {"age band": age_band(lat["age"].to_numpy()), "sex": lat["sex"].to_numpy(dtype=str),
            "admission type": lat["admission_type"].to_numpy(dtype=str)}


def kfold_result(kfold: dict[str, Any], a: str = "lstm", b: str = "logistic_regression") -> KFoldResult:
    """The typed k-fold record from `evaluation.kfold.run_kfold`'s output, with the per-fold A - B AUROC."""
    models = [m for m in kfold["summary"]]
    folds = [{m: {k: float(v) for k, v in f[m].items()} for m in models if m in f} for f in kfold["folds"]]
    diff = [f[a]["auroc"] - f[b]["auroc"] for f in folds] if a in models and b in models else []
    return KFoldResult(n_splits=kfold["config"]["n_splits"], n_episodes=kfold["config"]["n_episodes"], folds=folds,
                       summary=kfold["summary"], diff_auroc=diff, seconds=float(kfold["seconds"]))


ABLATION_SETTINGS: dict[str, tuple[str, ...]] = {
    "all mechanisms on": (), "MAR off": ("mar",), "MNAR off": ("mnar",), "MAR and MNAR off": ("mar", "mnar")}


def missingness_ablation(n_episodes: int, fitters: dict[str, Any], seed: int = 0, n_boot: int = 200,
                         pair: tuple[str, str] = ("lstm", "logistic_regression")) -> Ablation:
    """Generate small datasets with the `mar`/`mnar` realism switches off (`ehrlib.icu.synth.RealismFlags`),
    fit each model on train (validation for early stopping), and score raw test AUROC (subject bootstrap);
    where both models of `pair` are fitted, also their paired AUROC difference in each setting."""
    rows, diffs, sizes = [], {}, (0, 0)
    with tempfile.TemporaryDirectory(prefix="ehrlib-ablation-") as tmp:
        for setting, off in ABLATION_SETTINGS.items():
            cfg = IcuConfig(n_episodes=n_episodes, split=proportional_split(n_episodes), seed=seed,
                            realism=RealismFlags().off(*off))
            root = generate_icu_dataset(Path(tmp) / setting.replace(" ", "_"), config=cfg, seed=seed, progress=False)
            data = read_dataset(root, cache=False, progress=False)
            train, val, test = data["train"], data["val"], data["test"]
            sizes, scores = (len(train), len(test)), {}
            for name, fit in fitters.items():
                scores[name] = fit(train, val)(test)
                auroc = grouped_bootstrap(test.y, scores[name], groups=test.subject_ids, n_boot=n_boot, seed=seed)["auroc"]
                rows.append(AblationRow(setting=setting, model=name, auroc=auroc))
                log.info("ablation %s: %s AUROC %.3f", setting, name, auroc.value)
            if set(pair) <= set(scores):
                paired = grouped_paired_bootstrap(test.y, scores[pair[0]], scores[pair[1]], groups=test.subject_ids,
                                                  n_boot=n_boot, seed=seed)["auroc"]
                diffs[setting] = Interval(paired["value"], paired["ci_low"], paired["ci_high"])
    return Ablation(n_episodes=n_episodes, rows=rows, n_train=sizes[0], n_test=sizes[1], diff_auroc=diffs)
