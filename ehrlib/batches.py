"""Fixed-size training batches and derived seeds for the book's compiled Keras training steps (both studies).

A compiled (XLA) step sees one batch shape only, so the last, short batch is padded to full size by
repeating its final row and given weight 0 on the padding: the loss and the gradients are those of
the real rows. Numpy only; the training loop (`ehrlib.training`) iterates over these, and the networks'
builders (`ehrlib.mortality.lstm`, `ehrlib.stroke.models`) seed their layers with `derived_seeds`.
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


def derived_seeds(seed: int, n: int, salt: int) -> list[int]:
    """`n` independent 31-bit integer seeds derived from `seed` and a caller's fixed `salt` (stable across
    processes: `np.random.SeedSequence([seed, salt])`, never Python's `hash()`). Each study's networks pass
    their own salt, so the two studies draw different seeds from the same run seed."""
    return [int(s) for s in np.random.SeedSequence([seed, salt]).generate_state(n) % (2**31 - 1)]
