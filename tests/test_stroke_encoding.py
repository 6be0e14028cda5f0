"""Tests of the stroke encodings: Eq. 5 boundaries, ages, diagnosis/exam records, imputation strategies,
the training-only fitted state (leak guards), window construction and per-prefix labels."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from ehrlib.stroke.icd10 import CodeEmbedding, Vocabulary
from ehrlib.stroke.encoding import (
    EncodingConfig, EncodingState, day_category, diagnosis_records, encode_cohort, fractional_age,
    prepare_records, prevalence_table, roll_forward, summarise_exams, true_risk_auroc, window_index,
)
from ehrlib.stroke.schema import METRICS

T = pd.Timestamp


def _risk(hazard, pids, dates):
    """Stand-in for the generator's true risk: 1 - exp(-annual hazard of the date's year)."""
    h = hazard.set_index(["patient_id", "year"])["annual_hazard"]
    years = pd.DatetimeIndex(dates).year
    vals = h.reindex(pd.MultiIndex.from_arrays([pids, years])).fillna(0.0).to_numpy()
    return 1 - np.exp(-vals)


def _embedding(codes, dim=4) -> CodeEmbedding:
    vocab = Vocabulary(tuple(sorted(set(codes))))
    vecs = np.arange(len(vocab) * dim, dtype=np.float32).reshape(len(vocab), dim) / 100
    return CodeEmbedding(vocab, vecs)


def _hand_tables():
    """Case 1 (F, 1950, stroke 2010-06-01) with controls 2, 3; case 4 (M, 1960) with controls 5, 6."""
    dx = [
        (1, "2005-01-01", "I10"), (1, "2005-01-01", "E11"), (1, "2005-01-01", "E11"),  # duplicate dropped
        (1, "2009-01-10", "E78"), (1, "2009-08-01", "N18"), (1, "2010-06-01", "I639"), (1, "2011-01-01", "I10"),
        (2, "2004-03-01", "J45"), (2, "2004-03-08", "K21"), (2, "2010-05-31", "M54"), (2, "2010-06-01", "M54"),
        (2, "2012-01-01", "I10"),
        (3, "2006-01-01", "E11"), (3, "2007-01-01", "E78"), (3, "2011-01-01", "J45"),
        (4, "2008-01-01", "I10"), (4, "2008-02-01", "I48"), (4, "2012-12-01", "I634"),
        (5, "2008-01-01", "K21"), (5, "2009-01-01", "J45"), (5, "2013-01-01", "J45"),
        (6, "2007-01-01", "E78"), (6, "2011-01-01", "E11"), (6, "2014-01-01", "M54"),
    ]
    diagnoses = pd.DataFrame(dx, columns=["patient_id", "date", "icd10"])
    diagnoses["date"] = pd.to_datetime(diagnoses["date"])
    ex = []
    base = {m: 10.0 + i for i, m in enumerate(METRICS)}
    for pid, dates in {1: ["2004-09-01", "2005-03-01", "2008-09-01", "2009-09-01", "2010-07-01"],
                       2: ["2004-09-01", "2006-09-01", "2011-01-01"], 3: ["2006-09-01", "2010-01-01"],
                       4: ["2009-09-01", "2011-09-01"], 5: ["2009-09-01", "2012-09-01"],
                       6: ["2008-09-01", "2010-09-01"]}.items():
        for k, d in enumerate(dates):
            for m in METRICS:
                ex.append((pid, d, m, base[m] + pid + k))
    exams = pd.DataFrame(ex, columns=["patient_id", "date", "metric", "value"])
    exams["date"] = pd.to_datetime(exams["date"])
    exams["exam_type"] = "blood"
    cohort = pd.DataFrame({
        "patient_id": [1, 2, 3, 4, 5, 6], "role": ["case", "control", "control"] * 2,
        "case_id": [1, 1, 1, 4, 4, 4], "index_date": [T("2010-06-01")] * 3 + [T("2012-12-01")] * 3,
        "birth_year": [1950] * 3 + [1960] * 3, "gender": ["F"] * 3 + ["M"] * 3,
        "split": ["train"] * 3 + ["test"] * 3,
    })
    patients = cohort[["patient_id", "birth_year", "gender"]].copy()
    hazard = pd.DataFrame([(p, y, 0.01 * p) for p in range(1, 7) for y in range(2000, 2016)],
                          columns=["patient_id", "year", "annual_hazard"])
    return SimpleNamespace(patients=patients, diagnoses=diagnoses, exams=exams, hazard=hazard), cohort


def _random_tables(n_cases: int = 30, seed: int = 0):
    """A random cohort (1 case : 2 controls) with random diagnoses and partly missing exams."""
    rng = np.random.default_rng(seed)
    codes = ["I10", "E11", "E78", "N18", "J45", "K21", "M54", "I48", "F32", "G47"]
    rows_c, rows_d, rows_e = [], [], []
    pid = 0
    for c in range(n_cases):
        by, g = int(rng.integers(1930, 1960)), ["F", "M"][int(rng.integers(2))]
        idx = T("2005-01-01") + pd.Timedelta(days=int(rng.integers(0, 3000)))
        split = ["train", "train", "train", "val", "test"][c % 5]
        case_pid = pid
        for role in ("case", "control", "control"):
            rows_c.append((pid, role, case_pid, idx, by, g, split))
            n = int(rng.integers(1, 50))
            days = np.sort(rng.integers(-4000, 300, n))
            for dd in days:
                rows_d.append((pid, idx + pd.Timedelta(days=int(dd)), codes[int(rng.integers(len(codes)))]))
            for dd in np.sort(rng.integers(-9000, 300, int(rng.integers(1, 30)))):
                for m in METRICS:
                    if rng.random() < 0.6:
                        rows_e.append((pid, idx + pd.Timedelta(days=int(dd)), m, float(rng.normal(50, 10))))
            pid += 1
    cohort = pd.DataFrame(rows_c, columns=["patient_id", "role", "case_id", "index_date", "birth_year",
                                           "gender", "split"])
    diagnoses = pd.DataFrame(rows_d, columns=["patient_id", "date", "icd10"])
    exams = pd.DataFrame(rows_e, columns=["patient_id", "date", "metric", "value"])
    hazard = pd.DataFrame([(p, y, float(rng.uniform(0, 0.2))) for p in range(pid) for y in range(1970, 2015)],
                          columns=["patient_id", "year", "annual_hazard"])
    tables = SimpleNamespace(patients=cohort[["patient_id", "birth_year", "gender"]], diagnoses=diagnoses,
                             exams=exams, hazard=hazard)
    return tables, cohort, _embedding(codes)


# ------------------------------------------------------------------------------------------ Eq. 5, age


def test_day_category_boundaries():
    days = [np.nan, 0, 6, 7, 29, 30, 89, 90, 179, 180, 365, 366, 5000]
    assert day_category(days).tolist() == [0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    with pytest.raises(ValueError, match="negative"):
        day_category([3, -1])


def test_fractional_age_from_mid_year():
    age = fractional_age(pd.to_datetime(["2000-07-01", "2001-07-01", "2000-01-01"]), [2000, 1950, 2000])
    assert age[0] == 0.0
    assert age[1] == pytest.approx(51.0, abs=0.002)
    assert age[2] == pytest.approx(-182 / 365.25)


# ------------------------------------------------------------------------------------------ records


def test_diagnosis_records_cut_order_and_day_categories():
    tables, cohort = _hand_tables()
    d = diagnosis_records(tables.diagnoses, cohort)
    p1 = d[d["patient_id"] == 1]
    # stroke and later dropped, duplicate dropped, same-day codes ordered by code
    assert p1["icd10"].tolist() == ["E11", "I10", "E78", "N18"]
    assert p1["day_cat"].tolist() == [0, 0, 5, 4]  # first; same day; 1470 days; 203 days
    assert p1["position"].tolist() == [0, 1, 2, 3]
    # control 2: records strictly before its case's index date (2010-06-01)
    assert d.loc[d["patient_id"] == 2, "icd10"].tolist() == ["J45", "K21", "M54"]
    assert d.loc[d["patient_id"] == 2, "day_cat"].tolist() == [0, 1, 5]
    whole = diagnosis_records(tables.diagnoses, cohort, EncodingConfig(control_cut_days=None))
    assert (whole["patient_id"] == 2).sum() == 5
    assert (whole["patient_id"] == 1).sum() == 4  # cases are always cut at their stroke


def test_stroke_before_cut_is_rejected():
    tables, cohort = _hand_tables()
    bad = cohort.copy()
    bad.loc[bad["patient_id"] == 1, "index_date"] = T("2012-01-01")
    with pytest.raises(ValueError, match="patient 1 has stroke code I639"):
        diagnosis_records(tables.diagnoses, bad)


def test_cohort_and_exam_validation_errors():
    tables, cohort = _hand_tables()
    with pytest.raises(ValueError, match="cohort: missing column"):
        diagnosis_records(tables.diagnoses, cohort.drop(columns="split"))
    ex = tables.exams.copy()
    ex.loc[5, "metric"] = "cholesterol"
    with pytest.raises(ValueError, match="exams: row 5: unknown metric 'cholesterol'"):
        summarise_exams(ex, cohort)
    with pytest.raises(ValueError, match="missing_strategy"):
        EncodingConfig(missing_strategy="zeros")


def test_exam_summary_keeps_newest_value_per_age_and_averages_same_day():
    cohort = pd.DataFrame({"patient_id": [7], "role": ["case"], "case_id": [7], "index_date": [T("2012-01-01")],
                           "birth_year": [1950], "gender": ["F"], "split": ["train"]})
    ex = pd.DataFrame([
        (7, "2005-08-01", "Hb", 12.0), (7, "2006-03-01", "Hb", 13.0),   # same age 55: newest (13) wins
        (7, "2006-03-01", "WBC", 5.0), (7, "2006-03-01", "WBC", 7.0),   # twice on the newest day: mean 6
        (7, "2005-09-01", "ALP", 200.0),                                # only measured earlier that age
        (7, "2007-09-01", "Hb", 14.0),                                  # age 57
        (7, "2012-02-01", "Hb", 99.0),                                  # after the stroke: dropped
    ], columns=["patient_id", "date", "metric", "value"])
    ex["date"] = pd.to_datetime(ex["date"])
    rows = summarise_exams(ex, cohort)
    assert rows["age_year"].tolist() == [55, 57]
    assert rows.loc[0, "Hb"] == 13.0 and rows.loc[0, "WBC"] == 6.0 and rows.loc[0, "ALP"] == 200.0
    assert rows.loc[0, "date"] == T("2006-03-01")
    assert np.isnan(rows.loc[1, "WBC"]) and rows.loc[1, "Hb"] == 14.0
    assert rows["day_cat"].tolist() == [0, 5]
    rolled = roll_forward(rows)
    assert rolled.loc[1, "WBC"] == 6.0 and rolled.loc[1, "ALP"] == 200.0
    assert rolled["GGT"].isna().all()


# ------------------------------------------------------------------------------------------ fitted state


def _state_and_rows(strategy="roll_forward_gender_mean"):
    tables, cohort = _hand_tables()
    prep = prepare_records(tables, cohort)
    return EncodingState.fit(prep.diagnoses, prep.exams, strategy), prep, tables, cohort


def test_state_is_fitted_on_training_rows_only_and_catches_a_leak():
    state, prep, _, _ = _state_and_rows()
    train = prep.exams[prep.exams["split"] == "train"]
    assert state.metric_mean["Hb"] == pytest.approx(train["Hb"].mean())
    # changing test rows must not move any fitted statistic ...
    ex2 = prep.exams.copy()
    ex2.loc[ex2["split"] == "test", list(METRICS)] *= 100
    d2 = prep.diagnoses.copy()
    d2.loc[d2["split"] == "test", "age"] += 30
    assert EncodingState.fit(d2, ex2).to_json() == state.to_json()
    # ... while changing training rows does (the guard can fail)
    ex3 = prep.exams.copy()
    ex3.loc[ex3["split"] == "train", "Hb"] += 1
    assert EncodingState.fit(prep.diagnoses, ex3).metric_mean["Hb"] != state.metric_mean["Hb"]
    # the gender mean for men comes from training men only: none here, so it falls back to the train mean
    assert state.gender_means["M"]["Hb"] == state.metric_mean["Hb"]


def test_state_json_round_trip():
    state, prep, _, _ = _state_and_rows()
    import json
    again = EncodingState.from_json(json.loads(json.dumps(state.to_json())))
    assert again == state
    with pytest.raises(ValueError, match="field .diagnosis_age_mean.: missing"):
        EncodingState.from_json({"missing_strategy": "roll_forward"})


@pytest.mark.parametrize("strategy,width", [("roll_forward_gender_mean", 28), ("roll_forward", 28),
                                            ("absent_indicator", 48)])
def test_missing_value_strategies(strategy, width):
    cohort = pd.DataFrame({"patient_id": [1, 2, 3], "role": ["case", "control", "control"], "case_id": [1, 1, 1],
                           "index_date": [T("2012-01-01")] * 3, "birth_year": [1950] * 3,
                           "gender": ["F", "M", "M"], "split": ["train", "train", "test"]})
    ex = pd.DataFrame([(1, "2005-08-01", "Hb", 12.0), (1, "2007-08-01", "WBC", 5.0),
                       (2, "2005-08-01", "Hb", 16.0), (2, "2005-08-01", "WBC", 9.0),
                       (3, "2005-08-01", "WBC", 7.0)], columns=["patient_id", "date", "metric", "value"])
    ex["date"] = pd.to_datetime(ex["date"])
    for m in METRICS:  # every metric observed once in training so the state can be fitted
        ex.loc[len(ex)] = (2, T("2001-01-01"), m, 1.0) if m not in ("Hb", "WBC") else (2, T("2001-01-01"), m, 14.0)
    ex = ex.sort_values(["patient_id", "date"]).reset_index(drop=True)
    rows = summarise_exams(ex, cohort)
    dx = pd.DataFrame({"patient_id": [1, 1], "split": ["train"] * 2, "age": [50.0, 52.0]})
    state = EncodingState.fit(dx, rows, strategy)
    x, names = state.exam_features(rows)
    assert x.shape == (len(rows), width) and len(names) == width
    hb = names.index("Hb")
    z = lambda v: (v - state.metric_mean["Hb"]) / state.metric_std["Hb"]  # noqa: E731
    p1 = np.flatnonzero(rows["patient_id"].to_numpy() == 1)  # ages 55 (Hb 12), 57 (WBC only)
    p3 = np.flatnonzero(rows["patient_id"].to_numpy() == 3)  # a test man without Hb
    if strategy == "roll_forward_gender_mean":
        assert x[p1[1], hb] == pytest.approx(z(12.0))  # rolled forward
        assert x[p3[0], hb] == pytest.approx(z(state.gender_means["M"]["Hb"]))  # training men's mean
        assert state.gender_means["M"]["Hb"] == pytest.approx(15.0)  # (14 + 16) / 2, men in training only
    elif strategy == "roll_forward":
        assert x[p1[1], hb] == pytest.approx(z(12.0))
        assert x[p3[0], hb] == 0.0
    else:
        assert x[p1[1], hb] == 0.0 and x[p1[1], names.index("absent_Hb")] == 1.0
        assert x[p1[0], names.index("absent_Hb")] == 0.0
    assert not np.isnan(x).any()


# ------------------------------------------------------------------------------------------ samples


def test_window_index_pre_pads_and_stays_within_patient():
    pos = np.array([0, 1, 2, 0, 1, 2, 3, 4])
    idx = window_index(pos, np.array([1, 2, 3, 7]), 3)
    assert idx.tolist() == [[-1, 0, 1], [0, 1, 2], [-1, -1, 3], [5, 6, 7]]


def test_encode_hand_cohort_labels_and_windows():
    tables, cohort = _hand_tables()
    emb = _embedding(tables.diagnoses["icd10"])
    enc = encode_cohort(tables, cohort, emb, risk_fn=_risk)
    tr = enc["diagnosis"]["train"]
    # case 1: 4 records -> 3 samples (Eq. 4 needs 2); labels by the gap to the 2010-06-01 stroke
    c1 = tr.patient_id == 1
    assert tr.last_date[c1].astype(str).tolist() == ["2005-01-01", "2009-01-10", "2009-08-01"]
    assert tr.y[c1].tolist() == [0, 0, 1]
    assert tr.y[tr.role == "control"].sum() == 0
    assert tr.mask[c1].sum(axis=1).tolist() == [2, 3, 4]
    X = tr.X
    assert X.shape[1:] == (35, 2 + 6 + 4) and X.dtype == np.float32
    last = X[np.flatnonzero(c1)[-1]]
    assert np.all(last[:-4] == 0)  # pre-padding
    assert last[-1, tr.feature_names.index("days_cat_4")] == 1.0  # N18, 203 days after E78
    assert np.allclose(last[-1, -4:], emb.lookup(["N18"])[0])
    assert last[-1, 0] == 0.0  # gender F
    # true risk saved beside each sample, from the hazard at the last record's date
    assert np.allclose(tr.true_risk, _risk(tables.hazard, tr.patient_id, tr.last_date))
    # exam samples: case 1 exam-years before the stroke (ages 54, 58, 59; age 54 twice -> newest)
    ex = enc["exam"]["train"]
    assert (ex.patient_id == 1).sum() == 3
    assert ex.y[ex.patient_id == 1].tolist() == [0, 0, 1]
    assert set(enc["exam"]["test"].patient_id) <= {4, 5, 6} and set(ex.patient_id) <= {1, 2, 3}
    # dual: exam samples paired with diagnoses dated on or before the exam-year date
    du = enc["dual"]["train"]
    assert len(du) == len(ex) and np.array_equal(du.y, ex.y)
    first = np.flatnonzero(du.patient_id == 1)[0]  # exam 2005-03-01 (age 54): diagnoses of 2005-01-01
    assert du.blocks["diagnosis"].mask[first].sum() == 2
    tbl = prevalence_table(enc)
    assert set(tbl["split"]) == {"train", "val", "test", "all"}
    auc = true_risk_auroc(enc)
    assert set(auc) == {"diagnosis", "exam", "dual"}


def test_labels_follow_the_outcome_not_the_role():
    """An "until_index" control whose own stroke comes within a year of a sample is a positive sample; with
    no `event_date` column (the paper's controls) only the case's samples can be positive."""
    tables, cohort = _hand_tables()
    emb = _embedding(tables.diagnoses["icd10"])
    with_event = cohort.assign(event_date=[T("2010-06-01"), T("2011-01-01"), pd.NaT, T("2012-12-01"), pd.NaT, pd.NaT])
    tr = encode_cohort(tables, with_event, emb, risk_fn=_risk)["diagnosis"]["train"]
    c2 = tr.patient_id == 2  # samples end 2004-03-08 and 2010-05-31; its stroke 2011-01-01 is 215 days later
    assert tr.last_date[c2].astype(str).tolist() == ["2004-03-08", "2010-05-31"]
    assert tr.y[c2].tolist() == [0, 1]
    paper = encode_cohort(tables, cohort, emb, risk_fn=_risk)["diagnosis"]["train"]
    assert paper.y[paper.patient_id == 2].tolist() == [0, 0]
    assert np.array_equal(paper.y[paper.patient_id == 1], tr.y[tr.patient_id == 1])


def _naive_windows(records: pd.DataFrame, features: np.ndarray, length: int, min_records: int):
    """Reference implementation: one Python loop per sample."""
    out = []
    for pid, grp in records.groupby("patient_id", sort=True):
        rows = grp.index.to_numpy()
        for k in range(min_records - 1, len(rows)):
            win = rows[max(0, k - length + 1): k + 1]
            x = np.zeros((length, features.shape[1]), dtype=np.float32)
            x[length - len(win):] = features[win]
            out.append(x)
    return np.stack(out)


def test_vectorised_samples_equal_a_naive_loop_and_splits_are_disjoint():
    tables, cohort, emb = _random_tables()
    cfg = EncodingConfig(max_diagnoses=7, max_exam_years=5)
    prep = prepare_records(tables, cohort, cfg)
    state = EncodingState.fit(prep.diagnoses, prep.exams)
    enc = encode_cohort(tables, cohort, emb, cfg, state=state, prepared=prep, risk_fn=_risk)
    dx, _ = state.diagnosis_features(prep.diagnoses, emb)
    naive = _naive_windows(prep.diagnoses, dx, 7, 2)
    vec = np.concatenate([enc["diagnosis"][s].X for s in ("train", "val", "test")])
    pids = np.concatenate([enc["diagnosis"][s].patient_id for s in ("train", "val", "test")])
    order = np.argsort(pids, kind="stable")
    assert np.array_equal(vec[order], naive)
    ex, _ = state.exam_features(prep.exams)
    naive_e = _naive_windows(prep.exams, ex, 5, 1)
    vec_e = np.concatenate([enc["exam"][s].X for s in ("train", "val", "test")])
    pe = np.concatenate([enc["exam"][s].patient_id for s in ("train", "val", "test")])
    assert np.array_equal(vec_e[np.argsort(pe, kind="stable")], naive_e)
    # labels: 1 exactly for case samples whose last record is within 365 days before the stroke
    for kind in ("diagnosis", "exam"):
        for s, v in enc[kind].items():
            gap = (cohort.set_index("patient_id").loc[v.patient_id, "index_date"].to_numpy().astype("datetime64[D]")
                   - v.last_date).astype(int)
            assert np.all(gap > 0)
            assert np.array_equal(v.y == 1, (v.role == "case") & (gap <= 365))
            assert set(v.split) == {s}
    cases = {s: set(enc["diagnosis"][s].case_id) for s in ("train", "val", "test")}
    assert not (cases["train"] & cases["val"]) and not (cases["train"] & cases["test"])


def test_encoding_of_train_samples_does_not_depend_on_test_data():
    tables, cohort, emb = _random_tables(seed=1)
    enc = encode_cohort(tables, cohort, emb, risk_fn=_risk)
    test_ids = set(cohort.loc[cohort["split"] == "test", "patient_id"])
    ex = tables.exams.copy()
    ex.loc[ex["patient_id"].isin(test_ids), "value"] += 1000.0
    tables2 = SimpleNamespace(**{**vars(tables), "exams": ex})
    enc2 = encode_cohort(tables2, cohort, emb, risk_fn=_risk)
    assert enc2["exam"]["train"].extra["state"] == enc["exam"]["train"].extra["state"]
    assert np.array_equal(enc2["exam"]["train"].X, enc["exam"]["train"].X)
    assert not np.array_equal(enc2["exam"]["test"].X, enc["exam"]["test"].X)


def test_encoding_is_deterministic_and_vectors_are_finite():
    tables, cohort, emb = _random_tables(seed=2)
    a = encode_cohort(tables, cohort, emb, risk_fn=_risk)
    b = encode_cohort(tables, cohort, emb, risk_fn=_risk)
    for kind in a:
        for s in a[kind]:
            for k in a[kind][s].blocks:
                assert np.array_equal(a[kind][s].blocks[k].dense(), b[kind][s].blocks[k].dense())
                assert np.isfinite(a[kind][s].blocks[k].features).all()
            assert np.array_equal(a[kind][s].y, b[kind][s].y)


# ------------------------------------------------------------------------------------------ with the generator


def test_encoding_of_generated_cohort_matches_the_tables():
    """On H3a's generator and cohort: labels recomputed from the raw diagnoses, cut dates, true risk."""
    from ehrlib.stroke.cohort import build_cohort, split_cohort
    from ehrlib.stroke.synth import StrokeConfig, simulate_stroke

    tables = simulate_stroke(StrokeConfig(n_patients=4000, seed=3))
    cohort = split_cohort(build_cohort(tables, seed=3), seed=3)
    assert (cohort["role"] == "case").sum() >= 20
    emb = _embedding(tables.diagnoses["icd10"].astype(str).unique(), dim=32)
    enc = encode_cohort(tables, cohort, emb)
    dx = tables.diagnoses
    first_stroke = (dx[dx["icd10"].str[:3].between("I60", "I69")].groupby("patient_id")["date"].min()
                    .to_numpy("datetime64[D]"))
    stroke_pids = np.sort(dx.loc[dx["icd10"].str[:3].between("I60", "I69"), "patient_id"].unique())
    for kind in ("diagnosis", "exam"):
        for s, v in enc[kind].items():
            assert len(v) > 0 and set(v.split) == {s}
            pos = np.searchsorted(stroke_pids, v.patient_id)
            has = (pos < len(stroke_pids)) & (stroke_pids[np.minimum(pos, len(stroke_pids) - 1)] == v.patient_id)
            assert np.array_equal(has, v.role == "case")  # controls never have a stroke
            gap = (first_stroke[np.minimum(pos, len(first_stroke) - 1)] - v.last_date).astype(int)
            assert np.all(gap[has] > 0)  # only records strictly before the first stroke
            assert np.array_equal(v.y == 1, has & (gap <= 365))
            assert np.all((v.true_risk >= 0) & (v.true_risk <= 1))
            assert v.X.shape[2] == (40 if kind == "diagnosis" else 28)
    auc = true_risk_auroc(enc)
    assert auc["diagnosis"]["all"] > 0.55 and auc["exam"]["all"] > 0.55
    pids = {s: set(enc["diagnosis"][s].patient_id) for s in ("train", "val", "test")}
    assert not (pids["train"] & pids["test"]) and not (pids["train"] & pids["val"])


def test_chapter_figures_build_from_encoded_data():
    from ehrlib.stroke import plots as stroke_plots

    tables, cohort = _hand_tables()
    prep = prepare_records(tables, cohort)
    fig = stroke_plots.day_category_figure(prep.diagnoses, prep.exams)
    assert [t.name for t in fig.data] == ["diagnoses", "exam-years"]
    assert np.isclose(sum(fig.data[0].y), 1.0)
    enc = encode_cohort(tables, cohort, _embedding(tables.diagnoses["icd10"]), risk_fn=_risk)
    tbl = prevalence_table(enc)
    fig = stroke_plots.prevalence_figure(tbl[tbl["input"] != "dual"])
    assert {t.name for t in fig.data} == {"train", "validation", "test", "Teoh 2018"}
    assert "dual" not in {x for t in stroke_plots.prevalence_figure(tbl).data for x in t.x}  # no paper figure
    p1d, p1e = prep.diagnoses[prep.diagnoses["patient_id"] == 1], prep.exams[prep.exams["patient_id"] == 1]
    fig = stroke_plots.patient_timeline_figure(p1d, p1e, T("2010-06-01"))
    assert len(fig.data[0].x) == len(p1d) and len(fig.data[1].x) == len(p1e)
    codes = np.array(["I10", "I639", "E11"])
    fig = stroke_plots.embedding_figure(np.zeros((3, 2)), codes, np.array(["IX", "IX", "IV"]))
    assert [t.name for t in fig.data] == ["IV", "IX"]
    fig = stroke_plots.autoencoder_history_figure({"loss": [3.0, 1.0], "accuracy": [0.2, 1.0]})
    assert len(fig.data) == 2


# ------------------------------------------------------------------------------------------ chapter 05's views


def test_history_lengths_and_window_coverage():
    from ehrlib.stroke.encoding import history_lengths, window_coverage

    tables, cohort = _hand_tables()
    prep = prepare_records(tables, cohort)
    dx = prep.diagnoses.groupby("patient_id").size()
    table = history_lengths(prep)
    assert list(table["records"]) == ["diagnoses per patient", "exam-years per patient"]
    assert table.loc[0, "patients"] == len(dx) and table.loc[0, "max"] == dx.max()
    assert table.loc[0, "median"] == pytest.approx(dx.median())
    cover = window_coverage(prep, EncodingConfig(max_diagnoses=3, max_exam_years=1))
    assert cover["diagnosis"] == pytest.approx((dx <= 3).mean()) and 0 < cover["diagnosis"] < 1
    assert cover["exam"] == pytest.approx((prep.exams.groupby("patient_id").size() <= 1).mean())


def test_comparison_verdicts_turn_with_the_numbers():
    from ehrlib.stroke.encoding import coverage_verdict, one_in_verdict, versus_reference
    from ehrlib.evaluation.bootstrap import Interval

    assert coverage_verdict(0.991) == "as many as the paper's 99 %"
    assert coverage_verdict(0.95) == "fewer than the paper's 99 %"
    assert coverage_verdict(0.996) == "more than the paper's 99 %"
    assert one_in_verdict(17.7, 8) == "less often than the paper's 1 in 8"
    assert one_in_verdict(5.0, 8) == "more often than the paper's 1 in 8"
    assert one_in_verdict(8.02, 8) == "as often as the paper's 1 in 8"
    assert versus_reference(Interval(0.75, 0.72, 0.78), 0.669, "the paper's").startswith("above the paper's 0.669")
    assert versus_reference(Interval(0.60, 0.55, 0.65), 0.669, "the paper's").startswith("below")
    assert versus_reference(Interval(0.70, 0.66, 0.74), 0.669, "the paper's").startswith("compatible")


def test_prevalence_view_and_true_risk_intervals():
    from ehrlib.stroke.encoding import prevalence_view, true_risk_intervals

    tables, cohort, emb = _random_tables()
    enc = encode_cohort(tables, cohort, emb, risk_fn=_risk)
    prev = prevalence_table(enc)
    view = prevalence_view(prev)
    assert set(view["input"]) == {"diagnosis", "exam"} and "validation" in set(view["split"])
    assert view["paper's 1 in k"].tolist() == [8.0] * 4 + [9.0] * 4
    dx_all = prev[(prev["input"] == "diagnosis") & (prev["split"] == "all")].iloc[0]
    assert view["prevalence (%)"].iloc[3] == pytest.approx(round(100 * dx_all["prevalence"], 1))
    risk = true_risk_intervals(enc, n_boot=50, seed=0)
    auc = true_risk_auroc(enc)
    for kind in ("diagnosis", "exam"):
        assert risk[kind].value == pytest.approx(auc[kind]["all"])
        assert risk[kind].ci_low <= risk[kind].value <= risk[kind].ci_high < 1
    unknown = encode_cohort(tables, cohort, emb, risk_fn=lambda h, p, d: np.full(len(p), np.nan))
    assert np.isnan(true_risk_intervals(unknown, n_boot=10)["exam"].value)


def test_example_patient_is_a_short_gappy_training_case():
    from ehrlib.stroke.encoding import example_patient

    tables, cohort, emb = _random_tables(n_cases=40, seed=2)
    prep = prepare_records(tables, cohort)
    ex = example_patient(prep, cohort)
    train_cases = cohort[(cohort["role"] == "case") & (cohort["split"] == "train")]["patient_id"]
    dx = prep.diagnoses.groupby("patient_id").size()
    ey = prep.exams.groupby("patient_id").size()
    gap = prep.exams[list(METRICS)].isna().any(axis=1).groupby(prep.exams["patient_id"]).any()
    eligible = [p for p in train_cases if 6 <= dx.get(p, 0) <= 15 and ey.get(p, 0) >= 3 and gap.get(p, False)]
    assert eligible and ex.patient_id == min(eligible)
    assert (ex.diagnoses["patient_id"] == ex.patient_id).all() and len(ex.diagnoses) == dx[ex.patient_id]
    assert ex.gender == cohort.set_index("patient_id").loc[ex.patient_id, "gender"]
    assert list(ex.diagnosis_table().columns) == ["date", "ICD-10", "age", "days since previous", "day category"]
    assert all(ex.exams[m].isna().any() for m in ex.gappy_metrics)
    assert list(ex.exam_table().columns) == ["date", "age", *ex.gappy_metrics]
    no_gaps = prep.exams.assign(**{m: 1.0 for m in METRICS})
    fallback = example_patient(type(prep)(prep.diagnoses, no_gaps, 0.0), cohort)
    assert fallback.patient_id == train_cases.min()


def test_example_imputation_and_last_vector():
    from ehrlib.stroke.encoding import example_patient, fit_encoding_state

    tables, cohort, emb = _random_tables(n_cases=40, seed=2)
    prep = prepare_records(tables, cohort)
    ex = example_patient(prep, cohort)
    state = fit_encoding_state(prep)
    facts = ex.imputation_facts(state)
    raw = ex.exams[ex.gappy_metrics]
    rolled = roll_forward(ex.exams)[ex.gappy_metrics]
    assert facts["missing"] == raw.isna().sum().sum() and facts["by_mean"] == rolled.isna().sum().sum()
    assert facts["by_roll"] + facts["by_mean"] == facts["missing"]
    table = ex.imputation_table(state)
    assert table.columns[0] == "age" and len(table.columns) == 7 and not table.filter(like="imputed").isna().any().any()
    if facts["mean_metric"]:
        assert facts["mean_value"] == pytest.approx(state.gender_means[ex.gender][facts["mean_metric"]])
    enc = encode_cohort(tables, cohort, emb, prepared=prep, state=state, risk_fn=_risk)
    vec = ex.last_diagnosis_vector(enc)
    sample = enc["diagnosis"]["train"]
    row = np.flatnonzero(sample.patient_id == ex.patient_id)[-1]
    assert vec["value"].tolist() == pytest.approx(sample.X[row][-1][:12].astype(np.float64).round(3).tolist())
    vf = ex.last_vector_facts(enc)
    assert vf["length"] == sample.mask[row].sum() and vf["label"] == sample.y[row]
    assert vf["day_cat"] == int(np.argmax(sample.X[row][-1][2:8]))
    with pytest.raises(ValueError, match="no diagnosis sample in the test split"):
        ex.last_diagnosis_vector(enc, split="test")


def test_example_and_embedding_figures_use_distinct_styles():
    from ehrlib.stroke import plots as stroke_plots
    from ehrlib.stroke.encoding import example_patient

    tables, cohort, emb = _random_tables(n_cases=40, seed=2)
    prep = prepare_records(tables, cohort)
    ex = example_patient(prep, cohort)
    fig = stroke_plots.example_timeline_figure(ex)
    assert str(ex.patient_id) in fig.layout.title.text and len(fig.data[0].x) == len(ex.diagnoses)
    fig = stroke_plots.day_category_figure(prep.diagnoses, prep.exams)
    assert fig.data[0].marker.color != fig.data[1].marker.color
    assert fig.data[0].marker.pattern.shape != fig.data[1].marker.pattern.shape
    fig = stroke_plots.code_embedding_figure(emb)
    colours = [t.marker.color for t in fig.data]
    assert len(set(colours)) == len(colours) == len(fig.data)
