"""Tests of the stroke evaluation views, the matched-set bootstrap, the baselines (leak guards) and the typed
results."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import (
    accuracy_score, average_precision_score, f1_score, precision_recall_curve, precision_score, recall_score,
    roc_auc_score,
)

from ehrlib.evaluation.thresholds import select_f1_threshold

from ehrlib.stroke.evaluation import (
    Scored, evaluate_all_views, matched_bootstrap, ppv_at_prevalence, view_frame,
)

T = pd.Timestamp


def _scored(scores=None) -> Scored:
    """Two matched sets (cases 1 and 4), several prefixes per patient."""
    rows = [  # patient, case_id, role, index_date, last_date, y
        (1, 1, "case", "2010-06-01", "2008-01-01", 0), (1, 1, "case", "2009-05-01", "2009-05-01", 0),
        (1, 1, "case", "2010-06-01", "2010-01-01", 1),
        (2, 1, "control", "2010-06-01", "2008-03-01", 0), (2, 1, "control", "2010-06-01", "2010-02-01", 0),
        (3, 1, "control", "2010-06-01", "2009-12-01", 0),  # nothing before the landmark: drops out
        (4, 4, "case", "2012-01-01", "2010-06-01", 0), (4, 4, "case", "2012-01-01", "2011-06-01", 1),
        (5, 4, "control", "2012-01-01", "2010-01-01", 0), (6, 4, "control", "2012-01-01", "2010-12-01", 0),
    ]
    f = pd.DataFrame(rows, columns=["patient_id", "case_id", "role", "index_date", "last_date", "y"])
    f["index_date"], f["last_date"] = pd.to_datetime(f["index_date"]), pd.to_datetime(f["last_date"])
    f.loc[1, "index_date"] = T("2010-06-01")
    f["score"] = np.arange(len(f), dtype=float) / 10 if scores is None else scores
    return Scored(f)


def test_views_select_the_right_rows():
    s = _scored()
    paper = view_frame(s, "paper")
    assert len(paper) == 10 and paper["y"].sum() == 2
    patient = view_frame(s, "patient")  # landmark: 2009-06-01 for set 1, 2011-01-01 for set 4
    assert patient.set_index("patient_id")["key"].to_dict() == {1: "2009-06-01", 2: "2009-06-01",
                                                                4: "2011-01-01", 5: "2011-01-01", 6: "2011-01-01"}
    assert patient.set_index("patient_id")["score"].to_dict() == pytest.approx({1: 0.1, 2: 0.3, 4: 0.6, 5: 0.8,
                                                                                6: 0.9})
    assert patient["y"].tolist() == [1, 0, 1, 0, 0]
    matched = view_frame(s, "matched")
    assert len(matched) == 5 and matched.groupby("case_id")["y"].sum().tolist() == [1, 1]


def test_patient_view_labels_by_the_outcome_in_the_year_after_the_landmark():
    s = _scored()
    s.frame["event_date"] = s.frame["index_date"].where(s.frame["role"] == "case")
    assert view_frame(s, "patient")["y"].tolist() == [1, 0, 1, 0, 0]  # as by role
    s.frame.loc[s.frame["patient_id"] == 5, "event_date"] = T("2011-06-01")  # control 5: stroke after the landmark
    s.frame.loc[s.frame["patient_id"] == 6, "event_date"] = T("2013-01-01")  # control 6: more than a year later
    patient = view_frame(s, "patient").set_index("patient_id")["y"]
    assert patient.to_dict() == {1: 1, 2: 0, 4: 1, 5: 1, 6: 0}
    assert view_frame(s, "matched")["case_id"].unique().tolist() == [1]  # set 4 has two positives: no matched pair


def test_matched_view_conditional_auroc_within_set_auprc_and_top1():
    f = pd.DataFrame({"patient_id": range(7), "case_id": [1, 1, 1, 2, 2, 3, 3], "key": "k",
                      "y": [1, 0, 0, 1, 0, 1, 0], "score": [0.9, 0.1, 0.95, 0.5, 0.5, 0.7, 0.2]})
    m = matched_bootstrap(f, n_boot=200, seed=0)
    # set 1: wins 1 of 2; set 2: a tie (1/2 of 1); set 3: 1 of 1 -> (1 + 0.5 + 1) / 4
    assert m["auroc"].value == pytest.approx(2.5 / 4)
    # within-set AUPRC: each set's average precision (sklearn's, ties included), averaged over sets
    per_set = [average_precision_score(g["y"], g["score"]) for _, g in f.groupby("case_id")]
    assert m["auprc"].value == pytest.approx(np.mean(per_set)) and per_set == pytest.approx([0.5, 0.5, 1.0])
    # case first: set 1 no, set 2 tie with one control -> 1/2, set 3 yes -> (0 + 0.5 + 1) / 3
    assert m["top1"].value == pytest.approx(1.5 / 3)
    assert set(m) == {"auroc", "auprc", "top1"}  # no threshold metrics within matched sets
    assert m["auroc"].ci_low <= m["auroc"].value <= m["auroc"].ci_high
    # a set is the resampling unit: every replicate is a weighted mean of per-set values
    one_set = matched_bootstrap(f[f["case_id"] == 3], n_boot=50)
    assert one_set["auroc"].ci_low == one_set["auroc"].ci_high == 1.0


def test_evaluate_all_views_threshold_from_validation_and_test_scored_as_given():
    val, test = _scored(), _scored(np.linspace(1, 0, 10))
    views, rows = evaluate_all_views(val, test, n_boot=100)
    assert set(views) == {"paper", "patient", "matched"}
    assert views["paper"].threshold is not None
    paper = rows[rows["view"] == "paper"]
    assert views["paper"].metrics["auroc"].value == pytest.approx(roc_auc_score(paper["y"], paper["score"]))
    # the threshold depends on validation only: changing the test labels leaves it unchanged
    flipped = _scored(np.linspace(1, 0, 10))
    flipped.frame["y"] = 1 - flipped.frame["y"]
    views2, _ = evaluate_all_views(val, flipped, n_boot=100)
    assert views2["paper"].threshold == views["paper"].threshold
    assert views["paper"].n_sets == 2


def _former_stroke_f1_threshold(y: np.ndarray, p: np.ndarray) -> tuple[float, float]:
    """The stroke code's own F1 rule before it called the shared one (kept here as the reference)."""
    precision, recall, thresholds = precision_recall_curve(y, p)
    f1 = np.where(precision + recall > 0, 2 * precision * recall / np.maximum(precision + recall, 1e-12), 0.0)[:-1]
    k = int(np.argmax(f1))
    return float(thresholds[k]), float(f1[k])


