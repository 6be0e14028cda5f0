"""The headroom study of chapter 01: what the synthetic ICU data permit before any model is trained.

Every row is a score on the test stays, from models fitted on the train stays: the true risk (the ceiling),
gradient-boosted trees on the exact latent trajectory and on the latent state at hour 48 (their difference is
the signal in the course), the MIMIC-III benchmark's regression, and regressions on last values, 48-hour
means and observation counts. `headroom_study` gives each AUROC with its subject-bootstrap interval, each
row's distance to the true risk and the trajectory-minus-state difference with paired intervals (the same
resampled subjects for both scores). It sits in `mortality` (not `icu.describe`, where its latent-feature
helpers live) because one row is the benchmark's regression, a mortality baseline: imports run downwards.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from ehrlib.booktext import interval
from ehrlib.evaluation.bootstrap import Interval, grouped_bootstrap, grouped_paired_bootstrap, replicate_metrics
from ehrlib.icu.describe import gbt_scores, last_values, latent_features, lr_scores, window_means
from ehrlib.icu.synth import IcuCohort
from ehrlib.icu.tour import direction, interval_word, same_word
from ehrlib.mortality.baselines import LogisticBaseline

#: The rows, in order: short key, name, inputs.
ROWS: tuple[tuple[str, str, str], ...] = (
    ("true", "true risk (the ceiling)", "the generator's latent risk"),
    ("traj", "gradient boosting on the latent trajectory (every 2 h)", "age, admission, severity and organ factors"),
    ("state48", "gradient boosting on the latent state at hour 48", "age, admission, severity and organ factors"),
    ("bench", "benchmark regression, 7 sub-windows x 6 statistics", "charted values"),
    ("last", "regression on last values", "charted values"),
    ("means", "regression on 48-h means", "charted values"),
    ("counts", "regression on observation counts (missingness only)", "what was charted, not its value"))


def headroom_scores(cohort: IcuCohort, train, test) -> dict[str, np.ndarray]:
    """Each `ROWS` key's scores of the test stays, every model fitted on `train` (objects with `values`, `mask`,
    `y`, `variables`, `stays`, `true_risk`: an `EpisodeSet` read from disk or `icu.describe.cohort_split`);
    `cohort` supplies the latent state of the same stays (the in-memory simulation of the same config)."""
    ytr = np.asarray(train.y).astype(int)
    out = {"true": np.asarray(test.true_risk, dtype=float)}
    for key, trajectory in (("traj", True), ("state48", False)):
        x = [latent_features(cohort, s.stays, trajectory) for s in (train, test)]
        out[key] = gbt_scores(x[0], ytr, x[1])
    out["bench"] = LogisticBaseline().fit(train).predict_proba(test)
    for key, f in (("last", lambda s: last_values(s.values, s.mask)), ("means", lambda s: window_means(s.values)),
                   ("counts", lambda s: s.mask.sum(axis=1).astype(float))):
        out[key] = lr_scores(f(train), ytr, f(test))
    return out


def headroom(cohort: IcuCohort, train, test) -> pd.DataFrame:
    """The headroom table without intervals: each row's name, inputs and test AUROC (`headroom_scores`)."""
    yte = np.asarray(test.y).astype(int)
    scores = headroom_scores(cohort, train, test)
    rows = [(name, inputs, float(roc_auc_score(yte, scores[key]))) for key, name, inputs in ROWS]
    return pd.DataFrame(rows, columns=["model", "inputs", "test AUROC"]).set_index("model")


def stay_subjects(stays: np.ndarray) -> np.ndarray:
    """The subject of each stay name (`{SUBJECT_ID}_episode...`): the unit the bootstrap resamples."""
    return pd.Series(np.asarray(stays, dtype=str)).str.partition("_episode")[0].to_numpy()


