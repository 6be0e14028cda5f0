"""Inputs for sequence models that use time: values, observation masks, hours since last observed.

The replication's preprocessing (`preprocessing.MortalityPreprocessor`) hands the LSTM forward-filled
values, the mask indicators and the descriptors; it does not say *how old* a carried-forward value is.
`TimePreprocessor` adds that, and keeps the three pieces apart so that each model can use them its own
way (GRU-D decays towards the training mean with the age of the value; the tuned LSTM and the attention
model read them as features):

- ``values`` (n, T, D): each variable standardised with the mean and standard deviation of its
  *observed* training values (so the training mean is 0 in these units), forward filled within the
  stay, the leading gap before a first observation set to 0 (the training mean), clipped to
  ``[-clip, clip]``;
- ``mask`` (n, T, D): 1 where the variable was observed in that hour, else 0;
- ``delta`` (n, T, D): hours since the variable was last observed *before* hour t, as defined by
  Che et al. (2018): delta_1 = 0, delta_t = s_t - s_{t-1} + delta_{t-1} when the variable was missing at
  t - 1, else s_t - s_{t-1} (hourly bins: s_t = t), so a variable never yet observed has delta_t = t;
- ``static`` (n, S): the descriptors, imputed with training medians and standardised
  (`preprocessing.StaticScaler`); (n, 0) when the stays have none.

`TimeInputs` says which of the optional pieces a model reads, and `lstm_tensor` lays them side by side
for a single-tensor network. The fitted state is JSON (`TimePreprocessorState`), validated on load.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from ehrlib.icu.episodes import EpisodeSet
from ehrlib.records import Record
from ehrlib.mortality.hourly import forward_fill
from ehrlib.mortality.preprocessing import StaticScaler

Arrays = dict[str, np.ndarray]


@dataclass(frozen=True)
class TimeInputs(Record):
    """Which optional inputs a model reads beside the values: the observation masks, the hours since
    each variable was last observed, and the static descriptors."""

    mask: bool = True
    delta: bool = True
    descriptors: bool = True

    @property
    def label(self) -> str:
        """Short description, e.g. "values + mask + hours + descriptors"."""
        parts = ["values"] + [name for name, on in (("mask", self.mask), ("hours since observed", self.delta),
                                                    ("descriptors", self.descriptors)) if on]
        return " + ".join(parts)


def hours_since_observed(mask: np.ndarray) -> np.ndarray:
    """Che et al.'s delta for hourly bins, (n, T, D) float32: hours since the last observation strictly
    before each hour (hour t minus the last observed hour before t, or t when there is none).

    Vectorised: the last observed hour at or before t is the running maximum of `where(mask, t, -1)`;
    shifted one hour later it is the last one *before* t.
    """
    m = np.asarray(mask, dtype=bool)
    if m.ndim != 3:
        raise ValueError(f"mask must be (n, steps, variables), got shape {m.shape}")
    steps = np.arange(m.shape[1], dtype=np.int32)[None, :, None]
    last = np.maximum.accumulate(np.where(m, steps, -1), axis=1)
    before = np.concatenate([np.full_like(last[:, :1], -1), last[:, :-1]], axis=1)
    return (steps - np.maximum(before, 0)).astype(np.float32)


@dataclass
class TimePreprocessorState(Record):
    """The fitted state: variables, hours, per-variable mean and standard deviation of the observed
    training values, clip, and the descriptors' scaler (None when the stays have none)."""

    variables: list[str]
    n_steps: int
    means: np.ndarray
    stds: np.ndarray
    clip: float
    static: StaticScaler | None = None
    kind: Literal["TimePreprocessor"] = "TimePreprocessor"

    def validate(self) -> None:
        """One finite mean and one positive finite standard deviation per distinct variable."""
        n = len(self.variables)
        if n == 0 or len(set(self.variables)) != n or self.n_steps < 1:
            raise ValueError(f"need distinct variables and n_steps >= 1, got {self.variables} and {self.n_steps}")
        if self.means.shape != (n,) or self.stds.shape != (n,):
            raise ValueError(f"means and stds need one value per variable ({n})")
        if not (np.isfinite(self.means).all() and np.isfinite(self.stds).all() and (self.stds > 0).all()):
            raise ValueError("means must be finite and stds positive and finite")
        if not (np.isfinite(self.clip) and self.clip > 0):
            raise ValueError(f"clip must be positive and finite, got {self.clip}")


