"""Chapter 10's tables and sentences: what the page shows of the sequence-model study, read from its results.

Each function takes what `sequence_study` and `sequence_search` produced and returns a table (a data frame
for `plots.frame_html`) or the values the chapter's prose glues; nothing here trains or scores a model
except `goal_summary`, `protocol_facts` and `save_study`'s recomputation, which only resample or re-read
saved predictions. The one choice between models, the best new one, is made on validation
(`sequence_study.best_new_model`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ehrlib.booktext import duration, interval, spread
from ehrlib.evaluation.bootstrap import Interval
from ehrlib.icu.episodes import EpisodeSet
from ehrlib.mortality.protocols import ProtocolRun
from ehrlib.mortality.real_report import difference_sentence, recompute_check
from ehrlib.mortality.sequence_search import SearchResult
from ehrlib.mortality.sequence_study import (RESULTS_FILE, CurvePoint, SequenceResults, curve_series, curve_trend,
                                             label, save_predictions, seed_mean_difference)
from ehrlib.mortality.time_inputs import TimePreprocessor

NEW_MODELS = ("lstm_tuned", "grud", "attention")
GOAL_AUROC = 0.86  # the target on the challenge protocol (fit on A, score B)


def data_table(parts: dict[str, EpisodeSet]) -> pd.DataFrame:
    """One row per dataset part (its label: the stays): number of stays and mortality."""
    return pd.DataFrame([{"Data": name, "Stays": len(es), "Mortality": f"{es.y.mean():.1%}"}
                         for name, es in parts.items()])


def inputs_example(fit_set: EpisodeSet, hours: int = 8, n_vars: int = 3) -> pd.DataFrame:
    """The first stay of `fit_set` as the time-aware models read it (values, mask, hours since observed)
    for its first `hours` hours and `n_vars` variables, the preprocessor fitted on `fit_set`."""
    arrays = TimePreprocessor.fit(fit_set).transform(fit_set.take(np.arange(1)))
    names = list(fit_set.variables[:n_vars])
    frames = {k: pd.DataFrame(arrays[k][0, :hours, :n_vars], columns=names) for k in ("values", "mask", "delta")}
    table = pd.concat(frames, axis=1).round(2)
    table.columns = [f"{var} ({part})" for part, var in table.columns]
    return table.rename_axis("hour").reset_index()


def search_table(found: SearchResult) -> pd.DataFrame:
    """Every candidate the search trained: stage, change, validation AUROC, seconds and whether it was kept."""
    return pd.DataFrame([{"Stage": r.stage, "Candidate": r.label, "Validation AUROC": round(r.val_auroc, 4),
                          "Seconds": round(r.seconds), "Kept": "yes" if r.kept else ""} for r in found.rows])


def search_facts(found: SearchResult, batch_size: int, seconds: float) -> dict[str, Any]:
    """The search's sentence: what it chose (loss, dropout, inputs), how many settings it trained and how long."""
    c = found.chosen
    return {"chosen_loss": c.train.label, "chosen_inputs": c.inputs.label,
            "chosen_dropout": f"{c.lstm_dropout:g} on inputs, {c.lstm_head_dropout:g} in the head, "
                              f"{c.lstm_recurrent_dropout:g} recurrent",
            "search_n": len({r.spec for r in found.rows}), "batch": batch_size, "search_time": duration(seconds),
            "search_val_n": f"{len(found.val_stays):,}"}


def goal_summary(run: ProtocolRun, y: np.ndarray, n_boot: int, seed: int
                 ) -> tuple[pd.DataFrame, dict[str, Interval], dict[str, Any]]:
    """The challenge protocol's headline: per sequence model its AUROC over runs, the seed-mean difference
    from the trees with its interval and the per-run differences from the regression (a table); those
    intervals; and the prose's values, with whether any new model meets the goal (seed-mean AUROC at least
    `GOAL_AUROC` and an interval above zero against the trees)."""
    res = run.result
    names = ["lstm", *(m for m in NEW_MODELS if m in res.models)]
    goal = {m: seed_mean_difference(run, y, m, "gbt", n_boot, seed) for m in names}
    table = pd.DataFrame([{"Model": label(m), "AUROC (mean ± SD over runs)": spread(res.models[m].spread["auroc"]),
                           "Minus boosted trees, seed mean (95 % CI)": interval(goal[m], signed=True),
                           "Minus regression, per run": difference_sentence(res, m, "logistic_regression")}
                          for m in names])
    met = [m for m in names[1:] if goal[m].ci_low > 0 and res.models[m].spread["auroc"].mean >= GOAL_AUROC]
    return table, goal, {"goal": goal_sentence([label(m) for m in met])}


