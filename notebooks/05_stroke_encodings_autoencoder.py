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
# # Stroke: cohort, encodings and the ICD-10 autoencoder
#
# This chapter prepares the second study, {cite:t}`teoh2018`, "Towards stroke prediction using electronic health
# records": from the synthetic hospital tables (patients, ICD-10 diagnoses, blood and biochemical exams) it
# builds the case-control cohort, encodes each patient's diagnoses and exams as the paper's Eq. 4-6
# describe, trains the single-hidden-layer autoencoder that turns ICD-10 codes into 32-dimensional vectors
# (Eq. 7-8), and builds one labelled sample per history prefix: positive when a first stroke follows within
# 365 days of the prefix's last record. Every choice the paper leaves open is named where it is made. This
# run took {glue:text}`ch05_minutes`.

# %% tags=["parameters"]
profile = "quick"

# %% tags=["remove-input"]
from ehrlib.booktext import Stopwatch, duration, glue_values, interval, timed
from ehrlib.jsonfiles import read_timings, write_json
from ehrlib.plots import setup_notebook, show_figure
from ehrlib.profiles import get_profile, project_root
from ehrlib.stroke import autoencoder, cohort as cohorts, encoding, icd10, plots as stroke_plots
from ehrlib.stroke.results import cohort_results
from ehrlib.stroke.schema import read_stroke_tables, table_sizes

setup_notebook()
clock = Stopwatch()
P = get_profile(profile)
timings = {"generation": read_timings(P.stroke_dir).get("generation_seconds", float("nan"))}

# %% [markdown]
# ## The hospital tables
#
# The tables were generated beforehand by `python -m ehrlib data --profile quick` (or `full`); reading
# them validates every column against the schema (`ehrlib.stroke.schema`).

# %%
with timed(timings, "read_tables"):
    tables = read_stroke_tables(P.stroke_dir)
table_sizes(tables)

# %% tags=["remove-input"]
glue_values({"n_patients": f"{len(tables.patients):,}", "t_generation": timings["generation"],
             "t_read": timings["read_tables"]}, "ch05_")

# %% [markdown]
# The population has {glue:text}`ch05_n_patients` patients, with the diagnoses and exam values counted
# above; generating it took {glue:text}`ch05_t_generation:.1f` s and reading and validating the Parquet
# tables {glue:text}`ch05_t_read:.1f` s.

# %% [markdown]
# ## The case-control cohort
#
# Cases have a first stroke (I60-I69) between 2001 and 2015 at ages 45-95 with a diagnosis and an exam
# before it; each gets exactly two controls of the same birth year and gender who never had a stroke and
# have records before and after the case's diagnosis date. A case with its controls is a
# {term}`matched set <Matched set>`. The split is 70 / 15 / 15 by case, each control following its case, so
# no matched set straddles two splits.

# %%
with timed(timings, "cohort"):
    matched = cohorts.build_cohort(tables, seed=P.seed)
    cohort = cohorts.split_cohort(matched, seed=P.seed)
cohorts.split_table(cohort)

# %% [markdown]
# The matching rules are checked on the result, not assumed:

# %%
checks = cohorts.matching_checks(cohort, tables)
cohorts.checks_table(checks)

# %% tags=["remove-input"]
counts = cohorts.cohort_counts(cohort)
glue_values({"n_cases": f"{counts['cases']:,}", "n_controls": f"{counts['controls']:,}",
             "checks": cohorts.checks_verdict(checks), "t_cohort": timings["cohort"]}, "ch05_")

# %% [markdown]
# The cohort has {glue:text}`ch05_n_cases` cases and {glue:text}`ch05_n_controls` controls (the paper,
# from its real hospital: 2,725 and 5,450); {glue:text}`ch05_checks`. Building and splitting the cohort
# took {glue:text}`ch05_t_cohort:.1f` s.