def _checked(episodes: EpisodeSet) -> tuple[np.ndarray, np.ndarray]:
    """`(values, mask)` of the episodes after checking shapes and that observed cells are finite."""
    values, mask = np.asarray(episodes.values), np.asarray(episodes.mask)
    if values.ndim != 3 or mask.shape != values.shape or mask.dtype != np.bool_:
        raise ValueError(f"episodes need values (n, steps, variables) and a bool mask of that shape, "
                         f"got {values.shape} and {mask.dtype} {mask.shape}")
    bad = mask & ~np.isfinite(values)
    if bad.any():
        i, t, f = np.argwhere(bad)[0]
        raise ValueError(f"episode {i}, step {t}, variable {f}: marked observed but value is {values[i, t, f]}")
    return values, mask


class TimePreprocessor:
    """Fit on the training stays only; transform any stays into the arrays of the module docstring."""

    def __init__(self, state: TimePreprocessorState) -> None:
        self.state = state

    @classmethod
    def fit(cls, episodes: EpisodeSet, clip: float = 10.0) -> "TimePreprocessor":
        """Means and standard deviations of each variable's observed training values (a variable never
        observed gets 0 and 1; a constant one standard deviation 1) and the descriptors' scaler."""
        values, mask = _checked(episodes)
        if values.shape[0] == 0:
            raise ValueError("cannot fit the time preprocessor on an empty episode set")
        obs = np.where(mask, values, 0.0).astype(np.float64)
        count = mask.sum(axis=(0, 1))
        means = obs.sum(axis=(0, 1)) / np.maximum(count, 1)
        var = (np.where(mask, values - means, 0.0) ** 2).sum(axis=(0, 1)) / np.maximum(count, 1)
        stds = np.sqrt(var)
        stds = np.where(stds > 1e-12, stds, 1.0)
        static = (StaticScaler.fit(episodes.static, list(episodes.static_names))
                  if episodes.static is not None else None)
        return cls(TimePreprocessorState(variables=[str(v) for v in episodes.variables], n_steps=values.shape[1],
                                         means=means, stds=stds, clip=float(clip), static=static))

    @property
    def n_variables(self) -> int:
        """D, the number of time-series variables."""
        return len(self.state.variables)

    @property
    def n_static(self) -> int:
        """S, the number of static descriptors (0 when fitted on stays without any)."""
        return len(self.state.static.names) if self.state.static is not None else 0

    def transform(self, episodes: EpisodeSet) -> Arrays:
        """The model inputs of `episodes`: float32 arrays "values", "mask", "delta" and "static"."""
        s = self.state
        values, mask = _checked(episodes)
        if list(episodes.variables) != s.variables or values.shape[1] != s.n_steps:
            raise ValueError(f"episodes have variables {list(episodes.variables)} over {values.shape[1]} hours; "
                             f"the preprocessor was fitted on {s.variables} over {s.n_steps}")
        z = (forward_fill(values, mask) - s.means.astype(np.float32)) / s.stds.astype(np.float32)
        z = np.clip(np.nan_to_num(z, nan=0.0), -s.clip, s.clip).astype(np.float32)
        if s.static is not None:
            static = s.static.steps(episodes, 1, s.clip)[:, 0, :]
        else:
            static = np.zeros((values.shape[0], 0), dtype=np.float32)
        return {"values": z, "mask": mask.astype(np.float32), "delta": hours_since_observed(mask), "static": static}

    def save(self, path) -> object:
        """Write the fitted state as JSON (atomically)."""
        return self.state.save(path)

    @classmethod
    def load(cls, path) -> "TimePreprocessor":
        """Read and validate a state written by `save` (errors name the file and field)."""
        return cls(TimePreprocessorState.load(path))


def lstm_tensor(arrays: Arrays, inputs: TimeInputs) -> np.ndarray:
    """One (n, T, F) float32 tensor for a single-input network: the values, then (as chosen) the masks,
    the hours since observed divided by the number of hours (so in [0, 1)), and the descriptors
    repeated at every hour."""
    values = arrays["values"]
    n, steps, _ = values.shape
    parts = [values]
    if inputs.mask:
        parts.append(arrays["mask"])
    if inputs.delta:
        parts.append(arrays["delta"] / np.float32(steps))
    if inputs.descriptors and arrays["static"].shape[1]:
        parts.append(np.repeat(arrays["static"][:, None, :], steps, axis=1))
    return np.concatenate(parts, axis=2).astype(np.float32, copy=False)