@pytest.mark.filterwarnings("ignore::UserWarning")  # scikit-learn warns on the all-negative draws
def test_shared_f1_threshold_equals_the_stroke_codes_former_rule_with_ties():
    rng = np.random.default_rng(11)
    for i in range(300):
        n = int(rng.integers(2, 200))
        y = rng.integers(0, 2, n) if i % 25 else np.zeros(n, dtype=int)
        p = rng.integers(0, 5, n) / 4 if i % 2 else np.round(rng.random(n), 2)  # heavy ties, then some
        got = select_f1_threshold(y, p)
        assert (got["threshold"], got["f1"]) == _former_stroke_f1_threshold(y, p), i
    y, p = np.array([1, 0, 0, 1]), np.array([0.1, 0.2, 0.3, 0.4])  # F1 2/3 at 0.1 and at 0.4
    got = select_f1_threshold(y, p)
    assert got["threshold"] == 0.1 and got["f1"] == pytest.approx(2 / 3)  # ties go to the lowest threshold


def test_ppv_at_prevalence():
    assert ppv_at_prevalence(0.5, 0.9, 1 / 3) == pytest.approx(0.5 / 3 / (0.5 / 3 + 0.1 * 2 / 3))
    assert ppv_at_prevalence(0.5, 0.9, 0.01) < 0.05


@pytest.fixture(scope="module")
def generated():
    from ehrlib.stroke.cohort import build_cohort, split_cohort
    from ehrlib.stroke.encoding import encode_cohort, fit_encoding_state, prepare_records
    from ehrlib.stroke.icd10 import build_vocabulary, random_embedding
    from ehrlib.stroke.synth import StrokeConfig, simulate_stroke

    tables = simulate_stroke(StrokeConfig(n_patients=4000, seed=3))
    cohort = split_cohort(build_cohort(tables, seed=3), seed=3)
    emb = random_embedding(build_vocabulary(tables.diagnoses["icd10"].astype(str).unique()), 8)
    prepared = prepare_records(tables, cohort)
    state = fit_encoding_state(prepared)
    enc = encode_cohort(tables, cohort, emb, state=state, prepared=prepared)
    return SimpleNamespace(tables=tables, cohort=cohort, prepared=prepared, state=state, enc=enc)


def test_baselines_fit_on_training_only_and_ignore_test_labels(generated):
    from ehrlib.stroke.baselines import BASELINES, engineered_features, fit_baselines

    g = generated
    with pytest.raises(ValueError, match="training split only"):
        fit_baselines(g.enc["exam"]["test"], g.prepared, g.state)
    fitted = fit_baselines(g.enc["exam"]["train"], g.prepared, g.state, seed=0)
    scores = fitted.score(g.enc["exam"]["test"])
    assert set(scores) == set(BASELINES)
    assert all(np.isfinite(v).all() and v.shape == (len(g.enc["exam"]["test"]),) for v in scores.values())
    # leak guard: the test labels play no part in any baseline's test scores
    test = g.enc["exam"]["test"]
    flipped = test.subset(np.arange(len(test)))
    flipped.y = 1 - flipped.y
    again = fit_baselines(g.enc["exam"]["train"], g.prepared, g.state, seed=0).score(flipped)
    assert all(np.array_equal(scores[k], again[k]) for k in scores)
    X, names = engineered_features(g.enc["diagnosis"]["test"], g.prepared, g.state)
    assert X.shape[1] == len(names) and np.isfinite(X).all()
    assert "rf_hypertension" in names and "chapter_IX" in names and "n_diagnoses" in names
    # counts only look backwards: a sample's diagnosis count never exceeds its patient's total
    total = g.prepared.diagnoses.groupby("patient_id").size()
    nd = X[:, names.index("n_diagnoses")]
    assert np.all(nd <= total.reindex(g.enc["diagnosis"]["test"].patient_id).to_numpy())


