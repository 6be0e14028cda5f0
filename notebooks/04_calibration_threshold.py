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
# # Calibration and the decision threshold
#
# A network trained with focal loss ranks patients but its outputs are not probabilities: focal loss
# down-weights easy cases and alpha re-weights the classes, so the scores are systematically off. This
# chapter takes the LSTM's raw predictions from chapter 3, fits an isotonic calibrator on the
# **validation** split, chooses the decision threshold that maximises F1 on validation (and a 90 %
# sensitivity operating point), and only then scores the test split, once. Runs in a few seconds at
# full scale (no training here).

# %% tags=["parameters"]
profile = "quick"

# %%
import time

import numpy as np
import pandas as pd
from IPython.display import Markdown, display

from ehrlib import plots
from ehrlib.evaluation.calibration import calibrate_and_evaluate, reliability_bins
from ehrlib.io import read_json, update_json
from ehrlib.evaluation.metrics import ranking_metrics
from ehrlib.mortality.lstm import update_artifacts
from ehrlib.profiles import get_profile
from ehrlib.mortality.report import no_ceiling_sentence

plots.setup_notebook()
P = get_profile(profile)
R = P.results_dir / "mortality"
started = time.perf_counter()

# %% [markdown]
# ## The raw predictions
#
# Chapter 3 saved the LSTM's uncalibrated outputs for the validation and test episodes, with each
# episode's label and the generator's true risk (used here only to measure the best achievable score).

# %%
pred = pd.read_csv(R / "predictions.csv")
val, test = pred[pred["split"] == "val"], pred[pred["split"] == "test"]
pred.groupby("split").agg(episodes=("y_true", "size"), deaths=("y_true", "sum"),
                          mortality=("y_true", "mean"), mean_raw_p=("p_raw", "mean")).round(3)

# %%
display(Markdown(
    f"The validation split has {len(val):,} episodes ({val.y_true.mean():.1%} died) and the test split "
    f"{len(test):,} ({test.y_true.mean():.1%}). The mean raw prediction on validation is "
    f"{val.p_raw.mean():.3f} against an observed mortality of {val.y_true.mean():.3f}."))

# %% [markdown]
# ## Calibrating on validation, scoring on test
#
# `calibrate_and_evaluate` fits the isotonic regression on the validation scores, picks the thresholds on
# the calibrated validation probabilities, and then applies both, unchanged, to the test scores. The test
# metrics carry 95 % bootstrap intervals (`n_bootstrap` resamples of the test episodes).

# %%
res = calibrate_and_evaluate(val.p_raw.to_numpy(), val.y_true.to_numpy(), test.p_raw.to_numpy(),
                             test.y_true.to_numpy(), n_boot=P.n_bootstrap, seed=P.seed, sensitivity=0.9)
m = res.metrics
res.calibrator.save(R / "calibrator.json")
res.choice.save(R / "threshold.json")
update_artifacts(R, calibrator=res.calibrator, threshold=res.choice)  # with the model: one checked bundle
p_cal = res.p_test
y_test = test.y_true.to_numpy()
pd.DataFrame({"raw": m["raw"], "calibrated": m["calibration"]}).loc[
    ["brier", "ece", "slope", "intercept"]].round(4)

# %%
display(Markdown(
    f"On test, isotonic calibration moves the Brier score from {m['raw']['brier']:.4f} to "
    f"{m['calibration']['brier']:.4f} and the expected calibration error from {m['raw']['ece']:.4f} to "
    f"{m['calibration']['ece']:.4f}. The calibration slope goes from {m['raw']['slope']:.2f} to "
    f"{m['calibration']['slope']:.2f} (1 is ideal) and the intercept from {m['raw']['intercept']:.2f} to "
    f"{m['calibration']['intercept']:.2f} (0 is ideal)."))

# %% tags=["hide-input"]
plots.calibration_figure(y_test, {"raw LSTM output": test.p_raw.to_numpy(), "isotonic (fitted on validation)": p_cal},
                         title="Reliability diagram on the test split")

# %% [markdown]
# **Figure 1.** Reliability diagram on the test split: mean predicted probability against the observed
# fraction of deaths in 10 equal-width bins (marker size grows with the bin's count). Points on the
# diagonal are perfectly calibrated.

# %%
bins = reliability_bins(y_test, test.p_raw.to_numpy())
worst = int(np.argmax(np.abs(bins["mean_predicted"] - bins["fraction_positive"])))
display(Markdown(
    f"The raw outputs are furthest from the diagonal in the bin starting at {bins['bin_left'][worst]:.1f}: "
    f"mean prediction {bins['mean_predicted'][worst]:.3f} against {bins['fraction_positive'][worst]:.3f} "
    f"observed ({bins['count'][worst]} episodes)."))

# %% [markdown]
# ## The decision threshold
#
# The threshold maximises F1 on the calibrated **validation** probabilities; the test set plays no part in
# choosing it. A clinician may prefer to miss fewer deaths at the price of more alarms, so we also fix the
# highest threshold that reaches 90 % sensitivity on validation.

# %%
tc = res.choice
op = m["sensitivity_operating_point"]
display(Markdown(
    f"The F1-optimal threshold is **{tc.threshold:.3f}** (validation F1 {tc.validation_f1:.3f}); the 90 % "
    f"sensitivity threshold is {tc.sensitivity_threshold:.3f}. On test, the first gives recall "
    f"{m['recall']:.3f} and precision {m['precision']:.3f}; the second recall {op['recall']:.3f}, "
    f"precision {op['precision']:.3f} and specificity {op['specificity']:.3f}."))

