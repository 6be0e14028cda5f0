"""The mechanistic synthetic ICU generator: the simulation steps, from subjects to charted rows.
Latent state -> physiology -> charting, and separately latent state -> true risk -> label, drawn last
from its own random stream: `simulate_icu(IcuConfig(...))` runs the steps below in order (`draw_subjects`
... `assemble_rows`), every realism feature a switch in `RealismFlags`, every component on its own
random stream, so the same config gives identical arrays. The variable schema lives in
`ehrlib.icu.schema`, the mortality model in `ehrlib.icu.risk`; the data card (`book/cards/icu-data.md`)
describes the model, every mechanism and its parameters, and chapter 01 shows them.
"""

from __future__ import annotations

import dataclasses
import warnings
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import pandas as pd

from ehrlib.icu.defaults import DEFAULT_EPISODES, DEFAULT_MORTALITY, DEFAULT_SPLIT
from ehrlib.icu.layout import SPLITS
from ehrlib.icu.risk import calibrate_intercept, risk_score, sigmoid
from ehrlib.icu.schema import (ADMISSION_TYPES, ALL_VARIABLES, DECIMALS, EXTRA_SPECS, LOWER, N_SLOTS, ORGANS, UPPER,
                               VARIABLE_SETS, VARIABLES)


# How strongly the organ factors move the charted variables: calibrated so that each variable's 48-hour mean separates
# survivors from non-survivors about as weakly as in real ICU stays (PhysioNet 2012, set B; see the data card). The same
# organ failure shows differently in different patients, and treatment masks part of it.
# Per-variable physiology. link: 0 identity, 1 log, 2 log of (100 - value).
_V = {name: i for i, name in enumerate(VARIABLES)}
_LINK = np.array([0, 0, 0, 0, 0, 2, 1, 1, 1, 0, 0, 0, 0, 0, 1])
_BASE = np.array([87.5, 117.0, 59.0, 19.8, 36.75, np.log(2.0), np.log(1.45), np.log(0.95), np.log(9.8),
                  10.6, 117.0, 4.08, 139.0, 24.8, np.log(19.0)])
#                 C       R      K      I
_LOAD = np.array([[1.0, 0.63, 0, 1.0],        # HR
                  [-4.41, 0, 0, -0.63],    # SBP
                  [-2.36, 0, 0, -0.474],    # DBP
                  [0.45, 1.2, 0, 0.45],        # RR
                  [-0.027, 0, 0, 0.12],     # Temp
                  [0.0228, 0.405, 0, 0],    # log(100 - SpO2): untreated respiratory failure desaturates
                  [0.108, 0.026, 0, 0.039],    # log lactate
                  [0.036, 0, 0.171, 0],     # log creatinine
                  [0, 0, 0, 0.07],             # log WBC
                  [-0.156, 0, 0, -0.09],    # Hb
                  [2.7, 0, 0, 4.5],        # glucose
                  [0.0228, 0, 0.054, 0],     # K
                  [0, 0, -0.09, -0.18],     # Na
                  [-0.72, 0, -0.54, 0],      # HCO3
                  [0.045, 0, 0.157, 0]])   # log BUN
# Age's own effect on the model scale, per standard deviation of age (urea and creatinine rise with age).
_AGE_EFFECT = np.array([0, 0, 0, 0, 0, 0, 0, 0.04, 0, 0, 0, 0, 0, 0, 0.12])
_INDIV_SD = np.array([18.0, 24.0, 14.0, 6.0, 0.6, 0.6, 0.4, 0.7, 0.5, 2.6, 36.0, 0.7, 6.0, 5.0, 0.7])
_AR_SD = np.array([5.0, 8.0, 5.0, 2.5, 0.25, 0.3, 0.15, 0.05, 0.1, 0.4, 15.0, 0.25, 1.5, 1.2, 0.05])
_AR_PHI = np.array([0.6] * 6 + [0.85] * 9)
_MEAS_SD = np.array([2.0, 4.0, 3.0, 1.5, 0.15, 0.15, 0.1, 0.05, 0.07, 0.3, 8.0, 0.15, 1.0, 0.8, 0.05])
# Circadian amplitude (natural scale) and peak clock hour.
_CIRC_AMP = np.array([5.0, 6.0, 4.0, 1.0, 0.3, 0.0, 0, 0, 0, 0, 8.0, 0, 0, 0, 0])
_CIRC_PEAK = np.array([16.0, 15.0, 15.0, 15.0, 18.0, 0, 0, 0, 0, 0, 7.0, 0, 0, 0, 0])
_SLEEP_EFF = np.array([-6.0, -8.0, -5.0, -2.0, -0.1, 0.1, 0, 0, 0, 0, 0, 0, 0, 0, 0])
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


