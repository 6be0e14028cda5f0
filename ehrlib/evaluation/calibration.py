"""Probability calibrators and calibration statistics.

- `IsotonicCalibrator` wraps scikit-learn's `IsotonicRegression` (constant beyond the fitted range).
  Its JSON state is the fitted step function (`X_thresholds_`, `y_thresholds_`); loading refits an
  `IsotonicRegression` on those points, which reproduces the same function exactly. Its outputs are
  kept inside [e, 1 - e] with e = 0.5 / (n_fit + 1), half an event among the validation patients:
  a step with no death among its validation patients does not make a death impossible.
- `PlattCalibrator` (Platt scaling) is a two-parameter logistic map of logit(p) (or of the raw score,
  for scores that are not probabilities), fitted by scikit-learn's unpenalised logistic regression;
  its outputs are strictly inside (0, 1) (clipped to [1e-6, 1 - 1e-6] against float rounding).
- `select_calibrator` chooses between the two on the validation split alone, by the 5-fold
  cross-validated log loss of each method within validation.
- `calibration_slope_intercept` regresses the outcome on logit(p): slope 1 and intercept 0 mean
  perfect calibration. `smooth_calibration_curve` is a local linear regression (tricube kernel,
  lowess without robustness iterations; statsmodels is not a dependency) of the outcome on p, and
  `integrated_calibration_index` (Austin and Steyerberg 2019) is the mean absolute distance between
  that curve and the diagonal at the observed predictions.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from scipy.optimize import brentq
from sklearn import metrics as skm
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression

from sklearn.model_selection import StratifiedKFold

from ehrlib.evaluation.bootstrap import Interval, group_codes, percentile_interval, weight_chunks
from ehrlib.evaluation.metrics import check_labels_scores
from ehrlib.jsonfiles import read_json
from ehrlib.records import JsonFile, Record, RecordError

_EPS = 1e-6
PLATT_EPS = 1e-6
CALIBRATORS = ("isotonic", "platt")
CALIBRATOR_NAMES = {"platt": "Platt scaling", "isotonic": "isotonic regression"}


def calibrator_name(kind: str) -> str:
    """A calibrator's kind as the book writes it ("Platt scaling", "isotonic regression")."""
    return CALIBRATOR_NAMES.get(kind, kind)


@dataclass
class IsotonicCalibrator(JsonFile):
    """Isotonic-regression calibrator of risk scores, with JSON state (no pickle).

    `fit(p_val, y_val)` must be given validation predictions only; `transform(p)` maps any scores to
    calibrated probabilities.
    """

    model: IsotonicRegression | None = field(default=None, repr=False)
    n_fit: int = 0

    @staticmethod
    def _new() -> IsotonicRegression:
        return IsotonicRegression(y_min=0.0, y_max=1.0, increasing=True, out_of_bounds="clip")

    def fit(self, p: np.ndarray, y: np.ndarray) -> "IsotonicCalibrator":
        """Fit the isotonic map from scores `p` to outcomes `y` (validation data only)."""
        y, p = check_labels_scores(y, p)
        if np.unique(y).size < 2:
            raise ValueError("calibration needs both classes in the validation labels")
        self.model = self._new().fit(p, y)
        self.n_fit = int(y.size)
        return self

    @property
    def floor(self) -> float:
        """The smallest output (and 1 minus the largest): half an event among the `n_fit` fitting cases."""
        return 0.5 / (self.n_fit + 1)

    def transform(self, p: np.ndarray) -> np.ndarray:
        """Calibrated probabilities for scores `p` (float64), inside [floor, 1 - floor]: never exactly 0 or 1."""
        if self.model is None:
            raise RuntimeError("IsotonicCalibrator is not fitted")
        e = self.floor
        return np.clip(self.model.predict(np.asarray(p, dtype=np.float64).ravel()), e, 1.0 - e)

    @property
    def kind(self) -> str:
        """The calibrator's name in results ("isotonic")."""
        return "isotonic"

    def to_dict(self) -> dict[str, object]:
        """JSON-ready state: the fitted step function's knots (an `IsotonicState`)."""
        if self.model is None:
            raise RuntimeError("IsotonicCalibrator is not fitted")
        return IsotonicState(x_thresholds=self.model.X_thresholds_, y_thresholds=self.model.y_thresholds_,
                               n_fit=self.n_fit).to_dict()

    @classmethod
    def from_dict(cls, state: object, where: str = "") -> "IsotonicCalibrator":
        """Rebuild a calibrator from `to_dict` output (checked: `IsotonicState`) by refitting on its knots."""
        st = IsotonicState.from_dict(state, where=where)
        return cls(model=cls._new().fit(st.x_thresholds, st.y_thresholds), n_fit=st.n_fit)