def test_results_round_trip_and_fail_loudly(tmp_path):
    from ehrlib.records import RecordError
    from ehrlib.stroke.results import ModelResult, StrokeMetrics, view_result, write_predictions

    views, rows = evaluate_all_views(_scored(), _scored(np.linspace(1, 0, 10)), n_boot=50)
    model = ModelResult(name="m", family="baseline", samples="exam",
                        views={v: view_result(s) for v, s in views.items()},
                        predictions=str(write_predictions(tmp_path / "m.csv", rows)))
    metrics = StrokeMetrics(profile="quick", seed=0, paper_auroc=0.669, population_prevalence=0.01, n_boot=50,
                            models={"m": model}, ablations={}, timings_seconds={"x": 1.0})
    path = metrics.save(tmp_path / "stroke_metrics.json")
    back = StrokeMetrics.load(path)
    assert back.models["m"].views["paper"].value("auroc") == pytest.approx(views["paper"].metrics["auroc"].value)
    csv = pd.read_csv(tmp_path / "m.csv")
    assert list(csv.columns) == ["view", "patient_id", "case_id", "key", "label", "score"]
    paper = csv[csv["view"] == "paper"]
    assert roc_auc_score(paper["label"], paper["score"]) == pytest.approx(back.models["m"].views["paper"].value("auroc"))
    import json

    data = json.loads(path.read_text())
    del data["models"]["m"]["views"]["paper"]["metrics"]["auroc"]
    (tmp_path / "bad.json").write_text(json.dumps(data))
    with pytest.raises(RecordError, match="bad.json"):
        StrokeMetrics.load(tmp_path / "bad.json")


def test_comparison_table_and_cohort_results(tmp_path):
    from ehrlib.stroke.results import ModelResult, StrokeCohortResults, StrokeMetrics, comparison_table, view_result

    good, _ = evaluate_all_views(_scored(), _scored(), n_boot=20)
    bad, _ = evaluate_all_views(_scored(), _scored(np.linspace(1, 0, 10)), n_boot=20)
    models = {n: ModelResult(name=n, family=f, samples="exam", views={v: view_result(s) for v, s in views.items()})
              for n, f, views in (("net", "network", good), ("base", "baseline", bad))}
    metrics = StrokeMetrics(profile="quick", seed=0, paper_auroc=0.669, population_prevalence=0.01, n_boot=20,
                            models=models, ablations={}, timings_seconds={})
    table = comparison_table(metrics)
    assert list(table.columns) == ["paper", "patient", "matched"] and len(table) == 2
    with pytest.raises(Exception, match="two controls per case"):
        StrokeCohortResults(profile="q", seed=0, population=10, cases=2, controls=3, splits={}, samples={},
                            vocabulary_size=1, autoencoder={"reconstruction_accuracy": 1.0}, true_risk_auroc={},
                            encoding={}, paper={}, timings_seconds={}).save(tmp_path / "c.json")


def test_view_table_and_views_long_read_every_model_with_intervals_in_one_convention():
    from ehrlib.stroke.results import ModelResult, StrokeMetrics, interval_cell, view_result, view_table, views_long
    from ehrlib.stroke.results import MetricValue

    good, _ = evaluate_all_views(_scored(), _scored(), n_boot=20)
    models = {n: ModelResult(name=n, family="network", samples="exam", views={v: view_result(s) for v, s in good.items()})
              for n in ("a", "b")}
    metrics = StrokeMetrics(profile="quick", seed=0, paper_auroc=0.669, population_prevalence=0.01, n_boot=20,
                            models=models, ablations={}, timings_seconds={})
    paper, matched = view_table(metrics, "paper"), view_table(metrics, "matched")
    assert list(paper["model"]) == ["a", "b"]
    assert "case ranked first" not in paper.columns and "case ranked first" in matched.columns
    assert "F1" in paper.columns and "F1" not in matched.columns  # threshold metrics in the paper's view only
    auroc = good["paper"].metrics["auroc"]
    assert paper.loc[0, "AUROC"] == f"{auroc.value:.3f} ({auroc.ci_low:.3f} to {auroc.ci_high:.3f})"
    assert paper.loc[0, "test samples"] == good["paper"].n_samples
    assert interval_cell(MetricValue(0.5, None, None)) == "-" and interval_cell(None) == "-"
    long = views_long(metrics)
    assert len(long) == 6 and set(long["view"]) == {"paper", "patient", "matched"}
    assert long.iloc[0]["value"] == pytest.approx(auroc.value)
