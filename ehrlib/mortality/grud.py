"""GRU-D (Che et al. 2018, Scientific Reports 8:6085): a GRU that knows what is missing and for how long.

At hour t the layer reads, per variable d, the value x (standardised), the mask m (1 observed, 0 not)
and delta, the hours since d was last observed (`time_inputs.hours_since_observed`). Its state is the
hidden vector h and the last observed value x' of each variable (x' starts at the training mean x~):

    gamma_x = exp(-max(0, w_gx * delta + b_gx))          (per variable: a diagonal weight)
    gamma_h = exp(-max(0, W_gh delta + b_gh))            (a full D x H weight)
    x' <- m * x + (1 - m) * x'                             (the last observed value)
    x^ = m * x + (1 - m) * (gamma_x * x' + (1 - gamma_x) * x~)   (input decay towards the mean)
    h^ = gamma_h * h                                       (hidden-state decay)
    z  = sigmoid(W_z x^ + U_z h^ + V_z m + b_z)
    r  = sigmoid(W_r x^ + U_r h^ + V_r m + b_r)
    h~ = tanh(W x^ + U (r * h^) + V m + b)
    h  <- (1 - z) * h^ + z * h~

(Che et al., Eq. 4-9.) Because the cell keeps x' itself, a value at an unobserved hour is never read:
whatever stands there, the output is the same (tested). `GRUDCell` is a Keras 3 RNN cell, registered
for `.keras` saving; `build_grud` wraps it in `keras.layers.RNN` over the dict inputs of
`time_inputs.TimePreprocessor` (values, mask, delta, static) and adds the descriptors to the last
hidden state before a small dense head. `tests/test_grud.py` checks the equations against a numpy
computation by hand on a tiny example.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from ehrlib.batches import derived_seeds
from ehrlib.records import Record

SEED_SALT = 20180606  # mixed with the run's seed for GRU-D's initialisers and dropout (`derived_seeds`)


@dataclass(frozen=True)
class GrudConfig(Record):
    """Width of the recurrent state, the dense head after it, its dropout and L2 penalty."""

    units: int = 64
    dense: tuple[int, ...] = (32,)
    head_dropout: float = 0.3
    l2: float = 1e-3
    descriptors: bool = True

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Positive widths, a dropout rate in [0, 1) and a non-negative penalty."""
        if self.units < 1 or any(w < 1 for w in self.dense):
            raise ValueError("units and dense widths must be >= 1")
        if not 0.0 <= self.head_dropout < 1.0 or self.l2 < 0:
            raise ValueError("head_dropout must lie in [0, 1) and l2 be >= 0")


@functools.lru_cache(maxsize=1)
def grud_cell_class():
    """The `GRUDCell` class (built on first use so that importing this module does not import Keras)."""
    import keras

    @keras.saving.register_keras_serializable(package="ehrlib")
    class GRUDCell(keras.layers.Layer):
        """One GRU-D step over inputs [x, m, delta] (each D wide); states [h, x']; see the module doc."""

        def __init__(self, units: int, x_mean, seed: int | None = None, **kwargs):
            super().__init__(**kwargs)
            self.units, self.seed = int(units), seed
            self.x_mean = [float(v) for v in np.asarray(x_mean, dtype=np.float64).reshape(-1)]
            self.n_vars = len(self.x_mean)
            self.state_size = [self.units, self.n_vars]
            self.output_size = self.units

        def build(self, input_shape):
            if input_shape[-1] != 3 * self.n_vars:
                raise ValueError(f"GRUDCell expects [x, m, delta] of width 3 x {self.n_vars}, got {input_shape[-1]}")
            _add_grud_weights(keras, self, self.n_vars, self.units, self.seed or 0)
            self.built = True

        def call(self, inputs, states, training=None):
            ops, d, u = keras.ops, self.n_vars, self.units
            x, m, delta = inputs[:, :d], inputs[:, d:2 * d], inputs[:, 2 * d:]
            h, x_last = states[0], states[1]
            x_mean = ops.convert_to_tensor(np.asarray(self.x_mean, dtype=np.float32))
            gamma_x = ops.exp(-ops.relu(delta * self.w_gx + self.b_gx))
            gamma_h = ops.exp(-ops.relu(ops.matmul(delta, self.w_gh) + self.b_gh))
            x_last = m * x + (1.0 - m) * x_last
            x_hat = m * x + (1.0 - m) * (gamma_x * x_last + (1.0 - gamma_x) * x_mean)
            h_hat = gamma_h * h
            xm = ops.matmul(x_hat, self.kernel) + ops.matmul(m, self.mask_kernel) + self.bias
            hu = ops.matmul(h_hat, self.recurrent[:, :2 * u])
            z = ops.sigmoid(xm[:, :u] + hu[:, :u])
            r = ops.sigmoid(xm[:, u:2 * u] + hu[:, u:])
            h_tilde = ops.tanh(xm[:, 2 * u:] + ops.matmul(r * h_hat, self.recurrent[:, 2 * u:]))
            h_new = (1.0 - z) * h_hat + z * h_tilde
            return h_new, [h_new, x_last]

        def get_initial_state(self, batch_size=None):
            mean = keras.ops.convert_to_tensor(np.asarray(self.x_mean, dtype=np.float32))
            return [keras.ops.zeros((batch_size, self.units), dtype=self.compute_dtype),
                    keras.ops.broadcast_to(mean[None, :], (batch_size, self.n_vars))]

        def get_config(self):
            return {**super().get_config(), "units": self.units, "x_mean": self.x_mean, "seed": self.seed}

    return GRUDCell