# %% [markdown]
# ## Records, day categories and exam summaries
#
# A case's records are those strictly before its first stroke; a control's those strictly before its
# case's stroke date (the same calendar window as its case, so that neither history length nor calendar
# time tells cases from controls). Diagnoses on the same day are ordered by ICD-10 code and exact
# duplicates dropped. Age is fractional years from 1 July of the birth year (only the year is known). Exams
# are summarised by age: one row per (patient, year of age), holding the newest value of each metric at
# that age.
#
# The days $n$ since a patient's previous record of the same kind become a category (Eq. 5), one-hot
# encoded as $\mathbf{c}$:
#
# ```{math}
# :label: eq-05-5
# n_c = \begin{cases} 0 & \text{first record, or } 0 \le n < 7\\ 1 & 7 \le n < 30\\ 2 & 30 \le n < 90\\
# 3 & 90 \le n < 180\\ 4 & 180 \le n \le 365\\ 5 & 365 < n \end{cases}
# ```
#
# {numref}`fig-05-1` shows how the records fall into these categories.

# %%
config = encoding.EncodingConfig()
with timed(timings, "records"):
    prepared = encoding.prepare_records(tables, cohort, config)

# %% tags=["hide-input"]
show_figure("fig-05-1", stroke_plots.day_category_figure(
    prepared.diagnoses, prepared.exams))

# %% [markdown]
# ```{glue:figure} fig-05-1
# :name: fig-05-1
#
# Share of diagnoses and of exam-years in each Eq. 5 category of days since the patient's
# previous record of the same kind (the first record counts as category 0).
# ```
#
# How long the histories are, per cohort patient:

# %%
encoding.history_lengths(prepared)

# %% tags=["remove-input"]
cover = encoding.window_coverage(prepared, config)
glue_values({"t_records": timings["records"], "cover_dx": 100 * cover["diagnosis"],
             "cover_ex": 100 * cover["exam"], "cover_dx_verdict": encoding.coverage_verdict(cover["diagnosis"]),
             "max_dx": config.max_diagnoses, "max_ex": config.max_exam_years}, "ch05_")

# %% [markdown]
# Summarising took {glue:text}`ch05_t_records:.1f` s. A window of {glue:text}`ch05_max_dx` diagnoses holds
# the whole history of {glue:text}`ch05_cover_dx:.0f` % of the cohort, {glue:text}`ch05_cover_dx_verdict`
# (the coverage for which the paper chose the length), and {glue:text}`ch05_max_ex` exam-years that of
# {glue:text}`ch05_cover_ex:.0f` %; longer histories keep their most recent records in each window.

# %% [markdown]
# ### One example patient
#
# A training case with a short history shows each step: the training case with the lowest patient id among
# those with 6 to 15 diagnoses, at least three exam-years and a gap in some exam. Its records over time
# ({numref}`fig-05-2`):

# %%
example = encoding.example_patient(prepared, cohort)

# %% tags=["hide-input"]
show_figure("fig-05-2", stroke_plots.example_timeline_figure(example))

# %% [markdown]
# ```{glue:figure} fig-05-2
# :name: fig-05-2
#
# The example patient's diagnoses (by ICD-10 chapter) and exam-years; the dashed line is the
# first stroke, after which nothing is used.
# ```
#
# Its diagnoses, each with the days since the one before and the Eq. 5 category:

# %%
example.diagnosis_table()

# %% [markdown]
# Each row becomes one diagnosis vector once the code is embedded (below). The exam summary of the same
# patient, for the metrics it is missing somewhere, before any imputation:

# %%
example.exam_table()

# %% [markdown]
# Missing values are first rolled forward within the patient, then what is still missing (metrics never
# measured so far) takes the training split's mean for the patient's gender; finally every metric is
# standardised with the training mean and standard deviation. All of these statistics are fitted on the
# training patients only. Two of the example's gappy metrics, at each step:

# %%
state = encoding.fit_encoding_state(prepared, config)
example.imputation_table(state)

# %% tags=["remove-input"]
facts = example.imputation_facts(state)
glue_values({"ex_gender": example.gender, "ex_missing": facts["missing"], "ex_roll": facts["by_roll"],
             "ex_mean": facts["by_mean"], "ex_mean_note": facts["mean_note"],
             "n_train_patients": f"{state.n_train_patients:,}"}, "ch05_")

