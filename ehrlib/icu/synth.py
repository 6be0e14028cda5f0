"""Mechanistic synthetic ICU episodes in the MIMIC-III benchmark's in-hospital-mortality layout.

The generator is causal in one direction only: **latent state -> physiology -> observations**, and
separately **latent state -> true risk -> label**. The label is drawn last, from its own random
stream, and nothing downstream of it shapes a single observed value (the public replication drew
measurements *from* the label, which made its task trivial; see `REFERENCE.md`).

Latent state (one row of `latent.csv` per episode)
    Age, sex, admission category (EMERGENCY / URGENT / ELECTIVE), admission clock time, baseline
    severity ``s0`` (depends on age and admission category), a 48-hour trajectory
    ``S(t) = s0 + r * (t/48)**k + w(t)`` with a patient-specific rate ``r`` (negative: recovery,
    positive: deterioration), shape ``k`` and a slow Ornstein-Uhlenbeck wander ``w``; and four
    organ-dysfunction factors (cardiovascular ``C``, respiratory ``R``, renal ``K``,
    inflammatory ``I``), each ``lambda_k * S(t) + d_k + e_k * t/48`` with an organ-specific
    offset ``d_k`` (e.g. chronic kidney disease) and drift ``e_k``.

Physiology
    Each of the 15 variables is linear in the organ factors on a natural scale (identity for vitals,
    log for lactate, creatinine, white cells and urea, log of the deficit ``100 - SpO2`` for
    saturation), with clinically sensible signs: shock raises heart rate and lactate and lowers
    blood pressure and bicarbonate; respiratory failure raises respiratory rate and lowers SpO2;
    renal failure raises creatinine, urea and potassium; inflammation raises temperature, white
    cells and glucose. Values are clipped to physiological ranges and rounded to the benchmark's
    charting precision.

Mortality model
    ``logit p = b0 + 0.62 C(48) + 0.5 R(48) + 0.4 K(48) + 0.4 I(48) + 0.5 age_z + 0.35 emergency
    + 0.15 age_z * S(48) + 0.3 r`` (multivariate), or ``b0 + 1.25 S(48)`` when the multivariate
    model is switched off. The intercept ``b0`` is solved by bisection so that the mean true risk
    equals the target prevalence; the label is one Bernoulli draw from the true risk. Only the
    intercept depends on the target prevalence, so observations do not change with it.

Realism features (`RealismFlags`; every one can be switched off for ablation)
    - ``circadian``: 24-hour cosine rhythms (heart rate, blood pressure, respiratory rate,
      temperature peaking in the late afternoon; a dawn rise of glucose), phased by the real
      admission clock time, damped in sicker patients.
    - ``sleep``: a fragmented night-time sleep window (about 23:00-06:00) lowering heart rate,
      blood pressure and respiratory rate, and making nurses skip vital checks of sleeping patients.
    - ``meals``: glucose excursions after breakfast, lunch and dinner (08:00, 12:30, 18:00) in
      patients who eat (fewer when sicker), larger in diabetics.
    - ``temporal_variability``: autocorrelated physiological fluctuation and measurement noise,
      jitter of charting times (minutes past the hour), monitoring dropouts (runs of missed
      hours) and artifacts (motion, probe-off, transducer flush). Off: charts exactly on the hour
      and noiseless values.
    - ``mcar``: missing completely at random: a constant chance that a vital check, a single
      vital, or a single lab component is not recorded.
    - ``mar``: missing at random: vital checks are skipped more in stable patients and extra labs
      and lactates are drawn when the charted shock index (heart rate / systolic pressure) is high.
    - ``mnar``: missing not at random: a value's own abnormality changes its chance of being
      recorded (normal vitals are charted less reliably, a fever triggers temperature re-checks,
      a high lactate or glucose triggers re-measurement).
    - ``correlations``: the short-term fluctuations of the 15 variables are correlated (e.g.
      systolic/diastolic pressure, creatinine/urea, heart/respiratory rate); off: independent.
      (The organ factors themselves are the disease model and always couple the variables.)
    - ``shift_quality``: documentation by nursing shift (day 07-15, evening 15-23, night 23-07):
      fewer vital checks, later charting and terminal-digit preference (rounding blood pressure
      to 5) in the evening and at night.
    - ``individual_variability``: patient-specific set points of every variable, response gains
      and circadian amplitudes (shared by a subject's episodes).
    - ``multivariate_mortality``: the multivariate risk model above; off: risk from overall
      severity at 48 h only.

Sampling: vitals are checked about hourly (a candidate chart in each hour, at a jittered minute);
labs in panels (basic metabolic panel, blood count, lactate) at admission, with the morning round
(about 04:00) and when indicated, plus point-of-care glucose every 6 h in insulin-treated patients.

Speed: every step is vectorised over episodes x hourly slots x variables; files are formatted
with lookup tables of pre-formatted cells and written with one write per file.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from ehrlib.io import atomic_directory
from ehrlib.logs import get_logger
from ehrlib.logs import progress as progress_bar

_log = get_logger(__name__)
VARIABLES: tuple[str, ...] = (
    "Heart Rate", "Systolic blood pressure", "Diastolic blood pressure", "Respiratory rate",
    "Temperature", "Oxygen saturation", "Lactate", "Creatinine", "White blood cells", "Hemoglobin",
    "Glucose", "Potassium", "Sodium", "Bicarbonate", "Blood urea nitrogen",
)
VITALS: tuple[str, ...] = VARIABLES[:6]
LABS: tuple[str, ...] = VARIABLES[6:]
UNITS: dict[str, str] = {
    "Heart Rate": "bpm", "Systolic blood pressure": "mmHg", "Diastolic blood pressure": "mmHg",
    "Respiratory rate": "breaths/min", "Temperature": "°C", "Oxygen saturation": "%",
    "Lactate": "mmol/L", "Creatinine": "mg/dL", "White blood cells": "10^9/L", "Hemoglobin": "g/dL",
    "Glucose": "mg/dL", "Potassium": "mmol/L", "Sodium": "mmol/L", "Bicarbonate": "mmol/L",
    "Blood urea nitrogen": "mg/dL",
}
SPLITS: tuple[str, ...] = ("train", "val", "test")
ADMISSION_TYPES: tuple[str, ...] = ("EMERGENCY", "URGENT", "ELECTIVE")
SHIFTS: tuple[str, ...] = ("day", "evening", "night")
ORGANS: tuple[str, ...] = ("cardiovascular", "respiratory", "renal", "inflammatory")
DEFAULT_EPISODES = 24_327
DEFAULT_SPLIT = (16_972, 3_740, 3_615)
DEFAULT_MORTALITY = 0.208
N_SLOTS = 49  # hourly slots 0..48 (slot 48 only at minute 0, so that Hours <= 48)

# Per-variable physiology. link: 0 identity, 1 log, 2 log of (100 - value).
_V = {name: i for i, name in enumerate(VARIABLES)}
_LINK = np.array([0, 0, 0, 0, 0, 2, 1, 1, 1, 0, 0, 0, 0, 0, 1])
_BASE = np.array([87.5, 117.0, 59.0, 19.8, 36.75, np.log(2.0), np.log(1.45), np.log(0.95), np.log(9.8),
                  10.6, 117.0, 4.08, 139.0, 24.8, np.log(19.0)])
#                          C      R      K      I
_LOAD = np.array([[6.0, 2.5, 0.0, 5.0],      # HR
                  [-11.0, 0.0, 0.0, -2.0],   # SBP
                  [-6.0, 0.0, 0.0, -1.5],    # DBP
                  [1.0, 3.2, 0.0, 1.0],      # RR
                  [-0.1, 0.0, 0.0, 0.45],    # Temp
                  [0.05, 0.45, 0.0, 0.0],    # log(100 - SpO2)
                  [0.33, 0.08, 0.0, 0.12],   # log lactate
                  [0.08, 0.0, 0.38, 0.0],    # log creatinine
                  [0.0, 0.0, 0.0, 0.3],      # log WBC
                  [-0.35, 0.0, 0.0, -0.2],   # Hb
                  [6.0, 0.0, 0.0, 10.0],     # glucose
                  [0.05, 0.0, 0.25, 0.0],    # K
                  [0.0, 0.0, -0.2, -0.4],    # Na
                  [-1.6, 0.0, -1.2, 0.0],    # HCO3
                  [0.1, 0.0, 0.35, 0.0]])    # log BUN
_INDIV_SD = np.array([9.0, 12.0, 7.0, 3.0, 0.3, 0.3, 0.2, 0.35, 0.25, 1.3, 18.0, 0.35, 3.0, 2.5, 0.35])
_AR_SD = np.array([5.0, 8.0, 5.0, 2.5, 0.25, 0.3, 0.15, 0.05, 0.1, 0.4, 15.0, 0.25, 1.5, 1.2, 0.05])
_AR_PHI = np.array([0.6] * 6 + [0.85] * 9)
_MEAS_SD = np.array([2.0, 4.0, 3.0, 1.5, 0.15, 0.15, 0.1, 0.05, 0.07, 0.3, 8.0, 0.15, 1.0, 0.8, 0.05])
# Circadian amplitude (natural scale) and peak clock hour.
_CIRC_AMP = np.array([5.0, 6.0, 4.0, 1.0, 0.3, 0.0, 0, 0, 0, 0, 8.0, 0, 0, 0, 0])
_CIRC_PEAK = np.array([16.0, 15.0, 15.0, 15.0, 18.0, 0, 0, 0, 0, 0, 7.0, 0, 0, 0, 0])
_SLEEP_EFF = np.array([-6.0, -8.0, -5.0, -2.0, -0.1, 0.1, 0, 0, 0, 0, 0, 0, 0, 0, 0])
# Clipping range and charting precision (decimals) on the natural scale.
_LO = np.array([20, 40, 15, 4, 32.0, 50, 0.3, 0.2, 0.5, 4.0, 30, 2.0, 115, 5, 2])
_HI = np.array([250, 260, 160, 60, 42.0, 100, 25.0, 15.0, 80.0, 19.0, 900, 8.5, 165, 45, 200])
_DEC = np.array([0, 0, 0, 0, 1, 0, 1, 1, 1, 1, 0, 1, 0, 0, 0])
# Deviation scale used to measure a value's own abnormality (MNAR), natural scale around _NORMAL.
_NORMAL = np.array([80, 120, 65, 16, 37.0, 97, 1.2, 0.9, 8.0, 12.0, 110, 4.2, 140, 25, 15])
_ABN_SCALE = np.array([20, 25, 15, 6, 0.8, 4, 1.5, 0.8, 5.0, 2.5, 60, 0.8, 5, 5, 15])
# Correlations of short-term fluctuations (pairs of variable indices).
_CORR_PAIRS = {(0, 3): 0.3, (0, 1): -0.1, (1, 2): 0.7, (0, 4): 0.2, (3, 5): 0.3, (6, 10): 0.2,
               (7, 14): 0.6, (11, 13): -0.2, (12, 13): 0.1, (8, 4): 0.15, (0, 6): 0.1}
_BMP = [_V[v] for v in ("Creatinine", "Glucose", "Potassium", "Sodium", "Bicarbonate", "Blood urea nitrogen")]
_CBC = [_V[v] for v in ("White blood cells", "Hemoglobin")]
_LACT = _V["Lactate"]
_GLU = _V["Glucose"]
# Mortality model weights (see the module docstring).
W_CARDIO, W_RESP, W_RENAL, W_INFL = 0.5, 0.4, 0.32, 0.32
W_AGE, W_EMERG, W_AGE_SEV, W_RATE = 0.5, 0.35, 0.12, 0.45
W_UNIVARIATE = 1.1


@dataclass(frozen=True)
class RealismFlags:
    """Switches for each realism feature (all on by default); see the module docstring."""

    circadian: bool = True
    sleep: bool = True
    meals: bool = True
    temporal_variability: bool = True
    mcar: bool = True
    mar: bool = True
    mnar: bool = True
    correlations: bool = True
    shift_quality: bool = True
    individual_variability: bool = True
    multivariate_mortality: bool = True

    def off(self, *names: str) -> "RealismFlags":
        """A copy with the named features switched off (unknown names raise `ValueError`)."""
        known = {f.name for f in dataclasses.fields(self)}
        bad = sorted(set(names) - known)
        if bad:
            raise ValueError(f"unknown realism feature(s) {bad}; known: {sorted(known)}")
        return dataclasses.replace(self, **{n: False for n in names})

    @classmethod
    def none(cls) -> "RealismFlags":
        """Every realism feature switched off."""
        return cls(**{f.name: False for f in dataclasses.fields(cls)})


@dataclass(frozen=True)
class IcuConfig:
    """Everything that defines a synthetic ICU cohort: sizes, prevalence, seed and realism flags.

    `split` holds the episodes per split (train, val, test) and must add up to `n_episodes`;
    `mortality` is the target mean true risk (the drawn prevalence is close to it);
    `repeat_subject_rate` is the share of subjects with more than one ICU episode.
    """

    n_episodes: int = DEFAULT_EPISODES
    split: tuple[int, int, int] = DEFAULT_SPLIT
    mortality: float = DEFAULT_MORTALITY
    seed: int = 0
    realism: RealismFlags = field(default_factory=RealismFlags)
    repeat_subject_rate: float = 0.1

    def __post_init__(self) -> None:
        object.__setattr__(self, "split", tuple(int(s) for s in self.split))
        self.validate()

    def validate(self) -> None:
        """Raise `ValueError` with a clear message for impossible parameters."""
        if isinstance(self.n_episodes, bool) or int(self.n_episodes) != self.n_episodes:
            raise ValueError(f"n_episodes must be an integer, got {self.n_episodes!r}")
        if self.n_episodes < 1:
            raise ValueError(f"n_episodes must be positive, got {self.n_episodes}")
        if len(self.split) != 3:
            raise ValueError(f"split must have three sizes (train, val, test), got {self.split}")
        if any(s < 0 for s in self.split):
            raise ValueError(f"split sizes must be non-negative, got {self.split}")
        if sum(self.split) != self.n_episodes:
            raise ValueError(f"split sizes {self.split} add up to {sum(self.split)}, "
                             f"not to n_episodes={self.n_episodes}")
        if not (0.0 < float(self.mortality) < 1.0):
            raise ValueError(f"mortality must lie strictly between 0 and 1, got {self.mortality}")
        if not (0.0 <= self.repeat_subject_rate < 1.0):
            raise ValueError(f"repeat_subject_rate must lie in [0, 1), got {self.repeat_subject_rate}")
        if int(self.seed) != self.seed or self.seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {self.seed!r}")


def proportional_split(n_episodes: int, proportions: Sequence[float] = DEFAULT_SPLIT) -> tuple[int, int, int]:
    """Split `n_episodes` in the given proportions exactly (largest-remainder rounding)."""
    if n_episodes < 1:
        raise ValueError(f"n_episodes must be positive, got {n_episodes}")
    p = np.asarray(proportions, dtype=float)
    ideal = n_episodes * p / p.sum()
    sizes = np.floor(ideal).astype(int)
    rest = n_episodes - sizes.sum()
    order = np.argsort(-(ideal - sizes), kind="stable")
    sizes[order[:rest]] += 1
    return tuple(int(s) for s in sizes)  # type: ignore[return-value]


@dataclass
class IcuCohort:
    """An in-memory synthetic cohort.

    `latent`: one row per episode (stay name, split, subject, latent state, true risk, label).
    `times`: (n, R) chart times in minutes since ICU admission, sorted, -1 past `n_rows`.
    `values`: (n, R, 15) float32 charted values, NaN where not measured.
    `n_rows`: (n,) number of charted rows per episode.
    `truth`: (n, 49, 15) float32 noiseless physiology at the whole hours 0..48 (for figures).
    `severity`: (n, 49) the latent severity S(t) at the whole hours.
    """

    config: IcuConfig
    latent: pd.DataFrame
    times: np.ndarray
    values: np.ndarray
    n_rows: np.ndarray
    truth: np.ndarray
    severity: np.ndarray
    intercept: float

    @property
    def variables(self) -> tuple[str, ...]:
        """The 15 variable names, in file column order."""
        return VARIABLES

    def episode_frame(self, i: int) -> pd.DataFrame:
        """The charted rows of episode `i` as a DataFrame (`Hours` then the 15 variables)."""
        k = int(self.n_rows[i])
        df = pd.DataFrame(self.values[i, :k], columns=list(VARIABLES))
        df.insert(0, "Hours", self.times[i, :k] / 60.0)
        return df

    def long(self) -> pd.DataFrame:
        """Long format: one row per measured value (episode index, stay, hours, variable, value)."""
        valid = np.arange(self.times.shape[1])[None, :] < self.n_rows[:, None]
        ep, row, var = np.nonzero(valid[:, :, None] & ~np.isnan(self.values))
        return pd.DataFrame({
            "episode": ep, "stay": self.latent["stay"].to_numpy()[ep], "hours": self.times[ep, row] / 60.0,
            "variable": pd.Categorical.from_codes(var, categories=list(VARIABLES)),
            "value": self.values[ep, row, var],
        })

    def hourly(self) -> tuple[np.ndarray, np.ndarray]:
        """(n, 48, 15) hourly means of charted values (hour h holds charts in [h, h+1), 48 in 47) and mask."""
        n, r, f = self.values.shape
        hour = np.clip(self.times // 60, 0, 47)
        valid = (np.arange(r)[None, :] < self.n_rows[:, None])
        obs = valid[:, :, None] & ~np.isnan(self.values)
        sums = np.zeros((n, 48, f))
        counts = np.zeros((n, 48, f))
        idx = np.broadcast_to(hour[:, :, None], obs.shape)
        ep = np.broadcast_to(np.arange(n)[:, None, None], obs.shape)
        va = np.broadcast_to(np.arange(f)[None, None, :], obs.shape)
        np.add.at(sums, (ep[obs], idx[obs], va[obs]), self.values[obs])
        np.add.at(counts, (ep[obs], idx[obs], va[obs]), 1.0)
        with np.errstate(invalid="ignore"):
            means = sums / counts
        return means.astype(np.float32), counts > 0

    def means(self) -> np.ndarray:
        """(n, 15) per-variable means over the 48 hours of the charted values (NaN if never charted)."""
        valid = (np.arange(self.values.shape[1])[None, :] < self.n_rows[:, None])[:, :, None]
        v = np.where(valid, self.values, np.nan)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return np.nanmean(v, axis=1)

    def observed_fraction(self) -> pd.Series:
        """Share of episodes x hours (48 hourly bins) with at least one value, per variable."""
        _, mask = self.hourly()
        return pd.Series(mask.mean(axis=(0, 1)), index=list(VARIABLES))


# ----------------------------------------------------------------------------------------------
# Simulation
# ----------------------------------------------------------------------------------------------

_STREAMS = ("subjects", "latent", "trajectory", "individual", "circadian", "sleep", "meals", "noise",
            "timing", "vital_missing", "lab_missing", "artifacts", "split", "label")


def _streams(seed: int) -> dict[str, np.random.Generator]:
    """One independent generator per model component, so switching a feature off or changing the
    target prevalence never shifts the random numbers any other component sees."""
    children = np.random.SeedSequence(seed).spawn(len(_STREAMS))
    return {name: np.random.default_rng(child) for name, child in zip(_STREAMS, children)}


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _corr_cholesky(correlated: bool) -> np.ndarray:
    """Cholesky factor of the fluctuation correlation matrix (identity when switched off)."""
    f = len(VARIABLES)
    c = np.eye(f)
    if correlated:
        for (a, b), r in _CORR_PAIRS.items():
            c[a, b] = c[b, a] = r
    return np.linalg.cholesky(c)


def _subjects(n: int, repeat_rate: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Assign episodes to subjects: returns subject index, episode number (1-based), subject ids."""
    per = np.where(rng.random(n) < repeat_rate, 2 + (rng.random(n) < 0.25), 1)
    cum = np.cumsum(per)
    m = int(np.searchsorted(cum, n) + 1)
    per = per[:m].copy()
    per[-1] -= cum[m - 1] - n
    subj = np.repeat(np.arange(m), per)
    start = np.repeat(np.cumsum(per) - per, per)
    episode = np.arange(n) - start + 1
    hi = max(100_000, 10_000 + 4 * m)
    ids = np.sort(rng.choice(np.arange(10_000, hi), size=m, replace=False))
    ids = ids[rng.permutation(m)]
    return subj, episode, ids


