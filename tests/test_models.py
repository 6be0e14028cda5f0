"""Tests of ehrlib.models: architecture, deterministic training, early stopping, artifacts."""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

keras = pytest.importorskip("keras")

from ehrlib.mortality.bundle import load_artifacts, save_artifacts  # noqa: E402
from ehrlib.mortality.lstm import LstmConfig, build_lstm, fit_lstm_pipeline, predict_proba, train_lstm  # noqa: E402
from ehrlib.mortality.preprocessing import MortalityPreprocessor  # noqa: E402
from ehrlib.icu.episodes import EpisodeSet  # noqa: E402

TINY = LstmConfig(units=8, dense=(8, 4), max_epochs=4, patience=1, batch_size=32, learning_rate=0.01,
                  l2=0.001, jit_compile=False)


def learnable_set(n: int, seed: int, split: str, val_shift: float = 0.0) -> EpisodeSet:
    """Episodes whose risk rises with a latent severity that drives heart rate and lactate up."""
    rng = np.random.default_rng(seed)
    severity = rng.normal(size=n)
    y = (rng.random(n) < 1 / (1 + np.exp(-(2.5 * severity - 1.5)))).astype(np.int8)
    base = np.array([85.0, 2.0])[None, None, :] + val_shift
    values = (base + severity[:, None, None] * [10.0, 1.0] + rng.normal(size=(n, 48, 2)) * [5.0, 0.3])
    mask = rng.random((n, 48, 2)) < 0.4
    mask[rng.random((n, 48)) < 0.15] = False
    values = np.where(mask, values, np.nan).astype(np.float32)
    return EpisodeSet(values=values, mask=mask, y=y, stays=np.array([f"{i}_episode1_timeseries.csv" for i in range(n)]),
                      variables=["Heart Rate", "Lactate"], true_risk=None, split=split)


def test_architecture_matches_the_source():
    model = build_lstm(48, 34, LstmConfig(), mask_value=-99.0, seed=0)
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds == ["InputLayer", "Masking", "LSTM", "Dense", "Dropout", "Dense", "Dropout", "Dense"]
    lstm = model.get_layer("lstm")
    assert (lstm.units, lstm.dropout, lstm.recurrent_dropout) == (64, 0.5, 0.3)
    d1, d2, out = model.get_layer("dense_1"), model.get_layer("dense_2"), model.get_layer("mortality")
    assert (d1.units, d2.units, out.units) == (32, 16, 1)
    assert d1.activation.__name__ == d2.activation.__name__ == "relu" and out.activation.__name__ == "sigmoid"
    assert float(d1.kernel_regularizer.l2) == pytest.approx(0.01)
    assert model.get_layer("dropout_1").rate == model.get_layer("dropout_2").rate == 0.5
    assert model.get_layer("masking").mask_value == -99.0
    # LSTM: 4 * (64 * (34 + 64) + 64) weights; then the dense head.
    assert model.count_params() == 4 * (64 * 98 + 64) + (64 * 32 + 32) + (32 * 16 + 16) + 17


def test_seeded_initialisation_is_reproducible():
    w1 = build_lstm(48, 6, TINY, seed=5).get_weights()
    w2 = build_lstm(48, 6, TINY, seed=5).get_weights()
    w3 = build_lstm(48, 6, TINY, seed=6).get_weights()
    assert all(np.array_equal(a, b) for a, b in zip(w1, w2))
    assert not np.array_equal(w1[0], w3[0])


def test_predict_proba_padding_and_dtype():
    model = build_lstm(48, 4, TINY, seed=1)
    X = np.random.default_rng(0).normal(size=(37, 48, 4)).astype(np.float32)
    p_big, p_small = predict_proba(model, X, batch_size=1024), predict_proba(model, X, batch_size=8)
    assert p_big.dtype == np.float64 and p_big.shape == (37,)
    np.testing.assert_allclose(p_big, p_small, atol=1e-6)
    np.testing.assert_allclose(p_big, np.asarray(model(X, training=False)).ravel(), atol=1e-6)


