"""`EpisodeSet`: the one type for an ICU split, hourly-binned episodes as numpy arrays.

Made by `ehrlib.icu.reader.read_split` (or its cache) and used by the preprocessing, the models, the
baselines and the plots; everything that needs an ICU split imports it from here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

__all__ = ["EpisodeSet"]


@dataclass(eq=False)
class EpisodeSet:
    """Hourly-binned ICU episodes of one split (or several, after `concat`).

    `values[i, t, f]` is the last value of variable `variables[f]` observed in hour `t` of episode
    `stays[i]` (NaN if none), `mask[i, t, f]` is True exactly where one was observed, `y` the 0/1
    in-hospital-mortality label, and `true_risk` the generator's latent risk from
    `ground_truth.csv` (None when the split has none; never use it as a feature). `cleaning` counts,
    per variable, the charted values removed as outliers and clipped to valid bounds when the split
    was read with the "clean" range policy (`ehrlib.icu.ranges`; empty otherwise), for reporting.
    `static[i, k]` is episode i's static descriptor `static_names[k]` (float32, NaN = unknown; for
    example age or sex from PhysioNet 2012), or `static` is None when the source has none (the
    benchmark reader).
    """

    values: np.ndarray
    mask: np.ndarray
    y: np.ndarray
    stays: np.ndarray
    variables: list[str]
    true_risk: np.ndarray | None
    split: str
    cleaning: dict[str, dict[str, int]] = field(default_factory=dict)
    static: np.ndarray | None = None
    static_names: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        """Check that the arrays agree in shape and carry the documented dtypes."""
        self.values = np.asarray(self.values, dtype=np.float32)
        self.mask = np.asarray(self.mask, dtype=bool)
        self.y = np.asarray(self.y, dtype=np.int8)
        self.stays = np.asarray(self.stays, dtype=str)
        self.variables = [str(v) for v in self.variables]
        n = len(self.stays)
        if self.values.ndim != 3 or self.values.shape != self.mask.shape:
            raise ValueError(f"values {self.values.shape} and mask {self.mask.shape} must be equal 3-D shapes")
        if self.values.shape[0] != n or self.y.shape != (n,) or self.values.shape[2] != len(self.variables):
            raise ValueError(
                f"inconsistent EpisodeSet: values {self.values.shape}, y {self.y.shape}, "
                f"{n} stays, {len(self.variables)} variables")
        if self.true_risk is not None:
            self.true_risk = np.asarray(self.true_risk, dtype=np.float64)
            if self.true_risk.shape != (n,):
                raise ValueError(f"true_risk has shape {self.true_risk.shape}, expected ({n},)")
        self._check_static(n)

    def _check_static(self, n: int) -> None:
        """Check `static` (float32, one row per episode, one column per name) against `static_names`."""
        self.static_names = [str(v) for v in self.static_names]
        if self.static is None:
            if self.static_names:
                raise ValueError(f"static_names {self.static_names} given without static values")
            return
        self.static = np.asarray(self.static, dtype=np.float32)
        if self.static.shape != (n, len(self.static_names)):
            raise ValueError(f"static has shape {self.static.shape}, expected ({n}, {len(self.static_names)}) "
                             f"for {n} stays and static_names {self.static_names}")
        if len(set(self.static_names)) != len(self.static_names):
            raise ValueError(f"static_names {self.static_names} are not unique")

    def __len__(self) -> int:
        """Number of episodes."""
        return len(self.stays)

    @property
    def n_hours(self) -> int:
        """Number of hourly bins (the window length)."""
        return int(self.values.shape[1])

    @property
    def subject_ids(self) -> np.ndarray:
        """Patient ids (int64) parsed from the stay names' `{SUBJECT_ID}_episode` prefix."""
        out = np.empty(len(self.stays), dtype=np.int64)
        for i, stay in enumerate(self.stays.tolist()):
            head, sep, _ = stay.partition("_episode")
            if not sep or not head.isdigit():
                raise ValueError(f"stay {stay!r} does not start with '{{SUBJECT_ID}}_episode'")
            out[i] = int(head)
        return out

    def take(self, idx: np.ndarray | Sequence[int] | slice) -> "EpisodeSet":
        """Return the episodes selected by integer indices, a boolean mask or a slice (copied)."""
        if not isinstance(idx, slice):
            idx = np.asarray(idx)
            if idx.dtype == bool:
                if idx.shape != (len(self),):
                    raise ValueError(f"boolean index of shape {idx.shape} for {len(self)} episodes")
            elif idx.size == 0:
                idx = idx.astype(np.intp)
            elif not np.issubdtype(idx.dtype, np.integer):
                raise TypeError(f"index must be integers or booleans, not {idx.dtype}")
        return EpisodeSet(
            values=self.values[idx].copy(), mask=self.mask[idx].copy(), y=self.y[idx].copy(),
            stays=self.stays[idx].copy(), variables=list(self.variables),
            true_risk=None if self.true_risk is None else self.true_risk[idx].copy(), split=self.split,
            cleaning={k: dict(v) for k, v in self.cleaning.items()},
            static=None if self.static is None else self.static[idx].copy(), static_names=list(self.static_names))

    @staticmethod
    def concat(sets: Sequence["EpisodeSet"]) -> "EpisodeSet":
        """Stack episode sets with the same variables and window; `true_risk` is kept if all have it,
        cleaning counts are added; `static` is stacked when all have it with the same names (none may
        have it otherwise).

        The result's `split` is the common split name, or the distinct names joined by "+".
        """
        sets = list(sets)
        if not sets:
            raise ValueError("EpisodeSet.concat needs at least one EpisodeSet")
        first = sets[0]
        for s in sets[1:]:
            if s.variables != first.variables:
                raise ValueError(f"cannot concat: variables differ ({first.variables} vs {s.variables})")
            if s.n_hours != first.n_hours:
                raise ValueError(f"cannot concat: {first.n_hours} vs {s.n_hours} hourly bins")
        names = list(dict.fromkeys(s.split for s in sets))
        risks = [s.true_risk for s in sets]
        static = _concat_static(sets)
        return EpisodeSet(
            values=np.concatenate([s.values for s in sets]), mask=np.concatenate([s.mask for s in sets]),
            y=np.concatenate([s.y for s in sets]), stays=np.concatenate([s.stays for s in sets]),
            variables=list(first.variables),
            true_risk=None if any(r is None for r in risks) else np.concatenate(risks),
            split="+".join(names), cleaning=_sum_counts([s.cleaning for s in sets]),
            static=static, static_names=list(first.static_names))


def _concat_static(sets: Sequence[EpisodeSet]) -> np.ndarray | None:
    """Stack the sets' static descriptors: all or none must have them, with the same names."""
    have = [s.static is not None for s in sets]
    if not any(have):
        return None
    if not all(have):
        raise ValueError(f"cannot concat: static descriptors in {sum(have)} of {len(sets)} episode sets "
                         "(all or none must have them)")
    for s in sets[1:]:
        if s.static_names != sets[0].static_names:
            raise ValueError(f"cannot concat: static names differ ({sets[0].static_names} vs {s.static_names})")
    return np.concatenate([s.static for s in sets])


def _sum_counts(tables: Sequence[dict[str, dict[str, int]]]) -> dict[str, dict[str, int]]:
    """Add per-variable cleaning counts of several splits."""
    out: dict[str, dict[str, int]] = {}
    for table in tables:
        for var, counts in table.items():
            for k, n in counts.items():
                out.setdefault(var, {}).setdefault(k, 0)
                out[var][k] += int(n)
    return out
