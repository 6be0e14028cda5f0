"""Training of chapter 10's sequence models through the book's one loop (`ehrlib.training.fit`).

The models take either one (n, T, D) tensor (the tuned LSTM) or a dict of arrays (GRU-D and the
attention model, `time_inputs.TimePreprocessor`), and the search compares the focal loss with plain
cross-entropy. `train_network` picks the per-example loss (`TrainSettings`), checks the inputs, and hands
the rest to the shared loop: seeded shuffling, fixed-size padded batches, one compiled step (Adam; loss
plus the model's L2 penalties), validation AUROC once per epoch, early stopping on it with the best
epoch's weights restored. No global seed is set; two trainings with the same seed give the same
predictions (tested). `predict` scores any of these models with dropout off.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Union

import numpy as np

from ehrlib.records import Record
from ehrlib.training import FitConfig, fit

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
    predict_batch_size: int = 256

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


def predict(model, x: Inputs, batch_size: int = TrainSettings.predict_batch_size) -> np.ndarray:
    """Probabilities (n,) float64 with dropout off. Every batch, the last and a short set's only one included,
    is padded to `batch_size` rows, so the compiled call is traced once per model whatever the set's size."""
    import tensorflow as tf

    x = model_inputs(model, x)
    n = (next(iter(x.values())) if isinstance(x, dict) else x).shape[0]
    out = np.empty(n, dtype=np.float64)
    fn = getattr(model, "_ehrlib_seq_predict", None)
    if fn is None:
        fn = tf.function(lambda b: model(b, training=False), reduce_retracing=True)
        model._ehrlib_seq_predict = fn
    bs = int(batch_size)
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


def _auroc(y: np.ndarray, p: np.ndarray) -> float:
    """Validation AUROC (NaN with one class only)."""
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, p)) if len(np.unique(y)) > 1 else float("nan")


def train_network(model, x_train: Inputs, y_train: np.ndarray, x_val: Inputs, y_val: np.ndarray,
                  settings: TrainSettings = TrainSettings(), seed: int = 0, progress: bool = False) -> FitResult:
    """Train `model` (built, seeded, not compiled) with the shared loop (`ehrlib.training.fit`): the
    settings' loss and Adam, early stopping on validation AUROC, the best epoch's weights restored."""
    y_train, y_val = np.asarray(y_train, dtype=np.float32).reshape(-1), np.asarray(y_val).reshape(-1)
    _length(x_train, y_train, "train")
    _length(x_val, y_val, "val")
    x_train, x_val = model_inputs(model, x_train), model_inputs(model, x_val)
    per_example = _loss(settings)
    config = FitConfig(monitor="val_auroc", mode="max", max_epochs=settings.max_epochs, patience=settings.patience,
                       batch_size=settings.batch_size, learning_rate=settings.learning_rate, seed=seed,
                       jit_compile=settings.jit_compile)
    done = fit(model, lambda yb, p: per_example(yb[:, None], p), x_train, y_train,
               lambda m, _: {"val_auroc": _auroc(y_val, predict(m, x_val, settings.predict_batch_size))},
               config, progress=progress)
    return FitResult(done.model, done.history["val_auroc"], done.best_epoch, done.seconds, done.epoch_seconds)
