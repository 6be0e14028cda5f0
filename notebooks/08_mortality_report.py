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
# # Technical report: in-hospital mortality
#
# The public replication generated a technical report from its results files, but its README and its
# results disagreed and its k-fold file was written by hand. This page is generated from the metrics file
# that chapters 3, 4 and 7 wrote in this very build (the typed `mortality_metrics.json`, validated when
# read): every number below is read from it, and the only figures typed in by hand are the published
# results quoted for comparison, with their sources. It reports; the analyses behind it, with their
# figures and tables, are in chapter 7, to which each section links. This run took
# {glue:text}`ch8_minutes`.

# %% tags=["parameters"]
profile = "quick"

# %% tags=["remove-input"]
from IPython.display import Markdown

from ehrlib import plots
from ehrlib.booktext import Stopwatch, duration, glue_values
from ehrlib.mortality import report
from ehrlib.mortality.comparison import ComparisonConfig, robustness_facts
from ehrlib.mortality.facts import report_facts
from ehrlib.mortality.results import load_results
from ehrlib.mortality.tripod import tripod_checklist
from ehrlib.profiles import get_profile

plots.setup_notebook()
clock, P = Stopwatch(), get_profile(profile)
results = load_results(P.results_dir)
glue_values(robustness_facts(results, ComparisonConfig.from_profile(P)), "ch8_")

# %% [markdown]
# ## The model
#
# The source document's LSTM with focal loss, trained in chapter 3.

# %% tags=["remove-input"]
Markdown(report.section("model", results))

# %% [markdown]
# ## The data

# %% tags=["remove-input"]
Markdown(report.section("data", results))

# %% [markdown]
# ## Test metrics
#
# The test split scored once, with the calibrator and threshold of chapter 4.

# %% tags=["remove-input"]
Markdown(report.section("metrics", results))

# %% [markdown]
# ## Calibration

# %% tags=["remove-input"]
Markdown(report.section("calibration", results))

# %% [markdown]
# ## Decision threshold

# %% tags=["remove-input"]
Markdown(report.section("threshold", results))

# %% [markdown]
# ## Against the baselines
#
# Every model of chapter 7 beside the LSTM; the gap of each to the true risk and the figures are in
# {ref}`ch07-models`, the choice of the best baseline on validation in {ref}`ch07-best`, and the paired
# comparison with the regression in {ref}`ch07-paired`.

# %% tags=["remove-input"]
Markdown(report.section("baselines", results))

# %% [markdown]
# ## How robust the comparison is
#
# Each paragraph sums up one of chapter 7's checks and links to it.
#
# **Seeds** ({ref}`ch07-seeds`). Over {glue:text}`ch8_n_seeds` seeds the LSTM's raw test AUROC is
# {glue:text}`ch8_seed_auroc`, and its difference from the regression {glue:text}`ch8_seed_diff`;
# {glue:text}`ch8_seed_verdict`.
#
# **K-fold validation** ({ref}`ch07-kfold`). Across {glue:text}`ch8_k` folds by patient the LSTM's AUROC is
# {glue:text}`ch8_k_lstm` (mean ± SD) and the regression's {glue:text}`ch8_k_lr`{glue:text}`ch8_k_oracle`;
# per fold, the LSTM minus the regression is {glue:text}`ch8_k_diffs`: {glue:text}`ch8_k_pos`.
#
# **Decision curve** ({ref}`ch07-decision`). At the F1-optimal threshold ({glue:text}`ch8_t_f1:.3f`)
# acting on the LSTM has a net benefit of {glue:text}`ch8_nb_lstm` per patient, against
# {glue:text}`ch8_nb_all` for treating everyone: {glue:text}`ch8_nb_verdict`.
#
# **Learning curve** ({ref}`ch07-learning`). From {glue:text}`ch8_lc_last` to all
# {glue:text}`ch8_lc_all` training episodes the test AUROC changes by: {glue:text}`ch8_lc_gain`.
# {glue:text}`ch8_lc_verdict`
#
# **Subgroups** ({ref}`ch07-subgroups`). {glue:text}`ch8_subgroups`
#
# **Missingness mechanisms** ({ref}`ch07-ablation`). {glue:text}`ch8_ablation` {glue:text}`ch8_abl_pair`
#
# ## Comparison with published figures

# %% tags=["remove-input"]
Markdown(report.section("anchors", results))

# %% [markdown]
# ## Limits

# %% tags=["remove-input"]
Markdown(report.section("limits", results))

# %% [markdown]
# ## TRIPOD+AI checklist
#
# The TRIPOD+AI statement {cite:p}`collins2024` lists what a report of a clinical prediction model
# must state. The table is generated from the same results: each item, where the book answers it, and
# what this run reports.

# %% tags=["remove-input"]
Markdown(tripod_checklist(results))

# %% [markdown]
# ## Appendix: training history and run time
#
# The LSTM's per-epoch training history from chapter 3 (in the results file): focal loss, AUROC and AUPRC
# on the training and validation splits, and the gap between them. See {numref}`fig-08-1`.

# %% tags=["hide-input"]
plots.show_figure("fig-08-1", plots.learning_curves_figure(
    results.training.history, best_epoch=results.training.best_epoch,
    title="LSTM learning curves"))

# %% [markdown]
# ```{glue:figure} fig-08-1
# :name: fig-08-1
#
# Learning curves of the LSTM: training against validation loss, AUROC and AUPRC per epoch,
# and the training-minus-validation gap; the dotted line marks the epoch whose weights were kept.
# ```

# %% tags=["remove-input"]
glue_values({**report_facts(results), "minutes": duration(clock.elapsed)}, "ch8_")
Markdown(report.section("timings", results))

# %% [markdown]
# Training ran {glue:text}`ch8_epochs` epochs; at the last one the training AUROC is
# {glue:text}`ch8_train_auroc:.3f` and the validation AUROC {glue:text}`ch8_val_auroc:.3f` (gap
# {glue:text}`ch8_gap`). Training metrics are computed with dropout active, so a negative gap is expected
# early on.
#
# ## Conclusion
#
# On raw test scores, {glue:text}`ch8_seeds`AUROC {glue:text}`ch8_auroc`{glue:text}`ch8_others`. The report
# above, the checklist, the results file and the saved artifacts all come from the same run.
