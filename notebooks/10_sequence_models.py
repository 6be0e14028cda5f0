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
# # Sequence models that use time
#
# Chapter 9 left the replication's LSTM below boosted trees and the benchmark regression on real ICU stays.
# This chapter asks what it takes for a sequence model to earn its place. It trains four recurrent or
# attention models on the same stays, by the same protocols and with the same calibration and thresholds
# as chapter 9, and pairs every run with the boosted trees and the regression of the same fold:
#
# 1. **the replication's LSTM as specified** (focal loss with alpha 0.25, 50 % dropout; the reference row);
# 2. **the same architecture trained well**: its loss, dropout, learning rate and inputs chosen by a small
#    search on validation stays only (`ehrlib.mortality.sequence_search`);
# 3. **GRU-D** {cite:p}`che2018`: a GRU that reads the observation masks and the time since each variable
#    was last measured, decays each carried-forward value towards the training mean and the hidden state
#    towards zero as time passes (`ehrlib.mortality.grud`);
# 4. **attention over the hourly bins**: a small Transformer encoder whose 48 tokens carry each hour's
#    values, masks and the age of each value (`ehrlib.mortality.attention`).
#
# Nothing is tuned on a test set: the search sees only set A's stays, and the one choice between the new
# models (the best new model, which the headline sentences and the learning curves follow) is made on set
# A's out-of-fold validation AUROC. This run took {glue:text}`ch10_minutes`.

# %% tags=["parameters"]
profile = "quick"

# %% tags=["remove-input"]
from ehrlib import plots
from ehrlib.booktext import Stopwatch, duration, glue_values, timed
from ehrlib.icu.episodes import EpisodeSet
from ehrlib.mortality import protocols, real_report
from ehrlib.mortality import sequence_report as report
from ehrlib.mortality import sequence_study as study
from ehrlib.mortality.lstm import LstmConfig
from ehrlib.mortality.sequence_models import SequenceSpec
from ehrlib.mortality.sequence_search import SearchConfig, search, stages_for
from ehrlib.mortality.sequence_training import TrainSettings
from ehrlib.mortality.time_inputs import TimeInputs
from ehrlib.profiles import get_profile

plots.setup_notebook()
P, clock, timings = get_profile(profile), Stopwatch(), {}

# %% [markdown]
# ## The data
#
# The real stays are chapter 9's: PhysioNet 2012 sets A and B, read by the same reader (48 hourly bins and
# the admission descriptors). The synthetic stays are the profile's ICU splits of chapters 1 to 8.

# %% tags=["remove-input"]
data = study.load_study_data(P)
a, b = data.a, data.b
report.data_table(data.parts())

# %% [markdown]
# ## What the models read
#
# The replication's preprocessing gives each hour the forward-filled, standardised values and a mask
# indicator per variable: the model can tell a measured value from a carried one, but not how old the
# carried one is. `ehrlib.mortality.time_inputs` adds that age: for each variable and hour, the hours since
# it was last observed (Che et al.'s delta: 0 in the first hour, growing by one each hour the variable is
# missing). Values are standardised with the mean and spread of the *observed* training values, so the
# training mean, towards which GRU-D decays, is 0. A stay in numbers (the first three variables, hours 0-7):

# %% tags=["remove-input"]
report.inputs_example(a)

# %% [markdown]
# ## Training the LSTM well: a search on validation stays only
#
# The replication trains its LSTM with the focal loss at alpha = 0.25, which weights the deaths *down*,
# with 50 % dropout on its inputs and its head, and reads values, masks and descriptors. The search
# (`sequence_search.LSTM_STAGES`) changes one thing at a time, in stages, keeping at each stage the setting
# with the best validation AUROC: the loss (focal with alpha 0.25 or 0.75, plain cross-entropy), the
# dropout, the learning rate, then the inputs (adding the hours since each value was observed, removing the
# mask indicators or the descriptors). Every candidate trains once (same seed) on seven eighths of set A,
# by patient, with early stopping on the other eighth; its score is that eighth's AUROC. Set B is never
# given to the search. With one seed per candidate and {glue:text}`ch10_search_val_n` validation stays,
# small differences are within noise: the search is a guide, not a proof, and the chapter scores its
# choice once.

