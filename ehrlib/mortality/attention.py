"""An attention model over the hourly bins, with mask and time channels (a small Transformer encoder).

Each of the 48 hours is one token: its standardised, forward-filled values, the observation masks and
the hours since each variable was last observed divided by 48 (`time_inputs.TimePreprocessor`), i.e.
3 x D numbers, projected to `d_model` and added to a learned embedding of the hour (`HourEmbedding`).
`layers` Transformer encoder blocks follow (multi-head self-attention over all hours, then a
position-wise feed-forward layer, each with a residual connection, dropout and layer normalisation,
post-norm as in Vaswani et al. 2017). `AttentionPooling` then weighs the hours with a learned query
(softmax over hours; hours a Keras mask marks absent get no weight) into one vector; the descriptors
join it before a dense head and the sigmoid output.

Why bins and not observation triplets (STraTS, SeFT): on this machine a stay has a few hundred
observations but only 48 bins, so attention over bins costs a small fixed 48 x 48 per head; the mask
and time channels keep what the triplets would carry (what was measured, and how long ago). Every hour
is attended to, including hours with no new observation, because their channels still say how old each
carried value is.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from ehrlib.batches import derived_seeds
from ehrlib.records import Record

SEED_SALT = 20170612  # mixed with the run's seed for the attention model's initialisers and dropout


@dataclass(frozen=True)
class AttentionConfig(Record):
    """Width of the tokens, heads, encoder blocks, feed-forward width, dropout, head and L2 penalty."""

    d_model: int = 32
    heads: int = 2
    layers: int = 1
    ff_units: int = 64
    dropout: float = 0.0
    dense: tuple[int, ...] = (32,)
    head_dropout: float = 0.3
    l2: float = 1e-3
    descriptors: bool = True

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Positive sizes, d_model divisible by heads, dropout rates in [0, 1)."""
        if min(self.d_model, self.heads, self.layers, self.ff_units) < 1 or any(w < 1 for w in self.dense):
            raise ValueError("sizes must be >= 1")
        if self.d_model % self.heads:
            raise ValueError(f"d_model {self.d_model} must be divisible by heads {self.heads}")
        if not (0.0 <= self.dropout < 1.0 and 0.0 <= self.head_dropout < 1.0) or self.l2 < 0:
            raise ValueError("dropout rates must lie in [0, 1) and l2 be >= 0")


@functools.lru_cache(maxsize=1)
def attention_layers() -> tuple[type, type]:
    """The `HourEmbedding` and `AttentionPooling` layer classes (built on first use; registered for saving)."""
    import keras

    @keras.saving.register_keras_serializable(package="ehrlib")
    class HourEmbedding(keras.layers.Layer):
        """Add a learned vector per hour (position) to a (n, T, d) sequence."""

        def __init__(self, seed: int | None = None, **kwargs):
            super().__init__(**kwargs)
            self.seed = seed
            self.supports_masking = True

        def build(self, input_shape):
            self.table = self.add_weight(shape=tuple(input_shape[1:]), name="hours",
                                         initializer=keras.initializers.RandomNormal(stddev=0.02, seed=self.seed))
            self.built = True

        def call(self, x):
            return x + self.table[None]

        def get_config(self):
            return {**super().get_config(), "seed": self.seed}

    @keras.saving.register_keras_serializable(package="ehrlib")
    class AttentionPooling(keras.layers.Layer):
        """Softmax-weighted mean over time with a learned query: (n, T, d) -> (n, d). Steps a Keras mask
        marks absent get weight 0; a sequence with no present step pools all steps evenly."""

        def __init__(self, seed: int | None = None, **kwargs):
            super().__init__(**kwargs)
            self.seed = seed
            self.supports_masking = True

        def build(self, input_shape):
            init = keras.initializers.GlorotUniform(seed=self.seed)
            self.query = self.add_weight(shape=(input_shape[-1], 1), initializer=init, name="query")
            self.built = True

        def call(self, x, mask=None):
            ops = keras.ops
            scores = ops.matmul(x, self.query)[..., 0]
            if mask is not None:
                keep = ops.cast(mask, x.dtype)
                keep = ops.where(ops.sum(keep, axis=1, keepdims=True) > 0, keep, ops.ones_like(keep))
                scores = ops.where(keep > 0, scores, ops.full_like(scores, -1e9))
            weights = ops.softmax(scores, axis=1)
            return ops.sum(x * weights[..., None], axis=1)

        def compute_mask(self, inputs, mask=None):
            return None

        def compute_output_shape(self, input_shape):
            return (input_shape[0], input_shape[-1])

        def get_config(self):
            return {**super().get_config(), "seed": self.seed}

    return HourEmbedding, AttentionPooling


