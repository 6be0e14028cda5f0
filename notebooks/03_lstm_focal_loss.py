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
# through a Masking layer that really skips the hours in which nothing was measured, into an LSTM {cite:p}`hochreiter1997` with
# two regularised dense layers, trained with the focal loss of {cite:t}`lin2017`. It saves the model, the fitted
# preprocessor, the learning history and the raw validation and test predictions for the calibration
# chapter. Early stopping decides how many epochs run; this run took {glue:text}`ch3_minutes`.

# %% tags=["parameters"]
profile = "quick"

# %% tags=["remove-input"]
from ehrlib import plots
from ehrlib.booktext import Stopwatch, duration, glue_values, timed
from ehrlib.icu.ranges import cleaning_table
from ehrlib.icu.reader import read_dataset
from ehrlib.mortality import facts
from ehrlib.mortality.assemble import save_lstm_run
from ehrlib.mortality.lstm import LstmConfig, build_lstm, fit_lstm_pipeline
from ehrlib.mortality.plots import focal_loss_figure, preprocessed_episode_figure
from ehrlib.mortality.preprocessing import MortalityPreprocessor
from ehrlib.plots import show_figure
from ehrlib.profiles import get_profile

plots.setup_notebook()
clock = Stopwatch()
P = get_profile(profile)

# %% [markdown]
# ## The data
#
# The episodes are read with the benchmark-format reader from the dataset generated for this profile
# (`python -m ehrlib data --profile quick` or `--profile full`). The split is by patient and was made by
# the generator; nothing here looks at the test labels.

# %% tags=["remove-input"]
with timed() as load:
    data = read_dataset(P.icu_dir, progress=False)
train, val, test = data["train"], data["val"], data["test"]
facts.split_table(data)

# %% tags=["remove-input"]
cleaning = cleaning_table(data)  # values outside the plausible ranges: removed or clipped (external data only)
glue_values(facts.data_facts(data, cleaning, load.seconds), "ch3_")
cleaning if len(cleaning) else None

# %% [markdown]
# Loading {glue:text}`ch3_n_episodes` episodes of {glue:text}`ch3_n_hours` hours and
# {glue:text}`ch3_n_variables` variables took {glue:text}`ch3_load_seconds:.1f` s.
# Values outside the plausible ranges the MIMIC-III benchmark {cite:p}`harutyunyan2019` uses (`ehrlib.icu.ranges`) are an error in
# the synthetic data; in external data, outliers are removed and values beyond the valid bounds clipped,
# and the table above then lists the counts per variable and split. Here {glue:text}`ch3_n_cleaned`
# values were removed or clipped.
#
# ## Preprocessing
#
# Each variable is carried forward within its episode; what is still missing (before a variable's
# first measurement) takes the training median; values are standardised with training means and
# standard deviations and clipped to ±10. The 0/1 observation indicators are appended as extra features
# so the model can tell a fresh measurement from a carried-forward one. An hour in which *nothing* was
# measured is written as the mask value on every feature, and the Masking layer makes the LSTM skip it.
# The preprocessor is fitted on the training split only; its state is a small JSON file.

# %% tags=["remove-input"]
prep = MortalityPreprocessor().fit(train)
masked = facts.masked_fractions(data)
glue_values(facts.preprocessing_facts(prep, train, masked), "ch3_")
facts.preprocessor_table(prep)

# %% [markdown]
# In the training split {glue:text}`ch3_observed` of the hour-by-variable cells hold a measurement, and
# {glue:text}`ch3_masked_train` of the hours have no measurement at all (validation
# {glue:text}`ch3_masked_val`, test {glue:text}`ch3_masked_test`): those hours are masked. The model
# input has {glue:text}`ch3_n_features` features per hour (the standardised variables and as many
# observation indicators), and the mask value is {glue:text}`ch3_mask_value`, outside the clipped
# range of any real input. See {numref}`fig-03-1`.

# %% tags=["hide-input"]
show_figure("fig-03-1", preprocessed_episode_figure(train, prep))

# %% [markdown]
# ```{glue:figure} fig-03-1
# :name: fig-03-1
#
# One training episode: the raw measurements (top) and the model input for the same
# variables (bottom), forward-filled and standardised. Grey hours had no measurement at all and are
# skipped by the LSTM.
# ```
#
# ## The focal loss
#
# Focal loss multiplies the cross-entropy of each example by $(1 - p_t)^\gamma$, where $p_t$ is the
# probability the model gives to the true class, so well-classified examples contribute little and
# training focuses on the hard ones; $\alpha$ weights the positive class and $1 - \alpha$ the negative
# one. We use Keras' `BinaryFocalCrossentropy` with `apply_class_balancing=True`: without that flag Keras
# silently ignores $\alpha$ (the test suite checks both against the formula computed by hand). See {numref}`fig-03-2`.

# %% tags=["hide-input"]
show_figure("fig-03-2", focal_loss_figure(alpha=0.25))

# %% [markdown]
# ```{glue:figure} fig-03-2
# :name: fig-03-2
#
# Left: cross-entropy and focal loss against the probability of the true class; the larger
# $\gamma$, the less an easy example counts. Right: with $\gamma = 2$ and $\alpha = 0.25$, a death
# (positive) is weighted 0.25 and a survivor 0.75, against the unweighted cross-entropy (dotted).
# ```

# %% tags=["remove-input"]
glue_values(facts.focal_facts(alpha=0.25), "ch3_")