def _add_grud_weights(keras, cell, d: int, u: int, seed: int) -> None:
    """Create the cell's weights: decay (w_gx, b_gx diagonal; w_gh, b_gh full), the kernels of x^, h^ and m
    for the three gates (z, r, candidate) side by side, and their bias; initialisers seeded from `seed`."""
    s = derived_seeds(seed, 4, SEED_SALT)
    glorot = [keras.initializers.GlorotUniform(seed=s[k]) for k in (0, 1, 3)]
    cell.w_gx = cell.add_weight(shape=(d,), initializer="zeros", name="w_gx")
    cell.b_gx = cell.add_weight(shape=(d,), initializer="zeros", name="b_gx")
    cell.w_gh = cell.add_weight(shape=(d, u), initializer=glorot[0], name="w_gh")
    cell.b_gh = cell.add_weight(shape=(u,), initializer="zeros", name="b_gh")
    cell.kernel = cell.add_weight(shape=(d, 3 * u), initializer=glorot[1], name="kernel")
    cell.recurrent = cell.add_weight(shape=(u, 3 * u), initializer=keras.initializers.Orthogonal(seed=s[2]),
                                     name="recurrent_kernel")
    cell.mask_kernel = cell.add_weight(shape=(d, 3 * u), initializer=glorot[2], name="mask_kernel")
    cell.bias = cell.add_weight(shape=(3 * u,), initializer="zeros", name="bias")


def grud_layer(units: int, x_mean: np.ndarray, seed: int = 0, return_sequences: bool = False, name: str = "grud"):
    """A Keras RNN layer running `GRUDCell` over (n, T, 3D) inputs [x, m, delta], x' starting at `x_mean`."""
    import keras

    return keras.layers.RNN(grud_cell_class()(units, x_mean, seed=seed, name=f"{name}_cell"),
                            return_sequences=return_sequences, name=name)


def build_grud(n_steps: int, n_variables: int, n_static: int, config: GrudConfig = GrudConfig(),
               x_mean: np.ndarray | None = None, seed: int = 0):
    """Build (not compile) GRU-D on the dict inputs "values", "mask", "delta" (n, T, D) and "static" (n, S):
    the layer's last hidden state, the descriptors beside it (when `config.descriptors` and S > 0; only then
    is "static" an input), a dense
    ReLU head with dropout and L2, and a sigmoid output. `x_mean` defaults to 0 (the training mean of
    values standardised on the training stays)."""
    import keras

    s = iter(derived_seeds(seed, 3 + 2 * len(config.dense), SEED_SALT + 1))
    mean = np.zeros(n_variables) if x_mean is None else np.asarray(x_mean, dtype=np.float64)
    inputs = {k: keras.Input(shape=(n_steps, n_variables), name=k) for k in ("values", "mask", "delta")}
    seq = keras.layers.Concatenate(axis=-1, name="x_m_delta")([inputs["values"], inputs["mask"], inputs["delta"]])
    x = grud_layer(config.units, mean, seed=next(s))(seq)
    if config.descriptors and n_static:
        inputs["static"] = keras.Input(shape=(n_static,), name="static")
        x = keras.layers.Concatenate(name="with_descriptors")([x, inputs["static"]])
    for i, width in enumerate(config.dense):
        x = keras.layers.Dense(width, activation="relu", kernel_regularizer=keras.regularizers.L2(config.l2),
                               kernel_initializer=keras.initializers.GlorotUniform(seed=next(s)), name=f"dense_{i + 1}")(x)
        x = keras.layers.Dropout(config.head_dropout, seed=next(s), name=f"dropout_{i + 1}")(x)
    out = keras.layers.Dense(1, activation="sigmoid", name="mortality",
                             kernel_initializer=keras.initializers.GlorotUniform(seed=next(s)))(x)
    return keras.Model(inputs, out, name="grud")