# %% tags=["remove-output"]
epochs = dict(max_epochs=P.sequence_max_epochs, patience=P.sequence_patience,
              batch_size=P.sequence_batch_size, jit_compile=P.sequence_xla)
base = SequenceSpec(  # the replication's LSTM: focal loss, its dropout
    kind="lstm", train=TrainSettings(**epochs),
    inputs=TimeInputs(mask=True, delta=False, descriptors=True))
with timed(timings, "search_seconds"):
    search_config = SearchConfig(seed=P.seed, workers=P.sequence_workers)
    found = search(a, base, stages_for(P.sequence_search), search_config)

# %% tags=["remove-input"]
chosen = found.chosen
glue_values(report.search_facts(found, P.sequence_batch_size, timings["search_seconds"]), "ch10_")
report.search_table(found)

# %% [markdown]
# The new models train with batches of {glue:text}`ch10_batch` stays and the replication's LSTM with its own
# batch size: on two cores a larger batch makes an epoch cheaper, and time is what limits this chapter.
#
# The search trained {glue:text}`ch10_search_n` distinct settings in {glue:text}`ch10_search_time` and
# chose: loss {glue:text}`ch10_chosen_loss`; dropout {glue:text}`ch10_chosen_dropout`; inputs
# {glue:text}`ch10_chosen_inputs`. GRU-D and the attention model are not searched: they take the loss and
# learning rate the search chose and their own documented architectures (`GrudConfig`, `AttentionConfig`).
#
# ## The models

# %%
reference = LstmConfig(max_epochs=P.sequence_max_epochs,
                       patience=P.sequence_patience, batch_size=P.batch_size)
specs = {
    "lstm_tuned": chosen,
    "grud": SequenceSpec(kind="grud", train=chosen.train),
    "attention": SequenceSpec(kind="attention", train=chosen.train),
}
study.spec_table(specs)

# %% [markdown]
# Every network trains for at most {glue:text}`ch10_max_epochs` epochs with early stopping (patience
# {glue:text}`ch10_patience`) on validation AUROC, the replication's LSTM included: a ceiling the time budget
# sets.
#
# ## Real stays, the challenge's protocol: fit on set A, score set B
#
# As in chapter 9: {glue:text}`ch10_runs` patient folds of set A, each fold's models fitted on the others (an eighth held
# back for early stopping), calibrator and F1 threshold fitted on the out-of-fold predictions over set A,
# each fold's model scored once on set B. A run is one fold's model with its own seed.

# %% tags=["remove-input"]
config = protocols.StudyConfig(n_splits=P.sequence_folds, n_boot=P.n_bootstrap,
                               seed=P.seed, workers=P.sequence_workers)
glue_values({"max_epochs": P.sequence_max_epochs, "patience": P.sequence_patience, "runs": config.n_splits,
             "workers": P.sequence_workers}, "ch10_")
NEW = list(report.NEW_MODELS)
ORDER = ["lstm", *NEW, "gbt", "logistic_regression"]

# %% tags=["remove-output"]
models = study.model_factories(reference, specs)
with timed(timings, "challenge_seconds"):
    challenge = protocols.challenge_protocol(
        a, b, study.sequence_fitters(models, P.seed), config)
ch = challenge.result

# %% tags=["remove-input"]
study.model_table(ch, ORDER)

# %% tags=["remove-input"]
best = study.best_new_model(ch)
goal_table, goal, goal_facts = report.goal_summary(challenge, b.y, config.n_boot, P.seed)
glue_values({**goal_facts, **report.best_facts(challenge, best, goal)}, "ch10_")
goal_table

