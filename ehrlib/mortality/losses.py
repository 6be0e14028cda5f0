"""The focal loss of Lin et al. (2017), as the mortality LSTM is trained with it.

FL(p_t) = -alpha_t (1 - p_t)^gamma log(p_t), where p_t = p for a positive and 1 - p for a negative,
and alpha_t = alpha for a positive and 1 - alpha for a negative (Lin et al., "Focal loss for dense
object detection", Eq. 5). Keras 3's `BinaryFocalCrossentropy` computes exactly this when
`apply_class_balancing=True`; with the default `apply_class_balancing=False` it silently ignores
`alpha`. `tests/test_losses.py` checks both facts against the formula computed by hand in numpy.

Note that alpha = 0.25 *down*-weights the positives (the rare class) relative to the negatives: Lin
et al. found this works with gamma = 2 because the focusing term already removes the easy negatives.
"""

from __future__ import annotations

import numpy as np


def focal_loss(gamma: float = 2.0, alpha: float = 0.25):
    """Return Keras' binary focal loss with Lin et al.'s class weighting (alpha on positives).

    The returned `keras.losses.BinaryFocalCrossentropy` takes probabilities (the model ends with a
    sigmoid), averages over the batch, and has `apply_class_balancing=True` so that `alpha` is used.
    """
    import keras

    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must lie in [0, 1], got {alpha}")
    if gamma < 0:
        raise ValueError(f"gamma must be >= 0, got {gamma}")
    return keras.losses.BinaryFocalCrossentropy(apply_class_balancing=True, alpha=alpha, gamma=gamma,
                                                from_logits=False, name="focal_loss")


def focal_loss_numpy(y_true: np.ndarray, p: np.ndarray, gamma: float = 2.0, alpha: float = 0.25,
                     eps: float = 1e-7) -> np.ndarray:
    """Per-example focal loss by Lin et al.'s formula, in float64 numpy (for tests and figures).

    Probabilities are clipped to `[eps, 1 - eps]` as Keras does. With `gamma=0` and `alpha=0.5` this
    is half the binary cross-entropy.
    """
    y = np.asarray(y_true, dtype=np.float64)
    p = np.clip(np.asarray(p, dtype=np.float64), eps, 1.0 - eps)
    p_t = np.where(y == 1, p, 1.0 - p)
    alpha_t = np.where(y == 1, alpha, 1.0 - alpha)
    return -alpha_t * (1.0 - p_t) ** gamma * np.log(p_t)
