# ---
# jupyter:
#   jupytext:
#     cell_metadata_filter: tags,-all
#     formats: ipynb,py:percent
#     notebook_metadata_filter: kernelspec,-jupytext.text_representation.jupytext_version
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Baselines and comparison
#
# Is the LSTM worth it? This chapter fits what a user would pick instead (the MIMIC-III benchmark's
# logistic regression on sub-window statistics, gradient-boosted trees on the same statistics, and a
# NEWS2-style early-warning score), puts each model's test AUROC beside the best achievable one (the
# generator's true risk), compares the LSTM with the logistic regression on paired bootstrap resamples,
# and repeats the LSTM-versus-regression comparison in a 5-fold validation by patient. The stroke half of
# the comparison will be added with the stroke chapters. At full scale this chapter takes roughly 5-15
# minutes on two CPU cores, almost all of it the five LSTM trainings of the k-fold validation.

# %% tags=["parameters"]
profile = "quick"

# %%
import time

import numpy as np
import pandas as pd
from IPython.display import Markdown, display

from ehrlib import plots
from ehrlib.mortality.baselines import run_baselines
from ehrlib.evaluation.calibration import IsotonicCalibrator, ThresholdChoice
from ehrlib.io import read_json, update_json, write_json
from ehrlib.evaluation.metrics import paired_bootstrap, ranking_metrics
from ehrlib.mortality.lstm import LstmConfig
from ehrlib.profiles import get_profile
from ehrlib.icu.reader import EpisodeSet, read_dataset
from ehrlib.mortality.report import MODEL_NAMES, comparison_rows, metrics_summary, no_ceiling_sentence
from ehrlib.evaluation.kfold import KFoldConfig, logistic_fitter, lstm_fitter, run_kfold

plots.setup_notebook()
P = get_profile(profile)
R = P.results_dir / "mortality"
timings: dict[str, float] = {}
started = time.perf_counter()

# %% [markdown]
# ## The data
#
# The same patient-level split as chapter 3: models are fitted on train, calibrated and thresholded on
# validation, and scored once on test.

# %%
t = time.perf_counter()
data = read_dataset(P.icu_dir)
train, val, test = data["train"], data["val"], data["test"]
timings["load_seconds"] = time.perf_counter() - t
summary = {s: {"n": len(e), "deaths": int(e.y.sum()), "prevalence": float(e.y.mean())} for s, e in data.items()}
pd.DataFrame(summary).T.assign(prevalence=lambda d: d.prevalence.round(3))

# %%
display(Markdown(
    f"{len(train):,} training, {len(val):,} validation and {len(test):,} test episodes with "
    f"{len(train.variables)} variables over {train.n_hours} hours, loaded in {timings['load_seconds']:.1f} s."))

# %% [markdown]
# ## Fitting the baselines
#
# - **Logistic regression** (the MIMIC-III benchmark's): min, max, mean, std, skew and count of every
#   variable over 7 sub-windows (the full 48 h, the first and last 10, 25 and 50 %), mean-imputed and
#   standardised with training statistics, L2 penalty with C = 0.001.
# - **Gradient-boosted trees** (scikit-learn's histogram boosting) on the same statistics, missing values
#   left to the trees. scikit-learn cannot save this model as JSON and the project never pickles, so it is
#   not saved: it is retrained from its seed on every run.
# - **NEWS2-style score** from respiration rate, SpO2, systolic pressure, pulse and temperature, each
#   carried forward hour by hour and scored with the NEWS2 bands; supplemental oxygen is not in the data and
#   scores 0, and so does consciousness unless the data chart the Glasgow coma scale (the real benchmark
#   does), where a total below 15 counts as "not alert" (3 points). The episode's score is its worst hourly total over a final window whose
#   length (12, 24 or 48 h) is chosen on validation AUROC.
#
# Every model, the LSTM included, then gets the same treatment: isotonic calibration and the F1-optimal
# threshold fitted on validation.

