"""Baselines for in-hospital mortality: the benchmark's logistic regression, boosted trees, NEWS2.

What a user would pick instead of the LSTM:

- **Logistic regression on sub-window statistics**, as the MIMIC-III benchmark (Harutyunyan et al.
  2019) builds it: 6 statistics (min, max, mean, std, skew, count) of every variable over 7
  sub-windows of the 48 h (full, first 10/25/50 %, last 10/25/50 %), mean-imputed and standardised
  with statistics of the training split, then L2 logistic regression with C = 0.001.
  Sub-window lengths in hourly steps are ``ceil(48 * fraction)`` (5, 12 and 24 steps). Statistics
  follow numpy/scipy conventions: population std (ddof 0), biased skewness (`scipy.stats.skew`),
  both 0 for a constant series; min/max/mean/std/skew are NaN for an empty window, count is 0.
- **Gradient-boosted trees** (scikit-learn `HistGradientBoostingClassifier`) on the same
  statistics, un-imputed (the trees route missing values themselves). scikit-learn offers no JSON
  form for a fitted tree ensemble and the project never pickles, so this model is *not saved*: it is
  retrained from its seed whenever needed (deterministic for a fixed seed).
- **Missingness only**: the same L2 logistic regression on observation counts per variable (last
  48, 24 and 12 h) and nothing measured: how much of the signal is the care process (who gets
  charted, how often) rather than the physiology.

Where the episodes carry static descriptors (`EpisodeSet.static`: age, sex, height, weight, ICU type
in the PhysioNet 2012 data), the regression and the trees also get them as columns after the
statistics (`episode_features`; the regression mean-imputes and standardises them like the rest). The
missingness-only regression never sees them.

The NEWS2-style score lives in `ehrlib.mortality.news2`; fitting, calibrating and scoring all of them
under the evaluation protocol is `ehrlib.mortality.pipelines.run_baselines`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from threadpoolctl import threadpool_limits

from ehrlib.icu.episodes import EpisodeSet as Episodes
from ehrlib.records import JsonFile, Record
from ehrlib.logs import get_logger
from ehrlib.mortality.hourly import observation_counts

_log = get_logger(__name__)

STATISTICS = ("min", "max", "mean", "std", "skew", "count")
WINDOWS: tuple[tuple[str, str, float], ...] = (
    ("full", "first", 1.0),
    ("first10", "first", 0.10),
    ("first25", "first", 0.25),
    ("first50", "first", 0.50),
    ("last10", "last", 0.10),
    ("last25", "last", 0.25),
    ("last50", "last", 0.50),
)


# ---------------------------------------------------------------- sub-window statistics


def window_slices(n_steps: int = 48) -> dict[str, slice]:
    """The seven benchmark sub-windows as slices of the time axis (``ceil(n_steps * fraction)`` steps)."""
    out = {}
    for name, side, frac in WINDOWS:
        k = max(1, math.ceil(n_steps * frac - 1e-9))
        out[name] = slice(0, k) if side == "first" else slice(n_steps - k, n_steps)
    return out


def _window_stats(x: np.ndarray) -> np.ndarray:
    """The 6 statistics over axis 1 of `x` (n, w, F) with NaN = missing; returns (n, 6, F) float64."""
    x = x.astype(np.float64)
    obs = np.isfinite(x)
    cnt = obs.sum(axis=1)
    has = cnt > 0
    safe_cnt = np.maximum(cnt, 1)
    mean = np.where(obs, x, 0.0).sum(axis=1) / safe_cnt
    d = np.where(obs, x - mean[:, None, :], 0.0)
    m2 = (d**2).sum(axis=1) / safe_cnt
    m3 = (d**3).sum(axis=1) / safe_cnt
    tol = (1e-10 * np.maximum(np.abs(mean), 1.0)) ** 2
    flat = m2 <= tol  # constant series: std and skew are exactly 0
    std = np.where(flat, 0.0, np.sqrt(m2))
    with np.errstate(invalid="ignore", divide="ignore"):
        skew = np.where(flat, 0.0, m3 / np.where(flat, 1.0, m2) ** 1.5)
    vmin = np.where(obs, x, np.inf).min(axis=1)
    vmax = np.where(obs, x, -np.inf).max(axis=1)
    stats = np.stack([vmin, vmax, mean, std, skew], axis=1)
    stats[np.broadcast_to(~has[:, None, :], stats.shape)] = np.nan
    return np.concatenate([stats, cnt[:, None, :].astype(np.float64)], axis=1)


def subwindow_features(values: np.ndarray, chunk: int = 4096) -> np.ndarray:
    """Benchmark features from hourly values (n, steps, F), NaN = unobserved: (n, 7 * 6 * F) float32.

    Column order: window (as in `WINDOWS`), then statistic (as in `STATISTICS`), then variable; see
    `feature_names`. Episodes are processed in chunks of `chunk` to bound memory.
    """
    values = np.asarray(values)
    if values.ndim != 3:
        raise ValueError(f"values must be (episodes, steps, variables), got shape {values.shape}")
    n, steps, f = values.shape
    slices = window_slices(steps)
    out = np.empty((n, len(slices), len(STATISTICS), f), dtype=np.float32)
    for start in range(0, n, chunk):
        part = values[start:start + chunk]
        for w, sl in enumerate(slices.values()):
            out[start:start + chunk, w] = _window_stats(part[:, sl, :])
    return out.reshape(n, -1)


def episode_features(episodes: Episodes) -> np.ndarray:
    """The sub-window statistics, then the episode's static descriptors (age, sex, ...) when it has
    them (`EpisodeSet.static`, NaN = unknown): (n, 7 * 6 * F + k) float32."""
    x = subwindow_features(episodes.values)
    if episodes.static is None:
        return x
    return np.concatenate([x, np.asarray(episodes.static, dtype=np.float32)], axis=1)


def feature_names(variables: list[str]) -> list[str]:
    """Names ``"<variable>|<window>|<statistic>"`` in the column order of `subwindow_features`."""
    return [f"{v}|{w}|{s}" for w, _, _ in WINDOWS for s in STATISTICS for v in variables]


# ---------------------------------------------------------------- imputer + scaler


@dataclass
class FeatureStandardiser:
    """Mean imputation then standardisation, fitted on the training split only (JSON state).

    Columns never observed in training impute to 0; columns with zero training variance get scale 1.
    """

    mean: np.ndarray | None = None
    scale: np.ndarray | None = None

    def fit(self, X: np.ndarray) -> "FeatureStandardiser":
        """Learn column means (ignoring NaN) and the standard deviation of the mean-imputed columns."""
        X = np.asarray(X, dtype=np.float64)
        seen = np.isfinite(X).any(axis=0)
        mean = np.zeros(X.shape[1])
        mean[seen] = np.nanmean(X[:, seen], axis=0)
        filled = np.where(np.isfinite(X), X, mean)
        scale = filled.std(axis=0)
        self.mean, self.scale = mean, np.where(scale > 0, scale, 1.0)
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        """Impute with the training means and standardise (float64)."""
        if self.mean is None or self.scale is None:
            raise RuntimeError("FeatureStandardiser is not fitted")
        X = np.asarray(X, dtype=np.float64)
        if X.shape[1] != self.mean.size:
            raise ValueError(f"expected {self.mean.size} feature columns, got {X.shape[1]}")
        return (np.where(np.isfinite(X), X, self.mean) - self.mean) / self.scale

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready state (a `StandardiserState`)."""
        if self.mean is None or self.scale is None:
            raise RuntimeError("FeatureStandardiser is not fitted")
        return StandardiserState(mean=self.mean, scale=self.scale).to_dict()

    @classmethod
    def from_dict(cls, d: Any, where: str = "") -> "FeatureStandardiser":
        """Rebuild from `to_dict` output, checked (`StandardiserState`)."""
        st = StandardiserState.from_dict(d, where=where)
        return cls(mean=st.mean, scale=st.scale)


