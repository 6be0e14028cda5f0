"""Metrics against scikit-learn, the vectorised bootstrap against per-replicate sklearn, ECE by hand."""

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


@pytest.mark.parametrize("ties", [False, True])
def test_vectorised_bootstrap_matches_sklearn_per_replicate(ties: bool) -> None:
    y, p = _data(300, seed=1, ties=ties)
    idx = M.bootstrap_indices(y.size, 6, seed=5)
    reps = M.bootstrap_ranking(y, p, idx)
    for b in range(6):
        assert reps["auroc"][b] == pytest.approx(skm.roc_auc_score(y[idx[b]], p[idx[b]]), abs=1e-12)
        assert reps["auprc"][b] == pytest.approx(skm.average_precision_score(y[idx[b]], p[idx[b]]), abs=1e-12)


def test_bootstrap_single_class_replicate_is_nan() -> None:
    y = np.array([[0, 0, 0], [0, 1, 1]])
    p = np.array([[0.1, 0.2, 0.3], [0.1, 0.9, 0.8]])
    assert np.isnan(M.auroc_rows(y, p)[0]) and M.auroc_rows(y, p)[1] == 1.0


def test_bootstrap_ci_covers_point_and_is_deterministic() -> None:
    y, p = _data(500, seed=2)
    a = M.bootstrap_ci(y, p, n_boot=200, seed=7)
    b = M.bootstrap_ci(y, p, n_boot=200, seed=7)
    c = M.bootstrap_ci(y, p, n_boot=200, seed=8)
    assert a == b
    assert a["auroc"] != c["auroc"]
    for k in ("auroc", "auprc"):
        assert a[k].ci_low < a[k].value < a[k].ci_high
        assert a[k].ci_high - a[k].ci_low < 0.25


def test_paired_bootstrap_detects_better_model_and_null() -> None:
    rng = np.random.default_rng(4)
    n = 800
    risk = rng.uniform(0.05, 0.7, n)
    y = (rng.uniform(size=n) < risk).astype(int)
    good = risk + rng.normal(0, 0.05, n)
    bad = risk + rng.normal(0, 0.6, n)
    cmp = M.paired_bootstrap(y, good, bad, n_boot=300, seed=0)
    assert cmp["auroc"]["value"] > 0 and cmp["auroc"]["ci_low"] > 0 and cmp["auroc"]["p_value"] < 0.01
    same = M.paired_bootstrap(y, good, good, n_boot=100, seed=0)
    assert same["auroc"]["value"] == 0 and same["auroc"]["p_value"] == 1.0


def test_evaluate_has_every_metric() -> None:
    y, p = _data()
    out = M.evaluate(y, p, threshold=0.3, n_boot=50, seed=0)
    for key in ("auroc", "auprc", "recall", "precision", "specificity", "f1", "accuracy", "brier", "ece",
                "confusion_matrix", "prevalence"):
        assert key in out
    assert sum(map(sum, out["confusion_matrix"])) == y.size
    assert M.metric_value(out["auroc"]) == pytest.approx(skm.roc_auc_score(y, p))


def test_bad_input_is_named() -> None:
    with pytest.raises(ValueError, match="differ in length"):
        M.ranking_metrics(np.array([0, 1]), np.array([0.1]))
    with pytest.raises(ValueError, match="0 or 1"):
        M.ranking_metrics(np.array([0, 2]), np.array([0.1, 0.2]))