@dataclass
class IsotonicState(Record):
    """Saved `IsotonicCalibrator`: the step function's knots, checked when loaded (finite, equal in
    length, non-decreasing, calibrated values in [0, 1])."""

    x_thresholds: np.ndarray
    y_thresholds: np.ndarray
    n_fit: int = 0
    kind: Literal["isotonic"] = "isotonic"

    def validate(self) -> None:
        x, yk = np.asarray(self.x_thresholds, float), np.asarray(self.y_thresholds, float)
        if x.size == 0 or x.size != yk.size:
            raise ValueError(f"knots must be non-empty and equal in length, got {x.size} x and {yk.size} y")
        if not (np.isfinite(x).all() and np.isfinite(yk).all()):
            raise ValueError("knots must be finite numbers")
        if np.any(np.diff(x) < 0) or np.any(np.diff(yk) < 0):
            raise ValueError("knots must be non-decreasing")
        if yk.min() < 0 or yk.max() > 1:
            raise ValueError(f"calibrated values must lie in [0, 1], got {yk.min():g} to {yk.max():g}")
        if self.n_fit < 0:
            raise ValueError(f"n_fit must be non-negative, got {self.n_fit}")


#: The former name of `IsotonicState` (kept for imports).
CalibratorState = IsotonicState


# ---------------------------------------------------------------- calibration statistics


def logit(p: np.ndarray, eps: float = _EPS) -> np.ndarray:
    """log(p / (1 - p)) with p clipped to [eps, 1 - eps] (isotonic outputs can be exactly 0 or 1)."""
    p = np.clip(np.asarray(p, dtype=np.float64), eps, 1 - eps)
    return np.log(p) - np.log1p(-p)


