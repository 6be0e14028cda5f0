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
# # Generating synthetic ICU data
#
# The public replication this book starts from (a simplification of {cite:t}`rajkomar2018`) drew each patient's measurements *from* the
# mortality label, so a logistic regression on variable means scored an {term}`AUROC` of 0.9998 and every
# model comparison was meaningless. This chapter builds the replacement: a mechanistic generator
# in which a latent patient state drives physiology, treatment and charting, and the label is drawn
# last from a documented risk model of the latent course. We show the design, each realism feature
# with an ablation, a Table 1 of the cohort, and a headroom table: what the data permit before any
# model of the book is trained. This run took {glue:text}`ch1_minutes`.

# %% tags=["parameters"]
profile = "quick"

# %% tags=["remove-input"]
from ehrlib.booktext import Stopwatch, duration, glue_values, timed
from ehrlib.icu import describe, plots as ip, tour
from ehrlib.icu.reader import read_generated
from ehrlib.mortality import headroom as hr, realism
from ehrlib.plots import setup_notebook, show_figure
from ehrlib.profiles import get_profile

setup_notebook()
clock = Stopwatch()
p = get_profile(profile)
generated = read_generated(p.icu_dir)
data, latent, meta = generated.splits, generated.latent, generated.meta
glue_values(tour.dataset_facts(p.name, data, meta))

# %% [markdown]
# Profile **{glue:text}`profile_name`**: {glue:text}`n_total:,` episodes (train {glue:text}`n_train:,`,
# validation {glue:text}`n_val:,`, test {glue:text}`n_test:,`); observed mortality
# {glue:text}`prevalence_pct:.1f` % against a target of {glue:text}`target_pct:.1f` %.
#
# ## Design: latent state, course, physiology, charting, label
#
# Every episode has a latent state: age, sex, admission category and clock time, a baseline
# severity that depends on age and admission category, and a 48-hour trajectory
# $S(t) = s_0 + r\,(t/48)^k + w(t)$ whose patient-specific rate $r$ makes it recover ($r<0$) or
# deteriorate ($r>0$), with a slow random wander $w$. Four organ-dysfunction factors
# (cardiovascular, respiratory, renal, inflammatory) follow $S(t)$ with organ-specific offsets and
# drifts. On top of this course come acute events (sepsis, bleeding) at random hours that clear at a
# patient-specific rate or not at all, post-operative derangement after elective surgery, treatments
# (oxygen and ventilation, vasopressors, fluid boluses) that normalise what is charted, and in some
# old, severely ill patients a decision to limit treatment, after which monitoring is withdrawn.
# The 15 variables are linear in the organ factors on a natural scale, with clinical signs and
# milder loadings than a textbook picture. The generator (`ehrlib.icu.synth.simulate_icu`) runs these steps as named
# functions, from `draw_subjects` to `assemble_rows`.
#
# The true risk is a logistic model whose weights live in one place in the code
# (`RISK_WEIGHTS`); the formula below is generated from them, and a test checks that the module's
# documentation shows the same text:
#
# {glue:text}`risk_model`
#
# Most of the weight lies on the course: the first day's circulatory load $C(0\text{-}24)$ (the
# mean cardiovascular factor over hours 0-24; first-day severity and the mean SOFA score predict
# death beyond the current state), and the share of an acute event not yet cleared at hour 48, so the
# time since the event and the response to treatment matter more than its size. The state at hour 48
# still counts, but with small weights. The U-shaped terms penalise abnormal
# temperature, glucose and sodium in either direction. The intercept $b_0$ is solved so that the
# mean risk equals the target mortality, and the label is one Bernoulli draw from its own random
# stream; changing the target mortality changes labels but no observed value (a test checks this).
# A subject's in-hospital death ends their history: no later episode exists for them (tested).
#
# The figures of the next sections follow a demo cohort simulated in memory; {numref}`fig-01-1` shows its
# latent course.

# %% tags=["remove-input"]
demo = tour.demo_cohort(p.seed)
glue_values(tour.severity_facts(demo))

# %% tags=["hide-input"]
show_figure("fig-01-1", ip.severity_trajectories(demo.base))

