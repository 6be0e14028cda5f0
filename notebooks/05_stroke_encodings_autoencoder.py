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
# builds the case-control cohort, encodes each patient's diagnoses and exams exactly as the paper's Eq. 4-6
# describe, trains the single-hidden-layer autoencoder that turns ICD-10 codes into 32-dimensional vectors
# (Eq. 7-8), and builds one labelled sample per history prefix: positive when a first stroke follows within
# 365 days of the prefix's last record. Every choice the paper leaves open is named where it is made. At full
# scale the chapter runs in under a minute on a 2-core CPU.

# %% tags=["parameters"]
profile = "quick"

# %% tags=["remove-input"]

import numpy as np
import pandas as pd

from ehrlib.booktext import glue_values, timed
from ehrlib.stroke import autoencoder, icd10, plots as stroke_plots
from ehrlib.jsonfiles import read_json, read_timings, write_json
from ehrlib.stroke.results import cohort_results
from ehrlib.plots import setup_notebook, show_figure
from ehrlib.profiles import get_profile, project_root
from ehrlib.stroke.cohort import (
    build_cohort,
    cohort_counts,
    matching_checks,
    split_cohort,
)
from ehrlib.stroke.encoding import (
    EncodingConfig,
    encode_cohort,
    fit_encoding_state,
    prepare_records,
    prevalence_table,
    roll_forward,
    true_risk_auroc,
)
from ehrlib.stroke.schema import METRICS, read_stroke_tables
from sklearn.model_selection import cross_val_score
from sklearn.neighbors import KNeighborsClassifier

setup_notebook()



P = get_profile(profile)
timings: dict[str, float] = {}

# %% [markdown]
# ## The hospital tables
#
# The tables were generated beforehand by `python -m ehrlib data --profile quick` (or `full`); the
# generator's own timing is read from the dataset's `metadata.json`.

# %%
with timed(timings, "read_tables"):
    tables = read_stroke_tables(P.stroke_dir)
metadata = read_json(P.stroke_dir / "metadata.json")
timings["generation"] = read_timings(P.stroke_dir).get(
    "generation_seconds", float("nan")
)  # kept beside the data
sizes = pd.Series(
    {
        "patients": len(tables.patients),
        "diagnoses": len(tables.diagnoses),
        "exam values": len(tables.exams),
        "distinct ICD-10 codes": tables.diagnoses["icd10"].nunique(),
    }
)
glue_values({
    "n_patients": len(tables.patients),
    "n_diagnoses": len(tables.diagnoses),
    "n_exam_values": len(tables.exams),
    "t_generation": timings["generation"],
    "t_read": timings["read_tables"],
})
sizes.to_frame("rows")

# %% [markdown]
# The population has {glue:text}`n_patients:,` patients with {glue:text}`n_diagnoses:,` diagnoses and
# {glue:text}`n_exam_values:,` exam values; generating it took {glue:text}`t_generation:.1f` s and reading
# and validating the Parquet tables {glue:text}`t_read:.1f` s.

# %% [markdown]
# ## The case-control cohort
#
# Cases have a first stroke (I60-I69) between 2001 and 2015 at ages 45-95 with a diagnosis and an exam
# before it; each gets exactly two controls of the same birth year and gender who never had a stroke and
# have records before and after the case's diagnosis date. The split is 70 / 15 / 15 by case, each control
# following its case.

# %%
with timed(timings, "cohort"):
    cohort = split_cohort(build_cohort(tables, seed=P.seed), seed=P.seed)
split_table = (
    cohort.groupby(["split", "role"])
    .size()
    .unstack("role")
    .reindex(["train", "val", "test"])
    .assign(patients=lambda f: f.sum(axis=1))
)
split_table

# %% [markdown]
# The matching rules are checked on the result, not assumed (`ehrlib.stroke.cohort.matching_checks`):