# %% [markdown]
# Each cell is the mean ± standard deviation over the {glue:text}`ch10_runs` runs, with the range in
# brackets; validation AUROC is out of fold over set A. The replication's LSTM reaches
# {glue:text}`ch10_ref_auroc` on set B, the boosted trees {glue:text}`ch10_gbt_auroc` and the regression
# {glue:text}`ch10_lr_auroc`. The best new model on validation is the {glue:text}`ch10_best` (validation
# {glue:text}`ch10_best_val:.3f`), with {glue:text}`ch10_best_auroc` on set B; its seed-mean difference from
# the trees is {glue:text}`ch10_best_vs_gbt` (stays of set B resampled once for all runs), and run by run
# {glue:text}`ch10_best_vs_gbt_runs`. Against the regression: {glue:text}`ch10_best_vs_lr_runs`.
#
# The goal set for this chapter (a seed-mean AUROC of at least 0.86 on this protocol, above the trees with
# the paired interval above zero) is {glue:text}`ch10_goal`.
#
# ### The best new model run by run

# %% tags=["remove-input"]
real_report.runs_table(ch, best)

# %% [markdown]
# ## Real stays, five-fold cross-validation over sets A and B pooled
#
# The second protocol of chapter 9, over both sets pooled. {glue:text}`ch10_second`

# %% tags=["remove-output"]
second = NEW if P.sequence_every_model else [best]
glue_values({"second": report.second_protocol_sentence(second, best)}, "ch10_")
models = study.model_factories(reference, {m: specs[m] for m in second})
pooled = EpisodeSet.concat([a, b])
with timed(timings, "kfold_seconds"):
    kfold = protocols.kfold_protocol(
        pooled, study.sequence_fitters(models, P.seed), config)
kf = kfold.result

# %% tags=["remove-input"]
study.model_table(kf, ORDER)

# %% tags=["remove-input"]
glue_values(report.protocol_facts(kfold, pooled.y, best, config.n_boot, P.seed, "k"), "ch10_")

# %% [markdown]
# Over the pooled folds the {glue:text}`ch10_best` reaches {glue:text}`ch10_k_best`, the replication's LSTM
# {glue:text}`ch10_k_ref` and the trees {glue:text}`ch10_k_gbt`. The seed-mean difference from the trees is
# {glue:text}`ch10_k_vs_gbt` (each fold resampled within itself); against the regression,
# {glue:text}`ch10_k_vs_lr`.
#
# ## Synthetic stays
#
# The same design on the profile's synthetic splits: models cross-fitted on a fixed patient subset of
# {glue:text}`ch10_syn_n` training stays (the time budget again: the whole training split would take several
# times longer per training), calibrated on its out-of-fold predictions, each fold's model scored once on
# the whole test split.

# %% tags=["remove-output"]
glue_values({"syn_n": f"{len(data.syn_train):,}"}, "ch10_")
with timed(timings, "synthetic_seconds"):
    split = study.split_protocol(
        data.syn_train, data.syn_test,
        study.sequence_fitters(models, P.seed), config)
sy = split.result

# %% tags=["remove-input"]
study.model_table(sy, ORDER)

# %% tags=["remove-input"]
glue_values(report.protocol_facts(split, data.syn_test.y, best, config.n_boot, P.seed, "s"), "ch10_")

# %% [markdown]
# On the synthetic test split the {glue:text}`ch10_best` reaches {glue:text}`ch10_s_best`, the replication's
# LSTM {glue:text}`ch10_s_ref`, the trees {glue:text}`ch10_s_gbt` and the regression {glue:text}`ch10_s_lr`;
# the seed-mean difference from the trees is {glue:text}`ch10_s_vs_gbt`. {numref}`fig-10-1` shows every run
# of every model, on both datasets and under every protocol.

# %% tags=["hide-input"]
plots.show_figure("fig-10-1", plots.runs_figure({
    "PhysioNet, fit on A, score B": study.run_aurocs(ch, ORDER),
    "PhysioNet, 5-fold over A and B": study.run_aurocs(kf, ORDER),
    "Synthetic, split": study.run_aurocs(sy, ORDER)},
    title="AUROC of every run"))