# %% [markdown]
# ```{glue:figure} fig-01-1
# :name: fig-01-1
#
# Latent severity $S(t)$ of twelve survivors (blue, solid) and twelve non-survivors (red)
# of a {glue:text}`n_demo:,`-episode demo cohort, with the mean of each group (thick lines; the
# non-survivors' dashed).
# ```
#
# Mean severity at admission is {glue:text}`sev0_surv:.2f` in survivors and
# {glue:text}`sev0_died:.2f` in non-survivors ({glue:text}`sev0_word` in those who die); at 48 h
# {glue:text}`sev48_surv:.2f` and {glue:text}`sev48_died:.2f`, so the gap between the outcomes
# {glue:text}`sev_change_word` over the stay. {glue:text}`deteriorating_pct:.0f` % of the demo patients
# have a deteriorating trend ($r > 0$).
#
# ## Realism features, one at a time
#
# Each feature is a switch in `RealismFlags`. Every model component draws from its own random
# stream and draws its numbers whether or not it is switched on, so `ablate(config, name)` changes
# only that feature: the figures compare the *same* patients.
#
# ### Circadian rhythm and sleep
#
# Heart rate, blood pressure, respiratory rate and temperature follow 24-hour cosines phased by
# the real clock time, damped in sicker patients. Between about 23:00 and 06:00 patients sleep in
# fragments, which lowers heart rate and blood pressure (and makes nurses skip checks). See {numref}`fig-01-2`.

# %% tags=["remove-input"]
rhythm = tour.rhythm_settings(demo)
glue_values(tour.rhythm_facts(rhythm))

# %% tags=["hide-input"]
show_figure("fig-01-2", ip.clock_profile(rhythm, "Heart Rate"))

# %% [markdown]
# ```{glue:figure} fig-01-2
# :name: fig-01-2
#
# Survivors' mean charted heart rate by clock hour, with both features, without each
# and without either. The day-night range of the profile is {glue:text}`hr_range_all:.1f` bpm
# with all features ({glue:text}`hr_range_word` of the four), {glue:text}`hr_range_nocirc:.1f` without
# the circadian rhythm, {glue:text}`hr_range_nosleep:.1f` without sleep and {glue:text}`hr_range_neither:.1f`
# without either.
# ```
#
# ### Meals
#
# Patients who eat (fewer of the sicker ones) have glucose excursions after breakfast, lunch and
# dinner (08:00, 12:30, 18:00), twice as large in diabetics. See {numref}`fig-01-3`.

# %% tags=["hide-input"]
show_figure(
    "fig-01-3", ip.clock_profile(tour.meal_settings(demo), "Glucose")
)

# %% [markdown]
# ```{glue:figure} fig-01-3
# :name: fig-01-3
#
# Survivors' mean charted glucose by clock hour, with and without meals.
# ```
#
# ### Temporal variability: noise, jitter, dropouts, artifacts
#
# Physiological fluctuation (autocorrelated from hour to hour), measurement noise, charting times
# scattered over the minutes after the hour, runs of missed hours and occasional artifacts (motion,
# probe off, transducer flush). Switched off, every chart falls on the hour and shows the noiseless
# physiology. See {numref}`fig-01-4`.

# %% tags=["hide-input"]
show_figure("fig-01-4", ip.example_figure(tour.variability_example(demo)))

# %% [markdown]
# ```{glue:figure} fig-01-4
# :name: fig-01-4
#
# The highest-risk demo patient whose trajectory rate exceeds 0.5, charted with and
# without temporal variability.
# ```
#
# ### Individual variability
#
# Every subject has personal set points for each variable, personal response gains and a personal
# circadian amplitude (shared by a subject's repeated episodes): 95 bpm is normal for one patient and
# alarming for another. See {numref}`fig-01-5`.

# %% tags=["remove-input"]
individual = tour.individual_variability(demo)
glue_values(individual.values)

# %% tags=["hide-input"]
show_figure("fig-01-5", ip.distributions_figure(individual))