# %% [markdown]
# Of the {glue:text}`ch05_ex_missing` missing values of this patient's gappy metrics,
# {glue:text}`ch05_ex_roll` are filled by carrying a value forward and {glue:text}`ch05_ex_mean` (those
# before the metric's first measurement) by the training mean for gender
# {glue:text}`ch05_ex_gender`{glue:text}`ch05_ex_mean_note`. The state was fitted on
# {glue:text}`ch05_n_train_patients` training patients and is saved as JSON.

# %% [markdown]
# ## The ICD-10 autoencoder
#
# Each code is a one-hot vector $\mathbf{x}_{ICD} \in \{0,1\}^V$ over the vocabulary of $V$ codes,
# encoded in 32 dimensions (Eq. 7) and decoded with a softmax over the vocabulary (Eq. 8):
#
# ```{math}
# :label: eq-05-7
# \mathbf{d} = \tanh\left(\mathbf{x}_{ICD}^{T}\mathbf{W}_{input} + \mathbf{b}_{input}\right),
# \qquad
# \mathbf{y}_{decoding} = \operatorname{softmax}\left(\mathbf{d}^{T}\mathbf{W}_{output} +
# \mathbf{b}_{output}\right),
# ```
#
# trained to reproduce its input by minimising the categorical cross-entropy over the vocabulary,
#
# ```{math}
# :label: eq-05-ae-loss
# L = -\frac{1}{V} \sum_{i=1}^{V} \sum_{k=1}^{V} x_{ICD,k}^{(i)} \log y_{decoding,k}^{(i)}
#   = -\frac{1}{V} \sum_{i=1}^{V} \log y_{decoding,i}^{(i)} .
# ```
#
# The vocabulary is every code that appears in the hospital tables (the paper's "supported" 6,905 codes
# were likewise its own data's). Each epoch presents every code once; Adam; seeded initialisers; training
# stops at the first epoch whose weights reconstruct every code, with the profile's epoch count as the
# ceiling. The input layer gathers row $i$ of $\mathbf{W}_{input}$ instead of multiplying by a one-hot
# vector: the same numbers, without a $V \times V$ matrix (the tests check both identities). {numref}`fig-05-3` shows the training.

# %%
vocab = icd10.build_vocabulary(tables.diagnoses["icd10"].unique())
ae_config = autoencoder.AutoencoderConfig(epochs=P.autoencoder_epochs,
                                          seed=P.seed)
ae = autoencoder.train_autoencoder(vocab, ae_config)

# %% tags=["hide-input"]
show_figure("fig-05-3", stroke_plots.autoencoder_history_figure(ae.history))

# %% [markdown]
# ```{glue:figure} fig-05-3
# :name: fig-05-3
#
# Cross-entropy loss (left, log scale) and training accuracy (right) of the autoencoder per epoch.
# ```

# %% tags=["remove-input"]
timings["autoencoder"] = ae.seconds
glue_values({"vocab_size": f"{len(vocab):,}", "recon_pct": 100 * ae.reconstruction_accuracy,
             "recon_verdict": autoencoder.reconstruction_verdict(ae.reconstruction_accuracy),
             "ae_epochs": len(ae.history["loss"]), "ae_max_epochs": ae.config.epochs,
             "ae_seconds": ae.seconds}, "ch05_")

# %% [markdown]
# Over the {glue:text}`ch05_vocab_size` codes, {glue:text}`ch05_recon_pct:.2f` % are reconstructed (the
# argmax of the decoding equals the input): {glue:text}`ch05_recon_verdict`. Training took
# {glue:text}`ch05_ae_epochs` of at most {glue:text}`ch05_ae_max_epochs` epochs and
# {glue:text}`ch05_ae_seconds:.0f` s. The model is saved as `icd10_autoencoder.keras` with the vocabulary in
# `icd10_vocabulary.json`. {numref}`fig-05-4` shows the code vectors.

# %% tags=["hide-input"]
show_figure("fig-05-4", stroke_plots.code_embedding_figure(ae.embedding()))

# %% [markdown]
# ```{glue:figure} fig-05-4
# :name: fig-05-4
#
# The 32-dimensional code vectors projected on their first two principal components, one point
# per code, coloured by ICD-10 chapter (hover for the code).
# ```
#
# The autoencoder is trained on the identity alone, so nothing asks it to place related codes together. Do
# codes of one chapter still sit together? A 5-nearest-neighbour classifier predicts each code's chapter
# from its vector (five-fold cross-validated):

