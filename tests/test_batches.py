"""Fixed-size training batches with zero-weight padding (`ehrlib.batches`)."""

import numpy as np

from ehrlib.batches import padded_batches


def test_padded_batches_cover_every_row_once_with_zero_weight_padding():
    order = np.array([4, 2, 0, 3, 1])
    batches = list(padded_batches(order, 2))
    assert [m for _, m, _ in batches] == [2, 2, 1]
    idx, m, w = batches[-1]
    assert idx.tolist() == [1, 1] and w.tolist() == [1.0, 0.0]
    real = np.concatenate([i[:m] for i, m, _ in batches])
    assert real.tolist() == order.tolist()
