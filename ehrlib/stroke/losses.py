"""The stroke models' loss, Teoh (2018) Eq. 9-11: `alpha * CE + beta * FP_u + gamma * FN_u`.

With a two-class softmax output `f(x)` and one-hot labels `p(x)`, the log loss of one sample is
`l_ll = -sum_k p_k(x) log f_k(x)` (categorical cross-entropy). The paper's upper bounds of the false
positive and false negative counts (Eq. 10) are the sums of that log loss over the negative and the
positive samples, so the total loss (Eq. 11) is

    alpha * sum_i l_ll(i) + beta * sum_{i in Y-} l_ll(i) + gamma * sum_{i in Y+} l_ll(i).

Because every sample is either negative or positive, `FP_u + FN_u = CE` exactly: the loss is a per-sample
weighting of cross-entropy, `alpha + beta` for negatives and `alpha + gamma` for positives. With
`beta = gamma` (the paper's 5 and 5) it is `(alpha + beta) * CE`, a constant multiple of plain cross-
entropy; Adam's update `m / (sqrt(v) + eps)` is invariant to a constant factor on the gradient (up to
`eps`), so training follows plain cross-entropy step for step. With `beta != gamma` it is class
weighting. Keras' `categorical_crossentropy` computes `l_ll` (with its clipping); this module only weights
it. The batch loss is the mean over the batch (the sums of Eq. 11 divided by the batch size, which again
only rescales). `teoh_loss_numpy` is the hand computation the tests compare with.
"""

from __future__ import annotations

import functools

import numpy as np


@functools.lru_cache(maxsize=1)
def _loss_class():
    import keras

    @keras.saving.register_keras_serializable(package="ehrlib")
    class TeohLoss(keras.losses.Loss):
        """Eq. 11 as a Keras loss on one-hot labels (n, 2) and softmax outputs (n, 2); class 1 = stroke."""

        def __init__(self, alpha: float = 0.2, beta: float = 5.0, gamma: float = 5.0, name: str = "teoh_loss",
                     reduction: str = "sum_over_batch_size", **kwargs):
            super().__init__(name=name, reduction=reduction, **kwargs)
            self.alpha, self.beta, self.gamma = float(alpha), float(beta), float(gamma)

        def call(self, y_true, y_pred):
            ops = keras.ops
            y_true = ops.cast(y_true, y_pred.dtype)
            ce = keras.losses.categorical_crossentropy(y_true, y_pred)
            positive = y_true[:, 1]
            return ce * (self.alpha + self.beta * (1.0 - positive) + self.gamma * positive)

        def get_config(self):
            return {**super().get_config(), "alpha": self.alpha, "beta": self.beta, "gamma": self.gamma}

    return TeohLoss


def teoh_loss(alpha: float = 0.2, beta: float = 5.0, gamma: float = 5.0, reduction: str = "sum_over_batch_size"):
    """The Eq. 11 loss (a `keras.losses.Loss`); `reduction=None` gives the per-sample values."""
    if min(alpha, beta, gamma) < 0:
        raise ValueError(f"alpha, beta and gamma must be >= 0, got {alpha}, {beta}, {gamma}")
    return _loss_class()(alpha=alpha, beta=beta, gamma=gamma, reduction=reduction)


def teoh_loss_numpy(y: np.ndarray, f: np.ndarray, alpha: float = 0.2, beta: float = 5.0, gamma: float = 5.0,
                    eps: float = 1e-7) -> dict[str, float]:
    """Eq. 9-11 by hand in float64: the sums CE, FP_u, FN_u and the total (`y` 0/1 labels, `f` (n, 2)).

    Probabilities are clipped to [eps, 1 - eps] as Keras does. `mean` is the total divided by n (the
    Keras loss with its default batch-mean reduction).
    """
    y = np.asarray(y).astype(int)
    f = np.clip(np.asarray(f, dtype=np.float64), eps, 1 - eps)
    f = f / f.sum(axis=1, keepdims=True)
    ll = -np.log(f[np.arange(len(y)), y])
    ce, fp_u, fn_u = ll.sum(), ll[y == 0].sum(), ll[y == 1].sum()
    total = alpha * ce + beta * fp_u + gamma * fn_u
    return {"ce": float(ce), "fp_u": float(fp_u), "fn_u": float(fn_u), "total": float(total),
            "mean": float(total / len(y))}


def class_weights(alpha: float, beta: float, gamma: float) -> tuple[float, float]:
    """The per-sample weights the loss puts on cross-entropy: (negatives, positives) = (alpha+beta, alpha+gamma)."""
    return alpha + beta, alpha + gamma


__all__ = ["class_weights", "teoh_loss", "teoh_loss_numpy"]
