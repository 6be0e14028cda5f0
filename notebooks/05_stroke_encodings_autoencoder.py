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
# This chapter prepares the second study, Teoh (2018), "Towards stroke prediction using electronic health
# records": from the synthetic hospital tables (patients, ICD-10 diagnoses, blood and biochemical exams) it
# builds the case-control cohort, encodes each patient's diagnoses and exams exactly as the paper's Eq. 4-6
# describe, trains the single-hidden-layer autoencoder that turns ICD-10 codes into 32-dimensional vectors
# (Eq. 7-8), and builds one labelled sample per history prefix: positive when a first stroke follows within
# 365 days of the prefix's last record. Every choice the paper leaves open is named where it is made. At full
# scale the chapter runs in under a minute on a 2-core CPU.

# %% tags=["parameters"]
profile = "quick"

# %%
import time

import numpy as np
import pandas as pd
from IPython.display import Markdown, display

from ehrlib.stroke import autoencoder, icd10, plots as stroke_plots
from ehrlib.io import read_json, write_json
from ehrlib.plots import setup_notebook
from ehrlib.profiles import get_profile, project_root
from ehrlib.stroke.cohort import build_cohort, cohort_counts, split_cohort
from ehrlib.stroke.encoding import (
    EncodingConfig, encode_cohort, fit_encoding_state, prepare_records, prevalence_table, roll_forward,
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
t = time.perf_counter()
tables = read_stroke_tables(P.stroke_dir)
timings["read_tables"] = time.perf_counter() - t
metadata = read_json(P.stroke_dir / "metadata.json")
timings["generation"] = float(metadata["generation_seconds"])
sizes = pd.Series({"patients": len(tables.patients), "diagnoses": len(tables.diagnoses),
                   "exam values": len(tables.exams), "distinct ICD-10 codes": tables.diagnoses["icd10"].nunique()})
sizes.to_frame("rows")

# %%
display(Markdown(
    f"The population has {len(tables.patients):,} patients with {len(tables.diagnoses):,} diagnoses and "
    f"{len(tables.exams):,} exam values; generating it took {timings['generation']:.1f} s and reading and "
    f"validating the Parquet tables {timings['read_tables']:.1f} s."))

# %% [markdown]
# ## The case-control cohort
#
# Cases have a first stroke (I60-I69) between 2001 and 2015 at ages 45-95 with a diagnosis and an exam
# before it; each gets exactly two controls of the same birth year and gender who never had a stroke and
# have records before and after the case's diagnosis date. The split is 70 / 15 / 15 by case, each control
# following its case.

# %%
t = time.perf_counter()
cohort = split_cohort(build_cohort(tables, seed=P.seed), seed=P.seed)
timings["cohort"] = time.perf_counter() - t
split_table = (cohort.groupby(["split", "role"]).size().unstack("role")
               .reindex(["train", "val", "test"]).assign(patients=lambda f: f.sum(axis=1)))
split_table

# %% [markdown]
# The matching rules are checked on the result, not assumed:

# %%
case_rows = cohort[cohort["role"] == "case"].set_index("case_id")
ctrl = cohort[cohort["role"] == "control"].merge(case_rows[["birth_year", "gender"]].add_suffix("_case"),
                                                 left_on="case_id", right_index=True)
stroke_patients = set(tables.diagnoses.loc[tables.diagnoses["icd10"].str[:3].between("I60", "I69"), "patient_id"])
age = case_rows["index_date"].dt.year - case_rows["birth_year"]
checks = pd.Series({
    "cases with exactly two controls": (ctrl.groupby("case_id").size() == 2).mean(),
    "controls with the case's birth year": (ctrl["birth_year"] == ctrl["birth_year_case"]).mean(),
    "controls with the case's gender": (ctrl["gender"] == ctrl["gender_case"]).mean(),
    "patients used once": 1 - cohort["patient_id"].duplicated().mean(),
    "controls never diagnosed with stroke": 1 - ctrl["patient_id"].isin(stroke_patients).mean(),
    "cases aged 45-95 at the stroke": age.between(45, 95).mean(),
    "splits holding whole case groups": (cohort.groupby("case_id")["split"].nunique() == 1).mean(),
})
checks.to_frame("share satisfied")

# %%
counts = cohort_counts(cohort)
display(Markdown(
    f"The cohort has {counts['cases']:,} cases and {counts['controls']:,} controls (the paper: 2,725 and "
    f"5,450); every rule above holds for {checks.min():.0%} of the rows it applies to, and building and "
    f"splitting the cohort took {timings['cohort']:.1f} s."))

# %% [markdown]
# ## Records, day categories and exam summaries
#
# A case's records are those strictly before its first stroke; a control's those strictly before its
# case's stroke date (the same calendar window as its case, so that neither history length nor calendar
# time tells cases from controls). Diagnoses on the same day are ordered by ICD-10 code and exact
# duplicates dropped. Age is fractional years from 1 July of the birth year (only the year is known). The
# days since the previous record become the six categories of Eq. 5. Exams are summarised by age: one row
# per (patient, year of age), holding the newest value of each metric at that age.

# %%
config = EncodingConfig()
t = time.perf_counter()
prepared = prepare_records(tables, cohort, config)
timings["records"] = time.perf_counter() - t
prepared.diagnoses[["patient_id", "date", "icd10", "age", "day_cat", "split"]].head(3)

# %% tags=["hide-input"]
stroke_plots.day_category_figure(prepared.diagnoses, prepared.exams)

# %% [markdown]
# **Figure 1.** Share of diagnoses and of exam-years in each Eq. 5 category of days since the patient's
# previous record of the same kind (the first record counts as category 0).

# %%
per_patient = pd.DataFrame({
    "diagnoses per patient": prepared.diagnoses.groupby("patient_id").size().describe(),
    "exam-years per patient": prepared.exams.groupby("patient_id").size().describe()}).T
cover35 = (prepared.diagnoses.groupby("patient_id").size() <= 35).mean()
cover20 = (prepared.exams.groupby("patient_id").size() <= 20).mean()
per_patient.round(1)

# %%
display(Markdown(
    f"Summarising took {timings['records']:.1f} s. A window of 35 diagnoses holds the whole history of "
    f"{cover35:.0%} of the cohort (the paper chose 35 to cover 99 %), and 20 exam-years that of {cover20:.0%}; "
    "longer histories keep their most recent records in each window."))

# %% [markdown]
# ### One example patient
#
# A training case with a short history shows each step. Its records over time:

# %%
dcount = prepared.diagnoses.groupby("patient_id").size()
ecount = prepared.exams.groupby("patient_id").size()
train_cases = cohort.loc[(cohort["role"] == "case") & (cohort["split"] == "train"), "patient_id"]
has_gap = prepared.exams[list(METRICS)].isna().any(axis=1).groupby(prepared.exams["patient_id"]).any()
candidates = [p for p in train_cases if 6 <= dcount.get(p, 0) <= 15 and ecount.get(p, 0) >= 3 and has_gap.get(p)]
example = min(candidates) if candidates else int(train_cases.min())
ex_dx = prepared.diagnoses[prepared.diagnoses["patient_id"] == example]
ex_ex = prepared.exams[prepared.exams["patient_id"] == example]
index_date = cohort.set_index("patient_id").loc[example, "index_date"]

# %% tags=["hide-input"]
stroke_plots.patient_timeline_figure(ex_dx, ex_ex, index_date, title=f"Patient {example}: records before the stroke")

# %% [markdown]
# **Figure 2.** The example patient's diagnoses (by ICD-10 chapter) and exam-years; the dashed line is the
# first stroke, after which nothing is used.

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
steps = pd.concat({"raw": ex_ex[gappy], "rolled forward": roll_forward(ex_ex)[gappy],
                   "then gender mean": imputed[gappy]}, axis=1)
steps.index = ex_ex["age_year"].rename("age")
steps.round(2)

# %%
gender = cohort.set_index("patient_id").loc[example, "gender"]
display(Markdown(
    f"Values carried forward fill the later gaps; a metric this patient had not yet had measured takes the "
    f"training mean for gender {gender} (e.g. {gappy[0]}: {state.gender_means[gender][gappy[0]]:.2f}). "
    f"The state was fitted on {state.n_train_patients:,} training patients and is saved as JSON."))

# %% [markdown]
# ## The ICD-10 autoencoder
#
# Each code is a one-hot vector over the vocabulary, encoded as d = tanh(x W_in + b_in) in 32 dimensions
# (Eq. 7) and decoded with a softmax over the vocabulary (Eq. 8), trained with categorical cross-entropy to
# reproduce its input. The vocabulary is every code that appears in the hospital tables (the paper's
# "supported" 6,905 codes were likewise its own data's). Each epoch presents every code once; Adam; seeded
# initialisers; training stops at the first epoch whose weights reconstruct every code, with the profile's
# epoch count as the ceiling. The input layer gathers row i of W_in instead of multiplying by a one-hot
# vector: the same numbers, without a V x V matrix (the tests check both identities).

# %%
vocab = icd10.build_vocabulary(tables.diagnoses["icd10"].unique())
ae_config = autoencoder.AutoencoderConfig(epochs=P.autoencoder_epochs, seed=P.seed)
ae = autoencoder.train_autoencoder(vocab, ae_config)
timings["autoencoder"] = ae.seconds
stroke_dir = P.results_dir / "stroke"
saved = autoencoder.save_autoencoder(ae, stroke_dir)

# %% tags=["hide-input"]
stroke_plots.autoencoder_history_figure(ae.history)

# %% [markdown]
# **Figure 3.** Cross-entropy loss (log scale) and training accuracy of the autoencoder per epoch.

# %%
display(Markdown(
    f"Over the {len(vocab):,} codes, {ae.reconstruction_accuracy:.2%} are reconstructed "
    f"(argmax of the decoding equals the input; the paper reports a perfect reconstruction) after "
    f"{len(ae.history['loss'])} epochs and {ae.seconds:.0f} s. The model is saved as "
    f"`{saved['model'].name}` with the vocabulary in `{saved['vocabulary'].name}`."))

# %%
embedding = ae.embedding()
chapters = icd10.icd10_chapter(vocab.codes)
projection = autoencoder.embedding_projection(embedding)
codes = np.asarray(vocab.codes)

# %% tags=["hide-input"]
stroke_plots.embedding_figure(projection, codes, chapters, icd10.icd10_description(codes))

# %% [markdown]
# **Figure 4.** The 32-dimensional code vectors projected on their first two principal components, one point
# per code, coloured by ICD-10 chapter (hover for the code).

# %%
knn_chapter = cross_val_score(KNeighborsClassifier(5), embedding.vectors, chapters, cv=5).mean()
majority = pd.Series(chapters).value_counts(normalize=True).iloc[0]
verdict = ("so the vectors carry little of the ICD-10 hierarchy: the embedding is a compact, lossless code "
           "book rather than a semantic map" if knn_chapter < majority + 0.1 else
           "so codes of a chapter do sit near each other")
display(Markdown(
    f"The autoencoder is trained on the identity alone, so nothing asks it to place related codes together. "
    f"A 5-nearest-neighbour classifier predicts a code's chapter from its vector with accuracy "
    f"{knn_chapter:.2f}, against {majority:.2f} for always naming the largest chapter, {verdict}."))

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

# %%
t = time.perf_counter()
encoded = encode_cohort(tables, cohort, embedding, config, state=state, prepared=prepared, progress=True)
timings["encodings"] = time.perf_counter() - t + timings["records"]
sample = encoded["diagnosis"]["train"]
row = int(np.flatnonzero(sample.patient_id == example)[-1])
vec = pd.Series(sample.X[row][-1], index=sample.feature_names)
vec.iloc[:12].round(3).to_frame(f"last diagnosis of patient {example}")

# %%
display(Markdown(
    f"The example's last diagnosis vector: gender {vec['gender']:.0f}, standardised age {vec['age']:.2f}, "
    f"day category {int(np.argmax(vec.iloc[2:8]))}, then the 32 code coordinates (the first four shown). Its "
    f"sample holds {int(sample.mask[row].sum())} diagnoses and has label {int(sample.y[row])}."))

# %%
prev = prevalence_table(encoded)
prev_view = prev[prev["input"] != "dual"].assign(paper_one_in=lambda f: f["input"].map({"diagnosis": 8, "exam": 9}))
prev_view.round({"prevalence": 4, "one_in": 1})

# %% tags=["hide-input"]
stroke_plots.prevalence_figure(prev[prev["input"] != "dual"])

# %% [markdown]
# **Figure 5.** Samples per positive sample ("1 in k") per input type and split; diamonds mark the paper's
# 1 in 8 diagnosis inputs and 1 in 9 exam inputs.

# %%
auc = true_risk_auroc(encoded)
allp = prev.set_index(["input", "split"])
display(Markdown(
    f"Our data give one positive in {allp.loc[('diagnosis', 'all'), 'one_in']:.1f} diagnosis inputs and one in "
    f"{allp.loc[('exam', 'all'), 'one_in']:.1f} exam inputs (the paper: 8 and 9). Ranking the samples by the "
    f"generator's true one-year risk gives AUROC {auc['diagnosis']['all']:.3f} (diagnosis samples) and "
    f"{auc['exam']['all']:.3f} (exam samples): the best any model can reach on these labels, to compare with "
    "the models of the next chapter and the paper's 0.669."))

# %% [markdown]
# ## Results file
#
# The numbers of this chapter, and the time of each step, go to `stroke_cohort.json` in the profile's
# results folder; the fitted encoding state goes beside the autoencoder.

# %%
splits = {s: {"cases": counts[f"{s}_cases"], "controls": counts[f"{s}_controls"],
              "patients": counts[f"{s}_cases"] + counts[f"{s}_controls"]} for s in ("train", "val", "test")}
samples = {inp: {s: {"samples": int(r["samples"]), "positives": int(r["positives"]),
                     "prevalence": float(r["prevalence"]), "patients": int(r["patients"])}
                 for s, r in grp.set_index("split").iterrows()} for inp, grp in prev.groupby("input")}
write_json(stroke_dir / "encoding_state.json", state.to_json())
results = {
    "profile": P.name, "seed": P.seed, "population": len(tables.patients), "cases": counts["cases"],
    "controls": counts["controls"], "splits": splits, "samples": samples, "vocabulary_size": len(vocab),
    "autoencoder": {"reconstruction_accuracy": ae.reconstruction_accuracy, "epochs": len(ae.history["loss"]),
                    "max_epochs": ae_config.epochs, "final_loss": ae.history["loss"][-1],
                    "chapter_knn_accuracy": knn_chapter},
    "true_risk_auroc": auc, "encoding": {"missing_strategy": config.missing_strategy,
                                         "max_diagnoses": config.max_diagnoses,
                                         "max_exam_years": config.max_exam_years},
    "paper": {"cases": 2725, "controls": 5450, "diagnosis_one_in": 8, "exam_one_in": 9, "auroc_best_model": 0.669},
    "timings_seconds": {k: round(v, 2) for k, v in timings.items()},
}
path = write_json(P.results_dir / "stroke_cohort.json", results)
pd.Series(results["timings_seconds"]).to_frame("seconds")

# %%
pipeline = timings["generation"] + timings["read_tables"] + timings["cohort"] + timings["encodings"]
display(Markdown(
    f"Written to `{path.relative_to(project_root())}`. Generation, reading, cohort and encodings together "
    f"took {pipeline:.0f} s on this machine (shared CPU, so an upper bound); the autoencoder added "
    f"{timings['autoencoder']:.0f} s."))

# %% [markdown]
# ## Conclusion
#
# The cohort follows the paper's rules, checked row by row, and the encodings follow Eq. 4-6: day
# categories, ages, code vectors and exam summaries with roll-forward then training-set gender means,
# standardised with training statistics only. The autoencoder turns every code into a 32-d vector from which
# it can be read back (its accuracy, and what the vectors say about chapters, are measured above). The
# prevalence of positive samples and the ceiling set by the true risk are whatever the synthetic data give;
# the next chapter trains the paper's three models on these samples.
