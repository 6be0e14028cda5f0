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
# Is the LSTM worth it? This chapter fits what a user would pick instead (the MIMIC-III benchmark's {cite:p}`harutyunyan2019`
# logistic regression on sub-window statistics, gradient-boosted trees on the same statistics, a
# NEWS2-style early-warning score {cite:p}`rcp2017news2`, and a regression that sees only *how often* each variable was
# charted), puts each model's test {term}`AUROC` beside the best achievable one (the generator's true risk),
# compares the LSTM with the logistic regression on paired resamples of patients, retrains the LSTM with
# several seeds, repeats the comparison in a k-fold validation by patient, and asks what the models are
# worth for decisions (decision curves, {cite:t}`vickers2006`), how they grow with data (learning curves), how they do in
# subgroups, and how much of their skill is the care process rather than the physiology. Almost all of
# the time goes to the model trainings of the seeds, the learning curve, the ablation and the k-fold
# validation. This run took {glue:text}`ch7_minutes`.

# %% tags=["parameters"]
profile = "quick"

# %% tags=["remove-input"]
from ehrlib import plots
from ehrlib.booktext import Stopwatch, duration, glue_values, timed
from ehrlib.icu.reader import read_dataset
from ehrlib.mortality import comparison as cmp
from ehrlib.mortality import plots as mplots
from ehrlib.mortality.assemble import comparison, data_summary
from ehrlib.mortality.report import subgroup_sentence
from ehrlib.plots import show_figure
from ehrlib.profiles import get_profile

plots.setup_notebook()
P = get_profile(profile)
cfg = cmp.ComparisonConfig.from_profile(P)
timings: dict[str, float] = {}
clock = Stopwatch()

# %% [markdown]
# ## The data
#
# The same patient-level split as chapter 3: models are fitted on train, calibrated and thresholded on
# validation, and scored once on test.

# %% tags=["remove-input"]
with timed(timings, "load_seconds"):
    data = read_dataset(P.icu_dir, progress=False)
summary = data_summary(data, P.icu_external)
glue_values(cmp.data_facts(data), "ch7_")
cmp.split_table(summary)

# %% [markdown]
# {glue:text}`ch7_n_train` training, {glue:text}`ch7_n_val` validation and {glue:text}`ch7_n_test` test
# episodes with {glue:text}`ch7_n_vars` variables over {glue:text}`ch7_n_hours` hours.
#
# ## Fitting the baselines
#
# - **Logistic regression** (the MIMIC-III benchmark's): min, max, mean, std, skew and count of every
#   variable over 7 sub-windows (the full 48 h, the first and last 10, 25 and 50 %), mean-imputed and
#   standardised with training statistics, L2 penalty with C = 0.001.
# - **Gradient-boosted trees** (scikit-learn's histogram boosting) on the same statistics, missing values
#   left to the trees. scikit-learn cannot save this model as JSON and the project never pickles, so it is
#   not saved: it is retrained from its seed on every run.
# - **Missingness only**: the same regression on the number of observations of each variable in the last
#   48, 24 and 12 hours, and no measured value at all.
# - **NEWS2-style score** from respiration rate, SpO2, systolic pressure, pulse and temperature, each
#   carried forward hour by hour and scored with the NEWS2 bands; consciousness is scored from the Glasgow
#   coma scale and supplemental oxygen from the fraction of inspired oxygen when the data chart them. The
#   episode's score is its worst hourly total over a final window (12, 24 or 48 h) chosen on validation.
#
# Every model, the LSTM included, then goes through the same protocol: a calibrator (Platt or isotonic)
# chosen and fitted on validation, the F1-optimal threshold chosen there, AUROC on raw test scores, and
# intervals from resampling test subjects.

# %% tags=["remove-input"]
runs = cmp.fit_baselines(data, cfg, P.results_dir / "mortality")
timings.update({f"{k}_seconds": r.seconds for k, r in runs.items()})
glue_values(cmp.baseline_facts(runs), "ch7_")

# %% [markdown]
# The NEWS2-style score uses the worst hour of the last {glue:text}`ch7_news_window` h (validation AUROC
# {glue:text}`ch7_news_windows`); {glue:text}`ch7_news_items`. The boosted trees stopped after
# {glue:text}`ch7_gbt_iter` iterations.
#
# ## The LSTM from chapters 3 and 4
#
# Its raw validation and test predictions are read back from chapter 3's `predictions.csv` and matched to
# the episodes by stay. The protocol is refitted on the validation predictions; it is deterministic, and
# the threshold is checked against the one chapter 4 saved (a mismatch stops the chapter).

