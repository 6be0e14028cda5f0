"""Tests of chapter 06's study: training over seeds to early stopping, the threshold policy, the PPV's
interval, the paired network-minus-baseline differences over matched sets and the verdict."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from ehrlib.evaluation.bootstrap import grouped_paired_bootstrap
from ehrlib.findings import stroke_findings
from ehrlib.stroke import experiment as ex
from ehrlib.stroke.evaluation import (
    Scored, evaluate_all_views, matched_bootstrap, paired_difference, ppv_at_prevalence, view_frame,
)
from ehrlib.stroke.models import NetworkConfig, TrainConfig, stopping_reason, train_network
from ehrlib.stroke.results import (
    Difference, ModelResult, SeedRun, Spread, StrokeMetrics, ViewResult, differences_table, stroke_verdict,
    verdict, view_result, view_table,
)


def _scored(n_sets: int = 40, seed: int = 0, signal: float = 1.0, scores: np.ndarray | None = None) -> Scored:
    """`n_sets` matched sets (a case and two controls), two prefixes per patient, the case's later prefix
    positive; scores that rank cases higher by `signal`."""
    rng = np.random.default_rng(seed)
    rows = []
    for s in range(n_sets):
        index = pd.Timestamp("2012-01-01") + pd.Timedelta(days=30 * s)
        for k, role in enumerate(("case", "control", "control")):
            pid = 3 * s + k
            for days, last in ((700, False), (200, True)):
                rows.append((pid, 3 * s, role, index, index - pd.Timedelta(days=days), int(role == "case" and last)))
    f = pd.DataFrame(rows, columns=["patient_id", "case_id", "role", "index_date", "last_date", "y"])
    f["event_date"] = f["index_date"].where(f["role"] == "case")
    f["score"] = rng.normal(size=len(f)) + signal * (f["role"] == "case") if scores is None else scores
    return Scored(f)


def test_threshold_metrics_and_the_ppv_interval_only_in_the_papers_view():
    views, _ = evaluate_all_views(_scored(seed=1), _scored(seed=2), n_boot=200, prevalence=0.01)
    assert views["paper"].threshold is not None and views["patient"].threshold is None
    assert {"f1", "recall", "specificity", "ppv_population"} <= set(views["paper"].metrics)
    assert set(views["patient"].metrics) == {"auroc", "auprc"}
    assert set(views["matched"].metrics) == {"auroc", "auprc", "top1"}
    m = views["paper"].metrics
    assert m["ppv_population"].value == pytest.approx(ppv_at_prevalence(m["recall"].value, m["specificity"].value, 0.01))
    assert m["ppv_population"].ci_low < m["ppv_population"].value < m["ppv_population"].ci_high
    rare, _ = evaluate_all_views(_scored(seed=1), _scored(seed=2), n_boot=200, prevalence=0.001)
    assert rare["paper"].metrics["ppv_population"].ci_high < m["ppv_population"].ci_high  # rarer outcome, lower PPV
    result = view_result(views["patient"])
    with pytest.raises(ValueError, match="not reported in the patient view"):  # the typed result enforces the policy
        ViewResult("patient", None, 1, 1, 0.3, {**result.metrics, "f1": result.metrics["auroc"]}).validate()
    assert np.allclose(ppv_at_prevalence(np.array([0.5, 0.0]), np.array([0.9, 1.0]), 1 / 3), [0.5 / 3 / (0.5 / 3 + 0.1 * 2 / 3), np.nan],
                       equal_nan=True)


def test_paired_difference_resamples_matched_sets_for_both_models_together():
    a, b = _scored(seed=3, signal=1.5), _scored(seed=4, signal=0.2)
    b.frame["score"] = np.random.default_rng(9).normal(size=len(b.frame))
    for view in ("paper", "patient"):
        rows_a, rows_b = view_frame(a, view), view_frame(b, view)
        ref = grouped_paired_bootstrap(rows_a["y"].to_numpy(), rows_a["score"].to_numpy(), rows_b["score"].to_numpy(),
                                       groups=rows_a["case_id"].to_numpy(), n_boot=300, seed=1)["auroc"]
        d = paired_difference(a, b, view, n_boot=300, seed=1)
        assert (d.value, d.ci_low, d.ci_high) == pytest.approx((ref["value"], ref["ci_low"], ref["ci_high"]))
    d = paired_difference(a, b, "matched", n_boot=300, seed=1)
    point = (matched_bootstrap(view_frame(a, "matched"), n_boot=10)["auroc"].value
             - matched_bootstrap(view_frame(b, "matched"), n_boot=10)["auroc"].value)
    assert d.value == pytest.approx(point) and d.ci_low > 0  # a clearly better ranking
    same = paired_difference(a, a, "matched", n_boot=100)
    assert same.value == same.ci_low == same.ci_high == 0.0  # paired: the same model differs by nothing
    shorter = Scored(a.frame.iloc[6:].reset_index(drop=True))
    with pytest.raises(ValueError, match="same samples"):
        paired_difference(a, shorter, "paper", n_boot=10)


def _diff(value: float, low: float, high: float, seed: int = 0, view: str = "matched", net: str = "net") -> Difference:
    return Difference(net, "base", "exam", view, seed, value, low, high)


def test_verdict_needs_every_seed_on_one_side_of_zero():
    assert verdict([_diff(0.05, 0.01, 0.09, s) for s in range(3)]) == "better"
    assert verdict([_diff(-0.05, -0.09, -0.01, s) for s in range(3)]) == "worse"
    assert verdict([_diff(-0.05, -0.09, -0.01), _diff(-0.02, -0.06, 0.01, 1)]) == "no clear difference"
    with pytest.raises(ValueError):
        verdict([])


def _metrics(diffs: list[Difference]) -> StrokeMetrics:
    views, _ = evaluate_all_views(_scored(seed=1), _scored(seed=2), n_boot=20)
    vr = {v: view_result(s) for v, s in views.items()}
    runs = [SeedRun(s, vr, {"best epoch": 1}) for s in (0, 1)]
    models = {n: ModelResult(n, "network", "exam", vr, runs=runs) for n in ("net", "other")}
    models["base"] = ModelResult("base", "baseline", "exam", vr)
    return StrokeMetrics(profile="quick", seed=0, paper_auroc=0.669, population_prevalence=0.01, n_boot=20,
                         models=models, ablations={}, timings_seconds={}, seeds=[0, 1], differences=diffs)


def test_stroke_verdict_counts_networks_from_their_paired_intervals(tmp_path):
    diffs = [_diff(0.05, 0.01, 0.09, s, view) for s in (0, 1) for view in ("patient", "matched")]
    diffs += [_diff(-0.05, -0.09, -0.01, s, "patient", "other") for s in (0, 1)]
    diffs += [_diff(-0.01, -0.05, 0.03, s, "matched", "other") for s in (0, 1)]
    m = _metrics(diffs)
    assert stroke_verdict(m) == ("one per patient: 1 of 2 networks better than their best baseline on every seed, "
                                 "1 worse on every seed, 0 not clearly different; within matched sets: 1 of 2 "
                                 "networks better than their best baseline on every seed, 0 worse on every seed, "
                                 "1 not clearly different")
    flipped = _metrics([Difference(d.network, d.baseline, d.samples, d.view, d.seed, -d.value, -d.ci_high, -d.ci_low)
                        for d in diffs])
    assert stroke_verdict(flipped).startswith("one per patient: 1 of 2 networks better")
    assert "within matched sets: 0 of 2 networks better" in stroke_verdict(flipped)
    table = differences_table(m)
    assert list(table["verdict"]) == ["better", "better", "worse", "no clear difference"]
    assert table.loc[0, "seed 0"] == "+0.050 (+0.010 to +0.090)"
    back = StrokeMetrics.load(m.save(tmp_path / "m.json"))
    assert back.differences == m.differences and stroke_verdict(back) == stroke_verdict(m)


def test_networks_headline_is_the_spread_over_seeds():
    m = _metrics([])
    net = m.models["net"]
    auroc = net.runs[0].views["paper"].value("auroc")
    assert net.spread("paper") == Spread(auroc, 0.0, auroc, auroc, 2) and net.headline("paper") == auroc
    assert m.models["base"].spread("paper") is None
    table = view_table(m, "paper", ("auroc",))
    assert table.loc[0, "AUROC"] == f"{auroc:.3f} ± 0.000 (range {auroc:.3f} to {auroc:.3f})"  # network: spread
    assert "(" in table.loc[2, "AUROC"] and "±" not in table.loc[2, "AUROC"]  # baseline: interval
    assert Spread.of([0.6, 0.7, 0.8]).sd == pytest.approx(0.1)


def test_stopping_reason_tells_patience_from_the_cap():
    tc = TrainConfig(max_epochs=10, patience=3)
    assert stopping_reason(7, 4, tc) == "patience"
    assert stopping_reason(10, 9, tc) == "epoch cap"
    assert stopping_reason(10, 10, tc) == "epoch cap"
    assert stopping_reason(10, 7, tc) == "patience"  # stopped at the cap, but by patience


def _fake_data(n: int = 120, seed: int = 0):
    """A `StrokeData` stand-in: dense inputs of the three kinds per split, labels that the inputs carry."""
    rng = np.random.default_rng(seed)

    def split(m: int):
        y = (rng.random(m) < 0.3).astype(int)
        d = rng.normal(size=(m, 4, 3)).astype(np.float32) + y[:, None, None]
        e = rng.normal(size=(m, 3, 2)).astype(np.float32) + y[:, None, None]
        return {"diagnosis": SimpleNamespace(inputs=lambda: {"diagnosis": d}, y=y),
                "exam": SimpleNamespace(inputs=lambda: {"exam": e}, y=y),
                "dual": SimpleNamespace(inputs=lambda: {"diagnosis": d, "exam": e}, y=y)}

    parts = {s: split(n if s == "train" else n // 2) for s in ("train", "val")}
    return SimpleNamespace(encoded={k: {s: parts[s][k] for s in parts} for k in ("diagnosis", "exam", "dual")})


def test_training_over_seeds_chooses_on_the_first_and_gives_each_seed_its_own_donors(monkeypatch):
    small = {"diagnosis": [NetworkConfig("diagnosis", gru_units=u, head_units=4) for u in (2, 3)],
             "exam": [NetworkConfig("exam", td_units=(3,), head_units=4)]}
    monkeypatch.setattr(ex, "grid", lambda kind, size="small", base=None: small.get(kind) or [
        NetworkConfig("dual", gru_units=base["diagnosis"].gru_units, td_units=base["exam"].td_units, head_units=4)])
    study = ex.StudyConfig(seeds=(5, 6), train=TrainConfig(max_epochs=40, patience=1, batch_size=32, jit_compile=False),
                           dual_max_epochs=2, grid="small", ablation=TrainConfig(), equivalence_epochs=1, n_boot=10,
                           boot_seed=0)
    data, runs = _fake_data(), {}
    runs["diagnosis"], table = ex.train_over_seeds(data, "diagnosis", study)
    assert [n.train_config.seed for n in runs["diagnosis"]] == [5, 6] and len(table) == 2
    chosen = table.loc[table["chosen"] == "yes", "architecture"].item()
    assert all(n.config.label == chosen for n in runs["diagnosis"])  # the first seed's choice, kept
    assert all(n.stopped_by == "patience" and n.epochs_run < 40 for n in runs["diagnosis"])  # early stopping
    runs["exam"], _ = ex.train_over_seeds(data, "exam", study)
    runs["dual"], _ = ex.train_over_seeds(data, "dual", study, donors=runs)
    assert all(n.train_config.max_epochs == 2 for n in runs["dual"])  # model 3's own cap
    for i, net in enumerate(runs["dual"]):  # seed i starts from seed i's model 1
        donor = runs["diagnosis"][i].model.get_layer("dx_gru").get_weights()
        assert set(net.transferred) == {"dx_gru", "ex_td_1"}
        assert not all(np.array_equal(a, b) for a, b in zip(runs["diagnosis"][1 - i].model.get_layer("dx_gru").get_weights(), donor))
    t = ex.training_table(runs)
    assert len(t) == 6 and set(t["stopped by"]) <= {"patience", "epoch cap"}
    curves = ex.training_curves(runs)
    assert curves.groupby(["network", "seed"])["best"].sum().eq(1).all()


def test_choosing_the_baseline_never_looks_at_the_test_split():
    good, bad = _scored(seed=1, signal=2.0), _scored(seed=1, signal=0.0)
    scored = {"a (exam)": {"val": good, "test": bad}, "b (exam)": {"val": bad, "test": good}}
    best, val = ex.choose_baseline(scored, ["a (exam)", "b (exam)"], "matched")
    assert best == "a (exam)" and val["a (exam)"] > val["b (exam)"]


def test_a_longer_budget_lets_a_training_run_to_patience():
    data = _fake_data(seed=2)
    X, y = data.encoded["exam"]["train"].inputs(), data.encoded["exam"]["train"].y
    Xv, yv = data.encoded["exam"]["val"].inputs(), data.encoded["exam"]["val"].y
    cfg = NetworkConfig("exam", td_units=(3,), head_units=4)
    capped = train_network(cfg, X, y, Xv, yv, TrainConfig(max_epochs=1, patience=2, jit_compile=False))
    assert capped.stopped_by == "epoch cap" and capped.epochs_run == 1
    long = train_network(cfg, X, y, Xv, yv, TrainConfig(max_epochs=60, patience=2, jit_compile=False))
    assert long.stopped_by == "patience" and long.epochs_run == long.best_epoch + 2 < 60


def test_epochs_text_reads_as_english():
    assert ex.epochs_text(1) == "1 epoch" and ex.epochs_text(2) == "2 epochs"


def test_the_stroke_finding_states_the_seed_spread_and_the_paired_verdict():
    diffs = [_diff(-0.05, -0.09, -0.01, s, view, "model 3 (dual input)") for s in (0, 1) for view in ("patient", "matched")]
    m = _metrics(diffs)
    m.models["model 3 (dual input)"] = m.models.pop("net")
    del m.models["other"]
    text = stroke_findings(m)[0]
    assert "over 2 seeds on the paper's samples (the paper reports 0.669)" in text
    assert "one per patient: 0 of 1 networks better than their best baseline on every seed, 1 worse" in text
