"""The shared Keras training loop (`ehrlib.training`): bit-identical to the two loops it replaced, early
stopping and restoring, dict inputs, training-mode outputs, bad inputs."""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")

from ehrlib.batches import padded_batches  # noqa: E402
from ehrlib.evaluation.thresholds import select_f1_threshold  # noqa: E402
from ehrlib.mortality.lstm import LstmConfig, _scores, build_lstm, predict_proba, train_lstm  # noqa: E402
from ehrlib.mortality.losses import focal_loss  # noqa: E402
from ehrlib.stroke.losses import teoh_loss  # noqa: E402
from ehrlib.stroke.models import NetworkConfig, TrainConfig, build_network, predict, train_network  # noqa: E402
from ehrlib.training import FitConfig, fit, n_rows, take  # noqa: E402


# The two loops as they were before `ehrlib.training` (mortality/lstm.py::train_lstm and
# stroke/models.py::train_network at commit 0322e0e), reduced to what decides the weights: the reference
# that the shared loop must reproduce bit for bit (same random draws in the same order, same operations).
def _reference_lstm(X, y, Xv, yv, config: LstmConfig, seed: int, xla: bool):
    model = build_lstm(X.shape[1], X.shape[2], config, seed=seed)
    per_example = keras.losses.BinaryFocalCrossentropy(apply_class_balancing=True, alpha=config.alpha,
                                                       gamma=config.gamma, reduction=None)
    optimizer = keras.optimizers.Adam(learning_rate=config.learning_rate)
    optimizer.build(model.trainable_variables)
    variables = model.trainable_variables

    @tf.function(jit_compile=xla, reduce_retracing=True)
    def step(xb, yb, wb):
        with tf.GradientTape() as tape:
            p = model(xb, training=True)
            data_loss = tf.reduce_sum(per_example(yb[:, None], p) * wb) / tf.reduce_sum(wb)
            loss = data_loss + tf.add_n(model.losses) if model.losses else data_loss
        optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
        return loss, p[:, 0]

    loss_fn, rng, n = focal_loss(gamma=config.gamma, alpha=config.alpha), np.random.default_rng(seed), len(y)
    history, best, best_weights, waited = {"loss": [], "val_loss": [], "auroc": [], "val_auroc": []}, -np.inf, None, 0
    for _ in range(config.max_epochs):
        order, p_train, total = rng.permutation(n), np.empty(n), 0.0
        for b, (idx, m, w) in zip(range(0, n, config.batch_size), padded_batches(order, config.batch_size)):
            loss, p = step(X[idx], y[idx], w)
            total += float(loss) * m
            p_train[b:b + m] = np.asarray(p)[:m]
        p_val = predict_proba(model, Xv, config.predict_batch_size, xla)
        penalty = float(sum(np.asarray(l) for l in model.losses))
        history["loss"].append(total / n)
        history["val_loss"].append(float(np.mean(loss_fn(yv[:, None], p_val[:, None].astype(np.float32)))) + penalty)
        history["auroc"].append(_scores(y[order], p_train)[0])
        history["val_auroc"].append(_scores(yv, p_val)[0])
        score = history["val_auroc"][-1]
        improved = np.isfinite(score) and score > best
        best, best_weights, waited = (score, model.get_weights(), 0) if improved else (best, best_weights, waited + 1)
        if not improved and waited >= config.patience:
            break
    model.set_weights(best_weights)
    return model, history


def _reference_stroke(cfg: NetworkConfig, X, y, Xv, yv, tc: TrainConfig):
    model = build_network(cfg, {k: v.shape[1:] for k, v in X.items()}, seed=tc.seed)
    loss_fn = teoh_loss(tc.alpha, tc.beta, tc.gamma, reduction=None)
    optimizer = keras.optimizers.Adam(learning_rate=tc.learning_rate)
    optimizer.build(model.trainable_variables)
    variables = model.trainable_variables

    @tf.function(jit_compile=tc.jit_compile, reduce_retracing=True)
    def step(xb, yb, wb):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(loss_fn(yb, model(xb, training=True)) * wb) / tf.reduce_sum(wb)
        optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
        return loss

    y1h, rng = np.eye(2, dtype=np.float32)[y], np.random.default_rng(tc.seed)
    f1s, best, best_weights, waited = [], -np.inf, None, 0
    for _ in range(tc.max_epochs):
        for idx, m, w in padded_batches(rng.permutation(len(y)), tc.batch_size):
            step({k: v[idx] for k, v in X.items()}, y1h[idx], w)
        f1s.append(select_f1_threshold(yv, predict(model, Xv))["f1"])
        best, best_weights, waited = (f1s[-1], model.get_weights(), 0) if f1s[-1] > best else (best, best_weights,
                                                                                               waited + 1)
        if waited >= tc.patience:
            break
    model.set_weights(best_weights)
    return model, f1s


def _same_weights(a, b) -> bool:
    return all(x.dtype == y.dtype and np.array_equal(x, y) for x, y in zip(a.get_weights(), b.get_weights()))


def _mortality_arrays(n: int, seed: int):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 6, 3)).astype(np.float32)
    y = (X[:, -1, 0] + rng.normal(size=n) > 0.3).astype(np.float32)
    return X, y