# %%
runs = run_baselines(train, val, test, n_boot=P.n_bootstrap, seed=P.seed)
runs["logistic_regression"].model.save(R / "logistic_regression.json")
runs["news2"].model.save(R / "news2.json")
timings.update({f"{k}_seconds": r.seconds for k, r in runs.items()})
news = runs["news2"].notes
display(Markdown(
    f"The NEWS2-style score uses the worst hour of the last {news['window_hours']} h (validation AUROC "
    + ", ".join(f"{v:.3f} for {k} h" for k, v in news["validation_auroc_by_window"].items())
    + f"). Consciousness is {'scored from the Glasgow coma scale' if news['consciousness_from_gcs'] else 'not in the data and scores 0'}."
    + f" The boosted trees stopped after {runs['gbt'].notes['iterations']} iterations."))

# %% [markdown]
# ## The LSTM from chapters 3 and 4
#
# Its raw test predictions, the calibrator fitted on validation and the threshold chosen there are read
# back from disk and matched to the test episodes by stay.

# %%
pred = pd.read_csv(R / "predictions.csv").set_index("stay")
lstm_test = pred.loc[test.stays]
if not np.array_equal(lstm_test["y_true"].to_numpy(), test.y):
    raise ValueError(f"{R / 'predictions.csv'}: test labels do not match the dataset's test split")
calibrator = IsotonicCalibrator.load(R / "calibrator.json")
choice = ThresholdChoice.load(R / "threshold.json")
p_lstm = calibrator.transform(lstm_test["p_raw"].to_numpy())
metrics_path = P.results_dir / "mortality_metrics.json"
previous = read_json(metrics_path)
if "lstm" not in previous:
    raise RuntimeError(f"{metrics_path}: no 'lstm' section; run chapters 03 and 04 first")
models = {"lstm": previous["lstm"], **{k: r.evaluation.metrics for k, r in runs.items()}}
probs = {"lstm": p_lstm, **{k: r.evaluation.p_test for k, r in runs.items()}}
oracle = ranking_metrics(test.y, test.true_risk) if test.true_risk is not None else None

# %% [markdown]
# ## Every model beside the best achievable
#
# The labels are random draws from the generator's true risk, so no model can expect to rank the test
# episodes better than that risk does. The last columns show each model's AUROC as a share of it (on data
# without a known true risk, such as the real MIMIC-III benchmark, those columns are left out).

# %%
rows = comparison_rows(models, oracle["auroc"] if oracle else None)
pd.DataFrame(rows).set_index("model").round(3)

# %%
best = max(models, key=lambda k: models[k]["auroc"]["value"])
display(Markdown(
    (f"On the {len(test):,} test episodes the true risk reaches AUROC {oracle['auroc']:.3f}. " if oracle
     else no_ceiling_sentence(len(test)) + " ")
    + f"The best model here is the {MODEL_NAMES[best].lower()} with {models[best]['auroc']['value']:.3f}; the NEWS2-style "
    f"score, the only one not learnt from the data, reaches {models['news2']['auroc']['value']:.3f}."))

# %% tags=["hide-input"]
plots.comparison_table_figure(rows, title="Test comparison (calibrated probabilities, thresholds from validation)")

# %% [markdown]
# **Figure 1.** Comparison table on the test split; AUROC and AUPRC with 95 % bootstrap intervals.

# %% tags=["hide-input"]
curves = {MODEL_NAMES[k]: (test.y, p) for k, p in probs.items()}
if oracle:
    curves["true risk (oracle)"] = (test.y, test.true_risk)
plots.roc_figure(curves, title="ROC comparison on the test split")

# %% [markdown]
# **Figure 2.** ROC curves of all models on the test split, and of the true-risk oracle when the data
# have one.

# %% tags=["hide-input"]
plots.pr_figure(curves, title="Precision-recall comparison on the test split")

# %% [markdown]
# **Figure 3.** Precision-recall curves on the test split; the dashed line is the test mortality.

# %% tags=["hide-input"]
plots.metric_comparison_figure({MODEL_NAMES[k]: m for k, m in models.items()}, title="Test metrics by model")

# %% [markdown]
# **Figure 4.** Test metrics of every model at its own validation-chosen threshold (whiskers: 95 %
# bootstrap intervals).