# %%
checks = matching_checks(cohort, tables)
counts = cohort_counts(cohort)
glue_values({
    "n_cases": counts["cases"],
    "n_controls": counts["controls"],
    "checks_min_pct": 100 * checks.min(),
    "t_cohort": timings["cohort"],
})
checks.to_frame()

# %% [markdown]
# The cohort has {glue:text}`n_cases:,` cases and {glue:text}`n_controls:,` controls (the paper: 2,725
# and 5,450); every rule above holds for {glue:text}`checks_min_pct:.0f` % of the rows it applies to, and
# building and splitting the cohort took {glue:text}`t_cohort:.1f` s.

# %% [markdown]
# ## Records, day categories and exam summaries
#
# A case's records are those strictly before its first stroke; a control's those strictly before its
# case's stroke date (the same calendar window as its case, so that neither history length nor calendar
# time tells cases from controls). Diagnoses on the same day are ordered by ICD-10 code and exact
# duplicates dropped. Age is fractional years from 1 July of the birth year (only the year is known). The
# days since the previous record become the six categories of Eq. 5. Exams are summarised by age: one row
# per (patient, year of age), holding the newest value of each metric at that age. See {numref}`fig-05-1`.

# %% tags=["remove-input"]
config = EncodingConfig()
with timed(timings, "records"):
    prepared = prepare_records(tables, cohort, config)

# %%
prepared.diagnoses[
    ["patient_id", "date", "icd10", "age", "day_cat", "split"]
].head(3)

# %% tags=["hide-input"]
show_figure(
    "fig-05-1",
    stroke_plots.day_category_figure(prepared.diagnoses, prepared.exams),
)

# %% [markdown]
# ```{glue:figure} fig-05-1
# :name: fig-05-1
#
# Share of diagnoses and of exam-years in each Eq. 5 category of days since the patient's
# previous record of the same kind (the first record counts as category 0).
# ```

# %%
per_patient = pd.DataFrame(
    {
        "diagnoses per patient": prepared.diagnoses.groupby("patient_id")
        .size()
        .describe(),
        "exam-years per patient": prepared.exams.groupby("patient_id")
        .size()
        .describe(),
    }
).T
cover35 = (prepared.diagnoses.groupby("patient_id").size() <= 35).mean()
cover20 = (prepared.exams.groupby("patient_id").size() <= 20).mean()
glue_values({
    "t_records": timings["records"],
    "cover35_pct": 100 * cover35,
    "cover20_pct": 100 * cover20,
})
per_patient.round(1)

# %% [markdown]
# Summarising took {glue:text}`t_records:.1f` s. A window of 35 diagnoses holds the whole history of
# {glue:text}`cover35_pct:.0f` % of the cohort (the paper chose 35 to cover 99 %), and 20 exam-years that
# of {glue:text}`cover20_pct:.0f` %; longer histories keep their most recent records in each window.

# %% [markdown]
# ### One example patient
#
# A training case with a short history shows each step. Its records over time ({numref}`fig-05-2`):

# %% tags=["remove-input"]
dcount = prepared.diagnoses.groupby("patient_id").size()
ecount = prepared.exams.groupby("patient_id").size()
train_cases = cohort.loc[
    (cohort["role"] == "case") & (cohort["split"] == "train"), "patient_id"
]
has_gap = (
    prepared.exams[list(METRICS)]
    .isna()
    .any(axis=1)
    .groupby(prepared.exams["patient_id"])
    .any()
)
candidates = [
    p
    for p in train_cases
    if 6 <= dcount.get(p, 0) <= 15 and ecount.get(p, 0) >= 3 and has_gap.get(p)
]
example = min(candidates) if candidates else int(train_cases.min())
ex_dx = prepared.diagnoses[prepared.diagnoses["patient_id"] == example]
ex_ex = prepared.exams[prepared.exams["patient_id"] == example]
index_date = cohort.set_index("patient_id").loc[example, "index_date"]

