"""Tests of `ehrlib.icu.describe`: summaries and difficulty measures, checked by hand computations."""

from __future__ import annotations

import numpy as np
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
