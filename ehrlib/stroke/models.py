"""The three stroke networks of Teoh (2018), their deterministic training loop and the weight transfer.

The paper's Listings 1-3 are lost; these architectures follow its text and are chosen from a small grid on
validation F1 (`grid`), as the paper chose its own:

- **Model 1** (Eq. 1, 4), input "diagnosis" (n, 35, 40): `Masking(0)` -> `GRU(gru_units)` (the last
  state, padded steps skipped) -> `Dense(head_units, relu)` -> `Dropout` -> `Dense(2, softmax)`.
- **Model 2** (Eq. 2, 6), input "exam" (n, 20, 28): `Masking(0)` -> `TimeDistributed(Dense(u, relu))` for
  each `u` of `td_units` (the same fully connected network applied to every exam-year) -> pooling ->
  `Dense(head_units, relu)` -> `Dropout` -> `Dense(2, softmax)`. **Pooling**: the per-year outputs are
  averaged over the real (unmasked) exam-years and concatenated with the output of the most recent
  exam-year (sequences are pre-padded, so that is the last step): the mean summarises the history, the
  last year carries the current state.
- **Model 3** (Eq. 3), inputs "diagnosis" and "exam": the diagnosis branch of model 1 (up to the GRU) and
  the exam branch of model 2 (up to the pooling), concatenated, then `Dense(head_units, relu)` ->
  `Dropout` -> `Dense(2, softmax)`. **Weight transfer**: layers with the same name and weight shapes
  (`dx_gru`, `ex_td_1`, ...) start from the trained weights of models 1 and 2 (`transfer_weights`, which
  also checks that the copied weights equal the donors').

A padded step is all zeros; a real record never is (its day-category one-hot holds a 1), so `Masking(0)`
masks exactly the padding. Output: two-class softmax (class 1 = stroke within a year); loss: Eq. 11
(`ehrlib.stroke.losses`); Adam with Keras' defaults; batch size from `TrainConfig` (the paper's 32 by
default; the book's profiles set it, see `ehrlib.profiles`).

Training (`train_network`, through the book's one loop `ehrlib.training.fit`) is deterministic without any global seed: every initializer and dropout layer
is seeded from the run's seed through `np.random.SeedSequence`; the training rows are shuffled each epoch
by `np.random.default_rng(seed)`; the last, partial batch is padded with weight-0 rows so the compiled step
sees one shape. After each epoch the validation F1 at the F1-optimal validation threshold (`val_f1`) is
computed (with XLA, the validation pass is compiled once per training); training stops after `patience`
epochs without improvement and the best epoch's weights are restored (early stopping on validation;
`restore_best=False` keeps the last epoch instead). `TrainedNetwork.stopped_by` says whether patience or
the epoch cap ended a training.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Mapping

import numpy as np
import pandas as pd

from ehrlib.batches import derived_seeds
from ehrlib.evaluation.thresholds import select_f1_threshold
from ehrlib.records import Record
from ehrlib.training import load_keras_model
from ehrlib.stroke.losses import teoh_loss
from ehrlib.training import EpochPass, FitConfig, fit


Kind = Literal["diagnosis", "exam", "dual"]
MODEL_NAMES: dict[str, str] = {"diagnosis": "model 1 (GRU, diagnoses)", "exam": "model 2 (TimeDistributed, exams)",
                               "dual": "model 3 (dual input)"}
SEED_SALT = 20181127  # mixed with the run's seed to derive the initializer and dropout seeds (`derived_seeds`)


@dataclass(frozen=True)
class NetworkConfig(Record):
    """Architecture of one network (see the module docstring); `kind` picks model 1, 2 or 3."""

    kind: Kind
    gru_units: int = 32
    td_units: tuple[int, ...] = (32, 16)
    head_units: int = 16
    dropout: float = 0.2
    # > 0: the diagnosis input's last feature is a code number (`icd10.index_embedding`) and the network
    # learns a `learned_dim`-wide embedding of these `learned_embedding` codes end to end.
    learned_embedding: int = 0
    learned_dim: int = 32

    def validate(self) -> None:
        """Positive widths and a dropout rate in [0, 1)."""
        if self.gru_units < 1 or self.head_units < 1 or not self.td_units or min(self.td_units) < 1:
            raise ValueError("layer widths must be >= 1")
        if self.learned_embedding < 0 or self.learned_dim < 1:
            raise ValueError("learned_embedding must be >= 0 and learned_dim >= 1")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must lie in [0, 1), got {self.dropout}")

    @property
    def label(self) -> str:
        """Short description of the grid point."""
        parts = {"diagnosis": f"GRU {self.gru_units}", "exam": f"TD {'-'.join(map(str, self.td_units))}",
                 "dual": f"GRU {self.gru_units} + TD {'-'.join(map(str, self.td_units))}"}[self.kind]
        learned = f", learned {self.learned_dim}-d code embedding" if self.learned_embedding else ""
        return f"{parts}{learned}, head {self.head_units}, dropout {self.dropout:g}"


@dataclass(frozen=True)
class TrainConfig(Record):
    """Training settings: the paper's batch 32, Adam defaults and Eq. 11 weights; epochs from the profile."""

    max_epochs: int = 20
    patience: int = 3
    batch_size: int = 32
    learning_rate: float = 0.001
    alpha: float = 0.2
    beta: float = 5.0
    gamma: float = 5.0
    seed: int = 0
    restore_best: bool = True  # False: keep the last epoch's weights (the loss-equivalence experiment)
    jit_compile: bool = True  # XLA: about 2.5x faster GRU epochs on CPU (benchmarks/bench_stroke.py)

    def validate(self) -> None:
        """Positive epochs, patience and batch size."""
        if self.max_epochs < 1 or self.patience < 1 or self.batch_size < 1:
            raise ValueError("max_epochs, patience and batch_size must be >= 1")


