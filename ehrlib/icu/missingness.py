"""Chapter 2's measurements of missingness: how much of an ICU dataset is charted, by variable, outcome and
nursing shift; the generator's three mechanisms (MCAR, MAR, MNAR) switched off one at a time in a demo
cohort; and what charting alone predicts. Each function returns a table or the numbers the chapter's prose
reads (a dict of plain values); nothing here draws a figure.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ehrlib.icu.describe import clock_hours, hours_since_last, lr_auroc, shift_of_clock, window_means
from ehrlib.icu.episodes import EpisodeSet
from ehrlib.icu.schema import VARIABLES
from ehrlib.icu.synth import IcuCohort, IcuConfig, ablate, proportional_split, simulate_icu

SPLITS = ("train", "val", "test")
SHIFTS = ("day", "evening", "night")
MECHANISMS = {"all mechanisms": None, "no MCAR": "mcar", "no MAR": "mar", "no MNAR": "mnar"}


@dataclass(frozen=True)
class PooledEpisodes:
    """All splits of a dataset together: observation `mask` (n, T, F), labels `y` and the clock hour at
    the middle of every hourly bin (n, T)."""

    mask: np.ndarray
    y: np.ndarray
    clock: np.ndarray


def pool_splits(data: dict[str, EpisodeSet], latent: pd.DataFrame) -> PooledEpisodes:
    """The train, validation and test splits of `data` pooled, with each stay's clock hours taken from
    the generator's `latent` table (indexed by stay)."""
    mask = np.concatenate([data[s].mask for s in SPLITS])
    y = np.concatenate([data[s].y for s in SPLITS])
    lat = latent.loc[np.concatenate([data[s].stays for s in SPLITS])].reset_index()
    return PooledEpisodes(mask=mask, y=y, clock=clock_hours(lat))


def overview(pooled: PooledEpisodes) -> dict[str, float]:
    """Episodes, hours, variables and the percentage of cells holding a value."""
    m = pooled.mask
    return {"n_episodes": len(pooled.y), "n_hours": m.shape[1], "n_vars": m.shape[2], "pct_cells": 100 * m.mean()}


def missing_by_outcome(pooled: PooledEpisodes) -> pd.DataFrame:
    """Share of hourly bins without a value per variable among survivors and non-survivors, and the
    difference (died minus survived)."""
    m, y = pooled.mask, pooled.y
    miss = pd.DataFrame({"survived": 1 - m[y == 0].mean(axis=(0, 1)), "died": 1 - m[y == 1].mean(axis=(0, 1))},
                        index=list(VARIABLES))
    miss["difference"] = miss["died"] - miss["survived"]
    return miss


def outcome_facts(pooled: PooledEpisodes, miss: pd.DataFrame) -> dict[str, float]:
    """The prose's numbers on charting by outcome: heart rate and creatinine missing (%), median hours
    with a creatinine, mean hours with a lactate and the share of stays with any lactate, by outcome."""
    m, y = pooled.mask, pooled.y
    lab = m[:, :, VARIABLES.index("Creatinine")].sum(axis=1)
    lac = m[:, :, VARIABLES.index("Lactate")].sum(axis=1)
    return {
        "hr_miss_surv": 100 * miss.loc["Heart Rate", "survived"], "hr_miss_died": 100 * miss.loc["Heart Rate", "died"],
        "cr_miss_surv": 100 * miss.loc["Creatinine", "survived"], "cr_miss_died": 100 * miss.loc["Creatinine", "died"],
        "cr_draws_died": np.median(lab[y == 1]), "cr_draws_surv": np.median(lab[y == 0]),
        "lac_draws_died": np.mean(lac[y == 1]), "lac_draws_surv": np.mean(lac[y == 0]),
        "lac_any_died": 100 * np.mean(lac[y == 1] > 0), "lac_any_surv": 100 * np.mean(lac[y == 0] > 0),
    }


def vitals_by_shift(pooled: PooledEpisodes) -> pd.DataFrame:
    """Share of hourly bins with each vital (the first six variables) charted, by nursing shift."""
    sh = shift_of_clock(pooled.clock)
    return pd.DataFrame({s: pooled.mask[:, :, :6][sh == k].mean(axis=0) for k, s in enumerate(SHIFTS)},
                        index=list(VARIABLES[:6]))


