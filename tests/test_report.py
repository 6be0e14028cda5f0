"""The generated technical report, and smoke checks of the mortality figures."""

from __future__ import annotations

import re

import numpy as np
import pytest

from ehrlib import plots
from ehrlib.evaluation.calibration import calibrate_and_evaluate
from ehrlib.evaluation.metrics import paired_bootstrap, ranking_metrics
from ehrlib.mortality.report import PUBLISHED_ANCHORS, render_report


def _scores(n: int, seed: int, noise: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    risk = rng.uniform(0.02, 0.7, n)
    y = (rng.uniform(size=n) < risk).astype(int)
    return y, np.clip(risk + rng.normal(0, noise, n), 0, 1), risk


def _metrics() -> dict:
    yv, pv, _ = _scores(600, 0, 0.15)
    yt, pt, risk = _scores(600, 1, 0.15)
    _, pv_lr, _ = _scores(600, 0, 0.3)
    _, pt_lr, _ = _scores(600, 1, 0.3)
    lstm = calibrate_and_evaluate(pv, yv, pt, yt, n_boot=50).metrics
    lr = calibrate_and_evaluate(pv_lr, yv, pt_lr, yt, n_boot=50).metrics
    fold = {"mean": 0.8, "sd": 0.01, "min": 0.79, "max": 0.81}
    return {
        "lstm_training": {"config": {"units": 64, "dropout": 0.5, "recurrent_dropout": 0.3, "dense": [32, 16],
                                     "l2": 0.01, "head_dropout": 0.5, "gamma": 2.0, "alpha": 0.25,
                                     "learning_rate": 0.001, "batch_size": 64, "max_epochs": 50, "patience": 5,
                                     "monitor": "val_auroc"},
                          "epochs_run": 12, "best_epoch": 7, "seconds": 95.0},
        "timings": {"calibration_threshold_seconds": 1.5, "kfold_seconds": 60.25},
        "data": {s: {"n": 600, "deaths": 200, "prevalence": 1 / 3} for s in ("train", "val", "test")}
        | {"n_variables": 15},
        "lstm": lstm,
        "oracle": ranking_metrics(yt, risk),
        "baselines": {"logistic_regression": lr},
        "comparison": {"lstm_vs_lr": paired_bootstrap(yt, pt, pt_lr, n_boot=50)},
        "kfold": {"config": {"n_splits": 5, "n_episodes": 1200},
                  "summary": {m: {k: fold for k in ("auroc", "auprc", "f1", "brier")}
                              for m in ("lstm", "logistic_regression", "oracle")}},
    }


def test_report_renders_every_section_without_placeholders() -> None:
    m = _metrics()
    text = render_report(m)
    headings = re.findall(r"^(#+) (.+)$", text, flags=re.M)
    assert [h for _, h in headings] == ["Model", "Data", "Test metrics", "Calibration", "Decision threshold",
                                        "Baselines", "K-fold validation", "Comparison with published figures",
                                        "Run time", "Limits"]
    assert {len(h) for h, _ in headings} == {2}
    for bad in ("nan", "None", "TODO", "{", "}", "not run", "not recorded"):
        assert bad not in text, bad
    assert f"{m['lstm']['auroc']['value']:.3f}" in text
    assert f"{m['lstm']['auroc']['ci_low']:.3f}" in text
    assert f"{m['oracle']['auroc']:.3f}" in text
    for a in PUBLISHED_ANCHORS:
        assert a["auroc"] in text
    assert "0.800 ± 0.010" in text
    assert "| kfold | 60.2 |" in text or "| kfold | 60.3 |" in text
    assert "Training ran 12 epochs, kept the weights of epoch 7 and took 95 s" in text
    order = [text.index(n) for n in ("LSTM + focal loss", "Logistic regression (benchmark)")]
    assert order == sorted(order)


def test_report_heading_level_follows_notebook() -> None:
    text = render_report(_metrics(), level=3)
    assert set(re.findall(r"^(#+) ", text, flags=re.M)) == {"###"}


def test_report_states_missing_parts_and_needs_lstm() -> None:
    m = _metrics()
    for key in ("baselines", "kfold", "comparison", "data", "timings", "lstm_training"):
        m.pop(key)
    text = render_report(m)
    assert "K-fold validation was not run." in text and "baselines of chapter 7 were not run" in text
    assert "No timings were recorded" in text
    with pytest.raises(ValueError, match="lstm"):
        render_report({})


def test_mortality_figures_build() -> None:
    y, p, risk = _scores(300, 2, 0.2)
    res = calibrate_and_evaluate(p[:150], y[:150], p[150:], y[150:], n_boot=20).metrics
    history = {k: list(np.linspace(0.5, 0.8, 4)) for k in ("loss", "val_loss", "auroc", "val_auroc", "auprc",
                                                           "val_auprc")}
    figs = [
        plots.roc_figure({"model": (y, p), "oracle": (y, risk)}),
        plots.pr_figure({"model": (y, p)}),
        plots.calibration_figure(y, {"raw": p, "calibrated": np.sqrt(p)}),
        plots.confusion_matrix_figure(res["confusion_matrix"]),
        plots.probability_distribution_figure(y, p, 0.3),
        plots.threshold_metrics_figure(y, p, {"F1": 0.3}),
        plots.summary_metrics_figure(res),
        plots.learning_curves_figure(history, best_epoch=2),
        plots.metric_comparison_figure({"a": res, "b": res}),
        plots.improvement_figure(res, res),
        plots.comparison_table_figure([{"model": "a", "AUROC": 0.8}, {"model": "b", "AUROC": 0.7}]),
        plots.kfold_figure([{"fold": 0, "lstm": {"auroc": 0.8, "auprc": 0.5, "f1": 0.4}}]),
    ]
    for fig in figs:
        assert fig.layout.title.text and len(fig.data) >= 1
    roc = figs[0]
    assert "AUROC" in roc.data[0].name
