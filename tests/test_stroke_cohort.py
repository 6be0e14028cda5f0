"""Tests of the case-control cohort and its split (ehrlib.stroke_cohort), on hand-built and synthetic tables."""

from __future__ import annotations

import pandas as pd
import pytest

from ehrlib.stroke.cohort import build_cohort, cohort_counts, split_cohort
from ehrlib.stroke.schema import StrokeTables, validate_stroke_tables
from ehrlib.stroke.synth import StrokeConfig, simulate_stroke

STROKE = tuple(f"I6{d}" for d in range(10))


class Builder:
    """Hand-built tables: `add` a patient with (date, code) diagnoses and exam dates."""

    def __init__(self) -> None:
        self.patients, self.dx, self.ex = [], [], []

    def add(self, pid: int, birth: int, gender: str, dx=(), exams=()) -> int:
        self.patients.append((pid, birth, gender))
        self.dx += [(pid, d, c) for d, c in dx]
        self.ex += [(pid, d, "blood", "Hb", 13.0) for d in exams]
        return pid

    def case(self, pid: int, stroke: str, birth: int = 1940, gender: str = "M", before: str = "2005-01-01",
             exam_before: str | None = None) -> int:
        """A stroke patient with one diagnosis and one exam on `before` (or `exam_before`)."""
        return self.add(pid, birth, gender, dx=[(before, "I10"), (stroke, "I639")], exams=[exam_before or before])

    def control(self, pid: int, birth: int = 1940, gender: str = "M", first: str = "2003-01-01",
                last: str = "2014-01-01") -> int:
        """A never-stroke patient with a diagnosis and an exam on `first` and on `last`."""
        return self.add(pid, birth, gender, dx=[(first, "E119"), (last, "E119")], exams=[first, last])

    def tables(self) -> StrokeTables:
        pats = pd.DataFrame(self.patients, columns=["patient_id", "birth_year", "gender"])
        dx = pd.DataFrame(self.dx, columns=["patient_id", "date", "icd10"])
        ex = pd.DataFrame(self.ex, columns=["patient_id", "date", "exam_type", "metric", "value"])
        dx["date"], ex["date"] = pd.to_datetime(dx["date"]), pd.to_datetime(ex["date"])
        return validate_stroke_tables(StrokeTables(patients=pats, diagnoses=dx, exams=ex))


def _cases(cohort: pd.DataFrame) -> set[int]:
    return set(cohort.loc[cohort["role"] == "case", "patient_id"])


def test_a_case_gets_two_matching_controls():
    b = Builder()
    b.case(1, "2008-06-15")
    b.control(10), b.control(11)
    cohort = build_cohort(b.tables())
    assert list(cohort.columns) == ["patient_id", "role", "case_id", "index_date", "birth_year", "gender",
                                    "event_date"]
    assert list(cohort["role"]) == ["case", "control", "control"]
    assert cohort["event_date"].iloc[0] == cohort["index_date"].iloc[0] and cohort["event_date"].iloc[1:].isna().all()
    assert set(cohort["patient_id"]) == {1, 10, 11}
    assert (cohort["case_id"] == 1).all()
    assert (cohort["index_date"] == pd.Timestamp("2008-06-15")).all()
    assert (cohort["birth_year"] == 1940).all() and (cohort["gender"] == "M").all()


@pytest.mark.parametrize("birth, stroke, included", [
    (1956, "2001-03-01", True),  # age 45 in 2001
    (1957, "2001-03-01", False),  # age 44
    (1915, "2010-03-01", True),  # age 95
    (1914, "2010-03-01", False),  # age 96
    (1950, "2001-01-01", True),  # first day of the range
    (1950, "2000-12-31", False),
    (1950, "2015-01-01", True),  # last day (inclusive)
    (1950, "2015-01-02", False),
])
def test_case_age_and_date_limits(birth, stroke, included):
    b = Builder()
    b.case(1, stroke, birth=birth, before="2000-06-01")
    b.control(10, birth=birth, first="2000-01-01", last="2016-01-01")
    b.control(11, birth=birth, first="2000-01-01", last="2016-01-01")
    assert (_cases(build_cohort(b.tables())) == {1}) is included


