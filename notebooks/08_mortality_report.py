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
# read): every number below is read from it, and the only figures typed in by hand are the published results quoted for comparison, with
# their sources. This run took {glue:text}`ch8_minutes`.

# %% tags=["parameters"]
profile = "quick"

# %% tags=["remove-input"]
from IPython.display import Markdown

from ehrlib import plots
from ehrlib.booktext import Stopwatch, duration, glue_values
from ehrlib.mortality.facts import report_facts
from ehrlib.plots import show_figure
from ehrlib.mortality.report import PUBLISHED_ANCHORS, render_report
from ehrlib.mortality.results import load_results
from ehrlib.mortality.tripod import tripod_checklist
from ehrlib.profiles import get_profile

plots.setup_notebook()
clock = Stopwatch()
P = get_profile(profile)
results = load_results(P.results_dir)
Markdown(render_report(results, PUBLISHED_ANCHORS, level=2))

# %% [markdown]
# ## TRIPOD+AI checklist
#
# The TRIPOD+AI statement {cite:p}`collins2024` lists what a report of a clinical prediction model
# must state. The table is generated from the same results: each item, where the book answers it, and
# what this run reports.

# %% tags=["remove-input"]
Markdown(tripod_checklist(results))

# %% [markdown]
# ## Appendix: training history
#
# The LSTM's per-epoch training history from chapter 3 (in the results file): focal loss, AUROC and AUPRC
# on the training and validation splits, and the gap between them. See {numref}`fig-08-1`.

# %% tags=["hide-input"]
show_figure("fig-08-1", plots.learning_curves_figure(
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

# %% [markdown]
# Training ran {glue:text}`ch8_epochs` epochs; at the last one the training AUROC is
# {glue:text}`ch8_train_auroc:.3f` and the validation AUROC {glue:text}`ch8_val_auroc:.3f` (gap
# {glue:text}`ch8_gap`). Training metrics are computed with dropout active, so a negative gap is expected
# early on.
#
# ## Conclusion
#
# On raw test scores, {glue:text}`ch8_seeds`AUROC {glue:text}`ch8_auroc`{glue:text}`ch8_others`. The report above,
# the checklist, the results file and the saved artifacts all come from the same run.
