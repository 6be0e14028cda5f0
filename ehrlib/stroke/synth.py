"""Synthetic hospital EHR for the stroke study (Teoh 2018): a hospital population followed over 1997-2016,
vectorised over a patients x years grid, with latent risk factors, ICD-10 diagnoses, yearly exams and a
first stroke drawn from a Cox-like yearly hazard of the latent state (the ground truth, `hazard.parquet`),
written as the tables of `ehrlib.stroke.schema`; byte-identical for the same seed. The data card
(book/cards/stroke-data.md) describes every step, its parameters and how the generator was tuned.
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from ehrlib.files import atomic_directory
from ehrlib.jsonfiles import write_json, write_timings
from ehrlib.logs import get_logger
from ehrlib.stroke.icd10 import has_subcategories, who_codes
from ehrlib.stroke.schema import (
    EXAM_TYPES,
    METRICS,
    TABLE_FILES,
    StrokeTables,
    arrow_to_pandas,
)

_log = get_logger(__name__)

DEFAULT_N_PATIENTS = 56_000
"""Population size whose default cohort lands near the paper's 2,725 cases (see module docstring)."""

# Stream numbers of the SeedSequence spawn keys (never reorder: changing them changes every dataset).
_POPULATION, _STATE, _VISITS, _EXAMS, _STROKE, _POST_STROKE = range(6)


@dataclass(frozen=True)
class HazardModel:
    """Coefficients of the yearly first-stroke hazard (log-hazard ratios; see the module docstring)."""

    base_rate: float = 0.0015  # annual hazard at 65 for a woman with no risk factor and reference labs
    age_slope: float = 0.06  # log-HR per year of age (incidence doubles about every 11.6 years)
    male: float = math.log(1.3)
    hypertension: float = math.log(2.0)
    diabetes: float = math.log(1.8)
    dyslipidaemia: float = math.log(1.25)
    atrial_fibrillation: float = math.log(3.5)
    prior_tia: float = math.log(3.0)
    ckd: float = math.log(1.5)
    smoking: float = math.log(2.0)
    hba1c: float = math.log(1.2)  # per 1 % HbA1c (NGSP) above 5.6
    ldl: float = math.log(1.25)  # per 40 mg/dL LDL-C above 120
    hdl: float = math.log(0.8)  # per 15 mg/dL HDL-C above 55
    wbc: float = math.log(1.10)  # per 2 x 10^3/uL WBC above 6
    frailty_sd: float = 0.5  # SD of an unobserved person-level log-hazard
    calendar_trend: float = -0.02  # per calendar year from 2008


@dataclass(frozen=True)
class StrokeConfig:
    """Every parameter of the synthetic hospital EHR (see the module docstring for their meaning)."""

    n_patients: int = DEFAULT_N_PATIENTS
    seed: int = 0
    first_year: int = 1997
    last_year: int = 2016
    birth_first: int = 1915
    birth_last: int = 1975
    male_fraction: float = 0.47
    initial_fraction: float = 0.7  # share of patients already in the records in first_year
    mean_followup_years: float = 16.0
    visit_rate: float = 0.3  # mean visits per follow-up year at age 60 without morbidity
    visit_propensity_sd: float = 0.15  # SD of the personal log visit propensity
    morbidity_visit_factor: float = 0.05  # visit rate x (1 + factor x number of coded conditions)
    extra_codes_per_visit: float = 0.2  # background codes per visit: 1 + Poisson(this)
    health_check_prob: float = 0.9
    lab_per_visit_prob: float = 0.12
    duplicate_prob: float = 0.01
    undiagnosed_prob: float = 0.15
    fatal_stroke_prob: float = 0.12
    hazard: HazardModel = field(default_factory=HazardModel)
    outcome_variant: int = 0  # changes only the stroke and post-stroke streams (leak tests)

    def __post_init__(self) -> None:
        if self.n_patients < 1:
            raise ValueError(f"n_patients must be positive, got {self.n_patients}")
        if self.last_year < self.first_year or self.birth_last < self.birth_first:
            raise ValueError("year ranges must be non-empty")


# --------------------------------------------------------------------------------------------- conditions

# name: (onset mean men, onset mean women, onset sd)
_CONDITIONS: dict[str, tuple[float, float, float]] = {
    "hypertension": (58.0, 63.0, 17.0),
    "diabetes": (84.0, 95.0, 19.0),
    "dyslipidaemia": (66.0, 64.0, 18.0),
    "atrial_fibrillation": (97.0, 103.0, 12.0),
    "prior_tia": (108.0, 113.0, 17.0),
    "ckd": (86.0, 90.0, 14.0),
}

# Codes recorded for a diagnosed condition: (probability of a mention per visit, {code: weight}).
_CONDITION_CODES: dict[str, tuple[float, dict[str, float]]] = {
    "hypertension": (0.8, {"I10": 0.9, "I119": 0.06, "I129": 0.04}),
    "diabetes": (0.75, {"E119": 0.45, "E149": 0.2, "E112": 0.08, "E113": 0.07, "E114": 0.06, "E117": 0.06,
                       "E118": 0.04, "E116": 0.04}),
    "dyslipidaemia": (0.6, {"E785": 0.45, "E780": 0.3, "E782": 0.15, "E781": 0.1}),
    "atrial_fibrillation": (0.75, {"I489": 0.4, "I480": 0.3, "I482": 0.2, "I481": 0.1}),
    "ckd": (0.6, {"N189": 0.35, "N183": 0.3, "N184": 0.15, "N185": 0.1, "N182": 0.1}),
    "smoking": (0.2, {"F172": 0.75, "Z720": 0.25}),
    "obesity": (0.2, {"E669": 0.7, "E668": 0.2, "E660": 0.1}),
    "heavy_drinking": (0.18, {"F102": 0.3, "F101": 0.3, "K700": 0.25, "K709": 0.15}),
}
_TIA_CODES = {"G459": 0.7, "G458": 0.15, "G450": 0.1, "G451": 0.05}
_TIA_HISTORY = {"Z867": 1.0}