def calibration_slope_intercept(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    """Calibration slope and intercept of probabilities `p` against outcomes `y`.

    The slope is the coefficient of logit(p) in an unpenalised logistic regression of y on logit(p)
    (scikit-learn, C = inf); the intercept is the calibration-in-the-large, the intercept fitted with
    logit(p) as an offset (slope fixed at 1), found by solving the score equation
    sum(y - sigmoid(a + logit p)) = 0. Perfect calibration: slope 1, intercept 0.
    """
    y, p = check_labels_scores(y, p)
    z = logit(p)
    lr = LogisticRegression(C=np.inf, max_iter=1000).fit(z[:, None], y)
    score = lambda a: float(np.sum(y - 1.0 / (1.0 + np.exp(-(a + z)))))  # noqa: E731
    intercept = brentq(score, -30.0, 30.0)
    return {"slope": float(lr.coef_[0, 0]), "intercept": float(intercept),
            "slope_model_intercept": float(lr.intercept_[0])}




# ---------------------------------------------------------------- Platt scaling and the choice


@dataclass
class PlattCalibrator(Record):
    """Platt scaling: p' = sigmoid(a + b * x) with x = logit(p) (or the raw score when `on_logit` is
    false, e.g. an integer early-warning score). Fitted on validation only; JSON state via `Record`."""

    a: float = 0.0
    b: float = 1.0
    on_logit: bool = True
    n_fit: int = 0
    kind: Literal["platt"] = "platt"  # the calibrator's name in results and in its file

    def _x(self, p: np.ndarray) -> np.ndarray:
        p = np.asarray(p, dtype=np.float64).ravel()
        return logit(p) if self.on_logit else p

    def fit(self, p: np.ndarray, y: np.ndarray) -> "PlattCalibrator":
        """Fit a and b by unpenalised logistic regression of `y` on x (validation data only)."""
        y, p = check_labels_scores(y, p)
        if np.unique(y).size < 2:
            raise ValueError("calibration needs both classes in the validation labels")
        self.on_logit = bool(((p >= 0) & (p <= 1)).all())
        lr = LogisticRegression(C=np.inf, max_iter=1000).fit(self._x(p)[:, None], y)
        self.a, self.b, self.n_fit = float(lr.intercept_[0]), float(lr.coef_[0, 0]), int(y.size)
        return self

    def transform(self, p: np.ndarray) -> np.ndarray:
        """Calibrated probabilities, strictly inside (0, 1)."""
        z = np.clip(self.a + self.b * self._x(p), -500, 500)
        return np.clip(1.0 / (1.0 + np.exp(-z)), PLATT_EPS, 1 - PLATT_EPS)

    def validate(self) -> None:
        """Parameters are finite."""
        if self.kind != "platt":
            raise ValueError(f"kind must be 'platt', got {self.kind!r}")
        if not (np.isfinite(self.a) and np.isfinite(self.b)):
            raise ValueError(f"Platt parameters must be finite, got a={self.a}, b={self.b}")


Calibrator = IsotonicCalibrator | PlattCalibrator


#: The fields of a Platt calibrator's file saved before it recorded its `kind`.
_PLATT_FIELDS = frozenset({"a", "b", "on_logit", "n_fit"})


def load_calibrator(path: str | os.PathLike) -> Calibrator:
    """Read a calibrator of either kind saved by its `save`, choosing the class by the file's `kind`
    field ("isotonic": knots; "platt": two parameters; a file with only Platt's fields and no `kind` was
    saved before Platt recorded it). Errors name the file, the field and the problem, for the class
    the file says it holds; a missing or unknown `kind` is reported as such."""
    state, where = read_json(path), str(path)
    if not isinstance(state, dict):
        raise RecordError(f"{where}: expected a JSON object for a calibrator, got {type(state).__name__}")
    kind = state.get("kind", "platt" if state and set(state) <= _PLATT_FIELDS else None)
    if kind is None:
        raise RecordError(f"{where}: field 'kind': missing; a calibrator file names its kind, one of "
                          f"{list(CALIBRATORS)} (fields found: {sorted(state)})")
    if kind not in CALIBRATORS:
        raise RecordError(f"{where}: field 'kind': unknown calibrator {kind!r:.40}; expected one of "
                          f"{list(CALIBRATORS)}")
    return (IsotonicCalibrator if kind == "isotonic" else PlattCalibrator).from_dict(state, where=where)


def new_calibrator(kind: str) -> Calibrator:
    """An unfitted calibrator of the named kind ("isotonic" or "platt")."""
    if kind not in CALIBRATORS:
        raise ValueError(f"unknown calibrator {kind!r}; choose one of {CALIBRATORS}")
    return IsotonicCalibrator() if kind == "isotonic" else PlattCalibrator()


def cross_validated_log_loss(kind: str, p: np.ndarray, y: np.ndarray, n_splits: int = 5, seed: int = 0) -> float:
    """Mean out-of-fold log loss of a `kind` calibrator fitted within the validation scores `p`."""
    y, p = check_labels_scores(y, p)
    splits = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed).split(p[:, None], y)
    losses = []
    for fit_idx, held_idx in splits:
        q = new_calibrator(kind).fit(p[fit_idx], y[fit_idx]).transform(p[held_idx])
        losses.append(skm.log_loss(y[held_idx], q, labels=[0, 1]) * held_idx.size)
    return float(np.sum(losses) / y.size)


