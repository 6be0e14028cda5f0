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
- **A NEWS2-style early-warning score** (Royal College of Physicians 2017) from the five vitals the
  data hold: respiration rate, SpO2 (scale 1), systolic blood pressure, pulse and temperature.
  Adaptations, since the synthetic data have no consciousness (ACVPU) or supplemental-oxygen fields:
  both score 0 (alert, on air). On data holding the Glasgow coma scale total (the real MIMIC-III
  benchmark), a carried-forward GCS below 15 counts as "not alert" and adds 3 points (see
  `NEWS2_GCS_VARIABLE`); supplemental oxygen still scores 0. Temperature is in Celsius (as in the
  benchmark files). Each hour every vital carries its last observed value forward; a vital not
  yet observed scores 0 (assumed normal). The hourly total is the sum of the component scores
  and the episode's score is its worst (maximum) hourly total over the last `window_hours` of the
  48 h. The integer score ranks risk directly; mapped through an isotonic calibrator fitted on
  validation it also gives probabilities.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol, Sequence

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from threadpoolctl import threadpool_limits

from ehrlib.evaluation.calibration import CalibratorState, IsotonicCalibrator
from ehrlib.io import Record, read_json, write_json
from ehrlib.logs import get_logger
from ehrlib.mortality.preprocessing import forward_fill

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


class Episodes(Protocol):
    """What the baselines need from `ehrlib.icu.reader.EpisodeSet`."""

    values: np.ndarray  # float32 (n, steps, F), NaN where unobserved
    mask: np.ndarray  # bool (n, steps, F)
    y: np.ndarray
    variables: list[str]


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
class LogisticBaseline:
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
        return subwindow_features(episodes.values)

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

    def save(self, path: str | os.PathLike) -> Path:
        """Write the state as JSON (atomically)."""
        return write_json(path, self.to_dict())

    @classmethod
    def load(cls, path: str | os.PathLike) -> "LogisticBaseline":
        """Read a baseline written by `save`; errors name the file, the field and the problem."""
        return cls.from_dict(read_json(path), where=str(path))


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
        x = subwindow_features(train.values)
        self.columns = np.flatnonzero(np.isfinite(x).sum(axis=0) >= self.min_observed)
        with threadpool_limits(limits=self.n_threads, user_api="openmp"):
            self.model = model.fit(x[:, self.columns], np.asarray(train.y).astype(int))
        return self

    def predict_proba(self, episodes: Episodes) -> np.ndarray:
        """Predicted probability of death for each episode."""
        if self.model is None:
            raise RuntimeError("GbtBaseline is not fitted")
        with threadpool_limits(limits=self.n_threads, user_api="openmp"):
            return self.model.predict_proba(subwindow_features(episodes.values)[:, self.columns])[:, 1]


# ---------------------------------------------------------------- NEWS2-style score

# NEWS2 (RCP 2017) parameter tables: inclusive upper edges and the points of each band.
NEWS2_TABLE: dict[str, tuple[tuple[float, ...], tuple[int, ...]]] = {
    "Respiratory rate": ((8, 11, 20, 24), (3, 1, 0, 2, 3)),
    "Oxygen saturation": ((91, 93, 95), (3, 2, 1, 0)),
    "Systolic blood pressure": ((90, 100, 110, 219), (3, 2, 1, 0, 3)),
    "Heart Rate": ((40, 50, 90, 110, 130), (3, 1, 0, 1, 2, 3)),
    "Temperature": ((35.0, 36.0, 38.0, 39.0), (3, 1, 0, 1, 2)),
}


#: NEWS2's consciousness item (ACVPU) adapted to the real MIMIC-III benchmark's Glasgow coma scale: an
#: hour whose last charted GCS total is below 15 counts as "not alert" and scores 3, as new confusion,
#: voice, pain or unresponsive do in NEWS2. Used only when the data hold this variable (the synthetic
#: data do not). Sedated, intubated ICU patients often chart GCS < 15, so this is an approximation.
NEWS2_GCS_VARIABLE = "Glascow coma scale total"
NEWS2_GCS_POINTS = 3


def news2_uses_consciousness(variables: Sequence[str]) -> bool:
    """Whether `news2_hourly` scores consciousness for data with these variables (GCS total present)."""
    return NEWS2_GCS_VARIABLE in list(variables)


def news2_component(variable: str, values: np.ndarray) -> np.ndarray:
    """NEWS2 points of one vital for an array of values; NaN (not yet observed) scores 0."""
    edges, points = NEWS2_TABLE[variable]
    v = np.asarray(values, dtype=np.float64)
    pts = np.asarray(points, dtype=np.int8)[np.searchsorted(np.asarray(edges, dtype=np.float64), v, side="left")]
    return np.where(np.isfinite(v), pts, 0).astype(np.int8)


def news2_hourly(episodes: Episodes) -> np.ndarray:
    """Hourly NEWS2-style totals (n, steps) int: last observation carried forward, unseen vitals 0.

    When the data hold the Glasgow coma scale total (`NEWS2_GCS_VARIABLE`, as the real benchmark
    does), an hour with a carried-forward GCS below 15 adds `NEWS2_GCS_POINTS` for consciousness.
    """
    missing = [v for v in NEWS2_TABLE if v not in episodes.variables]
    if missing:
        raise ValueError(f"NEWS2 needs the vitals {missing}, absent from {list(episodes.variables)}")
    names = list(NEWS2_TABLE) + ([NEWS2_GCS_VARIABLE] if news2_uses_consciousness(episodes.variables) else [])
    cols = [list(episodes.variables).index(v) for v in names]
    filled = forward_fill(np.asarray(episodes.values)[:, :, cols], np.asarray(episodes.mask)[:, :, cols])
    total = np.zeros(filled.shape[:2], dtype=np.int16)
    for j, var in enumerate(NEWS2_TABLE):
        total += news2_component(var, filled[:, :, j])
    if len(names) > len(NEWS2_TABLE):
        gcs = filled[:, :, -1]
        total += np.where(np.isfinite(gcs) & (gcs < 15), NEWS2_GCS_POINTS, 0).astype(np.int16)
    return total