@dataclass(frozen=True)
class RealismFlags:
    """Switches for each realism feature (all on by default); the data card describes each one."""

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
    oxygen_therapy: bool = True
    vasopressors: bool = True
    acute_events: bool = True
    postoperative: bool = True
    u_shaped_risk: bool = True
    limitation_of_treatment: bool = True
    fluids: bool = True

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
    `repeat_subject_rate` is the share of subjects with more than one ICU episode (before a death
    ends a history); `variables` is "source" (the source document's 15) or "benchmark" (the real
    MIMIC-III benchmark's 17).
    """

    n_episodes: int = DEFAULT_EPISODES
    split: tuple[int, int, int] = DEFAULT_SPLIT
    mortality: float = DEFAULT_MORTALITY
    seed: int = 0
    realism: RealismFlags = field(default_factory=RealismFlags)
    repeat_subject_rate: float = 0.1
    variables: str = "source"

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
        if self.variables not in VARIABLE_SETS:
            raise ValueError(f"variables must be one of {sorted(VARIABLE_SETS)}, got {self.variables!r}")


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
    `values`: (n, R, F) float32 charted values, NaN where not measured, in the order of `variables`
    (the source's 15 or the benchmark's 17; Glasgow verbal 0 means intubated, "1.0 ET/Trach").
    `n_rows`: (n,) number of charted rows per episode.
    `truth`: (n, 49, 15) float32 noiseless physiology at the whole hours 0..48 (for figures).
    `severity`: (n, 49) the latent severity S(t) at the whole hours.
    `organ`: (n, 49, 4) the latent organ factors (cardiovascular, respiratory, renal, inflammatory).
    """

    config: IcuConfig
    latent: pd.DataFrame
    times: np.ndarray
    values: np.ndarray
    n_rows: np.ndarray
    truth: np.ndarray
    severity: np.ndarray
    intercept: float
    organ: np.ndarray | None = None

    @property
    def variables(self) -> tuple[str, ...]:
        """The variable names, in file column order."""
        return VARIABLE_SETS[self.config.variables]

    def episode_frame(self, i: int) -> pd.DataFrame:
        """The charted rows of episode `i` as a DataFrame (`Hours` then the variables)."""
        k = int(self.n_rows[i])
        df = pd.DataFrame(self.values[i, :k], columns=list(self.variables))
        df.insert(0, "Hours", self.times[i, :k] / 60.0)
        return df

    def long(self) -> pd.DataFrame:
        """Long format: one row per measured value (episode index, stay, hours, variable, value)."""
        valid = np.arange(self.times.shape[1])[None, :] < self.n_rows[:, None]
        ep, row, var = np.nonzero(valid[:, :, None] & ~np.isnan(self.values))
        return pd.DataFrame({
            "episode": ep, "stay": self.latent["stay"].to_numpy()[ep], "hours": self.times[ep, row] / 60.0,
            "variable": pd.Categorical.from_codes(var, categories=list(self.variables)),
            "value": self.values[ep, row, var],
        })

    def hourly(self) -> tuple[np.ndarray, np.ndarray]:
        """(n, 48, F) hourly means of charted values (hour h holds charts in [h, h+1), 48 in 47) and mask."""
        n, r, f = self.values.shape
        hour = np.clip(self.times // 60, 0, 47)
        valid = (np.arange(r)[None, :] < self.n_rows[:, None])
        obs = valid[:, :, None] & ~np.isnan(self.values)
        ep, row, var = np.nonzero(obs)
        flat = (ep * 48 + hour[ep, row]) * f + var
        sums = np.bincount(flat, weights=self.values[ep, row, var], minlength=n * 48 * f).reshape(n, 48, f)
        counts = np.bincount(flat, minlength=n * 48 * f).reshape(n, 48, f)
        with np.errstate(invalid="ignore"):
            means = sums / counts
        return means.astype(np.float32), counts > 0

    def means(self) -> np.ndarray:
        """(n, F) per-variable means over the 48 hours of the charted values (NaN if never charted)."""
        valid = (np.arange(self.values.shape[1])[None, :] < self.n_rows[:, None])[:, :, None]
        v = np.where(valid, self.values, np.nan)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return np.nanmean(v, axis=1)

    def observed_fraction(self) -> pd.Series:
        """Share of episodes x hours (48 hourly bins) with at least one value, per variable."""
        _, mask = self.hourly()
        return pd.Series(mask.mean(axis=(0, 1)), index=list(self.variables))


# ----------------------------------------------------------------------------------------------
# Simulation
# ----------------------------------------------------------------------------------------------

_STREAMS = ("subjects", "latent", "trajectory", "individual", "circadian", "sleep", "meals", "noise",
            "timing", "vital_missing", "lab_missing", "artifacts", "split", "label", "events", "treatment",
            "history", "extras", "fluids")


def _streams(seed: int) -> dict[str, np.random.Generator]:
    """One independent generator per model component, so switching a feature off or changing the
    target prevalence never shifts the random numbers any other component sees."""
    children = np.random.SeedSequence(seed).spawn(len(_STREAMS))
    return {name: np.random.default_rng(child) for name, child in zip(_STREAMS, children)}


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


def _place_multi_episode_subjects(subj: np.ndarray, y: np.ndarray, sizes: np.ndarray, out: np.ndarray,
                                  rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Place every subject with several episodes (largest first, ties in random order) in the split with
    the most room relative to its size, nudged towards the split whose deaths lie furthest below the
    overall prevalence; writes the split into `out` and returns each split's remaining room and deaths."""
    m = int(subj.max()) + 1
    count = np.bincount(subj, minlength=m)
    deaths = np.bincount(subj, weights=y, minlength=m).astype(int)
    p_all = y.mean()
    room, pos = sizes.copy(), np.zeros(3, dtype=int)
    first_ep = np.concatenate([[0], np.cumsum(count)[:-1]])  # episodes of a subject are contiguous
    multi = np.nonzero(count > 1)[0]
    multi = multi[rng.permutation(len(multi))]
    multi = multi[np.argsort(-count[multi], kind="stable")]
    for s in multi:  # a few thousand at most; each decision depends on the previous ones
        fits = room >= count[s]
        if not fits.any():
            raise ValueError("cannot place a multi-episode subject: split sizes too small for this cohort")
        score = np.where(fits, room / np.maximum(sizes, 1) + 0.5 * (p_all * (sizes - room) - pos) / np.maximum(sizes, 1), -np.inf)
        k = int(np.argmax(score))
        room[k] -= count[s]
        pos[k] += deaths[s]
        out[first_ep[s]:first_ep[s] + count[s]] = k
    return room, pos


def _single_episodes(subj: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """The episodes of single-episode subjects, (deaths, survivors), each in random order."""
    m = int(subj.max()) + 1
    single = np.nonzero(np.bincount(subj, minlength=m) == 1)[0]
    ep_of = np.full(m, -1)
    ep_of[subj] = np.arange(len(subj))  # for singles, the one episode
    single_ep = ep_of[single]
    sp, sn = single_ep[y[single_ep] == 1], single_ep[y[single_ep] == 0]
    return sp[rng.permutation(len(sp))], sn[rng.permutation(len(sn))]


def _deaths_per_split(n_deaths: int, want: np.ndarray, room: np.ndarray) -> np.ndarray:
    """How many of `n_deaths` single-episode deaths each split takes: the floor of what brings it to the
    overall prevalence (`want`, within 0 and its `room`), then one more or fewer at a time, largest
    remainder first, until exactly `n_deaths` are placed."""
    ideal = np.clip(want, 0, room)
    t = np.floor(ideal).astype(int)
    diff = n_deaths - t.sum()
    order = np.argsort(-(ideal - t), kind="stable")
    while diff != 0:
        changed = False
        for k in (order if diff > 0 else order[::-1]):
            if diff > 0 and t[k] < room[k]:
                t[k], diff, changed = t[k] + 1, diff - 1, True
            elif diff < 0 and t[k] > 0:
                t[k], diff, changed = t[k] - 1, diff + 1, True
            if diff == 0:
                break
        if not changed:
            raise AssertionError("cannot stratify splits")
    return t


def _assign_splits(subj: np.ndarray, y: np.ndarray, sizes: Sequence[int], rng: np.random.Generator) -> np.ndarray:
    """Assign episodes to splits by subject, with exact sizes and outcome stratification.

    Subjects with several episodes are placed first (`_place_multi_episode_subjects`); single-episode
    subjects then fill each split's remaining room with the number of deaths that brings the split's
    prevalence closest to the overall prevalence (`_deaths_per_split`).
    """
    sizes = np.asarray(sizes, dtype=int)
    out = np.full(len(subj), -1, dtype=int)
    room, pos = _place_multi_episode_subjects(subj, y, sizes, out, rng)
    sp, sn = _single_episodes(subj, y, rng)
    if room.sum() != len(sp) + len(sn):
        raise AssertionError("split bookkeeping error")
    t = _deaths_per_split(len(sp), y.mean() * sizes - pos, room)
    ip = np.concatenate([[0], np.cumsum(t)])
    ineg = np.concatenate([[0], np.cumsum(room - t)])
    for k in range(3):
        out[sp[ip[k]:ip[k + 1]]] = k
        out[sn[ineg[k]:ineg[k + 1]]] = k
    return out


@dataclass
class _Subjects:
    """Who each episode belongs to and the admission-time latent state (one entry per episode)."""

    subj: np.ndarray        # subject index (0..m-1), episodes of a subject contiguous
    episode: np.ndarray     # 1-based episode number within the subject
    ids: np.ndarray         # (m,) subject ids
    age: np.ndarray
    age_z: np.ndarray
    male: np.ndarray
    adm: np.ndarray         # index into ADMISSION_TYPES
    adm_clock: np.ndarray   # admission clock hour (fractional)
    s0: np.ndarray          # baseline severity
    diabetic: np.ndarray


@dataclass
class _Course:
    """The latent 48-hour course: severity S(t) and the four organ factors at hourly slots 0..48."""

    rate: np.ndarray
    shape: np.ndarray
    sev: np.ndarray    # (n, 49)
    organ: np.ndarray  # (n, 49, 4)


@dataclass
class _Person:
    """Patient-specific physiology: set points, gains, rhythms, sleep and meals."""

    base_off: np.ndarray
    gain: np.ndarray
    circ_amp: np.ndarray
    onset: np.ndarray
    wake: np.ndarray
    sleep_q: np.ndarray
    sleep_u: np.ndarray
    eats: np.ndarray
    meal_amp: np.ndarray
    offset: np.ndarray | None = None  # (n, 49, 15) treatment and post-operative shifts (`care_offsets`)


@dataclass
class _Schedule:
    """Candidate chart times: one vital check and one lab draw per hourly slot (minutes since admission)."""

    clock_slot: np.ndarray  # (n, 49) clock hour at each slot
    shift: np.ndarray       # (n, 49) nursing shift index
    t_vit: np.ndarray
    t_lab: np.ndarray


# Admission clock-hour weights by admission type: emergency peaks afternoon/evening, elective after
# surgery 10-18 h, urgent uniform.
_ADMISSION_HOUR_WEIGHTS = {
    0: np.array([2, 2, 1.6, 1.4, 1.2, 1.1, 1.2, 1.6, 2.4, 3.2, 3.6, 3.8, 4, 4.2, 4.4, 4.6, 4.8, 5, 5, 4.6, 4.2, 3.6, 3, 2.5]),
    1: np.full(24, 1.0),
    2: np.array([.2, .2, .2, .2, .2, .3, .5, 1, 2, 3, 5, 6, 7, 7, 7, 6.5, 6, 5, 3, 2, 1, .6, .4, .3]),
}


def draw_subjects(cfg: IcuConfig, rng: dict[str, np.random.Generator]) -> _Subjects:
    """Step 1: subjects and their episodes, demographics, admission type and clock time, baseline
    severity (from age and admission type) and diabetes."""
    n = cfg.n_episodes
    subj, episode, ids = _subjects(n, cfg.repeat_subject_rate, rng["subjects"])
    m = len(ids)
    g = rng["latent"]
    age_subj = np.clip(g.normal(64.0, 16.5, m), 18, 95)
    male_subj = g.random(m) < 0.56
    age = np.clip(age_subj[subj] + (episode - 1) * g.uniform(0.0, 2.0, n), 18, 95)
    adm = np.searchsorted(np.cumsum([0.72, 0.10, 1.0]), g.random(n), side="right").clip(0, 2)
    u_hour = g.random(n)
    adm_clock = np.empty(n)
    for a, w in _ADMISSION_HOUR_WEIGHTS.items():
        cdf = np.cumsum(w) / w.sum()
        adm_clock[adm == a] = np.searchsorted(cdf, u_hour[adm == a], side="right").clip(0, 23)
    adm_clock = adm_clock + g.integers(0, 60, n) / 60.0
    age_z = (age - 64.0) / 16.5
    s0 = 0.45 * age_z + np.array([0.25, 0.1, -0.6])[adm] + g.normal(0, 1.0, n)
    diabetic = g.random(n) < 0.28
    return _Subjects(subj=subj, episode=episode, ids=ids, age=age, age_z=age_z, male=male_subj[subj], adm=adm,
                     adm_clock=adm_clock, s0=s0, diabetic=diabetic)


def draw_course(sub: _Subjects, rng: dict[str, np.random.Generator]) -> _Course:
    """Step 2: the latent trajectory S(t) = s0 + r (t/48)^k + w(t) (Ornstein-Uhlenbeck wander w) and
    the organ factors lambda_k S(t) + d_k + e_k t/48."""
    n, j = len(sub.s0), N_SLOTS
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
    sev = sub.s0[:, None] + rate[:, None] * tau[None, :] ** shape[:, None] + wander
    lam = np.array([1.0, 0.8, 0.7, 0.8])
    organ_off = g.normal(0, 0.7, (n, 4))
    organ_rate = g.normal(0, 0.5, (n, 4))
    organ = lam[None, None, :] * sev[:, :, None] + organ_off[:, None, :] + organ_rate[:, None, :] * tau[None, :, None]
    return _Course(rate=rate, shape=shape, sev=sev, organ=organ)


@dataclass
class _Care:
    """Acute events, post-operative derangement, treatments and limitation of treatment (per slot)."""

    event: np.ndarray        # (n, 49) burden E(t) of an acute event (0 without one)
    event_hour: np.ndarray   # (n,) hour of the event (NaN without one)
    responder: np.ndarray    # (n,) whether the event responds to treatment (clears)
    postop: np.ndarray       # (n, 49) post-operative derangement D(t)
    fio2: np.ndarray         # (n, 49) inspired oxygen fraction (0.21 on room air)
    ventilated: np.ndarray   # (n, 49) bool
    vaso: np.ndarray         # (n, 49) vasopressor dose (cardiovascular factor above its threshold; 0 off)
    withdrawn: np.ndarray    # (n, 49) bool: treatment limited, monitoring withdrawn
    limitation_hour: np.ndarray  # (n,) hour of the decision (NaN without one)
    unresolved: np.ndarray       # (n,) share of the event's burden not cleared at 48 h (0 without one)
    cardio_burden: np.ndarray    # (n,) mean cardiovascular factor over hours 0-24 (the first day's circulatory load)
    bolus: np.ndarray            # (n, 49) bool: a 500 mL fluid bolus started in the hour
    fluid_responder: np.ndarray  # (n,) bool: the heart's output rises with a bolus


def draw_events(sub: _Subjects, course: _Course, fl: RealismFlags, rng: dict[str, np.random.Generator]) -> _Care:
    """Step 2b: acute events (sepsis, bleeding) at random times, whose burden rises over about 1.5 h
    and clears at a patient-specific rate (a quarter do not respond), added to the severity and the
    organ factors; post-operative derangement after elective surgery, resolving over hours; and a
    decision to limit treatment in some old, severely ill patients. Treatments are filled in later."""
    n, j = len(sub.s0), N_SLOTS
    g = rng["events"]
    hours = np.arange(j, dtype=float)
    p_event = np.array([0.32, 0.25, 0.12])[sub.adm]
    has = (g.random(n) < p_event) & fl.acute_events
    onset = g.uniform(1.0, 44.0, n)
    amp = 0.6 + g.gamma(2.0, 0.4, n)
    responder = g.random(n) < 0.75
    k = np.where(responder, np.exp(g.normal(np.log(0.12), 0.4, n)), 0.01)
    dt = hours[None, :] - onset[:, None]
    burden = np.where((dt >= 0) & has[:, None],
                      amp[:, None] * (1 - np.exp(-np.maximum(dt, 0) / 1.5)) * np.exp(-k[:, None] * np.maximum(dt, 0)), 0.0)
    course.sev = course.sev + burden
    course.organ = course.organ + np.array([1.0, 0.6, 0.5, 1.0])[None, None, :] * burden[:, :, None]
    post = (sub.adm == 2) & fl.postoperative
    d0 = g.uniform(0.8, 1.6, n)
    postop = np.where(post[:, None], d0[:, None] * np.exp(-hours[None, :] / 5.0), 0.0)
    u_lot = g.random(n)
    t_lot = g.uniform(12.0, 44.0, n)
    p_lot = sigmoid(-5.2 + 1.0 * sub.age_z + 0.8 * course.sev[:, 24])
    lot = (u_lot < p_lot) & fl.limitation_of_treatment
    withdrawn = lot[:, None] & (hours[None, :] >= t_lot[:, None])
    cardio = course.organ[:, :25, 0].mean(axis=1)
    zeros = np.zeros((n, j))
    unresolved = np.where(has, burden[:, -1] / amp, 0.0)
    return _Care(unresolved=unresolved, event=burden, event_hour=np.where(has, np.round(onset, 2), np.nan), responder=responder & has,
                 postop=postop, fio2=zeros + 0.21, ventilated=zeros.astype(bool), vaso=zeros, withdrawn=withdrawn,
                 limitation_hour=np.where(lot, np.round(t_lot, 2), np.nan), cardio_burden=cardio,
                 bolus=zeros.astype(bool), fluid_responder=np.zeros(n, dtype=bool))


def draw_treatment(course: _Course, care: _Care, fl: RealismFlags, rng: dict[str, np.random.Generator]) -> None:
    """Step 2c (in place): supplemental oxygen when the respiratory factor passes a patient-specific
    threshold (FiO2 titrated up with it), mechanical ventilation beyond a higher one, vasopressors
    when the cardiovascular factor passes its threshold; escalation stops once treatment is limited."""
    n = len(course.rate)
    g = rng["treatment"]
    thr_o2 = 0.9 + 0.3 * g.standard_normal(n)
    thr_vp = 2.0 + 0.3 * g.standard_normal(n)
    resp, cardio = course.organ[:, :, 1], course.organ[:, :, 0]
    active = ~care.withdrawn
    if fl.oxygen_therapy:
        over = resp - thr_o2[:, None]
        vent = (over > 1.5) & active
        fio2 = np.where(over > 0, np.clip(0.28 + 0.12 * over, 0.24, 0.5), 0.21)
        fio2 = np.where(vent, np.clip(0.4 + 0.15 * (over - 1.5), 0.4, 1.0), fio2)
        care.fio2 = np.round(np.where(active, fio2, 0.21), 2)
        care.ventilated = vent
    if fl.vasopressors:
        care.vaso = np.where(active, np.maximum(cardio - thr_vp[:, None], 0.0), 0.0)


#: Fluids: the hourly chance of a bolus while hypotension indicates one (first 24 h, afterwards),
#: the charted effect of one bolus on a responder (heart rate, systolic, diastolic pressure), its
#: e-folding time (h), and the slower dilution per bolus (haemoglobin g/dL, bicarbonate mmol/L).
FLUID_BOLUS_CHANCE = (0.15, 0.04)
FLUID_NONRESPONDER_LIMIT = 2  # boluses without a response before fluids are stopped
FLUID_LIFT = {"Heart Rate": -3.0, "Systolic blood pressure": 7.0, "Diastolic blood pressure": 3.5}
FLUID_LIFT_HOURS = 2.0
FLUID_DILUTION = {"Hemoglobin": -0.3, "Bicarbonate": -0.35}
FLUID_DILUTION_HOURS = 24.0


def draw_fluids(course: _Course, care: _Care, fl: RealismFlags, rng: dict[str, np.random.Generator]) -> None:
    """Step 2d (in place): fluid boluses (500 mL) while the cardiovascular factor is above a
    patient-specific threshold, below the vasopressors' one: a bolus in an indicated hour with
    `FLUID_BOLUS_CHANCE` (liberal on the first day, restrictive afterwards), none once treatment is
    limited. About half of the patients respond (their pressure rises and their heart rate falls
    for a few hours); in the others a bolus barely moves the chart, and fluids are stopped after
    `FLUID_NONRESPONDER_LIMIT` boluses. Every bolus dilutes the blood (haemoglobin and bicarbonate
    fall and recover over a day). Fluids change only what is charted, never the risk (the risk
    model's terms do not include the variables they touch)."""
    n, j = care.fio2.shape
    g = rng["fluids"]
    thr = 1.0 + 0.3 * g.standard_normal(n)
    responder = g.random(n) < 0.5
    u = g.random((n, j))
    chance = np.where(np.arange(j) < 24, *FLUID_BOLUS_CHANCE)[None, :]
    indicated = (course.organ[:, :, 0] > thr[:, None]) & ~care.withdrawn
    bolus = indicated & (u < chance) & fl.fluids
    care.bolus = bolus & (responder[:, None] | (np.cumsum(bolus, axis=1) <= FLUID_NONRESPONDER_LIMIT))
    care.fluid_responder = responder


def _decayed_sum(events: np.ndarray, hours: float) -> np.ndarray:
    """(n, j) exponentially decayed running sum of hourly `events` (e-folding time `hours`)."""
    out = np.zeros(events.shape, dtype=np.float32)
    keep = np.float32(np.exp(-1.0 / hours))
    for t in range(events.shape[1]):
        out[:, t] = (out[:, t - 1] * keep if t else 0) + events[:, t]
    return out


def care_offsets(course: _Course, care: _Care, person: _Person) -> np.ndarray:
    """(n, 49, 15) shifts of the model-scale physiology by treatment and post-operative state:
    oxygen and ventilation remove most of the respiratory factor's effect on SpO2 (and the ventilator
    sets the respiratory rate), vasopressors restore most of the pressure lost above their threshold,
    fluid boluses lift the pressure of responders for a few hours and dilute the blood of everyone,
    and surgery leaves a transient tachycardia, hypotension, hypothermia, lactate and glucose rise."""
    n, j = care.fio2.shape
    off = np.zeros((n, j, len(VARIABLES)), dtype=np.float32)
    gain = person.gain[:, :1]
    resp = course.organ[:, :, 1]
    on_o2 = care.fio2 > 0.21
    off[:, :, _V["Oxygen saturation"]] -= (on_o2 * 0.93 * gain * _LOAD[5, 1] * np.maximum(resp - 0.5, 0)).astype(np.float32)
    rr_load = np.einsum("njk,k->nj", course.organ, _LOAD[3])
    off[:, :, _V["Respiratory rate"]] -= (care.ventilated * 0.7 * gain * rr_load).astype(np.float32)
    for name, share in (("Systolic blood pressure", 0.9), ("Diastolic blood pressure", 0.9), ("Heart Rate", -0.15)):
        k = _V[name]
        off[:, :, k] -= (share * gain * _LOAD[k, 0] * care.vaso).astype(np.float32)
    post = {"Heart Rate": 7.0, "Systolic blood pressure": -9.0, "Diastolic blood pressure": -5.0, "Temperature": -0.5,
            "Lactate": 0.25, "Glucose": 20.0, "Hemoglobin": -0.6, "White blood cells": 0.15}
    for name, eff in post.items():
        off[:, :, _V[name]] += (eff * care.postop).astype(np.float32)
    for name, eff in (("Lactate", 0.08), ("Temperature", 0.3), ("White blood cells", 0.1)):
        off[:, :, _V[name]] += (eff * care.event).astype(np.float32)
    lift = _decayed_sum(care.bolus, FLUID_LIFT_HOURS) * np.where(care.fluid_responder, 1.0, 0.15)[:, None]
    for name, eff in FLUID_LIFT.items():
        off[:, :, _V[name]] += (eff * gain * lift).astype(np.float32)
    dilution = _decayed_sum(care.bolus, FLUID_DILUTION_HOURS)
    for name, eff in FLUID_DILUTION.items():
        off[:, :, _V[name]] += eff * dilution
    return off


def draw_person(sub: _Subjects, fl: RealismFlags, rng: dict[str, np.random.Generator]) -> _Person:
    """Step 3: individual set points, gains and circadian amplitude (per subject), sleep window and
    meals (per episode)."""
    n, m, f = len(sub.s0), len(sub.ids), len(VARIABLES)
    g = rng["individual"]
    base_off = (g.standard_normal((m, f)) * _INDIV_SD)[sub.subj]
    gain = np.exp(g.normal(0, 0.2, (m, 1)))[sub.subj]
    circ_amp = np.exp(g.normal(0, 0.3, m))[sub.subj]
    if not fl.individual_variability:
        base_off = np.zeros_like(base_off)
        gain = np.ones_like(gain)
        circ_amp = np.ones_like(circ_amp)
    base_off[:, _GLU] += 25.0 * sub.diabetic
    g = rng["sleep"]
    onset = 23.0 + g.uniform(-1.0, 1.5, n)
    wake = 5.5 + g.uniform(0.0, 1.5, n)
    sleep_q = 0.8 * sigmoid(-0.7 * sub.s0)   # fragmented; sicker sleep less
    sleep_u = g.random((n, N_SLOTS))
    g = rng["meals"]
    eats = (g.random(n) < 0.75 * sigmoid(-0.8 * sub.s0)).astype(float)
    meal_amp = g.uniform(20, 45, n) * np.where(sub.diabetic, 2.0, 1.0)
    return _Person(base_off=base_off, gain=gain, circ_amp=circ_amp, onset=onset, wake=wake, sleep_q=sleep_q,
                   sleep_u=sleep_u, eats=eats, meal_amp=meal_amp)


def draw_schedule(sub: _Subjects, fl: RealismFlags, rng: dict[str, np.random.Generator]) -> _Schedule:
    """Step 4: candidate chart times (a vital check and a lab draw per hourly slot), jittered by
    nursing shift; exactly on the hour without temporal variability."""
    n, j = len(sub.s0), N_SLOTS
    g = rng["timing"]
    slot = np.arange(j)
    clock_slot = (sub.adm_clock[:, None] + slot[None, :]) % 24.0
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
    return _Schedule(clock_slot=clock_slot, shift=shift, t_vit=slot[None, :] * 60 + vit_minute,
                     t_lab=slot[None, :] * 60 + lab_minute)


def physiology_at(t_min: np.ndarray, sub: _Subjects, course: _Course, person: _Person,
                  fl: RealismFlags) -> tuple[np.ndarray, np.ndarray]:
    """Step 5: noiseless physiology (n, j, 15) on each variable's model scale at chart times
    `t_min` (minutes since admission, one per slot): organ loadings times gain plus set point, then
    circadian rhythm, sleep and meals. Also returns the asleep flag (n, j)."""
    f32 = np.float32
    clock = (sub.adm_clock[:, None] + t_min / 60.0) % 24.0
    eta = np.einsum("njk,fk->njf", course.organ.astype(f32), _LOAD.astype(f32))
    eta *= person.gain.astype(f32)[:, :, None]
    eta += (_BASE[None, :] + person.base_off + sub.age_z[:, None] * _AGE_EFFECT[None, :]).astype(f32)[:, None, :]
    if person.offset is not None:
        eta += person.offset
    if fl.circadian:
        damp32 = sigmoid(1.0 - course.sev).astype(f32)  # sicker patients lose their rhythm
        rhythmic = np.flatnonzero(_CIRC_AMP)  # only these variables have a rhythm
        circ = np.cos(2 * np.pi * (clock[:, :, None] - _CIRC_PEAK[None, None, rhythmic]) / 24.0).astype(f32)
        circ *= (person.circ_amp[:, None] * damp32).astype(f32)[:, :, None] * _CIRC_AMP[rhythmic].astype(f32)[None, None, :]
        eta[:, :, rhythmic] += circ
        del circ
    asleep = np.zeros(clock.shape, dtype=bool)
    if fl.sleep:
        window = (clock >= person.onset[:, None] % 24) | (clock < person.wake[:, None])
        asleep = window & (person.sleep_u < person.sleep_q[:, None])
        eta += asleep[:, :, None] * _SLEEP_EFF.astype(f32)[None, None, :]
    if fl.meals:
        resp = np.zeros(clock.shape)
        for meal in (8.0, 12.5, 18.0):
            dt = (clock - meal) % 24.0
            resp += (dt / 0.8) * np.exp(1.0 - dt / 0.8)
        eta[:, :, _GLU] += ((person.eats * person.meal_amp)[:, None] * resp).astype(f32)
    return eta, asleep


def to_natural(eta: np.ndarray) -> np.ndarray:
    """Map from the model scale to the natural scale (in place) and clip to physiological ranges."""
    for k in np.nonzero(_LINK == 1)[0]:
        eta[:, :, k] = np.exp(np.minimum(eta[:, :, k], 10))
    for k in np.nonzero(_LINK == 2)[0]:
        eta[:, :, k] = 100.0 - np.exp(np.minimum(eta[:, :, k], 10))
    return np.clip(eta, LOWER.astype(np.float32), UPPER.astype(np.float32), out=eta)


def noisy_values(sub: _Subjects, course: _Course, person: _Person, sched: _Schedule, fl: RealismFlags,
                 rng: dict[str, np.random.Generator]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Step 6: values at the vital and lab chart times with autocorrelated, cross-correlated
    fluctuation (shared by a slot's rows) and measurement noise; returns (vitals, labs, asleep)."""
    f32 = np.float32
    n, j, f = len(sub.s0), N_SLOTS, len(VARIABLES)
    g = rng["noise"]
    chol = _corr_cholesky(fl.correlations).astype(f32)
    ar = g.standard_normal((n, j, f), dtype=f32) @ chol.T
    phi, innov = _AR_PHI.astype(f32), np.sqrt(1 - _AR_PHI ** 2).astype(f32)
    for t in range(1, j):
        ar[:, t] = phi * ar[:, t - 1] + innov * ar[:, t]
    ar *= _AR_SD.astype(f32)
    out = []
    asleep = None
    for t_min in (sched.t_vit, sched.t_lab):
        eta, sl = physiology_at(t_min, sub, course, person, fl)
        asleep = sl if asleep is None else asleep
        meas = g.standard_normal((n, j, f), dtype=f32) * _MEAS_SD.astype(f32)
        if fl.temporal_variability:
            eta += ar
            eta += meas
        out.append(to_natural(eta))
    return out[0], out[1], asleep


def add_artifacts(val_v: np.ndarray, shift: np.ndarray, fl: RealismFlags, rng: dict[str, np.random.Generator]) -> None:
    """Step 7 (in place): monitoring artifacts on vitals (motion, probe off, transducer flush) and
    terminal-digit preference for blood pressure in the evening and at night."""
    n, j = shift.shape
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
        np.clip(val_v, LOWER.astype(np.float32), UPPER.astype(np.float32), out=val_v)
    if fl.shift_quality:
        rnd = (art_u[:, :, 3] < np.array([0.05, 0.25, 0.45])[shift])[:, :, None]
        bp = [_V["Systolic blood pressure"], _V["Diastolic blood pressure"]]
        val_v[:, :, bp] = np.where(rnd, np.round(val_v[:, :, bp] / 5.0) * 5.0, val_v[:, :, bp])


#: Charting (calibrated to PhysioNet 2012's set B, see the data card): the chance of an hour's vital check by nursing
#: shift (day, evening, night), while asleep (a factor), the MAR logit of a check at a normal shock index, the chance each
#: of the six vitals is recorded at a check (MCAR), the share of normal values left uncharted (MNAR), the clock hours
#: between scheduled temperatures, point-of-care glucose (scheduled chance; re-check when high), the lab panel's chance
#: at admission, on the morning round and in any other hour, plus its MAR extra in shock, lactate at admission, and
#: the share of stays whose lactate is trended with its hourly chance.
VITAL_CHECK_BY_SHIFT = (1.0, 0.98, 0.95)
VITAL_CHECK_ASLEEP = 0.93
VITAL_CHECK_MAR = 4.0
VITAL_RECORDED = (0.995, 0.985, 0.985, 0.95, 1.0, 0.97)
VITAL_NORMAL_SKIPPED = 0.06
TEMPERATURE_EVERY = 3
POINT_OF_CARE_GLUCOSE, POINT_OF_CARE_GLUCOSE_HIGH = 0.02, 0.05
LAB_PANEL, LAB_PANEL_MAR = (0.92, 0.9, 0.008), 0.05
LACTATE_AT_ADMISSION, LACTATE_INDICATED = 0.1, 0.25
LACTATE_TRENDED = (0.06, 0.2)


def _vital_checks(val_v: np.ndarray, asleep: np.ndarray, sched: _Schedule, care: _Care, fl: RealismFlags,
                  g: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Which hourly vital checks happen (n, j), and the per-variable uniforms of those checks."""
    n, j = asleep.shape
    u_check = g.random((n, j))
    u_var = g.random((n, j, 6))
    u_temp = g.random((n, j))
    u_fs = g.random((n, j))
    drop_start = g.random((n, j)) < 0.012
    drop_len = 1 + g.geometric(0.45, (n, j)).clip(max=6)
    shock_z = (val_v[:, :, _V["Heart Rate"]] / val_v[:, :, _V["Systolic blood pressure"]] - 0.72) / 0.2
    p_check = np.ones((n, j))
    if fl.mcar:
        p_check *= 0.97
    if fl.shift_quality:
        p_check *= np.array(VITAL_CHECK_BY_SHIFT)[sched.shift]
    if fl.sleep:
        p_check *= np.where(asleep, VITAL_CHECK_ASLEEP, 1.0)
    if fl.mar:
        p_check *= sigmoid(VITAL_CHECK_MAR + 1.5 * shock_z)
    p_check = np.where(care.withdrawn, 0.1 * p_check, p_check)  # comfort care: monitoring withdrawn
    checked = u_check < p_check
    if fl.temporal_variability:
        slot = np.arange(j)
        ends = np.where(drop_start, slot[None, :] + drop_len, -1)
        checked &= ~(np.maximum.accumulate(ends, axis=1) > slot[None, :])
    return checked, np.concatenate([u_var, u_temp[:, :, None], u_fs[:, :, None]], axis=2)


def vital_missingness(val_v: np.ndarray, asleep: np.ndarray, sub: _Subjects, sched: _Schedule, care: _Care,
                      fl: RealismFlags, rng: dict[str, np.random.Generator]) -> tuple[np.ndarray, np.ndarray]:
    """Step 8: which vitals are recorded (n, j, 6) and which point-of-care glucoses (n, j): checks
    thinned by MCAR, shift, sleep, MAR (shock index) and dropouts; per-value MCAR and MNAR; the
    temperature every `TEMPERATURE_EVERY` clock hours plus fever re-checks; glucose every 6 h in insulin-treated
    patients plus re-checks when high."""
    f32 = np.float32
    checked, u = _vital_checks(val_v, asleep, sched, care, fl, rng["vital_missing"])
    u_var, u_temp, u_fs = u[:, :, :6], u[:, :, 6], u[:, :, 7]
    abn = np.abs(val_v[:, :, :6] - _NORMAL[:6].astype(f32)) / _ABN_SCALE[:6].astype(f32)
    q = np.ones(u_var.shape)
    if fl.mcar:
        q *= np.array(VITAL_RECORDED)
    if fl.mnar:
        q *= 1.0 - VITAL_NORMAL_SKIPPED * np.exp(-2.0 * abn)
    rec_v = checked[:, :, None] & (u_var < q)
    temp_i = _V["Temperature"]
    hour = np.floor(sched.clock_slot).astype(int)
    sched_t = (hour % TEMPERATURE_EVERY) == 0
    p_t = np.where(sched_t, 0.92, 0.04)
    if fl.mnar:
        p_t = p_t + (1 - p_t) * 0.8 * sigmoid((np.abs(val_v[:, :, temp_i] - 37.0) - 1.2) / 0.2)
    if fl.mcar:
        p_t = p_t * 0.95
    rec_v[:, :, temp_i] = (u_temp < p_t) & (checked | sched_t) & ~care.withdrawn
    sched_fs = ((hour % 6) == 0) & (sub.diabetic | (sub.s0 > 1.0))[:, None]
    p_fs = np.where(sched_fs, POINT_OF_CARE_GLUCOSE, 0.0)
    if fl.mnar:
        p_fs = p_fs + (1 - p_fs) * POINT_OF_CARE_GLUCOSE_HIGH * sigmoid((val_v[:, :, _GLU] - 200.0) / 25.0)
    if fl.mcar:
        p_fs = p_fs * 0.95
    return rec_v, (u_fs < p_fs) & ~care.withdrawn


def lab_missingness(val_l: np.ndarray, sched: _Schedule, care: _Care, fl: RealismFlags,
                    rng: dict[str, np.random.Generator]) -> np.ndarray:
    """Step 9: which lab values are recorded (n, j, 15): panels (basic metabolic, blood count) at
    admission, on the morning round and when indicated (MAR: shock index), lactate when indicated
    (at admission in a third, in shock, on vasopressors, after an acute event: MAR) or high (MNAR),
    single components lost at random (MCAR), and none once treatment is limited."""
    n, j, f = val_l.shape
    g = rng["lab_missing"]
    u_bmp = g.random((n, j))
    u_cbc = g.random((n, j))
    u_lac = g.random((n, j))
    u_comp = g.random((n, j, f))
    trended = (g.random(n) < LACTATE_TRENDED[0])[:, None]
    morning = (np.floor(sched.clock_slot).astype(int) % 24) == 4
    first = np.arange(j)[None, :] == 0
    p_bmp = np.where(first, LAB_PANEL[0], np.where(morning, LAB_PANEL[1], LAB_PANEL[2]))
    shock_l = (val_l[:, :, _V["Heart Rate"]] / val_l[:, :, _V["Systolic blood pressure"]] - 0.72) / 0.2
    if fl.mar:
        p_bmp = 1 - (1 - p_bmp) * (1 - LAB_PANEL_MAR * sigmoid(2.5 * (shock_l - 1.0)))
    bmp = u_bmp < p_bmp
    cbc = np.where(bmp, u_cbc < 0.85, u_cbc < 0.015)
    p_lac = np.where(first, LACTATE_AT_ADMISSION, np.where(trended, LACTATE_TRENDED[1], 0.002))
    if fl.mar:
        indicated = (care.vaso > 0) | (care.event > 0.4)
        p_lac = 1 - (1 - p_lac) * (1 - 0.02 * sigmoid(2.5 * (shock_l - 1.0))) * np.where(indicated, 0.97, 1.0)
        p_lac = np.where(first & indicated, LACTATE_INDICATED, p_lac)
    if fl.mnar:
        p_lac = 1 - (1 - p_lac) * (1 - 0.08 * sigmoid((val_l[:, :, _LACT] - 3.0) / 0.5))
    rec_l = np.zeros((n, j, f), dtype=bool)
    rec_l[:, :, _BMP] = bmp[:, :, None]
    rec_l[:, :, _CBC] = cbc[:, :, None]
    rec_l[:, :, _LACT] = u_lac < p_lac
    if fl.mcar:
        rec_l &= u_comp < 0.97
    return rec_l & ~care.withdrawn[:, :, None]


def _gcs(course: _Course, care: _Care, g: np.random.Generator) -> np.ndarray:
    """(n, 49, 4) Glasgow coma scale eye, motor, total and verbal scores per slot (verbal 0: intubated):
    consciousness falls with severity and inflammation (encephalopathy), and with the sedation of
    ventilated patients and of comfort care."""
    n, j = care.fio2.shape
    depth = (np.maximum(0.45 * course.sev + 0.35 * course.organ[:, :, 3] - 0.6, 0) + 2.5 * care.ventilated
             + 1.5 * care.withdrawn + 0.5 * g.standard_normal((n, j)))
    eye = np.clip(np.round(4 - 0.8 * depth), 1, 4)
    motor = np.clip(np.round(6 - 1.0 * depth), 1, 6)
    verbal = np.where(care.ventilated, 0, np.clip(np.round(5 - 1.2 * depth), 1, 5))
    return np.stack([eye, motor, eye + motor + np.maximum(verbal, 1), verbal], axis=2)


def benchmark_extras(sub: _Subjects, course: _Course, care: _Care, sched: _Schedule, val_v: np.ndarray,
                     rec_v: np.ndarray, rec_l: np.ndarray, rng: dict[str, np.random.Generator]
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Step 9b (benchmark variables only): the ten variables of the real benchmark that the source
    document lacks, at the vital rows and the lab rows (n, 49, 10 each, NaN = not charted, order of
    `EXTRA_SPECS`). Glasgow coma scale every two hours with a vital check; capillary refill rarely;
    FiO2 while on oxygen (and with blood gases); mean pressure with a charted systolic and diastolic
    pressure; height and weight at admission (weight also on some morning rounds); pH with a
    blood-gas lactate and every few hours in ventilated patients."""
    n, j = care.fio2.shape
    g = rng["extras"]
    m = len(sub.ids)
    names = list(EXTRA_SPECS)
    ev = np.full((n, j, len(names)), np.nan, dtype=np.float32)
    el = np.full((n, j, len(names)), np.nan, dtype=np.float32)
    u = g.random((n, j, 6))
    checked = rec_v[:, :, 0] | rec_v[:, :, 1]
    hour = np.floor(sched.clock_slot).astype(int)
    gcs = _gcs(course, care, g)
    gcs_on = checked & (hour % 2 == 0) & (u[:, :, 0] < 0.85)
    for k, name in enumerate(("eye opening", "motor response", "total", "verbal response")):
        col = names.index(f"Glascow coma scale {name}")
        ev[:, :, col] = np.where(gcs_on & ((k != 2) | (u[:, :, 1] < 0.9)), gcs[:, :, k], np.nan)
    crr = (g.random((n, j)) < sigmoid(1.2 * course.organ[:, :, 0] - 2.5)).astype(float)
    ev[:, :, names.index("Capillary refill rate")] = np.where(checked & (u[:, :, 2] < 0.06), crr, np.nan)
    on_o2 = care.fio2 > 0.21
    fio2_v = checked & on_o2 & (u[:, :, 3] < np.where(care.ventilated, 0.9, 0.4))
    ev[:, :, names.index("Fraction inspired oxygen")] = np.where(fio2_v, care.fio2, np.nan)
    sbp, dbp = val_v[:, :, _V["Systolic blood pressure"]], val_v[:, :, _V["Diastolic blood pressure"]]
    mbp = np.round((sbp + 2 * dbp) / 3)
    ev[:, :, names.index("Mean blood pressure")] = np.where(rec_v[:, :, 1] & rec_v[:, :, 2] & (u[:, :, 4] < 0.9), mbp, np.nan)
    male_s = np.bincount(sub.subj, weights=sub.male, minlength=m) > 0
    height = np.round(np.where(male_s, 176.0, 163.0) + 7.0 * g.standard_normal(m))[sub.subj]
    weight = np.round(80.0 * np.exp(0.22 * g.standard_normal(m))[sub.subj] * np.exp(0.02 * g.standard_normal(n)), 1)
    first = np.arange(j)[None, :] == 0
    ev[:, :, names.index("Height")] = np.where(first & (u[:, :, 5] < 0.35), height[:, None], np.nan)
    w_on = (first & (u[:, :, 5] < 0.7)) | ((hour == 4) & (u[:, :, 5] < 0.3))
    ev[:, :, names.index("Weight")] = np.where(w_on, weight[:, None], np.nan)
    ph = 7.40 - 0.025 * course.organ[:, :, 0] - 0.02 * course.organ[:, :, 2] + 0.03 * g.standard_normal((n, j))
    gas = (rec_l[:, :, _LACT] & (u[:, :, 1] < 0.8)) | (care.ventilated & (u[:, :, 4] < 0.15) & ~care.withdrawn)
    el[:, :, names.index("pH")] = np.where(gas, np.round(np.clip(ph, 6.8, 7.7), 2), np.nan)
    el[:, :, names.index("Fraction inspired oxygen")] = np.where(gas & on_o2, care.fio2, np.nan)
    return ev, el


def assemble_rows(val_v: np.ndarray, val_l: np.ndarray, rec_v: np.ndarray, rec_fs: np.ndarray,
                  rec_l: np.ndarray, sched: _Schedule, extras: tuple[np.ndarray, np.ndarray] | None = None,
                  columns: Sequence[str] = VARIABLES) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Step 10: charted rows. Vital rows and lab rows (merged when at the same minute), rounded to
    charting precision, rows without any value dropped, sorted by time (vitals before labs at equal
    times). `extras` (vital-row and lab-row arrays of the `EXTRA_SPECS` variables) are merged the
    same way, and only `columns` (names of `ALL_VARIABLES`) are kept. Returns times (n, R) in
    minutes (-1 past the last row), values (n, R, len(columns)), row counts."""
    n, j, f = val_l.shape
    t_vit, t_lab = sched.t_vit, sched.t_lab
    vals = np.full((n, 2 * j, f), np.nan, dtype=np.float32)
    vals[:, :j, :6] = np.where(rec_v, val_v[:, :, :6], np.nan)
    vals[:, :j, _GLU] = np.where(rec_fs, val_v[:, :, _GLU], np.nan)
    vals[:, j:, 6:] = np.where(rec_l[:, :, 6:], val_l[:, :, 6:], np.nan)
    same = (t_lab == t_vit)
    lab_block = vals[:, j:, 6:]
    vit_block = vals[:, :j, 6:]
    vals[:, :j, 6:] = np.where(same[:, :, None] & ~np.isnan(lab_block), lab_block, vit_block)
    vals[:, j:, 6:] = np.where(same[:, :, None], np.nan, lab_block)
    scale = (10.0 ** DECIMALS).astype(np.float32)
    vals = np.round(vals * scale) / scale
    if extras is not None:
        ext = np.concatenate(extras, axis=1)
        lab_x = ext[:, j:]
        ext[:, :j] = np.where(same[:, :, None] & ~np.isnan(lab_x), lab_x, ext[:, :j])
        ext[:, j:] = np.where(same[:, :, None], np.nan, lab_x)
        vals = np.concatenate([vals, ext], axis=2)
    if tuple(columns) != VARIABLES:
        vals = vals[:, :, [ALL_VARIABLES.index(c) for c in columns]]
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
    return np.where(valid, times, -1).astype(np.int32), vals, n_rows


def end_history_at_death(subj: np.ndarray, episode: np.ndarray, ids: np.ndarray, y: np.ndarray,
                         g: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A subject's in-hospital death ends their history: the episodes drawn for a subject after
    an episode that ended in death become the episodes of a new subject (with a fresh id; episode
    numbers restart at 1). Returns the new subject index, episode number and subject ids; episodes
    of a subject stay contiguous and subjects stay in order of their first episode."""
    n = len(subj)
    died = y.astype(int)
    start = np.r_[True, subj[1:] != subj[:-1]]
    cum = np.cumsum(died) - died                          # deaths before this episode, overall
    before = cum - np.maximum.accumulate(np.where(start, cum, 0))  # ... within the subject
    new_start = start | np.r_[False, before[1:] != before[:-1]]
    new_subj = np.cumsum(new_start) - 1
    first = np.flatnonzero(new_start)
    new_episode = np.arange(n) - np.repeat(first, np.diff(np.r_[first, n])) + 1
    extra = int(new_start.sum()) - len(ids)
    new_ids = ids[subj[first]].copy()
    if extra:
        pool = np.setdiff1d(np.arange(10_000, max(100_000, 10_000 + 4 * (len(ids) + extra))), ids)
        fresh = g.choice(pool, size=extra, replace=False)
        new_ids[before[first] > 0] = fresh
    return new_subj, new_episode, new_ids


def latent_frame(sub: _Subjects, course: _Course, care: _Care, split: np.ndarray, risk: np.ndarray,
                 y: np.ndarray) -> pd.DataFrame:
    """One row per episode: stay file name, split, subject, latent state, true risk and label."""
    ids = sub.ids
    stay = [f"{ids[s]}_episode{e}_timeseries.csv" for s, e in zip(sub.subj, sub.episode)]
    c_end = course.organ[:, -1, :]
    return pd.DataFrame({
        "stay": stay, "split": np.array(SPLITS)[split], "subject_id": ids[sub.subj], "episode": sub.episode,
        "age": np.round(sub.age, 1), "sex": np.where(sub.male, "M", "F"),
        "admission_type": np.array(ADMISSION_TYPES)[sub.adm], "admission_hour": np.round(sub.adm_clock, 4),
        "diabetic": sub.diabetic.astype(int), "baseline_severity": sub.s0, "trajectory_rate": course.rate,
        "trajectory_shape": course.shape, "severity_48h": course.sev[:, -1],
        **{f"{o}_48h": c_end[:, k] for k, o in enumerate(ORGANS)},
        "cardiovascular_0_24h": care.cardio_burden, "event_hour": care.event_hour, "event_responder": care.responder.astype(int),
        "event_unresolved": care.unresolved, "postoperative": (care.postop[:, 0] > 0).astype(int),
        "oxygen_hours": (care.fio2[:, :48] > 0.21).sum(axis=1), "ventilated_hours": care.ventilated[:, :48].sum(axis=1),
        "vasopressor_hours": (care.vaso[:, :48] > 0).sum(axis=1), "fluid_boluses": care.bolus[:, :48].sum(axis=1),
        "fluid_responder": care.fluid_responder.astype(int), "limitation_hour": care.limitation_hour,
        "true_risk": risk, "y": y,
    })


def simulate_icu(config: IcuConfig | None = None) -> IcuCohort:
    """Simulate a cohort in memory: latent state, physiology, charted observations, risk and label.

    Deterministic in `config` (same config -> identical arrays). Every model component draws from
    its own random stream, and all random numbers are drawn whether or not a feature is switched on,
    so an ablation changes only the feature it names. The steps are the functions above, in order.
    """
    cfg = config or IcuConfig()
    fl = cfg.realism
    rng = _streams(cfg.seed)
    sub = draw_subjects(cfg, rng)
    course = draw_course(sub, rng)
    care = draw_events(sub, course, fl, rng)
    draw_treatment(course, care, fl, rng)
    draw_fluids(course, care, fl, rng)
    person = draw_person(sub, fl, rng)
    person.offset = care_offsets(course, care, person)
    sched = draw_schedule(sub, fl, rng)
    hours = np.broadcast_to(np.arange(N_SLOTS)[None, :] * 60, sched.t_vit.shape)
    truth = to_natural(physiology_at(hours, sub, course, person, fl)[0])
    val_v, val_l, asleep = noisy_values(sub, course, person, sched, fl, rng)
    add_artifacts(val_v, sched.shift, fl, rng)
    rec_v, rec_fs = vital_missingness(val_v, asleep, sub, sched, care, fl, rng)
    rec_l = lab_missingness(val_l, sched, care, fl, rng)
    extras = None
    if cfg.variables == "benchmark":
        extras = benchmark_extras(sub, course, care, sched, val_v, rec_v, rec_l, rng)
    times, vals, n_rows = assemble_rows(val_v, val_l, rec_v, rec_fs, rec_l, sched, extras,
                                        VARIABLE_SETS[cfg.variables])
    del val_v, val_l, extras
    lin = risk_score(sub, course, care, truth, fl)
    b0 = calibrate_intercept(lin, cfg.mortality)
    risk = sigmoid(b0 + lin)
    y = (rng["label"].random(cfg.n_episodes) < risk).astype(int)
    sub.subj, sub.episode, sub.ids = end_history_at_death(sub.subj, sub.episode, sub.ids, y, rng["history"])
    split = _assign_splits(sub.subj, y, cfg.split, rng["split"])
    return IcuCohort(config=cfg, latent=latent_frame(sub, course, care, split, risk, y), times=times, values=vals,
                     n_rows=n_rows.astype(np.int64), truth=truth, severity=course.sev.astype(np.float32),
                     intercept=float(b0), organ=course.organ.astype(np.float32))


def ablate(config: IcuConfig, *names: str) -> IcuCohort:
    """The cohort of `config` with the named realism features switched off (same seed, same
    patients; see `RealismFlags.off`), for the chapters' one-feature-at-a-time comparisons."""
    return simulate_icu(dataclasses.replace(config, realism=config.realism.off(*names)))
