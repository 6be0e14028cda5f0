"""Isotonic calibrator (JSON round trip, sklearn equivalence), thresholds, calibration slope."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
from sklearn import metrics as skm
from sklearn.isotonic import IsotonicRegression

from ehrlib.evaluation import calibration as C


def _data(n: int = 600, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    risk = rng.uniform(0.02, 0.7, n)
    y = (rng.uniform(size=n) < risk).astype(np.int8)
    score = 1 / (1 + np.exp(-(3 * (risk - 0.3) + rng.normal(0, 0.5, n))))  # miscalibrated, monotone-ish
    return y, score


def test_isotonic_matches_sklearn_and_round_trips(tmp_path) -> None:
    y, p = _data()
    cal = C.IsotonicCalibrator().fit(p, y)
    ref = IsotonicRegression(out_of_bounds="clip", y_min=0, y_max=1).fit(p, y)
    grid = np.concatenate([np.linspace(-0.5, 1.5, 301), p])
    np.testing.assert_array_equal(cal.transform(grid), ref.predict(grid))
    cal.save(tmp_path / "calibrator.json")
    back = C.IsotonicCalibrator.load(tmp_path / "calibrator.json")
    np.testing.assert_array_equal(back.transform(grid), cal.transform(grid))
    assert back.n_fit == y.size


def test_isotonic_improves_calibration_of_miscalibrated_scores() -> None:
    y, p = _data(4000, seed=1)
    yv, pv, yt, pt = y[:2000], p[:2000], y[2000:], p[2000:]
    cal = C.IsotonicCalibrator().fit(pv, yv)
    assert skm.brier_score_loss(yt, cal.transform(pt)) < skm.brier_score_loss(yt, pt)


def test_bad_calibrator_file_is_named(tmp_path) -> None:
    path = tmp_path / "cal.json"
    path.write_text('{"kind": "isotonic", "x_thresholds": [0.5, 0.1], "y_thresholds": [0, 1]}')
    with pytest.raises(ValueError, match="cal.json"):
        C.IsotonicCalibrator.load(path)


def test_f1_threshold_equals_brute_force() -> None:
    for seed in range(4):
        y, p = _data(300, seed=seed)
        p = np.round(p, 2)  # ties
        best = C.select_f1_threshold(y, p)
        brute = max(skm.f1_score(y, (p >= t).astype(int)) for t in np.unique(p))
        assert best["f1"] == pytest.approx(brute)
        assert skm.f1_score(y, (p >= best["threshold"]).astype(int)) == pytest.approx(brute)


def test_sensitivity_threshold_is_highest_reaching_target() -> None:
    y, p = _data(500, seed=2)
    out = C.threshold_for_sensitivity(y, p, 0.9)
    t = out["threshold"]
    assert skm.recall_score(y, p >= t) >= 0.9
    higher = np.unique(p[p > t])
    assert higher.size == 0 or skm.recall_score(y, p >= higher.min()) < 0.9


def test_threshold_selection_takes_only_validation_arrays() -> None:
    """Leak guard: the threshold and calibrator APIs accept exactly one label and one score array."""
    for fn in (C.select_f1_threshold, C.threshold_for_sensitivity, C.choose_thresholds):
        params = [n for n in inspect.signature(fn).parameters if n != "target" and n != "sensitivity"]
        assert params == ["y_val", "p_val"]
    assert list(inspect.signature(C.IsotonicCalibrator.fit).parameters) == ["self", "p", "y"]


def test_threshold_choice_round_trip(tmp_path) -> None:
    y, p = _data()
    choice = C.choose_thresholds(y, p)
    choice.save(tmp_path / "t.json")
    assert C.ThresholdChoice.load(tmp_path / "t.json") == choice
    assert choice.sensitivity_threshold <= choice.threshold or choice.validation_f1 > 0


def test_threshold_curve_matches_sklearn() -> None:
    y, p = _data()
    curve = C.threshold_curve(y, p, np.array([0.2, 0.5]))
    for i, t in enumerate([0.2, 0.5]):
        pred = (p >= t).astype(int)
        assert curve["f1"][i] == pytest.approx(skm.f1_score(y, pred))
        assert curve["precision"][i] == pytest.approx(skm.precision_score(y, pred, zero_division=0))
        assert curve["specificity"][i] == pytest.approx(skm.recall_score(1 - y, 1 - pred))


def test_calibration_slope_intercept() -> None:
    rng = np.random.default_rng(0)
    z = rng.normal(-1, 1.5, 20000)
    p = 1 / (1 + np.exp(-z))
    y = (rng.uniform(size=z.size) < p).astype(int)
    perfect = C.calibration_slope_intercept(y, p)
    assert perfect["slope"] == pytest.approx(1, abs=0.06) and perfect["intercept"] == pytest.approx(0, abs=0.06)
    over = C.calibration_slope_intercept(y, 1 / (1 + np.exp(-2 * z)))  # overconfident: slope ~ 0.5
    assert over["slope"] == pytest.approx(0.5, abs=0.05)
    shifted = C.calibration_slope_intercept(y, 1 / (1 + np.exp(-(z + 1))))  # overestimates risk
    assert shifted["intercept"] == pytest.approx(-1, abs=0.08)


def test_reliability_bins_agree_with_ece() -> None:
    from ehrlib.evaluation.metrics import expected_calibration_error

    y, p = _data()
    b = C.reliability_bins(y, p)
    ece = float(np.sum(b["count"] * np.abs(b["mean_predicted"] - b["fraction_positive"])) / y.size)
    assert ece == pytest.approx(expected_calibration_error(y, p))


def test_calibrate_and_evaluate_uses_validation_for_fitting() -> None:
    y, p = _data(2000, seed=5)
    yv, pv, yt, pt = y[:1000], p[:1000], y[1000:], p[1000:]
    res = C.calibrate_and_evaluate(pv, yv, pt, yt, n_boot=50, seed=0)
    ref = C.IsotonicCalibrator().fit(pv, yv)
    np.testing.assert_array_equal(res.p_test, ref.transform(pt))
    assert res.choice.threshold == C.select_f1_threshold(yv, ref.transform(pv))["threshold"]
    # changing the test labels changes the test metrics but never the fitted calibrator or threshold
    flipped = C.calibrate_and_evaluate(pv, yv, pt, 1 - yt, n_boot=50, seed=0)
    assert flipped.choice == res.choice
    np.testing.assert_array_equal(flipped.p_test, res.p_test)
    assert flipped.metrics["auroc"]["value"] == pytest.approx(1 - res.metrics["auroc"]["value"])
    assert res.metrics["calibration"]["ece"] <= res.metrics["raw"]["ece"] + 0.02
    assert res.metrics["sensitivity_operating_point"]["target"] == 0.9
