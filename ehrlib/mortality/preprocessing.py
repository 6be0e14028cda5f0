"""Turn 48-hour episode tensors into model inputs: forward fill, training medians, standardise, mask.

`MortalityPreprocessor` is a fit/transform object whose fitted state is plain JSON. It is fitted on
the training split only; validation and test data are only ever transformed. The steps:

1. **Forward fill** each variable within each episode along the 48 hourly steps, using the explicit
   observation mask (an unobserved cell takes the last observed value of the same episode).
2. **Training medians** fill what is still missing (the leading gap before a variable's first
   observation, or a variable never measured in the episode).
3. **Standardise** with training means and standard deviations, then clip to `[-clip, clip]`.
4. Optionally **append the observation-mask indicators** (1 where the variable was measured at that
   step, else 0) as extra features, as the MIMIC-III benchmark does (`add_mask_features`, default on):
   the indicators tell the model which values are real and which were carried forward.
5. Where the episodes carry **static descriptors** (`EpisodeSet.static`: age, sex, ...), they are
   imputed with training medians, standardised with training means and standard deviations and
   appended to every step (the same value at every hour), after the mask indicators.
6. **Mask fully unobserved steps**: a step where no variable was measured is set to `mask_value` on
   every feature, so that `keras.layers.Masking(mask_value)` really skips it (the LSTM carries its
   state over the step). The public replication filled gaps with 0 *before* standardising, so no step
   was ever all-zero afterwards and its `Masking(0.0)` masked nothing.

Why the mask value cannot occur in a real input: standardised values are clipped to `[-clip, clip]`
(default 10 standard deviations, which leaves real values untouched in practice) and `mask_value`
(default -99) lies outside that interval; in addition, an observed step has at least one mask
indicator equal to 1, so with the indicators on it can never be all equal to `mask_value` anyway.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np

from ehrlib.icu.episodes import EpisodeSet
from ehrlib.records import JsonFile, Record
from ehrlib.mortality.hourly import forward_fill

STATE_VERSION = 1


@dataclass(frozen=True)
class PreprocessConfig:
    """Settings of `MortalityPreprocessor` (saved with its fitted state)."""

    add_mask_features: bool = True
    mask_value: float = -99.0
    clip: float = 10.0

    def __post_init__(self) -> None:
        if not (np.isfinite(self.clip) and self.clip > 0):
            raise ValueError(f"clip must be a positive finite number, got {self.clip}")
        if not np.isfinite(self.mask_value) or abs(self.mask_value) <= self.clip:
            raise ValueError(f"mask_value {self.mask_value} must be finite and outside [-clip, clip] = "
                             f"[{-self.clip}, {self.clip}] so that it cannot occur in a real input")


def _check_episodes(episodes: EpisodeSet, variables: list[str] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Return `(values, mask)` after checking shapes, dtypes and consistency; raise a clear error."""
    values = np.asarray(episodes.values)
    mask = np.asarray(episodes.mask)
    if values.ndim != 3:
        raise ValueError(f"episodes.values must be (n, steps, variables), got shape {values.shape}")
    if mask.shape != values.shape or mask.dtype != np.bool_:
        raise ValueError(f"episodes.mask must be bool with the shape of values {values.shape}, "
                         f"got {mask.dtype} {mask.shape}")
    bad = mask & ~np.isfinite(values)
    if bad.any():
        i, t, f = np.argwhere(bad)[0]
        raise ValueError(f"episode {i}, step {t}, variable {f}: marked observed but value is {values[i, t, f]}")
    if variables is not None and list(episodes.variables) != list(variables):
        raise ValueError(f"variables differ from those the preprocessor was fitted on: "
                         f"{list(episodes.variables)} != {list(variables)}")
    return values, mask