@pytest.mark.parametrize("xla", [False, True])
def test_the_lstm_trains_bit_identically_to_its_former_loop(xla):
    X, y = _mortality_arrays(70, 1)
    Xv, yv = _mortality_arrays(30, 2)
    config = LstmConfig(units=4, dense=(4,), max_epochs=4, patience=1, batch_size=16, learning_rate=0.01,
                        jit_compile=xla)
    new = train_lstm(X, y, Xv, yv, config, seed=3, progress=False)
    old, history = _reference_lstm(X, y, Xv, yv, config, seed=3, xla=xla)
    assert _same_weights(new.model, old)
    assert {k: new.history[k] for k in history} == history
    assert np.array_equal(predict_proba(new.model, Xv), predict_proba(old, Xv))
    other = train_lstm(X, y, Xv, yv, config, seed=4, progress=False)
    assert not _same_weights(other.model, old)  # the comparison can fail


def _stroke_arrays(n: int, seed: int):
    rng = np.random.default_rng(seed)
    X = {"diagnosis": (rng.random((n, 5, 4)) < 0.3).astype(np.float32),
         "exam": rng.normal(size=(n, 3, 2)).astype(np.float32)}
    y = (X["diagnosis"][:, -1, 0] + 0.3 * rng.normal(size=n) > 0.5).astype(int)
    return X, y


def test_the_stroke_networks_train_bit_identically_to_their_former_loop():
    X, y = _stroke_arrays(60, 1)
    Xv, yv = _stroke_arrays(40, 2)
    cfg = NetworkConfig("dual", gru_units=4, td_units=(4,), head_units=4)
    tc = TrainConfig(max_epochs=4, patience=2, batch_size=16, learning_rate=0.01, seed=5, jit_compile=False)
    new = train_network(cfg, X, y, Xv, yv, tc)
    old, f1s = _reference_stroke(cfg, X, y, Xv, yv, tc)
    assert _same_weights(new.model, old)
    assert new.history["val_f1"] == f1s and len(new.epoch_seconds) == len(f1s)
    assert np.array_equal(predict(new.model, Xv), predict(old, Xv))


def _tiny_model(seed: int = 0, inputs: tuple[str, ...] = ()):
    init = keras.initializers.GlorotUniform(seed=seed)
    if not inputs:
        x = keras.Input(shape=(3,))
        return keras.Model(x, keras.layers.Dense(1, kernel_initializer=init)(x))
    xs = {k: keras.Input(shape=(3,), name=k) for k in inputs}
    joined = keras.layers.Concatenate()(list(xs.values()))
    return keras.Model(xs, keras.layers.Dense(1, kernel_initializer=init)(joined))


def _squared(y, p):
    return tf.reduce_mean(tf.square(y - p), axis=-1)


def test_fit_stops_early_restores_the_best_epoch_and_records_each_epoch():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(50, 3)).astype(np.float32)
    y = (x @ np.array([1.0, -2.0, 0.5], dtype=np.float32))[:, None]
    scripted = iter([3.0, 1.0, 2.0, 2.5, 0.5, 0.1])  # best (min) at epoch 2, then two epochs without gain
    seen = []

    def score(model, done):
        seen.append(model.get_weights())
        return {"val_error": next(scripted)}

    config = FitConfig(monitor="val_error", mode="min", max_epochs=6, patience=2, batch_size=8, learning_rate=0.05)
    result = fit(_tiny_model(), _squared, x, y, score, config)
    assert result.epochs_run == 4 and result.best_epoch == 2 and len(result.epoch_seconds) == 4
    assert result.history["val_error"] == [3.0, 1.0, 2.0, 2.5]
    assert result.history["loss"][-1] < result.history["loss"][0]
    assert all(np.array_equal(a, b) for a, b in zip(result.model.get_weights(), seen[1]))
    assert not np.array_equal(result.model.get_weights()[0], seen[3][0])
    kept = fit(_tiny_model(), _squared, x, y, lambda m, d: {"val_error": 1.0},
               FitConfig(monitor="val_error", max_epochs=3, patience=5, restore_best=False))
    assert kept.best_epoch == 3 == kept.epochs_run


def test_fit_takes_a_dict_of_inputs_and_keeps_training_outputs_in_row_order():
    rng = np.random.default_rng(1)
    x = {"a": rng.normal(size=(21, 3)).astype(np.float32), "b": rng.normal(size=(21, 3)).astype(np.float32)}
    y = rng.normal(size=(21, 1)).astype(np.float32)
    passes = []

    def score(model, done):
        passes.append(done)
        return {"val": -done.loss}

    result = fit(_tiny_model(2, ("a", "b")), _squared, x, y, score,
                 FitConfig(monitor="val", max_epochs=2, batch_size=4, seed=9), keep_outputs=True)
    assert result.epochs_run == 2 and passes[0].outputs.shape == (21, 1)
    assert sorted(passes[0].order) == list(range(21)) and not np.array_equal(passes[0].order, passes[1].order)
    assert n_rows(x) == 21 and take(x, np.array([2, 0]))["b"].tolist() == x["b"][[2, 0]].tolist()


def test_fit_refuses_mismatched_inputs_and_bad_settings():
    x = np.zeros((5, 3), dtype=np.float32)
    with pytest.raises(ValueError, match="5 input rows but 4 targets"):
        fit(_tiny_model(), _squared, x, np.zeros((4, 1)), lambda m, d: {"v": 0.0}, FitConfig(monitor="v"))
    with pytest.raises(ValueError, match="different numbers of rows"):
        n_rows({"a": x, "b": x[:2]})
    with pytest.raises(ValueError, match="mode"):
        FitConfig(monitor="v", mode="best")