def _calibrate_intercept(lin: np.ndarray, target: float) -> float:
    """Solve mean(sigmoid(b0 + lin)) = target for b0 by bisection (deterministic, 200 steps max)."""
    lo, hi = -30.0, 30.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if _sigmoid(mid + lin).mean() < target:
            lo = mid
        else:
            hi = mid
        if hi - lo < 1e-12:
            break
    return 0.5 * (lo + hi)


def _assign_splits(subj: np.ndarray, y: np.ndarray, sizes: Sequence[int], rng: np.random.Generator) -> np.ndarray:
    """Assign episodes to splits by subject, with exact sizes and outcome stratification.

    Subjects with several episodes are placed first (largest first, to the split with the most
    room relative to its size); single-episode subjects then fill each split's remaining room with
    the number of deaths that brings the split's prevalence closest to the overall prevalence.
    """
    n = len(subj)
    sizes = np.asarray(sizes, dtype=int)
    out = np.full(n, -1, dtype=int)
    m = int(subj.max()) + 1
    count = np.bincount(subj, minlength=m)
    deaths = np.bincount(subj, weights=y, minlength=m).astype(int)
    p_all = y.mean()
    room = sizes.copy()
    pos = np.zeros(3, dtype=int)
    first_ep = np.concatenate([[0], np.cumsum(count)[:-1]])  # episodes of a subject are contiguous
    multi = np.nonzero(count > 1)[0]
    multi = multi[rng.permutation(len(multi))]
    multi = multi[np.argsort(-count[multi], kind="stable")]
    for s in multi:  # a few thousand at most; each decision depends on the previous ones
        fits = room >= count[s]
        if not fits.any():
            raise ValueError("cannot place a multi-episode subject: split sizes too small for this cohort")
        # prefer the split whose positives are furthest below target, weighted by room
        score = np.where(fits, room / np.maximum(sizes, 1) + 0.5 * (p_all * (sizes - room) - pos) / np.maximum(sizes, 1), -np.inf)
        k = int(np.argmax(score))
        room[k] -= count[s]
        pos[k] += deaths[s]
        out[first_ep[s]:first_ep[s] + count[s]] = k
    single = np.nonzero(count == 1)[0]
    ep_of = np.full(m, -1)
    ep_of[subj] = np.arange(n)  # for singles, the one episode
    single_ep = ep_of[single]
    sp = single_ep[y[single_ep] == 1]
    sn = single_ep[y[single_ep] == 0]
    sp = sp[rng.permutation(len(sp))]
    sn = sn[rng.permutation(len(sn))]
    if room.sum() != len(single_ep):
        raise AssertionError("split bookkeeping error")
    want = p_all * sizes - pos
    ideal = np.clip(want, 0, room)
    t = np.floor(ideal).astype(int)
    # adjust to use exactly len(sp) positives, respecting 0 <= t <= room and room - t <= negatives
    diff = len(sp) - t.sum()
    order = np.argsort(-(ideal - t), kind="stable")
    while diff != 0:
        changed = False
        for k in (order if diff > 0 else order[::-1]):
            if diff > 0 and t[k] < room[k]:
                t[k] += 1
                diff -= 1
                changed = True
            elif diff < 0 and t[k] > 0:
                t[k] -= 1
                diff += 1
                changed = True
            if diff == 0:
                break
        if not changed:
            raise AssertionError("cannot stratify splits")
    ip = np.concatenate([[0], np.cumsum(t)])
    ineg = np.concatenate([[0], np.cumsum(room - t)])
    for k in range(3):
        out[sp[ip[k]:ip[k + 1]]] = k
        out[sn[ineg[k]:ineg[k + 1]]] = k
    return out