# %% tags=["remove-input"]
ms = cmp.with_lstm(P.results_dir, data, runs, seed=cfg.seed)

# %% [markdown]
# (ch07-models)=
# ## Every model beside the best achievable
#
# The labels are random draws from the generator's true risk, so no model can expect to rank the test
# episodes better than that risk does. The last column shows each model's AUROC minus the true risk's,
# paired on the same subject resamples (on data without a known true risk, such as the real MIMIC-III
# benchmark, that column is left out). The
# {term}`AUPRC`, the threshold metrics, the Brier score, the {term}`ECE` and the {term}`ICI` follow chapter 4.

# %% tags=["remove-input"]
gaps = cmp.oracle_gaps(data["test"], ms, cfg)
glue_values(cmp.ceiling_facts(ms, len(data["test"])), "ch7_")
cmp.overview_table(ms, gaps)

# %% [markdown]
# {glue:text}`ch7_ceiling` The NEWS2-style score, the only one not learnt from the data, reaches
# {glue:text}`ch7_news_auroc`, and the regression on observation counts alone {glue:text}`ch7_miss_auroc`.
# {numref}`fig-07-1` shows the ROC curves.

# %% tags=["hide-input"]
show_figure("fig-07-1", mplots.roc_comparison_figure(data["test"], ms.raw))

# %% [markdown]
# ```{glue:figure} fig-07-1
# :name: fig-07-1
#
# ROC curves of all models' raw test scores, and of the true-risk oracle when the data have
# one.
# ```
#
# {numref}`fig-07-2` shows the same scores as precision-recall curves.

# %% tags=["hide-input"]
show_figure("fig-07-2", mplots.pr_comparison_figure(data["test"], ms.raw))

# %% [markdown]
# ```{glue:figure} fig-07-2
# :name: fig-07-2
#
# Precision-recall curves on the test split; the no-skill line is the test mortality.
# ```
#
# {numref}`fig-07-3` compares every metric at each model's own threshold.

# %% tags=["hide-input"]
show_figure("fig-07-3", mplots.metrics_by_model_figure(ms.models))

# %% [markdown]
# ```{glue:figure} fig-07-3
# :name: fig-07-3
#
# Test metrics of every model at its own validation-chosen threshold (whiskers: 95 %
# subject-bootstrap intervals).
# ```
#
# (ch07-best)=
# ## The best baseline, chosen on validation
#
# Which baseline should the LSTM beat? Picking the best of five on the test set would reward the noise of
# that one split, so the choice is made on validation: the baseline whose raw validation scores rank best.
# It is then paired with the LSTM on test, on the same resamples of subjects.

# %% tags=["remove-input"]
best = cmp.choose_best_baseline(data, ms, cfg)
glue_values(cmp.best_facts(best, ms), "ch7_")
cmp.validation_table(best)

# %% [markdown]
# The best baseline on validation is the {glue:text}`ch7_best` (validation AUROC
# {glue:text}`ch7_best_val:.3f`); on test it reaches {glue:text}`ch7_best_test`. The LSTM's test AUROC
# minus its is {glue:text}`ch7_best_diff`: {glue:text}`ch7_best_verdict`.
#
# (ch07-paired)=
# ## LSTM against the logistic regression, paired
#
# Both models' raw scores are evaluated on the same bootstrap resamples of the test *subjects*, so the
# interval is for the *difference* (a {term}`paired bootstrap difference <Paired bootstrap difference>`);
# the public replication reported only the two point estimates.

# %% tags=["remove-input"]
with timed(timings, "paired_bootstrap_seconds"):
    paired = comparison(data["test"], ms.raw["lstm"],
                        ms.raw["logistic_regression"], cfg.n_boot, cfg.seed)
glue_values(cmp.paired_facts(paired), "ch7_")
cmp.paired_table(paired)

# %% [markdown]
# The LSTM's AUROC minus the regression's is {glue:text}`ch7_diff`: {glue:text}`ch7_verdict`. The table
# below and {numref}`fig-07-4` set every test metric of the two side by side.

# %% tags=["remove-input"]
cmp.improvement_table(ms.models)

# %% tags=["hide-input"]
show_figure("fig-07-4", mplots.lstm_improvement_figure(ms.models))

