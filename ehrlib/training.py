"""The one Keras training loop of the book: every network (the mortality LSTM, the stroke networks, those to
come) trains through `fit`.

`fit` takes any `keras.Model`, a per-example loss, inputs as one array or a dict of arrays, and a function
that scores the model after each epoch on validation. One compiled step (`train_step`: forward pass, the
loss plus the model's own penalties such as L2, gradients, optimizer update; XLA when asked) runs over
fixed-size batches (`ehrlib.batches.padded_batches`: the last one padded with weight-0 rows, so the step is
compiled once). The rows are shuffled each epoch by `np.random.default_rng(seed)`; the networks' builders
seed their initializers and dropout with `ehrlib.batches.derived_seeds`, and no global seed is ever set, so
two trainings with the same seed are bit-identical. Early stopping follows `keras.callbacks.EarlyStopping`:
training stops after `patience` epochs without improvement of the monitored score, and the best epoch's
weights are restored. The history, the best epoch and per-epoch wall times come back in a `Fit`.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Literal, Mapping

import numpy as np

from ehrlib.batches import padded_batches
from ehrlib.logs import get_logger

_log = get_logger(__name__)

Inputs = np.ndarray | Mapping[str, np.ndarray]


@dataclass(frozen=True)
class FitConfig:
    """How `fit` trains: epochs, early stopping on `monitor` (`mode` "max" or "min"), batch size, Adam's
    learning rate, the shuffling seed, XLA, and whether the best epoch's weights are restored at the end."""

    monitor: str
    mode: Literal["max", "min"] = "max"
    max_epochs: int = 20
    patience: int = 3
    batch_size: int = 32
    learning_rate: float = 1e-3
    seed: int = 0
    jit_compile: bool = False
    restore_best: bool = True

    def __post_init__(self) -> None:
        if self.mode not in ("max", "min"):
            raise ValueError(f"mode must be 'max' or 'min', got {self.mode!r}")
        if self.batch_size < 1 or self.max_epochs < 1 or self.patience < 0:
            raise ValueError("batch_size and max_epochs must be >= 1 and patience >= 0")


@dataclass
class EpochPass:
    """One epoch's training pass: the row order the steps saw, the mean loss over the real rows, and (when
    `fit` keeps them) the model's outputs in training mode for each row of `order`."""

    order: np.ndarray
    loss: float
    outputs: np.ndarray | None = None


@dataclass
class Fit:
    """What `fit` returns: the model (best weights restored), the history (one value per epoch for "loss"
    and each score), the 1-based best epoch, the whole wall time and each epoch's (the first includes the
    compilation)."""

    model: Any
    history: dict[str, list[float]]
    best_epoch: int
    seconds: float
    epoch_seconds: list[float] = field(default_factory=list)

    @property
    def epochs_run(self) -> int:
        """Number of epochs trained."""
        return len(self.history["loss"])


def take(inputs: Inputs, idx: np.ndarray) -> Inputs:
    """The rows `idx` of an array, or of every array of a dict of arrays."""
    if isinstance(inputs, Mapping):
        return {k: v[idx] for k, v in inputs.items()}
    return inputs[idx]


def n_rows(inputs: Inputs) -> int:
    """The number of rows of an array or of a dict of arrays (which must agree)."""
    sizes = {len(v) for v in inputs.values()} if isinstance(inputs, Mapping) else {len(inputs)}
    if len(sizes) != 1:
        raise ValueError(f"the input arrays have different numbers of rows: {sorted(sizes)}")
    return sizes.pop()


def train_step(model, loss: Callable, optimizer, jit_compile: bool, keep_outputs: bool = False):
    """The compiled training step of `model`: (x, y, weights) -> loss, or (loss, outputs) with
    `keep_outputs`. `loss(y, p)` gives one value per example; the step minimises their weighted mean (the
    mean over the real rows of a padded batch) plus the model's own penalties (`model.losses`)."""
    import tensorflow as tf  # TensorFlow loads only when a network trains

    variables = model.trainable_variables

    @tf.function(jit_compile=jit_compile, reduce_retracing=True)
    def step(xb, yb, wb):
        with tf.GradientTape() as tape:
            p = model(xb, training=True)
            data_loss = tf.reduce_sum(loss(yb, p) * wb) / tf.reduce_sum(wb)
            total = data_loss + tf.add_n(model.losses) if model.losses else data_loss
        optimizer.apply_gradients(zip(tape.gradient(total, variables), variables))
        return (total, p) if keep_outputs else total

    return step