# %% [markdown]
# ```{glue:figure} fig-01-5
# :name: fig-01-5
#
# Survivors' 48-hour mean heart rate with and without patient-specific set points;
# its standard deviation is {glue:text}`hr_sd_indiv:.1f` bpm with individual variability and
# {glue:text}`hr_sd_noindiv:.1f` bpm without it (the spread is {glue:text}`hr_sd_word` with set points).
# ```
#
# ### Multivariate correlations
#
# Beyond the shared organ factors, the short-term fluctuations of the variables are correlated
# (systolic with diastolic pressure, heart rate with respiratory rate and temperature, creatinine
# with urea). See {numref}`fig-01-6`.

# %% tags=["hide-input"]
show_figure(
    "fig-01-6", ip.correlation_heatmaps(tour.correlation_settings(demo))
)

# %% [markdown]
# ```{glue:figure} fig-01-6
# :name: fig-01-6
#
# Correlation of within-patient fluctuations (hourly values minus the patient's own
# mean) of the six vitals, with the feature on and off. What remains when it is off comes from the
# organ factors, which move the variables together.
# ```
#
# ### Acute events, surgery, treatment and its limitation
#
# These features make the course matter. The table counts them in the profile's dataset, with the
# observed mortality of the episodes with and without each.

# %% tags=["remove-input"]
care = tour.care_table(latent)
glue_values(tour.care_facts(care))
care.round(1)

# %% [markdown]
# {glue:text}`pct_event:.1f` % of episodes have an acute event, {glue:text}`pct_o2:.1f` % receive
# supplemental oxygen, {glue:text}`pct_fluids:.1f` % fluid boluses and {glue:text}`pct_vaso:.1f` %
# vasopressors. Treatment is limited in
# {glue:text}`pct_limited:.1f` % of episodes, of whom {glue:text}`mort_limited:.0f` % die;
# post-operative patients die {glue:text}`postop_word` often than the others ({glue:text}`mort_postop:.1f` %
# of episodes against {glue:text}`mort_not_postop:.1f` %). Treatment changes what a nurse charts: oxygen
# acts on the saturation of patients in respiratory failure and vasopressors on their blood pressure
# ({numref}`fig-01-7` shows the first effect on the 48-hour mean in the demo cohort).

# %% tags=["remove-input"]
treatment = tour.treatment_effects(demo)
glue_values(treatment.values)

# %% tags=["hide-input"]
show_figure("fig-01-7", ip.distributions_figure(treatment))

# %% [markdown]
# ```{glue:figure} fig-01-7
# :name: fig-01-7
#
# 48-hour mean SpO2 of the demo patients who receive supplemental oxygen, as charted
# (treated) and as the same patients would chart without treatment. Median
# {glue:text}`spo2_treated:.1f` % treated, {glue:text}`spo2_word` than {glue:text}`spo2_untreated:.1f` %
# untreated.
# ```
#
# For blood pressure, the {glue:text}`n_vaso` demo patients on vasopressors for more than 12 of the 48
# hours have a median 48-hour mean systolic pressure of {glue:text}`sbp_treated:.0f` mmHg as charted,
# {glue:text}`sbp_word` than the {glue:text}`sbp_untreated:.0f` mmHg they would chart untreated.
# {glue:text}`treatment_hides`; the risk model sees the illness itself.
#
# Fluid boluses (500 mL) are given while the circulation fails, often on the first day and rarely
# after it. About half of the patients respond: their blood pressure rises and their heart rate falls
# for a few hours after each bolus ({numref}`fig-01-8`). In the others a bolus barely moves the
# chart, and fluids stop after {glue:text}`fluid_limit` boluses. Every bolus dilutes the blood, so
# haemoglobin and bicarbonate fall and recover over about a day. Fluids change only the chart, never
# the true risk; how many boluses a patient needs still tracks the failing circulation that does
# carry it (the table above gives the mortality of patients with and without fluids).

# %% tags=["remove-input"]
fluid_values, fluid_patient = tour.fluid_effects(demo)
glue_values(fluid_values)

# %% tags=["hide-input"]
show_figure("fig-01-8", ip.example_figure(fluid_patient))

