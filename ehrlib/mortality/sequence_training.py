"""Training loop for the sequence models of chapter 10: `train_lstm`'s loop, generalised as little as needed.

The replication's loop (`lstm.train_lstm`) trains one network on one (n, T, D) tensor with the focal
loss. The models here take either such a tensor (the tuned LSTM) or a dict of arrays (GRU-D and the
attention model, `time_inputs.TimePreprocessor`), and the search compares the focal loss with plain
cross-entropy. Everything else is the same loop: seeded shuffling with `np.random.default_rng(seed)`,
fixed-size padded batches with weight-0 padding (`batches.padded_batches`), one compiled train step
(Adam; loss plus the model's L2 penalties), validation AUROC once per epoch, early stopping on it with
the best epoch's weights restored. No global seed is set; two trainings with the same seed give the
same weights (tested). This module is meant to give way to the shared loop (`ehrlib.training`) when
that exists: the models are plain `keras.Model`s with tensor or dict inputs.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Literal, Union

import numpy as np

from ehrlib.batches import padded_batches
from ehrlib.io import Record
from ehrlib.logs import get_logger

_log = get_logger(__name__)

Inputs = Union[np.ndarray, dict[str, np.ndarray]]


@dataclass(frozen=True)
class TrainSettings(Record):
    """Loss ("focal": Lin et al. with `alpha` on deaths and `gamma`; "bce": plain cross-entropy), Adam's
    learning rate, batch size, epochs and early-stopping patience (on validation AUROC), XLA."""

    loss: Literal["focal", "bce"] = "focal"
    alpha: float = 0.25
    gamma: float = 2.0
    learning_rate: float = 1e-3
    batch_size: int = 64
    max_epochs: int = 50
    patience: int = 5
    jit_compile: bool = True
    predict_batch_size: int = 1024

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """A known loss, alpha in [0, 1], gamma >= 0, positive sizes and learning rate."""
        if not 0.0 <= self.alpha <= 1.0 or self.gamma < 0:
            raise ValueError(f"alpha must lie in [0, 1] and gamma be >= 0, got {self.alpha} and {self.gamma}")
        if self.batch_size < 1 or self.max_epochs < 1 or self.patience < 0 or not self.learning_rate > 0:
            raise ValueError("batch_size and max_epochs must be >= 1, patience >= 0, learning_rate > 0")

    @property
    def label(self) -> str:
        """Short description of the loss and optimiser settings."""
        loss = f"focal (alpha {self.alpha:g}, gamma {self.gamma:g})" if self.loss == "focal" else "cross-entropy"
        return f"{loss}, lr {self.learning_rate:g}"


@dataclass
class FitResult:
    """The trained model (best epoch's weights), validation AUROC per epoch, best epoch (1-based), seconds."""

    model: Any
    val_auroc: list[float]
    best_epoch: int
    seconds: float
    epoch_seconds: list[float] = field(default_factory=list)

    @property
    def best_val_auroc(self) -> float:
        """Validation AUROC at the best epoch."""
        return self.val_auroc[self.best_epoch - 1]


def _rows(x: Inputs, idx: np.ndarray | slice) -> Inputs:
    """The rows `idx` of a tensor or of every array of a dict."""
    return {k: v[idx] for k, v in x.items()} if isinstance(x, dict) else x[idx]


def _length(x: Inputs, y: np.ndarray, name: str) -> int:
    """Number of rows, after checking every array has one per label and is finite."""
    arrays = x.values() if isinstance(x, dict) else [x]
    for a in arrays:
        if a.shape[0] != len(y):
            raise ValueError(f"{name}: inputs have {a.shape[0]} rows for {len(y)} labels")
        if not np.isfinite(a).all():
            raise ValueError(f"{name}: inputs contain NaN or infinite values (preprocess first)")
    if not np.isin(y, (0, 1)).all():
        raise ValueError(f"{name}: labels must be 0/1")
    return len(y)


def model_inputs(model, x: Inputs) -> Inputs:
    """The arrays a model reads, float32: a dict narrowed to the model's named inputs, or the tensor."""
    if not isinstance(x, dict):
        return np.ascontiguousarray(x, dtype=np.float32)
    names = [t.name for t in model.inputs]
    return {k: np.ascontiguousarray(x[k], dtype=np.float32) for k in names}


def predict(model, x: Inputs, batch_size: int = 1024) -> np.ndarray:
    """Probabilities (n,) float64 with dropout off; batches padded to one shape for the compiled call."""
    import tensorflow as tf

    x = model_inputs(model, x)
    n = (next(iter(x.values())) if isinstance(x, dict) else x).shape[0]
    out = np.empty(n, dtype=np.float64)
    fn = getattr(model, "_ehrlib_seq_predict", None)
    if fn is None:
        fn = tf.function(lambda b: model(b, training=False), reduce_retracing=True)
        model._ehrlib_seq_predict = fn
    bs = int(min(batch_size, max(n, 1)))
    for start in range(0, n, bs):
        idx = np.arange(start, min(start + bs, n))
        m = idx.size
        out[start:start + m] = np.asarray(fn(_rows(x, np.pad(idx, (0, bs - m), mode="edge")))).reshape(-1)[:m]
    return out


def _loss(settings: TrainSettings):
    """Per-example loss on probabilities: focal with class balancing (alpha on deaths) or cross-entropy."""
    import keras

    if settings.loss == "focal":
        return keras.losses.BinaryFocalCrossentropy(apply_class_balancing=True, alpha=settings.alpha,
                                                    gamma=settings.gamma, reduction=None)
    return keras.losses.BinaryCrossentropy(reduction=None)


def _train_step(model, settings: TrainSettings):
    """The compiled step: weighted mean loss over the real rows plus L2 penalties, Adam update."""
    import keras
    import tensorflow as tf

    per_example = _loss(settings)
    optimizer = keras.optimizers.Adam(learning_rate=settings.learning_rate)
    optimizer.build(model.trainable_variables)
    variables = model.trainable_variables

    @tf.function(jit_compile=settings.jit_compile, reduce_retracing=True)
    def step(xb, yb, wb):
        with tf.GradientTape() as tape:
            p = model(xb, training=True)
            loss = tf.reduce_sum(per_example(yb[:, None], p) * wb) / tf.reduce_sum(wb)
            if model.losses:
                loss = loss + tf.add_n(model.losses)
        optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
        return loss

    return step


def _auroc(y: np.ndarray, p: np.ndarray) -> float:
    """Validation AUROC (NaN with one class only)."""
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, p)) if len(np.unique(y)) > 1 else float("nan")


