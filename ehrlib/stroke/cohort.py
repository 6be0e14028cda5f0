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

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ehrlib.stroke.icd10 import is_stroke_code
from ehrlib.stroke.schema import STRING_DTYPE, StrokeTables

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
    stroke = is_stroke_code(tables.diagnoses["icd10"].to_numpy())
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


CONTROL_RULES: tuple[str, ...] = ("never", "until_index")
_NONE = np.iinfo(np.int64).max  # `patient_summary`'s sentinel for "no such record"


@dataclass(frozen=True)
class _Candidates:
    """The eligible controls (patient positions) sorted by stratum, then by the seeded candidate order, with
    the stratum, the window within which the case's date must fall and the first stroke of each."""

    pos: np.ndarray
    stratum: np.ndarray
    lo: np.ndarray  # later of the first diagnosis and the first exam
    hi: np.ndarray  # earlier of the last diagnosis and the last exam
    first_stroke: np.ndarray


def _control_mask(s: pd.DataFrame, controls: str) -> np.ndarray:
    """Patients who may serve as controls: a diagnosis and an exam on record, and (rule "never") no stroke."""
    never = s["first_stroke"].to_numpy() == _NONE
    return ((never if controls == "never" else True) & (s["first_dx"].to_numpy() != _NONE)
            & (s["first_exam"].to_numpy() != _NONE))


def _strata(s: pd.DataFrame) -> np.ndarray:
    """One integer per patient for its (birth year, gender) stratum."""
    gender_code = pd.Categorical(s["gender"], categories=sorted(set(s["gender"]))).codes.astype(np.int64)
    return s["birth_year"].to_numpy() * 4 + gender_code


def _candidates(s: pd.DataFrame, ctrl_mask: np.ndarray, cand_rank: np.ndarray) -> _Candidates:
    """The eligible controls in matching order: by stratum, then by the seeded random candidate order."""
    stratum = _strata(s)
    lo = np.maximum(s["first_dx"].to_numpy(), s["first_exam"].to_numpy())
    hi = np.minimum(s["last_dx"].to_numpy(), s["last_exam"].to_numpy())
    cand = np.flatnonzero(ctrl_mask)
    cand = cand[np.lexsort((cand_rank[cand], stratum[cand]))]
    return _Candidates(cand, stratum[cand], lo[cand], hi[cand], s["first_stroke"].to_numpy()[cand])


def _match(cases: np.ndarray, case_stratum: np.ndarray, fs: np.ndarray, c: _Candidates, n_patients: int,
           n_controls: int) -> tuple[np.ndarray, np.ndarray]:
    """Greedy matching in the given case order: each case takes the first `n_controls` unused candidates of
    its stratum whose records span its date (and stroke-free through it), or is excluded. Returns the
    matched cases and their controls (`n_controls` per case, in case order); one vectorised selection per
    eligible case (a few thousand)."""
    used = np.zeros(n_patients, dtype=bool)  # per patient: matched as a case or taken as a control
    bounds_lo = np.searchsorted(c.stratum, case_stratum, side="left")
    bounds_hi = np.searchsorted(c.stratum, case_stratum, side="right")
    matched_case, matched_ctrl = [], []
    for k, case in enumerate(cases):
        a, b = bounds_lo[k], bounds_hi[k]
        d = fs[case]
        if used[case]:  # "until_index" only: already taken as another case's control
            continue
        ok = np.flatnonzero((c.lo[a:b] < d) & (c.hi[a:b] > d) & (c.first_stroke[a:b] > d) & ~used[c.pos[a:b]])
        if len(ok) >= n_controls:
            pick = c.pos[a + ok[:n_controls]]
            used[pick] = True
            used[case] = True
            matched_case.append(case)
            matched_ctrl.append(pick)
    ctrl = np.concatenate(matched_ctrl) if matched_ctrl else np.zeros(0, np.int64)
    return np.asarray(matched_case, dtype=np.int64), ctrl


def _days_to_ns(days: np.ndarray) -> np.ndarray:
    """Integer days since 1970 as datetime64[ns]; the "no stroke" sentinel becomes NaT."""
    days = np.where(days == _NONE, np.iinfo(np.int64).min, days)
    return pd.Series(days).astype("datetime64[D]").astype("datetime64[ns]").to_numpy()


def _cohort_rows(s: pd.DataFrame, cases: np.ndarray, ctrl: np.ndarray, n_controls: int) -> pd.DataFrame:
    """The cohort table of the matched cases and controls, sorted by case_id, the case first, then its
    controls by patient_id."""
    members = np.concatenate([cases, ctrl])
    owner = np.concatenate([cases, np.repeat(cases, n_controls)])
    pid = s["patient_id"].to_numpy()
    fs = s["first_stroke"].to_numpy()
    out = pd.DataFrame({
        "patient_id": pid[members],
        "role": pd.array(["case"] * len(cases) + ["control"] * len(ctrl), dtype=STRING_DTYPE),
        "case_id": pid[owner],
        "index_date": fs[owner].astype("datetime64[D]").astype("datetime64[ns]"),
        "birth_year": s["birth_year"].to_numpy()[members].astype(np.int32),
        "gender": pd.array(s["gender"].to_numpy()[members], dtype=STRING_DTYPE),
        "event_date": _days_to_ns(fs[members]),
    })
    is_control = (out["role"] == "control").to_numpy(bool)
    order = np.lexsort((out["patient_id"].to_numpy(), is_control, out["case_id"].to_numpy()))
    return out.iloc[order].reset_index(drop=True)


