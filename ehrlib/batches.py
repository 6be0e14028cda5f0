"""Fixed-size training batches for the book's compiled Keras training steps (both studies).

A compiled (XLA) step sees one batch shape only, so the last, short batch is padded to full size by
repeating its final row and given weight 0 on the padding: the loss and the gradients are those of
the real rows. Numpy only; the training loops of `ehrlib.mortality.lstm` and `ehrlib.stroke.models`
iterate over these.
"""

from __future__ import annotations

from typing import Iterator

import numpy as np


def padded_batches(order: np.ndarray, batch_size: int) -> Iterator[tuple[np.ndarray, int, np.ndarray]]:
    """Batches over the row indices `order`: (indices of length `batch_size`, number of real rows `m`,
    float32 weights 1 for the real rows and 0 for the padding)."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    order = np.asarray(order)
    for start in range(0, len(order), batch_size):
        idx = order[start:start + batch_size]
        m = len(idx)
        w = np.ones(batch_size, dtype=np.float32)
        if m < batch_size:
            w[m:] = 0.0
            idx = np.concatenate([idx, np.repeat(idx[-1:], batch_size - m)])
        yield idx, m, w