# %% [markdown]
# A survivor given a 10 % risk costs {glue:text}`ch3_ce_easy:.4f` under cross-entropy but
# {glue:text}`ch3_focal_easy:.5f` under the focal loss, {glue:text}`ch3_easy_ratio` times less: the easy
# majority barely moves the weights.
#
# ## The model
#
# The source document's network: a Masking layer, an LSTM with 64 units (dropout 0.5, recurrent dropout
# 0.3), two ReLU layers of 32 and 16 units with L2 penalty and dropout, and a sigmoid output. Every
# initializer and dropout layer is seeded.

# %%
config = LstmConfig(max_epochs=P.lstm_max_epochs, patience=P.lstm_patience,
                    batch_size=P.batch_size)
build_lstm(train.n_hours, prep.n_features, config,
           mask_value=prep.mask_value, seed=P.seed).summary()

# %% [markdown]
# ## Training
#
# Adam with batch size {glue:text}`ch3_batch`, up to the profile's maximum number of epochs, early stopping on the validation
# {term}`AUROC` with the profile's patience, and the best epoch's weights restored. The per-epoch shuffling is
# seeded too, so running this cell twice gives the same model.

# %% tags=["remove-output"]
prep, result = fit_lstm_pipeline(train, val, config, seed=P.seed,
                                 progress=False)

# %% tags=["remove-input"]
glue_values({**facts.training_facts(result, len(train)), "batch": config.batch_size}, "ch3_")

# %% [markdown]
# Training ran {glue:text}`ch3_epochs_run` epochs in {glue:text}`ch3_train_seconds` s
# ({glue:text}`ch3_seconds_per_epoch:.1f` s per epoch, {glue:text}`ch3_xla` XLA compilation) on
# {glue:text}`ch3_n_train` episodes and kept epoch {glue:text}`ch3_best_epoch`, whose validation AUROC is
# {glue:text}`ch3_best_val_auroc:.3f` and {term}`AUPRC` {glue:text}`ch3_best_val_auprc:.3f`.
#
# ## Learning curves
#
# Loss, AUROC and AUPRC per epoch on the training and validation splits. The training figures come from
# the predictions made during each epoch, with dropout active and the weights still moving (the usual
# Keras convention), so they can sit below the validation figures; the loss includes the L2 penalty. See {numref}`fig-03-3`.

# %% tags=["hide-input"]
show_figure("fig-03-3", plots.learning_curves_figure(
    result.history, best_epoch=result.best_epoch,
    title="LSTM learning curves"))

# %% [markdown]
# ```{glue:figure} fig-03-3
# :name: fig-03-3
#
# Learning curves of the LSTM; the dotted line marks the epoch whose weights were kept.
# ```

# %% [markdown]
# The loss (focal loss plus the L2 penalty, which shrinks as the dense weights decay) goes from
# {glue:text}`ch3_loss_first:.3f` to {glue:text}`ch3_loss_last:.3f` on training and from
# {glue:text}`ch3_val_loss_first:.3f` to {glue:text}`ch3_val_loss_last:.3f` on validation; at the kept
# epoch the training-minus-validation AUROC gap is {glue:text}`ch3_gap`, and the validation AUROC moved
# from {glue:text}`ch3_val_auroc_first:.3f` after the first epoch to {glue:text}`ch3_val_auroc_max:.3f`
# at its best.
#
# ## Raw validation scores
#
# The network's outputs are scores, not yet calibrated probabilities (chapter 4 calibrates them). Their
# ranking quality on validation is set beside the AUROC of the generator's true risk, the best any model
# could reach on these episodes. The test split is predicted and saved here but scored only in the
# following chapters.

# %% tags=["remove-input"]
raw = facts.raw_scores(result.model, prep, val, test)
glue_values(facts.raw_score_facts(raw, val), "ch3_")
raw.table

# %% [markdown]
# On validation the raw LSTM reaches AUROC {glue:text}`ch3_val_auroc:.3f` and AUPRC
# {glue:text}`ch3_val_auprc:.3f` ({glue:text}`ch3_ceiling`). Its mean output,
# {glue:text}`ch3_mean_p:.3f`, lies {glue:text}`ch3_side` the observed mortality of
# {glue:text}`ch3_val_mortality`: the focal loss does not estimate probabilities (its focusing term
# flattens confident outputs towards the middle, alpha re-weights the classes), which is why the next
# chapter calibrates.
#
# ## Saving the artifacts
#
# The model (`lstm.keras`), the preprocessor (`preprocessor.json`) and the raw predictions
# (`predictions.csv`, validation and test, with stay, subject and label) go to the profile's results
# folder; the training record (configuration, history, timings) goes into the typed results file. No
# pickles.

# %% tags=["remove-input"]
saved = save_lstm_run(P.results_dir, result, prep, {"val": (val, raw.p_val), "test": (test, raw.p_test)},
                      len(train), masked, raw.val_scores, raw.oracle_val, load.seconds)
glue_values({"saved": ", ".join(saved), "minutes": duration(clock.elapsed)}, "ch3_")

# %% [markdown]
# This chapter wrote {glue:text}`ch3_saved` in the profile's results folder.

# %% [markdown]
# ## Conclusion
#
# With real masking of the hours without measurements, statistics fitted on the training split only and
# a deterministic training loop, the source document's LSTM with focal loss reaches a raw validation
# AUROC of {glue:text}`ch3_val_auroc:.3f` on {glue:text}`ch3_n_train` training episodes
# ({glue:text}`ch3_ceiling`). This is one training, one draw of initial weights, dropout masks and batch
# order: chapter 7 retrains the LSTM with several seeds, and the mean and spread over them are its
# headline. Its raw outputs are not probabilities; the next chapter calibrates them on validation and
# chooses the decision threshold there, before the test split is scored once.