def train_pass(step, x: Inputs, y: np.ndarray, order: np.ndarray, batch_size: int,
               keep_outputs: bool = False) -> EpochPass:
    """One pass of `step` over the rows `order` in padded batches; the mean loss and, when kept, the outputs."""
    total, outputs = 0.0, None
    for start, (idx, m, w) in zip(range(0, len(order), batch_size), padded_batches(order, batch_size)):
        result = step(take(x, idx), y[idx], w)
        loss = result[0] if keep_outputs else result
        total += float(loss) * m
        if keep_outputs:
            p = np.asarray(result[1])[:m]
            if outputs is None:
                outputs = np.empty((len(order), *p.shape[1:]), dtype=p.dtype)
            outputs[start:start + m] = p
    return EpochPass(order=order, loss=total / len(order), outputs=outputs)


def fit(model, loss: Callable, x: Inputs, y: np.ndarray, score: Callable[[Any, EpochPass], Mapping[str, float]],
        config: FitConfig, *, keep_outputs: bool = False, optimizer=None, progress: bool = False) -> Fit:
    """Train `model` on (`x`, `y`) with early stopping on `config.monitor`, one of the scores that
    `score(model, epoch_pass)` returns after each epoch (validation, usually). `loss(y, p)` is per example;
    `optimizer` defaults to Adam with `config.learning_rate`. Deterministic for a given `config.seed`."""
    import keras

    start = time.perf_counter()
    y = np.asarray(y)
    n = n_rows(x)
    if n != len(y) or n == 0:
        raise ValueError(f"{n} input rows but {len(y)} targets (need the same number, at least one)")
    optimizer = optimizer or keras.optimizers.Adam(learning_rate=config.learning_rate)
    optimizer.build(model.trainable_variables)
    step = train_step(model, loss, optimizer, config.jit_compile, keep_outputs)
    rng = np.random.default_rng(config.seed)
    sign = 1.0 if config.mode == "max" else -1.0
    history: dict[str, list[float]] = {"loss": []}
    epoch_seconds: list[float] = []
    best_score, best_epoch, best_weights, waited = -np.inf, 0, None, 0
    for epoch in range(1, config.max_epochs + 1):
        t0 = time.perf_counter()
        done = train_pass(step, x, y, rng.permutation(n), config.batch_size, keep_outputs)
        scores = {"loss": done.loss, **score(model, done)}
        for k, v in scores.items():
            history.setdefault(k, []).append(float(v))
        epoch_seconds.append(time.perf_counter() - t0)
        value = sign * history[config.monitor][-1]
        improved = bool(np.isfinite(value) and value > best_score)
        if improved:
            best_score, best_epoch, best_weights, waited = value, epoch, model.get_weights(), 0
        else:
            waited += 1
        if progress:
            shown = "  ".join(f"{k} {v:.4f}" for k, v in scores.items())
            _log.info(f"{model.name} epoch {epoch:>3}/{config.max_epochs}  {shown}  {epoch_seconds[-1]:.1f} s"
                      f"{'  *' if improved else ''}")
        if not improved and waited >= config.patience:  # as keras.callbacks.EarlyStopping
            break
    if config.restore_best and best_weights is not None:
        model.set_weights(best_weights)
    else:
        best_epoch = len(history["loss"])
    return Fit(model, history, best_epoch, time.perf_counter() - start, epoch_seconds)


__all__ = ["EpochPass", "Fit", "FitConfig", "fit", "n_rows", "take", "train_pass", "train_step"]


def load_keras_model(path: str | os.PathLike, keras: Any = None, **kwargs: Any) -> Any:
    """Load a `.keras` model, with errors that say what is wrong: a missing file is "not found", a
    file Keras cannot read (truncated, not a zip, wrong content) is "not a readable Keras model"."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    if not path.is_file():
        raise ValueError(f"{path}: not a regular file (a Keras model is one .keras file)")
    if keras is None:
        import keras
    try:
        return keras.saving.load_model(path, **kwargs)
    except Exception as exc:  # Keras raises ValueError, OSError, zipfile errors... for a damaged file
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ValueError(f"{path}: not a readable Keras model (damaged or not a .keras file: "
                         f"{type(exc).__name__}: {first[:160]})") from None
