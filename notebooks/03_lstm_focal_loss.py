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
# # An LSTM with focal loss
#
# This chapter trains the source document's model on the synthetic ICU episodes: 48 hourly steps of
# vitals and labs, forward-filled and standardised with statistics of the training split only, fed
# through a Masking layer that really skips the hours in which nothing was measured, into an LSTM with
# two regularised dense layers, trained with the focal loss of Lin et al. It saves the model, the fitted
# preprocessor, the learning history and the raw validation and test predictions for the calibration
# chapter. At full scale (about 17,000 training episodes) the chapter runs in one to three minutes
# on two CPU cores (an epoch takes roughly 4 to 8 seconds; early stopping decides how many run).

# %% tags=["parameters"]
profile = "quick"

# %%
import time

import numpy as np
import pandas as pd
from IPython.display import Markdown, display
from sklearn.metrics import average_precision_score, roc_auc_score

from ehrlib import plots
from ehrlib.io import atomic_write_text, update_json, write_json
from ehrlib.mortality.losses import focal_loss_numpy
from ehrlib.mortality.lstm import LstmConfig, fit_lstm_pipeline, predict_proba, save_artifacts
from ehrlib.mortality.preprocessing import MortalityPreprocessor
from ehrlib.profiles import get_profile
from ehrlib.icu.reader import read_dataset
from ehrlib.mortality.report import no_ceiling_sentence
from ehrlib.mortality.plots import episode_figure, focal_loss_figure

plots.setup_notebook()
P = get_profile(profile)
RESULTS = P.results_dir / "mortality"

# %% [markdown]
# ## The data
#
# The episodes are read with the benchmark-format reader from the dataset generated for this profile
# (`python -m ehrlib data --profile quick` or `--profile full`). The split is by patient and was made by
# the generator; nothing here looks at the test labels.

# %%
t0 = time.perf_counter()
data = read_dataset(P.icu_dir)
load_seconds = time.perf_counter() - t0
train, val, test = data["train"], data["val"], data["test"]
pd.DataFrame({name: {"episodes": len(es), "deaths": int(es.y.sum()), "mortality": round(float(es.y.mean()), 3)}
              for name, es in data.items()}).T

# %%
display(Markdown(
    f"Loading {sum(len(es) for es in data.values()):,} episodes of {train.n_hours} hours and "
    f"{len(train.variables)} variables took {load_seconds:.1f} s."))

# %% [markdown]
# ## Preprocessing
#
# Each variable is carried forward within its episode; what is still missing (before a variable's
# first measurement) takes the training median; values are standardised with training means and
# standard deviations and clipped to ±10. The 0/1 observation indicators are appended as extra features
# so the model can tell a fresh measurement from a carried-forward one. An hour in which *nothing* was
# measured is written as the mask value on every feature, and the Masking layer makes the LSTM skip it.
# The preprocessor is fitted on the training split only; its state is a small JSON file.

# %%
prep = MortalityPreprocessor().fit(train)
masked = {name: float(MortalityPreprocessor.masked_steps(es).mean()) for name, es in data.items()}
observed = float(train.mask.mean())
pd.DataFrame({"median": prep.medians, "mean": prep.means, "std": prep.stds}, index=prep.variables).round(2)

# %%
display(Markdown(
    f"In the training split {observed:.1%} of the hour-by-variable cells hold a measurement, and "
    f"{masked['train']:.1%} of the hours have no measurement at all (validation {masked['val']:.1%}, test "
    f"{masked['test']:.1%}): those hours are masked. The model input has {prep.n_features} features per "
    f"hour ({len(prep.variables)} standardised variables and as many observation indicators), and the mask "
    f"value is {prep.mask_value:g}, outside the clipped range of any real input."))

# %% tags=["hide-input"]
i = int(np.argmax(MortalityPreprocessor.masked_steps(train).sum(axis=1) > 3))
x_one = prep.transform(train.take([i]))[0]
show = [v for v in ("Heart Rate", "Systolic blood pressure", "Respiratory rate", "Oxygen saturation")
        if v in train.variables] or train.variables[:4]
