"""Describe a synthetic ICU dataset: Table 1, staleness of forward-filled values, and how hard the
mortality task is (the true risk's AUROC against logistic regressions on summaries, fitted on the train
split and scored on the test split). Nothing here draws data or makes a figure.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd

from ehrlib.icu.schema import UNITS, VARIABLES
from ehrlib.icu.synth import IcuCohort

def window_means(hourly: np.ndarray, start: int = 0, stop: int | None = None) -> np.ndarray:
    """Per-variable means of hourly values (n, T, F) over hours [start, stop), NaN-aware -> (n, F)."""
    part = hourly[:, start:stop]
    counts = np.sum(~np.isnan(part), axis=1)
    sums = np.nansum(part, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


def lr_scores(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray) -> np.ndarray:
    """Test-set probabilities of an L2 logistic regression fitted on train only (train-mean
    imputation and train standardisation; the test rows are only transformed and scored)."""
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    model = make_pipeline(SimpleImputer(strategy="mean", keep_empty_features=True), StandardScaler(),
                          LogisticRegression(max_iter=2000))
    model.fit(x_train, y_train)
    return model.predict_proba(x_test)[:, 1]


def lr_auroc(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, y_test: np.ndarray) -> float:
    """Test AUROC of `lr_scores` (a logistic regression fitted on train only)."""
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y_test, lr_scores(x_train, y_train, x_test)))


def difficulty(hourly: dict[str, np.ndarray], y: dict[str, np.ndarray], risk: dict[str, np.ndarray]) -> dict[str, float]:
    """How hard the task is: AUROC of the true risk (the best any model can do) and of logistic
    regressions on 48-hour means and on means of the first and last 12 hours, fitted on the train
    split and scored on the test split. `hourly` maps split -> (n, 48, 15) hourly values (NaN = not
    observed); `y` and `risk` map split -> labels and true risks."""
    from sklearn.metrics import roc_auc_score

    feats = {s: window_means(h) for s, h in hourly.items()}
    traj = {s: np.hstack([feats[s], window_means(h, 0, 12), window_means(h, h.shape[1] - 12, None)])
            for s, h in hourly.items()}
    all_y = np.concatenate([y[s] for s in y])
    all_r = np.concatenate([risk[s] for s in y])
    return {
        "auroc_true_risk_all": float(roc_auc_score(all_y, all_r)),
        "auroc_true_risk_test": float(roc_auc_score(y["test"], risk["test"])),
        "auroc_lr_means_test": lr_auroc(feats["train"], y["train"], feats["test"], y["test"]),
        "auroc_lr_means_first_last_12h_test": lr_auroc(traj["train"], y["train"], traj["test"], y["test"]),
    }


def table_one(latent: pd.DataFrame, hourly: np.ndarray,
              variables: Sequence[str] = ("Heart Rate", "Systolic blood pressure", "Respiratory rate",
                                          "Oxygen saturation", "Temperature", "Lactate", "Creatinine",
                                          "White blood cells", "Glucose")) -> pd.DataFrame:
    """A paper-style Table 1 by outcome: demographics, admission type, first-24-hour medians (IQR)
    of key variables (per-patient means over hours 0-24) and missingness (share of hourly bins
    without a value). `latent` and `hourly` must list the same episodes in the same order."""
    y = latent["y"].to_numpy()
    groups = {"survived": y == 0, "died": y == 1, "all": np.ones(len(y), bool)}
    first = window_means(hourly, 0, 24)
    rows: dict[str, dict[str, str]] = {}

    def med(x: np.ndarray, dec: int) -> str:
        x = x[~np.isnan(x)]
        q = np.percentile(x, [50, 25, 75]) if len(x) else [np.nan] * 3
        return f"{q[0]:.{dec}f} ({q[1]:.{dec}f}-{q[2]:.{dec}f})"

    for g, sel in groups.items():
        col: dict[str, str] = {"episodes, n": f"{sel.sum():,}",
                               "age, median (IQR)": med(latent["age"].to_numpy()[sel], 0),
                               "male, %": f"{100 * (latent['sex'].to_numpy()[sel] == 'M').mean():.1f}"}
        for a in ("EMERGENCY", "URGENT", "ELECTIVE"):
            col[f"admission {a.lower()}, %"] = f"{100 * (latent['admission_type'].to_numpy()[sel] == a).mean():.1f}"
        for v in variables:
            k = VARIABLES.index(v)
            dec = 1 if v in ("Temperature", "Lactate", "Creatinine", "White blood cells") else 0
            col[f"{v} ({UNITS[v]}), first 24 h"] = med(first[sel, k], dec)
        miss = np.isnan(hourly[sel]).mean(axis=(0, 1))
        col["hourly bins missing, vitals %"] = f"{100 * miss[:6].mean():.1f}"
        col["hourly bins missing, labs %"] = f"{100 * miss[6:].mean():.1f}"
        rows[g] = col
    return pd.DataFrame(rows).rename_axis("characteristic")


def hours_since_last(mask: np.ndarray) -> np.ndarray:
    """(n, T, F) hours since the variable was last observed (0 if observed now, NaN if never yet):
    how stale a forward-filled value is."""
    n, t, f = mask.shape
    idx = np.where(mask, np.arange(t)[None, :, None], -1)
    last = np.maximum.accumulate(idx, axis=1)
    return np.where(last >= 0, np.arange(t)[None, :, None] - last, np.nan).astype(np.float32)


def shift_of_clock(clock: np.ndarray) -> np.ndarray:
    """Nursing shift index (0 day 07-15, 1 evening 15-23, 2 night 23-07) of clock hours."""
    clock = np.asarray(clock) % 24
    return np.where((clock >= 7) & (clock < 15), 0, np.where((clock >= 15) & (clock < 23), 1, 2))


def clock_hours(latent: pd.DataFrame, n_hours: int = 48) -> np.ndarray:
    """(n, n_hours) clock hour at the middle of each hourly bin, from the admission clock time."""
    return (latent["admission_hour"].to_numpy()[:, None] + np.arange(n_hours)[None, :] + 0.5) % 24


def fluctuation_correlation(cohort: IcuCohort, variables: Sequence[str] = VARIABLES[:6]) -> pd.DataFrame:
    """Correlation of within-episode fluctuations: hourly values minus each episode's own mean."""
    hourly, _ = cohort.hourly()
    idx = [VARIABLES.index(v) for v in variables]
    x = hourly[:, :, idx]
    x = x - np.nanmean(x, axis=1, keepdims=True)
    flat = pd.DataFrame(x.reshape(-1, len(idx)), columns=list(variables))
    return flat.corr()


