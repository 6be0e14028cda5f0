"""Fixed-size training batches with zero-weight padding (`ehrlib.batches`)."""

import numpy as np

from ehrlib.batches import derived_seeds, padded_batches
from ehrlib.mortality.lstm import SEED_SALT as LSTM_SALT
from ehrlib.stroke.models import SEED_SALT as STROKE_SALT


def test_padded_batches_cover_every_row_once_with_zero_weight_padding():
    order = np.array([4, 2, 0, 3, 1])
    batches = list(padded_batches(order, 2))
    assert [m for _, m, _ in batches] == [2, 2, 1]
    idx, m, w = batches[-1]
    assert idx.tolist() == [1, 1] and w.tolist() == [1.0, 0.0]
    real = np.concatenate([i[:m] for i, m, _ in batches])
    assert real.tolist() == order.tolist()


def test_derived_seeds_are_the_networks_former_seeds():
    """Pinned: the values each study's own `_seeds` helper gave before they became one, so every
    initializer and dropout seed (and so every trained network) is unchanged."""
    assert derived_seeds(0, 4, STROKE_SALT) == [387806881, 1333654149, 2067963278, 860991420]
    assert derived_seeds(7, 2, STROKE_SALT) == [434922159, 150157210]
    assert derived_seeds(0, 4, LSTM_SALT) == [1837856675, 1296233615, 1557607137, 553525804]
    assert derived_seeds(7, 2, LSTM_SALT) == [387686272, 1850188590]
    many = derived_seeds(3, 1000, LSTM_SALT)
    assert all(0 <= s < 2**31 - 1 for s in many) and len(set(many)) == 1000
