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
# # Exploring missingness
#
# In an ICU record most cells are empty, and *why* they are empty carries information. This
# chapter measures missingness in the synthetic ICU data (per variable, by hour since admission,
# by nursing shift and by outcome), makes the three mechanisms of the generator (MCAR, MAR, MNAR; {cite:t}`rubin1976`)
# visible by switching each off in an in-memory cohort, and draws the consequences for modelling:
# masks, forward filling and missingness indicators. This run took {glue:text}`ch2_minutes`.

# %% tags=["parameters"]
profile = "quick"

# %% tags=["remove-input"]
import numpy as np

from ehrlib.booktext import Stopwatch, duration, glue_values
from ehrlib.icu import missingness as mi, plots as ip
from ehrlib.icu.reader import read_generated
from ehrlib.plots import setup_notebook, show_figure
from ehrlib.profiles import get_profile

setup_notebook()
clock = Stopwatch()
p = get_profile(profile)
generated = read_generated(p.icu_dir)
data, pooled = generated.splits, mi.pool_splits(generated.splits, generated.latent)
glue_values(mi.overview(pooled))

# %% [markdown]
# {glue:text}`n_episodes:,` episodes x {glue:text}`n_hours` hourly bins x {glue:text}`n_vars`
# variables; {glue:text}`pct_cells:.1f` % of all cells hold a value.
#
# ## How much is missing, per variable and by outcome
#
# The unit is the hourly bin the models see (the reader keeps the last value charted in each
# hour). Vitals are charted about hourly, laboratory values a few times a day. See {numref}`fig-02-1`.

# %% tags=["hide-input"]
show_figure("fig-02-1", ip.missing_rate_by_variable(pooled.mask, pooled.y))

# %% [markdown]
# ```{glue:figure} fig-02-1
# :name: fig-02-1
#
# Share of hourly bins without a value, per variable, among survivors and
# non-survivors.
# ```

# %% tags=["remove-input"]
miss = mi.missing_by_outcome(pooled)
glue_values(mi.outcome_facts(pooled, miss))
miss.map("{:.1%}".format)

# %% [markdown]
# Heart rate is missing in {glue:text}`hr_miss_surv:.0f` % of survivors' hours and
# {glue:text}`hr_miss_died:.0f` % of non-survivors'; creatinine in {glue:text}`cr_miss_surv:.0f` %
# and {glue:text}`cr_miss_died:.0f` %. Non-survivors had a median of {glue:text}`cr_draws_died:.0f`
# hours with a creatinine against {glue:text}`cr_draws_surv:.0f` for survivors, and
# {glue:text}`lac_draws_died:.1f` hours with a lactate on average against
# {glue:text}`lac_draws_surv:.1f`; a lactate was charted at all in {glue:text}`lac_any_died:.0f` %
# of non-survivors' stays and {glue:text}`lac_any_surv:.0f` % of survivors'.

# %% [markdown]
# ## By hour since admission and by nursing shift
#
# {numref}`fig-02-2` shows the share of episodes with a value at each hour since admission.

# %% tags=["hide-input"]
show_figure("fig-02-2", ip.missing_by_hour(pooled.mask))

# %% [markdown]
# ```{glue:figure} fig-02-2
# :name: fig-02-2
#
# Share of episodes with a value, per variable and hour. Admission labs fill the
# first hour; the morning round (about 04:00) falls at a different hour for every patient, so later
# lab hours are spread out; the temperature is charted at fixed clock hours (every `TEMPERATURE_EVERY` hours, a constant of `ehrlib.icu.synth`).
# ```
#
# {numref}`fig-02-3` splits the charted vitals by nursing shift.

# %% tags=["remove-input"]
by_shift = mi.vitals_by_shift(pooled)
glue_values({f"hr_{k}": 100 * by_shift.loc["Heart Rate", k] for k in mi.SHIFTS})

# %% tags=["hide-input"]
shifts = mi.shift_comparison(pooled, n_episodes=1500, seed=p.seed)
show_figure("fig-02-3", ip.observed_by_shift(shifts))

# %% [markdown]
# ```{glue:figure} fig-02-3
# :name: fig-02-3
#
# Share of hourly bins with a charted vital, by nursing shift (day 07-15, evening
# 15-23, night 23-07), in the generated dataset and in a demo cohort without the shift effect.
# Night also includes sleep, which makes nurses skip checks; that is why night stays a little
# lower even without the shift effect.
# ```
#
#
# Heart rate is charted in {glue:text}`hr_day:.0f` % of day-shift hours, {glue:text}`hr_evening:.0f` %
# of evening hours and {glue:text}`hr_night:.0f` % of night hours.

# %% [markdown]
# ## The three mechanisms, made visible
#
# The generator has one switch per mechanism, so we can compare the same patients with and
# without each. What distinguishes the mechanisms is what the chance of recording depends on:
#
# - **MCAR** (missing completely at random): on nothing. Each recording is lost with a fixed chance
#   that differs by variable, so switching it off raises the rates by different amounts but changes no
#   relationship with the patient's state.
# - **MAR** (missing at random): on things that are observed, here the shock index on the monitor
#   (heart rate over systolic pressure), which reflects the latent severity. Extra labs are drawn
#   in sicker patients.
# - **MNAR** (missing not at random): on the unobserved value itself: a high lactate or a fever
#   makes its own measurement more likely. No model can correct for this from the observed data
#   alone; it can only exploit it.