# ---------------------------------------------------------------------------------------------
# Headroom: what the data permit, before any model of the book is trained
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class HourlyEpisodes:
    """Hourly-binned episodes of one split, as the baselines read them (`values` NaN where not
    observed, `mask`, labels `y`, `variables`), with the stay names and the true risk."""

    values: np.ndarray
    mask: np.ndarray
    y: np.ndarray
    variables: list[str]
    stays: np.ndarray
    true_risk: np.ndarray
    static: None = None  # no static descriptors (the baselines read `EpisodeSet.static`)


def cohort_split(cohort: IcuCohort, split: str) -> HourlyEpisodes:
    """One split of an in-memory cohort as `HourlyEpisodes` (hourly means of the charted values)."""
    sel = (cohort.latent["split"] == split).to_numpy()
    hourly, mask = cohort.hourly()
    lat = cohort.latent[sel]
    return HourlyEpisodes(values=hourly[sel], mask=mask[sel], y=lat["y"].to_numpy(), variables=list(cohort.variables),
                          stays=lat["stay"].to_numpy(), true_risk=lat["true_risk"].to_numpy())


def latent_features(cohort: IcuCohort, stays: np.ndarray, trajectory: bool, every: int = 2) -> np.ndarray:
    """Latent inputs of the stays: age and admission category with either the latent state at
    hour 48 (severity and the four organ factors) or the whole latent trajectory (the same every
    `every` hours from admission to hour 48, as levels and as changes since admission)."""
    if cohort.organ is None:
        raise ValueError("the cohort carries no organ trajectories")
    pos = pd.Series(np.arange(len(cohort.latent)), index=cohort.latent["stay"]).loc[stays].to_numpy()
    lat = cohort.latent.iloc[pos]
    static = np.c_[lat["age"].to_numpy(), pd.Categorical(lat["admission_type"], categories=("EMERGENCY", "URGENT", "ELECTIVE")).codes]
    hours = np.arange(0, cohort.severity.shape[1], every) if trajectory else np.array([cohort.severity.shape[1] - 1])
    if trajectory and hours[-1] != cohort.severity.shape[1] - 1:
        hours = np.r_[hours, cohort.severity.shape[1] - 1]
    sev = cohort.severity[pos][:, hours]
    organ = cohort.organ[pos][:, hours, :]
    if not trajectory:
        return np.c_[static, sev, organ.reshape(len(pos), -1)]
    # the same trajectory also as changes since admission, which trees cannot form from levels
    change = np.c_[sev[:, 1:] - sev[:, :1], (organ[:, 1:] - organ[:, :1]).reshape(len(pos), -1)]
    return np.c_[static, sev, organ.reshape(len(pos), -1), change]


