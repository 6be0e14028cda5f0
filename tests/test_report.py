"""The typed results fed by the real writers, the technical report and TRIPOD checklist read from them,
the comparison column's sign, and smoke checks of the mortality figures."""

from __future__ import annotations

import json
import re
from types import SimpleNamespace

import numpy as np
import pytest

from ehrlib import plots
from ehrlib.evaluation.calibration import calibrator_name
from ehrlib.evaluation.kfold import KFoldConfig, run_kfold
from ehrlib.evaluation.protocol import evaluate_model, metric_entries
from ehrlib.evaluation.subgroups import subgroup_rows
from ehrlib.evaluation.thresholds import decision_curve
from ehrlib.icu.episodes import EpisodeSet
from ehrlib.records import RecordError
from ehrlib.mortality.assemble import comparison, data_summary, kfold_result, oracle_record, training_record
from ehrlib.mortality.pipelines import logistic_fitter, missingness_fitter, run_baselines, seed_run
from ehrlib.mortality.comparison import ComparisonConfig, robustness_facts
from ehrlib.mortality.report import PUBLISHED_ANCHORS, improvement_rows, metrics_summary, render_report, section
from ehrlib.profiles import get_profile
from ehrlib.evaluation.bootstrap import Interval
from ehrlib.mortality.results import (BaselineRecord, BestBaseline, DecisionCurve, NetBenefitAt, LearningCurve, MortalityResults, SeedSummary,
                                      Subgroups, load_results, results_path, update_results)
from ehrlib.mortality.tripod import tripod_checklist

VITALS = ["Heart Rate", "Respiratory rate", "Oxygen saturation", "Systolic blood pressure", "Temperature"]


def _split(n_patients: int, seed: int, split: str, first_id: int) -> EpisodeSet:
    """1-2 episodes per patient; vitals and label follow a latent severity."""
    rng = np.random.default_rng(seed)
    per = rng.integers(1, 3, n_patients)
    subject = np.repeat(np.arange(first_id, first_id + n_patients), per)
    episode = np.concatenate([np.arange(1, k + 1) for k in per])
    n = subject.size
    sev = rng.normal(0, 1, n)
    risk = 1 / (1 + np.exp(-(1.5 * sev - 1.5)))
    y = (rng.uniform(size=n) < risk).astype(np.int8)
    base, slope = np.array([85, 18, 96, 120, 37.0]), np.array([12, 4, -2, -12, 0.5])
    values = base + slope * sev[:, None, None] + rng.normal(0, 1, (n, 48, 5)) * np.abs(slope) * 0.4
    mask = rng.uniform(size=values.shape) < 0.3 + 0.2 * (sev[:, None, None] > 0)
    values = np.where(mask, values, np.nan).astype(np.float32)
    stays = np.array([f"{s}_episode{e}_timeseries.csv" for s, e in zip(subject, episode)])
    return EpisodeSet(values=values, mask=mask, y=y, stays=stays, variables=VITALS, true_risk=risk, split=split)


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """Results written by the chapters' real writers (the LR standing in for the LSTM: no TensorFlow)."""
    root = tmp_path_factory.mktemp("results")
    data = {"train": _split(300, 0, "train", 1000), "val": _split(150, 1, "val", 5000), "test": _split(150, 2, "test", 9000)}
    train, val, test = data["train"], data["val"], data["test"]
    model = logistic_fitter()(train, val)
    p_val, p_test = model(val), model(test)
    result = SimpleNamespace(config=SimpleNamespace(to_json=lambda: {
        "units": 64, "dropout": 0.5, "recurrent_dropout": 0.3, "dense": [32, 16], "l2": 0.01, "head_dropout": 0.5,
        "gamma": 2.0, "alpha": 0.25, "learning_rate": 0.001, "batch_size": 64, "max_epochs": 50, "patience": 5}),
        model=SimpleNamespace(count_params=lambda: 1234), epochs_run=12, best_epoch=7, seconds=95.0,
        seconds_per_epoch=7.9, xla=False, history={"loss": [0.3, 0.2], "val_auroc": [0.7, 0.8]})
    update_results(root, training=training_record(result, SimpleNamespace(n_features=10), len(train),
                                                  {"train": 0.1}, {"auroc": 0.8, "auprc": 0.5}, 0.85))
    ev = evaluate_model(p_val, val.y, p_test, test.y, test.subject_ids, n_boot=50, seed=0)
    update_results(root, lstm=ev.metrics, oracle=oracle_record(test, 50, 0), timings={"calibration_threshold_seconds": 1.5})
    runs = run_baselines(train, val, test, n_boot=50, seed=0)
    raw = {"lstm": p_test, **{k: r.p_test for k, r in runs.items()}}
    cal = {"lstm": ev.p_test, **{k: r.evaluated.p_test for k, r in runs.items()}}
    grid = np.arange(0.05, 0.6, 0.05)
    dc = decision_curve(test.y, cal, grid)
    seeds = [seed_run(s, p_test + 0.01 * s, test, raw["logistic_regression"], 50) for s in (0, 1)]
    attrs = {"sex": np.where(np.arange(len(test)) % 2, "M", "F")}
    update_results(
        root, data=data_summary(data, external=False), comparison=comparison(test, p_test, raw["gbt"], 50, 0),
        baselines={k: BaselineRecord(evaluation=r.evaluated.metrics, notes=r.notes, seconds=r.seconds)
                   for k, r in runs.items()},
        seeds=SeedSummary(seeds=[0, 1], auroc=[r.auroc for r in seeds], auprc=[r.auprc for r in seeds],
                          diff_auroc=[r.diff_auroc for r in seeds], seconds=[1.0, 2.0]),
        kfold=kfold_result(run_kfold(EpisodeSet.concat([train, val]), {"lstm": logistic_fitter(),
                                                                         "logistic_regression": missingness_fitter()},
                                     KFoldConfig(n_splits=3), progress=False)),
        decision_curve=DecisionCurve(thresholds=grid, net_benefit={k: v for k, v in dc.items() if k != "threshold"},
                                     marks={"max F1": ev.metrics.threshold},
                                     at_threshold=NetBenefitAt(threshold=0.2, model=Interval(0.05, 0.04, 0.06),
                                                               treat_all=Interval(0.01, 0.0, 0.02),
                                                               difference=Interval(0.04, 0.03, 0.05))),
        best_baseline=BestBaseline(model="gbt", validation_auroc={"gbt": 0.8, "news2": 0.7},
                                   comparison=comparison(test, p_test, raw["gbt"], 50, 0)),
        learning_curve=LearningCurve(sizes=[100, len(train)], auroc={"lstm": [ev.metrics.auroc, ev.metrics.auroc]}),
        subgroups=Subgroups(available=True, reason="", rows=subgroup_rows(test.y, raw, cal, attrs, test.subject_ids, 30)),
        ablation=None, timings={"kfold_seconds": 60.25})
    return root


