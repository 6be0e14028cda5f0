"""Schema of the hospital EHR tables used by the stroke study (real or synthetic).

Three Parquet tables, one row per fact:

- `patients.parquet`: `patient_id` (int64, unique), `birth_year` (int32), `gender` (string, "F"/"M").
- `diagnoses.parquet`: `patient_id` (int64), `date` (datetime64[ns], day precision), `icd10`
  (string, a WHO ICD-10 code without the dot, truncated to at most four characters, e.g. "I639").
- `exams.parquet`: `patient_id` (int64), `date` (datetime64[ns]), `exam_type` (string, "blood" or
  "biochemical"), `metric` (string, one of `METRICS`), `value` (float64, in `METRIC_UNITS`).

The synthetic generator also writes `hazard.parquet` (`patient_id`, `year`, `annual_hazard`): the
true yearly hazard of a first stroke, from which `true_one_year_risk` computes the true one-year risk
of any labelled sample. It is ground truth for the book's "best achievable" comparison, never a feature.

`read_stroke_tables(folder)` reads the tables into a `StrokeTables` and checks them with
`validate_stroke_tables` (columns, types, known patients, WHO ICD-10 codes, metrics and exam types,
dates not before the birth year, one hazard row per patient and year); errors name the file, the
first offending row (counted from 0) and the problem. Text columns use pandas' default `str` dtype.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ehrlib.files import check_regular_file
from ehrlib.stroke.icd10 import STROKE_CODE_PREFIXES, is_known_icd10  # noqa: F401 (re-exported)

BLOOD_METRICS: tuple[str, ...] = (
    "ALP", "creatinine", "Hb", "hematocrit", "MCH", "MCHC", "MCV", "platelets", "RBC", "WBC",
)
BIOCHEMICAL_METRICS: tuple[str, ...] = (
    "GGT", "GOT", "GPT", "HbA1c_JDS", "HbA1c_NGSP", "HDL_C", "LDL_C", "triglyceride", "uric_acid", "glucose",
)
METRICS: tuple[str, ...] = BLOOD_METRICS + BIOCHEMICAL_METRICS

METRIC_UNITS: dict[str, str] = {
    "ALP": "U/L", "creatinine": "mg/dL", "Hb": "g/dL", "hematocrit": "%", "MCH": "pg", "MCHC": "g/dL",
    "MCV": "fL", "platelets": "10^4/uL", "RBC": "10^6/uL", "WBC": "10^3/uL", "GGT": "U/L", "GOT": "U/L",
    "GPT": "U/L", "HbA1c_JDS": "%", "HbA1c_NGSP": "%", "HDL_C": "mg/dL", "LDL_C": "mg/dL",
    "triglyceride": "mg/dL", "uric_acid": "mg/dL", "glucose": "mg/dL",
}

#: Plausible range (inclusive, in `METRIC_UNITS`) of each metric: wide physiological limits (the
#: extremes of clinical reference works, not a reference interval), outside which a value is a unit or
#: entry error. `validate_stroke_tables` refuses values outside them, naming the file and row.
METRIC_RANGES: dict[str, tuple[float, float]] = {
    "ALP": (1, 5000), "creatinine": (0.05, 30), "Hb": (2, 25), "hematocrit": (5, 75), "MCH": (10, 60),
    "MCHC": (20, 45), "MCV": (40, 160), "platelets": (0.1, 200), "RBC": (0.5, 10), "WBC": (0.1, 500),
    "GGT": (1, 5000), "GOT": (1, 20000), "GPT": (0, 20000), "HbA1c_JDS": (2, 20), "HbA1c_NGSP": (2, 20),
    "HDL_C": (5, 250), "LDL_C": (5, 1000), "triglyceride": (5, 10000), "uric_acid": (0.1, 30),
    "glucose": (10, 2000),
}
#: Oldest age (years) at which a patient can have a record: a birth year more than this before a
#: diagnosis or exam is an entry error (e.g. 1790 for a record of 1997).
MAX_AGE = 120

EXAM_TYPES: dict[str, str] = {**{m: "blood" for m in BLOOD_METRICS}, **{m: "biochemical" for m in BIOCHEMICAL_METRICS}}

PATIENT_COLUMNS: dict[str, str] = {"patient_id": "int64", "birth_year": "int32", "gender": "string"}
DIAGNOSIS_COLUMNS: dict[str, str] = {"patient_id": "int64", "date": "datetime64[ns]", "icd10": "string"}
EXAM_COLUMNS: dict[str, str] = {
    "patient_id": "int64", "date": "datetime64[ns]", "exam_type": "string", "metric": "string", "value": "float64",
}
HAZARD_COLUMNS: dict[str, str] = {"patient_id": "int64", "year": "int32", "annual_hazard": "float64"}


# --------------------------------------------------------------------------------------------- readers

TABLE_FILES: dict[str, str] = {
    "patients": "patients.parquet", "diagnoses": "diagnoses.parquet", "exams": "exams.parquet",
    "hazard": "hazard.parquet",
}
TABLE_COLUMNS: dict[str, dict[str, str]] = {
    "patients": PATIENT_COLUMNS, "diagnoses": DIAGNOSIS_COLUMNS, "exams": EXAM_COLUMNS, "hazard": HAZARD_COLUMNS,
}
GENDERS: tuple[str, ...] = ("F", "M")
EARLIEST_DATE = pd.Timestamp("1900-01-01")
LATEST_DATE = pd.Timestamp.today().normalize()  # nothing can be dated after today
STRING_DTYPE = pd.StringDtype(na_value=np.nan)
"""The dtype of every text column (pandas' default `str` dtype; it compares equal to "string")."""


@dataclass
class StrokeTables:
    """The hospital EHR tables as pandas DataFrames with the schema's columns and dtypes.

    `hazard` is present only for synthetic data (ground truth, never a feature).
    """

    patients: pd.DataFrame
    diagnoses: pd.DataFrame
    exams: pd.DataFrame
    hazard: pd.DataFrame | None = None


class StrokeSchemaError(ValueError):
    """A table does not follow the schema; the message names the file, the row and the problem."""


def _where(source: str | Path | None, name: str) -> str:
    return str(Path(source) / TABLE_FILES[name]) if source is not None else f"<{name} table>"


def _fail(where: str, rows: np.ndarray, problem: str) -> None:
    """Raise `StrokeSchemaError` for the first offending row (rows counted from 0) if any row is bad."""
    bad = np.flatnonzero(rows)
    if len(bad):
        more = f" (and {len(bad) - 1:,} more rows)" if len(bad) > 1 else ""
        text = problem(int(bad[0])) if callable(problem) else problem
        raise StrokeSchemaError(f"{where}: row {int(bad[0])}: {text}{more}")


def _per_distinct(values: np.ndarray | list | pd.Series, test) -> np.ndarray:
    """Apply a Python predicate to each distinct value only (hash factorisation), broadcast to the rows."""
    idx, uniq = pd.factorize(pd.Series(values) if not isinstance(values, pd.Series) else values, use_na_sentinel=False)
    ok = np.array([bool(test(u)) for u in uniq], dtype=bool)
    return ok[idx] if len(idx) else np.zeros(0, dtype=bool)


def _normalise(df: pd.DataFrame, name: str, where: str) -> pd.DataFrame:
    """Check presence, nulls and types of the schema columns and return them with the schema dtypes."""
    columns = TABLE_COLUMNS[name]
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise StrokeSchemaError(f"{where}: missing column(s) {missing}; expected {list(columns)}")
    out = {}
    for col, dtype in columns.items():
        s = df[col]
        _fail(where, s.isna().to_numpy(), f"missing value in column {col!r}")
        if dtype.startswith("int"):
            if not pd.api.types.is_integer_dtype(s):
                numeric = pd.to_numeric(s, errors="coerce")
                bad = numeric.isna().to_numpy() | (numeric.to_numpy(dtype=float, na_value=np.nan) % 1 != 0)
                _fail(where, bad, lambda i: f"column {col!r}: {s.iloc[i]!r} is not an integer")
                s = numeric
            out[col] = s.to_numpy().astype(dtype)
        elif dtype.startswith("float"):
            if not pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s):
                numeric = pd.to_numeric(s, errors="coerce")
                _fail(where, numeric.isna().to_numpy(), lambda i: f"column {col!r}: {s.iloc[i]!r} is not a number")
                s = numeric
            values = s.to_numpy(dtype=np.float64)
            _fail(where, ~np.isfinite(values), lambda i: f"column {col!r}: {values[i]} is not finite")
            out[col] = values
        elif dtype.startswith("datetime"):
            if pd.api.types.is_datetime64_any_dtype(s):
                if getattr(s.dt, "tz", None) is not None:
                    raise StrokeSchemaError(f"{where}: column {col!r} must be time-zone naive")
                dates = s.astype("datetime64[ns]")
            else:
                dates = pd.to_datetime(s, errors="coerce", format="ISO8601")
                _fail(where, dates.isna().to_numpy(), lambda i: f"column {col!r}: unparseable date {s.iloc[i]!r}")
                dates = dates.astype("datetime64[ns]")
            _fail(where, (dates != dates.dt.normalize()).to_numpy(),
                  lambda i: f"column {col!r}: {dates.iloc[i]} has a time of day (dates are day precision)")
            _fail(where, ((dates < EARLIEST_DATE) | (dates > LATEST_DATE)).to_numpy(),
                  lambda i: (f"column {col!r}: date {dates.iloc[i].date()} outside "
                             f"{EARLIEST_DATE.year}-{LATEST_DATE.year}"))
            out[col] = dates.to_numpy()
        else:
            if not (pd.api.types.is_string_dtype(s) or isinstance(s.dtype, pd.CategoricalDtype)):
                raise StrokeSchemaError(f"{where}: column {col!r} must hold strings, found dtype {s.dtype}")
            if s.dtype == object:
                values = s.to_numpy()
                _fail(where, ~np.array([isinstance(v, str) for v in values], dtype=bool),
                      lambda i: f"column {col!r}: {values[i]!r} is not a string")
            out[col] = s.astype(STRING_DTYPE)
    return pd.DataFrame(out)