# %% tags=["hide-input"]
show_figure(
    "fig-05-2",
    stroke_plots.patient_timeline_figure(
        ex_dx,
        ex_ex,
        index_date,
        title=f"Patient {example}: records before the stroke",
    ),
)

# %% [markdown]
# ```{glue:figure} fig-05-2
# :name: fig-05-2
#
# The example patient's diagnoses (by ICD-10 chapter) and exam-years; the dashed line is the
# first stroke, after which nothing is used.
# ```

# %%
ex_dx[["date", "icd10", "age", "days_since_prev", "day_cat"]].round({"age": 2})

# %% [markdown]
# Each row becomes one diagnosis vector once the code is embedded (below). The exam summary of the same
# patient, for the metrics it is missing somewhere, before any imputation:

# %%
gappy = [m for m in METRICS if ex_ex[m].isna().any()][:4] or list(METRICS[:4])
ex_ex[["date", "age_year", *gappy]].round(dict.fromkeys(gappy, 2))

# %% [markdown]
# Missing values are first rolled forward within the patient, then what is still missing (metrics never
# measured so far) takes the training split's mean for the patient's gender; finally every metric is
# standardised with the training mean and standard deviation. All of these statistics are fitted on the
# training patients only.

# %%
state = fit_encoding_state(prepared, config)
imputed = state.impute_exams(ex_ex)
steps = pd.concat(
    {
        "raw": ex_ex[gappy],
        "rolled forward": roll_forward(ex_ex)[gappy],
        "then gender mean": imputed[gappy],
    },
    axis=1,
)
steps.index = ex_ex["age_year"].rename("age")
gender = cohort.set_index("patient_id").loc[example, "gender"]
glue_values({
    "ex_gender": gender,
    "ex_metric": gappy[0],
    "ex_metric_mean": state.gender_means[gender][gappy[0]],
    "n_train_patients": state.n_train_patients,
})
steps.round(2)

# %% [markdown]
# Values carried forward fill the later gaps; a metric this patient had not yet had measured takes the
# training mean for gender {glue:text}`ex_gender` (e.g. {glue:text}`ex_metric`:
# {glue:text}`ex_metric_mean:.2f`). The state was fitted on {glue:text}`n_train_patients:,` training
# patients and is saved as JSON.

# %% [markdown]
# ## The ICD-10 autoencoder
#
# Each code is a one-hot vector over the vocabulary, encoded as d = tanh(x W_in + b_in) in 32 dimensions
# (Eq. 7) and decoded with a softmax over the vocabulary (Eq. 8), trained with categorical cross-entropy to
# reproduce its input. The vocabulary is every code that appears in the hospital tables (the paper's
# "supported" 6,905 codes were likewise its own data's). Each epoch presents every code once; Adam; seeded
# initialisers; training stops at the first epoch whose weights reconstruct every code, with the profile's
# epoch count as the ceiling. The input layer gathers row i of W_in instead of multiplying by a one-hot
# vector: the same numbers, without a V x V matrix (the tests check both identities). See {numref}`fig-05-3`.

# %% tags=["remove-input"]
vocab = icd10.build_vocabulary(tables.diagnoses["icd10"].unique())
ae_config = autoencoder.AutoencoderConfig(
    epochs=P.autoencoder_epochs, seed=P.seed
)
ae = autoencoder.train_autoencoder(vocab, ae_config)
timings["autoencoder"] = ae.seconds
stroke_dir = P.stroke_results_dir / "stroke"
saved = autoencoder.save_autoencoder(ae, stroke_dir)

# %% tags=["hide-input"]
show_figure("fig-05-3", stroke_plots.autoencoder_history_figure(ae.history))

# %% [markdown]
# ```{glue:figure} fig-05-3
# :name: fig-05-3
#
# Cross-entropy loss (log scale) and training accuracy of the autoencoder per epoch.
# ```