def test_report_renders_every_section_from_the_written_results(written) -> None:
    results = load_results(written)
    text = render_report(results)
    headings = [h for _, h in re.findall(r"^(#+) (.+)$", text, flags=re.M)]
    assert headings == ["Model", "Data", "Test metrics", "Calibration", "Decision threshold", "Baselines",
                        "LSTM against the benchmark regression, metric by metric", "Seeds", "K-fold validation",
                        "Decision curve", "Learning curve", "Subgroups", "Missingness ablation",
                        "Comparison with published figures", "Run time", "Limits"]
    for bad in ("nan", "None", "TODO", "{", "}"):
        assert bad not in text, bad
    assert f"{results.lstm.auroc.value:.3f} ({results.lstm.auroc.ci_low:.3f} to {results.lstm.auroc.ci_high:.3f})" in text
    assert "The missingness ablation was not run." in text
    assert "The best baseline on validation AUROC is the gradient-boosted trees (0.800)" in text
    assert "its net benefit is 0.0500 (0.0400 to 0.0600)" in text and "+0.0400 (+0.0300 to +0.0500)" in text
    assert "| kfold | 60.2 |" in text or "| kfold | 60.3 |" in text
    assert "Training ran 12 epochs, kept the weights of epoch 7" in text and "1,234 trainable parameters" in text
    for a in PUBLISHED_ANCHORS:
        assert a["auroc"] in text
    assert "subject" in text and results.lstm.resampling_unit == "subject"
    table = tripod_checklist(results)
    assert table.count("\n") > 15 and "12d" in table and calibrator_name(results.lstm.calibrator) in table


def test_a_missing_or_renamed_field_fails_loudly(written, tmp_path) -> None:
    d = json.loads(results_path(written).read_text())
    del d["lstm"]["auroc"]
    (tmp_path / "mortality_metrics.json").write_text(json.dumps(d))
    with pytest.raises(RecordError, match=r"mortality_metrics.json: field 'lstm.auroc': missing"):
        load_results(tmp_path)
    d = json.loads(results_path(written).read_text())
    d["baselines"]["gbt"]["evaluation"]["auroc_raw"] = d["baselines"]["gbt"]["evaluation"].pop("auroc")
    (tmp_path / "mortality_metrics.json").write_text(json.dumps(d))
    with pytest.raises(RecordError, match=r"unknown field\(s\) \['auroc_raw'\]"):
        load_results(tmp_path)
    d = json.loads(results_path(written).read_text())
    del d["seeds"]  # a whole section missing is an error too; not-run is written as null
    (tmp_path / "mortality_metrics.json").write_text(json.dumps(d))
    with pytest.raises(RecordError, match="field 'seeds': missing"):
        load_results(tmp_path)
    with pytest.raises(ValueError, match="unknown results section"):
        update_results(tmp_path, lstm_metrics=None)