# %% [markdown]
# ```{glue:figure} fig-07-4
# :name: fig-07-4
#
# Improvement of each test metric, LSTM over the benchmark logistic regression, signed so
# that positive is better (for Brier and ECE, lower values are better). Threshold metrics depend on each
# model's own threshold, so they trade off against each other.
# ```
#
# (ch07-seeds)=
# ## Seeds
#
# One training run is one draw: initial weights, dropout masks and batch order all depend on the seed.
# The LSTM is retrained with the profile's number of seeds (the first is chapter 3's model), on the same
# data and configuration, and each run's raw test AUROC is paired with the regression's.

# %% tags=["remove-input"]
with timed(timings, "seeds_seconds"):
    seeds = cmp.run_seeds(data, ms, cfg)
glue_values(cmp.seed_facts(seeds), "ch7_")
cmp.seed_table(seeds)

# %% [markdown]
# Over {glue:text}`ch7_n_seeds` seeds the LSTM's raw test AUROC is {glue:text}`ch7_seed_auroc` (mean ±
# SD, then the range). Its difference from the regression is {glue:text}`ch7_seed_diff`;
# {glue:text}`ch7_seed_verdict`. See {numref}`fig-07-5`.

# %% tags=["hide-input"]
lr_auroc = ms.models["logistic_regression"].auroc.value
show_figure("fig-07-5", mplots.seed_figure(seeds, lr_auroc))

# %% [markdown]
# ```{glue:figure} fig-07-5
# :name: fig-07-5
#
# The LSTM's raw test AUROC for each seed, against the (seed-free) logistic regression.
# ```
#
# (ch07-decision)=
# ## Decision curves
#
# A model is worth using only if acting on it beats the simple policies. At a threshold probability
# $t$ (the risk at which one would act), the {term}`net benefit <Net benefit>` of acting on the patients with $p \ge t$ is
# $\mathrm{TP}/n - \mathrm{FP}/n \cdot t/(1-t)$; acting on everyone gives the prevalence minus the same
# penalty on all survivors, acting on no one gives 0. The range covers the LSTM's F1-optimal and 90 %
# sensitivity thresholds.

# %% tags=["remove-input"]
decision = cmp.decision_section(data["test"], ms, cfg)
glue_values(cmp.decision_facts(decision), "ch7_")
cmp.decision_table(decision)

# %% [markdown]
# The table reads the curves at the grid point nearest each threshold. At the F1-optimal threshold itself
# ({glue:text}`ch7_t_f1:.3f`) the LSTM's net benefit is {glue:text}`ch7_nb_lstm` per patient, treating
# everyone's {glue:text}`ch7_nb_all`, and the difference {glue:text}`ch7_nb_diff` (intervals from the same
# subject resamples as above): {glue:text}`ch7_nb_verdict`. See {numref}`fig-07-6`.

# %% tags=["hide-input"]
show_figure("fig-07-6", mplots.decision_figure(decision))

# %% [markdown]
# ```{glue:figure} fig-07-6
# :name: fig-07-6
#
# Net benefit against threshold probability for every model, treat-all and treat-none (each
# series its own colour and dash); dotted vertical lines mark the LSTM's two validation-chosen thresholds.
# ```
#
# (ch07-learning)=
# ## Learning curves
#
# Where does each model stop gaining from more data? The LSTM, the regression and the boosted trees are
# refitted on nested subsets of whole training subjects (validation and test fixed); the last point is the
# whole training split. See {numref}`fig-07-7`.

# %% tags=["remove-input"]
with timed(timings, "learning_curve_seconds"):
    learning = cmp.run_learning_curve(data, ms, cfg)
glue_values(cmp.learning_facts(learning), "ch7_")
cmp.learning_table(learning)

# %% tags=["hide-input"]
show_figure("fig-07-7", mplots.learning_figure(learning))

# %% [markdown]
# ```{glue:figure} fig-07-7
# :name: fig-07-7
#
# Raw test AUROC against the number of training episodes (log scale), with 95 %
# subject-bootstrap intervals.
# ```
#
# From {glue:text}`ch7_lc_last` to all {glue:text}`ch7_lc_all` training episodes the test AUROC changes
# by: {glue:text}`ch7_lc_gain`. {glue:text}`ch7_lc_verdict` (the intervals are those of
# {numref}`fig-07-7`).
#
# (ch07-subgroups)=
# ## Subgroups
#
# AUROC of the raw scores and {term}`calibration-in-the-large <Calibration-in-the-large>` of the calibrated
# probabilities (mean predicted risk minus observed mortality) by age band, sex and admission type, for the
# LSTM and the regression. The synthetic data keep these attributes in the generator's `latent.csv`
# (never a feature); the real benchmark's files lack them.