episode_figure(train.values[i], train.mask[i], x_one, train.variables, prep.mask_value, show=show,
               title=f"Training episode {train.stays[i]} before and after preprocessing")

# %% [markdown]
# **Figure 1.** One training episode: the raw measurements (top) and the model input for the same
# variables (bottom), forward-filled and standardised. Grey hours had no measurement at all and are
# skipped by the LSTM.

# %% [markdown]
# ## The focal loss
#
# Focal loss multiplies the cross-entropy of each example by $(1 - p_t)^\gamma$, where $p_t$ is the
# probability the model gives to the true class, so well-classified examples contribute little and
# training focuses on the hard ones; $\alpha$ weights the positive class and $1 - \alpha$ the negative
# one. We use Keras' `BinaryFocalCrossentropy` with `apply_class_balancing=True`: without that flag Keras
# silently ignores $\alpha$ (the test suite checks both against the formula computed by hand).

# %% tags=["hide-input"]
focal_loss_figure(alpha=0.25)

# %% [markdown]
# **Figure 2.** Left: cross-entropy and focal loss against the probability of the true class; the larger
# $\gamma$, the less an easy example counts. Right: with $\gamma = 2$ and $\alpha = 0.25$, a death
# (positive) is weighted 0.25 and a survivor 0.75, against the unweighted cross-entropy (dotted).

# %%
easy = float(focal_loss_numpy(np.array([0]), np.array([0.1]), gamma=2.0, alpha=0.25)[0])
ce_easy = float(-np.log(0.9))
display(Markdown(
    f"A survivor given a 10 % risk costs {ce_easy:.4f} under cross-entropy but {easy:.5f} under the focal "
    f"loss, {ce_easy / easy:.0f} times less: the easy majority barely moves the weights."))

# %% [markdown]
# ## Training
#
# Adam with batch size 64, up to the profile's maximum number of epochs, early stopping on the validation
# AUROC with the profile's patience, and the best epoch's weights restored. Every initializer, dropout
# layer and the per-epoch shuffling are seeded, so running this cell twice gives the same model.

# %%
config = LstmConfig(max_epochs=P.lstm_max_epochs, patience=P.lstm_patience, batch_size=P.batch_size)
prep, result = fit_lstm_pipeline(train, val, config, seed=P.seed, progress=True)
history = result.history

# %%
best = result.best
display(Markdown(
    f"Training ran {result.epochs_run} epochs in {result.seconds:.0f} s ({result.seconds_per_epoch:.1f} s per "
    f"epoch, {'with' if result.xla else 'without'} XLA compilation) on {len(train):,} episodes and kept "
    f"epoch {result.best_epoch}, whose validation AUROC is {best['val_auroc']:.3f} and AUPRC "
    f"{best['val_auprc']:.3f}."))

# %% [markdown]
# ## Learning curves
#
# Loss, AUROC and AUPRC per epoch on the training and validation splits. The training figures come from
# the predictions made during each epoch, with dropout active and the weights still moving (the usual
# Keras convention), so they can sit below the validation figures; the loss includes the L2 penalty.

# %% tags=["hide-input"]
plots.learning_curves_figure(history, best_epoch=result.best_epoch, title="LSTM learning curves")

# %% [markdown]
# **Figure 3.** Learning curves of the LSTM; the dotted line marks the epoch whose weights were kept.

# %%
gap = history["auroc"][result.best_epoch - 1] - history["val_auroc"][result.best_epoch - 1]
display(Markdown(
    f"The loss (focal loss plus the L2 penalty, which shrinks as the dense weights decay) falls from "
    f"{history['loss'][0]:.3f} to {history['loss'][-1]:.3f} on training and from {history['val_loss'][0]:.3f} "
    f"to {history['val_loss'][-1]:.3f} on validation; at the kept epoch the training-minus-validation AUROC "
    f"gap is {gap:+.3f}, and the validation AUROC moved from {history['val_auroc'][0]:.3f} after the first "
    f"epoch to {max(history['val_auroc']):.3f} at its best."))

