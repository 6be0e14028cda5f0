"""Net benefit at one threshold with paired bootstrap intervals (`evaluation.thresholds.net_benefit_interval`)."""

from __future__ import annotations

import numpy as np
import pytest

from ehrlib.evaluation.bootstrap import weight_chunks
from ehrlib.evaluation.thresholds import net_benefit, net_benefit_interval, treat_all_net_benefit


def _data(n: int = 400, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    p = np.clip(0.3 * y + rng.uniform(0, 0.7, n), 0, 1)
    return y, p, np.repeat(np.arange(n // 2), 2)


def test_point_values_match_the_decision_curve() -> None:
    y, p, groups = _data()
    out = net_benefit_interval(y, p, 0.3, groups=groups, n_boot=100, seed=1)
    assert out["model"].value == pytest.approx(net_benefit(y, p, np.array([0.3]))[0])
    assert out["treat all"].value == pytest.approx(treat_all_net_benefit(y, np.array([0.3]))[0])
    assert out["difference"].value == pytest.approx(out["model"].value - out["treat all"].value)
    for iv in out.values():
        assert iv.ci_low <= iv.value <= iv.ci_high


def test_replicates_are_the_expanded_resamples() -> None:
    y, p, groups = _data(60)
    codes = np.unique(groups, return_inverse=True)[1]
    w = next(weight_chunks(codes, 50, 3))
    expanded = [net_benefit(np.repeat(y, k.astype(int)), np.repeat(p, k.astype(int)), np.array([0.25]))[0] for k in w]
    out = net_benefit_interval(y, p, 0.25, groups=groups, n_boot=50, seed=3)
    lo, hi = np.percentile(expanded, [2.5, 97.5])
    assert out["model"].ci_low == pytest.approx(lo) and out["model"].ci_high == pytest.approx(hi)


def test_a_useless_model_does_not_beat_treating_everyone_and_bad_thresholds_fail() -> None:
    y, _, groups = _data()
    out = net_benefit_interval(y, np.full(y.size, 0.9), 0.1, groups=groups, n_boot=200)
    assert out["difference"].value == pytest.approx(0.0) and not out["difference"].excludes(0)
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        net_benefit_interval(y, y * 1.0, 1.0)
