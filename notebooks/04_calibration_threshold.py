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
# chapter takes the LSTM's raw predictions from chapter 3, chooses and fits a calibrator (Platt scaling or
# isotonic regression, {cite:t}`zadrozny2002`) on the **validation** split, chooses the decision threshold that maximises F1 on
# validation (and a 90 % sensitivity operating point), and only then scores the test split, once.
# Discrimination is measured on the raw scores, calibration on the calibrated probabilities, and every
# interval resamples patients (subjects), not episodes. This run took {glue:text}`ch4_minutes`.

# %% tags=["parameters"]
profile = "quick"

# %% tags=["remove-input"]
import pandas as pd

from ehrlib import plots
from ehrlib.booktext import Stopwatch, duration, glue_values, interval
from ehrlib.evaluation.protocol import evaluate_model, metric_entries
from ehrlib.icu.reader import read_dataset
from ehrlib.mortality import facts
from ehrlib.mortality.assemble import load_predictions, oracle_record, save_calibration
from ehrlib.mortality.results import update_results
from ehrlib.plots import show_figure
from ehrlib.profiles import get_profile

plots.setup_notebook()
P, clock = get_profile(profile), Stopwatch()
R = P.results_dir / "mortality"

# %% [markdown]
# ## The raw predictions
#
# Chapter 3 saved the LSTM's uncalibrated outputs for the validation and test episodes; they are matched
# to the episodes by stay (with a check that the labels agree).

# %% tags=["remove-input"]
data = read_dataset(P.icu_dir, progress=False)
val, test = data["val"], data["test"]
p_val, p_test = load_predictions(R, val, "val"), load_predictions(R, test, "test")
glue_values(facts.prediction_facts(val, test, p_val), "ch4_")
facts.prediction_table({"val": (val, p_val), "test": (test, p_test)})

# %% [markdown]
# The validation split has {glue:text}`ch4_n_val` episodes ({glue:text}`ch4_val_mort` died) and the test
# split {glue:text}`ch4_n_test` ({glue:text}`ch4_test_mort`). The mean raw prediction on validation is
# {glue:text}`ch4_mean_raw:.3f`. In the test split {glue:text}`ch4_multi` of the subjects have more than
# one episode; their episodes are not independent, so every interval below resamples subjects.
#
# ## Choosing and fitting the calibrator on validation
#
# Two calibrators are candidates: **Platt scaling** (a logistic regression of the outcome on the logit of
# the score, two parameters) and **isotonic regression** (a monotone step function). Each is fitted on
# four fifths of the validation split and scored by log loss on the remaining fifth, five times over; the
# one with the lower cross-validated log loss is refitted on the whole validation split. Neither can
# output exactly 0 or 1: Platt's sigmoid never does, and isotonic outputs are kept half an event away
# from the ends. The thresholds are then chosen on the calibrated validation probabilities, and the test
# split is scored once.

# %% tags=["remove-input"]
ev = evaluate_model(p_val, val.y, p_test, test.y, test.subject_ids, n_boot=P.n_bootstrap, seed=P.seed)
m, p_cal = ev.metrics, ev.p_test
save_calibration(R, ev.fitted)
oracle = oracle_record(test, P.n_bootstrap, P.seed)
pd.Series(m.calibrator_cv_log_loss, name="cross-validated log loss on validation").round(4).to_frame()

# %% tags=["remove-input"]
glue_values(facts.calibration_facts(m, oracle), "ch4_")
facts.calibration_table(m)

# %% [markdown]
# The cross-validated log loss on validation is {glue:text}`ch4_loss_best:.4f` for
# {glue:text}`ch4_calibrator` against {glue:text}`ch4_loss_other:.4f` for {glue:text}`ch4_other`, so
# **{glue:text}`ch4_calibrator`** calibrates the test scores. On test, the {term}`expected calibration error <ECE>`
# (10 equal-width bins) goes from {glue:text}`ch4_raw_ece` for the raw outputs to
# {glue:text}`ch4_cal_ece`, the {term}`integrated calibration index <ICI>` (the mean distance between the smoothed
# calibration curve and the diagonal; see {cite:t}`vancalster2019` on these measures) from {glue:text}`ch4_raw_ici` to {glue:text}`ch4_cal_ici`,
# the {term}`calibration slope <Calibration slope>` from {glue:text}`ch4_raw_slope` to {glue:text}`ch4_cal_slope` (1 is
# ideal; the interval {glue:text}`ch4_slope_ideal`) and the intercept from {glue:text}`ch4_raw_int` to
# {glue:text}`ch4_cal_int` (0 is ideal; the interval {glue:text}`ch4_int_ideal`). {glue:text}`ch4_floor` {numref}`fig-04-1` shows the reliability diagram.

