"""The stroke study's case-control cohort (Teoh 2018, "Patient cohort") and its split by case.

Rules, as the paper states them, for any tables of `ehrlib.stroke.schema` (real or synthetic):

- **Case**: the patient's *first* stroke diagnosis (any code starting I60-I69) falls between `start` and
  `end`; the age at that diagnosis is between `min_age` and `max_age`; the patient has at least one
  diagnosis and at least one exam result at least one day before it.
- **Control**: same birth year and gender as the case; never any stroke diagnosis; at least one diagnosis
  and one exam before the case's diagnosis date and at least one diagnosis and one exam after it. Each
  control serves one case only; a case gets exactly `n_controls` controls or is excluded.

Choices the paper leaves open, made here:

- Both ends of the date range are inclusive (`start <= first stroke date <= end`): "between January 1,
  2001 and January 1, 2015".
- Age is the calendar year of the diagnosis minus the birth year (the tables hold birth *years* only);
  both age limits are inclusive.
- "Before" and "after" are strict, at day precision: a record on the case's diagnosis date counts as
  neither (for a case, "at least one day before" is the same as strictly before).
- A control must have a diagnosis and an exam strictly before and strictly after the date; these need
  not be on the same day. Patients with only diagnoses or only exams cannot be controls.
- Matching is greedy: eligible cases are processed in a seeded random order; each takes, among the
  still unused eligible candidates of its (birth year, gender), the first `n_controls` in a seeded random
  candidate order. A case that finds fewer is excluded and the candidates it saw stay available. The
  paper does not say how it chose among candidates; greedy random matching keeps the choice
  reproducible and unrelated to any outcome. Everything is computed with vectorised per-patient
  summaries (first/last dates); the only Python loop runs once per eligible case (a few thousand) and
  does one vectorised selection within its stratum.
- `split_cohort` shuffles the *cases* with its seed and cuts 70 / 15 / 15 (rounded counts, the test
  split taking the remainder); each control follows its case, so no patient is in two splits and the
  case:control ratio is 1:2 in every split.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ehrlib.stroke.schema import STRING_DTYPE, STROKE_CODE_PREFIXES, StrokeTables

COHORT_COLUMNS: tuple[str, ...] = ("patient_id", "role", "case_id", "index_date", "birth_year", "gender")
SPLITS: tuple[str, ...] = ("train", "val", "test")


def _days(values: pd.Series) -> np.ndarray:
    """Dates as integer days since 1970-01-01."""
    return values.to_numpy().astype("datetime64[D]").astype(np.int64)


def _per_patient(pos: np.ndarray, days: np.ndarray, n: int, how: str) -> np.ndarray:
    """Per-patient min or max of `days` (by patient position); missing patients get +/- a sentinel."""
    fill = np.iinfo(np.int64).max if how == "min" else np.iinfo(np.int64).min
    out = np.full(n, fill, dtype=np.int64)
    if len(pos):
        (np.minimum if how == "min" else np.maximum).at(out, pos, days)
    return out


def _positions(sorted_ids: np.ndarray, ids: np.ndarray, table: str) -> np.ndarray:
    """Row positions of `ids` in the sorted patient ids; raises naming the first unknown patient."""
    pos = np.searchsorted(sorted_ids, ids)
    bad = (pos >= len(sorted_ids)) | (sorted_ids[np.minimum(pos, max(len(sorted_ids) - 1, 0))] != ids) \
        if len(sorted_ids) else np.ones(len(ids), bool)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"{table} table: row {i}: patient_id {ids[i]} is not in the patients table")
    return pos


def patient_summary(tables: StrokeTables) -> pd.DataFrame:
    """One row per patient: birth year, gender, first stroke date, first/last diagnosis and exam dates.

    Dates are integer days since 1970 (int64); a patient without any such record holds the sentinel
    int64 max (for "first") or min (for "last"), so comparisons with any real date fail safely.
    """
    pat = tables.patients.sort_values("patient_id", kind="stable").reset_index(drop=True)
    pid = pat["patient_id"].to_numpy(np.int64)
    n = len(pid)
    dx_pos = _positions(pid, tables.diagnoses["patient_id"].to_numpy(np.int64), "diagnoses")
    ex_pos = _positions(pid, tables.exams["patient_id"].to_numpy(np.int64), "exams")
    dx_days = _days(tables.diagnoses["date"])
    ex_days = _days(tables.exams["date"])
    stroke = tables.diagnoses["icd10"].astype("string").str.slice(0, 3).isin(STROKE_CODE_PREFIXES).to_numpy(bool)
    return pd.DataFrame({
        "patient_id": pid,
        "birth_year": pat["birth_year"].to_numpy(np.int64),
        "gender": pat["gender"].astype("string").to_numpy(dtype=object),
        "first_stroke": _per_patient(dx_pos[stroke], dx_days[stroke], n, "min"),
        "first_dx": _per_patient(dx_pos, dx_days, n, "min"),
        "last_dx": _per_patient(dx_pos, dx_days, n, "max"),
        "first_exam": _per_patient(ex_pos, ex_days, n, "min"),
        "last_exam": _per_patient(ex_pos, ex_days, n, "max"),
    })


def eligible_cases(summary: pd.DataFrame, *, start: str = "2001-01-01", end: str = "2015-01-01",
                   min_age: int = 45, max_age: int = 95) -> np.ndarray:
    """Boolean mask of the patients that satisfy the case rules (before matching)."""
    lo = np.datetime64(start, "D").astype(np.int64)
    hi = np.datetime64(end, "D").astype(np.int64)
    fs = summary["first_stroke"].to_numpy()
    has = fs != np.iinfo(np.int64).max
    year = np.where(has, fs, 0).astype("datetime64[D]").astype("datetime64[Y]").astype(np.int64) + 1970
    age = year - summary["birth_year"].to_numpy()
    return (has & (fs >= lo) & (fs <= hi) & (age >= min_age) & (age <= max_age)
            & (summary["first_dx"].to_numpy() < fs) & (summary["first_exam"].to_numpy() < fs))


def build_cohort(tables: StrokeTables, *, start: str = "2001-01-01", end: str = "2015-01-01", min_age: int = 45,
                 max_age: int = 95, n_controls: int = 2, seed: int = 0) -> pd.DataFrame:
    """Select cases and match `n_controls` controls each (rules and open choices: module docstring).

    Returns one row per cohort patient with `patient_id`, `role` ("case"/"control"), `case_id` (the
    case's patient_id, also on the case's own row), `index_date` (the case's first stroke date),
    `birth_year`, `gender`; sorted by case_id, the case first, then its controls by patient_id.
    Deterministic for a seed, whatever the row order of the input tables.
    """
    if n_controls < 1:
        raise ValueError(f"n_controls must be at least 1, got {n_controls}")
    s = patient_summary(tables)
    case_mask = eligible_cases(s, start=start, end=end, min_age=min_age, max_age=max_age)
    none = np.iinfo(np.int64).max
    ctrl_mask = ((s["first_stroke"].to_numpy() == none) & (s["first_dx"].to_numpy() != none)
                 & (s["first_exam"].to_numpy() != none))
    rng = np.random.default_rng(seed)
    case_rank = rng.permutation(len(s))
    cand_rank = rng.permutation(len(s))
    gender_code = pd.Categorical(s["gender"], categories=sorted(set(s["gender"]))).codes.astype(np.int64)
    stratum = s["birth_year"].to_numpy() * 4 + gender_code
    lo = np.maximum(s["first_dx"].to_numpy(), s["first_exam"].to_numpy())
    hi = np.minimum(s["last_dx"].to_numpy(), s["last_exam"].to_numpy())

    cand = np.flatnonzero(ctrl_mask)
    cand = cand[np.lexsort((cand_rank[cand], stratum[cand]))]  # by stratum, then the random candidate order
    c_stratum, c_lo, c_hi = stratum[cand], lo[cand], hi[cand]
    used = np.zeros(len(cand), dtype=bool)
    cases = np.flatnonzero(case_mask)
    cases = cases[np.argsort(case_rank[cases], kind="stable")]
    bounds_lo = np.searchsorted(c_stratum, stratum[cases], side="left")
    bounds_hi = np.searchsorted(c_stratum, stratum[cases], side="right")
    fs = s["first_stroke"].to_numpy()
    matched_case, matched_ctrl = [], []
    for k, case in enumerate(cases):  # one vectorised selection per eligible case (a few thousand)
        a, b = bounds_lo[k], bounds_hi[k]
        d = fs[case]
        ok = np.flatnonzero((c_lo[a:b] < d) & (c_hi[a:b] > d) & ~used[a:b])
        if len(ok) >= n_controls:
            pick = a + ok[:n_controls]
            used[pick] = True
            matched_case.append(case)
            matched_ctrl.append(cand[pick])
    mc = np.asarray(matched_case, dtype=np.int64)
    ctrl = np.concatenate(matched_ctrl) if matched_ctrl else np.zeros(0, np.int64)
    members = np.concatenate([mc, ctrl])
    owner = np.concatenate([mc, np.repeat(mc, n_controls)])
    pid = s["patient_id"].to_numpy()
    out = pd.DataFrame({
        "patient_id": pid[members],
        "role": pd.array(["case"] * len(mc) + ["control"] * len(ctrl), dtype=STRING_DTYPE),
        "case_id": pid[owner],
        "index_date": fs[owner].astype("datetime64[D]").astype("datetime64[ns]"),
        "birth_year": s["birth_year"].to_numpy()[members].astype(np.int32),
        "gender": pd.array(s["gender"].to_numpy()[members], dtype=STRING_DTYPE),
    })
    is_control = (out["role"] == "control").to_numpy(bool)
    order = np.lexsort((out["patient_id"].to_numpy(), is_control, out["case_id"].to_numpy()))
    return out.iloc[order].reset_index(drop=True)


def split_cohort(cohort: pd.DataFrame, fractions: tuple[float, float, float] = (0.70, 0.15, 0.15),
                 seed: int = 0) -> pd.DataFrame:
    """Add `split` in {"train", "val", "test"}: cases are shuffled and cut by `fractions`; controls follow.

    The train and validation counts are `round(fraction * n_cases)`; the test split takes the rest.
    """
    f = np.asarray(fractions, dtype=float)
    if f.shape != (3,) or (f < 0).any() or not np.isclose(f.sum(), 1.0):
        raise ValueError(f"fractions must be three non-negative numbers adding up to 1, got {fractions}")
    missing = [c for c in ("patient_id", "role", "case_id") if c not in cohort.columns]
    if missing:
        raise ValueError(f"cohort is missing column(s) {missing}")
    case_ids = np.sort(cohort.loc[cohort["role"] == "case", "case_id"].to_numpy(np.int64))
    shuffled = np.random.default_rng(seed).permutation(case_ids)
    n = len(shuffled)
    n_train = int(round(f[0] * n))
    n_val = min(int(round(f[1] * n)), n - n_train)
    label = np.empty(n, dtype=object)
    label[:n_train], label[n_train:n_train + n_val], label[n_train + n_val:] = SPLITS
    lookup = pd.Series(label, index=shuffled)
    out = cohort.copy()
    split = lookup.reindex(out["case_id"].to_numpy()).to_numpy()
    if pd.isna(split).any():
        raise ValueError("cohort has controls whose case_id is not a case of the cohort")
    out["split"] = pd.array(split, dtype=STRING_DTYPE)
    return out


def cohort_counts(cohort: pd.DataFrame) -> dict[str, int]:
    """Numbers of cases and controls (and per split when `split` is present) for reports."""
    counts = {"cases": int((cohort["role"] == "case").sum()), "controls": int((cohort["role"] == "control").sum())}
    if "split" in cohort.columns:
        for name in SPLITS:
            part = cohort[cohort["split"] == name]
            counts[f"{name}_cases"] = int((part["role"] == "case").sum())
            counts[f"{name}_controls"] = int((part["role"] == "control").sum())
    return counts