def _birth_year_of(patients: pd.DataFrame, ids: np.ndarray, where: str) -> np.ndarray:
    """Birth year of each id (by binary search); raises naming the first row with an unknown patient."""
    pid = patients["patient_id"].to_numpy()
    order = np.argsort(pid, kind="stable")
    sorted_ids = pid[order]
    pos = np.searchsorted(sorted_ids, ids)
    known = (pos < len(sorted_ids)) & (sorted_ids[np.minimum(pos, len(sorted_ids) - 1)] == ids)
    _fail(where, ~known, lambda i: f"patient_id {ids[i]} is not in the patients table")
    return patients["birth_year"].to_numpy()[order][pos]


def _checked_patients(table: pd.DataFrame, where: str) -> pd.DataFrame:
    """The patients table normalised: unique ids, a known gender, a plausible birth year."""
    pat = _normalise(table, "patients", where)
    pid = pat["patient_id"].to_numpy()
    order = np.argsort(pid, kind="stable")
    dup_sorted = np.zeros(len(pid), bool)
    dup_sorted[1:] = pid[order][1:] == pid[order][:-1]
    dup = np.zeros(len(pid), bool)
    dup[order] = dup_sorted
    _fail(where, dup, lambda i: f"duplicate patient_id {pid[i]}")
    gender = pat["gender"]
    _fail(where, ~_per_distinct(gender, lambda g: g in GENDERS),
          lambda i: f"gender {gender.iloc[i]!r} is not one of {GENDERS}")
    by = pat["birth_year"].to_numpy()
    _fail(where, (by < EARLIEST_DATE.year - MAX_AGE) | (by > LATEST_DATE.year),
          lambda i: f"implausible birth_year {by[i]} (expected {EARLIEST_DATE.year - MAX_AGE}-{LATEST_DATE.year})")
    return pat