# %% [markdown]
# ## LSTM against the logistic regression, paired
#
# Both models are scored on the same bootstrap resamples of the test episodes, so the interval is for the
# *difference*; the public replication reported only the two point estimates.

# %%
t = time.perf_counter()
paired = paired_bootstrap(test.y, p_lstm, probs["logistic_regression"], n_boot=P.n_bootstrap, seed=P.seed)
timings["paired_bootstrap_seconds"] = time.perf_counter() - t
pd.DataFrame(paired).T[["a", "b", "value", "ci_low", "ci_high", "p_value"]].rename(
    columns={"a": "LSTM", "b": "logistic regression", "value": "difference"}).round(4)

# %%
a = paired["auroc"]
verdict = "excludes" if a["ci_low"] > 0 or a["ci_high"] < 0 else "includes"
display(Markdown(
    f"The LSTM's AUROC minus the regression's is {a['value']:+.3f} (95 % CI {a['ci_low']:+.3f} to "
    f"{a['ci_high']:+.3f}); the interval {verdict} zero."))

# %% tags=["hide-input"]
plots.improvement_figure(models["lstm"], models["logistic_regression"])

# %% [markdown]
# **Figure 5.** Relative change of each test metric, LSTM over the benchmark logistic regression. Threshold
# metrics depend on each model's own threshold, so they trade off against each other.

# %% [markdown]
# ## 5-fold validation by patient
#
# The public replication fitted its calibrator and threshold on the fold it scored. Here the training and
# validation episodes are pooled and split into folds stratified by outcome and grouped by patient. In each
# fold, part of the training folds (again by patient) is held back as an inner validation set: the LSTM's
# preprocessor and weights are fitted on the rest with early stopping on it, and the calibrator and
# threshold are fitted on it; the held-out fold is scored once. The LSTM trains for at most
# `kfold_max_epochs` epochs per fold.

# %%
t = time.perf_counter()
pool = EpisodeSet.concat([train, val])
lstm_cfg = LstmConfig(max_epochs=P.kfold_max_epochs, patience=P.lstm_patience, batch_size=P.batch_size)
kfold = run_kfold(pool, {"lstm": lstm_fitter(lstm_cfg, seed=P.seed, progress=True),
                         "logistic_regression": logistic_fitter()},
                  KFoldConfig(n_splits=P.kfold_splits, seed=P.seed))
timings["kfold_seconds"] = time.perf_counter() - t

# %%
keys = ["auroc", "auprc", "recall", "precision", "f1", "brier", "ece"]
pd.DataFrame({MODEL_NAMES.get(k, "true-risk oracle"): {m: f"{s[m]['mean']:.3f} ± {s[m]['sd']:.3f}"
                                                       for m in keys if m in s}
              for k, s in kfold["summary"].items()}).T.fillna("-")

# %%
ks = kfold["summary"]
display(Markdown(
    f"Across {P.kfold_splits} folds the LSTM's AUROC is {ks['lstm']['auroc']['mean']:.3f} ± "
    f"{ks['lstm']['auroc']['sd']:.3f} (mean ± SD) and the logistic regression's "
    f"{ks['logistic_regression']['auroc']['mean']:.3f} ± {ks['logistic_regression']['auroc']['sd']:.3f}"
    + (f"; the oracle's is {ks['oracle']['auroc']['mean']:.3f}." if "oracle" in ks else " (no known true risk here).")
    + f" The k-fold run took {timings['kfold_seconds']:.0f} s."))

# %% tags=["hide-input"]
plots.kfold_figure(kfold["folds"], title="Per-fold test metrics (5-fold validation by patient)")

# %% [markdown]
# **Figure 6.** Each fold's held-out AUROC, AUPRC and F1 for the LSTM and the logistic regression.

# %% [markdown]
# ## Saving the results
#
# Everything goes to the run's `mortality_metrics.json`; `metrics_summary.json` beside the model is the
# public replication's summary file (deep learning against the regression baseline).