# %% tags=["remove-input"]
glue_values({
    "vocab_size": len(vocab),
    "recon_pct": 100 * ae.reconstruction_accuracy,
    "ae_epochs": len(ae.history["loss"]),
    "ae_seconds": ae.seconds,
})

# %% [markdown]
# Over the {glue:text}`vocab_size:,` codes, {glue:text}`recon_pct:.2f` % are reconstructed (argmax of the
# decoding equals the input; the paper reports a perfect reconstruction) after {glue:text}`ae_epochs`
# epochs and {glue:text}`ae_seconds:.0f` s. The model is saved as `icd10_autoencoder.keras` with the
# vocabulary in `icd10_vocabulary.json`. See {numref}`fig-05-4`.

# %% tags=["remove-input"]
embedding = ae.embedding()
chapters = icd10.icd10_chapter(vocab.codes)
projection = autoencoder.embedding_projection(embedding)
codes = np.asarray(vocab.codes)

# %% tags=["hide-input"]
show_figure(
    "fig-05-4",
    stroke_plots.embedding_figure(
        projection, codes, chapters, icd10.icd10_description(codes)
    ),
)

# %% [markdown]
# ```{glue:figure} fig-05-4
# :name: fig-05-4
#
# The 32-dimensional code vectors projected on their first two principal components, one point
# per code, coloured by ICD-10 chapter (hover for the code).
# ```

# %% tags=["remove-input"]
knn_chapter = cross_val_score(
    KNeighborsClassifier(5), embedding.vectors, chapters, cv=5
).mean()
majority = pd.Series(chapters).value_counts(normalize=True).iloc[0]
verdict = (
    "so the vectors carry little of the ICD-10 hierarchy: the embedding is a compact, lossless code "
    "book rather than a semantic map"
    if knn_chapter < majority + 0.1
    else "so codes of a chapter do sit near each other"
)
glue_values({"knn_chapter": knn_chapter, "majority_chapter": majority, "knn_verdict": verdict})

# %% [markdown]
# The autoencoder is trained on the identity alone, so nothing asks it to place related codes together. A
# 5-nearest-neighbour classifier predicts a code's chapter from its vector with accuracy
# {glue:text}`knn_chapter:.2f`, against {glue:text}`majority_chapter:.2f` for always naming the largest
# chapter, {glue:text}`knn_verdict`.

# %% [markdown]
# ## Samples per history prefix
#
# Every prefix of a patient's records is one sample: the diagnosis input takes the up-to-35 most recent
# diagnoses ending at each diagnosis (from the second on: Eq. 4's h != i excludes a one-diagnosis input),
# the exam input the up-to-20 exam-years ending at each exam-year. A diagnosis vector is
# (gender, age, Eq. 5 one-hot, 32-d code vector) = 40 numbers; an exam vector (gender, age, Eq. 5 one-hot,
# 20 metrics) = 28. Sequences are pre-padded with zeros and carry a mask. A sample is positive when a first
# stroke follows within 365 days of its last record. The generator's true one-year risk at that date is kept
# beside each sample (never as a feature). A third, "dual" input pairs each exam sample with the diagnoses
# dated on or before its exam-year, for the dual-input model.

# %% tags=["remove-input"]
with timed(timings, "encodings"):
    encoded = encode_cohort(
        tables, cohort, embedding, config, state=state, prepared=prepared
    )
timings["encodings"] += timings["records"]
sample = encoded["diagnosis"]["train"]
row = int(np.flatnonzero(sample.patient_id == example)[-1])
vec = pd.Series(sample.X[row][-1], index=sample.feature_names)
glue_values({
    "vec_gender": int(vec["gender"]),
    "vec_age": float(vec["age"]),
    "vec_daycat": int(np.argmax(vec.iloc[2:8])),
    "vec_len": int(sample.mask[row].sum()),
    "vec_label": int(sample.y[row]),
})

# %%
vec.iloc[:12].round(3).to_frame(f"last diagnosis of patient {example}")