def select_calibrator(p_val: np.ndarray, y_val: np.ndarray, kinds: tuple[str, ...] = CALIBRATORS,
                      seed: int = 0) -> tuple[Calibrator, dict[str, float]]:
    """The calibrator with the lowest cross-validated log loss on validation, refitted on all of it.

    Returns the fitted calibrator and each candidate's cross-validated log loss. Ties go to the first
    kind listed. Only validation scores and labels enter: the test split never reaches the choice.
    """
    losses = {k: cross_validated_log_loss(k, p_val, y_val, seed=seed) for k in kinds}
    best = min(kinds, key=lambda k: losses[k])
    return new_calibrator(best).fit(p_val, y_val), losses


# ---------------------------------------------------------------- smoothed calibration curve, ICI


def tricube_kernel(x: np.ndarray, at: np.ndarray, frac: float = 0.3) -> np.ndarray:
    """The (len(at), len(x)) tricube weights of local regression at `at` over the nearest `frac` share
    of the points `x` (each row's bandwidth just beyond its k-th nearest point)."""
    if not 0 < frac <= 1:
        raise ValueError(f"frac must be in (0, 1], got {frac}")
    k = min(x.size, max(3, int(np.ceil(frac * x.size))))
    d = np.abs(at[:, None] - x[None, :])
    h = np.maximum(np.partition(d, k - 1, axis=1)[:, k - 1], 1e-12) * (1 + 1e-9)
    return np.clip(1 - (d / h[:, None]) ** 3, 0, None) ** 3


def _local_linear_fit(kernel: np.ndarray, x: np.ndarray, y: np.ndarray, at: np.ndarray, w: np.ndarray
                      ) -> np.ndarray:
    """Local linear fits at `at` for each row of sample weights `w` (replicates x samples): the
    kernel's weights times the sample's weight, one weighted least-squares line per point of `at`."""
    moments = [w @ (kernel * v).T for v in (np.ones_like(x), x, y, x * x, x * y)]
    sw, sx, sy, sxx, sxy = moments
    sw = np.maximum(sw, 1e-300)
    xbar, ybar = sx / sw, sy / sw
    var, cov = sxx / sw - xbar**2, sxy / sw - xbar * ybar
    slope = np.divide(cov, var, out=np.zeros_like(var), where=var > 1e-12)
    return ybar + slope * (at[None, :] - xbar)


def local_linear(x: np.ndarray, y: np.ndarray, at: np.ndarray, frac: float = 0.3) -> np.ndarray:
    """Local linear regression of `y` on `x` evaluated at `at`, with tricube weights over the
    nearest `frac` share of the points (lowess without robustness iterations). Vectorised over `at`."""
    x, y, at = (np.asarray(a, dtype=np.float64).ravel() for a in (x, y, at))
    w = tricube_kernel(x, at, frac)
    sw = w.sum(axis=1)
    xbar, ybar = w @ x / sw, w @ y / sw
    var = w @ (x * x) / sw - xbar**2
    cov = w @ (x * y) / sw - xbar * ybar
    slope = np.divide(cov, var, out=np.zeros_like(var), where=var > 1e-12)
    return ybar + slope * (at - xbar)


def smooth_calibration_curve(y: np.ndarray, p: np.ndarray, n_points: int = 101, frac: float = 0.3
                             ) -> dict[str, np.ndarray]:
    """Smoothed observed risk against predicted probability on a grid spanning the predictions."""
    y, p = check_labels_scores(y, p)
    grid = np.linspace(p.min(), p.max(), n_points)
    return {"predicted": grid, "observed": np.clip(local_linear(p, y, grid, frac), 0, 1)}


def integrated_calibration_index(y: np.ndarray, p: np.ndarray, frac: float = 0.3) -> float:
    """Mean |smoothed observed risk - p| over the predictions (the curve interpolated from a 201-point grid)."""
    curve = smooth_calibration_curve(y, p, n_points=201, frac=frac)
    return float(np.mean(np.abs(np.interp(p, curve["predicted"], curve["observed"]) - np.asarray(p, float))))


# ---------------------------------------------------------------- intervals of slope, intercept and ICI