def _encoder_block(keras, x, config: AttentionConfig, seeds, i: int):
    """One post-norm Transformer encoder block (self-attention, feed-forward; residuals, dropout)."""
    attn = keras.layers.MultiHeadAttention(config.heads, config.d_model // config.heads, dropout=config.dropout,
                                           seed=next(seeds), name=f"attention_{i}",
                                           kernel_initializer=keras.initializers.GlorotUniform(seed=next(seeds)))(x, x)
    x = keras.layers.LayerNormalization(name=f"norm_a{i}")(
        keras.layers.Add(name=f"residual_a{i}")([x, keras.layers.Dropout(config.dropout, seed=next(seeds), name=f"drop_a{i}")(attn)]))
    ff = keras.layers.Dense(config.ff_units, activation="relu", name=f"ff_{i}_1",
                            kernel_initializer=keras.initializers.GlorotUniform(seed=next(seeds)))(x)
    ff = keras.layers.Dense(config.d_model, name=f"ff_{i}_2",
                            kernel_initializer=keras.initializers.GlorotUniform(seed=next(seeds)))(ff)
    return keras.layers.LayerNormalization(name=f"norm_f{i}")(
        keras.layers.Add(name=f"residual_f{i}")([x, keras.layers.Dropout(config.dropout, seed=next(seeds), name=f"drop_f{i}")(ff)]))


def build_attention(n_steps: int, n_variables: int, n_static: int, config: AttentionConfig = AttentionConfig(),
                    seed: int = 0):
    """Build (not compile) the attention model on the dict inputs "values", "mask", "delta" (n, T, D) and,
    when `config.descriptors` and S > 0, "static" (n, S); see the module docstring."""
    import keras

    hour_embedding, pooling = attention_layers()
    s = iter(derived_seeds(seed, 4 + 6 * config.layers + 2 * len(config.dense), SEED_SALT))
    inputs = {k: keras.Input(shape=(n_steps, n_variables), name=k) for k in ("values", "mask", "delta")}
    hours = keras.layers.Rescaling(1.0 / n_steps, name="hours_scaled")(inputs["delta"])
    x = keras.layers.Concatenate(axis=-1, name="tokens")([inputs["values"], inputs["mask"], hours])
    x = keras.layers.Dense(config.d_model, name="project",
                           kernel_initializer=keras.initializers.GlorotUniform(seed=next(s)))(x)
    x = hour_embedding(seed=next(s), name="hour_embedding")(x)
    for i in range(1, config.layers + 1):
        x = _encoder_block(keras, x, config, s, i)
    x = pooling(seed=next(s), name="pooling")(x)
    if config.descriptors and n_static:
        inputs["static"] = keras.Input(shape=(n_static,), name="static")
        x = keras.layers.Concatenate(name="with_descriptors")([x, inputs["static"]])
    for i, width in enumerate(config.dense):
        x = keras.layers.Dense(width, activation="relu", kernel_regularizer=keras.regularizers.L2(config.l2),
                               kernel_initializer=keras.initializers.GlorotUniform(seed=next(s)), name=f"dense_{i + 1}")(x)
        x = keras.layers.Dropout(config.head_dropout, seed=next(s), name=f"dropout_{i + 1}")(x)
    out = keras.layers.Dense(1, activation="sigmoid", name="mortality",
                             kernel_initializer=keras.initializers.GlorotUniform(seed=next(s)))(x)
    return keras.Model(inputs, out, name="attention")