def test_sections_not_run_are_said_so_and_lstm_is_required(written) -> None:
    results = load_results(written)
    results.baselines = results.kfold = results.seeds = results.comparison = None
    text = render_report(results)
    assert "K-fold validation was not run." in text and "baselines of chapter 7 were not run" in text
    assert "one seed only" in text
    with pytest.raises(ValueError, match="lstm"):
        render_report(MortalityResults.empty())


def test_improvement_column_is_positive_when_the_lstm_is_better(written) -> None:
    results = load_results(written)
    lstm, lr = results.lstm, results.baselines["logistic_regression"].evaluation
    summary = metrics_summary(lstm, lr)
    for k in ("brier", "ece"):
        better = summary["deep_learning"][k] < summary["baseline"][k]
        assert (summary["improvement_percent"][k] > 0) == better, k
    for k in ("auroc", "auprc"):
        assert (summary["improvement_percent"][k] > 0) == (summary["deep_learning"][k] > summary["baseline"][k])
    rows = {r[0]: r for r in improvement_rows(lstm, lr)}
    brier = rows["Brier (lower is better)"]
    assert (float(brier[3].rstrip(" %")) > 0) == (float(brier[1]) < float(brier[2]))


def test_mortality_figures_build(written) -> None:
    results = load_results(written)
    rng = np.random.default_rng(2)
    risk = rng.uniform(0.02, 0.7, 300)
    y = (rng.uniform(size=300) < risk).astype(int)
    p = np.clip(risk + rng.normal(0, 0.2, 300), 0, 1)
    entries = metric_entries(results.lstm)
    figs = [
        plots.roc_figure({"model": (y, p), "oracle": (y, risk)}),
        plots.pr_figure({"model": (y, p)}),
        plots.calibration_figure(y, {"raw": p, "calibrated": np.sqrt(p)}),
        plots.confusion_matrix_figure(results.lstm.confusion_matrix),
        plots.probability_distribution_figure(y, p, 0.3),
        plots.threshold_metrics_figure(y, p, {"F1": 0.3}),
        plots.summary_metrics_figure(entries),
        plots.learning_curves_figure({"loss": [0.3, 0.2], "val_loss": [0.3, 0.25]}, best_epoch=2),
        plots.metric_comparison_figure({"a": entries, "b": entries}),
        plots.improvement_figure(entries, entries),
        plots.comparison_table_figure([{"model": "a", "AUROC": 0.8}, {"model": "b", "AUROC": 0.7}]),
        plots.kfold_figure(results.kfold.folds),
        plots.decision_curve_figure({"threshold": results.decision_curve.thresholds,
                                     **results.decision_curve.net_benefit}, results.decision_curve.marks),
        plots.learning_size_figure(results.learning_curve.sizes, results.learning_curve.auroc),
        plots.seeds_figure(results.seeds.seeds, {"LSTM": results.seeds.auroc}),
    ]
    for fig in figs:
        assert fig.layout.title.text and len(fig.data) >= 1


def test_report_without_an_oracle_shows_no_ceiling(written) -> None:
    from ehrlib.mortality.report import no_ceiling_sentence

    results = load_results(written)
    results.oracle = None
    results.data.has_true_risk = False
    results.kfold.summary.pop("oracle")
    text = render_report(results)
    assert no_ceiling_sentence(results.lstm.n) in text and "no known true risk" in text
    assert "oracle" not in text.lower() and "Synthetic" not in text


def test_fresh_results_replace_an_older_file(tmp_path) -> None:
    """Chapter 03 starts a new results file: an older run's file (here an unknown section) is replaced."""
    (tmp_path / "mortality_metrics.json").write_text('{"lstm_training": {}}')
    with pytest.raises(RecordError, match="unknown field"):
        update_results(tmp_path, timings={"a": 1.0})
    fresh = update_results(tmp_path, fresh=True, timings={"a": 1.0})
    assert fresh.timings == {"a": 1.0} and load_results(tmp_path).timings == {"a": 1.0}


def test_each_section_alone_and_the_robustness_sentences_read_back(written) -> None:
    results = load_results(written)
    assert section("seeds", results).startswith("The LSTM retrained with 2 seeds")
    assert section("anchors", results).count(PUBLISHED_ANCHORS[0]["source"]) == 1
    with pytest.raises(ValueError, match="no report section 'nope'"):
        section("nope", results)
    facts = robustness_facts(results, ComparisonConfig.from_profile(get_profile("quick")))
    assert facts["n_seeds"] == 2 and facts["nb_lstm"] == "0.0500 (0.0400 to 0.0600)"
    assert facts["k"] == 3 and "furthest off in sex" in facts["subgroups"]
    assert facts["ablation"].startswith("The ablation needs the generator")
    results.seeds = None
    with pytest.raises(ValueError, match=r"lack \['seeds'\]: run chapter 07"):
        robustness_facts(results, ComparisonConfig.from_profile(get_profile("quick")))