def replicate_ici(y: np.ndarray, p: np.ndarray, w: np.ndarray, frac: float = 0.3) -> np.ndarray:
    """The integrated calibration index of each replicate row of sample weights `w`: the weighted smooth
    curve on the full sample's 201-point grid and kernel (the bandwidths stay those of the sample), read
    at each prediction by linear interpolation, and the weighted mean distance to the diagonal. With
    all weights 1 it is `integrated_calibration_index` exactly."""
    y, p = check_labels_scores(y, p)
    x, grid = p.astype(np.float64), np.linspace(p.min(), p.max(), 201)
    curve = np.clip(_local_linear_fit(tricube_kernel(x, grid, frac), x, y.astype(np.float64), grid, w), 0, 1)
    hi = np.clip(np.searchsorted(grid, x, side="right"), 1, grid.size - 1)
    span = grid[hi] - grid[hi - 1]
    t = np.divide(x - grid[hi - 1], span, out=np.zeros_like(x), where=span > 0)
    fitted = curve[:, hi - 1] * (1 - t) + curve[:, hi] * t
    return (w * np.abs(fitted - x)).sum(axis=1) / w.sum(axis=1)


def replicate_slope_intercept(y: np.ndarray, p: np.ndarray, w: np.ndarray, max_iter: int = 25
                              ) -> dict[str, np.ndarray]:
    """Calibration slope and intercept (`calibration_slope_intercept`) of each replicate row of sample
    weights `w`, by Newton's method run on all rows at once from the full sample's estimates until no
    estimate moves by 1e-10 (or `max_iter` steps)."""
    y, p = check_labels_scores(y, p)
    z, yf = logit(p), y.astype(np.float64)
    start = calibration_slope_intercept(y, p)
    a = np.full(w.shape[0], start["slope_model_intercept"])
    b = np.full(w.shape[0], start["slope"])
    c = np.full(w.shape[0], start["intercept"])
    for _ in range(max_iter):
        mu = 1.0 / (1.0 + np.exp(-(a[:, None] + b[:, None] * z)))
        r, v = w * (yf - mu), w * mu * (1 - mu)
        g0, g1, h00, h01, h11 = r.sum(1), r @ z, v.sum(1), v @ z, v @ (z * z)
        det = np.maximum(h00 * h11 - h01**2, 1e-300)
        da, db = (h11 * g0 - h01 * g1) / det, (h00 * g1 - h01 * g0) / det
        mu_c = 1.0 / (1.0 + np.exp(-(c[:, None] + z)))
        dc = (w * (yf - mu_c)).sum(1) / np.maximum((w * mu_c * (1 - mu_c)).sum(1), 1e-300)
        a, b, c = a + da, b + db, c + dc
        if max(np.abs(da).max(), np.abs(db).max(), np.abs(dc).max()) < 1e-10:
            break
    return {"slope": b, "intercept": c}


def curve_intervals(y: np.ndarray, p: np.ndarray, *, groups: np.ndarray | None = None, n_boot: int = 1000,
                    seed: int = 0, level: float = 0.95) -> dict[str, Interval]:
    """ICI, calibration slope and intercept of probabilities `p` with percentile intervals from the
    bootstrap that resamples `groups` (the resamples of `replicate_metrics` for the same seed);
    `n_boot=0` gives the point estimates with undefined (NaN) interval ends."""
    y, p = check_labels_scores(y, p)
    codes, parts = group_codes(groups, y.size), []
    point = {"ici": integrated_calibration_index(y, p), **calibration_slope_intercept(y, p)}
    if n_boot == 0:  # point estimates only
        return {k: percentile_interval(point[k], np.array([]), level) for k in ("ici", "slope", "intercept")}
    for w in weight_chunks(codes, n_boot, seed, max_cells=1_000_000):
        parts.append({"ici": replicate_ici(y, p, w), **replicate_slope_intercept(y, p, w)})
    reps = {k: np.concatenate([part[k] for part in parts]) for k in parts[0]}
    return {k: percentile_interval(point[k], reps[k], level) for k in ("ici", "slope", "intercept")}