def grid(kind: Kind, size: str = "small", base: Mapping[str, NetworkConfig] | None = None) -> list[NetworkConfig]:
    """The documented architecture grid of one model; `size="one"` gives the first point only.

    Model 1 varies the GRU width (16, 32), model 2 the per-year network ((32, 16), (64, 32)); model 3 keeps
    the branches chosen for models 1 and 2 (`base`, so that their weights can be transferred) and varies
    the width of the fusion layer (16, 32).
    """
    if kind == "diagnosis":
        points = [NetworkConfig("diagnosis", gru_units=u) for u in (16, 32)]
    elif kind == "exam":
        points = [NetworkConfig("exam", td_units=t) for t in ((32, 16), (64, 32))]
    else:
        d = (base or {}).get("diagnosis", NetworkConfig("diagnosis"))
        e = (base or {}).get("exam", NetworkConfig("exam"))
        points = [NetworkConfig("dual", gru_units=d.gru_units, td_units=e.td_units, head_units=h) for h in (16, 32)]
    return points[:1] if size == "one" else points


@functools.lru_cache(maxsize=1)
def _pooling_class():
    import keras

    @keras.saving.register_keras_serializable(package="ehrlib")
    class MeanAndLast(keras.layers.Layer):
        """Concatenate the mean over the real (unmasked) steps and the last step of a pre-padded sequence.

        A sequence with no real step pools to zeros (the mean's denominator is at least 1).
        """

        def compute_mask(self, inputs, mask=None):
            return None

        def call(self, x, mask=None):
            ops = keras.ops
            m = ops.ones(ops.shape(x)[:2], dtype=x.dtype) if mask is None else ops.cast(mask, x.dtype)
            total = ops.sum(x * m[:, :, None], axis=1)
            mean = total / ops.maximum(ops.sum(m, axis=1, keepdims=True), 1.0)
            return ops.concatenate([mean, x[:, -1, :] * m[:, -1:]], axis=-1)

        def compute_output_shape(self, input_shape):
            return (input_shape[0], 2 * input_shape[-1])

    return MeanAndLast