def _paired(d: dict[str, float], value: float) -> Interval:
    """The paired bootstrap's interval of a difference around `value`, the difference of scikit-learn's AUROCs."""
    return Interval(value, d["ci_low"], d["ci_high"])


@dataclass(frozen=True)
class Headroom:
    """The headroom study: each row's test AUROC with its interval, its AUROC minus the true risk's (paired),
    and trees on the latent trajectory minus trees on the state at hour 48 (paired); `n_boot` subject resamples."""

    auroc: dict[str, Interval]
    minus_true: dict[str, Interval]
    temporal: Interval
    n_boot: int

    def table(self) -> pd.DataFrame:
        """One row per model: name, inputs, test AUROC and its distance to the true risk, as interval text."""
        rows = [{"model": name, "inputs": inputs, "test AUROC": interval(self.auroc[key]),
                 "minus the true risk's": interval(self.minus_true[key], signed=True) if key != "true" else "–"}
                for key, name, inputs in ROWS]
        return pd.DataFrame(rows)


def headroom_study(cohort: IcuCohort, train, test, n_boot: int = 1000, seed: int = 0) -> Headroom:
    """`headroom_scores` with intervals (`headroom_intervals`)."""
    return headroom_intervals(headroom_scores(cohort, train, test), test, n_boot, seed)


def headroom_intervals(scores: dict[str, np.ndarray], test, n_boot: int = 1000, seed: int = 0) -> Headroom:
    """The intervals of `headroom_scores`' rows on `test`: a bootstrap of the test subjects (`n_boot` resamples
    from `seed`), the same resamples for every model, so that differences are paired."""
    y, groups = np.asarray(test.y).astype(int), stay_subjects(test.stays)
    kw = {"groups": groups, "n_boot": n_boot, "seed": seed}
    point = {key: float(roc_auc_score(y, s)) for key, s in scores.items()}
    auroc = {key: replace(grouped_bootstrap(y, s, **kw)["auroc"], value=point[key]) for key, s in scores.items()}
    true_reps = replicate_metrics(y, scores["true"], **kw)
    minus_true = {key: _paired(grouped_paired_bootstrap(y, s, scores["true"], reps_b=true_reps, **kw)["auroc"],
                               point[key] - point["true"]) for key, s in scores.items() if key != "true"}
    temporal = _paired(grouped_paired_bootstrap(y, scores["traj"], scores["state48"], **kw)["auroc"],
                       point["traj"] - point["state48"])
    return Headroom(auroc, minus_true, temporal, n_boot)


def headroom_facts(study: Headroom, single: pd.Series) -> dict[str, Any]:
    """What chapter 01's prose reads: each row's AUROC (`auc_<key>`) and its interval text (`iv_<key>`), each
    row's AUROC minus the true risk's (`gap_<key>`, paired interval text), the trajectory-minus-state difference
    (`auc_temporal`, `iv_temporal`) with the word its interval supports, and the best and worst single variable
    (`single`: `icu.describe.single_variable_aurocs`) against the benchmark's regression on every variable."""
    out: dict[str, Any] = {}
    for key, iv in study.auroc.items():
        out[f"auc_{key}"], out[f"iv_{key}"] = iv.value, interval(iv)
    out.update({f"gap_{key}": interval(iv, signed=True) for key, iv in study.minus_true.items()})
    t = study.temporal
    out.update({"auc_temporal": t.value, "iv_temporal": interval(t, signed=True), "n_boot": study.n_boot,
                "temporal_word": interval_word(t.ci_low, t.ci_high, "rank better than", "rank worse than",
                                               "cannot be told apart from"),
                "best_single": single.index[0], "best_single_auc": single.iloc[0],
                "worst_single": single.index[-1], "worst_single_auc": single.iloc[-1]})
    out["single_word"] = direction(single.iloc[0], out["auc_bench"], "above", "below", "equal to")
    out["gaps_word"] = same_word(all(iv.ci_high < 0 for iv in study.minus_true.values()), "every", "not every")
    return out