@dataclass
class StaticScaler(Record):
    """Static descriptors' training medians (imputation), means and standard deviations (fitted state)."""

    names: list[str]
    medians: np.ndarray
    means: np.ndarray
    stds: np.ndarray

    def validate(self) -> None:
        """One finite median and mean and a positive standard deviation per descriptor."""
        for arr in (self.medians, self.means, self.stds):
            if arr.shape != (len(self.names),) or not np.isfinite(arr).all():
                raise ValueError(f"static state needs one finite value per descriptor {self.names}")
        if (self.stds <= 0).any():
            raise ValueError("static standard deviations must be positive")

    @classmethod
    def fit(cls, static: np.ndarray, names: list[str]) -> "StaticScaler":
        """Fit on the TRAINING descriptors (n, k), NaN = unknown; a never-known column gets 0 / 0 / 1."""
        x = np.asarray(static, dtype=np.float64)
        known = np.isfinite(x).any(axis=0)
        medians = np.where(known, np.nanmedian(np.where(known, x, 0.0), axis=0), 0.0)
        filled = np.where(np.isfinite(x), x, medians)
        stds = filled.std(axis=0)
        return cls(names=list(names), medians=medians, means=filled.mean(axis=0), stds=np.where(stds > 1e-12, stds, 1.0))

    def steps(self, episodes: EpisodeSet, n_steps: int, clip: float) -> np.ndarray:
        """The standardised descriptors repeated over `n_steps` hours: (n, n_steps, k) float32."""
        if episodes.static is None or list(episodes.static_names) != self.names:
            raise ValueError(f"episodes lack the static descriptors {self.names} the preprocessor was fitted on")
        x = np.asarray(episodes.static, dtype=np.float64)
        z = np.clip((np.where(np.isfinite(x), x, self.medians) - self.means) / self.stds, -clip, clip)
        return np.repeat(z.astype(np.float32)[:, None, :], n_steps, axis=1)


