"""Tests of `ehrlib.icu.missingness`: chapter 2's measurements, checked on hand-made masks and a small cohort."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ehrlib.icu import missingness as mi
from ehrlib.icu.schema import VARIABLES


def _pooled() -> mi.PooledEpisodes:
    n, t, f = 4, 48, len(VARIABLES)
    mask = np.zeros((n, t, f), bool)
    mask[:2, :, 0] = True  # heart rate charted every hour in the first two stays (both died)
    mask[2:, :24, 0] = True  # half the hours in the survivors
    mask[0, :3, VARIABLES.index("Creatinine")] = True
    mask[1, :5, VARIABLES.index("Lactate")] = True
    clock = (np.arange(t)[None, :] + 0.5 + np.array([[0], [8], [16], [0]])) % 24
    return mi.PooledEpisodes(mask=mask, y=np.array([1, 1, 0, 0]), clock=clock)


def test_missing_by_outcome_and_the_facts_read_from_it():
    pooled = _pooled()
    miss = mi.missing_by_outcome(pooled)
    assert miss.loc["Heart Rate", "died"] == 0 and miss.loc["Heart Rate", "survived"] == 0.5
    assert miss.loc["Heart Rate", "difference"] == -0.5
    facts = mi.outcome_facts(pooled, miss)
    assert facts["hr_miss_surv"] == 50 and facts["cr_draws_died"] == 1.5 and facts["cr_draws_surv"] == 0
    assert facts["lac_draws_died"] == 2.5 and facts["lac_any_died"] == 50 and facts["lac_any_surv"] == 0
    assert mi.overview(pooled) == {"n_episodes": 4, "n_hours": 48, "n_vars": len(VARIABLES),
                                   "pct_cells": pytest.approx(100 * pooled.mask.mean())}


def test_vitals_by_shift_splits_the_hours_by_clock():
    pooled = _pooled()
    table = mi.vitals_by_shift(pooled)
    assert list(table.columns) == list(mi.SHIFTS) and list(table.index) == list(VARIABLES[:6])
    sh = mi.shift_of_clock(pooled.clock)
    for k, s in enumerate(mi.SHIFTS):
        assert table.loc["Heart Rate", s] == pytest.approx(pooled.mask[:, :, 0][sh == k].mean())
    assert 0 < table.loc["Heart Rate", "night"] < 1 and table.loc["Temperature", "day"] == 0


def test_switching_a_mechanism_off_changes_what_is_charted():
    cohorts = mi.mechanism_cohorts(n_episodes=60, seed=3)
    assert list(cohorts) == list(mi.MECHANISMS)
    frac = mi.observed_fractions(cohorts)
    assert (frac["no MCAR"] >= frac["all mechanisms"] - 1e-12).all()  # removing random gaps only adds charts
    rise = mi.mcar_rise(frac)
    assert rise["mcar_rise_min"] <= rise["mcar_rise_max"] and rise["mcar_rise_max_var"] in VARIABLES
    facts = mi.mechanism_facts(cohorts)
    assert {"cr_hi_all", "cr_lo_nomar", "lac_hi_nomnar", "lac_all", "lac_mnar", "lac_nomar"} <= set(facts)
    assert facts["lac_mnar"] > facts["lac_all"]  # charted lactates are the high ones
    assert set(mi.mar_curves(cohorts)) == {"all mechanisms", "no MAR", "no MCAR"}
    assert set(mi.mnar_curves(cohorts)) == {"all mechanisms", "no MNAR"}


def test_mcar_rise_reads_the_smallest_and_largest_rise_in_points():
    frac = pd.DataFrame({"all mechanisms": [0.745, 0.701, 0.037], "no MCAR": [0.775, 0.775, 0.038]},
                        index=["Heart Rate", "Systolic blood pressure", "Lactate"])
    rise = mi.mcar_rise(frac)
    assert rise["mcar_rise_min_var"] == "Lactate" and rise["mcar_rise_min"] == pytest.approx(0.1)
    assert rise["mcar_rise_max_var"] == "Systolic blood pressure" and rise["mcar_rise_max"] == pytest.approx(7.4)