# %% tags=["hide-input"]
curves = {"raw LSTM output": p_test,
          f"{m.calibrator} (fitted on validation)": p_cal}
curves.update({} if test.true_risk is None else {"true risk": test.true_risk})
show_figure("fig-04-1", plots.calibration_figure(
    test.y, curves, title="Reliability diagram on the test split"))

# %% [markdown]
# ```{glue:figure} fig-04-1
# :name: fig-04-1
#
# Reliability diagram on the test split: mean predicted probability against the observed
# fraction of deaths in 10 equal-width bins (marker size grows with the bin's count), and the smoothed
# calibration curve of each (dotted; local linear regression of the outcome on the prediction). Points on
# the diagonal are perfectly calibrated; the true risk shows how far chance alone moves them.
# ```

# %% tags=["remove-input"]
glue_values(facts.worst_bin_facts(test.y, p_test), "ch4_")

# %% [markdown]
# The raw outputs are furthest from the diagonal in the bin starting at {glue:text}`ch4_worst_left:.1f`:
# mean prediction {glue:text}`ch4_worst_pred:.3f` against {glue:text}`ch4_worst_obs:.3f` observed
# ({glue:text}`ch4_worst_n` episodes).
#
# ## Discrimination on raw scores
#
# A calibration map is monotone, so it cannot improve the ranking; an isotonic step function can make it
# worse, because it merges distinct scores into ties. Models are therefore compared on the AUROC of their
# raw scores; the calibrated probabilities serve the threshold and the calibration statistics.

# %% tags=["remove-input"]
glue_values(facts.threshold_facts(m, test.y, p_cal), "ch4_")

# %% [markdown]
# On the raw test scores the LSTM's AUROC is {glue:text}`ch4_auroc` and its AUPRC {glue:text}`ch4_auprc`.
# Ranking by the calibrated probabilities instead gives AUROC {glue:text}`ch4_cal_auroc:.4f`: the calibrator
# changes it by {glue:text}`ch4_tie_effect`.
#
# ## The decision threshold
#
# The threshold maximises F1 on the calibrated **validation** probabilities; the test set plays no part in
# choosing it. A clinician may prefer to miss fewer deaths at the price of more alarms, so we also fix the
# highest threshold that reaches 90 % sensitivity on validation.

# %% [markdown]
# The F1-optimal threshold is **{glue:text}`ch4_threshold:.3f`** (validation F1
# {glue:text}`ch4_val_f1:.3f`); the 90 % sensitivity threshold is {glue:text}`ch4_sens_threshold:.3f`. On
# test, the first gives recall {glue:text}`ch4_recall:.3f` and precision {glue:text}`ch4_precision:.3f`;
# the second recall {glue:text}`ch4_op_recall:.3f`, precision {glue:text}`ch4_op_precision:.3f` and
# specificity {glue:text}`ch4_op_specificity:.3f`. See {numref}`fig-04-2`.

# %% tags=["hide-input"]
show_figure("fig-04-2", plots.threshold_metrics_figure(
    val.y, ev.fitted.calibrate(p_val),
    {"max F1": m.threshold, "90 % sensitivity": m.sensitivity_threshold},
    title="Metrics against the threshold (calibrated validation scores)"))

# %% [markdown]
# ```{glue:figure} fig-04-2
# :name: fig-04-2
#
# Recall, precision, specificity, F1 and accuracy on the validation split as the threshold
# moves; dotted lines mark the two thresholds chosen there.
# ```
#
# {numref}`fig-04-3` shows where survivors and deaths fall against the chosen threshold.

# %% tags=["hide-input"]
show_figure("fig-04-3", plots.probability_distribution_figure(
    test.y, p_cal, m.threshold,
    title="Calibrated test probabilities by outcome"))

