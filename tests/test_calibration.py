"""Calibrators (isotonic, Platt, the choice), thresholds, decision curves, slope, smoothing and ICI."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
from sklearn import metrics as skm
from sklearn.isotonic import IsotonicRegression

from ehrlib.evaluation import calibration as C
from ehrlib.evaluation import thresholds as T
from ehrlib.evaluation.metrics import reliability_bins


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
    e = 0.5 / (y.size + 1)
    np.testing.assert_array_equal(cal.transform(grid), np.clip(ref.predict(grid), e, 1 - e))
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
        best = T.select_f1_threshold(y, p)
        brute = max(skm.f1_score(y, (p >= t).astype(int)) for t in np.unique(p))
        assert best["f1"] == pytest.approx(brute)
        assert skm.f1_score(y, (p >= best["threshold"]).astype(int)) == pytest.approx(brute)


def test_sensitivity_threshold_is_highest_reaching_target() -> None:
    y, p = _data(500, seed=2)
    out = T.threshold_for_sensitivity(y, p, 0.9)
    t = out["threshold"]
    assert skm.recall_score(y, p >= t) >= 0.9
    higher = np.unique(p[p > t])
    assert higher.size == 0 or skm.recall_score(y, p >= higher.min()) < 0.9


def test_threshold_selection_takes_only_validation_arrays() -> None:
    """Leak guard: the threshold and calibrator APIs accept exactly one label and one score array."""
    for fn in (T.select_f1_threshold, T.threshold_for_sensitivity, T.choose_thresholds):
        params = [n for n in inspect.signature(fn).parameters if n != "target" and n != "sensitivity"]
        assert params == ["y_val", "p_val"]
    assert list(inspect.signature(C.IsotonicCalibrator.fit).parameters) == ["self", "p", "y"]


def test_threshold_choice_round_trip(tmp_path) -> None:
    y, p = _data()
    choice = T.choose_thresholds(y, p)
    choice.save(tmp_path / "t.json")
    assert T.ThresholdChoice.load(tmp_path / "t.json") == choice
    assert choice.sensitivity_threshold <= choice.threshold or choice.validation_f1 > 0


def test_threshold_curve_matches_sklearn() -> None:
    y, p = _data()
    curve = T.threshold_curve(y, p, np.array([0.2, 0.5]))
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
    b = reliability_bins(y, p)
    ece = float(np.sum(b["count"] * np.abs(b["mean_predicted"] - b["fraction_positive"])) / y.size)
    assert ece == pytest.approx(expected_calibration_error(y, p))


def test_no_calibrator_outputs_exactly_zero_or_one() -> None:
    y = np.r_[np.zeros(50), np.ones(50)].astype(int)
    p = np.r_[np.linspace(0, 0.4, 50), np.linspace(0.6, 1, 50)]  # perfectly separated: isotonic gives 0 and 1
    for kind in C.CALIBRATORS:
        out = C.new_calibrator(kind).fit(p, y).transform(np.linspace(-1, 2, 50))
        assert (out > 0).all() and (out < 1).all(), kind


def test_platt_matches_sklearn_logistic_regression_and_round_trips(tmp_path) -> None:
    from sklearn.linear_model import LogisticRegression

    y, p = _data(2000, seed=3)
    cal = C.PlattCalibrator().fit(p, y)
    z = C.logit(p)
    ref = LogisticRegression(C=np.inf, max_iter=1000).fit(z[:, None], y)
    np.testing.assert_allclose(cal.transform(p), ref.predict_proba(z[:, None])[:, 1], rtol=1e-6)
    assert cal.on_logit and cal.n_fit == y.size
    cal.save(tmp_path / "platt.json")
    np.testing.assert_array_equal(C.PlattCalibrator.load(tmp_path / "platt.json").transform(p), cal.transform(p))
    # a raw integer score (not a probability) is mapped directly, not through its logit
    score = np.round(10 * p)
    assert not C.PlattCalibrator().fit(score, y).on_logit


def test_platt_recalibrates_a_logit_distortion() -> None:
    rng = np.random.default_rng(4)
    z = rng.normal(-1, 1.2, 6000)
    y = (rng.uniform(size=z.size) < 1 / (1 + np.exp(-z))).astype(int)
    distorted = 1 / (1 + np.exp(-(2 * z + 1)))  # overconfident and shifted
    cal = C.PlattCalibrator().fit(distorted[:3000], y[:3000])
    assert cal.b == pytest.approx(0.5, abs=0.07) and cal.a == pytest.approx(-0.5, abs=0.12)
    assert skm.brier_score_loss(y[3000:], cal.transform(distorted[3000:])) < skm.brier_score_loss(y[3000:], distorted[3000:])


def test_select_calibrator_prefers_platt_for_a_logistic_distortion_and_uses_validation_only() -> None:
    rng = np.random.default_rng(5)
    z = rng.normal(-1, 1.2, 1500)
    y = (rng.uniform(size=z.size) < 1 / (1 + np.exp(-z))).astype(int)
    p = 1 / (1 + np.exp(-(2 * z + 1)))
    cal, losses = C.select_calibrator(p, y, seed=0)
    assert set(losses) == {"isotonic", "platt"} and cal.kind == min(losses, key=losses.get) == "platt"
    assert list(inspect.signature(C.select_calibrator).parameters)[:2] == ["p_val", "y_val"]


def test_local_linear_is_exact_on_a_line_and_matches_a_hand_weighted_fit() -> None:
    rng = np.random.default_rng(6)
    x = rng.uniform(0, 1, 200)
    np.testing.assert_allclose(C.local_linear(x, 0.3 + 0.5 * x, np.array([0.1, 0.5, 0.9])), [0.35, 0.55, 0.75])
    y = rng.uniform(size=200)
    at, frac = 0.4, 0.3
    d = np.abs(x - at)
    h = np.sort(d)[int(np.ceil(frac * 200)) - 1] * (1 + 1e-9)
    w = np.clip(1 - (d / h) ** 3, 0, None) ** 3
    coef = np.polyfit(x, y, 1, w=np.sqrt(w))
    assert C.local_linear(x, y, np.array([at]), frac)[0] == pytest.approx(np.polyval(coef, at))


def test_ici_is_small_for_true_risk_and_large_for_a_biased_one() -> None:
    rng = np.random.default_rng(7)
    risk = rng.uniform(0.02, 0.6, 20000)
    y = (rng.uniform(size=risk.size) < risk).astype(int)
    assert C.integrated_calibration_index(y, risk) < 0.01
    assert C.integrated_calibration_index(y, np.clip(risk + 0.1, 0, 1)) == pytest.approx(0.1, abs=0.015)


def test_net_benefit_matches_a_hand_computation() -> None:
    y = np.array([1, 1, 0, 0, 0, 1, 0, 0, 0, 0])
    p = np.array([0.9, 0.6, 0.55, 0.3, 0.25, 0.2, 0.1, 0.05, 0.5, 0.15])
    t = np.array([0.2, 0.5])
    # t = 0.2: treated p >= 0.2 -> 0.9, 0.6, 0.55, 0.3, 0.25, 0.2, 0.5: TP 3, FP 4 -> 3/10 - 4/10 * 0.25 = 0.2
    # t = 0.5: treated 0.9, 0.6, 0.55, 0.5: TP 2, FP 2 -> 2/10 - 2/10 * 1 = 0.0
    np.testing.assert_allclose(T.net_benefit(y, p, t), [0.2, 0.0])
    # treat all: prevalence 0.3 -> 0.3 - 0.7 * 0.25 = 0.125 and 0.3 - 0.7 = -0.4
    np.testing.assert_allclose(T.treat_all_net_benefit(y, t), [0.125, -0.4])
    curve = T.decision_curve(y, {"m": p}, t)
    assert set(curve) == {"threshold", "treat all", "treat none", "m"} and (curve["treat none"] == 0).all()
    with pytest.raises(ValueError, match="strictly between"):
        T.net_benefit(y, p, np.array([1.0]))


def _sample(n: int = 600, seed: int = 4) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    p = rng.beta(2, 6, n)
    return (rng.random(n) < np.clip(1.3 * p, 0, 1)).astype(int), p


def test_replicate_ici_with_unit_weights_is_the_ici() -> None:
    y, p = _sample()
    assert C.replicate_ici(y, p, np.ones((1, y.size)))[0] == pytest.approx(C.integrated_calibration_index(y, p), abs=1e-12)


def test_replicate_slope_intercept_match_the_expanded_resample() -> None:
    y, p = _sample()
    counts = np.random.default_rng(1).multinomial(y.size, np.full(y.size, 1 / y.size))
    reps = C.replicate_slope_intercept(y, p, counts[None, :].astype(float))
    expanded = C.calibration_slope_intercept(np.repeat(y, counts), np.repeat(p, counts))
    assert reps["slope"][0] == pytest.approx(expanded["slope"], abs=1e-4)  # sklearn's lbfgs stops at its tolerance
    assert reps["intercept"][0] == pytest.approx(expanded["intercept"], abs=1e-8)


def test_curve_intervals_hold_the_point_and_shrink_with_more_patients() -> None:
    small, large = (C.curve_intervals(*_sample(n), n_boot=200, seed=0) for n in (300, 3000))
    for k in ("ici", "slope", "intercept"):
        assert small[k].ci_low <= small[k].value <= small[k].ci_high
        assert large[k].ci_high - large[k].ci_low < small[k].ci_high - small[k].ci_low
    assert large["intercept"].ci_low > 0  # outcomes drawn at 1.3 x p: the probabilities under-predict
    none = C.curve_intervals(*_sample(), n_boot=0)
    assert np.isnan(none["slope"].ci_low) and none["slope"].value == C.calibration_slope_intercept(*_sample())["slope"]
