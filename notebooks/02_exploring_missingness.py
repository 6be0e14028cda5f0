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
# by nursing shift and by outcome), makes the three mechanisms of the generator (MCAR, MAR, MNAR)
# visible by switching each off in an in-memory cohort, and draws the consequences for modelling:
# masks, forward filling and missingness indicators. Run time: under a minute at full scale.

# %% tags=["parameters"]
profile = "quick"

# %%
import numpy as np
import pandas as pd
from IPython.display import Markdown, display

from ehrlib.icu import plots as ip
from ehrlib.icu import describe as idesc
from ehrlib.icu.describe import lr_auroc, window_means
from ehrlib.icu.synth import VARIABLES, IcuConfig, RealismFlags, proportional_split, simulate_icu
from ehrlib.plots import setup_notebook
from ehrlib.profiles import get_profile
from ehrlib.icu.reader import read_dataset

setup_notebook()
p = get_profile(profile)
data = read_dataset(p.icu_dir, progress=False)
latent = pd.read_csv(p.icu_dir / "latent.csv").set_index("stay")
splits = ("train", "val", "test")
mask = np.concatenate([data[s].mask for s in splits])
values = np.concatenate([data[s].values for s in splits])
y = np.concatenate([data[s].y for s in splits])
lat = latent.loc[np.concatenate([data[s].stays for s in splits])].reset_index()
clock = idesc.clock_hours(lat)
display(Markdown(f"{len(y):,} episodes x {mask.shape[1]} hourly bins x {mask.shape[2]} variables; "
                 f"{mask.mean():.1%} of all cells hold a value."))

# %% [markdown]
# ## How much is missing, per variable and by outcome
#
# The unit is the hourly bin the models see (the reader keeps the last value charted in each
# hour). Vitals are charted about hourly, laboratory values a few times a day.

# %% tags=["hide-input"]
ip.missing_rate_by_variable(mask, y).show()

# %% [markdown]
# **Figure 1.** Share of hourly bins without a value, per variable, among survivors and
# non-survivors.

# %%
miss = pd.DataFrame({"survived": 1 - mask[y == 0].mean(axis=(0, 1)), "died": 1 - mask[y == 1].mean(axis=(0, 1))},
                    index=list(VARIABLES))
miss["difference"] = miss["died"] - miss["survived"]
lab_draws = mask[:, :, VARIABLES.index("Creatinine")].sum(axis=1)
lac_draws = mask[:, :, VARIABLES.index("Lactate")].sum(axis=1)
display(Markdown(
    f"Heart rate is missing in {miss.loc['Heart Rate', 'survived']:.0%} of survivors' hours and "
    f"{miss.loc['Heart Rate', 'died']:.0%} of non-survivors'; creatinine in {miss.loc['Creatinine', 'survived']:.0%} "
    f"and {miss.loc['Creatinine', 'died']:.0%}. Non-survivors had a median of {np.median(lab_draws[y == 1]):.0f} "
    f"creatinine measurements in 48 h against {np.median(lab_draws[y == 0]):.0f} for survivors, and "
    f"{np.mean(lac_draws[y == 1]):.1f} lactates on average against {np.mean(lac_draws[y == 0]):.1f}: sicker "
    f"patients are measured more, so the pattern of measurement itself predicts the outcome."))
miss.style.format("{:.1%}")

# %% [markdown]
# ## By hour since admission and by nursing shift

# %% tags=["hide-input"]
ip.missing_by_hour(mask).show()

# %% [markdown]
# **Figure 2.** Share of episodes with a value, per variable and hour. Admission labs fill the
# first hour; the morning round (about 04:00) falls at a different hour for every patient, so later
# lab hours are spread out; the temperature is charted every four clock hours.

# %%
sh = idesc.shift_of_clock(clock)
by_shift = pd.DataFrame({s: mask[:, :, :6][sh == k].mean(axis=0) for k, s in enumerate(("day", "evening", "night"))},
                        index=list(VARIABLES[:6]))
demo_n = 1500
demo_cfg = IcuConfig(n_episodes=demo_n, split=proportional_split(demo_n), seed=p.seed)


def ablate(*names: str):
    """The demo cohort with the named realism features switched off (same seed, same patients)."""
    return simulate_icu(IcuConfig(n_episodes=demo_n, split=demo_cfg.split, seed=p.seed,
                                  realism=RealismFlags().off(*names)))


base = simulate_icu(demo_cfg)
no_shift = ablate("shift_quality")

# %% tags=["hide-input"]
ip.observed_by_shift({"generated dataset": (mask, clock),
                      "demo: no shift effect": (no_shift.hourly()[1], idesc.clock_hours(no_shift.latent))}).show()

# %% [markdown]
# **Figure 3.** Share of hourly bins with a charted vital, by nursing shift (day 07-15, evening
# 15-23, night 23-07), in the generated dataset and in a demo cohort without the shift effect.
# Night also includes sleep, which makes nurses skip checks; that is why night stays a little
# lower even without the shift effect.