# %% [markdown]
# ```{glue:figure} fig-04-3
# :name: fig-04-3
#
# Distribution of the calibrated test probabilities for survivors and deaths (each
# normalised to its class), with the F1-optimal threshold.
# ```
#
# ## Test metrics
#
# Everything below is computed once on the test split with the calibrator and threshold fixed above; the
# intervals come from resampling test subjects. See {numref}`fig-04-4`.

# %% tags=["remove-input"]
entries = metric_entries(m)
pd.DataFrame({"metric": [plots.METRIC_LABELS[k] for k in entries],
              "value (95 % interval)": [interval(v, 3) for v in entries.values()]})

# %% tags=["hide-input"]
show_figure("fig-04-4", plots.summary_metrics_figure(
    entries, title="LSTM test metrics (threshold from validation)"))

# %% [markdown]
# ```{glue:figure} fig-04-4
# :name: fig-04-4
#
# The LSTM's test metrics; whiskers are 95 % subject-bootstrap intervals.
# ```
#
# {numref}`fig-04-5` counts the test episodes in each cell at the F1-optimal threshold.

# %% tags=["hide-input"]
show_figure("fig-04-5", plots.confusion_matrix_figure(
    m.confusion_matrix,
    title=f"Test confusion matrix at threshold {m.threshold:.3f}"))

# %% [markdown]
# ```{glue:figure} fig-04-5
# :name: fig-04-5
#
# Confusion matrix on the test split at the F1-optimal threshold; percentages are of each
# actual outcome (row).
# ```
#
# ## How far from the best achievable?
#
# The generator knows each episode's true risk. Ranking the test episodes by it gives the highest AUROC
# any model could expect on this test set, since the labels are random draws from that risk. (Real data
# have no known true risk; then no ceiling is shown.)

# %% tags=["remove-input"]
glue_values(facts.ceiling_facts(m, oracle, len(test)), "ch4_")

# %% [markdown]
# {glue:text}`ch4_ceiling` {numref}`fig-04-6` shows the ROC curve.

# %% tags=["hide-input"]
roc_curves = facts.curves_with_oracle(test, {"LSTM (raw scores)": p_test})
show_figure("fig-04-6", plots.roc_figure(
    roc_curves, title="ROC curve on the test split"))

# %% [markdown]
# ```{glue:figure} fig-04-6
# :name: fig-04-6
#
# ROC curve of the LSTM's raw test scores, beside the oracle that ranks by the generator's
# true risk when the data have one.
# ```
#
# {numref}`fig-04-7` gives the precision-recall view of the same scores, the more informative one when
# deaths are rare {cite:p}`saito2015`.

# %% tags=["hide-input"]
show_figure("fig-04-7", plots.pr_figure(
    roc_curves, title="Precision-recall curve on the test split"))

# %% [markdown]
# ```{glue:figure} fig-04-7
# :name: fig-04-7
#
# Precision-recall curve on the test split; the dashed line is the test mortality (a
# classifier without skill).
# ```
#
# ## Saving the results
#
# The calibrator (`calibrator.json`) and the thresholds (`threshold.json`) are written beside the model;
# the typed test evaluation and the oracle go into the run's results file.

# %% tags=["remove-input"]
elapsed = clock.elapsed
update_results(P.results_dir, lstm=m, oracle=oracle, timings={"calibration_threshold_seconds": elapsed})
glue_values({"elapsed": elapsed, "minutes": duration(elapsed)}, "ch4_")

# %% [markdown]
# ## Conclusion
#
# Chosen on validation, {glue:text}`ch4_calibrator` calibration brings the test ECE from
# {glue:text}`ch4_raw_ece` to {glue:text}`ch4_cal_ece`. At the validation-chosen threshold
# {glue:text}`ch4_threshold:.3f` the LSTM flags {glue:text}`ch4_recall:.3f` of the test deaths (its
# recall), with precision {glue:text}`ch4_precision:.3f`; its raw-score test AUROC is {glue:text}`ch4_auroc`.
# {glue:text}`ch4_ceiling` Chapter 7 puts these numbers beside the baselines. (This chapter's computations
# took {glue:text}`ch4_elapsed:.1f` s.)