def goal_sentence(met: list[str]) -> str:
    """Whether the goal was met, and by which models."""
    if met:
        return "met by " + ", ".join(met)
    return (f"not met by any new model: none has both a seed-mean AUROC of at least {GOAL_AUROC:.2f} and a "
            "seed-mean difference from the trees whose interval lies above zero")


def best_facts(run: ProtocolRun, best: str, goal: dict[str, Interval]) -> dict[str, Any]:
    """The challenge protocol's sentence on the best new model (chosen on validation) beside the reference
    LSTM, the trees and the regression."""
    res = run.result
    return {"best": label(best), "best_val": res.models[best].validation_auroc,
            "best_auroc": spread(res.models[best].spread["auroc"]), "ref_auroc": spread(res.models["lstm"].spread["auroc"]),
            "gbt_auroc": spread(res.models["gbt"].spread["auroc"]),
            "lr_auroc": spread(res.models["logistic_regression"].spread["auroc"]),
            "best_vs_gbt": interval(goal[best], signed=True), "best_vs_gbt_runs": difference_sentence(res, best, "gbt"),
            "best_vs_lr_runs": difference_sentence(res, best, "logistic_regression")}


def second_protocol_sentence(models: list[str], best: str) -> str:
    """Which sequence models the second protocol and the synthetic data run: all of them, or (to save time,
    when the profile's `sequence_every_model` is off) the best new model on validation only."""
    if set(NEW_MODELS) <= set(models):
        return ("Every model runs here and on the synthetic data too: the replication's LSTM, the three new "
                "models, the boosted trees and the regression.")
    return (f"To save time this protocol and the synthetic data run the replication's LSTM and only the best new "
            f"model on validation, the {label(best)}, beside the trees and the regression (the profile's "
            "`sequence_every_model` runs all of them).")


def protocol_facts(run: ProtocolRun, y: np.ndarray, best: str, n_boot: int, seed: int, prefix: str) -> dict[str, Any]:
    """A second protocol's sentence (`prefix` names it): the best new model, the reference LSTM, the trees and
    the regression over runs, the seed-mean difference from the trees and the per-run one from the regression."""
    res = run.result
    diff = seed_mean_difference(run, y, best, "gbt", n_boot, seed)
    values = {"best": res.models[best].spread["auroc"], "ref": res.models["lstm"].spread["auroc"],
              "gbt": res.models["gbt"].spread["auroc"], "lr": res.models["logistic_regression"].spread["auroc"]}
    out = {f"{prefix}_{k}": spread(v) for k, v in values.items()}
    out.update({f"{prefix}_vs_gbt": interval(diff, signed=True),
                f"{prefix}_vs_lr": difference_sentence(res, best, "logistic_regression")})
    return out


def curve_facts(points: list[CurvePoint], model: str, ref: str = label("gbt")) -> dict[str, str]:
    """The learning curve's sentence: each size's AUROC per model, and the last step's trend."""
    sizes, series = curve_series(points)
    by_size = "; ".join(f"{n:,} stays: " + ", ".join(f"{m} {s[i].value:.3f}" for m, s in series.items())
                        for i, n in enumerate(sizes))
    half = float(np.median([(p.auroc.ci_high - p.auroc.ci_low) / 2 for p in points]))
    return {"curve": by_size, "trend": curve_trend(points, model, ref), "halfwidth": f"{half:.3f}"}


def save_study(folder: Path, results: SequenceResults, real: list[tuple[ProtocolRun, EpisodeSet, EpisodeSet]],
               synthetic: list[tuple[ProtocolRun, EpisodeSet, EpisodeSet]]) -> dict[str, str]:
    """Write the typed results and both predictions files, then recompute every run's AUROC from the files;
    returns the sentence of that check and where the time went."""
    folder.mkdir(parents=True, exist_ok=True)
    results.save(folder / RESULTS_FILE)
    checks = []
    for dataset, stem, runs in (("PhysioNet 2012", "physionet2012", real), ("synthetic", "synthetic", synthetic)):
        path = save_predictions(folder, stem, runs)
        checks.append(f"{dataset}: " + recompute_check(pd.read_csv(path), {r.result.protocol: r.result for r, _, _ in runs}))
    parts = ", ".join(f"{k.removesuffix('_seconds')} {duration(v)}" for k, v in results.timings.items()
                      if k != "chapter_seconds")
    return {"check": "; ".join(checks), "parts": parts}