# %%
chapters = icd10.icd10_chapter(vocab.codes)
neighbours = autoencoder.chapter_neighbours(ae.embedding(), chapters)

# %% tags=["remove-input"]
glue_values({"knn": neighbours.accuracy, "majority": neighbours.majority,
             "knn_verdict": neighbours.verdict()}, "ch05_")

# %% [markdown]
# Its accuracy is {glue:text}`ch05_knn:.2f`, against {glue:text}`ch05_majority:.2f` for always naming the
# largest chapter, {glue:text}`ch05_knn_verdict`.

# %% [markdown]
# ## Samples per history prefix
#
# Every prefix of a patient's records is one sample. The diagnosis input of the $i$-th diagnosis takes the
# up to 35 most recent diagnoses ending there (Eq. 4), the exam input of the $j$-th exam-year the up to 20
# exam-years ending there (Eq. 6):
#
# ```{math}
# :label: eq-05-4
# \mathbf{X}_{diagnosis}^{(i)} = \left(\mathbf{x}_{diagnosis}^{(h)}, \dots,
# \mathbf{x}_{diagnosis}^{(i)}\right),\; h = \max(1, i - 34),\; h \ne i;
# \qquad
# \mathbf{X}_{exam}^{(j)} = \left(\mathbf{x}_{exam}^{(1)}, \dots, \mathbf{x}_{exam}^{(j)}\right),\;
# 0 < j \le 20 .
# ```
#
# The condition $h \ne i$ excludes a one-diagnosis input, so diagnosis samples start at the second
# diagnosis; a patient with more than 20 exam-years keeps the 20 most recent in each window. Each record
# is a vector of the gender $g \in \{0, 1\}$, the standardised age $a$, the Eq. 5 one-hot $\mathbf{c}$ and
# either the code vector $\mathbf{d}$ of Eq. 7 or the 20 standardised exam metrics $\mathbf{e}$:
#
# ```{math}
# :label: eq-05-6
# \mathbf{x}_{diagnosis}^{(i)} = \left(g, a_d^{(i)}, \mathbf{c}_d^{(i)}, \mathbf{d}^{(i)}\right)
# \in \mathbb{R}^{40},
# \qquad
# \mathbf{x}_{exam}^{(j)} = \left(g, a_e^{(j)}, \mathbf{c}_e^{(j)}, \mathbf{e}^{(j)}\right)
# \in \mathbb{R}^{28} .
# ```
#
# Sequences are pre-padded with zeros and carry a mask. A sample is positive when a first stroke follows
# within 365 days of its last record. The generator's true one-year risk at that date is kept beside each
# sample (never as a feature). A third, "dual" input pairs each exam sample with the diagnoses dated on or
# before its exam-year, for the dual-input model. The example patient's last diagnosis vector, first
# twelve numbers:

# %%
with timed(timings, "encodings"):
    encoded = encoding.encode_cohort(tables, cohort, ae.embedding(), config,
                                     state=state, prepared=prepared)
example.last_diagnosis_vector(encoded)

# %% tags=["remove-input"]
timings["encodings"] += timings["records"]
glue_values({f"vec_{k}": v for k, v in example.last_vector_facts(encoded).items()}, "ch05_")

# %% [markdown]
# Gender {glue:text}`ch05_vec_gender`, standardised age {glue:text}`ch05_vec_age:.2f`, day category
# {glue:text}`ch05_vec_day_cat` (one-hot in the next six numbers), then the code vector's first four
# coordinates. Its sample holds {glue:text}`ch05_vec_length` diagnoses and has label
# {glue:text}`ch05_vec_label`. How often a sample is positive, per input and split ({numref}`fig-05-5`):

# %%
prevalence = encoding.prevalence_table(encoded)
encoding.prevalence_view(prevalence)

# %% tags=["hide-input"]
show_figure("fig-05-5", stroke_plots.prevalence_figure(prevalence))

# %% [markdown]
# ```{glue:figure} fig-05-5
# :name: fig-05-5
#
# Samples per positive sample ("1 in k") per input type and split; diamonds mark the paper's
# 1 in 8 diagnosis inputs and 1 in 9 exam inputs.
# ```