def news2_score(episodes: Episodes, window_hours: int = 48) -> np.ndarray:
    """Episode NEWS2-style score: the worst hourly total over the last `window_hours` steps (float64)."""
    hourly = news2_hourly(episodes)
    if not 1 <= window_hours <= hourly.shape[1]:
        raise ValueError(f"window_hours must be in 1..{hourly.shape[1]}, got {window_hours}")
    return hourly[:, -window_hours:].max(axis=1).astype(np.float64)


@dataclass
class News2Baseline:
    """NEWS2-style score as a risk ranking, with an isotonic map to probabilities fitted on validation."""

    window_hours: int = 48
    calibrator: IsotonicCalibrator = field(default_factory=IsotonicCalibrator)

    def score(self, episodes: Episodes) -> np.ndarray:
        """The raw integer score (as float) of each episode."""
        return news2_score(episodes, self.window_hours)

    def fit(self, val: Episodes) -> "News2Baseline":
        """Fit the score-to-probability calibrator on the validation episodes only."""
        self.calibrator.fit(self.score(val), np.asarray(val.y))
        return self

    def predict_proba(self, episodes: Episodes) -> np.ndarray:
        """Calibrated probability of death for each episode."""
        return self.calibrator.transform(self.score(episodes))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready state (a `News2State`)."""
        return News2State(window_hours=self.window_hours,
                          calibrator=CalibratorState.from_dict(self.calibrator.to_dict())).to_dict()

    def save(self, path: str | os.PathLike) -> Path:
        """Write the state as JSON (atomically)."""
        return write_json(path, self.to_dict())

    @classmethod
    def from_dict(cls, d: Any, where: str = "") -> "News2Baseline":
        """Rebuild from `to_dict` output, checked (`News2State`)."""
        st = News2State.from_dict(d, where=where)
        return cls(window_hours=st.window_hours, calibrator=IsotonicCalibrator.from_dict(st.calibrator.to_dict()))

    @classmethod
    def load(cls, path: str | os.PathLike) -> "News2Baseline":
        """Read a baseline written by `save`; errors name the file, the field and the problem."""
        return cls.from_dict(read_json(path), where=str(path))


@dataclass
class News2State(Record):
    """Saved `News2Baseline`: a positive window and the score-to-probability calibrator."""

    window_hours: int
    calibrator: CalibratorState
    kind: Literal["news2"] = "news2"

    def validate(self) -> None:
        if self.window_hours < 1:
            raise ValueError(f"window_hours must be positive, got {self.window_hours}")


# ---------------------------------------------------------------- the chapter's protocol


@dataclass
class BaselineRun:
    """One fitted baseline: raw validation/test scores, the calibrated evaluation and the fit time."""

    name: str
    p_val: np.ndarray
    p_test: np.ndarray
    evaluation: Any  # ehrlib.evaluation.calibration.CalibratedEvaluation
    seconds: float
    model: Any = None
    notes: dict[str, Any] = field(default_factory=dict)


def run_baselines(train: Episodes, val: Episodes, test: Episodes, n_boot: int = 1000, seed: int = 0,
                  news2_windows: tuple[int, ...] = (12, 24, 48), progress: bool = True) -> dict[str, BaselineRun]:
    """Fit the three baselines on `train`, calibrate and threshold them on `val`, score `test` once.

    The NEWS2 window (hours before the end of the 48 h over which the worst hourly score is taken) is
    chosen among `news2_windows` by validation AUROC. Returns runs keyed "logistic_regression", "gbt",
    "news2".
    """
    import time

    from ehrlib.evaluation.calibration import calibrate_and_evaluate
    from ehrlib.evaluation.metrics import ranking_metrics

    runs: dict[str, BaselineRun] = {}

    def finish(name: str, model: Any, p_val: np.ndarray, p_test: np.ndarray, start: float, **notes: Any) -> None:
        ev = calibrate_and_evaluate(p_val, val.y, p_test, test.y, n_boot=n_boot, seed=seed)
        runs[name] = BaselineRun(name, p_val, p_test, ev, time.perf_counter() - start, model, notes)
        if progress:
            _log.info(f"{name}: test AUROC {ev.metrics['auroc']['value']:.3f} ({runs[name].seconds:.1f} s)")

    t = time.perf_counter()
    lr = LogisticBaseline().fit(train)
    finish("logistic_regression", lr, lr.predict_proba(val), lr.predict_proba(test), t)
    t = time.perf_counter()
    gbt = GbtBaseline(seed=seed).fit(train)
    finish("gbt", gbt, gbt.predict_proba(val), gbt.predict_proba(test), t, iterations=int(gbt.model.n_iter_))
    t = time.perf_counter()
    val_auroc = {w: ranking_metrics(val.y, news2_score(val, w))["auroc"] for w in news2_windows}
    window = max(news2_windows, key=lambda w: (val_auroc[w], -w))
    news = News2Baseline(window_hours=window).fit(val)
    finish("news2", news, news.score(val), news.score(test), t, window_hours=window,
           validation_auroc_by_window={str(k): v for k, v in val_auroc.items()},
           consciousness_from_gcs=news2_uses_consciousness(val.variables))
    return runs