def _checked_diagnoses(table: pd.DataFrame, pat: pd.DataFrame, where: str) -> pd.DataFrame:
    """The diagnoses normalised: known patients, known ICD-10 codes, dates within the patient's life."""
    dx = _normalise(table, "diagnoses", where)
    ids = dx["patient_id"].to_numpy()
    birth = _birth_year_of(pat, ids, where)
    codes = dx["icd10"]
    _fail(where, ~is_known_icd10(codes),
          lambda i: f"unknown ICD-10 code {codes.iloc[i]!r} (WHO code without dot, at most 4 characters)")
    year = dx["date"].dt.year.to_numpy()
    _fail(where, year < birth,
          lambda i: f"diagnosis dated {dx['date'].iloc[i].date()} before the patient's birth year {birth[i]}")
    _fail(where, year - birth > MAX_AGE,
          lambda i: f"diagnosis dated {dx['date'].iloc[i].date()} at age {year[i] - birth[i]} (birth year "
                    f"{birth[i]}); ages above {MAX_AGE} are not plausible")
    return dx


def _checked_exams(table: pd.DataFrame, pat: pd.DataFrame, where: str) -> pd.DataFrame:
    """The exams normalised: known patients and metrics, matching exam types, dates and values in range."""
    ex = _normalise(table, "exams", where)
    ids = ex["patient_id"].to_numpy()
    birth = _birth_year_of(pat, ids, where)
    metric, etype = ex["metric"], ex["exam_type"]
    _fail(where, ~_per_distinct(metric, lambda m: m in EXAM_TYPES), lambda i: f"unknown metric {metric.iloc[i]!r}")
    mi, mu = pd.factorize(metric)
    ti, tu = pd.factorize(etype)
    nt = max(len(tu), 1)
    pair = mi.astype(np.int64) * nt + ti  # (metric, exam_type) pairs, checked once per distinct pair
    _fail(where, ~_per_distinct(pair, lambda k: EXAM_TYPES.get(mu[k // nt]) == tu[k % nt]),
          lambda i: (f"exam_type {etype.iloc[i]!r} does not match metric {metric.iloc[i]!r} "
                     f"(expected {EXAM_TYPES.get(metric.iloc[i])!r})"))
    year = ex["date"].dt.year.to_numpy()
    _fail(where, year < birth,
          lambda i: f"exam dated {ex['date'].iloc[i].date()} before the patient's birth year {birth[i]}")
    _fail(where, year - birth > MAX_AGE,
          lambda i: f"exam dated {ex['date'].iloc[i].date()} at age {year[i] - birth[i]} (birth year "
                    f"{birth[i]}); ages above {MAX_AGE} are not plausible")
    _check_metric_ranges(ex, where)
    return ex


def _checked_hazard(table: pd.DataFrame, pat: pd.DataFrame, where: str) -> pd.DataFrame:
    """The hazard table normalised: known patients, one row per patient and year from birth, hazard >= 0."""
    hz = _normalise(table, "hazard", where)
    ids = hz["patient_id"].to_numpy()
    birth = _birth_year_of(pat, ids, where)
    hy = hz["year"].to_numpy()
    _fail(where, hy < birth, lambda i: f"hazard year {hy[i]} before the patient's birth year {birth[i]}")
    order = np.lexsort((hy, ids))
    same = np.zeros(len(ids), bool)
    same[1:] = (ids[order][1:] == ids[order][:-1]) & (hy[order][1:] == hy[order][:-1])
    dup = np.zeros(len(ids), bool)
    dup[order] = same
    _fail(where, dup, lambda i: f"second row for patient {ids[i]} and year {hy[i]}")
    hv = hz["annual_hazard"].to_numpy()
    _fail(where, hv < 0, lambda i: f"negative annual_hazard {hv[i]}")
    return hz


def validate_stroke_tables(tables: StrokeTables, source: str | Path | None = None) -> StrokeTables:
    """Check every table against the schema and return them with schema dtypes.

    Checks: required columns present, no missing values, integer/float/date/string types (dates are
    parsed if stored as text and must be day precision, from 1900 to today); patients: unique ids, gender F/M;
    diagnoses: known patient, WHO ICD-10 code without dot of at most 4 characters, date not before the
    birth year; exams: known patient, metric among `METRICS`, exam type matching the metric, finite
    value within the metric's plausible range (`METRIC_RANGES`), date not before the birth year and
    at most `MAX_AGE` years after it (diagnoses too); hazard: known patient, one row per patient and year, year not
    before the birth year, finite non-negative hazard. Errors name the file (`source` / table file),
    the first offending row (counted from 0) and the problem. Extra columns are dropped.
    """
    w = {name: _where(source, name) for name in TABLE_FILES}
    pat = _checked_patients(tables.patients, w["patients"])
    dx = _checked_diagnoses(tables.diagnoses, pat, w["diagnoses"])
    ex = _checked_exams(tables.exams, pat, w["exams"])
    hz = None if tables.hazard is None else _checked_hazard(tables.hazard, pat, w["hazard"])
    return StrokeTables(patients=pat, diagnoses=dx, exams=ex, hazard=hz)


def _check_metric_ranges(ex: pd.DataFrame, where: str) -> None:
    """Refuse exam values outside their metric's plausible range (`METRIC_RANGES`), naming the row."""
    codes, names = pd.factorize(ex["metric"])
    bounds = np.array([METRIC_RANGES.get(m, (-np.inf, np.inf)) for m in names], dtype=np.float64).reshape(-1, 2)
    lo, hi = bounds[codes, 0], bounds[codes, 1]
    v = ex["value"].to_numpy()
    _fail(where, (v < lo) | (v > hi),
          lambda i: (f"{ex['metric'].iloc[i]} value {v[i]:g} {METRIC_UNITS.get(ex['metric'].iloc[i], '')} is outside "
                     f"its plausible range {lo[i]:g}-{hi[i]:g} (a unit or entry error?)"))


def arrow_to_pandas(table, name: str) -> pd.DataFrame:
    """Convert an Arrow table of the schema to a DataFrame with the schema's dtypes (no validation)."""
    return arrow_to_pandas_frame(table.to_pandas(), name)


def read_stroke_tables(directory: str | Path, *, validate: bool = True) -> StrokeTables:
    """Read `patients`, `diagnoses`, `exams` (and `hazard` if present) Parquet tables from `directory`.

    With `validate` (the default) every table is checked by `validate_stroke_tables`, whose errors name
    the file, the row and the problem; a missing required file raises `FileNotFoundError` naming it.
    """
    import pyarrow.parquet as pq

    directory = Path(directory)
    frames: dict[str, pd.DataFrame | None] = {}
    for name, file in TABLE_FILES.items():
        path = directory / file
        if not path.exists():
            if name == "hazard":
                frames[name] = None
                continue
            raise FileNotFoundError(f"{path}: no such file (a stroke EHR folder needs {file})")
        check_regular_file(path, "Parquet table", error=StrokeSchemaError)  # a FIFO would hang the reader
        try:
            table = pq.read_table(path)
        except Exception as exc:  # pyarrow raises several types for corrupt files
            raise StrokeSchemaError(f"{path}: not a readable Parquet file ({exc})") from None
        frames[name] = table.to_pandas()
    tables = StrokeTables(**frames)
    if validate:
        return validate_stroke_tables(tables, source=directory)
    return StrokeTables(**{k: (arrow_to_pandas_frame(v, k) if v is not None else None) for k, v in frames.items()})


def arrow_to_pandas_frame(frame: pd.DataFrame, name: str) -> pd.DataFrame:
    """Cast the schema columns of an already converted frame to the schema's dtypes (no validation)."""
    for col, dtype in TABLE_COLUMNS[name].items():
        target = STRING_DTYPE if dtype == "string" else np.dtype(dtype)
        if col in frame and frame[col].dtype != target:
            frame[col] = frame[col].astype(target)
    return frame


def true_one_year_risk(hazard: pd.DataFrame, patient_ids: np.ndarray, dates: np.ndarray) -> np.ndarray:
    """True probability of a first stroke within 365 days after each (patient, date), from `hazard`.

    The hazard is constant within a calendar year at `annual_hazard` per year (per day: divided by the
    year's length) and zero in years without a row (outside follow-up, or an unknown patient). The
    window is the days date + 1 .. date + 365 (a stroke dated d happened in continuous time [d, d + 1)),
    which spans at most two calendar years; the cumulative hazard H over it gives risk 1 - exp(-H).
    Meaningful for dates before the patient's first stroke (it is the hazard of a *first* stroke).
    Vectorised: patient ids are looked up by binary search in a dense patients x years table.
    """
    pids = np.asarray(patient_ids, dtype=np.int64)
    d = np.asarray(dates).astype("datetime64[D]").astype(np.int64)
    hp = hazard["patient_id"].to_numpy(np.int64)
    hy = hazard["year"].to_numpy(np.int64)
    hv = hazard["annual_hazard"].to_numpy(np.float64)
    uniq = np.unique(hp)
    y0, y1 = int(hy.min()), int(hy.max())
    dense = np.zeros((len(uniq) + 1, y1 - y0 + 3))  # last row: unknown patients; margins: out-of-range years
    dense[np.searchsorted(uniq, hp), hy - y0 + 1] = hv
    pos = np.searchsorted(uniq, pids)
    pos = np.where((pos < len(uniq)) & (uniq[np.minimum(pos, len(uniq) - 1)] == pids), pos, len(uniq))
    start, end = d + 1, d + 366  # the days (date, date + 365], as continuous time [date + 1, date + 366)
    year = start.astype("datetime64[D]").astype("datetime64[Y]").astype(np.int64) + 1970
    jan1 = ((year - 1970)[:, None] + np.arange(3)[None, :]).astype("datetime64[Y]").astype("datetime64[D]")
    jan1 = jan1.astype(np.int64)  # 1 January of the start's year and the two following years

    def rate(y: np.ndarray) -> np.ndarray:
        inside = (y >= y0) & (y <= y1)
        return np.where(inside, dense[pos, np.clip(y - y0 + 1, 0, dense.shape[1] - 1)], 0.0)

    first = np.minimum(end, jan1[:, 1]) - start
    second = np.maximum(end - jan1[:, 1], 0)
    cum = (rate(year) * first / (jan1[:, 1] - jan1[:, 0])
           + rate(year + 1) * second / (jan1[:, 2] - jan1[:, 1]))
    return -np.expm1(-cum)


def table_sizes(tables: StrokeTables) -> pd.DataFrame:
    """Rows of each hospital table and the number of distinct ICD-10 codes, as a two-column table."""
    return pd.DataFrame({
        "table": ["patients", "diagnoses", "exam values", "distinct ICD-10 codes"],
        "rows": [len(tables.patients), len(tables.diagnoses), len(tables.exams),
                 int(tables.diagnoses["icd10"].nunique())],
    })
