"""Tests of `ehrlib.icu.describe`: summaries and difficulty measures, checked by hand computations."""

from __future__ import annotations

import numpy as np
import pytest
import pandas as pd

from ehrlib.icu.describe import (clock_hours, hours_since_last, lr_auroc, shift_of_clock, table_one,
                                 window_means)
from ehrlib.icu.synth import VARIABLES


def test_window_means_ignore_nan_and_keep_all_nan_columns_nan():
    h = np.array([[[1.0, np.nan], [3.0, np.nan], [np.nan, np.nan]]])
    np.testing.assert_allclose(window_means(h), [[2.0, np.nan]])
    np.testing.assert_allclose(window_means(h, 1, 2), [[3.0, np.nan]])


def test_hours_since_last_counts_from_the_last_observation():
    mask = np.array([[[False], [True], [False], [False], [True]]])
    np.testing.assert_array_equal(hours_since_last(mask)[0, :, 0], [np.nan, 0, 1, 2, 0])


def test_shift_and_clock_hours():
    np.testing.assert_array_equal(shift_of_clock(np.array([6.9, 7.0, 14.99, 15, 22.9, 23, 30.5])), [2, 0, 0, 1, 1, 2, 2])
    lat = pd.DataFrame({"admission_hour": [23.0]})
    np.testing.assert_allclose(clock_hours(lat, 3)[0], [23.5, 0.5, 1.5])


def test_table_one_counts_and_missingness():
    rng = np.random.default_rng(0)
    n = 40
    lat = pd.DataFrame({"y": np.r_[np.zeros(30, int), np.ones(10, int)], "age": rng.uniform(20, 90, n),
                        "sex": np.where(np.arange(n) % 2, "M", "F"),
                        "admission_type": np.where(np.arange(n) < 20, "EMERGENCY", "ELECTIVE")})
    hourly = rng.normal(size=(n, 48, len(VARIABLES))).astype(np.float32)
    hourly[:, ::2, 6:] = np.nan  # labs missing in half of the hours
    t = table_one(lat, hourly)
    assert t.loc["episodes, n", "died"] == "10" and t.loc["episodes, n", "all"] == "40"
    assert t.loc["hourly bins missing, labs %", "all"] == "50.0"
    assert t.loc["hourly bins missing, vitals %", "all"] == "0.0"
    assert t.loc["male, %", "all"] == "50.0"


def test_lr_auroc_fits_on_train_only():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(400, 3))
    y = (x[:, 0] + 0.5 * rng.normal(size=400) > 0).astype(int)
    auc = lr_auroc(x[:300], y[:300], x[300:], y[300:])
    assert 0.8 < auc <= 1.0
    # test rows never shape the model: changing them leaves the other rows' scores unchanged
    from ehrlib.icu.describe import lr_scores

    x_test = x[300:].copy()
    a = lr_scores(x[:300], y[:300], x_test)
    x_test[:50] *= 100
    np.testing.assert_allclose(lr_scores(x[:300], y[:300], x_test)[50:], a[50:])


def test_headroom_table_on_a_small_cohort():
    from sklearn.metrics import roc_auc_score

    from ehrlib.icu.describe import cohort_split, last_values, latent_features, single_variable_aurocs
    from ehrlib.mortality.headroom import headroom
    from ehrlib.icu.synth import IcuConfig, proportional_split, simulate_icu

    c = simulate_icu(IcuConfig(n_episodes=1200, split=proportional_split(1200), seed=1))
    train, test = cohort_split(c, "train"), cohort_split(c, "test")
    table = headroom(c, train, test)
    assert len(table) == 7 and table["test AUROC"].between(0.5, 1.0).all()
    assert table.iloc[0]["test AUROC"] == roc_auc_score(test.y, test.true_risk)
    assert table.iloc[0]["test AUROC"] == table["test AUROC"].max(), "nothing beats the true risk"
    x48 = latent_features(c, test.stays[:3], trajectory=False)
    traj = latent_features(c, test.stays[:3], trajectory=True)
    assert x48.shape == (3, 2 + 1 + 4) and traj.shape == (3, 2 + 25 * 5 + 24 * 5)
    i = int(np.flatnonzero(c.latent["stay"].to_numpy() == test.stays[0])[0])
    np.testing.assert_allclose(x48[0, 2:], np.r_[c.severity[i, -1], c.organ[i, -1]])
    single = single_variable_aurocs(train, test)
    assert list(sorted(single.index)) == sorted(VARIABLES) and single.between(0.3, 1.0).all()
    mask = np.array([[[True], [False], [True], [False]]])
    vals = np.array([[[1.0], [np.nan], [3.0], [np.nan]]])
    assert last_values(vals, mask)[0, 0] == 3.0


def test_care_summary_and_clock_range():
    from ehrlib.icu.describe import care_summary, clock_profile_range
    from ehrlib.icu.synth import IcuConfig, RealismFlags, proportional_split, simulate_icu

    c = simulate_icu(IcuConfig(n_episodes=800, split=proportional_split(800), seed=2))
    t = care_summary(c.latent)
    assert t.loc["post-operative (elective)", "episodes, %"] == pytest.approx(100 * (c.latent["admission_type"] == "ELECTIVE").mean())
    assert t.loc["treatment limited", "mortality with, %"] > t.loc["treatment limited", "mortality without, %"]
    flat = simulate_icu(IcuConfig(n_episodes=800, split=proportional_split(800), seed=2,
                                  realism=RealismFlags().off("circadian", "sleep")))
    assert clock_profile_range(c) > clock_profile_range(flat)
