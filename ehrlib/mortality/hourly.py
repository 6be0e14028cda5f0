"""Helpers on hourly episode tensors shared by the LSTM preprocessor, the baselines and NEWS2.

Both `preprocessing` and `baselines`/`news2` import from here (downwards), so no model module
borrows another's helpers.
"""

from __future__ import annotations

import numpy as np


def forward_fill(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Forward-fill `values` along axis 1 (time) where `mask` is False; leading gaps stay NaN.

    Vectorised: for every cell, the index of the last observed step at or before it is the running
    maximum of `where(mask, step, -1)`; cells with no earlier observation get NaN.
    """
    n_steps = values.shape[1]
    steps = np.arange(n_steps, dtype=np.int32)[None, :, None]
    last = np.maximum.accumulate(np.where(mask, steps, -1), axis=1)
    filled = np.take_along_axis(values, np.maximum(last, 0), axis=1).astype(np.float32, copy=True)
    filled[last < 0] = np.nan
    return filled


def observation_counts(mask: np.ndarray, windows: tuple[int, ...] = (48, 24, 12)) -> np.ndarray:
    """Observation counts per variable over the last `w` hours for each window `w`: (n, len(windows) * F).

    The features of the missingness-only baseline: how often each variable was charted, and how
    recently, without any measured value.
    """
    mask = np.asarray(mask, dtype=bool)
    n_steps = mask.shape[1]
    parts = [mask[:, n_steps - min(w, n_steps):, :].sum(axis=1) for w in windows]
    return np.concatenate(parts, axis=1).astype(np.float64)