# %% tags=["remove-input"]
subgroups = cmp.subgroup_section(P.icu_dir, data["test"], ms, cfg)
glue_values({"subgroups": subgroup_sentence(subgroups)}, "ch7_")
cmp.subgroup_table(subgroups)

# %% [markdown]
# {glue:text}`ch7_subgroups`
#
# (ch07-ablation)=
# ## The care process or the physiology?
#
# The missingness-only regression above sees when and how often each variable was charted, and nothing
# else. In the generator, charting depends on the patient's state (missing at random, MAR) and on the
# value that would have been measured (missing not at random, MNAR). Switching these mechanisms off in
# otherwise identical small datasets shows how much each model's skill rides on them: every model (the LSTM,
# the regression, the boosted trees and the missingness-only regression) is refitted on each dataset.

# %% tags=["remove-input"]
with timed(timings, "ablation_seconds"):
    ablation = cmp.run_ablation(cfg)
glue_values(cmp.ablation_facts(ablation, paired, len(data["train"])), "ch7_")
cmp.ablation_table(ablation)

# %% [markdown]
# On datasets of {glue:text}`ch7_abl_n` episodes: {glue:text}`ch7_ablation` {glue:text}`ch7_abl_pair`
#
# (ch07-kfold)=
# ## K-fold validation by patient
#
# The public replication fitted its calibrator and threshold on the fold it scored. Here the training and
# validation episodes are pooled and split into folds stratified by outcome and grouped by patient. In each
# fold, part of the training folds (again by patient) is held back as an inner validation set: the LSTM's
# preprocessor and weights are fitted on the rest with early stopping on it, and the calibrator and
# threshold are chosen on it by the same protocol as above; the held-out fold is scored once. The LSTM
# trains for at most {glue:text}`ch7_k_epochs` epochs per fold.

# %% tags=["remove-input"]
with timed(timings, "kfold_seconds"):
    kfold = cmp.run_patient_kfold(data, cfg)
glue_values(cmp.kfold_facts(kfold, cfg), "ch7_")
cmp.kfold_table(kfold)

# %% [markdown]
# Across {glue:text}`ch7_k` folds the LSTM's AUROC is {glue:text}`ch7_k_lstm` (mean ± SD) and the
# logistic regression's {glue:text}`ch7_k_lr`{glue:text}`ch7_k_oracle`. Per fold, the LSTM minus the
# regression is {glue:text}`ch7_k_diffs`: {glue:text}`ch7_k_pos`. The k-fold run took
# {glue:text}`ch7_k_seconds` s. See {numref}`fig-07-8`.

# %% tags=["hide-input"]
show_figure("fig-07-8", mplots.kfold_folds_figure(kfold))

# %% [markdown]
# ```{glue:figure} fig-07-8
# :name: fig-07-8
#
# Each fold's held-out AUROC, AUPRC and F1 for the LSTM and the logistic regression.
# ```
#
# ## Saving the results
#
# Everything goes into the run's typed results file; `metrics_summary.json` beside the model is the
# public replication's summary file (deep learning against the regression baseline, with the improvement
# signed so that positive is better).

# %% tags=["remove-input"]
timings["baseline_comparison_seconds"] = clock.elapsed
cmp.save_chapter(P.results_dir, runs, ms, timings, data=summary,
                 comparison=paired, seeds=seeds, kfold=kfold,
                 decision_curve=decision, learning_curve=learning,
                 subgroups=subgroups, ablation=ablation, best_baseline=best,
                 oracle_gaps=gaps)
glue_values({"minutes": duration(clock.elapsed)}, "ch7_")

# %% [markdown]
# ## Conclusion
#
# {glue:text}`ch7_ceiling` Against the best baseline chosen on validation, the {glue:text}`ch7_best`,
# chapter 3's LSTM differs by {glue:text}`ch7_best_diff`: {glue:text}`ch7_best_verdict`. Over
# {glue:text}`ch7_n_seeds` seeds the LSTM's raw test AUROC is {glue:text}`ch7_seed_auroc` and its paired
# difference from the benchmark regression {glue:text}`ch7_seed_diff`; {glue:text}`ch7_seed_verdict`. Across
# the patient folds the difference is {glue:text}`ch7_k_pos`. At the F1-optimal threshold,
# {glue:text}`ch7_nb_verdict`. Chapter 8 turns these numbers into the technical report, and chapter 9
# repeats this comparison on real ICU stays.