def test_case_needs_a_diagnosis_and_an_exam_at_least_one_day_before():
    b = Builder()
    b.case(1, "2008-06-15", before="2008-06-14")  # one day before: kept
    b.add(2, 1940, "M", dx=[("2008-06-15", "I10"), ("2008-06-15", "I639")], exams=["2007-01-01"])  # dx same day
    b.add(3, 1940, "M", dx=[("2007-01-01", "I10"), ("2008-06-15", "I639")], exams=["2008-06-15"])  # exam same day
    b.add(4, 1940, "M", dx=[("2007-01-01", "I10"), ("2008-06-15", "I639")])  # no exam at all
    for pid in range(10, 18):
        b.control(pid)
    cohort = build_cohort(b.tables())
    assert _cases(cohort) == {1}


def test_only_the_first_stroke_counts():
    b = Builder()
    b.add(1, 1940, "M", dx=[("1999-01-01", "I10"), ("2000-05-01", "I693"), ("2008-01-01", "I639")],
          exams=["1999-01-01"])  # first stroke code (a sequela) before 2001: not a case
    b.add(2, 1940, "M", dx=[("2003-01-01", "I10"), ("2005-05-05", "I679"), ("2009-01-01", "I639")],
          exams=["2003-01-01"])  # any I60-I69 code counts: first stroke 2005-05-05
    for pid in range(10, 14):
        b.control(pid)
    cohort = build_cohort(b.tables())
    assert _cases(cohort) == {2}
    assert (cohort.loc[cohort["case_id"] == 2, "index_date"] == pd.Timestamp("2005-05-05")).all()


def test_control_rules():
    b = Builder()
    b.case(1, "2008-06-15")
    b.control(10)  # valid
    b.add(11, 1940, "M", dx=[("2003-01-01", "E119"), ("2014-01-01", "I693")], exams=["2003-01-01", "2014-01-01"])
    b.control(12, birth=1941)  # other birth year
    b.control(13, gender="F")  # other gender
    b.control(14, last="2008-06-15")  # last records on the index date itself: not "after"
    b.control(15, first="2008-06-15")  # first records on the index date: not "before"
    b.add(16, 1940, "M", dx=[("2003-01-01", "E119"), ("2014-01-01", "E119")], exams=["2003-01-01"])  # no exam after
    b.add(17, 1940, "M", dx=[("2003-01-01", "E119")], exams=["2003-01-01", "2014-01-01"])  # no diagnosis after
    t = b.tables()
    assert len(build_cohort(t)) == 0  # only one valid control: the case is excluded
    b.control(18, first="2008-06-14", last="2008-06-16")  # one day either side is enough
    cohort = build_cohort(b.tables())
    assert set(cohort["patient_id"]) == {1, 10, 18}


def test_each_control_is_used_once_and_unmatched_cases_are_excluded():
    b = Builder()
    b.case(1, "2008-06-15")
    b.case(2, "2009-06-15")
    for pid in (10, 11, 12):
        b.control(pid)
    cohort = build_cohort(b.tables())
    assert cohort_counts(cohort) == {"cases": 1, "controls": 2}
    assert cohort["patient_id"].is_unique
    b.control(13)
    cohort = build_cohort(b.tables())
    assert cohort_counts(cohort) == {"cases": 2, "controls": 4}
    assert cohort["patient_id"].is_unique


def test_n_controls_and_input_order_and_seed():
    b = Builder()
    for k in range(6):
        b.case(k + 1, f"200{k + 3}-06-15", before="2002-01-01")
    for pid in range(10, 40):
        b.control(pid)
    t = b.tables()
    c1 = build_cohort(t, seed=1)
    shuffled = StrokeTables(patients=t.patients.sample(frac=1, random_state=0),
                            diagnoses=t.diagnoses.sample(frac=1, random_state=1),
                            exams=t.exams.sample(frac=1, random_state=2))
    pd.testing.assert_frame_equal(c1, build_cohort(shuffled, seed=1))
    assert not c1.equals(build_cohort(t, seed=2))  # another seed picks other controls
    c3 = build_cohort(t, n_controls=3)
    assert cohort_counts(c3) == {"cases": 6, "controls": 18}