# %%
display(Markdown(
    f"Heart rate is charted in {by_shift.loc['Heart Rate', 'day']:.0%} of day-shift hours, "
    f"{by_shift.loc['Heart Rate', 'evening']:.0%} of evening hours and {by_shift.loc['Heart Rate', 'night']:.0%} of night hours."))

# %% [markdown]
# ## The three mechanisms, made visible
#
# The generator has one switch per mechanism, so we can compare the same patients with and
# without each. What distinguishes the mechanisms is what the chance of recording depends on:
#
# - **MCAR** (missing completely at random): on nothing. Switching it off raises every rate
#   uniformly and changes no relationship.
# - **MAR** (missing at random): on things that are observed, here the shock index on the monitor
#   (heart rate over systolic pressure), which reflects the latent severity. Extra labs are drawn
#   in sicker patients.
# - **MNAR** (missing not at random): on the unobserved value itself: a high lactate or a fever
#   makes its own measurement more likely. No model can correct for this from the observed data
#   alone; it can only exploit it.

# %%
settings = {"all mechanisms": base, "no MCAR": ablate("mcar"), "no MAR": ablate("mar"), "no MNAR": ablate("mnar")}
observed = pd.DataFrame({k: c.observed_fraction() for k, c in settings.items()})
observed.style.format("{:.1%}")

# %% [markdown]
# Each column is the share of hourly bins with a value in the demo cohort under one setting.
# The MAR dependence appears when the chance of a creatinine draw is plotted against the latent
# severity at that hour:

# %%
cre = VARIABLES.index("Creatinine")
curves_mar = {k: (c.severity[:, :48], c.hourly()[1][:, :, cre]) for k, c in settings.items() if k in ("all mechanisms", "no MAR", "no MCAR")}

# %% tags=["hide-input"]
ip.observation_rate_by(curves_mar, np.linspace(-3, 4, 15), "latent severity S(t) in the hour",
                       "MAR: a creatinine is drawn more often when the patient is sicker").show()

# %% [markdown]
# **Figure 4.** Share of hours with a creatinine against the latent severity in that hour. With
# MAR on, the rate rises with severity (the shock index triggers extra panels); without it, it is
# nearly flat; without MCAR, it is shifted up but keeps its shape.

# %%
lac = VARIABLES.index("Lactate")
curves_mnar = {k: (c.truth[:, :48, lac], c.hourly()[1][:, :, lac]) for k, c in settings.items() if k in ("all mechanisms", "no MNAR")}

# %% tags=["hide-input"]
ip.observation_rate_by(curves_mnar, np.linspace(0.5, 8, 16), "true (noiseless) lactate in the hour, mmol/L",
                       "MNAR: a high lactate makes its own measurement more likely").show()

# %% [markdown]
# **Figure 5.** Share of hours with a charted lactate against the true lactate in that hour. With
# MNAR on, the chance rises steeply with the value itself.

# %%
truth_lac = base.truth[:, :48, lac]
m_on = base.hourly()[1][:, :, lac]
m_off = settings["no MNAR"].hourly()[1][:, :, lac]
display(Markdown(
    f"The mean true lactate over all hours is {truth_lac.mean():.2f} mmol/L. Over the hours in which a lactate was "
    f"charted it is {truth_lac[m_on].mean():.2f} with MNAR and {truth_lac[m_off].mean():.2f} without: under MNAR the "
    f"charted values overstate the patient's typical lactate, and an imputer that fills gaps with the mean of "
    f"charted values is biased upwards."))

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
#    predicts the outcome on its own.

# %% tags=["hide-input"]
ip.staleness_figure(mask).show()

# %% [markdown]
# **Figure 6.** How old a forward-filled value is, in hours since it was last observed (after its
# first observation), for a vital, the temperature and two labs.

# %%
stale = idesc.hours_since_last(mask)
counts = {s: data[s].mask.mean(axis=1) for s in splits}
means = {s: window_means(data[s].values) for s in splits}
auc_counts = lr_auroc(counts["train"], data["train"].y, counts["test"], data["test"].y)
auc_means = lr_auroc(means["train"], data["train"].y, means["test"], data["test"].y)
auc_both = lr_auroc(np.hstack([means["train"], counts["train"]]), data["train"].y,
                    np.hstack([means["test"], counts["test"]]), data["test"].y)
display(Markdown(
    f"The median age of a forward-filled creatinine is {np.nanmedian(stale[:, :, cre]):.0f} hours "
    f"(heart rate: {np.nanmedian(stale[:, :, 0]):.0f}). A logistic regression fitted on the train split using "
    f"only how often each variable was charted (15 observation rates, no values) reaches AUROC {auc_counts:.3f} "
    f"on the test split; on the 48-hour means it reaches {auc_means:.3f}, and on both {auc_both:.3f}."))

# %% [markdown]
# ## Conclusion
#
# Missingness in these data is large, structured and informative: vitals are missing in a
# minority of hours and labs in most, night shifts and sleep thin the charting, sicker patients
# are measured more (MAR), and abnormal values call for their own re-measurement (MNAR). Models
# should therefore receive an explicit mask or missingness indicators, forward-filled values with
# their age, and imputers fitted on the training split only, never zeros passed off as values.