def build_cohort(tables: StrokeTables, *, start: str = "2001-01-01", end: str = "2015-01-01", min_age: int = 45,
                 max_age: int = 95, n_controls: int = 2, seed: int = 0, controls: str = "never") -> pd.DataFrame:
    """Select cases and match `n_controls` controls each (rules and open choices: module docstring).

    `controls="never"` is the paper's rule (a control never has a stroke, even after the index date: a
    look into the future); `controls="until_index"` only asks a control to be stroke-free up to and
    including the case's index date (a later stroke is allowed, as in incidence-density sampling). Each
    patient still appears once: a later case taken as an earlier case's control stays a control.

    Returns one row per cohort patient with `patient_id`, `role` ("case"/"control"), `case_id` (the
    case's patient_id, also on the case's own row), `index_date` (the case's first stroke date),
    `birth_year`, `gender` and `event_date` (the patient's own first stroke, NaT if none: the case's
    index date, and for an "until_index" control a stroke after it, which labels its samples by outcome);
    sorted by case_id, the case first, then its controls by patient_id.
    Deterministic for a seed, whatever the row order of the input tables.
    """
    if n_controls < 1:
        raise ValueError(f"n_controls must be at least 1, got {n_controls}")
    if controls not in CONTROL_RULES:
        raise ValueError(f"controls must be one of {CONTROL_RULES}, got {controls!r}")
    s = patient_summary(tables)
    case_mask = eligible_cases(s, start=start, end=end, min_age=min_age, max_age=max_age)
    rng = np.random.default_rng(seed)
    case_rank = rng.permutation(len(s))
    cand_rank = rng.permutation(len(s))
    candidates = _candidates(s, _control_mask(s, controls), cand_rank)
    cases = np.flatnonzero(case_mask)
    cases = cases[np.argsort(case_rank[cases], kind="stable")]
    matched, ctrl = _match(cases, _strata(s)[cases], s["first_stroke"].to_numpy(), candidates, len(s), n_controls)
    return _cohort_rows(s, matched, ctrl, n_controls)


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


def matching_checks(cohort: pd.DataFrame, tables: StrokeTables, *, n_controls: int = 2, min_age: int = 45,
                    max_age: int = 95) -> pd.Series:
    """Share of the rows each matching rule applies to that satisfy it (1.0 = the rule holds everywhere).

    Checked on the result, not assumed: every case has exactly `n_controls` controls; controls share the
    case's birth year and gender; no patient is used twice; no control ever has a stroke code (the
    paper's rule, whatever the date); cases are aged `min_age`-`max_age` at the stroke; every case group
    lies in one split (when `split` is present). The stroke codes are those of `icd10.is_stroke_code`.
    """
    cases = cohort[cohort["role"] == "case"].set_index("case_id")
    ctrl = cohort[cohort["role"] == "control"].merge(
        cases[["birth_year", "gender"]].add_suffix("_case"), left_on="case_id", right_index=True, how="left")
    dx = tables.diagnoses
    stroke_patients = np.unique(dx["patient_id"].to_numpy()[is_stroke_code(dx["icd10"].to_numpy())])
    per_case = ctrl.groupby("case_id").size().reindex(cases.index, fill_value=0)
    age = pd.to_datetime(cases["index_date"]).dt.year - cases["birth_year"]
    checks = {
        f"cases with exactly {n_controls} controls": float((per_case == n_controls).mean()),
        "controls with the case's birth year": float((ctrl["birth_year"] == ctrl["birth_year_case"]).mean()),
        "controls with the case's gender": float((ctrl["gender"] == ctrl["gender_case"]).mean()),
        "patients used once": float(1 - cohort["patient_id"].duplicated().mean()),
        "controls never diagnosed with stroke": float(1 - ctrl["patient_id"].isin(stroke_patients).mean()),
        f"cases aged {min_age}-{max_age} at the stroke": float(age.between(min_age, max_age).mean()),
    }
    if "split" in cohort.columns:
        checks["splits holding whole case groups"] = float((cohort.groupby("case_id")["split"].nunique() == 1).mean())
    return pd.Series(checks, name="share satisfied")


def split_table(cohort: pd.DataFrame) -> pd.DataFrame:
    """Cases, controls and patients per split (train, validation, test), one row each, for the book."""
    counts = cohort_counts(cohort)
    return pd.DataFrame({
        "split": ["train", "validation", "test"],
        "cases": [counts[f"{s}_cases"] for s in SPLITS],
        "controls": [counts[f"{s}_controls"] for s in SPLITS],
        "patients": [counts[f"{s}_cases"] + counts[f"{s}_controls"] for s in SPLITS],
    })


def checks_table(checks: pd.Series) -> pd.DataFrame:
    """`matching_checks` as a table: each rule with the percentage of the rows it applies to that satisfy it."""
    return pd.DataFrame({"rule": checks.index.to_list(), "rows satisfying it (%)": 100 * checks.to_numpy(float)})


def checks_verdict(checks: pd.Series) -> str:
    """One clause on the matching checks: 'every rule holds for every row it applies to', or which rule
    holds least and for what share of its rows (so the sentence turns when a rule fails)."""
    if len(checks) and bool((checks >= 1.0).all()):
        return f"each of the {len(checks)} rules holds for every row it applies to"
    if not len(checks):
        return "no rule could be checked"
    worst = checks.idxmin()
    broken = int((checks < 1.0).sum())
    return (f"{broken} of the {len(checks)} rules fail somewhere; the weakest, '{worst}', holds for "
            f"{100 * checks[worst]:.1f} % of its rows")