def _check_cohort_rules(t: StrokeTables, cohort: pd.DataFrame) -> None:
    """Every rule, checked directly against the tables."""
    dx, ex = t.diagnoses, t.exams
    stroke = dx[dx["icd10"].str[:3].isin(STROKE)].groupby("patient_id")["date"].min()
    pats = t.patients.set_index("patient_id")
    cases = cohort[cohort["role"] == "case"].set_index("patient_id")
    ctrls = cohort[cohort["role"] == "control"]
    assert len(ctrls) == 2 * len(cases) and cohort["patient_id"].is_unique
    assert (cases.index == cases["case_id"]).all()
    assert (stroke.reindex(cases.index) == cases["index_date"]).all()
    assert cases["index_date"].between(pd.Timestamp("2001-01-01"), pd.Timestamp("2015-01-01")).all()
    age = cases["index_date"].dt.year - pats.loc[cases.index, "birth_year"]
    assert age.between(45, 95).all()
    assert not ctrls["patient_id"].isin(stroke.index).any()
    assert (ctrls.groupby("case_id").size() == 2).all()
    merged = ctrls.merge(cases[["birth_year", "gender"]], left_on="case_id", right_index=True, suffixes=("", "_case"))
    assert (merged["birth_year"] == merged["birth_year_case"]).all()
    assert (merged["gender"] == merged["gender_case"]).all()
    assert (pats.loc[ctrls["patient_id"], "birth_year"].to_numpy() == ctrls["birth_year"].to_numpy()).all()
    for frame in (dx, ex):
        rec = frame[["patient_id", "date"]].merge(cohort[["patient_id", "role", "index_date"]], on="patient_id")
        before = rec[rec["date"] < rec["index_date"]].groupby("patient_id").size()
        after = rec[rec["date"] > rec["index_date"]].groupby("patient_id").size()
        assert cohort["patient_id"].isin(before.index).all()
        assert ctrls["patient_id"].isin(after.index).all()


@pytest.fixture(scope="module")
def synthetic() -> tuple[StrokeTables, pd.DataFrame]:
    t = simulate_stroke(StrokeConfig(n_patients=8000, seed=7))
    return t, build_cohort(t)


def test_synthetic_cohort_satisfies_every_rule(synthetic):
    t, cohort = synthetic
    assert cohort_counts(cohort)["cases"] > 200
    _check_cohort_rules(t, cohort)


