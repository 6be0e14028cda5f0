"""The evaluation protocol: validation fixes calibrator and thresholds, discrimination on raw scores."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as skm

from ehrlib.evaluation import protocol as PR
from ehrlib.evaluation.calibration import IsotonicCalibrator


def _scores(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    risk = rng.uniform(0.02, 0.7, n)
    y = (rng.uniform(size=n) < risk).astype(int)
    score = 1 / (1 + np.exp(-(4 * (risk - 0.3) + rng.normal(0, 0.6, n))))
    return y, score, np.repeat(np.arange(n // 2 + 1), 2)[:n]


def test_discrimination_is_on_raw_scores_and_calibration_on_calibrated_ones() -> None:
    yv, pv, _ = _scores(1500, 0)
    yt, pt, groups = _scores(1500, 1)
    ev = PR.evaluate_model(pv, yv, pt, yt, groups, n_boot=100, seed=0)
    m = ev.metrics
    assert m.auroc.value == pytest.approx(skm.roc_auc_score(yt, pt))
    assert m.calibrated.brier.value == pytest.approx(skm.brier_score_loss(yt, ev.p_test))
    assert m.raw is not None and m.raw.brier.value == pytest.approx(skm.brier_score_loss(yt, pt))
    assert m.calibrated.n_exact_zero == m.calibrated.n_exact_one == 0
    assert m.calibrator in m.calibrator_cv_log_loss and m.resampling_unit == "subject"
    # an isotonic step function creates ties, which can only lower the AUROC of what it ranks
    iso = IsotonicCalibrator().fit(pv, yv).transform(pt)
    assert skm.roc_auc_score(yt, iso) <= m.auroc.value + 1e-12
    assert PR.ModelEvaluation.from_dict(m.to_dict()) == m


def test_test_labels_never_change_what_validation_fixed() -> None:
    yv, pv, _ = _scores(1000, 2)
    yt, pt, groups = _scores(1000, 3)
    a = PR.evaluate_model(pv, yv, pt, yt, groups, n_boot=50, seed=0)
    b = PR.evaluate_model(pv, yv, pt, 1 - yt, groups, n_boot=50, seed=0)
    assert a.fitted.choice == b.fitted.choice and a.fitted.cv_log_loss == b.fitted.cv_log_loss
    np.testing.assert_array_equal(a.p_test, b.p_test)
    assert b.metrics.auroc.value == pytest.approx(1 - a.metrics.auroc.value)


def test_point_scores_match_the_full_evaluation() -> None:
    yv, pv, _ = _scores(800, 4)
    yt, pt, groups = _scores(800, 5)
    ev = PR.evaluate_model(pv, yv, pt, yt, groups, n_boot=20, seed=0)
    pts = PR.point_scores(ev.fitted, pt, yt)
    assert pts["auroc"] == pytest.approx(ev.metrics.auroc.value)
    assert pts["f1"] == pytest.approx(ev.metrics.at_threshold["f1"].value)
    assert pts["ece"] == pytest.approx(ev.metrics.calibrated.ece.value)