# %% [markdown]
# ## Raw validation scores
#
# The network's outputs are scores, not yet calibrated probabilities (chapter 4 calibrates them). Their
# ranking quality on validation is set beside the AUROC of the generator's true risk, the best any model
# could reach on these episodes. The test split is predicted and saved here but scored only in the
# following chapters.

# %%
p_val = predict_proba(result.model, prep.transform(val))
p_test = predict_proba(result.model, prep.transform(test))
val_auroc, val_auprc = roc_auc_score(val.y, p_val), average_precision_score(val.y, p_val)
columns = {"LSTM (raw)": [val_auroc, val_auprc, p_val.mean()]}
oracle_val = None
if val.true_risk is not None:
    oracle_val = roc_auc_score(val.y, val.true_risk)
    columns["true risk (oracle)"] = [oracle_val, average_precision_score(val.y, val.true_risk), val.true_risk.mean()]
pd.DataFrame(columns, index=["AUROC", "AUPRC", "mean prediction"]).round(3)

# %%
direction = "above" if p_val.mean() > val.y.mean() else "below"
display(Markdown(
    f"On validation the raw LSTM reaches AUROC {val_auroc:.3f} and AUPRC {val_auprc:.3f}"
    + (f", against {oracle_val:.3f} AUROC for the true risk. " if oracle_val is not None
       else ". " + no_ceiling_sentence(len(val), "validation episodes") + " ")
    + f"Its mean output, {p_val.mean():.3f}, lies {direction} the "
    f"observed mortality of {val.y.mean():.1%}: the focal loss does not estimate probabilities (its "
    "focusing term flattens confident outputs towards the middle, alpha re-weights the classes), which "
    "is why the next chapter calibrates."))

# %% [markdown]
# ## Saving the artifacts
#
# The model (`lstm.keras`), the preprocessor (`preprocessor.json`), the history (`history.json`) and the
# raw predictions (`predictions.csv`, validation and test) go to the profile's results folder; the
# training record goes under `lstm_training` in `mortality_metrics.json`. No pickles.

# %%
paths = save_artifacts(RESULTS, result.model, prep)
write_json(RESULTS / "history.json", history)
frames = []
for es, p in ((val, p_val), (test, p_test)):
    frames.append(pd.DataFrame({"split": es.split, "stay": es.stays, "subject_id": es.subject_ids, "y_true": es.y,
                                "true_risk": es.true_risk if es.true_risk is not None else np.nan, "p_raw": p}))
predictions = pd.concat(frames, ignore_index=True)
atomic_write_text(RESULTS / "predictions.csv", predictions.to_csv(index=False))
record = {"config": config.to_json(), "epochs_run": result.epochs_run, "best_epoch": result.best_epoch,
          "seconds": result.seconds, "seconds_per_epoch": result.seconds_per_epoch,
          "epoch_seconds": result.epoch_seconds, "xla": result.xla, "n_train": len(train),
          "n_features": prep.n_features, "masked_step_fraction": masked, "val_auroc_raw": val_auroc,
          "val_auprc_raw": val_auprc, "oracle_val_auroc": oracle_val, "data_load_seconds": load_seconds}
update_json(P.results_dir / "mortality_metrics.json", {"lstm_training": record})
sorted(p.name for p in RESULTS.iterdir() if not p.name.startswith("."))

# %% [markdown]
# ## Conclusion

# %%
display(Markdown(
    f"With real masking of the {masked['train']:.0%} of hours without measurements, statistics fitted on the "
    f"training split only and a deterministic training loop, the source document's LSTM with focal loss "
    f"reaches a raw validation AUROC of {val_auroc:.3f} on {len(train):,} training episodes"
    + (f", {oracle_val - val_auroc:.3f} below the true-risk ceiling of {oracle_val:.3f}. " if oracle_val is not None
       else " (this dataset has no known true risk, so no ceiling is shown). ")
    + f"Its raw outputs are not "
    f"probabilities (mean {p_val.mean():.3f} for a mortality of {val.y.mean():.1%}); the next chapter "
    "calibrates them on validation and chooses the decision threshold there, before the test split is "
    "scored once."))