def _exam_ages(exams: pd.DataFrame, birth_year: pd.Series) -> pd.Series:
    """Integer age at each exam row (years since 1 July of the birth year, as the encodings count exam-years)."""
    mid_year = pd.to_datetime(exams["patient_id"].map(birth_year).astype(str) + "-07-01")
    return ((exams["date"] - mid_year).dt.days // 365.25).astype(int)


def test_record_volumes_match_the_papers_descriptive_facts(synthetic):
    """Diagnoses and exam-years before the index date, per cohort patient, as the paper describes them.

    Paper: the 35-diagnosis limit "covered 99% of patients", "at least half of the patients had 5 or more
    diagnoses", "a long tail of patients having more than 35 diagnoses"; "no patient in the dataset had more
    than 20 years of exam results", "at least half of the patients had 5 years or more of exam results".
    """
    t, cohort = synthetic
    index = cohort.set_index("patient_id")["index_date"]
    dx = t.diagnoses[t.diagnoses["patient_id"].isin(index.index)]
    dx = dx[dx["date"] < dx["patient_id"].map(index)].drop_duplicates(["patient_id", "date", "icd10"])
    n_dx = dx.groupby("patient_id").size().reindex(index.index, fill_value=0)
    assert (n_dx >= 1).all()  # the cohort rules require a diagnosis before the index date
    assert 0.98 <= (n_dx <= 35).mean() < 1.0  # ~99 % within the limit, and a tail beyond it
    assert n_dx.max() > 40
    assert 5 <= n_dx.median() <= 15
    birth = t.patients.set_index("patient_id")["birth_year"]
    ex = t.exams[t.exams["patient_id"].isin(index.index)]
    ex = ex[ex["date"] < ex["patient_id"].map(index)]
    years = ex.assign(age=_exam_ages(ex, birth)).groupby("patient_id")["age"].nunique()
    years = years.reindex(index.index, fill_value=0)
    assert years.median() >= 5 and (years >= 5).mean() >= 0.55
    assert years.max() <= 20
    everyone = t.exams.assign(age=_exam_ages(t.exams, birth)).groupby("patient_id")["age"].nunique()
    assert everyone.max() <= 20  # the whole dataset, not only the cohort's histories


def test_split_by_case(synthetic):
    _, cohort = synthetic
    s = split_cohort(cohort, seed=0)
    n = cohort_counts(cohort)["cases"]
    counts = cohort_counts(s)
    assert counts["train_cases"] == round(0.7 * n) and counts["val_cases"] == round(0.15 * n)
    assert counts["train_cases"] + counts["val_cases"] + counts["test_cases"] == n
    for name in ("train", "val", "test"):
        assert counts[f"{name}_controls"] == 2 * counts[f"{name}_cases"]
    assert (s.groupby("case_id")["split"].nunique() == 1).all()  # controls sit in their case's split
    assert s.groupby("patient_id")["split"].nunique().max() == 1 and s["patient_id"].is_unique
    pd.testing.assert_frame_equal(s, split_cohort(cohort, seed=0))
    assert not s["split"].equals(split_cohort(cohort, seed=1)["split"])
    with pytest.raises(ValueError, match="fractions"):
        split_cohort(cohort, fractions=(0.7, 0.2, 0.2))


def test_records_of_unknown_patients_are_rejected():
    b = Builder()
    b.case(1, "2008-06-15")
    t = b.tables()
    t.exams.loc[0, "patient_id"] = 99
    with pytest.raises(ValueError, match="exams table: row 0: patient_id 99 is not in the patients table"):
        build_cohort(t)


def test_matching_checks_pass_on_the_cohort_and_catch_violations(synthetic):
    from ehrlib.stroke.cohort import matching_checks

    t, cohort = synthetic
    split = split_cohort(cohort)
    checks = matching_checks(split, t)
    assert (checks == 1.0).all() and len(checks) == 7
    broken = split.copy()
    ctrl = broken.index[broken["role"] == "control"]
    broken.loc[ctrl[0], "gender"] = "F" if broken.loc[ctrl[0], "gender"] == "M" else "M"
    broken.loc[ctrl[1], "split"] = "test" if broken.loc[ctrl[1], "split"] != "test" else "train"
    stroke_pids = set(t.diagnoses.loc[t.diagnoses["icd10"].str.startswith("I6"), "patient_id"])
    broken.loc[ctrl[2], "patient_id"] = min(stroke_pids - set(broken["patient_id"]))
    bad = matching_checks(broken, t)
    assert bad["controls with the case's gender"] < 1
    assert bad["splits holding whole case groups"] < 1
    assert bad["controls never diagnosed with stroke"] < 1
    assert bad["cases with exactly 2 controls"] == 1.0


def test_controls_stroke_free_only_until_the_index_date():
    b = Builder()
    b.case(1, "2008-06-15")
    b.control(10)
    b.add(11, 1940, "M", dx=[("2003-01-01", "E119"), ("2010-01-01", "I639"), ("2014-01-01", "E119")],
          exams=["2003-01-01", "2014-01-01"])  # a stroke after the case's index date
    t = b.tables()
    assert _cases(build_cohort(t)) == set()  # the paper's rule: 11 can never be a control
    loose = build_cohort(t, controls="until_index")
    assert set(loose["patient_id"]) == {1, 10, 11}
    b.add(12, 1940, "M", dx=[("2003-01-01", "E119"), ("2007-01-01", "I639"), ("2014-01-01", "E119")],
          exams=["2003-01-01", "2014-01-01"])  # a stroke before the index date: never a control
    b.patients = [p for p in b.patients if p[0] != 11]
    b.dx = [r for r in b.dx if r[0] != 11]
    b.ex = [r for r in b.ex if r[0] != 11]
    assert _cases(build_cohort(b.tables(), controls="until_index")) == set()
    with pytest.raises(ValueError, match="controls must be one of"):
        build_cohort(t, controls="sometimes")


def test_split_table_counts_each_split(synthetic):
    from ehrlib.stroke.cohort import split_table

    t, cohort = synthetic
    split = split_cohort(cohort, seed=3)
    table = split_table(split)
    assert list(table.columns) == ["split", "cases", "controls", "patients"]
    assert list(table["split"]) == ["train", "validation", "test"]
    assert table["cases"].sum() == cohort_counts(cohort)["cases"]
    assert (table["controls"] == 2 * table["cases"]).all()
    assert (table["patients"] == table["cases"] + table["controls"]).all()
    val = split[split["split"] == "val"]
    assert table.loc[1, "cases"] == (val["role"] == "case").sum()


def test_checks_table_and_verdict_turn_when_a_rule_fails():
    from ehrlib.stroke.cohort import checks_table, checks_verdict

    ok = pd.Series({"rule a": 1.0, "rule b": 1.0, "rule c": 1.0})
    assert checks_verdict(ok) == "each of the 3 rules holds for every row it applies to"
    bad = pd.Series({"rule a": 1.0, "rule b": 0.9, "rule c": 0.95})
    text = checks_verdict(bad)
    assert text.startswith("2 of the 3 rules fail") and "'rule b'" in text and "90.0 %" in text
    table = checks_table(bad)
    assert list(table.columns) == ["rule", "rows satisfying it (%)"]
    assert table["rows satisfying it (%)"].tolist() == pytest.approx([100.0, 90.0, 95.0])
    assert checks_verdict(pd.Series(dtype=float)) == "no rule could be checked"