# %% [markdown]
# The example's last diagnosis vector: gender {glue:text}`vec_gender`, standardised age
# {glue:text}`vec_age:.2f`, day category {glue:text}`vec_daycat`, then the 32 code coordinates (the first
# four shown). Its sample holds {glue:text}`vec_len` diagnoses and has label {glue:text}`vec_label`. See {numref}`fig-05-5`.

# %%
prev = prevalence_table(encoded)
prev_view = prev[prev["input"] != "dual"].assign(
    paper_one_in=lambda f: f["input"].map({"diagnosis": 8, "exam": 9})
)
prev_view.round({"prevalence": 4, "one_in": 1})

# %% tags=["hide-input"]
show_figure(
    "fig-05-5", stroke_plots.prevalence_figure(prev[prev["input"] != "dual"])
)

# %% [markdown]
# ```{glue:figure} fig-05-5
# :name: fig-05-5
#
# Samples per positive sample ("1 in k") per input type and split; diamonds mark the paper's
# 1 in 8 diagnosis inputs and 1 in 9 exam inputs.
# ```

# %% tags=["remove-input"]
auc = true_risk_auroc(encoded)
allp = prev.set_index(["input", "split"])
glue_values({
    "dx_one_in": allp.loc[("diagnosis", "all"), "one_in"],
    "ex_one_in": allp.loc[("exam", "all"), "one_in"],
    "auc_dx": auc["diagnosis"]["all"],
    "auc_ex": auc["exam"]["all"],
})

# %% [markdown]
# Our data give one positive in {glue:text}`dx_one_in:.1f` diagnosis inputs and one in
# {glue:text}`ex_one_in:.1f` exam inputs (the paper: 8 and 9). Ranking the samples by the generator's true
# one-year risk gives AUROC {glue:text}`auc_dx:.3f` (diagnosis samples) and {glue:text}`auc_ex:.3f` (exam
# samples). This is a reference for the models of the next chapter and the paper's 0.669, not a ceiling:
# on samples drawn by a case-control design a model can also learn the design (chapter 06 shows it).

# %% [markdown]
# ## Results file
#
# The numbers of this chapter, and the time of each step, go to `stroke_cohort.json` in the profile's
# results folder; the fitted encoding state goes beside the autoencoder.

# %%
write_json(stroke_dir / "encoding_state.json", state.to_json())
results = cohort_results(
    profile=P,
    population=len(tables.patients),
    counts=counts,
    prevalence=prev,
    vocabulary_size=len(vocab),
    autoencoder=ae,
    knn_chapter=knn_chapter,
    true_risk_auroc=auc,
    config=config,
    timings=timings,
)
path = results.save(P.stroke_results_dir / "stroke_cohort.json")
pipeline = (
    timings["generation"]
    + timings["read_tables"]
    + timings["cohort"]
    + timings["encodings"]
)
glue_values({
    "results_path": str(path.relative_to(project_root())),
    "t_pipeline": pipeline,
    "t_autoencoder": timings["autoencoder"],
})
pd.Series(results.timings_seconds).to_frame("seconds")

# %% [markdown]
# Written to {glue:text}`results_path` (typed: `ehrlib.stroke.results.StrokeCohortResults`). Generation,
# reading, cohort and encodings together took {glue:text}`t_pipeline:.0f` s on this machine (shared CPU,
# so an upper bound); the autoencoder added {glue:text}`t_autoencoder:.0f` s.

# %% [markdown]
# ## Conclusion
#
# The cohort follows the paper's rules, checked row by row, and the encodings follow Eq. 4-6: day
# categories, ages, code vectors and exam summaries with roll-forward then training-set gender means,
# standardised with training statistics only. The autoencoder turns every code into a 32-d vector from which
# it can be read back (its accuracy, and what the vectors say about chapters, are measured above). The
# prevalence of positive samples and the reference set by the true risk are whatever the synthetic data give;
# the next chapter trains the paper's three models on these samples.