def train_network(model, x_train: Inputs, y_train: np.ndarray, x_val: Inputs, y_val: np.ndarray,
                  settings: TrainSettings = TrainSettings(), seed: int = 0, progress: bool = False) -> FitResult:
    """Train `model` (built, seeded, not compiled) with early stopping on validation AUROC; see module doc."""
    start = time.perf_counter()
    y_train, y_val = np.asarray(y_train, dtype=np.float32).reshape(-1), np.asarray(y_val).reshape(-1)
    n = _length(x_train, y_train, "train")
    _length(x_val, y_val, "val")
    x_train, x_val = model_inputs(model, x_train), model_inputs(model, x_val)
    step, rng = _train_step(model, settings), np.random.default_rng(seed)
    history, epoch_seconds = [], []
    best, best_epoch, best_weights, waited = -np.inf, 0, None, 0
    for epoch in range(1, settings.max_epochs + 1):
        t = time.perf_counter()
        for idx, _, w in padded_batches(rng.permutation(n), settings.batch_size):
            step(_rows(x_train, idx), y_train[idx], w)
        history.append(_auroc(y_val, predict(model, x_val, settings.predict_batch_size)))
        epoch_seconds.append(time.perf_counter() - t)
        improved = np.isfinite(history[-1]) and history[-1] > best
        if improved:
            best, best_epoch, best_weights, waited = history[-1], epoch, model.get_weights(), 0
        else:
            waited += 1
        if progress:
            _log.info(f"epoch {epoch}: val AUROC {history[-1]:.4f} ({epoch_seconds[-1]:.1f} s){' *' if improved else ''}")
        if not improved and waited >= settings.patience:
            break
    if best_weights is not None:
        model.set_weights(best_weights)
    else:
        best_epoch = len(history)
    return FitResult(model, history, best_epoch, time.perf_counter() - start, epoch_seconds)
