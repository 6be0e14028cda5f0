"""The PhysioNet 2012 challenge scores against hand computations."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import precision_score, recall_score

from ehrlib.evaluation.challenge import challenge_scores, event1_score, hosmer_lemeshow_h


def _lemeshow_by_hand(y: np.ndarray, p: np.ndarray) -> float:
    """The organisers' lemeshow.m, line by line (a loop, as written there)."""
    d = 10
    m = len(y) // d
    order = sorted(range(len(y)), key=lambda i: p[i])  # Python's sort is stable, like sortrows
    total, centroids = 0.0, []
    for i in range(d):
        rows = order[i * m:(i + 1) * m]
        obs = sum(y[j] for j in rows)
        c = sum(p[j] for j in rows) / m
        centroids.append(c)
        total += (obs - m * c) ** 2 / (m * c * (1 - c) + 0.001)
    return total / (centroids[-1] - centroids[0])


def test_hosmer_lemeshow_matches_the_organisers_formula() -> None:
    rng = np.random.default_rng(3)
    p = np.round(rng.uniform(0.01, 0.9, 437), 2)  # ties, and 7 stays left out of the groups
    y = (rng.uniform(size=p.size) < p).astype(int)
    assert hosmer_lemeshow_h(y, p) == pytest.approx(_lemeshow_by_hand(y.tolist(), p.tolist()), rel=1e-12)


def test_hosmer_lemeshow_small_example_by_hand() -> None:
    """Twenty stays, two per group: group d holds risks 0.05 * (2d + 1), 0.05 * (2d + 2)."""
    p = np.arange(1, 21) * 0.045
    y = np.zeros(20, dtype=int)
    y[[1, 3, 19]] = 1
    c = (p[0::2] + p[1::2]) / 2
    obs = np.array([1, 1, 0, 0, 0, 0, 0, 0, 0, 1])
    expected = ((obs - 2 * c) ** 2 / (2 * c * (1 - c) + 0.001)).sum() / (c[-1] - c[0])
    assert hosmer_lemeshow_h(y, p) == pytest.approx(expected, rel=1e-12)


def test_hosmer_lemeshow_rewards_calibration() -> None:
    rng = np.random.default_rng(0)
    p = rng.beta(1, 5, 4000)
    y = (rng.uniform(size=p.size) < p).astype(int)
    assert hosmer_lemeshow_h(y, p) < hosmer_lemeshow_h(y, np.clip(p * 2, 0, 0.99))
    assert hosmer_lemeshow_h(y, p) < hosmer_lemeshow_h(y, np.full(p.size, y.mean()) + rng.normal(0, 1e-3, p.size))


def test_event1_is_the_smaller_of_sensitivity_and_ppv() -> None:
    rng = np.random.default_rng(1)
    p = rng.uniform(size=300)
    y = (rng.uniform(size=300) < p * 0.6).astype(int)
    for t in (0.2, 0.5, 0.8):
        pred = (p >= t).astype(int)
        assert event1_score(y, p, t) == pytest.approx(min(recall_score(y, pred), precision_score(y, pred)))
    assert event1_score(y, p, 2.0) == 0.0  # nothing predicted positive


def test_challenge_scores_event1_interval_and_event2_point() -> None:
    rng = np.random.default_rng(2)
    p = rng.beta(1, 5, 800)
    y = (rng.uniform(size=p.size) < p).astype(int)
    e1, e2 = challenge_scores(y, p, 0.3, groups=np.arange(p.size) // 2, n_boot=200, seed=0)
    assert e1.ci_low <= e1.value <= e1.ci_high and e1.value == event1_score(y, p, 0.3)
    assert e2 == hosmer_lemeshow_h(y, p)