# %% tags=["hide-input"]
plots.threshold_metrics_figure(val.y_true.to_numpy(), res.calibrator.transform(val.p_raw.to_numpy()),
                               {"max F1": tc.threshold, "90 % sensitivity": tc.sensitivity_threshold},
                               title="Metrics against the threshold (calibrated validation probabilities)")

# %% [markdown]
# **Figure 2.** Recall, precision, specificity, F1 and accuracy on the validation split as the threshold
# moves; dotted lines mark the two thresholds chosen there. Isotonic calibration makes the probabilities a
# step function, so the curves move in steps.

# %% tags=["hide-input"]
plots.probability_distribution_figure(y_test, p_cal, tc.threshold,
                                      title="Calibrated test probabilities by outcome")

# %% [markdown]
# **Figure 3.** Distribution of the calibrated test probabilities for survivors and deaths (each
# normalised to its class), with the F1-optimal threshold.

# %% [markdown]
# ## Test metrics
#
# Everything below is computed once on the test split with the calibrator and threshold fixed above.

# %%
rows = {k: m[k] for k in ("recall", "precision", "specificity", "f1", "accuracy", "brier", "ece")}
table = pd.DataFrame({"value": {"AUROC": m["auroc"]["value"], "AUPRC": m["auprc"]["value"], **rows}})
table["95 % CI"] = ""
for key, name in (("auroc", "AUROC"), ("auprc", "AUPRC")):
    table.loc[name, "95 % CI"] = f"{m[key]['ci_low']:.3f}-{m[key]['ci_high']:.3f}"
table.round(4)

# %% tags=["hide-input"]
plots.summary_metrics_figure(m, title="LSTM test metrics (calibrated, threshold from validation)")

# %% [markdown]
# **Figure 4.** The LSTM's test metrics; whiskers on AUROC and AUPRC are 95 % bootstrap intervals.

# %% tags=["hide-input"]
plots.confusion_matrix_figure(m["confusion_matrix"], title=f"Test confusion matrix at threshold {tc.threshold:.3f}")

# %% [markdown]
# **Figure 5.** Confusion matrix on the test split at the F1-optimal threshold; percentages are of each
# actual outcome (row).

# %% [markdown]
# ## How far from the best achievable?
#
# The generator knows each episode's true risk. Ranking the test episodes by it gives the highest AUROC
# any model could expect on this test set, since the labels are random draws from that risk. (Real data
# have no known true risk; then no ceiling is shown.)

# %%
has_risk = bool(test.true_risk.notna().all())
oracle = ranking_metrics(y_test, test.true_risk.to_numpy()) if has_risk else None
lstm_text = (f"the calibrated LSTM reaches {m['auroc']['value']:.3f} (95 % CI {m['auroc']['ci_low']:.3f}-"
             f"{m['auroc']['ci_high']:.3f}) and {m['auprc']['value']:.3f}.")
display(Markdown(
    f"The true risk reaches AUROC {oracle['auroc']:.3f} and AUPRC {oracle['auprc']:.3f} on test; {lstm_text}"
    if oracle else f"{no_ceiling_sentence(len(test))} On test, {lstm_text}"))

# %% tags=["hide-input"]
curves = {"LSTM (calibrated)": (y_test, p_cal)}
if oracle:
    curves["true risk (oracle)"] = (y_test, test.true_risk.to_numpy())
plots.roc_figure(curves, title="ROC curve on the test split")

# %% [markdown]
# **Figure 6.** ROC curve of the calibrated LSTM on the test split, beside the oracle that ranks by the
# generator's true risk when the data have one.

# %% tags=["hide-input"]
plots.pr_figure(curves, title="Precision-recall curve on the test split")

# %% [markdown]
# **Figure 7.** Precision-recall curve on the test split; the dashed line is the test mortality (a
# classifier without skill).

# %% [markdown]
# ## Saving the results
#
# The calibrator (`calibrator.json`, the isotonic step function) and the thresholds (`threshold.json`)
# were written beside the model; the metrics go to the run's `mortality_metrics.json`.

# %%
elapsed = time.perf_counter() - started
metrics_path = P.results_dir / "mortality_metrics.json"
current = read_json(metrics_path) if metrics_path.exists() else {}
timings = {**current.get("timings", {}), "calibration_threshold_seconds": elapsed}
update_json(metrics_path, {"lstm": m, "oracle": oracle, "timings": timings})
print(f"wrote {metrics_path.name}, {R.name}/calibrator.json and {R.name}/threshold.json ({elapsed:.1f} s)")

# %% [markdown]
# ## Conclusion

# %%
display(Markdown(
    f"Isotonic calibration fitted on validation brings the test ECE from {m['raw']['ece']:.3f} to "
    f"{m['calibration']['ece']:.3f}. At the validation-chosen threshold {tc.threshold:.3f} the LSTM "
    f"catches {m['recall']:.1%} of test deaths with precision {m['precision']:.1%}; its test AUROC "
    f"{m['auroc']['value']:.3f} "
    + (f"compares with {oracle['auroc']:.3f} for the true risk. " if oracle else "has no known ceiling on this data. ")
    + "Chapter 7 puts these numbers beside the baselines."))