# %% [markdown]
# ```{glue:figure} fig-01-8
# :name: fig-01-8
#
# A demo patient who responds to fluids ({glue:text}`fl_boluses` boluses), charted with and without
# them (same patient otherwise). Haemoglobin, drawn once or twice a day, is left out; the text below
# gives its dilution.
# ```
#
# Over the first 24 hours, the {glue:text}`n_fluids_resp` demo patients who receive fluids and
# respond have a median mean systolic pressure of {glue:text}`sbp_fluids_resp:.1f` mmHg as charted,
# {glue:text}`sbp_resp_word` than the {glue:text}`sbp_dry_resp:.1f` mmHg without fluids; for the
# {glue:text}`n_fluids_nonresp` who do not respond the figures are {glue:text}`sbp_fluids_nonresp:.1f` and
# {glue:text}`sbp_dry_nonresp:.1f` mmHg. Patients given fluids receive a median of
# {glue:text}`bolus_median:.0f` boluses. The 48-hour median haemoglobin of patients with at least two
# boluses is {glue:text}`hb_fluids:.1f` g/dL, {glue:text}`hb_word` than the {glue:text}`hb_dry:.1f` g/dL
# without fluids. Switching fluids off leaves every label {glue:text}`fluids_same_risk`.
#
# {numref}`fig-01-9` follows one patient with an acute event.

# %% tags=["remove-input"]
event_values, event_patient = tour.event_example(demo)
glue_values(event_values)

# %% tags=["hide-input"]
show_figure("fig-01-9", ip.example_figure(event_patient))

# %% [markdown]
# ```{glue:figure} fig-01-9
# :name: fig-01-9
#
# A demo patient with an acute event at hour {glue:text}`ev_hour:.1f`, charted with
# and without acute events (same patient otherwise).
# ```

# %% tags=["remove-input"]
glue_values(tour.risk_ablation_facts(demo))

# %% [markdown]
# The U-shaped terms change only the risk. In the demo cohort the true risk's AUROC against the
# drawn labels is {glue:text}`auc_demo:.3f` with all features, {glue:text}`auc_no_u:.3f` without
# the U-shaped terms and {glue:text}`auc_uni:.3f` with the univariate risk model ($b_0 + S(48)$,
# {glue:text}`uni_word` than the full model); the observations are {glue:text}`same_obs` in all three.
#
# ### Missingness and documentation by nursing shift
#
# Vitals are checked about hourly, labs drawn in panels at admission, on the morning round and when
# indicated, lactate when indicated (shock, vasopressors, an acute event). *MCAR* removes a check or
# a single value at random, *MAR* thins checks in stable patients and adds labs when the charted
# shock index is high, *MNAR* makes a value's own abnormality change its chance of being recorded;
# evening and night shifts check less often, chart later and round blood pressures to 5. Chapter 2
# studies these in detail. See {numref}`fig-01-10`.

# %% tags=["hide-input"]
show_figure(
    "fig-01-10", ip.observed_by_setting(tour.observed_by_ablation(demo))
)

# %% [markdown]
# ```{glue:figure} fig-01-10
# :name: fig-01-10
#
# Observed share of hourly bins per variable with all features on and with each
# missingness mechanism (or the shift effect) switched off.
# ```
#
# ## The cohort: Table 1
#
# The profile's dataset, read back from disk with `ehrlib.icu.reader` (hourly bins), by outcome.
# Vital and laboratory values are per-patient means over the first 24 hours, shown as median
# (interquartile range) across patients.

# %% tags=["remove-input"]
pooled = tour.pool(data, latent)
glue_values(tour.cohort_facts(pooled))
describe.table_one(pooled.latent, pooled.values)