@functools.lru_cache(maxsize=1)
def _code_lookup_class():
    import keras

    @keras.saving.register_keras_serializable(package="ehrlib")
    class CodeLookup(keras.layers.Layer):
        """Replace the last feature of each step (a code number, 1 to `n_codes`) by a trainable `dim`-wide
        embedding of it, keeping the other features: the embedding is learned with the network."""

        def __init__(self, n_codes: int, dim: int, seed: int | None = None, **kwargs):
            super().__init__(**kwargs)
            self.n_codes, self.dim, self.seed = n_codes, dim, seed
            self.supports_masking = True
            init = keras.initializers.RandomUniform(-0.05, 0.05, seed=seed)
            self.embedding = keras.layers.Embedding(n_codes + 1, dim, embeddings_initializer=init, name="codes")

        def build(self, input_shape):
            self.embedding.build(tuple(input_shape[:-1]))
            self.built = True

        def call(self, x, mask=None):
            ops = keras.ops
            codes = ops.cast(ops.round(x[..., -1]), "int32")
            return ops.concatenate([x[..., :-1], self.embedding(codes)], axis=-1)

        def compute_output_shape(self, input_shape):
            return (*input_shape[:-1], input_shape[-1] - 1 + self.dim)

        def get_config(self):
            return {**super().get_config(), "n_codes": self.n_codes, "dim": self.dim, "seed": self.seed}

    return CodeLookup


def _diagnosis_branch(keras, x, cfg: NetworkConfig, seeds):
    x = keras.layers.Masking(0.0, name="dx_mask")(x)
    if cfg.learned_embedding:
        x = _code_lookup_class()(cfg.learned_embedding, cfg.learned_dim, seed=next(seeds), name="dx_codes")(x)
    return keras.layers.GRU(cfg.gru_units, name="dx_gru", seed=next(seeds),
                            kernel_initializer=keras.initializers.GlorotUniform(seed=next(seeds)),
                            recurrent_initializer=keras.initializers.Orthogonal(seed=next(seeds)))(x)


def _exam_branch(keras, x, cfg: NetworkConfig, seeds):
    x = keras.layers.Masking(0.0, name="ex_mask")(x)
    for i, units in enumerate(cfg.td_units, start=1):
        dense = keras.layers.Dense(units, activation="relu",
                                   kernel_initializer=keras.initializers.GlorotUniform(seed=next(seeds)))
        x = keras.layers.TimeDistributed(dense, name=f"ex_td_{i}")(x)
    return _pooling_class()(name="ex_pool")(x)


def load_network(path: str | Path):
    """Load a saved stroke network (`.keras`), registering the package's custom layers first."""
    _pooling_class(), _code_lookup_class()
    return load_keras_model(path)


def build_network(cfg: NetworkConfig, shapes: Mapping[str, tuple[int, int]], seed: int = 0):
    """The (uncompiled) Keras model for `cfg`; `shapes` maps "diagnosis"/"exam" to (steps, features)."""
    import keras

    seeds = iter(derived_seeds(seed, 16, SEED_SALT))
    inputs, parts = {}, []
    if cfg.kind in ("diagnosis", "dual"):
        inputs["diagnosis"] = keras.Input(shape=shapes["diagnosis"], name="diagnosis")
        parts.append(_diagnosis_branch(keras, inputs["diagnosis"], cfg, seeds))
    if cfg.kind in ("exam", "dual"):
        inputs["exam"] = keras.Input(shape=shapes["exam"], name="exam")
        parts.append(_exam_branch(keras, inputs["exam"], cfg, seeds))
    x = parts[0] if len(parts) == 1 else keras.layers.Concatenate(name="fusion")(parts)
    head = {"diagnosis": "dx_head", "exam": "ex_head", "dual": "fusion_dense"}[cfg.kind]
    x = keras.layers.Dense(cfg.head_units, activation="relu", name=head,
                           kernel_initializer=keras.initializers.GlorotUniform(seed=next(seeds)))(x)
    x = keras.layers.Dropout(cfg.dropout, seed=next(seeds), name="dropout")(x)
    out = keras.layers.Dense(2, activation="softmax", name="output",
                             kernel_initializer=keras.initializers.GlorotUniform(seed=next(seeds)))(x)
    name = {"diagnosis": "model_1_gru", "exam": "model_2_time_distributed", "dual": "model_3_dual"}[cfg.kind]
    return keras.Model(inputs, out, name=name)