_ACUTE_STROKE = {
    "I639": 0.22, "I634": 0.16, "I635": 0.1, "I633": 0.1, "I638": 0.07, "I630": 0.03, "I631": 0.02, "I632": 0.02,
    "I619": 0.07, "I610": 0.05, "I611": 0.03, "I618": 0.02, "I609": 0.03, "I607": 0.015, "I602": 0.015,
    "I64": 0.05,
}
_SEQUELAE = {
    "I693": 0.45, "I691": 0.1, "I690": 0.03, "I694": 0.07, "I698": 0.05, "I672": 0.05, "I652": 0.03,
    "G819": 0.07, "G811": 0.03, "R13": 0.04, "R470": 0.04, "J690": 0.03, "F019": 0.03,
}

# Common outpatient codes, most frequent first (the head of the background distribution).
_COMMON_CODES: tuple[str, ...] = (
    "J069", "K219", "M545", "K297", "J209", "M179", "K590", "G470", "H521", "J304", "L309", "I251",
    "E039", "N390", "K30", "M819", "J459", "H251", "R51", "I500", "J449", "K635", "M480", "H400",
    "B182", "D649", "E790", "R42", "J189", "K259", "M759", "L209", "I209", "K449", "R05",
)

# Background exclusions: stroke, the risk-factor and post-stroke codes (they come from the state or the
# outcome), pregnancy, perinatal, external causes and special codes.
_BACKGROUND_EXCLUDED_PREFIXES: tuple[str, ...] = (
    "I6", "G45", "G46", "G81", "I10", "I11", "I12", "I13", "I15", "E10", "E11", "E12", "E13", "E14",
    "E66", "E78", "I48", "N18", "F17", "F10", "K70", "Z72", "Z86", "F01", "R13", "R47", "J69",
    "O", "P", "U", "V", "W", "X", "Y",
)
_MALE_ONLY = (("N40", "N51"), ("C60", "C63"), ("D29", "D29"), ("D40", "D40"), ("E29", "E29"))
_FEMALE_ONLY = (("N70", "N98"), ("C51", "C58"), ("D25", "D28"), ("D39", "D39"), ("E28", "E28"), ("Z30", "Z39"))


@dataclass(frozen=True)
class _Catalogue:
    """The code list (sorted) and the background sampling distributions (cumulative, per sex)."""

    codes: np.ndarray  # object array of code strings, sorted
    cdf_female: np.ndarray
    cdf_male: np.ndarray

    def index(self, codes: dict[str, float]) -> tuple[np.ndarray, np.ndarray]:
        """Catalogue indices and normalised cumulative weights of a {code: weight} distribution."""
        idx = np.searchsorted(self.codes, list(codes))
        if not np.array_equal(self.codes[idx], np.array(list(codes), dtype=object)):
            raise ValueError(f"codes not in the ICD-10 catalogue: {sorted(set(codes) - set(self.codes))}")
        w = np.array(list(codes.values()), dtype=float)
        return idx.astype(np.int32), np.cumsum(w / w.sum())


def _in_ranges(cat3: np.ndarray, ranges: tuple[tuple[str, str], ...]) -> np.ndarray:
    out = np.zeros(len(cat3), dtype=bool)
    for lo, hi in ranges:
        out |= (cat3 >= lo) & (cat3 <= hi)
    return out


def build_catalogue(catalogue_seed: int = 2018, n_supported: int = 6905) -> _Catalogue:
    """Every WHO ICD-10 category and subcategory (<= 4 characters) with Zipf-like background weights.

    The ranking is fixed by `catalogue_seed` (independent of the dataset seed), so code frequencies
    are the same for every dataset: the curated common codes first, then other allowed codes in a
    seeded random order, weight `1 / (rank + 5) ** 1.1`; a 3-character category that has
    subcategories gets a fifth of the weight (coders mostly use the subcategory). Like the paper's
    hospital, whose insurance-code mapping "supported a total of 6905 ICD-10 codes", only the first
    `n_supported` ranked codes (including the condition and stroke codes, which are always supported)
    can occur; the rest of WHO ICD-10 keeps weight 0.
    """
    codes = np.array(who_codes(), dtype=object)
    has_children = has_subcategories(codes)
    cat3 = np.array([c[:3] for c in codes], dtype=object)
    allowed = ~np.array([c.startswith(_BACKGROUND_EXCLUDED_PREFIXES) for c in codes])
    rng = np.random.default_rng(catalogue_seed)
    order = np.flatnonzero(allowed)
    common_idx = np.searchsorted(codes, list(_COMMON_CODES))
    if not np.array_equal(codes[common_idx], np.array(_COMMON_CODES, dtype=object)):
        raise ValueError("a curated common code is not a WHO ICD-10 code")
    rest = np.setdiff1d(order, common_idx)
    special = {c for _, dist in _CONDITION_CODES.values() for c in dist} | set(_TIA_CODES) | set(_TIA_HISTORY)
    special |= set(_ACUTE_STROKE) | set(_SEQUELAE)
    n_background = max(n_supported - len(special) - len(common_idx), 0)
    ranked = np.concatenate([common_idx, rng.permutation(rest)[:n_background]])
    weight = np.zeros(len(codes))
    weight[ranked] = 1.0 / (np.arange(len(ranked)) + 5.0) ** 1.1
    weight[has_children] *= 0.2
    male_only = _in_ranges(cat3, _MALE_ONLY)
    female_only = _in_ranges(cat3, _FEMALE_ONLY)
    wf = np.where(male_only, 0.0, weight)
    wm = np.where(female_only, 0.0, weight)
    return _Catalogue(codes=codes, cdf_female=np.cumsum(wf / wf.sum()), cdf_male=np.cumsum(wm / wm.sum()))