# %% [markdown]
# Survivors' median 48-hour means: heart rate {glue:text}`surv_hr:.0f`, systolic pressure
# {glue:text}`surv_sbp:.0f`, respiratory rate {glue:text}`surv_rr:.0f`, SpO2 {glue:text}`surv_spo2:.0f`,
# temperature {glue:text}`surv_temp:.1f`, glucose {glue:text}`surv_glu:.0f` (the real benchmark's
# normal values are 86, 118, 19, 98, 36.6 and 128). A lactate is charted in
# {glue:text}`lactate_stays_pct:.0f` % of stays.
#
# ## Headroom: what the data permit
#
# Before any model of the book is trained, the table measures on the test split (every model fitted
# on the train split) what the data allow. The true risk is what the labels were drawn from, so no model
# can be expected to rank the test patients better. Gradient-boosted trees given the *exact latent
# trajectory* (severity and organ factors every 2 hours, age, admission category) and given only the
# *latent state at hour 48* show how much the course adds to the end state: the generator puts weight on
# the course by design. The remaining rows use only what is charted: the MIMIC-III benchmark's logistic
# regression on 7 sub-windows x 6 statistics, regressions on each variable's last value and 48-hour mean,
# and one on how often each variable was charted (missingness alone). Every AUROC has a 95 % interval
# from {glue:text}`n_boot:,` bootstrap resamples of the test *subjects*; each row's distance to the true
# risk is a {term}`paired difference <Paired bootstrap difference>` on the same resamples (a ratio to the
# true risk would hide that chance is 0.5, not 0).

# %% tags=["remove-input"]
with timed() as simulation:
    cohort = tour.resimulate(meta, pooled.latent["stay"].to_numpy())
single = describe.single_variable_aurocs(data["train"], data["test"])
room = hr.headroom_study(cohort, data["train"], data["test"], n_boot=p.n_bootstrap, seed=p.seed)
glue_values({**hr.headroom_facts(room, single), "t_simulate": simulation.seconds})
room.table()

# %% [markdown]
# The true risk reaches {glue:text}`iv_true` on test, and {glue:text}`gaps_word` other row's paired
# interval lies wholly below it. Trees on the latent trajectory reach {glue:text}`iv_traj` and on the
# latent state at hour 48 {glue:text}`iv_state48`; trajectory minus state is {glue:text}`iv_temporal`
# (paired), so on this test split trees on the trajectory {glue:text}`temporal_word` trees on the end
# state; that difference measures the signal that lies in the course. From the charts, the benchmark's
# regression reaches {glue:text}`iv_bench`, a regression on last values {glue:text}`iv_last`, on 48-hour means
# {glue:text}`iv_means`, and on observation counts alone {glue:text}`iv_counts`. Measured against the true
# risk, the benchmark's regression is {glue:text}`gap_bench` and the counts {glue:text}`gap_counts` (AUROC
# minus the true risk's, paired). The in-memory re-simulation of this dataset used for the latent rows took
# {glue:text}`t_simulate:.1f` s; it reproduces the files' stays (checked).
#
# Real MIMIC-III stays give a sense of scale, not a target: there the benchmark's logistic regression
# reaches 0.848 {cite:p}`harutyunyan2019` and the benchmark's LSTM 0.870 (0.852 to 0.887), as the
# benchmark's evaluation README reports.
#
# A regression on one variable's 48-hour mean reaches between {glue:text}`worst_single_auc:.3f`
# ({glue:text}`worst_single`) and {glue:text}`best_single_auc:.3f` ({glue:text}`best_single`), the best
# single variable {glue:text}`single_word` the benchmark's regression on every variable:

# %% tags=["remove-input"]
single.round(3).rename_axis("variable").reset_index()

# %% [markdown]
# {numref}`fig-01-11` shows how the true risk itself is spread among survivors and non-survivors.

# %% tags=["hide-input"]
show_figure("fig-01-11", ip.risk_by_outcome(pooled.latent))

# %% [markdown]
# ```{glue:figure} fig-01-11
# :name: fig-01-11
#
# Distribution of the true risk among survivors and non-survivors. The overlap is
# irreducible: even a perfect model cannot separate deaths drawn from moderate risks. Its 90th
# percentile is {glue:text}`risk_q90:.2f` and its 99th {glue:text}`risk_q99:.2f`.
# ```
#
# ## Realism: beside real ICU stays
#
# How close is this to real ICU data? The generator's default is calibrated to the open PhysioNet/Computing in
# Cardiology Challenge 2012 stays ({doc}`chapter 9 <09-physionet2012>`), read by the project's real-data reader and
# cleaned by it: set B's 4,000 stays beside this dataset's test split, on the variables both chart. Per variable:
# the share of stays measured, the hours (vital signs) or draws (labs) with a value per stay, the 48-hour mean's
# median in survivors and non-survivors, and its univariate AUROC (direction-free, among the stays measured). Then
# models on each dataset's own time series (fitted on 4,000 training stays each, the real set A, scored on the test
# stays): observation counts alone, 48-hour means with last values, the benchmark's 7 x 6 regression and boosted
# trees. {glue:text}`realism_status`