def test_training_is_deterministic_learns_and_restores_best_epoch(tmp_path):
    """Two trainings with the same seed give identical histories and predictions; a different
    validation set leaves the preprocessor unchanged (fitted on train only); the returned model is
    the best epoch's; artifacts round-trip."""
    train, val = learnable_set(400, 0, "train"), learnable_set(150, 1, "val")
    prep1, r1 = fit_lstm_pipeline(train, val, TINY, seed=3, progress=False)
    prep2, r2 = fit_lstm_pipeline(train, val, TINY, seed=3, progress=False)
    assert r1.history == r2.history
    X_val = prep1.transform(val)
    p1, p2 = predict_proba(r1.model, X_val), predict_proba(r2.model, X_val)
    np.testing.assert_array_equal(p1, p2)
    # It learns something real on this easy task.
    assert r1.history["val_auroc"][r1.best_epoch - 1] > 0.75
    assert set(r1.history) >= {"loss", "val_loss", "auroc", "val_auroc", "auprc", "val_auprc"}
    assert r1.epochs_run == len(r1.history["loss"]) and r1.seconds > 0
    # Restored best weights: rescoring reproduces the best epoch's validation AUROC.
    from sklearn.metrics import roc_auc_score
    assert roc_auc_score(val.y, p1) == pytest.approx(r1.history["val_auroc"][r1.best_epoch - 1], abs=1e-9)
    assert r1.best_epoch == int(np.argmax(r1.history["val_auroc"])) + 1
    # No leakage: the preprocessor ignores the validation data (here a very different one).
    prep3, r3 = fit_lstm_pipeline(train, learnable_set(150, 2, "val", val_shift=50.0), TINY, seed=3,
                                  progress=False)
    assert prep3.to_json() == prep1.to_json() == MortalityPreprocessor().fit(train).to_json()
    # The validation set is only used for scoring and early stopping: same training losses so far.
    assert r3.history["loss"][0] == r1.history["loss"][0]
    # Artifacts: identical predictions after save/load.
    save_artifacts(tmp_path / "m", r1.model, prep1)
    model, prep = load_artifacts(tmp_path / "m")
    np.testing.assert_allclose(predict_proba(model, prep.transform(val)), p1, atol=1e-7)


def test_early_stopping_stops_after_patience():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(96, 48, 3)).astype(np.float32)
    y = (rng.random(96) < 0.5).astype(np.int8)  # pure noise: val AUROC wanders
    for patience in (0, 2):
        cfg = LstmConfig(units=4, dense=(4, 4), max_epochs=30, patience=patience, batch_size=32,
                         jit_compile=False)
        r = train_lstm(X, y, X[:48], y[:48], cfg, seed=0, progress=False)
        assert r.epochs_run < 30
        # As Keras' EarlyStopping: stop after `patience` epochs without improvement (at least one).
        assert r.epochs_run - r.best_epoch == max(patience, 1)
        assert r.best_epoch == int(np.argmax(r.history["val_auroc"])) + 1


def test_bad_inputs_and_config():
    with pytest.raises(ValueError, match="monitor"):
        LstmConfig(monitor="accuracy")
    X = np.zeros((4, 48, 2), np.float32)
    with pytest.raises(ValueError, match="train: X contains NaN"):
        train_lstm(np.full_like(X, np.nan), np.zeros(4), X, np.zeros(4), TINY, progress=False)
    with pytest.raises(ValueError, match="labels must be 0/1"):
        train_lstm(X, np.full(4, 2), X, np.zeros(4), TINY, progress=False)
    with pytest.raises(FileNotFoundError, match="manifest.json: no such file"):
        load_artifacts("/nonexistent-folder")


def test_auto_xla_choice():
    assert LstmConfig(max_epochs=50).use_xla(16_972)
    assert not LstmConfig(max_epochs=6).use_xla(2_100)
    assert not LstmConfig(jit_compile=False).use_xla(10**6)


@pytest.mark.slow
def test_xla_training_is_deterministic():
    train, val = learnable_set(200, 0, "train"), learnable_set(80, 1, "val")
    cfg = LstmConfig(units=8, dense=(8, 4), max_epochs=2, patience=1, batch_size=32, jit_compile=True)
    _, r1 = fit_lstm_pipeline(train, val, cfg, seed=1, progress=False)
    _, r2 = fit_lstm_pipeline(train, val, cfg, seed=1, progress=False)
    assert r1.xla and r1.history == r2.history
