"""The mortality LSTM (as in the source document) and its deterministic training (its saved bundle:
`ehrlib.mortality.bundle`).

Architecture: Input (48, D) -> Masking(mask_value) -> LSTM(64, dropout 0.5, recurrent_dropout 0.3)
-> Dense(32, ReLU, L2 0.01) -> Dropout(0.5) -> Dense(16, ReLU, L2 0.01) -> Dropout(0.5)
-> Dense(1, sigmoid), trained with the focal loss (gamma 2, alpha 0.25, Lin et al.) and Adam.

Training (`train_lstm`) runs the book's one training loop, `ehrlib.training.fit`, rather than
`model.fit`, for speed and determinism:

* every initializer and dropout layer gets an explicit seed derived from `seed` with
  `np.random.SeedSequence`; the training set is shuffled each epoch with `np.random.default_rng(seed)`;
  no global seed is set. Two trainings with the same seed give identical weights and predictions
  (tested).
* the train step (forward, focal loss + L2 penalty, gradients, Adam update) is one
  `tf.function`, optionally XLA-compiled (`LstmConfig.jit_compile`, see `benchmarks/bench_lstm.py` for
  the measured effect); batches are plain numpy slices.
* validation is scored once per epoch: predictions with large batches (dropout off), then
  scikit-learn's `roc_auc_score` and `average_precision_score`. Training-set AUROC/AUPRC per epoch
  come from the predictions the train steps made anyway (dropout on, weights changing during the
  epoch), the same convention as Keras' streaming metrics, so they cost nothing extra.
* early stopping monitors the validation AUROC (`LstmConfig.monitor`): the model's job is ranking
  (probabilities are recalibrated afterwards by isotonic regression), and the focal loss plus the L2
  penalty is not a measure of ranking. The weights of the best epoch are restored.
* the last, partial batch of an epoch is padded with weight-0 rows, so the compiled step has a
  single input shape (one compilation per training); the loss is the mean over the real rows.

Speed (measured with `benchmarks/bench_lstm.py` on the 2-core machine, shared, so indicative): on
CPU Keras' LSTM always runs its generic loop (no fused kernel; `recurrent_dropout` further splits
each gate's matmuls apart). XLA-compiling the whole train step makes a full-size epoch (16,972
episodes) 1.4x to 2.4x faster than a plain `tf.function` graph (5.6 against 7.8 s on a quiet machine,
7.5 against 18 s under load), at a one-off compile cost of 5-30 s, so `jit_compile="auto"` uses XLA
only for large runs. Tried and rejected: `unroll=True` (slower in graph mode; minutes of XLA
compilation and a slow loop), a cell computing the four gates in one batched matmul (identical
results, no gain under XLA), one intra-op thread instead of one per core (slower). No
`tf.config.experimental.enable_op_determinism()` is needed on CPU: runs with the same seed are
bit-identical (tested), and no global seed is set.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from ehrlib.batches import derived_seeds
from ehrlib.logs import get_logger
from ehrlib.mortality.losses import focal_loss
from ehrlib.mortality.preprocessing import MortalityPreprocessor, PreprocessConfig
from ehrlib.training import EpochPass, FitConfig, fit

_log = get_logger(__name__)

MONITORS = ("val_auroc", "val_auprc", "val_loss")
XLA_AUTO_WORK = 40_000  # training examples x max_epochs above which "auto" compiles with XLA
SEED_SALT = 20180508  # mixed with the run's seed to derive the initializer and dropout seeds (`derived_seeds`)


@dataclass(frozen=True)
class LstmConfig:
    """Hyper-parameters of the mortality LSTM and its training (defaults: the source document's)."""

    units: int = 64
    dropout: float = 0.5
    recurrent_dropout: float = 0.3
    dense: tuple[int, ...] = (32, 16)
    l2: float = 0.01
    head_dropout: float = 0.5
    learning_rate: float = 1e-3
    batch_size: int = 64
    max_epochs: int = 50
    patience: int = 5
    gamma: float = 2.0
    alpha: float = 0.25
    monitor: str = "val_auroc"
    jit_compile: bool | str = "auto"
    unroll: bool = False
    predict_batch_size: int = 1024

    def __post_init__(self) -> None:
        if self.monitor not in MONITORS:
            raise ValueError(f"monitor must be one of {MONITORS}, got {self.monitor!r}")
        if self.batch_size < 1 or self.max_epochs < 1 or self.patience < 0:
            raise ValueError("batch_size and max_epochs must be >= 1 and patience >= 0")
        if self.jit_compile not in (True, False, "auto"):
            raise ValueError(f"jit_compile must be True, False or 'auto', got {self.jit_compile!r}")

    def use_xla(self, n_train: int) -> bool:
        """Whether training compiles with XLA: `jit_compile`, or for "auto" when the work is large.

        XLA makes an epoch about 3x faster on CPU but costs 10-30 s of compilation per training
        (see `benchmarks/bench_lstm.py`); "auto" uses it when n_train * max_epochs >= 40,000.
        """
        if self.jit_compile == "auto":
            return n_train * self.max_epochs >= XLA_AUTO_WORK
        return bool(self.jit_compile)

    def to_json(self) -> dict[str, Any]:
        """The configuration as a JSON-ready dict."""
        d = asdict(self)
        d["dense"] = list(self.dense)
        return d


@dataclass
class TrainResult:
    """What `train_lstm` returns: the model with its best weights, per-epoch history and timings.

    `history` has one value per epoch run for `loss`, `val_loss`, `auroc`, `val_auroc`, `auprc`,
    `val_auprc`. As in Keras, both losses include the L2 penalty (`loss` is the mean over the epoch's
    batches, `val_loss` uses the end-of-epoch weights), and the training AUROC/AUPRC come from the
    predictions made during the epoch with dropout on. `best_epoch` is 1-based; `seconds` is the whole training wall time and
    `epoch_seconds` the time of each epoch (the first includes compilation); `xla` says whether the
    train step was XLA-compiled.
    """

    model: Any
    history: dict[str, list[float]]
    best_epoch: int
    seconds: float
    epochs_run: int
    config: LstmConfig = field(default_factory=LstmConfig)
    xla: bool = False
    epoch_seconds: list[float] = field(default_factory=list)

    @property
    def seconds_per_epoch(self) -> float:
        """Mean wall-clock seconds per epoch (including the first epoch's compilation)."""
        return self.seconds / max(self.epochs_run, 1)

    @property
    def best(self) -> dict[str, float]:
        """The history values at the best epoch."""
        return {k: v[self.best_epoch - 1] for k, v in self.history.items()}


def build_lstm(n_steps: int, n_features: int, config: LstmConfig = LstmConfig(),
               mask_value: float = PreprocessConfig().mask_value, seed: int = 0):
    """Build (not compile) the source document's LSTM with every initializer and dropout seeded.

    The Masking layer skips steps whose features all equal `mask_value` (the preprocessor writes it
    on fully unobserved steps); the LSTM then carries its state across those steps unchanged.
    """
    import keras

    s = iter(derived_seeds(seed, 4 + 3 * len(config.dense), SEED_SALT))
    inputs = keras.Input(shape=(n_steps, n_features), name="episodes")
    x = keras.layers.Masking(mask_value=mask_value, name="masking")(inputs)
    x = keras.layers.LSTM(
        config.units, dropout=config.dropout, recurrent_dropout=config.recurrent_dropout,
        kernel_initializer=keras.initializers.GlorotUniform(seed=next(s)),
        recurrent_initializer=keras.initializers.Orthogonal(seed=next(s)),
        seed=next(s), unroll=config.unroll, name="lstm")(x)
    for i, width in enumerate(config.dense):
        x = keras.layers.Dense(width, activation="relu", kernel_regularizer=keras.regularizers.L2(config.l2),
                               kernel_initializer=keras.initializers.GlorotUniform(seed=next(s)),
                               name=f"dense_{i + 1}")(x)
        x = keras.layers.Dropout(config.head_dropout, seed=next(s), name=f"dropout_{i + 1}")(x)
        next(s)
    outputs = keras.layers.Dense(1, activation="sigmoid", name="mortality",
                                 kernel_initializer=keras.initializers.GlorotUniform(seed=next(s)))(x)
    return keras.Model(inputs, outputs, name="mortality_lstm")


def _predict_fn(model, jit_compile: bool = True):
    """A cached compiled inference function for `model` (dropout off)."""
    import tensorflow as tf

    key = "_ehrlib_predict_fn_xla" if jit_compile else "_ehrlib_predict_fn"
    fn = getattr(model, key, None)
    if fn is None:
        fn = tf.function(lambda x: model(x, training=False), jit_compile=jit_compile, reduce_retracing=True)
        setattr(model, key, fn)
    return fn


def predict_proba(model, X: np.ndarray, batch_size: int = 1024, jit_compile: bool = False) -> np.ndarray:
    """Predicted probabilities, float64 (n,), with dropout off.

    Batches are padded to `batch_size` so that the compiled function sees one shape only. XLA is off
    by default here: a single pass over a few thousand episodes does not repay its compilation.
    """
    X = np.asarray(X, dtype=np.float32)
    n = X.shape[0]
    out = np.empty(n, dtype=np.float64)
    if n == 0:
        return out
    bs = int(min(batch_size, n))
    fn = _predict_fn(model, jit_compile)
    for start in range(0, n, bs):
        xb = X[start:start + bs]
        m = xb.shape[0]
        if m < bs:
            xb = np.concatenate([xb, np.repeat(xb[-1:], bs - m, axis=0)], axis=0)
        out[start:start + m] = np.asarray(fn(xb)).reshape(-1)[:m]
    return out


def _scores(y: np.ndarray, p: np.ndarray) -> tuple[float, float]:
    """AUROC and AUPRC (average precision) with scikit-learn; NaN when y has one class only."""
    from sklearn.metrics import average_precision_score, roc_auc_score

    if len(np.unique(y)) < 2:
        return float("nan"), float("nan")
    return float(roc_auc_score(y, p)), float(average_precision_score(y, p))


def _check_xy(X: np.ndarray, y: np.ndarray, name: str) -> tuple[np.ndarray, np.ndarray]:
    X = np.ascontiguousarray(X, dtype=np.float32)
    y = np.asarray(y).reshape(-1)
    if X.ndim != 3 or X.shape[0] != y.shape[0]:
        raise ValueError(f"{name}: X must be (n, steps, features) with n = len(y); got {X.shape} and {y.shape}")
    if not np.isin(y, (0, 1)).all():
        raise ValueError(f"{name}: labels must be 0/1")
    if not np.isfinite(X).all():
        raise ValueError(f"{name}: X contains NaN or infinite values (preprocess first)")
    return X, y.astype(np.float32)


def _validation_scores(model, loss_fn, X_val: np.ndarray, y_val: np.ndarray, config: LstmConfig, xla: bool,
                       y_train: np.ndarray):
    """The LSTM's per-epoch scores for `ehrlib.training.fit`: validation loss (the focal loss plus the L2
    penalty, as Keras reports it), training AUROC/AUPRC from the predictions the steps made, and the
    validation AUROC/AUPRC of predictions with dropout off."""

    def score(model, done: EpochPass) -> dict[str, float]:
        p_val = predict_proba(model, X_val, config.predict_batch_size, xla)
        penalty = float(sum(np.asarray(l) for l in model.losses)) if model.losses else 0.0
        val_loss = float(np.mean(loss_fn(y_val[:, None], p_val[:, None].astype(np.float32)))) + penalty
        auroc, auprc = _scores(y_train[done.order], done.outputs[:, 0].astype(np.float64))
        val_auroc, val_auprc = _scores(y_val, p_val)
        return {"val_loss": val_loss, "auroc": auroc, "val_auroc": val_auroc, "auprc": auprc,
                "val_auprc": val_auprc}

    return score


def train_lstm(X_train: np.ndarray, y_train: np.ndarray, X_val: np.ndarray, y_val: np.ndarray,
               config: LstmConfig = LstmConfig(), seed: int = 0, progress: bool = True,
               mask_value: float = PreprocessConfig().mask_value) -> TrainResult:
    """Train the LSTM with early stopping on validation; deterministic for a given `seed`.

    The loop is `ehrlib.training.fit` (see the module docstring); one log line per epoch when `progress`.
    """
    import keras

    start = time.perf_counter()
    X_train, y_train = _check_xy(X_train, y_train, "train")
    X_val, y_val = _check_xy(X_val, y_val, "val")
    model = build_lstm(X_train.shape[1], X_train.shape[2], config, mask_value=mask_value, seed=seed)
    xla = config.use_xla(X_train.shape[0])
    per_example = keras.losses.BinaryFocalCrossentropy(
        apply_class_balancing=True, alpha=config.alpha, gamma=config.gamma, reduction=None)
    score = _validation_scores(model, focal_loss(gamma=config.gamma, alpha=config.alpha), X_val, y_val,
                               config, xla, y_train)
    fit_config = FitConfig(monitor=config.monitor, mode="min" if config.monitor == "val_loss" else "max",
                           max_epochs=config.max_epochs, patience=config.patience, batch_size=config.batch_size,
                           learning_rate=config.learning_rate, seed=seed, jit_compile=xla)
    done = fit(model, lambda yb, p: per_example(yb[:, None], p), X_train, y_train, score, fit_config,
               keep_outputs=True, progress=progress)
    seconds = time.perf_counter() - start
    if progress:
        _log.info(f"trained {done.epochs_run} epochs in {seconds:.1f} s; best epoch {done.best_epoch} "
                  f"({config.monitor} {done.history[config.monitor][done.best_epoch - 1]:.4f})")
    return TrainResult(model=model, history=done.history, best_epoch=done.best_epoch, seconds=seconds,
                       epochs_run=done.epochs_run, config=config, xla=xla, epoch_seconds=done.epoch_seconds)


def fit_lstm_pipeline(train, val, config: LstmConfig = LstmConfig(), seed: int = 0, progress: bool = True,
                      preprocess: PreprocessConfig = PreprocessConfig()
                      ) -> tuple[MortalityPreprocessor, TrainResult]:
    """Fit the preprocessor on `train` only, transform both splits, and train the LSTM."""
    prep = MortalityPreprocessor(preprocess).fit(train)
    X_train, X_val = prep.transform(train), prep.transform(val)
    result = train_lstm(X_train, np.asarray(train.y), X_val, np.asarray(val.y), config, seed=seed,
                        progress=progress, mask_value=prep.mask_value)
    return prep, result