def _draw(cdf: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Inverse-CDF draw of category indices for uniforms `u`."""
    return np.minimum(np.searchsorted(cdf, u, side="right"), len(cdf) - 1)


# --------------------------------------------------------------------------------------------- state


@dataclass
class _State:
    """Per-patient latent state (arrays of length n) and the patients x years follow-up grid."""

    cfg: StrokeConfig
    pid: np.ndarray
    male: np.ndarray
    birth: np.ndarray
    entry: np.ndarray  # first follow-up year
    exit: np.ndarray  # last follow-up year
    years: np.ndarray  # calendar years of the grid
    jan1: np.ndarray  # day number (since 1970) of 1 January of years[0] .. years[-1] + 1
    onset: dict[str, np.ndarray]
    detect: dict[str, np.ndarray]  # age from which a condition is coded (inf: never)
    smoke_ever: np.ndarray
    quit_age: np.ndarray
    heavy: np.ndarray
    metabolic: np.ndarray
    obese: np.ndarray
    frailty: np.ndarray
    visit_propensity: np.ndarray
    person: dict[str, np.ndarray]  # person-level lab effects
    year_noise: dict[str, np.ndarray]  # patients x years lab noise of the hazard's lab set points


def _rng(cfg: StrokeConfig, stream: int) -> np.random.Generator:
    key = (stream, cfg.outcome_variant) if stream in (_STROKE, _POST_STROKE) else (stream,)
    return np.random.default_rng(np.random.SeedSequence(cfg.seed, spawn_key=key))


def _jan1_days(first: int, last: int) -> np.ndarray:
    return np.array([np.datetime64(f"{y}-01-01", "D").astype(np.int64) for y in range(first, last + 2)])


def _make_state(cfg: StrokeConfig) -> _State:
    """Draw the population and its latent state (population and state streams only)."""
    n = cfg.n_patients
    rng = _rng(cfg, _POPULATION)
    male = rng.random(n) < cfg.male_fraction
    by = np.arange(cfg.birth_first, cfg.birth_last + 1)
    w = np.exp(-0.5 * ((by - 1940) / 14.0) ** 2)
    birth = by[_draw(np.cumsum(w / w.sum()), rng.random(n))]
    span = cfg.last_year - cfg.first_year
    entry = np.where(rng.random(n) < cfg.initial_fraction, cfg.first_year,
                     cfg.first_year + 1 + rng.integers(0, max(span - 1, 1), n))
    entry = np.minimum(np.maximum(entry, birth + 18), cfg.last_year)
    duration = rng.geometric(1.0 / cfg.mean_followup_years, n)
    # Gompertz death age conditional on being alive at entry: h(a) = h65 * exp(c (a - 65)).
    c, h65 = 0.1, np.where(male, 0.012, 0.006)
    a0 = entry - birth
    e = rng.exponential(size=n)
    death_age = 65 + np.log(np.exp(c * (a0 - 65)) + c * e / h65) / c
    death_year = birth + np.floor(np.minimum(death_age, 105)).astype(np.int64)
    exit_ = np.minimum.reduce([entry + duration - 1, death_year, np.full(n, cfg.last_year)])
    exit_ = np.maximum(exit_, entry)

    rng = _rng(cfg, _STATE)
    m = rng.standard_normal(n)
    alc = rng.standard_normal(n)
    frailty = rng.standard_normal(n)
    z = rng.standard_normal((n, 6))
    liab = {
        "hypertension": 0.45 * m + math.sqrt(1 - 0.45**2) * z[:, 0],
        "diabetes": 0.6 * m + 0.8 * z[:, 1],
        "dyslipidaemia": 0.5 * m + math.sqrt(0.75) * z[:, 2],
        "atrial_fibrillation": 0.15 * m + math.sqrt(1 - 0.15**2) * z[:, 3],
    }
    liab["prior_tia"] = 0.35 * liab["hypertension"] + math.sqrt(1 - 0.35**2) * z[:, 4]
    liab["ckd"] = 0.35 * liab["hypertension"] + 0.35 * liab["diabetes"] + 0.8 * z[:, 5]
    onset = {k: np.where(male, mu_m, mu_f) - sd * liab[k] for k, (mu_m, mu_f, sd) in _CONDITIONS.items()}
    detect = {}
    for k in _CONDITIONS:
        delay = rng.geometric(1 / 2.5, n) - 1.0  # mean 1.5 years
        never = rng.random(n) < cfg.undiagnosed_prob
        detect[k] = np.where(never, np.inf, onset[k] + delay)
    detect["prior_tia"] = onset["prior_tia"].copy()  # a TIA is an event: coded when it happens
    smoke_ever = rng.random(n) < np.where(male, 0.55, 0.12)
    quit_age = np.where(rng.random(n) < 0.35, np.inf, rng.normal(58, 12, n))
    heavy = alc > np.where(male, 0.7, 1.8)
    bmi = 22.8 + 0.6 * male + 3.2 * m + rng.normal(0, 1.0, n)
    visit_prop = np.exp(rng.normal(0, cfg.visit_propensity_sd, n))
    lab_names = ("hba1c", "ldl", "hdl", "tg", "creat", "ua", "ggt", "got", "gpt", "alp", "rbc", "mcv", "mchc",
                 "wbc", "plt")
    person = {name: rng.standard_normal(n) for name in lab_names}
    years = np.arange(cfg.first_year, cfg.last_year + 1)
    ny = len(years)
    year_noise = {name: rng.standard_normal((n, ny)).astype(np.float32) for name in ("hba1c", "ldl", "hdl", "wbc")}
    return _State(
        cfg=cfg, pid=np.arange(1, n + 1, dtype=np.int64), male=male, birth=birth.astype(np.int64),
        entry=entry.astype(np.int64), exit=exit_.astype(np.int64), years=years,
        jan1=_jan1_days(cfg.first_year, cfg.last_year), onset=onset, detect=detect, smoke_ever=smoke_ever,
        quit_age=quit_age, heavy=heavy, metabolic=m, obese=bmi >= 27.0, frailty=frailty,
        visit_propensity=visit_prop, person=person, year_noise=year_noise,
    )


def _present(st: _State, name: str, p: np.ndarray, age: np.ndarray) -> np.ndarray:
    """Whether condition `name` is present (latent) at these (patient, age) pairs."""
    if name == "smoking":
        return st.smoke_ever[p] & (age >= 20) & (age < st.quit_age[p])
    return age >= st.onset[name][p]


def _coded(st: _State, name: str, p: np.ndarray, age: np.ndarray) -> np.ndarray:
    """Whether condition `name` is diagnosed (so coded at visits) at these (patient, age) pairs."""
    if name == "smoking":
        return _present(st, "smoking", p, age)
    if name == "obesity":
        return st.obese[p] & (age >= 30)
    if name == "heavy_drinking":
        return st.heavy[p] & (age >= 30)
    return age >= st.detect[name][p]


def _lab_levels(st: _State, p: np.ndarray, yi: np.ndarray) -> dict[str, np.ndarray]:
    """Latent laboratory set points at (patient, year-index) pairs, from the state only."""
    age = (st.years[yi] - st.birth[p]).astype(float)
    male = st.male[p]
    m = st.metabolic[p]
    heavy = st.heavy[p].astype(float)
    dm = _present(st, "diabetes", p, age).astype(float)
    dl = _present(st, "dyslipidaemia", p, age).astype(float)
    ckd = _present(st, "ckd", p, age).astype(float)
    smk = _present(st, "smoking", p, age).astype(float)
    pe = {k: v[p] for k, v in st.person.items()}
    yn = {k: v[p, yi].astype(float) for k, v in st.year_noise.items()}
    a50 = (age - 50.0) / 10.0
    post_meno = (~male) & (age >= 52)
    jds = 4.95 + 0.08 * a50 + 0.15 * m + dm * (1.2 + 0.5 * np.abs(pe["hba1c"])) + 0.2 * pe["hba1c"] + 0.12 * yn["hba1c"]
    ldl = 100 + 3 * a50 + 10 * post_meno + 7 * m + 30 * dl + 18 * pe["ldl"] + 9 * yn["ldl"]
    hdl = np.where(male, 53.0, 64.0) - 5 * m - 5 * dl - 4 * smk + 6 * heavy + 10 * pe["hdl"] + 4 * yn["hdl"]
    tg = np.exp(np.log(np.where(male, 125.0, 92.0)) + 0.25 * m + 0.35 * dl + 0.2 * heavy + 0.3 * pe["tg"])
    creat = (np.where(male, 0.84, 0.62) * np.exp(0.05 * a50 + 0.1 * pe["creat"])
             * (1 + ckd * (0.55 + 0.35 * np.abs(pe["creat"]))))
    ua = np.where(male, 5.9, 4.5) + 0.45 * m + 1.3 * ckd + 0.4 * heavy + 0.8 * pe["ua"]
    ggt = np.exp(np.log(np.where(male, 30.0, 18.0)) + 0.9 * heavy + 0.15 * m + 0.35 * pe["ggt"])
    got = np.exp(np.log(21.0) + 0.35 * heavy + 0.08 * m + 0.2 * pe["got"])
    gpt = np.exp(np.log(np.where(male, 21.0, 15.0)) + 0.3 * m + 0.25 * heavy + 0.3 * pe["gpt"])
    alp = np.exp(np.log(215.0) + 0.08 * m + 0.1 * heavy + 0.12 * post_meno + 0.2 * pe["alp"])
    rbc = np.where(male, 4.85, 4.3) - 0.04 * a50 - 0.35 * ckd + 0.15 * smk + 0.28 * pe["rbc"]
    mcv = 91.0 + 0.5 * a50 + 3.0 * heavy + 3.0 * pe["mcv"]
    mchc = 33.2 + 0.6 * pe["mchc"]
    wbc = 5.8 + 1.2 * smk + 0.3 * m + 1.0 * pe["wbc"] + 0.6 * yn["wbc"]
    plt = np.where(male, 23.0, 24.5) - 0.3 * a50 - 2.0 * heavy + 4.5 * pe["plt"]
    return {
        "hba1c_jds": np.clip(jds, 4.0, 14.0), "ldl": np.clip(ldl, 35, 320), "hdl": np.clip(hdl, 20, 130),
        "tg": np.clip(tg, 25, 1500), "creat": np.clip(creat, 0.3, 12), "ua": np.clip(ua, 1.5, 12),
        "ggt": ggt, "got": got, "gpt": gpt, "alp": alp, "rbc": np.clip(rbc, 2.5, 6.8),
        "mcv": np.clip(mcv, 70, 115), "mchc": np.clip(mchc, 30.5, 36.0), "wbc": np.clip(wbc, 2.0, 20),
        "plt": np.clip(plt, 5, 60),
    }


def _hazard(st: _State, p: np.ndarray, yi: np.ndarray) -> np.ndarray:
    """Annual first-stroke hazard at (patient, year-index) pairs (see `HazardModel`)."""
    hz = st.cfg.hazard
    age = (st.years[yi] - st.birth[p]).astype(float)
    lab = _lab_levels(st, p, yi)
    ngsp = 1.02 * lab["hba1c_jds"] + 0.25
    lp = (math.log(hz.base_rate) + hz.age_slope * (age - 65) + hz.male * st.male[p]
          + hz.calendar_trend * (st.years[yi] - 2008.0) + hz.frailty_sd * st.frailty[p]
          + hz.hba1c * (ngsp - 5.6) + hz.ldl * (lab["ldl"] - 120) / 40 + hz.hdl * (lab["hdl"] - 55) / 15
          + hz.wbc * (lab["wbc"] - 6) / 2)
    for name in ("hypertension", "diabetes", "dyslipidaemia", "atrial_fibrillation", "prior_tia", "ckd", "smoking"):
        lp = lp + getattr(hz, name) * _present(st, name, p, age)
    return np.exp(lp)


# --------------------------------------------------------------------------------------------- records

_DECIMALS = {"ALP": 0, "creatinine": 2, "Hb": 1, "hematocrit": 1, "MCH": 1, "MCHC": 1, "MCV": 1, "platelets": 1,
             "RBC": 2, "WBC": 1, "GGT": 0, "GOT": 0, "GPT": 0, "HbA1c_JDS": 1, "HbA1c_NGSP": 1, "HDL_C": 0,
             "LDL_C": 0, "triglyceride": 0, "uric_acid": 1, "glucose": 0}
_DEC = np.array([_DECIMALS[m] for m in METRICS])
_MI = {m: i for i, m in enumerate(METRICS)}


def _blood_count_values(v: np.ndarray, lab: dict[str, np.ndarray], z: np.ndarray) -> None:
    """Fill the blood count columns of `v`: RBC, MCV and MCHC measured, the indices derived from them as a
    counter reports them (haematocrit, Hb, MCV, MCHC, MCH), then WBC and platelets; noise from `z[:, 0:5]`."""
    rbc = np.round(lab["rbc"] * np.exp(0.02 * z[:, 0]), 2)
    mcv = lab["mcv"] + 0.8 * z[:, 1]
    mchc = lab["mchc"] + 0.3 * z[:, 2]
    hct = np.round(rbc * mcv / 10, 1)
    hb = np.round(mchc * hct / 100, 1)
    v[:, _MI["RBC"]] = rbc
    v[:, _MI["hematocrit"]] = hct
    v[:, _MI["Hb"]] = hb
    v[:, _MI["MCV"]] = np.round(hct / rbc * 10, 1)
    v[:, _MI["MCHC"]] = np.round(hb / hct * 100, 1)
    v[:, _MI["MCH"]] = np.round(hb / rbc * 10, 1)
    v[:, _MI["WBC"]] = lab["wbc"] * np.exp(0.08 * z[:, 3])
    v[:, _MI["platelets"]] = lab["plt"] * np.exp(0.06 * z[:, 4])


def _chemistry_values(v: np.ndarray, lab: dict[str, np.ndarray], z: np.ndarray) -> None:
    """Fill the biochemical columns of `v` (and ALP, creatinine): each set point with its measurement noise
    from `z[:, 5:16]`; NGSP HbA1c and glucose follow the measured JDS HbA1c."""
    v[:, _MI["ALP"]] = lab["alp"] * np.exp(0.08 * z[:, 5])
    v[:, _MI["creatinine"]] = lab["creat"] * np.exp(0.05 * z[:, 6])
    jds = np.round(lab["hba1c_jds"] + 0.08 * z[:, 7], 1)
    v[:, _MI["HbA1c_JDS"]] = jds
    v[:, _MI["HbA1c_NGSP"]] = np.round(1.02 * jds + 0.25, 1)
    v[:, _MI["glucose"]] = np.maximum(28.7 * (1.02 * jds + 0.25) - 58.0, 60.0) * np.exp(0.12 * z[:, 8])
    v[:, _MI["GGT"]] = lab["ggt"] * np.exp(0.15 * z[:, 9])
    v[:, _MI["GOT"]] = lab["got"] * np.exp(0.12 * z[:, 10])
    v[:, _MI["GPT"]] = lab["gpt"] * np.exp(0.15 * z[:, 11])
    v[:, _MI["LDL_C"]] = lab["ldl"] + 6 * z[:, 12]
    v[:, _MI["HDL_C"]] = lab["hdl"] + 3 * z[:, 13]
    v[:, _MI["triglyceride"]] = lab["tg"] * np.exp(0.25 * z[:, 14])
    v[:, _MI["uric_acid"]] = lab["ua"] + 0.3 * z[:, 15]


def _exam_values(st: _State, p: np.ndarray, yi: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Every metric's value at each exam event (events x metrics), rounded to the metric's reported decimals
    and at least one unit of the last decimal; draws the events' measurement noise first."""
    lab = _lab_levels(st, p, yi)
    z = rng.standard_normal((len(p), 16))
    v = np.empty((len(p), len(METRICS)))
    _blood_count_values(v, lab, z)
    _chemistry_values(v, lab, z)
    for j in range(len(METRICS)):
        v[:, j] = np.round(np.maximum(v[:, j], 10.0 ** -_DEC[j]), _DEC[j])
    return v


def _measurement_probabilities(blood: np.ndarray, bio: np.ndarray, cbc: np.ndarray, dl: np.ndarray) -> np.ndarray:
    """Per exam event and metric, the probability that the exam holds it, given which panels were ordered
    (blood, biochemical, blood count) and dyslipidaemia (LDL measured more often); HbA1c is set apart."""
    prob = np.empty((len(blood), len(METRICS)))
    for m in ("Hb", "hematocrit", "RBC", "WBC", "platelets"):
        prob[:, _MI[m]] = 0.98 * cbc
    for m in ("MCV", "MCH", "MCHC"):
        prob[:, _MI[m]] = 0.93 * cbc
    prob[:, _MI["ALP"]] = 0.5 * blood
    prob[:, _MI["creatinine"]] = 0.85 * blood
    for m, q in (("GOT", 0.93), ("GPT", 0.93), ("GGT", 0.75), ("HDL_C", 0.6), ("triglyceride", 0.6),
                 ("uric_acid", 0.6), ("glucose", 0.75)):
        prob[:, _MI[m]] = q * bio
    prob[:, _MI["LDL_C"]] = (0.55 + 0.25 * dl) * bio
    return prob


def _measured(st: _State, p: np.ndarray, yi: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Which metrics each exam event holds (events x metrics, boolean): the panels ordered, each metric of
    an ordered panel with its probability, HbA1c (more often for a coded diabetic) on one or both scales."""
    ne = len(p)
    age = (st.years[yi] - st.birth[p]).astype(float)
    u = rng.random((ne, len(METRICS) + 4))
    blood = u[:, -4] < 0.90
    bio = u[:, -3] < 0.85
    blood |= ~(blood | bio)
    cbc = blood & (u[:, -2] < 0.95)
    dm = _coded(st, "diabetes", p, age)
    prob = _measurement_probabilities(blood, bio, cbc, _coded(st, "dyslipidaemia", p, age))
    has = u[:, : len(METRICS)] < prob
    hba1c = bio & (u[:, -1] < 0.3 + 0.5 * dm)
    which = rng.random(ne)  # both scales 90 %, JDS only 5 %, NGSP only 5 %
    has[:, _MI["HbA1c_JDS"]] = hba1c & (which < 0.95)
    has[:, _MI["HbA1c_NGSP"]] = hba1c & ((which < 0.90) | (which >= 0.95))
    return has


def _with_repeats(ev: np.ndarray, mi: np.ndarray, val: np.ndarray, prob: float, rng: np.random.Generator
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Append a repeated measurement (a slightly different value, same event and metric) to a share `prob`
    of the rows; returns (event, metric index, value, repeat flag) with the repeats after the originals."""
    n_first = len(ev)
    dup = rng.random(n_first) < prob
    scale = 10.0 ** _DEC[mi[dup]]
    dv = np.round(val[dup] * np.exp(0.015 * rng.standard_normal(int(dup.sum()))) * scale) / scale
    ev = np.concatenate([ev, ev[dup]])
    mi = np.concatenate([mi, mi[dup]])
    val = np.concatenate([val, np.maximum(dv, 10.0 ** -_DEC[mi[n_first:]])])
    rep = np.concatenate([np.zeros(n_first, np.int8), np.ones(int(dup.sum()), np.int8)])
    return ev, mi, val, rep


def _exam_rows(st: _State, p: np.ndarray, yi: np.ndarray, day: np.ndarray, rng: np.random.Generator
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Exam rows for exam events (patient, year-index, day): (patient, day, metric index, value, repeat).
    The random draws run in a fixed order (values, then which metrics, then repeats): it fixes the bytes."""
    v = _exam_values(st, p, yi, rng)
    ev, mi = np.nonzero(_measured(st, p, yi, rng))
    ev, mi, val, rep = _with_repeats(ev, mi, v[ev, mi], st.cfg.duplicate_prob, rng)
    return p[ev], day[ev], mi.astype(np.int8), val, rep


def _uniform_days(st: _State, yi: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A uniformly random day (days since 1970) within each year index."""
    length = st.jan1[yi + 1] - st.jan1[yi]
    return st.jan1[yi] + np.floor(rng.random(len(yi)) * length).astype(np.int64)


def _first_strokes(cfg: StrokeConfig, st: _State, cp: np.ndarray, cy: np.ndarray):
    """Hazard per follow-up cell and each stroke patient's first stroke (stroke stream only).

    Returns (lam_cells, sp, syi, sday): the annual hazard of every cell, the stroke patients' positions,
    the year index and the day number of their first stroke.
    """
    n, ny = cfg.n_patients, len(st.years)
    lam_cells = _hazard(st, cp, cy)
    lam = np.zeros((n, ny))
    lam[cp, cy] = lam_cells
    cum = np.cumsum(lam, axis=1)
    e = _rng(cfg, _STROKE).exponential(size=n)
    hit = cum >= e[:, None]
    sp = np.flatnonzero(hit.any(axis=1))
    syi = hit[sp].argmax(axis=1)
    frac = (e[sp] - (cum[sp, syi] - lam[sp, syi])) / lam[sp, syi]
    ylen = st.jan1[syi + 1] - st.jan1[syi]
    sday = st.jan1[syi] + np.minimum(np.floor(frac * ylen).astype(np.int64), ylen - 1)
    return lam_cells, sp, syi, sday


def _end_of_records(cfg: StrokeConfig, st: _State, sp, syi, sday, rq) -> np.ndarray:
    """Last day of records per patient: the end of the exit year, or death within 30 days of a fatal stroke."""
    end_day = st.jan1[st.exit - cfg.first_year + 1] - 1
    sage = st.years[syi] - st.birth[sp]
    fatal = rq.random(len(sp)) < np.clip(cfg.fatal_stroke_prob * np.exp(0.03 * (sage - 70)), 0, 0.6)
    end_day[sp[fatal]] = np.minimum(end_day[sp[fatal]], sday[fatal] + rq.integers(0, 31, int(fatal.sum())))
    return end_day


def _visits(cfg: StrokeConfig, st: _State, cat: _Catalogue, cp, cy, cage):
    """Visits and their diagnoses (visit stream: never sees the outcome).

    Returns (vp, vyi, vday, dx) with the visits' patients, year indices and days, and `dx` the lists of
    diagnosis patients, days and code indices (background codes, conditions, TIA).
    """
    rv = _rng(cfg, _VISITS)
    n_coded = sum(_coded(st, k, cp, cage).astype(float) for k in _CONDITION_CODES)
    rate = cfg.visit_rate * np.exp(0.02 * (cage - 60)) * (1 + cfg.morbidity_visit_factor * n_coded) * st.visit_propensity[cp]
    nv = np.minimum(rv.poisson(rate), 24)
    vcell = np.repeat(np.arange(len(cp)), nv)
    vp, vyi = cp[vcell], cy[vcell]
    vday = _uniform_days(st, vyi, rv)
    vage = st.years[vyi] - st.birth[vp]
    nbg = 1 + rv.poisson(cfg.extra_codes_per_visit, len(vp))
    bp = np.repeat(np.arange(len(vp)), nbg)
    u = rv.random(len(bp))
    bmale = st.male[vp[bp]]
    bcode = np.where(bmale, _draw(cat.cdf_male, u), _draw(cat.cdf_female, u)).astype(np.int32)
    dx_p, dx_day, dx_code = [vp[bp]], [vday[bp]], [bcode]
    for name, (q, dist) in _CONDITION_CODES.items():
        idx, cdf = cat.index(dist)
        sel = np.flatnonzero(_coded(st, name, vp, vage) & (rv.random(len(vp)) < q))
        dx_p.append(vp[sel]); dx_day.append(vday[sel]); dx_code.append(idx[_draw(cdf, rv.random(len(sel)))])
    tia_year = np.floor(st.onset["prior_tia"][vp]) == vage
    for dist, mask, q in ((_TIA_CODES, tia_year, 0.7), (_TIA_HISTORY, vage > st.onset["prior_tia"][vp] + 1, 0.1)):
        idx, cdf = cat.index(dist)
        sel = np.flatnonzero(mask & (rv.random(len(vp)) < q))
        dx_p.append(vp[sel]); dx_day.append(vday[sel]); dx_code.append(idx[_draw(cdf, rv.random(len(sel)))])
    return vp, vyi, vday, (dx_p, dx_day, dx_code)


def _exams(cfg: StrokeConfig, st: _State, cp, cy, vp, vyi, vday):
    """Exams (exam stream): annual health checks and labs ordered at visits; one exam per patient and day.

    Returns (ep, eday, rows): the exams' patients and days (sorted) and their metric rows (`_exam_rows`).
    """
    rx = _rng(cfg, _EXAMS)
    hc = rx.random(len(cp)) < cfg.health_check_prob
    lab_v = rx.random(len(vp)) < cfg.lab_per_visit_prob
    ep = np.concatenate([cp[hc], vp[lab_v]])
    eyi = np.concatenate([cy[hc], vyi[lab_v]])
    eday = np.concatenate([_uniform_days(st, cy[hc], rx), vday[lab_v]])
    order = np.lexsort((eday, ep))
    ep, eyi, eday = ep[order], eyi[order], eday[order]
    keep = np.ones(len(ep), bool)
    keep[1:] = (ep[1:] != ep[:-1]) | (eday[1:] != eday[:-1])
    ep, eyi, eday = ep[keep], eyi[keep], eday[keep]
    return ep, eday, list(_exam_rows(st, ep, eyi, eday, rx))


def _post_stroke(st: _State, cat: _Catalogue, sp, syi, sday, end_day, ep, eday, dx, ex, rq):
    """Post-stroke records (post-stroke stream): acute code, repeats, admission labs, follow-up sequelae.

    Appends the diagnoses to the lists of `dx` and returns the exam rows with the admission labs added.
    """
    dx_p, dx_day, dx_code = dx
    a_idx, a_cdf = cat.index(_ACUTE_STROKE)
    s_idx, s_cdf = cat.index(_SEQUELAE)
    acute = a_idx[_draw(a_cdf, rq.random(len(sp)))]
    nrep = rq.poisson(1.0, len(sp))
    rp = np.repeat(np.arange(len(sp)), nrep)
    rday = sday[rp] + rq.integers(1, 61, len(rp))
    remaining = np.maximum(end_day[sp] - sday, 0)
    nfu = rq.poisson(1.0 * remaining / 365.25)  # about one follow-up visit a year
    fp = np.repeat(np.arange(len(sp)), nfu)
    fday = sday[fp] + 1 + np.floor(rq.random(len(fp)) * remaining[fp]).astype(np.int64)
    dx_p += [sp, sp[rp], sp[fp]]
    dx_day += [sday, rday, fday]
    dx_code += [acute, acute[rp], s_idx[_draw(s_cdf, rq.random(len(fp)))]]
    adm = rq.random(len(sp)) < 0.85
    base_keys = ep * 100_000 + eday  # an exam already on the stroke date serves as the admission labs
    k = np.searchsorted(base_keys, sp * 100_000 + sday)
    adm &= base_keys[np.minimum(k, len(base_keys) - 1)] != sp * 100_000 + sday if len(base_keys) else adm
    post = _exam_rows(st, sp[adm], syi[adm], sday[adm], rq)
    return [np.concatenate([a, b]) for a, b in zip(ex, post)]


def _finalise(dx, ex, end_day: np.ndarray):
    """Truncate at the end of records, sort, and de-duplicate diagnoses; returns (dp, dd, dc), (xp, xd, xm, xv)."""
    dp, dd, dc = (np.concatenate(x) for x in dx)
    ok = dd <= end_day[dp]
    dp, dd, dc = dp[ok], dd[ok], dc[ok]
    order = np.lexsort((dc, dd, dp))
    dp, dd, dc = dp[order], dd[order], dc[order]
    keep = np.ones(len(dp), bool)
    keep[1:] = (dp[1:] != dp[:-1]) | (dd[1:] != dd[:-1]) | (dc[1:] != dc[:-1])
    dp, dd, dc = dp[keep], dd[keep], dc[keep]
    xp, xd, xm, xv, xr = ex
    ok = xd <= end_day[xp]
    xp, xd, xm, xv, xr = xp[ok], xd[ok], xm[ok], xv[ok], xr[ok]
    order = np.lexsort((xr, xm, xd, xp))
    return (dp, dd, dc), (xp[order], xd[order], xm[order], xv[order])


def _arrow_tables(st: _State, cat: _Catalogue, diag, exams, cp, cy, lam_cells) -> dict[str, pa.Table]:
    """The four tables as Arrow tables (dictionary-decoded strings, day-precision timestamps)."""
    dp, dd, dc = diag
    xp, xd, xm, xv = exams
    metric_dict = pa.array(list(METRICS), pa.string())
    type_dict = pa.array(["blood", "biochemical"], pa.string())
    type_idx = np.array([0 if EXAM_TYPES[m] == "blood" else 1 for m in METRICS], np.int8)[xm]
    codes = pa.array(list(cat.codes), pa.string())

    def days(d: np.ndarray) -> pa.Array:
        return pa.array(d.astype("datetime64[D]").astype("datetime64[ns]"), pa.timestamp("ns"))

    def decode(idx: np.ndarray, dictionary: pa.Array) -> pa.Array:
        return pa.DictionaryArray.from_arrays(pa.array(idx.astype(np.int32)), dictionary).dictionary_decode()

    return {
        "patients": pa.table({
            "patient_id": pa.array(st.pid), "birth_year": pa.array(st.birth.astype(np.int32)),
            "gender": decode(st.male.astype(np.int8), pa.array(["F", "M"], pa.string())),
        }),
        "diagnoses": pa.table({"patient_id": pa.array(st.pid[dp]), "date": days(dd), "icd10": decode(dc, codes)}),
        "exams": pa.table({
            "patient_id": pa.array(st.pid[xp]), "date": days(xd), "exam_type": decode(type_idx, type_dict),
            "metric": decode(xm, metric_dict), "value": pa.array(xv, pa.float64()),
        }),
        "hazard": pa.table({
            "patient_id": pa.array(st.pid[cp]), "year": pa.array(st.years[cy].astype(np.int32)),
            "annual_hazard": pa.array(lam_cells, pa.float64()),
        }),
    }


def _simulate_arrays(cfg: StrokeConfig, progress: bool = False) -> dict[str, pa.Table]:
    """Run the whole simulation in named steps and return the four tables as Arrow tables in their final
    row order. Each step draws from its own random stream, so the steps' order fixes the output bytes."""
    t0 = time.perf_counter()
    say = (lambda msg: _log.info(f"[stroke_synth {time.perf_counter() - t0:5.1f} s] {msg}")) if progress \
        else (lambda msg: None)
    cat = build_catalogue()
    st = _make_state(cfg)
    active = (st.years[None, :] >= st.entry[:, None]) & (st.years[None, :] <= st.exit[:, None])
    cp, cy = np.nonzero(active)  # follow-up cells, patient-major
    cage = st.years[cy] - st.birth[cp]
    say(f"population of {cfg.n_patients:,} patients, {len(cp):,} follow-up years")
    lam_cells, sp, syi, sday = _first_strokes(cfg, st, cp, cy)
    say(f"{len(sp):,} first strokes during follow-up")
    rq = _rng(cfg, _POST_STROKE)
    end_day = _end_of_records(cfg, st, sp, syi, sday, rq)
    vp, vyi, vday, dx = _visits(cfg, st, cat, cp, cy, cage)
    say(f"{len(vp):,} visits")
    ep, eday, ex = _exams(cfg, st, cp, cy, vp, vyi, vday)
    say(f"{len(ep):,} exams")
    ex = _post_stroke(st, cat, sp, syi, sday, end_day, ep, eday, dx, ex, rq)
    diag, exams = _finalise(dx, ex, end_day)
    say(f"{len(diag[0]):,} diagnosis rows, {len(exams[0]):,} exam rows")
    tables = _arrow_tables(st, cat, diag, exams, cp, cy, lam_cells)
    say("tables assembled")
    return tables


def simulate_stroke(config: StrokeConfig | None = None) -> StrokeTables:
    """Simulate the hospital EHR in memory and return it as `StrokeTables` (schema dtypes, hazard included)."""
    tables = _simulate_arrays(config or StrokeConfig())
    return StrokeTables(**{name: arrow_to_pandas(t, name) for name, t in tables.items()})


def generate_stroke_dataset(out: str | Path, *, n_patients: int | None = None, seed: int = 0,
                            overwrite: bool = False, progress: bool = True,
                            config: StrokeConfig | None = None) -> Path:
    """Simulate the hospital EHR and write it atomically to `out` as Parquet tables plus `metadata.json`.

    `config` gives every parameter (default: `StrokeConfig()`); `n_patients`, when given, overrides its
    population size and `seed` its seed (with a config given, a `seed` left at 0 keeps the config's
    seed). `metadata.json` records the parameters, seed and row counts (the generation seconds go beside the
    folder, `ehrlib.jsonfiles.write_timings`, so that the folder is byte-identical for the same seed). Parquet
    files are byte-identical for the same parameters. Returns the dataset folder.
    """
    cfg = config or StrokeConfig()
    changes: dict[str, object] = {"seed": seed} if config is None or seed != 0 else {}
    if n_patients is not None:
        changes["n_patients"] = n_patients
    cfg = dataclasses.replace(cfg, **changes)
    out = Path(out)
    start = time.perf_counter()
    with atomic_directory(out, overwrite=overwrite) as tmp:
        tables = _simulate_arrays(cfg, progress=progress)
        for name, table in tables.items():
            pq.write_table(table, tmp / TABLE_FILES[name], compression="zstd")
        first = _count_stroke_patients(tables["diagnoses"])
        write_json(tmp / "metadata.json", {
            "generator": "ehrlib.stroke.synth",
            "parameters": dataclasses.asdict(cfg),
            "seed": cfg.seed,
            "counts": {name: t.num_rows for name, t in tables.items()} | {"patients_with_stroke": first},
        })
    write_timings(out, {"generation_seconds": time.perf_counter() - start})  # beside the data, not in it
    if progress:
        _log.info(f"[stroke_synth] wrote {out} in {time.perf_counter() - start:.1f} s")
    return out


def _count_stroke_patients(diagnoses: pa.Table) -> int:
    """Number of distinct patients with any I60-I69 code in an Arrow diagnoses table."""
    import pyarrow.compute as pc

    stroke = pc.starts_with(diagnoses["icd10"], "I6")  # I60-I69: every stroke code starts with I6
    return len(pc.unique(pc.filter(diagnoses["patient_id"], stroke)))