def gbt_scores(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, n_threads: int = 1) -> np.ndarray:
    """Test-set probabilities of gradient-boosted trees fitted on train only (fixed seed), on at most `n_threads`
    OpenMP threads (on a small shared machine more threads wait on each other far longer than they save)."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from threadpoolctl import threadpool_limits

    model = HistGradientBoostingClassifier(max_iter=200, learning_rate=0.08, max_leaf_nodes=15, random_state=0)
    with threadpool_limits(limits=n_threads, user_api="openmp"):
        return model.fit(x_train, y_train).predict_proba(x_test)[:, 1]


def last_values(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """(n, F) the last observed hourly value of each variable (NaN if never observed)."""
    t = values.shape[1]
    idx = np.maximum.accumulate(np.where(mask, np.arange(t)[None, :, None], -1), axis=1)[:, -1, :]
    last = np.take_along_axis(values, np.maximum(idx, 0)[:, None, :], axis=1)[:, 0, :]
    return np.where(idx >= 0, last, np.nan)



def single_variable_aurocs(train, test) -> pd.Series:
    """Test AUROC of a logistic regression on one variable's 48-hour mean, per variable (fitted on
    train; a variable never charted is imputed with the train mean)."""
    mtr, mte = window_means(train.values), window_means(test.values)
    ytr, yte = np.asarray(train.y).astype(int), np.asarray(test.y).astype(int)
    return pd.Series({v: lr_auroc(mtr[:, [k]], ytr, mte[:, [k]], yte) for k, v in enumerate(train.variables)},
                     name="test AUROC").sort_values(ascending=False)


def clock_profile_range(cohort: IcuCohort, variable: str = "Heart Rate") -> float:
    """Peak-to-trough range of survivors' mean charted `variable` by clock hour of the chart."""
    k = list(cohort.variables).index(variable)
    valid = (np.arange(cohort.times.shape[1])[None, :] < cohort.n_rows[:, None]) & (cohort.latent["y"].to_numpy() == 0)[:, None]
    v = cohort.values[:, :, k]
    ok = valid & ~np.isnan(v)
    clock = np.floor((cohort.latent["admission_hour"].to_numpy()[:, None] + cohort.times / 60.0) % 24).astype(int)
    prof = pd.Series(v[ok]).groupby(clock[ok]).mean()
    return float(prof.max() - prof.min())


def care_summary(latent: pd.DataFrame) -> pd.DataFrame:
    """Share of episodes with each course event or treatment and the observed mortality with and
    without it, from `latent.csv` columns."""
    groups = {
        "acute event": latent["event_hour"].notna(),
        "acute event, not responding": latent["event_hour"].notna() & (latent["event_responder"] == 0),
        "post-operative (elective)": latent["postoperative"] == 1,
        "supplemental oxygen": latent["oxygen_hours"] > 0,
        "mechanical ventilation": latent["ventilated_hours"] > 0,
        "vasopressors": latent["vasopressor_hours"] > 0,
        "fluid boluses": latent["fluid_boluses"] > 0,
        "treatment limited": latent["limitation_hour"].notna(),
    }
    y = latent["y"].to_numpy()
    rows = {name: {"episodes, %": 100 * g.mean(), "mortality with, %": 100 * y[g.to_numpy()].mean() if g.any() else np.nan,
                   "mortality without, %": 100 * y[~g.to_numpy()].mean()} for name, g in groups.items()}
    return pd.DataFrame(rows).T
