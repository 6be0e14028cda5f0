"""Tests of the stroke networks (shapes, weight transfer, determinism) and the Eq. 11 loss."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np
import pytest

from ehrlib.evaluation.thresholds import select_f1_threshold
from ehrlib.stroke.losses import class_weights, teoh_loss, teoh_loss_numpy
from ehrlib.stroke.models import (
    NetworkConfig, TrainConfig, build_network, grid, predict, train_network, transfer_weights,
)

SHAPES = {"diagnosis": (6, 5), "exam": (4, 3)}


def _data(n: int = 160, seed: int = 0):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.3).astype(int)
    d = rng.normal(size=(n, 6, 5)).astype(np.float32) + y[:, None, None] * 0.8
    e = rng.normal(size=(n, 4, 3)).astype(np.float32) + y[:, None, None] * 0.8
    d[:, :2] = 0.0  # padding at the front
    e[: n // 4, :3] = 0.0
    return {"diagnosis": d, "exam": e}, y


def test_loss_matches_hand_computation_and_beta_equal_gamma_is_scaled_ce():
    import keras

    rng = np.random.default_rng(1)
    y = np.array([0, 1, 0, 0, 1, 0])
    f = rng.dirichlet([1, 1], size=len(y)).astype(np.float32)
    y1h = np.eye(2, dtype=np.float32)[y]
    hand = teoh_loss_numpy(y, f, 0.2, 5.0, 5.0)
    assert np.isclose(hand["fp_u"] + hand["fn_u"], hand["ce"])
    assert np.isclose(hand["total"], 5.2 * hand["ce"])
    assert np.isclose(float(teoh_loss(0.2, 5.0, 5.0)(y1h, f)), hand["mean"], rtol=1e-5)
    ce = float(keras.losses.CategoricalCrossentropy()(y1h, f))
    assert np.isclose(float(teoh_loss(0.2, 5.0, 5.0)(y1h, f)), 5.2 * ce, rtol=1e-5)
    asym = teoh_loss_numpy(y, f, 0.2, 1.0, 9.0)
    assert np.isclose(float(teoh_loss(0.2, 1.0, 9.0)(y1h, f)), asym["mean"], rtol=1e-5)
    per = np.asarray(teoh_loss(0.2, 1.0, 9.0, reduction=None)(y1h, f))
    ll = -np.log(f[np.arange(len(y)), y])
    assert np.allclose(per, ll * np.where(y == 1, 9.2, 1.2), rtol=1e-5)
    assert class_weights(0.2, 1.0, 9.0) == (1.2, 9.2)
    with pytest.raises(ValueError):
        teoh_loss(-1.0, 1.0, 1.0)


def test_network_shapes_and_pooling_of_empty_sequences():
    for kind, out_inputs in (("diagnosis", ["diagnosis"]), ("exam", ["exam"]), ("dual", ["diagnosis", "exam"])):
        model = build_network(NetworkConfig(kind), SHAPES, seed=0)
        assert sorted(model.input_names if hasattr(model, "input_names") else [i.name for i in model.inputs]) \
            == sorted(out_inputs) or len(model.inputs) == len(out_inputs)
        X, _ = _data(10)
        X["exam"][0] = 0.0  # no real exam-year at all: pooled to zeros, never NaN
        p = np.asarray(model({k: X[k] for k in out_inputs}, training=False))
        assert p.shape == (10, 2) and np.isfinite(p).all() and np.allclose(p.sum(axis=1), 1.0, atol=1e-5)


def test_grid_is_small_documented_and_dual_keeps_chosen_branches():
    assert [c.gru_units for c in grid("diagnosis")] == [16, 32]
    assert len(grid("exam")) == 2 and len(grid("exam", "one")) == 1
    base = {"diagnosis": NetworkConfig("diagnosis", gru_units=16), "exam": NetworkConfig("exam", td_units=(64, 32))}
    dual = grid("dual", base=base)
    assert all(c.gru_units == 16 and c.td_units == (64, 32) for c in dual)
    assert NetworkConfig.from_dict(dual[0].to_dict()) == dual[0]


def test_weight_transfer_copies_donor_layers_exactly():
    m1 = build_network(NetworkConfig("diagnosis"), SHAPES, seed=1)
    m2 = build_network(NetworkConfig("exam"), SHAPES, seed=2)
    m3 = build_network(NetworkConfig("dual"), SHAPES, seed=3)
    before = {l.name: [w.copy() for w in l.get_weights()] for l in m3.layers}
    diffs = transfer_weights(m3, (m1, m2))
    assert set(diffs) == {"dx_gru", "ex_td_1", "ex_td_2"} and max(diffs.values()) == 0.0
    for name, donor in (("dx_gru", m1), ("ex_td_1", m2)):
        for a, b in zip(m3.get_layer(name).get_weights(), donor.get_layer(name).get_weights()):
            assert np.array_equal(a, b)
        assert not all(np.array_equal(a, b) for a, b in zip(before[name], donor.get_layer(name).get_weights()))
    for a, b in zip(m3.get_layer("output").get_weights(), before["output"]):
        assert np.array_equal(a, b)  # the head is not transferred (its input width differs)
    with pytest.raises(ValueError):
        transfer_weights(build_network(NetworkConfig("exam"), SHAPES), (m1,))


def test_training_is_bit_identical_for_a_seed_and_restores_the_best_epoch():
    X, y = _data()
    Xv, yv = _data(80, seed=5)
    tc = TrainConfig(max_epochs=3, patience=3, batch_size=32, seed=4)
    a = train_network(NetworkConfig("dual", gru_units=4, td_units=(4,), head_units=4), X, y, Xv, yv, tc)
    b = train_network(NetworkConfig("dual", gru_units=4, td_units=(4,), head_units=4), X, y, Xv, yv, tc)
    for wa, wb in zip(a.model.get_weights(), b.model.get_weights()):
        assert np.array_equal(wa, wb)
    assert a.history == b.history and 1 <= a.best_epoch <= 3
    assert a.val_f1 == max(a.history["val_f1"])
    pv = predict(a.model, Xv)
    assert np.isclose(select_f1_threshold(yv, pv)["f1"], a.val_f1)


def test_beta_equal_gamma_trains_like_plain_cross_entropy():
    """(alpha + beta) * CE under Adam: same seed, nearly the same weights as CE alone (Adam's epsilon aside)."""
    X, y = _data()
    Xv, yv = _data(80, seed=5)
    cfg = NetworkConfig("exam", td_units=(4,), head_units=4, dropout=0.0)
    paper = train_network(cfg, X, y, Xv, yv, TrainConfig(max_epochs=2, patience=5, alpha=0.2, beta=5, gamma=5,
                                                         restore_best=False))
    plain = train_network(cfg, X, y, Xv, yv, TrainConfig(max_epochs=2, patience=5, alpha=1.0, beta=0, gamma=0,
                                                         restore_best=False))
    skew = train_network(cfg, X, y, Xv, yv, TrainConfig(max_epochs=2, patience=5, alpha=0.2, beta=1, gamma=9,
                                                        restore_best=False))
    d_plain = max(np.abs(a - b).max() for a, b in zip(paper.model.get_weights(), plain.model.get_weights()))
    d_skew = max(np.abs(a - b).max() for a, b in zip(paper.model.get_weights(), skew.model.get_weights()))
    assert d_plain < 1e-3 < d_skew


def test_learned_embedding_network_trains_its_own_code_vectors_and_round_trips(tmp_path):
    """The end-to-end arm of the embedding ablation: the diagnosis input's last feature is a code number
    (`icd10.index_embedding`), replaced inside the network by a trainable embedding that training moves;
    training is bit-identical for a seed and the model saves and loads as `.keras`."""
    from ehrlib.stroke.autoencoder import save_keras_model
    from ehrlib.stroke.models import load_network
    from ehrlib.stroke.icd10 import build_vocabulary, index_embedding

    vocab = build_vocabulary(["I10", "E11", "E78", "N18", "J45"])
    emb = index_embedding(vocab)
    assert emb.dim == 1 and emb.lookup(["I10", "J45"]).ravel().tolist() == [vocab.index(["I10"])[0] + 1,
                                                                          vocab.index(["J45"])[0] + 1]
    X, y = _data()
    rng = np.random.default_rng(1)
    codes = rng.integers(1, len(vocab) + 1, size=X["diagnosis"].shape[:2]).astype(np.float32)
    codes += y[:, None] * (codes < 3)  # codes 1-2 shift up for positives: the code itself carries signal
    X["diagnosis"][..., -1] = np.where(np.any(X["diagnosis"][..., :-1] != 0, axis=-1), codes, 0.0)
    Xv, yv = {"diagnosis": X["diagnosis"][:60]}, y[:60]
    cfg = NetworkConfig("diagnosis", gru_units=4, head_units=4, learned_embedding=len(vocab), learned_dim=3)
    model = build_network(cfg, {"diagnosis": (6, 5)}, seed=0)
    table = model.get_layer("dx_codes").embedding.embeddings
    assert tuple(table.shape) == (len(vocab) + 1, 3) and table.trainable
    assert model.output_shape == (None, 2)
    tc = TrainConfig(max_epochs=2, patience=2, batch_size=32, seed=3, jit_compile=False)
    a = train_network(cfg, {"diagnosis": X["diagnosis"]}, y, Xv, yv, tc)
    b = train_network(cfg, {"diagnosis": X["diagnosis"]}, y, Xv, yv, tc)
    trained = a.model.get_layer("dx_codes").embedding.embeddings.numpy()
    assert not np.array_equal(trained, table.numpy())  # the embedding was learned
    assert np.array_equal(trained, b.model.get_layer("dx_codes").embedding.embeddings.numpy())
    path = save_keras_model(a.model, tmp_path / "m.keras")
    again = load_network(path)
    assert np.allclose(predict(again, Xv), predict(a.model, Xv))
