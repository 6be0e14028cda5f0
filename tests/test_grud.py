"""GRU-D: the decay equations against a numpy computation by hand, shapes, masking, determinism, saving."""

from __future__ import annotations

import numpy as np
import pytest

from ehrlib.mortality.grud import GrudConfig, build_grud, grud_layer
from ehrlib.mortality.time_inputs import hours_since_observed

keras = pytest.importorskip("keras")


def tiny(seed: int = 0, n: int = 2, steps: int = 4, d: int = 2):
    """Values, mask and Che's delta for a tiny batch; unobserved values hold noise on purpose."""
    rng = np.random.default_rng(seed)
    mask = rng.uniform(size=(n, steps, d)) < 0.5
    mask[:, 0, 0] = True
    values = rng.normal(size=(n, steps, d)).astype(np.float32)
    return values, mask.astype(np.float32), hours_since_observed(mask)


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def grud_by_hand(x, m, delta, x_mean, w):
    """Che et al. Eq. 4-9 written out step by step in float64 numpy."""
    n, steps, d = x.shape
    u = w["b_gh"].shape[0]
    h, x_last = np.zeros((n, u)), np.broadcast_to(x_mean, (n, d)).copy()
    for t in range(steps):
        xt, mt, dt = x[:, t], m[:, t], delta[:, t]
        gamma_x = np.exp(-np.maximum(0, dt * w["w_gx"] + w["b_gx"]))
        gamma_h = np.exp(-np.maximum(0, dt @ w["w_gh"] + w["b_gh"]))
        x_last = mt * xt + (1 - mt) * x_last
        x_hat = mt * xt + (1 - mt) * (gamma_x * x_last + (1 - gamma_x) * x_mean)
        h_hat = gamma_h * h
        W, U, V, b = w["kernel"], w["recurrent_kernel"], w["mask_kernel"], w["bias"]
        z = sigmoid(x_hat @ W[:, :u] + h_hat @ U[:, :u] + mt @ V[:, :u] + b[:u])
        r = sigmoid(x_hat @ W[:, u:2 * u] + h_hat @ U[:, u:2 * u] + mt @ V[:, u:2 * u] + b[u:2 * u])
        h_tilde = np.tanh(x_hat @ W[:, 2 * u:] + (r * h_hat) @ U[:, 2 * u:] + mt @ V[:, 2 * u:] + b[2 * u:])
        h = (1 - z) * h_hat + z * h_tilde
    return h


def test_the_decay_equations_match_a_computation_by_hand():
    x, m, delta = tiny()
    x_mean = np.array([0.3, -0.7])
    layer = grud_layer(3, x_mean, seed=1)
    layer(np.concatenate([x, m, delta], axis=2))
    rng = np.random.default_rng(5)
    cell = layer.cell
    weights = {}
    for var in cell.weights:  # non-zero decay weights and biases, so that every term counts
        value = rng.normal(0, 0.5, tuple(var.shape)).astype(np.float32)
        var.assign(value)
        weights[var.name] = value.astype(np.float64)
    got = np.asarray(layer(np.concatenate([x, m, delta], axis=2)))
    want = grud_by_hand(x.astype(np.float64), m.astype(np.float64), delta.astype(np.float64), x_mean, weights)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_values_at_unobserved_hours_are_never_read():
    x, m, delta = tiny(3)
    model = build_grud(4, 2, 0, GrudConfig(units=4, dense=(3,)), seed=2)
    noisy = np.where(m > 0, x, np.float32(1e3))
    a = model({"values": x, "mask": m, "delta": delta}).numpy()
    b = model({"values": noisy, "mask": m, "delta": delta}).numpy()
    np.testing.assert_array_equal(a, b)
    changed = x.copy()
    changed[m > 0] += 1.0
    assert not np.allclose(a, model({"values": changed, "mask": m, "delta": delta}).numpy())


def test_shapes_and_descriptors():
    x, m, delta = tiny(n=5)
    model = build_grud(4, 2, 3, GrudConfig(units=6), seed=0)
    out = model({"values": x, "mask": m, "delta": delta, "static": np.ones((5, 3), np.float32)})
    assert tuple(out.shape) == (5, 1)
    assert sorted(t.name for t in model.inputs) == ["delta", "mask", "static", "values"]
    seq = grud_layer(6, np.zeros(2), return_sequences=True)(np.concatenate([x, m, delta], axis=2))
    assert tuple(seq.shape) == (5, 4, 6)
    with pytest.raises(ValueError, match="3 x 2"):
        grud_layer(6, np.zeros(2))(np.concatenate([x, m], axis=2))


def test_same_seed_same_network_other_seed_other():
    a = build_grud(4, 2, 0, GrudConfig(units=4), seed=7).get_weights()
    b = build_grud(4, 2, 0, GrudConfig(units=4), seed=7).get_weights()
    c = build_grud(4, 2, 0, GrudConfig(units=4), seed=8).get_weights()
    assert all(np.array_equal(p, q) for p, q in zip(a, b))
    assert not all(np.array_equal(p, q) for p, q in zip(a, c))


def test_save_and_load_round_trip(tmp_path):
    x, m, delta = tiny()
    model = build_grud(4, 2, 0, GrudConfig(units=4), x_mean=np.array([0.5, -0.5]), seed=3)
    inputs = {"values": x, "mask": m, "delta": delta}
    model.save(tmp_path / "grud.keras")
    again = keras.saving.load_model(tmp_path / "grud.keras", compile=False)
    np.testing.assert_allclose(model(inputs).numpy(), again(inputs).numpy(), rtol=1e-6)
    assert again.get_layer("grud").cell.x_mean == [0.5, -0.5]