# %% tags=["remove-input"]
settings = mi.mechanism_cohorts(n_episodes=1500, seed=p.seed)
fractions = mi.observed_fractions(settings)
glue_values({**mi.mechanism_facts(settings), **mi.mcar_rise(fractions)})
fractions.map("{:.1%}".format)

# %% [markdown]
# Each column is the share of hourly bins with a value in the demo cohort under one setting. Without
# MCAR the rates rise by {glue:text}`mcar_rise_min:.1f` percentage points
# ({glue:text}`mcar_rise_min_var`) to {glue:text}`mcar_rise_max:.1f` ({glue:text}`mcar_rise_max_var`).
# {numref}`fig-02-4` plots the chance of a creatinine draw against the latent severity at that hour, with
# every mechanism and without MAR; its caption gives the rates in the sickest and the mildest hours.

# %% tags=["hide-input"]
show_figure(
    "fig-02-4",
    ip.observation_rate_by(
        mi.mar_curves(settings),
        np.linspace(-3, 4, 15),
        "latent severity S(t) in the hour",
        "MAR: a creatinine is drawn more often when the patient is sicker",
    ),
)

# %% [markdown]
# ```{glue:figure} fig-02-4
# :name: fig-02-4
#
# Share of hours with a creatinine against the latent severity in that hour. With all
# mechanisms, a creatinine is charted in {glue:text}`cr_hi_all:.1f` % of the hours with severity
# above 2 and {glue:text}`cr_lo_all:.1f` % of those below 0; without MAR, {glue:text}`cr_hi_nomar:.1f` %
# and {glue:text}`cr_lo_nomar:.1f` %.
# ```
#
# {numref}`fig-02-5` does the same for lactate, whose measurement depends on its own value.

# %% tags=["hide-input"]
show_figure(
    "fig-02-5",
    ip.observation_rate_by(
        mi.mnar_curves(settings),
        np.linspace(0.5, 8, 16),
        "true (noiseless) lactate in the hour, mmol/L",
        "MNAR: a high lactate makes its own measurement more likely",
    ),
)

# %% [markdown]
# ```{glue:figure} fig-02-5
# :name: fig-02-5
#
# Share of hours with a charted lactate against the true lactate in that hour. A
# lactate is charted in {glue:text}`lac_hi_all:.1f` % of the hours with a true lactate above 4 mmol/L
# and {glue:text}`lac_lo_all:.1f` % of those below 2 with all mechanisms; without MNAR,
# {glue:text}`lac_hi_nomnar:.1f` % and {glue:text}`lac_lo_nomnar:.1f` % (what remains is MAR: lactate
# is drawn when indicated, in shock, on vasopressors, after an acute event).
# ```

# %% [markdown]
# The mean true lactate over all hours is {glue:text}`lac_all:.2f` mmol/L. Over the hours in which a
# lactate was charted it is {glue:text}`lac_mnar:.2f` with all mechanisms, {glue:text}`lac_nomnar:.2f`
# without MNAR and {glue:text}`lac_nomar:.2f` without MAR. The charted values are a selected
# sample of the patient's hours, so an imputer that fills gaps with the mean of charted values
# inherits that selection.

# %% [markdown]
# ## What it means for modelling
#
# Three consequences follow for the models of the next chapters.
#
# 1. **Keep an observation mask.** A missing value is not a zero (the replication filled gaps
#    with 0 and then standardised, so its masking layer masked nothing). Models should see the mask
#    (or missingness indicators) beside the values.
# 2. **Forward fill has an age.** Carrying the last value forward is what a clinician does, but
#    a lab value is often many hours old; the time since the last observation is a useful input.
# 3. **Missingness is informative.** Because of MAR and MNAR, *when* something was measured
#    predicts the outcome on its own. See {numref}`fig-02-6`.

# %% tags=["hide-input"]
show_figure("fig-02-6", ip.staleness_figure(pooled.mask))

# %% [markdown]
# ```{glue:figure} fig-02-6
# :name: fig-02-6
#
# How old a forward-filled value is, in hours since it was last observed (after its
# first observation), for a vital, the temperature and two labs.
# ```

# %% tags=["remove-input"]
glue_values(mi.charting_facts(data, pooled))
glue_values({"minutes": duration(clock.elapsed)}, "ch2_")

# %% [markdown]
# The median age of a forward-filled creatinine is {glue:text}`stale_cr:.0f` hours (heart rate:
# {glue:text}`stale_hr:.0f`). A logistic regression fitted on the train split using only how often
# each variable was charted ({glue:text}`n_vars` observation rates, no values) reaches {term}`AUROC`
# {glue:text}`auc_counts:.3f` on the test split; on the 48-hour means it reaches
# {glue:text}`auc_means:.3f`, and on both {glue:text}`auc_both:.3f`.

# %% [markdown]
# ## Conclusion
#
# Missingness in these data is large and structured: vitals are missing in a minority of hours
# and labs in most, night shifts and sleep thin the charting, and what is charted depends on the
# patient's state (MAR) and on the value itself (MNAR). How often each variable was charted alone
# reaches a test AUROC of {glue:text}`auc_counts:.3f`. Models should therefore receive an explicit mask
# or missingness indicators and imputers fitted on the training split only, never zeros passed off as
# values. Chapter 3's replication gives its LSTM the 0/1 indicators only, as the source did; the age of
# each forward-filled value is a further input that chapter 10 tests.
