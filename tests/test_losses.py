"""Tests of ehrlib.losses: the focal loss against Lin et al.'s formula computed by hand in numpy."""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

keras = pytest.importorskip("keras")

from ehrlib.mortality.losses import focal_loss, focal_loss_numpy  # noqa: E402


def by_hand(y: np.ndarray, p: np.ndarray, gamma: float, alpha: float | None) -> float:
    """Mean focal loss written out term by term (alpha=None: no class weighting)."""
    total = 0.0
    for yi, pi in zip(y, p):
        pt = pi if yi == 1 else 1.0 - pi
        at = 1.0 if alpha is None else (alpha if yi == 1 else 1.0 - alpha)
        total += -at * (1.0 - pt) ** gamma * np.log(pt)
    return total / len(y)


@pytest.fixture
def batch():
    rng = np.random.default_rng(0)
    y = (rng.random(64) < 0.3).astype(np.float32)
    p = rng.uniform(0.02, 0.98, 64).astype(np.float32)
    return y, p


@pytest.mark.parametrize("gamma,alpha", [(2.0, 0.25), (0.0, 0.25), (1.0, 0.75), (5.0, 0.5)])
def test_focal_loss_matches_lin_formula(batch, gamma, alpha):
    y, p = batch
    got = float(focal_loss(gamma=gamma, alpha=alpha)(y[:, None], p[:, None]))
    want = by_hand(y.astype(np.float64), p.astype(np.float64), gamma, alpha)
    assert got == pytest.approx(want, rel=1e-5)
    assert float(np.mean(focal_loss_numpy(y, p, gamma, alpha))) == pytest.approx(want, rel=1e-12)


def test_alpha_weights_positives_and_one_minus_alpha_negatives():
    loss = focal_loss(gamma=2.0, alpha=0.25)
    p = np.array([[0.3]], np.float32)
    pos, neg = float(loss(np.array([[1.0]]), p)), float(loss(np.array([[0.0]]), p))
    assert pos == pytest.approx(0.25 * 0.7**2 * -np.log(0.3), rel=1e-5)
    assert neg == pytest.approx(0.75 * 0.3**2 * -np.log(0.7), rel=1e-5)


def test_keras_without_class_balancing_ignores_alpha(batch):
    """The trap the issue warns about: with apply_class_balancing=False, alpha has no effect."""
    y, p = batch
    vals = [float(keras.losses.BinaryFocalCrossentropy(alpha=a, gamma=2.0, apply_class_balancing=False)(
        y[:, None], p[:, None])) for a in (0.1, 0.25, 0.9)]
    assert vals[0] == pytest.approx(vals[1], rel=1e-7) == pytest.approx(vals[2], rel=1e-7)
    assert vals[1] == pytest.approx(by_hand(y, p, 2.0, None), rel=1e-5)
    # ... whereas ours does depend on alpha.
    assert float(focal_loss(alpha=0.1)(y[:, None], p[:, None])) != pytest.approx(
        float(focal_loss(alpha=0.9)(y[:, None], p[:, None])), rel=1e-3)


def test_gamma_zero_alpha_half_is_half_cross_entropy(batch):
    y, p = batch
    ce = float(keras.losses.BinaryCrossentropy()(y[:, None], p[:, None]))
    assert float(focal_loss(gamma=0.0, alpha=0.5)(y[:, None], p[:, None])) == pytest.approx(ce / 2, rel=1e-5)


def test_bad_parameters_are_rejected():
    with pytest.raises(ValueError, match="alpha"):
        focal_loss(alpha=1.5)
    with pytest.raises(ValueError, match="gamma"):
        focal_loss(gamma=-1.0)


def test_focal_loss_figure_draws_the_formula():
    from ehrlib.mortality.plots import focal_loss_figure

    fig = focal_loss_figure(gammas=(0.0, 2.0), alpha=0.25)
    assert len(fig.data) == 2 + 4
    ce = fig.data[0]
    np.testing.assert_allclose(ce.y, -np.log(ce.x), rtol=1e-9)  # gamma 0: plain cross-entropy
    focal_pos = fig.data[2]
    np.testing.assert_allclose(focal_pos.y, 0.25 * (1 - focal_pos.x) ** 2 * -np.log(focal_pos.x), rtol=1e-9)