def transfer_weights(target, donors, prefixes: tuple[str, ...] = ("dx_", "ex_")) -> dict[str, float]:
    """Copy the weights of every donor branch layer (name starting with one of `prefixes`) whose name and
    weight shapes match a layer of `target`. The heads are not transferred: model 3's fusion layer has
    another input, and the donors' output layers read different features even where shapes agree.

    Returns {layer name: largest absolute difference between the target's weights after the copy and the
    donor's} (0.0 when the transfer happened); raises if nothing was transferred or a copy differs.
    """
    diffs: dict[str, float] = {}
    names = {layer.name: layer for layer in target.layers}
    for donor in donors:
        for layer in donor.layers:
            w = layer.get_weights()
            t = names.get(layer.name)
            if not w or t is None or not layer.name.startswith(prefixes) or [a.shape for a in t.get_weights()] != [a.shape for a in w]:
                continue
            t.set_weights(w)
            diffs[layer.name] = float(max(np.max(np.abs(a - b)) for a, b in zip(t.get_weights(), w)))
    if not diffs:
        raise ValueError("no layer of the donors matches a layer of the target (name and shapes)")
    if max(diffs.values()) != 0.0:
        raise AssertionError(f"transferred weights differ from the donors': {diffs}")
    return diffs


@dataclass
class TrainedNetwork:
    """A trained network with its configs, history (per epoch), best epoch, timings and validation threshold."""

    model: Any
    config: NetworkConfig
    train_config: TrainConfig
    history: dict[str, list[float]]
    best_epoch: int
    seconds: float
    epoch_seconds: list[float]
    transferred: dict[str, float] = field(default_factory=dict)

    @property
    def val_f1(self) -> float:
        """Validation F1 (at the F1-optimal validation threshold) of the best epoch."""
        return self.history["val_f1"][self.best_epoch - 1]

    @property
    def epochs_run(self) -> int:
        """Number of epochs trained."""
        return len(self.history["loss"])

    @property
    def stopped_by(self) -> str:
        """Why training ended: "patience" (no better validation F1 for `patience` epochs) or "epoch cap"."""
        return stopping_reason(self.epochs_run, self.best_epoch, self.train_config)

    def summary(self) -> dict[str, Any]:
        """The training in numbers: epochs run, best epoch, what stopped it, the cap, seconds per epoch."""
        return {"epochs run": self.epochs_run, "best epoch": self.best_epoch, "stopped by": self.stopped_by,
                "epoch cap": self.train_config.max_epochs, "validation F1": self.val_f1,
                "seconds per epoch": float(np.mean(self.epoch_seconds)), "seconds": self.seconds}


def stopping_reason(epochs_run: int, best_epoch: int, tc: TrainConfig) -> str:
    """"patience" when the last `tc.patience` epochs brought no better validation score (early stopping),
    else "epoch cap" (training ran out of epochs while still improving, or kept the last epoch)."""
    if tc.restore_best and epochs_run - best_epoch >= tc.patience:
        return "patience"
    return "epoch cap"


def _compiled_forward(model, jit_compile: bool):
    """The model's inference pass as one compiled function (XLA when asked), traced once per batch shape."""
    import tensorflow as tf  # TensorFlow loads only when a network runs

    return tf.function(lambda x: model(x, training=False), jit_compile=jit_compile, reduce_retracing=True)


