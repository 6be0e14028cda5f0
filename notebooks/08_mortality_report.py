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
# that chapters 3, 4 and 7 wrote in this very build (`mortality_metrics.json`): every number below is read
# from it, and the only figures typed in by hand are the published results quoted for comparison, with
# their sources. It takes a few seconds at any scale.

# %% tags=["parameters"]
profile = "quick"

# %% tags=["remove-input"]
from IPython.display import Markdown, display

from ehrlib import plots
from ehrlib.io import read_json
from ehrlib.profiles import get_profile
from ehrlib.mortality.report import PUBLISHED_ANCHORS, render_report

plots.setup_notebook()
P = get_profile(profile)
metrics = read_json(P.results_dir / "mortality_metrics.json")
display(Markdown(render_report(metrics, PUBLISHED_ANCHORS, level=2)))

# %% [markdown]
# ## Appendix: learning curves
#
# The LSTM's per-epoch training history from chapter 3 (`history.json`): focal loss, AUROC and AUPRC on the
# training and validation splits, and the gap between them.

# %% tags=["hide-input"]
history = read_json(P.results_dir / "mortality" / "history.json")
best_epoch = metrics.get("lstm_training", {}).get("best_epoch")
plots.learning_curves_figure(history, best_epoch=best_epoch, title="LSTM learning curves")

# %% [markdown]
# **Figure 1.** Learning curves of the LSTM: training against validation loss, AUROC and AUPRC per epoch,
# and the training-minus-validation gap; the dotted line marks the epoch whose weights were kept.

# %%
gap = history["auroc"][-1] - history["val_auroc"][-1]
display(Markdown(
    f"Training ran {len(history['loss'])} epochs; at the last one the training AUROC is "
    f"{history['auroc'][-1]:.3f} and the validation AUROC {history['val_auroc'][-1]:.3f} (gap {gap:+.3f}). "
    "Training metrics are computed with dropout active, so a negative gap is expected early on."))

# %% [markdown]
# ## Conclusion

# %%
lstm, oracle = metrics["lstm"], metrics.get("oracle")
lr = metrics.get("baselines", {}).get("logistic_regression")
display(Markdown(
    f"The calibrated LSTM reaches test AUROC {lstm['auroc']['value']:.3f}"
    + (f" against {oracle['auroc']:.3f} for the generator's true risk" if oracle else "")
    + (f" and {lr['auroc']['value']:.3f} for the benchmark logistic regression" if lr else "")
    + ("" if oracle else ". This dataset has no known true risk, so no ceiling is shown")
    + ". The report above, the metrics file and the saved artifacts all come from the same run."))