# %%
timings["baseline_comparison_seconds"] = time.perf_counter() - started
update_json(metrics_path, {
    "data": {**summary, "n_variables": len(train.variables), "variables": train.variables,
             "source": "external" if P.icu_external else "synthetic", "has_true_risk": oracle is not None},
    "baselines": {k: {**r.evaluation.metrics, "notes": r.notes, "seconds": r.seconds} for k, r in runs.items()},
    "oracle": oracle,
    "comparison": {"lstm_vs_lr": paired, "table": rows},
    "kfold": kfold,
    "timings": {**previous.get("timings", {}), **timings},
})
write_json(R / "metrics_summary.json", metrics_summary(models["lstm"], models["logistic_regression"],
                                                      {"oracle": oracle, "lstm_vs_lr": paired}))
print(f"wrote {metrics_path.name} and {R.name}/metrics_summary.json; chapter time "
      f"{timings['baseline_comparison_seconds']:.1f} s")

# %% [markdown]
# ## Conclusion

# %%
display(Markdown(
    (f"On this synthetic cohort the true risk caps the test AUROC at {oracle['auroc']:.3f}. " if oracle
     else "This dataset has no known true risk, so no ceiling is shown. ")
    + f"The LSTM reaches "
    f"{models['lstm']['auroc']['value']:.3f}, the benchmark logistic regression "
    f"{models['logistic_regression']['auroc']['value']:.3f}, boosted trees {models['gbt']['auroc']['value']:.3f} "
    f"and the NEWS2-style score {models['news2']['auroc']['value']:.3f}; the paired interval for LSTM minus "
    f"regression {verdict} zero. Chapter 8 turns these numbers into the technical report."))

# %% [markdown]
# ## The stroke study: networks against baselines in three views
#
# Chapter 06 trained the three networks of Teoh (2018) and scored them beside simple baselines and the
# generator's true risk on the same samples, in three views of the test set: the paper's every-prefix
# samples, one prediction per patient a year before the case's stroke, and the ranking within matched case
# sets. Read back from its typed results file (`stroke_metrics.json`), the test AUROC with 95 % intervals
# from a bootstrap over matched case sets:

# %% tags=["remove-input"]
from myst_nb import glue

from ehrlib.stroke.results import StrokeMetrics, best_of, comparison_table

stroke = StrokeMetrics.load(P.results_dir / "stroke_metrics.json")
stroke_rows = []
for view in ("paper", "patient", "matched"):
    for samples in ("diagnosis", "exam"):
        net, net_auc = best_of(stroke, view, "network", samples)
        base, base_auc = best_of(stroke, view, "baseline", samples)
        stroke_rows.append({"view": view, "samples": samples, "best network": net, "network AUROC": net_auc,
                            "best baseline": base, "baseline AUROC": base_auc, "network minus baseline": net_auc - base_auc})
stroke_best = pd.DataFrame(stroke_rows)
for view in ("paper", "patient", "matched"):
    part = stroke_best[stroke_best["view"] == view]
    glue(f"stroke_{view}_wins", int((part["network minus baseline"] > 0).sum()), display=False)
    glue(f"stroke_{view}_gap", float(part["network minus baseline"].max()), display=False)
glue("stroke_paper_auroc", float(stroke.paper_auroc), display=False)
glue("stroke_m3_paper", float(stroke.models["model 3 (dual input)"].views["paper"].value("auroc")), display=False)

# %%
comparison_table(stroke)

# %% [markdown]
# Best network against best baseline on the same samples, per view (AUROC on the test split):

# %%
stroke_best.round(3)

# %% [markdown]
# On the paper's samples model 3 reaches {glue:text}`stroke_m3_paper:.3f` (the paper:
# {glue:text}`stroke_paper_auroc:.3f`). The best network beats the best baseline on
# {glue:text}`stroke_paper_wins` of the two sample types in the paper's view (largest margin
# {glue:text}`stroke_paper_gap:+.3f`), on {glue:text}`stroke_patient_wins` in the patient view (largest
# margin {glue:text}`stroke_patient_gap:+.3f`) and on {glue:text}`stroke_matched_wins` within matched sets
# (largest margin {glue:text}`stroke_matched_gap:+.3f`); a negative margin means a baseline did better. The
# intervals in the first table show how much of any margin the test set can resolve.