def predict(model, inputs: Mapping[str, np.ndarray], batch_size: int = 2048, forward=None) -> np.ndarray:
    """Stroke probability (softmax class 1) for every sample, in float64. `forward` (from
    `_compiled_forward`) replaces the eager call; the last batch is then padded to `batch_size` rows so
    that one compiled shape serves every batch."""
    n = len(next(iter(inputs.values())))
    out = np.empty(n, dtype=np.float64)
    for b in range(0, n, batch_size):
        batch = {k: v[b:b + batch_size] for k, v in inputs.items()}
        m = len(next(iter(batch.values())))
        if forward is None:
            out[b:b + m] = np.asarray(model(batch, training=False))[:, 1]
            continue
        if m < batch_size:
            batch = {k: np.concatenate([v, np.zeros((batch_size - m, *v.shape[1:]), v.dtype)]) for k, v in batch.items()}
        out[b:b + m] = np.asarray(forward(batch))[:m, 1]
    return out


def layer_table(model) -> pd.DataFrame:
    """The network as a table, one row per layer: name, type, output shape and trainable parameters (what
    `model.summary()` prints, as data for `ehrlib.plots.frame_html`)."""
    rows = [{"layer": layer.name, "type": type(layer).__name__,
             "output shape": str(tuple(getattr(layer, "output", None).shape)) if hasattr(layer, "output") else "",
             "parameters": int(sum(int(np.prod(w.shape)) for w in layer.trainable_weights))}
            for layer in model.layers]
    return pd.DataFrame(rows)


def _input_names(cfg: NetworkConfig) -> tuple[str, ...]:
    return {"diagnosis": ("diagnosis",), "exam": ("exam",), "dual": ("diagnosis", "exam")}[cfg.kind]


def _validation_f1(val: Mapping[str, np.ndarray], y_val: np.ndarray, forward=None):
    """The per-epoch score for `ehrlib.training.fit`: validation F1 at the F1-optimal validation threshold
    (the validation pass through `forward`, a compiled inference function, when given)."""

    def score(model, done: EpochPass) -> dict[str, float]:
        choice = select_f1_threshold(y_val, predict(model, val, forward=forward))
        return {"val_f1": choice["f1"], "val_threshold": choice["threshold"]}

    return score


def train_network(cfg: NetworkConfig, train: Mapping[str, np.ndarray], y_train: np.ndarray,
                  val: Mapping[str, np.ndarray], y_val: np.ndarray, tc: TrainConfig = TrainConfig(),
                  donors: tuple = (), model=None, progress: bool = False) -> TrainedNetwork:
    """Train `cfg` with the Eq. 11 loss and early stopping on validation F1 (see the module docstring).

    `train`/`val` map input names to dense (n, T, D) arrays. `donors` (trained models 1 and 2) give their
    matching layers' weights to the new model before training (`transfer_weights`). A prebuilt `model`
    may be passed instead of building one from `cfg` (for the loss-equivalence experiment). The loop is
    `ehrlib.training.fit`.
    """
    start = time.perf_counter()
    names = _input_names(cfg)
    X = {k: np.asarray(train[k], dtype=np.float32) for k in names}
    Xv = {k: np.asarray(val[k], dtype=np.float32) for k in names}
    model = model or build_network(cfg, {k: X[k].shape[1:] for k in names}, seed=tc.seed)
    transferred = transfer_weights(model, donors) if donors else {}
    y1h = np.eye(2, dtype=np.float32)[np.asarray(y_train, dtype=int)]
    fit_config = FitConfig(monitor="val_f1", max_epochs=tc.max_epochs, patience=tc.patience,
                           batch_size=tc.batch_size, learning_rate=tc.learning_rate, seed=tc.seed,
                           jit_compile=tc.jit_compile, restore_best=tc.restore_best)
    forward = _compiled_forward(model, True) if tc.jit_compile else None
    done = fit(model, teoh_loss(tc.alpha, tc.beta, tc.gamma, reduction=None), X, y1h,
               _validation_f1(Xv, y_val, forward), fit_config, progress=progress)
    return TrainedNetwork(model, cfg, tc, done.history, done.best_epoch, time.perf_counter() - start,
                          done.epoch_seconds, transferred)


__all__ = [
    "MODEL_NAMES", "NetworkConfig", "TrainConfig", "TrainedNetwork", "build_network", "grid", "layer_table",
    "load_network", "predict", "stopping_reason", "train_network", "transfer_weights",
]