def shift_comparison(pooled: PooledEpisodes, n_episodes: int, seed: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """(mask, clock hours) of the generated dataset and of a demo cohort of `n_episodes` without the
    shift effect, for the figure of charting by nursing shift."""
    config = IcuConfig(n_episodes=n_episodes, split=proportional_split(n_episodes), seed=seed)
    no_shift = ablate(config, "shift_quality")
    return {"generated dataset": (pooled.mask, pooled.clock),
            "demo: no shift effect": (no_shift.hourly()[1], clock_hours(no_shift.latent))}


def mechanism_cohorts(n_episodes: int, seed: int) -> dict[str, IcuCohort]:
    """A demo cohort of `n_episodes` with all mechanisms, and the same patients with MCAR, MAR or MNAR
    switched off (keys of `MECHANISMS`)."""
    config = IcuConfig(n_episodes=n_episodes, split=proportional_split(n_episodes), seed=seed)
    return {name: simulate_icu(config) if off is None else ablate(config, off) for name, off in MECHANISMS.items()}


def observed_fractions(cohorts: dict[str, IcuCohort]) -> pd.DataFrame:
    """Share of hourly bins with a value per variable (rows), one column per cohort."""
    return pd.DataFrame({k: c.observed_fraction() for k, c in cohorts.items()})


def mcar_rise(fractions: pd.DataFrame) -> dict[str, Any]:
    """What switching MCAR off does to each variable's share of charted hours (`observed_fractions`), in
    percentage points: the smallest and largest rise with their variables. The rises differ because each
    variable loses a different share of its recordings at random."""
    rise = 100 * (fractions["no MCAR"] - fractions["all mechanisms"])
    return {"mcar_rise_min": float(rise.min()), "mcar_rise_min_var": str(rise.idxmin()),
            "mcar_rise_max": float(rise.max()), "mcar_rise_max_var": str(rise.idxmax())}


def mar_curves(cohorts: dict[str, IcuCohort]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """(latent severity, creatinine charted) per hour, for the cohorts with all mechanisms, no MAR, no MCAR."""
    cre = VARIABLES.index("Creatinine")
    return {k: (c.severity[:, :48], c.hourly()[1][:, :, cre]) for k, c in cohorts.items()
            if k in ("all mechanisms", "no MAR", "no MCAR")}


def mnar_curves(cohorts: dict[str, IcuCohort]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """(true lactate, lactate charted) per hour, for the cohorts with all mechanisms and without MNAR."""
    lac = VARIABLES.index("Lactate")
    return {k: (c.truth[:, :48, lac], c.hourly()[1][:, :, lac]) for k, c in cohorts.items()
            if k in ("all mechanisms", "no MNAR")}


def mechanism_facts(cohorts: dict[str, IcuCohort]) -> dict[str, float]:
    """The prose's numbers on the mechanisms: creatinine charted (%) above severity 2 and below 0, lactate
    charted (%) above 4 and below 2 mmol/L, and the mean true lactate over all hours and over the charted
    hours with all mechanisms, without MNAR and without MAR."""
    out: dict[str, float] = {}
    mar, mnar = mar_curves(cohorts), mnar_curves(cohorts)
    for key, name in (("all", "all mechanisms"), ("nomar", "no MAR")):
        sv, ob = mar[name]
        out.update({f"cr_hi_{key}": 100 * ob[sv > 2].mean(), f"cr_lo_{key}": 100 * ob[sv < 0].mean()})
    for key, name in (("all", "all mechanisms"), ("nomnar", "no MNAR")):
        tv, ob = mnar[name]
        out.update({f"lac_hi_{key}": 100 * ob[tv > 4].mean(), f"lac_lo_{key}": 100 * ob[tv < 2].mean()})
    lac = VARIABLES.index("Lactate")
    truth = cohorts["all mechanisms"].truth[:, :48, lac]
    charted = {k: cohorts[n].hourly()[1][:, :, lac] for k, n in
               (("mnar", "all mechanisms"), ("nomnar", "no MNAR"), ("nomar", "no MAR"))}
    out["lac_all"] = truth.mean()
    out.update({f"lac_{k}": truth[m].mean() for k, m in charted.items()})
    return out


def charting_facts(data: dict[str, EpisodeSet], pooled: PooledEpisodes) -> dict[str, float]:
    """Median age (hours) of a forward-filled creatinine and heart rate, and the test AUROC of logistic
    regressions fitted on the train split on the observation rates, the 48-hour means, and both."""
    stale = hours_since_last(pooled.mask)
    counts = {s: data[s].mask.mean(axis=1) for s in ("train", "test")}
    means = {s: window_means(data[s].values) for s in ("train", "test")}
    ytr, yte = data["train"].y, data["test"].y
    both = {s: np.hstack([means[s], counts[s]]) for s in ("train", "test")}
    return {
        "stale_cr": np.nanmedian(stale[:, :, VARIABLES.index("Creatinine")]),
        "stale_hr": np.nanmedian(stale[:, :, 0]),
        "auc_counts": lr_auroc(counts["train"], ytr, counts["test"], yte),
        "auc_means": lr_auroc(means["train"], ytr, means["test"], yte),
        "auc_both": lr_auroc(both["train"], ytr, both["test"], yte),
    }