def simulate_icu(config: IcuConfig | None = None) -> IcuCohort:
    """Simulate a cohort in memory: latent state, physiology, charted observations, risk and label.

    Deterministic in `config` (same config -> identical arrays). Every model component draws from
    its own random stream, and all random numbers are drawn whether or not a feature is switched on,
    so an ablation changes only the feature it names.
    """
    cfg = config or IcuConfig()
    fl = cfg.realism
    rng = _streams(cfg.seed)
    n, f, j = cfg.n_episodes, len(VARIABLES), N_SLOTS

    # --- subjects and latent state -----------------------------------------------------------
    subj, episode, ids = _subjects(n, cfg.repeat_subject_rate, rng["subjects"])
    m = len(ids)
    g = rng["latent"]
    age_subj = np.clip(g.normal(64.0, 16.5, m), 18, 95)
    male_subj = g.random(m) < 0.56
    age = np.clip(age_subj[subj] + (episode - 1) * g.uniform(0.0, 2.0, n), 18, 95)
    male = male_subj[subj]
    adm = np.searchsorted(np.cumsum([0.72, 0.10, 1.0]), g.random(n), side="right").clip(0, 2)
    # admission clock hour: emergency peaks afternoon/evening, elective after surgery 10-18 h
    hour_w = {
        0: np.array([2, 2, 1.6, 1.4, 1.2, 1.1, 1.2, 1.6, 2.4, 3.2, 3.6, 3.8, 4, 4.2, 4.4, 4.6, 4.8, 5, 5, 4.6, 4.2, 3.6, 3, 2.5]),
        1: np.full(24, 1.0),
        2: np.array([.2, .2, .2, .2, .2, .3, .5, 1, 2, 3, 5, 6, 7, 7, 7, 6.5, 6, 5, 3, 2, 1, .6, .4, .3]),
    }
    u_hour = g.random(n)
    adm_clock = np.empty(n)
    for a, w in hour_w.items():
        cdf = np.cumsum(w) / w.sum()
        adm_clock[adm == a] = np.searchsorted(cdf, u_hour[adm == a], side="right").clip(0, 23)
    adm_clock = adm_clock + g.integers(0, 60, n) / 60.0
    age_z = (age - 64.0) / 16.5
    adm_eff = np.array([0.25, 0.1, -0.6])[adm]
    s0 = 0.45 * age_z + adm_eff + g.normal(0, 1.0, n)
    diabetic = g.random(n) < 0.28

    # --- trajectory ----------------------------------------------------------------------------
    g = rng["trajectory"]
    rate = g.normal(0.05, 1.0, n)
    shape = np.exp(g.normal(0, 0.4, n))
    tau = np.arange(j) / 48.0
    wander = np.zeros((n, j))
    decay = np.exp(-1.0 / 8.0)
    z = g.standard_normal((n, j))
    wander[:, 0] = 0.35 * z[:, 0]
    for t in range(1, j):
        wander[:, t] = decay * wander[:, t - 1] + 0.35 * np.sqrt(1 - decay ** 2) * z[:, t]
    sev = s0[:, None] + rate[:, None] * tau[None, :] ** shape[:, None] + wander
    lam = np.array([1.0, 0.8, 0.7, 0.8])
    organ_off = g.normal(0, 0.7, (n, 4))
    organ_rate = g.normal(0, 0.5, (n, 4))
    organ = lam[None, None, :] * sev[:, :, None] + organ_off[:, None, :] + organ_rate[:, None, :] * tau[None, :, None]

    # --- individual variability (per subject) --------------------------------------------------
    g = rng["individual"]
    base_off = (g.standard_normal((m, f)) * _INDIV_SD)[subj]
    base_off[:, _GLU] += 25.0 * diabetic
    gain = np.exp(g.normal(0, 0.2, (m, 1)))[subj]
    circ_amp = np.exp(g.normal(0, 0.3, m))[subj]
    if not fl.individual_variability:
        base_off = np.zeros_like(base_off)
        base_off[:, _GLU] += 25.0 * diabetic
        gain = np.ones_like(gain)
        circ_amp = np.ones_like(circ_amp)

    # --- timing of candidate charts -----------------------------------------------------------
    g = rng["timing"]
    slot = np.arange(j)
    clock_slot = (adm_clock[:, None] + slot[None, :]) % 24.0
    shift = np.where((clock_slot >= 7) & (clock_slot < 15), 0, np.where((clock_slot >= 15) & (clock_slot < 23), 1, 2))
    on_hour = g.random((n, j))
    minute_u = g.random((n, j))
    lab_minute = g.integers(0, 60, (n, j))
    spread = np.array([25.0, 35.0, 55.0])[shift] if fl.shift_quality else np.full((n, j), 30.0)
    p_on_hour = np.array([0.55, 0.45, 0.3])[shift] if fl.shift_quality else np.full((n, j), 0.45)
    vit_minute = np.where(on_hour < p_on_hour, 0, np.minimum(59, np.floor(minute_u * spread) + 1)).astype(int)
    if not fl.temporal_variability:
        vit_minute[:] = 0
        lab_minute[:] = 0
    vit_minute[:, -1] = 0
    lab_minute[:, -1] = 0
    t_vit = slot[None, :] * 60 + vit_minute      # minutes
    t_lab = slot[None, :] * 60 + lab_minute

    # --- physiology (float32 for the big episode x slot x variable arrays) -------------------------
    f32 = np.float32
    organ32 = organ.astype(f32)
    load32, base32 = _LOAD.astype(f32), (_BASE[None, :] + base_off).astype(f32)
    gain32 = gain.astype(f32)
    damp32 = _sigmoid(1.0 - sev).astype(f32)  # sicker patients lose their rhythm

    def eta_at(t_min: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Noiseless physiology (n, j, f) on each variable's natural scale at chart times, and
        the asleep flag (n, j)."""
        clock = (adm_clock[:, None] + t_min / 60.0) % 24.0
        eta = np.einsum("njk,fk->njf", organ32, load32)
        eta *= gain32[:, :, None]
        eta += base32[:, None, :]
        if fl.circadian:
            circ = np.cos(2 * np.pi * (clock[:, :, None] - _CIRC_PEAK[None, None, :]) / 24.0).astype(f32)
            circ *= (circ_amp[:, None] * damp32).astype(f32)[:, :, None] * _CIRC_AMP.astype(f32)[None, None, :]
            eta += circ
            del circ
        asleep = np.zeros(clock.shape, dtype=bool)
        if fl.sleep:
            asleep = sleep_window(clock) & (sleep_u < sleep_q[:, None])
            eta += asleep[:, :, None] * _SLEEP_EFF.astype(f32)[None, None, :]
        if fl.meals:
            resp = np.zeros(clock.shape)
            for meal in (8.0, 12.5, 18.0):
                dt = (clock - meal) % 24.0
                resp += (dt / 0.8) * np.exp(1.0 - dt / 0.8)
            eta[:, :, _GLU] += ((eats * meal_amp)[:, None] * resp).astype(f32)
        return eta, asleep

    g = rng["sleep"]
    onset = 23.0 + g.uniform(-1.0, 1.5, n)
    wake = 5.5 + g.uniform(0.0, 1.5, n)
    sleep_q = 0.8 * _sigmoid(-0.7 * s0)   # fragmented; sicker sleep less
    sleep_u = g.random((n, j))

    def sleep_window(clock: np.ndarray) -> np.ndarray:
        return (clock >= onset[:, None] % 24) | (clock < wake[:, None])

    g = rng["meals"]
    eats = (g.random(n) < 0.75 * _sigmoid(-0.8 * s0)).astype(float)
    meal_amp = g.uniform(20, 45, n) * np.where(diabetic, 2.0, 1.0)

    def natural(eta: np.ndarray) -> np.ndarray:
        """Map from the model scale to the natural scale (in place) and clip to physiological ranges."""
        for k in np.nonzero(_LINK == 1)[0]:
            eta[:, :, k] = np.exp(np.minimum(eta[:, :, k], 10))
        for k in np.nonzero(_LINK == 2)[0]:
            eta[:, :, k] = 100.0 - np.exp(np.minimum(eta[:, :, k], 10))
        return np.clip(eta, _LO.astype(f32), _HI.astype(f32), out=eta)

    truth = natural(eta_at(np.broadcast_to(slot[None, :] * 60, (n, j)))[0])
    # fluctuations: AR(1) over slots, correlated across variables, shared by a slot's rows
    g = rng["noise"]
    chol = _corr_cholesky(fl.correlations).astype(f32)
    ar = g.standard_normal((n, j, f), dtype=f32) @ chol.T
    phi, innov = _AR_PHI.astype(f32), np.sqrt(1 - _AR_PHI ** 2).astype(f32)
    ar[:, 0] *= 1
    for t in range(1, j):
        ar[:, t] = phi * ar[:, t - 1] + innov * ar[:, t]
    ar *= _AR_SD.astype(f32)
    eta_v, asleep = eta_at(t_vit)
    meas = g.standard_normal((n, j, f), dtype=f32) * _MEAS_SD.astype(f32)
    if fl.temporal_variability:
        eta_v += ar
        eta_v += meas
    val_v = natural(eta_v)
    eta_l, _ = eta_at(t_lab)
    meas = g.standard_normal((n, j, f), dtype=f32) * _MEAS_SD.astype(f32)
    if fl.temporal_variability:
        eta_l += ar
        eta_l += meas
    val_l = natural(eta_l)
    del ar, meas, eta_v, eta_l

    # artifacts on vitals (temporal variability)
    g = rng["artifacts"]
    art_u = g.random((n, j, 4))
    art_k = g.uniform(0, 1, (n, j))
    if fl.temporal_variability:
        hr, sbp, dbp, spo2 = _V["Heart Rate"], _V["Systolic blood pressure"], _V["Diastolic blood pressure"], _V["Oxygen saturation"]
        a = art_u[:, :, 0] < 0.004
        val_v[:, :, hr] = np.where(a, val_v[:, :, hr] * np.where(art_k < 0.7, 1.4 + 0.6 * art_k, 0.5), val_v[:, :, hr])
        a = art_u[:, :, 1] < 0.004
        val_v[:, :, spo2] = np.where(a, 55 + 25 * art_k, val_v[:, :, spo2])
        a = art_u[:, :, 2] < 0.003
        val_v[:, :, sbp] = np.where(a, val_v[:, :, sbp] + 30 + 40 * art_k, val_v[:, :, sbp])
        val_v[:, :, dbp] = np.where(a, val_v[:, :, dbp] + 15 + 20 * art_k, val_v[:, :, dbp])
        np.clip(val_v, _LO.astype(f32), _HI.astype(f32), out=val_v)
    # terminal-digit preference for blood pressure in the evening and at night
    if fl.shift_quality:
        rnd = (art_u[:, :, 3] < np.array([0.05, 0.25, 0.45])[shift])[:, :, None]
        bp = [_V["Systolic blood pressure"], _V["Diastolic blood pressure"]]
        val_v[:, :, bp] = np.where(rnd, np.round(val_v[:, :, bp] / 5.0) * 5.0, val_v[:, :, bp])

    # --- missingness: vitals ------------------------------------------------------------------------
    g = rng["vital_missing"]
    u_check = g.random((n, j))
    u_var = g.random((n, j, 6))
    u_temp = g.random((n, j))
    u_fs = g.random((n, j))
    drop_start = g.random((n, j)) < 0.012
    drop_len = 1 + g.geometric(0.45, (n, j)).clip(max=6)
    hr_i, sbp_i = _V["Heart Rate"], _V["Systolic blood pressure"]
    shock = val_v[:, :, hr_i] / val_v[:, :, sbp_i]
    shock_z = (shock - 0.72) / 0.2
    p_check = np.ones((n, j))
    if fl.mcar:
        p_check *= 0.97
    if fl.shift_quality:
        p_check *= np.array([1.0, 0.96, 0.88])[shift]
    if fl.sleep:
        p_check *= np.where(asleep, 0.8, 1.0)
    if fl.mar:
        p_check *= _sigmoid(3.3 + 1.5 * shock_z)
    checked = u_check < p_check
    if fl.temporal_variability:
        ends = np.where(drop_start, slot[None, :] + drop_len, -1)
        dropped = np.maximum.accumulate(ends, axis=1) > slot[None, :]
        checked &= ~dropped
    abn = np.abs(val_v[:, :, :6] - _NORMAL[:6].astype(f32)) / _ABN_SCALE[:6].astype(f32)
    q = np.ones((n, j, 6))
    if fl.mcar:
        q *= np.array([0.99, 0.93, 0.93, 0.95, 1.0, 0.97])
    if fl.mnar:
        q *= 1.0 - 0.2 * np.exp(-2.0 * abn)
    rec_v = checked[:, :, None] & (u_var < q)
    temp_i = _V["Temperature"]
    sched_t = (np.floor(clock_slot).astype(int) % 4) == 0
    p_t = np.where(sched_t, 0.92, 0.04)
    if fl.mnar:
        p_t = p_t + (1 - p_t) * 0.8 * _sigmoid((np.abs(val_v[:, :, temp_i] - 37.0) - 1.2) / 0.2)
    if fl.mcar:
        p_t = p_t * 0.95
    rec_v[:, :, temp_i] = (u_temp < p_t) & (checked | sched_t)
    # point-of-care glucose: insulin-treated patients every 6 h, plus re-checks when high (MNAR)
    sched_fs = ((np.floor(clock_slot).astype(int) % 6) == 0) & (diabetic | (s0 > 1.0))[:, None]
    p_fs = np.where(sched_fs, 0.85, 0.0)
    if fl.mnar:
        p_fs = p_fs + (1 - p_fs) * 0.5 * _sigmoid((val_v[:, :, _GLU] - 200.0) / 25.0)
    if fl.mcar:
        p_fs = p_fs * 0.95
    rec_fs = u_fs < p_fs

    # --- missingness: labs --------------------------------------------------------------------------
    g = rng["lab_missing"]
    u_bmp = g.random((n, j))
    u_cbc = g.random((n, j))
    u_lac = g.random((n, j))
    u_comp = g.random((n, j, f))
    morning = (np.floor(clock_slot).astype(int) % 24) == 4
    first = slot[None, :] == 0
    p_bmp = np.where(first, 0.92, np.where(morning, 0.9, 0.03))
    shock_l = (val_l[:, :, hr_i] / val_l[:, :, sbp_i] - 0.72) / 0.2
    if fl.mar:
        p_bmp = 1 - (1 - p_bmp) * (1 - 0.12 * _sigmoid(2.5 * (shock_l - 1.0)))
    bmp = u_bmp < p_bmp
    cbc = np.where(bmp, u_cbc < 0.85, u_cbc < 0.015)
    p_lac = np.where(first, 0.6, 0.03)
    if fl.mar:
        p_lac = 1 - (1 - p_lac) * (1 - 0.1 * _sigmoid(2.5 * (shock_l - 1.0)))
    if fl.mnar:
        p_lac = 1 - (1 - p_lac) * (1 - 0.25 * _sigmoid((val_l[:, :, _LACT] - 3.0) / 0.5))
    lac = u_lac < p_lac
    rec_l = np.zeros((n, j, f), dtype=bool)
    rec_l[:, :, _BMP] = bmp[:, :, None]
    rec_l[:, :, _CBC] = cbc[:, :, None]
    rec_l[:, :, _LACT] = lac
    if fl.mcar:
        rec_l &= u_comp < 0.97

    # --- assemble rows: vital rows and lab rows, merged when at the same minute -----------------------
    vals = np.full((n, 2 * j, f), np.nan, dtype=np.float32)
    vals[:, :j, :6] = np.where(rec_v, val_v[:, :, :6], np.nan)
    vals[:, :j, _GLU] = np.where(rec_fs, val_v[:, :, _GLU], np.nan)
    vals[:, j:, 6:] = np.where(rec_l[:, :, 6:], val_l[:, :, 6:], np.nan)
    same = (t_lab == t_vit)
    lab_block = vals[:, j:, 6:]
    vit_block = vals[:, :j, 6:]
    vals[:, :j, 6:] = np.where(same[:, :, None] & ~np.isnan(lab_block), lab_block, vit_block)
    vals[:, j:, 6:] = np.where(same[:, :, None], np.nan, lab_block)
    del val_v, val_l
    # round to charting precision
    scale = (10.0 ** _DEC).astype(np.float32)
    vals = np.round(vals * scale) / scale
    times = np.concatenate([t_vit, t_lab], axis=1)
    has = ~np.all(np.isnan(vals), axis=2)
    key = np.where(has, times, 10 ** 6) * 2 + np.concatenate([np.zeros((n, j), int), np.ones((n, j), int)], axis=1)
    order = np.argsort(key, axis=1, kind="stable")
    n_rows = has.sum(axis=1)
    width = max(int(n_rows.max()), 1)
    order = order[:, :width]
    times = np.take_along_axis(times, order, axis=1)
    vals = np.take_along_axis(vals, order[:, :, None], axis=1)
    valid = np.arange(width)[None, :] < n_rows[:, None]
    times = np.where(valid, times, -1).astype(np.int32)

    # --- mortality ----------------------------------------------------------------------------------
    c_end = organ[:, -1, :]
    s_end = sev[:, -1]
    emergency = (adm == 0).astype(float)
    if fl.multivariate_mortality:
        lin = (W_CARDIO * c_end[:, 0] + W_RESP * c_end[:, 1] + W_RENAL * c_end[:, 2] + W_INFL * c_end[:, 3]
               + W_AGE * age_z + W_EMERG * emergency + W_AGE_SEV * age_z * s_end + W_RATE * rate)
    else:
        lin = W_UNIVARIATE * s_end
    b0 = _calibrate_intercept(lin, cfg.mortality)
    risk = _sigmoid(b0 + lin)
    y = (rng["label"].random(n) < risk).astype(int)
    split = _assign_splits(subj, y, cfg.split, rng["split"])

    stay = [f"{ids[s]}_episode{e}_timeseries.csv" for s, e in zip(subj, episode)]
    latent = pd.DataFrame({
        "stay": stay, "split": np.array(SPLITS)[split], "subject_id": ids[subj], "episode": episode,
        "age": np.round(age, 1), "sex": np.where(male, "M", "F"),
        "admission_type": np.array(ADMISSION_TYPES)[adm], "admission_hour": np.round(adm_clock, 4),
        "diabetic": diabetic.astype(int), "baseline_severity": s0, "trajectory_rate": rate,
        "trajectory_shape": shape, "severity_48h": s_end,
        **{f"{o}_48h": c_end[:, k] for k, o in enumerate(ORGANS)},
        "true_risk": risk, "y": y,
    })
    return IcuCohort(config=cfg, latent=latent, times=times, values=vals, n_rows=n_rows.astype(np.int64),
                     truth=truth, severity=sev.astype(np.float32), intercept=float(b0))


# ----------------------------------------------------------------------------------------------
# Writing
# ----------------------------------------------------------------------------------------------

HEADER = "Hours," + ",".join(VARIABLES) + "\n"


def _cell_table(lo: float, hi: float, dec: int, last: bool) -> tuple[np.ndarray, np.ndarray, int]:
    """Pre-formatted cells for every value from lo to hi at `dec` decimals (plus an empty cell)."""
    lo_c, hi_c = int(round(lo * 10 ** dec)), int(round(hi * 10 ** dec))
    end = "\n" if last else ","
    cells = [f"{c / 10 ** dec:.{dec}f}{end}" for c in range(lo_c, hi_c + 1)] + [end]
    arr = np.array([c.encode() for c in cells])
    return arr, np.char.str_len(arr).astype(np.int64), lo_c


def _format_rows(times: np.ndarray, values: np.ndarray, tables: list) -> tuple[bytes, np.ndarray]:
    """Format rows (Hours in minutes, values) into CSV bytes; returns bytes and each row's length."""
    r = len(times)
    cols = []
    lens = np.zeros(r, dtype=np.int64)
    width = 0
    for k, (arr, ln, lo_c) in enumerate(tables):
        if k == 0:
            idx = times.astype(np.int64) - lo_c
        else:
            v = values[:, k - 1]
            dec = int(_DEC[k - 1])
            code = np.rint(np.nan_to_num(v, nan=0.0).astype(np.float64) * 10 ** dec).astype(np.int64) - lo_c
            idx = np.where(np.isnan(v), len(arr) - 1, np.clip(code, 0, len(arr) - 2))
        cols.append(arr[idx])
        lens += ln[idx]
        width = max(width, arr.dtype.itemsize)
    mat = np.empty((r, len(tables)), dtype=f"S{width}")
    for k, c in enumerate(cols):
        mat[:, k] = c
    return mat.tobytes().replace(b"\x00", b""), lens


def _tables() -> list:
    hours = [f"{mnt // 60 + (mnt % 60) / 60:.4f},".encode() for mnt in range(0, 48 * 60 + 1)]
    harr = np.array(hours)
    tabs = [(harr, np.char.str_len(harr).astype(np.int64), 0)]
    for k in range(len(VARIABLES)):
        tabs.append(_cell_table(float(_LO[k]), float(_HI[k]), int(_DEC[k]), last=k == len(VARIABLES) - 1))
    return tabs


def write_cohort(cohort: IcuCohort, folder: Path, progress: bool = False, chunk: int = 2000) -> None:
    """Write a cohort's files into an existing (empty) folder in the benchmark layout.

    `chunk` only bounds memory; the bytes written do not depend on it.
    """
    lat = cohort.latent
    tabs = _tables()
    for s in SPLITS:
        (folder / s).mkdir(parents=True, exist_ok=True)
    n = len(lat)
    stays = lat["stay"].to_numpy()
    splits = lat["split"].to_numpy()
    for a in progress_bar(range(0, n, chunk), desc="icu: writing episode files", unit="chunk", enabled=progress):
        b = min(n, a + chunk)
        nr = cohort.n_rows[a:b]
        valid = np.arange(cohort.times.shape[1])[None, :] < nr[:, None]
        buf, lens = _format_rows(cohort.times[a:b][valid], cohort.values[a:b][valid], tabs)
        ends = np.cumsum(lens)
        row_end = np.cumsum(nr)
        byte_end = np.where(row_end > 0, ends[np.maximum(row_end - 1, 0)], 0) if len(ends) else np.zeros(len(nr), int)
        byte_start = np.concatenate([[0], byte_end[:-1]])
        head = HEADER.encode()
        for i in range(b - a):
            with open(folder / splits[a + i] / stays[a + i], "wb") as fh:
                fh.write(head + buf[byte_start[i]:byte_end[i]])
    for s in SPLITS:
        part = lat[lat["split"] == s].sort_values("stay", kind="stable")
        (folder / s / "listfile.csv").write_text(
            "stay,y_true\n" + "".join(f"{a},{b}\n" for a, b in zip(part["stay"], part["y"])))
        (folder / s / "ground_truth.csv").write_text(
            "stay,true_risk\n" + "".join(f"{a},{b:.6f}\n" for a, b in zip(part["stay"], part["true_risk"])))
    lat_out = lat.sort_values(["split", "stay"], kind="stable")
    lat_out.to_csv(folder / "latent.csv", index=False, float_format="%.6f", lineterminator="\n")


def _resolve_config(n_episodes: int | None, split: Sequence[int] | None, mortality: float | None,
                    seed: int, config: IcuConfig | None) -> IcuConfig:
    """Combine keyword arguments with a config: arguments that are not None (and `seed`) win."""
    base = config or IcuConfig()
    changes: dict = {"seed": seed}
    if n_episodes is not None:
        if isinstance(n_episodes, bool) or int(n_episodes) != n_episodes or n_episodes < 1:
            raise ValueError(f"n_episodes must be a positive integer, got {n_episodes!r}")
        changes["n_episodes"] = int(n_episodes)
        changes["split"] = tuple(split) if split is not None else proportional_split(int(n_episodes), base.split)
    elif split is not None:
        changes["split"] = tuple(split)
        changes["n_episodes"] = int(sum(split)) if all(int(s) >= 0 for s in split) else base.n_episodes
    if mortality is not None:
        changes["mortality"] = mortality
    return dataclasses.replace(base, **changes)


def generate_icu_dataset(out: str | Path, *, n_episodes: int | None = None, split: Sequence[int] | None = None,
                         mortality: float | None = None, seed: int = 0, overwrite: bool = False,
                         progress: bool = True, config: IcuConfig | None = None) -> Path:
    """Simulate a cohort and write it atomically to `out` in the MIMIC-III benchmark layout.

    Writes `{train,val,test}/listfile.csv`, `ground_truth.csv` and one `*_timeseries.csv` per
    episode, plus `latent.csv` (the latent state; never a feature) and `metadata.json`
    (parameters, realism flags, counts, timings). `n_episodes` alone splits in the default
    proportions; `seed` always sets the config's seed. Refuses to replace an existing `out`
    unless `overwrite` is true. Returns the dataset folder.
    """
    cfg = _resolve_config(n_episodes, split, mortality, seed, config)
    out = Path(out)
    t0 = time.perf_counter()
    if progress:
        _log.info(f"icu: simulating {cfg.n_episodes:,} episodes (seed {cfg.seed})")
    with atomic_directory(out, overwrite=overwrite) as tmp:
        cohort = simulate_icu(cfg)
        t_sim = time.perf_counter() - t0
        if progress:
            _log.info(f"icu: simulated in {t_sim:.1f} s; writing files")
        write_cohort(cohort, tmp, progress=progress)
        lat = cohort.latent
        meta = {
            "generator": "ehrlib.icu.synth",
            "config": {"n_episodes": cfg.n_episodes, "split": list(cfg.split), "mortality": cfg.mortality,
                       "seed": cfg.seed, "repeat_subject_rate": cfg.repeat_subject_rate},
            "realism": dataclasses.asdict(cfg.realism),
            "variables": list(VARIABLES),
            "units": UNITS,
            "intercept": round(cohort.intercept, 10),
            "counts": {s: {"episodes": int((lat["split"] == s).sum()), "deaths": int(lat.loc[lat["split"] == s, "y"].sum()),
                           "subjects": int(lat.loc[lat["split"] == s, "subject_id"].nunique())} for s in SPLITS},
            "prevalence": float(lat["y"].mean()),
            "mean_true_risk": float(lat["true_risk"].mean()),
            "charted_rows": int(cohort.n_rows.sum()),
            "generation": {"simulate_seconds": round(t_sim, 3),
                           "total_seconds": round(time.perf_counter() - t0, 3)},
        }
        (tmp / "metadata.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
    if progress:
        _log.info(f"icu: wrote {out} ({cfg.n_episodes:,} episodes, prevalence {lat['y'].mean():.3f}) in "
              f"{time.perf_counter() - t0:.1f} s")
    return out


def dataset_digest(folder: str | Path) -> str:
    """SHA-256 over every file of a dataset (names and bytes), ignoring metadata.json's timings and
    hidden files (such as a reader's cache)."""
    folder = Path(folder)
    h = hashlib.sha256()
    for p in sorted(folder.rglob("*")):
        if not p.is_file() or any(part.startswith(".") for part in p.relative_to(folder).parts):
            continue  # readers may leave hidden caches beside the files
        data = p.read_bytes()
        if p.name == "metadata.json":
            meta = json.loads(data)
            meta.pop("generation", None)
            data = json.dumps(meta, sort_keys=True).encode()
        h.update(str(p.relative_to(folder)).encode() + b"\0" + data + b"\0")
    return h.hexdigest()


# ----------------------------------------------------------------------------------------------
# Difficulty of the task
# ----------------------------------------------------------------------------------------------

def window_means(hourly: np.ndarray, start: int = 0, stop: int | None = None) -> np.ndarray:
    """Per-variable means of hourly values (n, T, F) over hours [start, stop), NaN-aware -> (n, F)."""
    part = hourly[:, start:stop]
    counts = np.sum(~np.isnan(part), axis=1)
    sums = np.nansum(part, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


def lr_scores(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray) -> np.ndarray:
    """Test-set probabilities of an L2 logistic regression fitted on train only (train-mean
    imputation and train standardisation; the test rows are only transformed and scored)."""
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    model = make_pipeline(SimpleImputer(strategy="mean", keep_empty_features=True), StandardScaler(),
                          LogisticRegression(max_iter=2000))
    model.fit(x_train, y_train)
    return model.predict_proba(x_test)[:, 1]


def lr_auroc(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, y_test: np.ndarray) -> float:
    """Test AUROC of `lr_scores` (a logistic regression fitted on train only)."""
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y_test, lr_scores(x_train, y_train, x_test)))


def difficulty(hourly: dict[str, np.ndarray], y: dict[str, np.ndarray], risk: dict[str, np.ndarray]) -> dict[str, float]:
    """How hard the task is: AUROC of the true risk (the best any model can do) and of logistic
    regressions on 48-hour means and on means of the first and last 12 hours, fitted on the train
    split and scored on the test split. `hourly` maps split -> (n, 48, 15) hourly values (NaN = not
    observed); `y` and `risk` map split -> labels and true risks."""
    from sklearn.metrics import roc_auc_score

    feats = {s: window_means(h) for s, h in hourly.items()}
    traj = {s: np.hstack([feats[s], window_means(h, 0, 12), window_means(h, h.shape[1] - 12, None)])
            for s, h in hourly.items()}
    all_y = np.concatenate([y[s] for s in y])
    all_r = np.concatenate([risk[s] for s in y])
    return {
        "auroc_true_risk_all": float(roc_auc_score(all_y, all_r)),
        "auroc_true_risk_test": float(roc_auc_score(y["test"], risk["test"])),
        "auroc_lr_means_test": lr_auroc(feats["train"], y["train"], feats["test"], y["test"]),
        "auroc_lr_means_first_last_12h_test": lr_auroc(traj["train"], y["train"], traj["test"], y["test"]),
    }


def cohort_difficulty(cohort: IcuCohort) -> dict[str, float]:
    """`difficulty` for an in-memory cohort (hourly binning by `IcuCohort.hourly`)."""
    hourly, _ = cohort.hourly()
    lat = cohort.latent
    sel = {s: (lat["split"] == s).to_numpy() for s in SPLITS}
    return difficulty({s: hourly[m] for s, m in sel.items()}, {s: lat["y"].to_numpy()[m] for s, m in sel.items()},
                      {s: lat["true_risk"].to_numpy()[m] for s, m in sel.items()})
