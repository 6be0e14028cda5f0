"""Point metrics against scikit-learn, ECE by hand, the improvement sign for lower-is-better metrics."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as skm

from ehrlib.evaluation import metrics as M


def _data(n: int = 400, seed: int = 0, ties: bool = False) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    risk = rng.uniform(0.02, 0.6, n)
    y = (rng.uniform(size=n) < risk).astype(np.int8)
    p = np.clip(risk + rng.normal(0, 0.15, n), 0, 1)
    if ties:
        p = np.round(p, 1)
    return y, p


def test_threshold_metrics_match_sklearn() -> None:
    y, p = _data()
    out = M.threshold_metrics(y, p, 0.3)
    pred = (p >= 0.3).astype(int)
    tn, fp, fn, tp = skm.confusion_matrix(y, pred).ravel()
    assert (out["tn"], out["fp"], out["fn"], out["tp"]) == (tn, fp, fn, tp)
    assert out["recall"] == pytest.approx(tp / (tp + fn))
    assert out["precision"] == pytest.approx(tp / (tp + fp))
    assert out["specificity"] == pytest.approx(tn / (tn + fp))
    assert out["f1"] == pytest.approx(skm.f1_score(y, pred))
    assert out["accuracy"] == pytest.approx((tp + tn) / y.size)


def test_ranking_and_probability_metrics_match_sklearn() -> None:
    y, p = _data()
    r = M.ranking_metrics(y, p)
    assert r["auroc"] == pytest.approx(skm.roc_auc_score(y, p))
    assert r["auprc"] == pytest.approx(skm.average_precision_score(y, p))
    assert M.probability_metrics(y, p)["brier"] == pytest.approx(np.mean((p - y) ** 2))


def test_ece_by_hand() -> None:
    y = np.array([0, 0, 1, 1, 1, 0, 1, 0])
    p = np.array([0.05, 0.08, 0.15, 0.55, 0.58, 0.95, 1.0, 0.5])
    # bins: [0,.1): .05,.08 (y 0,0); [.1,.2): .15 (1); [.5,.6): .55,.58,.5 (1,1,0); [.9,1]: .95,1.0 (0,1)
    expected = (2 * abs(0.065 - 0) + 1 * abs(0.15 - 1) + 3 * abs((0.55 + 0.58 + 0.5) / 3 - 2 / 3)
                + 2 * abs(0.975 - 0.5)) / 8
    assert M.expected_calibration_error(y, p) == pytest.approx(expected)


def test_ece_matches_direct_numpy_loop() -> None:
    y, p = _data(1000, seed=3)
    edges = np.linspace(0, 1, 11)
    total = 0.0
    for b in range(10):
        upper = p <= edges[b + 1] if b == 9 else p < edges[b + 1]
        sel = (p >= edges[b]) & upper
        if sel.any():
            total += sel.sum() * abs(p[sel].mean() - y[sel].mean())
    assert M.expected_calibration_error(y, p) == pytest.approx(total / y.size)
    assert M.expected_calibration_error(y, np.where(y == 1, 1.0, 0.0)) == 0.0


def test_metric_value_reads_numbers_dicts_and_intervals() -> None:
    from ehrlib.evaluation.bootstrap import Interval

    assert M.metric_value(0.5) == M.metric_value({"value": 0.5}) == M.metric_value(Interval(0.5, 0.4, 0.6)) == 0.5


@pytest.mark.parametrize("metric, model, reference, sign", [
    ("auroc", 0.85, 0.80, 1), ("auroc", 0.75, 0.80, -1), ("brier", 0.10, 0.12, 1), ("brier", 0.14, 0.12, -1),
    ("ece", 0.01, 0.02, 1), ("ici", 0.03, 0.02, -1)])
def test_improvement_sign_is_positive_when_better(metric, model, reference, sign) -> None:
    value = M.relative_improvement(metric, model, reference)
    assert np.sign(value) == sign
    assert abs(value) == pytest.approx(100 * abs(model - reference) / reference)


def test_bad_input_is_named() -> None:
    with pytest.raises(ValueError, match="differ in length"):
        M.ranking_metrics(np.array([0, 1]), np.array([0.1]))
    with pytest.raises(ValueError, match="0 or 1"):
        M.ranking_metrics(np.array([0, 2]), np.array([0.1, 0.2]))