# %% tags=["remove-input"]
one_in = prevalence[prevalence["split"] == "all"].set_index("input")["one_in"]
risk = encoding.true_risk_intervals(encoded, n_boot=P.n_bootstrap, seed=P.seed)
glue_values({"dx_one_in": one_in["diagnosis"], "ex_one_in": one_in["exam"],
             "dx_verdict": encoding.one_in_verdict(one_in["diagnosis"], encoding.PAPER_ONE_IN["diagnosis"]),
             "ex_verdict": encoding.one_in_verdict(one_in["exam"], encoding.PAPER_ONE_IN["exam"]),
             "auc_dx": interval(risk["diagnosis"]), "auc_ex": interval(risk["exam"]),
             "auc_dx_verdict": encoding.versus_reference(risk["diagnosis"], 0.669, "the paper's"),
             "auc_ex_verdict": encoding.versus_reference(risk["exam"], 0.669, "the paper's")}, "ch05_")

# %% [markdown]
# Our data give one positive in {glue:text}`ch05_dx_one_in:.1f` diagnosis inputs
# ({glue:text}`ch05_dx_verdict`) and one in {glue:text}`ch05_ex_one_in:.1f` exam inputs
# ({glue:text}`ch05_ex_verdict`). Ranking all samples by the generator's true one-year risk gives an
# {term}`AUROC` of {glue:text}`ch05_auc_dx` on the diagnosis samples ({glue:text}`ch05_auc_dx_verdict`) and
# {glue:text}`ch05_auc_ex` on the exam samples ({glue:text}`ch05_auc_ex_verdict`); the intervals resample
# matched sets. This is a reference for the models of the next chapter, not a ceiling: on samples drawn by a
# case-control design a model can also learn the design, which chapter 06 examines.

# %% [markdown]
# ## Results file
#
# The numbers of this chapter, and the time of each step, go to `stroke_cohort.json` in the profile's
# results folder (typed: `ehrlib.stroke.results.StrokeCohortResults`); the fitted encoding state and the
# autoencoder go beside it.

# %% tags=["remove-input"]
stroke_dir = P.stroke_results_dir / "stroke"
autoencoder.save_autoencoder(ae, stroke_dir)
write_json(stroke_dir / "encoding_state.json", state.to_json())
results = cohort_results(profile=P, population=len(tables.patients), counts=counts, prevalence=prevalence,
                         vocabulary_size=len(vocab), autoencoder=ae, knn_chapter=neighbours.accuracy,
                         true_risk_auroc=encoding.true_risk_auroc(encoded), config=config, timings=timings)
path = results.save(P.stroke_results_dir / "stroke_cohort.json")
glue_values({"results_path": str(path.relative_to(project_root())), "minutes": duration(clock.elapsed),
             "t_pipeline": sum(timings[k] for k in ("generation", "read_tables", "cohort", "encodings"))}, "ch05_")

# %% [markdown]
# Written to {glue:text}`ch05_results_path`. Generation, reading, cohort and encodings together took
# {glue:text}`ch05_t_pipeline:.0f` s on this machine (a shared CPU, so an upper bound); the autoencoder
# added {glue:text}`ch05_ae_seconds:.0f` s.

# %% [markdown]
# ## Conclusion
#
# The cohort follows the paper's rules: {glue:text}`ch05_checks`. The encodings follow Eq. 4-6: day
# categories, ages, code vectors and exam summaries with roll-forward then training-set gender means,
# standardised with training statistics only. The autoencoder turns every code into a 32-d vector, and
# {glue:text}`ch05_recon_verdict`. A code's nearest neighbours name its chapter with accuracy
# {glue:text}`ch05_knn:.2f` against {glue:text}`ch05_majority:.2f` for the largest chapter,
# {glue:text}`ch05_knn_verdict`. Positive samples are one in {glue:text}`ch05_dx_one_in:.1f` diagnosis
# inputs and one in {glue:text}`ch05_ex_one_in:.1f` exam inputs, and the true risk ranks them with AUROC
# {glue:text}`ch05_auc_dx` and {glue:text}`ch05_auc_ex`; the next chapter trains the paper's three models on
# these samples.