# %% tags=["remove-input"]
with timed() as reading:
    section = realism.realism_section((data["train"], data["test"]), realism.real_sets(),
                                      true_risk_auroc=room.auroc["true"].value, headroom=room.temporal.value)
glue_values({**section.values, "t_realism": reading.seconds})
section.table.round(2)

# %% tags=["hide-input"]
show_figure("fig-01-12", section.figure)

# %% [markdown]
# ```{glue:figure} fig-01-12
# :name: fig-01-12
#
# Per shared variable, ours (this dataset's test split) beside PhysioNet 2012's set B: univariate AUROC of the
# 48-hour mean, hours or draws with a value per stay, and the share of stays measured.
# ```
#
# Each variable on its own separates the outcomes weakly in both ({numref}`fig-01-12`): the median univariate
# AUROC over the shared variables is {glue:text}`ours_median_auc:.3f` here and {glue:text}`real_median_auc:.3f`
# on the real stays. On each dataset's own time series, observation
# counts alone reach {glue:text}`ours_counts:.3f` here against {glue:text}`real_counts:.3f` on the real stays,
# 48-hour means with last values {glue:text}`ours_means_last:.3f` against {glue:text}`real_means_last:.3f`, the
# benchmark's regression {glue:text}`ours_bench:.3f` against {glue:text}`real_bench:.3f` and boosted trees
# {glue:text}`ours_gbt:.3f` against {glue:text}`real_gbt:.3f` (the report took {glue:text}`t_realism:.0f` s).
# The real models read all {glue:text}`n_real_vars` of PhysioNet 2012's variables, where this default charts
# {glue:text}`n_shared` of them: among the others are the Glasgow coma scale (alone an AUROC of
# {glue:text}`gcs_auc:.2f` in set B) and urine output ({glue:text}`urine_auc:.2f`); neurology, urine output and age
# carry much of the real signal, and our default keeps them latent (age and the kidney enter our risk, but only urea
# and creatinine show them). On the shared variables alone the real regressions reach
# {glue:text}`real_shared_counts:.3f` (counts) and {glue:text}`real_shared_means_last:.3f` (means with last values):
# the gap to ours {glue:text}`shared_gap_word` when the real models see only what ours chart. The benchmark variable
# set (`--variables benchmark`) charts the Glasgow coma scale, which our latent severity and
# inflammation drive; no set charts urine output yet. Every target, met or missed by how much:

# %% tags=["remove-input"]
realism.targets_table(section.targets).round(3)

# %% [markdown]
# ## Speed and reproducibility
#
# The generator vectorises over episodes x hourly slots x variables and writes each file with one
# call from pre-formatted cells. `make bench` generates the full default dataset twice and prints
# its time, peak memory and whether the two folders are byte-identical (`metadata.json` holds no
# timings, so the whole folder is). `ehrlib generate icu --out DIR --episodes N --seed S` writes any
# size; `--variables benchmark` writes the real benchmark's 17 variables (the Glasgow coma scale as
# its categorical text) and `--layout benchmark` its on-disk layout, which `make test` runs chapters
# 3, 4, 7 and 8 on.
#
# ## Conclusion
#
# The synthetic ICU data are generated from a latent patient course through physiology, treatment
# and charting, and the label is drawn from a risk model that never touches the observations. On
# this profile's test split the true risk reaches an AUROC of {glue:text}`iv_true` and the benchmark's
# regression {glue:text}`iv_bench`; the regression's AUROC minus the true risk's, {glue:text}`gap_bench`
# (paired), is the room the following chapters' models have to work in. Trees on the latent trajectory minus
# trees on the state at hour 48 is {glue:text}`iv_temporal`: on this split they {glue:text}`temporal_word`
# the end state's trees.

# %% tags=["remove-input"]
glue_values({"minutes": duration(clock.elapsed)}, "ch1_")