@dataclass
class StandardiserState(Record):
    """Saved `FeatureStandardiser`: finite column means and positive finite scales, one per column."""

    mean: np.ndarray
    scale: np.ndarray

    def validate(self) -> None:
        if self.mean.shape != self.scale.shape or self.mean.size == 0:
            raise ValueError(f"mean ({self.mean.size}) and scale ({self.scale.size}) must be equal, non-empty")
        if not np.isfinite(self.mean).all():
            raise ValueError(f"mean of column {int(np.flatnonzero(~np.isfinite(self.mean))[0])} is not finite")
        bad = np.flatnonzero(~(np.isfinite(self.scale) & (self.scale > 0)))
        if bad.size:
            raise ValueError(f"scale of column {int(bad[0])} is {self.scale[bad[0]]}; must be positive and finite")


# ---------------------------------------------------------------- logistic regression


@dataclass
class LogisticBaseline(JsonFile):
    """The MIMIC-III benchmark's logistic regression: sub-window features, mean-impute, standardise,
    L2 with C = 0.001. Fitted state (variables, scaler, coefficients) round-trips through JSON."""

    C: float = 0.001
    max_iter: int = 2000
    variables: list[str] = field(default_factory=list)
    standardiser: FeatureStandardiser = field(default_factory=FeatureStandardiser)
    model: LogisticRegression | None = field(default=None, repr=False)

    def _features(self, episodes: Episodes) -> np.ndarray:
        if self.variables and list(episodes.variables) != self.variables:
            raise ValueError(f"variables differ from the fitted ones: {list(episodes.variables)} vs {self.variables}")
        return episode_features(episodes)

    def fit(self, train: Episodes) -> "LogisticBaseline":
        """Fit scaler and regression on the training episodes only."""
        self.variables = list(train.variables)
        raw = self._features(train)
        X = self.standardiser.fit(raw).transform(raw)
        self.model = LogisticRegression(C=self.C, max_iter=self.max_iter).fit(X, np.asarray(train.y).astype(int))
        return self

    def predict_proba(self, episodes: Episodes) -> np.ndarray:
        """Predicted probability of death for each episode."""
        if self.model is None:
            raise RuntimeError("LogisticBaseline is not fitted")
        return self.model.predict_proba(self.standardiser.transform(self._features(episodes)))[:, 1]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready state (a `LogisticState`)."""
        if self.model is None:
            raise RuntimeError("LogisticBaseline is not fitted")
        return LogisticState(C=self.C, variables=list(self.variables),
                             standardiser=StandardiserState.from_dict(self.standardiser.to_dict()),
                             coef=self.model.coef_[0], intercept=float(self.model.intercept_[0])).to_dict()

    @classmethod
    def from_dict(cls, d: Any, where: str = "") -> "LogisticBaseline":
        """Rebuild a fitted baseline (a scikit-learn LogisticRegression with the stored coefficients),
        checking the state first (`LogisticState`)."""
        st = LogisticState.from_dict(d, where=where)
        lr = LogisticRegression(C=st.C)
        lr.coef_ = st.coef[None, :]
        lr.intercept_ = np.array([st.intercept], dtype=np.float64)
        lr.classes_ = np.array([0, 1])
        lr.n_features_in_ = lr.coef_.shape[1]
        return cls(C=st.C, variables=list(st.variables),
                   standardiser=FeatureStandardiser(mean=st.standardiser.mean, scale=st.standardiser.scale), model=lr)


@dataclass
class LogisticState(Record):
    """Saved `LogisticBaseline`: C > 0, the variables, the standardiser and one finite coefficient per
    standardised column."""

    C: float
    variables: list[str]
    standardiser: StandardiserState
    coef: np.ndarray
    intercept: float
    kind: Literal["logistic_subwindow"] = "logistic_subwindow"

    def validate(self) -> None:
        if not (np.isfinite(self.C) and self.C > 0):
            raise ValueError(f"C must be positive and finite, got {self.C}")
        if self.coef.size != self.standardiser.mean.size:
            raise ValueError(f"{self.coef.size} coefficients for {self.standardiser.mean.size} standardised columns")
        if not (np.isfinite(self.coef).all() and np.isfinite(self.intercept)):
            raise ValueError("coefficients and intercept must be finite")
        if self.variables and self.coef.size % len(self.variables):
            raise ValueError(f"{self.coef.size} coefficients do not divide among {len(self.variables)} variables")


# ---------------------------------------------------------------- gradient-boosted trees


@dataclass
class GbtBaseline:
    """Histogram gradient-boosted trees on the (un-imputed) sub-window statistics.

    Not serialisable to JSON: retrain from `seed` instead of saving (the fit is deterministic).
    Features observed in fewer than `min_observed` training episodes are dropped before fitting
    (scikit-learn's binning fails on a column with no value at all, which happens with sparse
    variables such as the real benchmark's capillary refill rate; the synthetic data have none).
    OpenMP threads are capped at `n_threads` (default 1): on the small shared build machine, OpenMP
    threads spin-waiting for busy cores made the fit 4-7 times slower than a single thread.
    """

    seed: int = 0
    n_threads: int = 1
    max_iter: int = 300
    learning_rate: float = 0.05
    max_leaf_nodes: int = 15
    min_observed: int = 10
    model: HistGradientBoostingClassifier | None = field(default=None, repr=False)
    columns: np.ndarray | None = field(default=None, repr=False)

    def fit(self, train: Episodes) -> "GbtBaseline":
        """Fit on the training episodes (internal early stopping on 10 % of train, seeded)."""
        model = HistGradientBoostingClassifier(
            max_iter=self.max_iter, learning_rate=self.learning_rate, max_leaf_nodes=self.max_leaf_nodes,
            early_stopping=True, validation_fraction=0.1, n_iter_no_change=20, random_state=self.seed)
        x = episode_features(train)
        self.columns = np.flatnonzero(np.isfinite(x).sum(axis=0) >= self.min_observed)
        with threadpool_limits(limits=self.n_threads, user_api="openmp"):
            self.model = model.fit(x[:, self.columns], np.asarray(train.y).astype(int))
        return self

    def predict_proba(self, episodes: Episodes) -> np.ndarray:
        """Predicted probability of death for each episode."""
        if self.model is None:
            raise RuntimeError("GbtBaseline is not fitted")
        with threadpool_limits(limits=self.n_threads, user_api="openmp"):
            return self.model.predict_proba(episode_features(episodes)[:, self.columns])[:, 1]


# ---------------------------------------------------------------- missingness only


@dataclass
class MissingnessBaseline:
    """L2 logistic regression (C = 0.001, as the benchmark's) on observation counts only
    (`hourly.observation_counts`), standardised with training statistics: no measured value enters."""

    C: float = 0.001
    max_iter: int = 2000
    standardiser: FeatureStandardiser = field(default_factory=FeatureStandardiser)
    model: LogisticRegression | None = field(default=None, repr=False)

    def fit(self, train: Episodes) -> "MissingnessBaseline":
        """Fit scaler and regression on the training episodes only."""
        x = self.standardiser.fit(observation_counts(train.mask)).transform(observation_counts(train.mask))
        self.model = LogisticRegression(C=self.C, max_iter=self.max_iter).fit(x, np.asarray(train.y).astype(int))
        return self

    def predict_proba(self, episodes: Episodes) -> np.ndarray:
        """Predicted probability of death from the observation counts alone."""
        if self.model is None:
            raise RuntimeError("MissingnessBaseline is not fitted")
        return self.model.predict_proba(self.standardiser.transform(observation_counts(episodes.mask)))[:, 1]