# %% [markdown]
# ```{glue:figure} fig-10-1
# :name: fig-10-1
#
# The scored AUROC of every run of every model, under each protocol and dataset.
# ```
#
# ## Learning curves: would more stays change the ranking?
#
# The best new model, the trees and the regression fitted on nested patient subsets of the search's
# training stays (seven eighths of set A), stopped early on the same eighth, scored on set B
# (raw scores, bootstrap intervals over set B's stays).

# %% tags=["remove-output"]
with timed(timings, "curve_seconds"):
    curve = study.search_curve(
        a, b, specs[best], study.label(best),
        P.sequence_curve_sizes, search_config, min(P.n_bootstrap, 200),
        P.sequence_workers)

# %% tags=["hide-input"]
sizes, series = study.curve_series(curve)
plots.show_figure("fig-10-2", plots.learning_size_figure(
    sizes, series, title="Set B AUROC against set A stays"))

# %% [markdown]
# ```{glue:figure} fig-10-2
# :name: fig-10-2
#
# AUROC on set B against the number of set A stays fitted on (log scale), with bootstrap intervals.
# ```

# %% tags=["remove-input"]
glue_values(report.curve_facts(curve, study.label(best)), "ch10_")

# %% [markdown]
# Set B AUROC by training size ({numref}`fig-10-2`): {glue:text}`ch10_curve`. In the last step,
# {glue:text}`ch10_trend`. A sequence model that gains more than the trees from the last step may pass them
# with more stays; one that gains less may not. One seed per point and intervals of about
# ±{glue:text}`ch10_halfwidth` make this a hint, not a measurement.
#
# ## Saving the results
#
# The typed results (`sequence_metrics.json`: the search, the specs, every protocol's runs per dataset, the
# learning curves, the timings) and every scored prediction (`physionet2012_predictions.csv`,
# `synthetic_predictions.csv`: protocol, model, run, stay, label, raw score, calibrated probability) go to
# the profile's results folder; every run's AUROC is recomputed from the predictions files as a check.

# %% tags=["remove-input"]
timings["chapter_seconds"] = clock.elapsed
results = study.SequenceResults(search=found, specs=specs, curves={"physionet2012": curve}, timings=timings,
                                protocols={"physionet2012": {"challenge": ch, "kfold": kf}, "synthetic": {"split": sy}})
saved = report.save_study(P.sequence_results_dir, results, [(challenge, a, b), (kfold, pooled, pooled)],
                          [(split, data.syn_train, data.syn_test)])
glue_values({**saved, "minutes": duration(clock.elapsed)}, "ch10_")

# %% [markdown]
# Recomputed from the predictions files: {glue:text}`ch10_check`.
#
# Where the time went: {glue:text}`ch10_parts`. Trainings run {glue:text}`ch10_workers` at a time
# (`ehrlib.workers`): one TensorFlow training keeps only part of this machine's two cores busy, and every
# training carries its own seed, so the predictions are the same as one at a time. The seconds per run in
# the tables above are each model's fit and prediction times for one fold while sharing the cores, longer
# than each would take alone.
#
# ## Conclusion
#
# Fitted on set A and scored on set B, the replication's LSTM reaches {glue:text}`ch10_ref_auroc`; trained
# well (the search's choice: {glue:text}`ch10_chosen_loss`, inputs {glue:text}`ch10_chosen_inputs`) and
# beside GRU-D and attention over the hours, the best new model on validation, the
# {glue:text}`ch10_best`, reaches {glue:text}`ch10_best_auroc`, against {glue:text}`ch10_gbt_auroc` for
# boosted trees: a seed-mean difference of {glue:text}`ch10_best_vs_gbt`. The goal set for this chapter is
# {glue:text}`ch10_goal`. What the learning curves suggest: {glue:text}`ch10_trend`.