class MortalityPreprocessor(JsonFile):
    """Forward fill, training-median imputation, standardisation and step masking (see module doc)."""

    def __init__(self, config: PreprocessConfig = PreprocessConfig()) -> None:
        self.config = config
        self.variables: list[str] | None = None
        self.n_steps: int | None = None
        self.medians: np.ndarray | None = None
        self.means: np.ndarray | None = None
        self.stds: np.ndarray | None = None
        self.never_observed: list[str] = []
        self.static: StaticScaler | None = None

    # ------------------------------------------------------------------ fitting
    @property
    def mask_value(self) -> float:
        """The value written on every feature of a fully unobserved step (see `PreprocessConfig`)."""
        return float(self.config.mask_value)

    @property
    def is_fitted(self) -> bool:
        """Whether `fit` (or `from_json`) has set the state."""
        return self.medians is not None

    @property
    def n_features(self) -> int:
        """Width D of the transformed tensor: variables, plus as many mask indicators if appended."""
        self._require_fitted()
        n = len(self.variables)
        n = 2 * n if self.config.add_mask_features else n
        return n + (len(self.static.names) if self.static is not None else 0)

    @property
    def feature_names(self) -> list[str]:
        """Names of the D transformed features (`<variable>` then `<variable> (observed)`)."""
        self._require_fitted()
        names = list(self.variables)
        if self.config.add_mask_features:
            names += [f"{v} (observed)" for v in self.variables]
        if self.static is not None:
            names += list(self.static.names)
        return names

    def fit(self, episodes: EpisodeSet) -> "MortalityPreprocessor":
        """Fit medians, means and standard deviations on the TRAINING episodes only; returns self.

        Medians come from the observed raw values. Means and standard deviations come from the
        imputed tensor over the steps the model actually sees (steps with at least one observation),
        so the model's inputs have mean 0 and standard deviation 1 per variable on the training set.
        A variable never observed in training gets median 0, mean 0, std 1 and is listed in
        `never_observed`; a constant variable gets std 1.
        """
        values, mask = _check_episodes(episodes)
        if values.shape[0] == 0:
            raise ValueError("cannot fit the preprocessor on an empty episode set")
        n_vars = values.shape[2]
        obs = np.where(mask, values, np.nan).reshape(-1, n_vars).astype(np.float64)
        seen = mask.reshape(-1, n_vars).any(axis=0)
        medians = np.zeros(n_vars)
        if seen.any():
            medians[seen] = np.nanmedian(obs[:, seen], axis=0)
        self.variables = [str(v) for v in episodes.variables]
        self.n_steps = int(values.shape[1])
        self.never_observed = [v for v, s in zip(self.variables, seen) if not s]
        self.medians = medians
        imputed = self._impute(values, mask)
        live = mask.any(axis=2)
        rows = imputed[live].astype(np.float64)
        if rows.shape[0] == 0:
            raise ValueError("no step of the training episodes has any observation")
        means = rows.mean(axis=0)
        stds = rows.std(axis=0)
        stds[~(stds > 1e-12)] = 1.0
        means[~seen] = 0.0
        self.means, self.stds = means, stds
        self.static = StaticScaler.fit(episodes.static, episodes.static_names) if episodes.static is not None else None
        return self

    def _impute(self, values: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Forward fill, then fill the remaining gaps with the training medians (float32)."""
        filled = forward_fill(values, mask)
        gaps = np.isnan(filled)
        if gaps.any():
            filled[gaps] = np.broadcast_to(self.medians.astype(np.float32), filled.shape)[gaps]
        return filled

    def _require_fitted(self) -> None:
        if not self.is_fitted:
            raise RuntimeError("MortalityPreprocessor is not fitted; call fit(train) or load a saved state")

    # ------------------------------------------------------------------ transforming
    def transform(self, episodes: EpisodeSet) -> np.ndarray:
        """Return the float32 model input (n, steps, D); fully unobserved steps hold `mask_value`."""
        self._require_fitted()
        values, mask = _check_episodes(episodes, self.variables)
        if values.shape[1] != self.n_steps:
            raise ValueError(f"episodes have {values.shape[1]} steps, the preprocessor was fitted on {self.n_steps}")
        x = self._impute(values, mask)
        x -= self.means.astype(np.float32)
        x /= self.stds.astype(np.float32)
        np.clip(x, -self.config.clip, self.config.clip, out=x)
        if self.config.add_mask_features:
            x = np.concatenate([x, mask.astype(np.float32)], axis=2)
        if self.static is not None:
            x = np.concatenate([x, self.static.steps(episodes, x.shape[1], self.config.clip)], axis=2)
        x[~mask.any(axis=2)] = np.float32(self.config.mask_value)
        return x

    def fit_transform(self, episodes: EpisodeSet) -> np.ndarray:
        """`fit(episodes)` then `transform(episodes)`."""
        return self.fit(episodes).transform(episodes)

    @staticmethod
    def masked_steps(episodes: EpisodeSet) -> np.ndarray:
        """Bool (n, steps): True where no variable was observed (the steps the LSTM skips)."""
        return ~np.asarray(episodes.mask).any(axis=2)

    # ------------------------------------------------------------------ JSON state
    def to_dict(self) -> dict[str, Any]:
        """The fitted state as JSON-ready values (a `PreprocessorState`, floats at full precision)."""
        self._require_fitted()
        return PreprocessorState(
            config=PreprocessConfigRecord(**asdict(self.config)), variables=list(self.variables),
            n_steps=int(self.n_steps), medians=np.asarray(self.medians, dtype=np.float64),
            means=np.asarray(self.means, dtype=np.float64), stds=np.asarray(self.stds, dtype=np.float64),
            never_observed=list(self.never_observed), static=self.static).to_dict()

    @classmethod
    def from_dict(cls, d: Any, where: str = "") -> "MortalityPreprocessor":
        """Rebuild a fitted preprocessor from `to_dict()` output, checking every field's type and value
        (`RecordError`, a `ValueError`, naming `where`, the field and the problem)."""
        state = PreprocessorState.from_dict(d, where=where)
        obj = cls(PreprocessConfig(**asdict(state.config)))
        obj.variables, obj.n_steps = list(state.variables), state.n_steps
        obj.medians, obj.means, obj.stds = state.medians, state.means, state.stds
        obj.never_observed = list(state.never_observed)
        obj.static = state.static
        return obj

    to_json = to_dict  # aliases kept for callers written before the Record convention
    from_json = from_dict


@dataclass
class PreprocessConfigRecord(Record):
    """`PreprocessConfig` as saved (checked by `PreprocessConfig` itself on load)."""

    add_mask_features: bool
    mask_value: float
    clip: float

    def validate(self) -> None:
        PreprocessConfig(**asdict(self))


@dataclass
class PreprocessorState(Record):
    """The saved state of a fitted `MortalityPreprocessor` (JSON), checked when loaded: one finite
    median and mean and one positive finite standard deviation per variable, distinct names."""

    config: PreprocessConfigRecord
    variables: list[str]
    n_steps: int
    medians: np.ndarray
    means: np.ndarray
    stds: np.ndarray
    never_observed: list[str]
    static: StaticScaler | None = None
    kind: Literal["MortalityPreprocessor"] = "MortalityPreprocessor"
    version: Literal[1] = STATE_VERSION

    def validate(self) -> None:
        n = len(self.variables)
        if n == 0 or len(set(self.variables)) != n:
            raise ValueError(f"variables must be distinct names, at least one, got {self.variables}")
        if self.n_steps < 1:
            raise ValueError(f"n_steps must be positive, got {self.n_steps}")
        for name in ("medians", "means", "stds"):
            arr = getattr(self, name)
            if arr.shape != (n,):
                raise ValueError(f"{name} has {arr.size} values for {n} variables")
            bad = np.flatnonzero(~np.isfinite(arr) | ((arr <= 0) if name == "stds" else False))
            if bad.size:
                rule = "positive and finite" if name == "stds" else "finite"
                raise ValueError(f"{name} of {self.variables[bad[0]]!r} is {arr[bad[0]]}; must be {rule}")
        unknown = sorted(set(self.never_observed) - set(self.variables))
        if unknown:
            raise ValueError(f"never_observed lists unknown variables {unknown}")
