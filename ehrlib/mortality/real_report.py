"""Tables and sentences of the real-data chapter, read from its typed results (`real_results`).

Intervals are written "0.812 (0.790 to 0.833)"; a model's headline is its mean over runs with the
standard deviation and range, never one run. The "best" model is chosen on validation AUROC
(out-of-fold over the fitting set), never on the scored set. Published figures on these data are in
`PUBLISHED` with the protocol each used, so the reader can see which comparisons are like for like.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ehrlib.booktext import interval, spread
from ehrlib.evaluation.bootstrap import Interval, Spread
from ehrlib.evaluation.subgroups import SubgroupRow, age_band
from ehrlib.mortality.protocols import NO_DESCRIPTORS, recomputed_auroc
from ehrlib.mortality.real_results import ProtocolResult
from ehrlib.physionet2012.reader import PhysionetSet

LABELS = {
    "lstm": "LSTM (replication)", "logistic_regression": "Benchmark regression", "gbt": "Boosted trees",
    "missingness": "Missingness only", "news2": "NEWS2-style score", "saps1": "SAPS-I (organisers)",
    "sofa": "SOFA (organisers)", "descriptors_only": "Descriptors only (regression)",
}

#: Published results on PhysioNet 2012 (sources in the book's references; protocols differ).
PUBLISHED: tuple[dict[str, object], ...] = (
    {"source": "Challenge winners (Johnson et al.; Citi and Barbieri)", "protocol": "fit on A, scored on hidden set C",
     "model": "best entries", "auroc": None, "event1": 0.5353, "event2": 17.88},
    {"source": "Challenge organisers (Silva et al. 2012)", "protocol": "fit on A, scored on hidden set C",
     "model": "SAPS-I", "auroc": None, "event1": 0.3125, "event2": "35.21 to 68.58"},
    {"source": "mTAN (Shukla and Marlin 2021)", "protocol": "set A only, one 80/20 split",
     "model": "GRU-D", "auroc": 0.818, "event1": None, "event2": None},
    {"source": "mTAN (Shukla and Marlin 2021)", "protocol": "set A only, one 80/20 split",
     "model": "mTAND-Full", "auroc": 0.858, "event1": None, "event2": None},
    {"source": "Raindrop as reproduced by ViTST (Li et al. 2023)", "protocol": "A+B+C pooled, 5 random 80/10/10 splits",
     "model": "GRU-D", "auroc": 0.819, "event1": None, "event2": None},
    {"source": "Raindrop as reproduced by ViTST (Li et al. 2023)", "protocol": "A+B+C pooled, 5 random 80/10/10 splits",
     "model": "Transformer", "auroc": 0.833, "event1": None, "event2": None},
    {"source": "ViTST (Li et al. 2023)", "protocol": "A+B+C pooled, 5 random 80/10/10 splits",
     "model": "ViTST", "auroc": 0.851, "event1": None, "event2": None},
)


def label(name: str) -> str:
    """A model's name as the chapter writes it."""
    if name.endswith(NO_DESCRIPTORS):
        return f"{label(name[: -len(NO_DESCRIPTORS)])}, no descriptors"
    return LABELS.get(name, name)


def main_models(result: ProtocolResult) -> list[str]:
    """The models of a protocol without the ablation's copies, in the chapter's order."""
    return [m for m in LABELS if m in result.models and m != "descriptors_only"] + [
        m for m in result.models if m not in LABELS and not m.endswith(NO_DESCRIPTORS)]


def run_aurocs(result: ProtocolResult) -> dict[str, list[float]]:
    """The scored AUROC of every run of every main model, by the model's label (for `plots.runs_figure`)."""
    return {label(m): [r.evaluation.auroc.value for r in result.models[m].runs] for m in main_models(result)}


def best_on_validation(result: ProtocolResult, exclude: tuple[str, ...] = ("lstm",)) -> str:
    """The model (other than `exclude`) with the highest validation AUROC: a choice the scored set never made."""
    names = [m for m in main_models(result) if m not in exclude]
    return max(names, key=lambda m: result.models[m].validation_auroc)


def model_table(result: ProtocolResult, names: list[str] | None = None) -> pd.DataFrame:
    """One row per model: mean ± SD (range) over runs of AUROC, AUPRC, event 1 and event 2, and ECE."""
    rows = []
    for name in names or main_models(result):
        s = result.models[name].spread
        rows.append({"Model": label(name), "Validation AUROC": round(result.models[name].validation_auroc, 3),
                     "AUROC": spread(s["auroc"]), "AUPRC": spread(s["auprc"]),
                     "Event 1": spread(s["event1"]), "Event 2": spread(s["event2"], 1),
                     "ECE": spread(s["ece"])})
    return pd.DataFrame(rows)


def runs_table(result: ProtocolResult, name: str) -> pd.DataFrame:
    """One row per run of one model: AUROC and event 1 with intervals, paired differences from the references."""
    rows = []
    for r in result.models[name].runs:
        row = {"Run": r.run + 1, "Seed": r.seed, "AUROC": interval(r.evaluation.auroc),
               "Event 1": interval(r.event1), "Event 2": round(r.event2, 1)}
        for ref, iv in r.diff_auroc.items():
            row[f"minus {label(ref).lower()}"] = interval(iv, signed=True)
        rows.append(row)
    return pd.DataFrame(rows)


def runs_excluding_zero(result: ProtocolResult, name: str, ref: str) -> tuple[int, int, int]:
    """How many runs' paired AUROC difference from `ref` lies wholly above zero, wholly below, in all."""
    diffs = [r.diff_auroc[ref] for r in result.models[name].runs]
    return sum(d.ci_low > 0 for d in diffs), sum(d.ci_high < 0 for d in diffs), len(diffs)


def difference_sentence(result: ProtocolResult, name: str, ref: str) -> str:
    """'-0.021 on average over 5 runs; the paired interval lies below zero in 4 of them and above in none'."""
    above, below, n = runs_excluding_zero(result, name, ref)
    mean = result.models[name].spread[f"diff_auroc_{ref}"].mean
    return (f"{mean:+.3f} on average over {n} runs; the paired interval lies below zero in {below} "
            f"of them and above zero in {above}")


def verdict(result: ProtocolResult, name: str, ref: str) -> str:
    """'ranks stays worse than', 'better than' or 'no differently from' `ref`: worse or better only when
    the mean paired difference has that sign and most runs' paired intervals exclude zero on that side."""
    above, below, n = runs_excluding_zero(result, name, ref)
    mean = result.models[name].spread[f"diff_auroc_{ref}"].mean
    if mean < 0 and below > n / 2:
        return "ranks stays worse than"
    if mean > 0 and above > n / 2:
        return "ranks stays better than"
    return "cannot be told apart, run by run, from"


def ablation_table(result: ProtocolResult) -> pd.DataFrame:
    """Each model with and without the static descriptors: AUROC over runs and the mean change."""
    rows = []
    for name in main_models(result):
        plain = name + NO_DESCRIPTORS
        if plain not in result.models:
            continue
        with_d = [r.evaluation.auroc.value for r in result.models[name].runs]
        without = [r.evaluation.auroc.value for r in result.models[plain].runs]
        gain = np.subtract(with_d, without)
        rows.append({"Model": label(name), "With descriptors": spread(result.models[name].spread["auroc"]),
                     "Without": spread(result.models[plain].spread["auroc"]),
                     "Change (mean)": f"{gain.mean():+.3f}", "Runs improved": f"{int((gain > 0).sum())} of {gain.size}"})
    if "descriptors_only" in result.models:
        rows.append({"Model": label("descriptors_only"), "With descriptors": spread(
            result.models["descriptors_only"].spread["auroc"]), "Without": "", "Change (mean)": "", "Runs improved": ""})
    return pd.DataFrame(rows)


def published_table(results: dict[str, ProtocolResult], names: tuple[str, ...] = ("lstm", "gbt")) -> pd.DataFrame:
    """Published results with their protocols, then ours (mean over runs) under each of our protocols."""
    fmt = lambda v, d=3: "" if v is None else (v if isinstance(v, str) else f"{v:.{d}f}")  # noqa: E731
    rows = [{"Source": r["source"], "Protocol": r["protocol"], "Model": r["model"], "AUROC": fmt(r["auroc"]),
             "Event 1": fmt(r["event1"], 4), "Event 2": fmt(r["event2"], 2)} for r in PUBLISHED]
    for res in results.values():
        for name in names:
            s = res.models[name].spread
            rows.append({"Source": "This book", "Protocol": res.description, "Model": label(name),
                         "AUROC": f"{s['auroc'].mean:.3f}", "Event 1": f"{s['event1'].mean:.4f}",
                         "Event 2": f"{s['event2'].mean:.2f}"})
    return pd.DataFrame(rows)


ICU_TYPE_NAMES = {1: "coronary care", 2: "cardiac surgery recovery", 3: "medical", 4: "surgical"}


def data_table(sets: dict[str, PhysionetSet]) -> pd.DataFrame:
    """One row per set: stays, deaths, mortality, median age, share male, ICU types, unknown SAPS-I/SOFA."""
    rows = []
    for name, s in sets.items():
        d, o = s.descriptors, s.outcomes
        row = {"Set": name.upper(), "Stays": len(s), "Deaths": int(s.episodes.y.sum()),
               "Mortality": f"{s.episodes.y.mean():.1%}", "Median age": f"{d['age'].median():.0f}",
               "Male": f"{(d['gender'] == 1).mean():.1%}"}
        for code, icu in ICU_TYPE_NAMES.items():
            row[f"ICU: {icu}"] = int((d["icu_type"] == code).sum())
        row["SAPS-I unknown"] = int(o["saps1"].isna().sum())
        row["SOFA unknown"] = int(o["sofa"].isna().sum())
        rows.append(row)
    return pd.DataFrame(rows)


def cleaning_table(sets: dict[str, PhysionetSet]) -> pd.DataFrame:
    """The cleaning rules that touched at least one value, with their counts per set (rules that touched
    nothing are documented in `ehrlib.physionet2012.cleaning` and left out)."""
    wide = pd.concat([s.cleaning.assign(Set=f"Set {name.upper()}") for name, s in sets.items()]).pivot_table(
        index=["parameter", "rule"], columns="Set", values="count", aggfunc="sum", sort=False)
    wide = wide[wide.sum(axis=1) > 0].reset_index().rename(columns={"parameter": "Parameter", "rule": "Rule"})
    wide.columns.name = None
    return wide


def measured_table(sets: dict[str, PhysionetSet]) -> pd.DataFrame:
    """Per variable and set: share of stays with a value, and hours with a value per measured stay."""
    rows = {}
    for name, s in sets.items():
        hours = s.episodes.mask.sum(axis=1)  # (stays, variables)
        measured = hours > 0
        for j, var in enumerate(s.episodes.variables):
            per = hours[measured[:, j], j]
            rows.setdefault(var, {"Variable": var})
            rows[var][f"{name.upper()}: stays measured"] = f"{measured[:, j].mean():.1%}"
            rows[var][f"{name.upper()}: hours per measured stay"] = round(float(per.mean()), 1) if per.size else 0.0
    return pd.DataFrame(list(rows.values()))


def subgroup_attributes(s: PhysionetSet) -> dict[str, np.ndarray]:
    """ICU type, age band and sex of each stay, as text levels for `evaluation.subgroups`."""
    d = s.descriptors
    icu = d["icu_type"].map(ICU_TYPE_NAMES).fillna("unknown").to_numpy()
    sex = d["gender"].map({0: "female", 1: "male"}).fillna("unknown").to_numpy()
    age = np.where(d["age"].isna(), "unknown", age_band(d["age"].fillna(0).to_numpy()))
    return {"ICU type": icu, "Age band": age, "Sex": sex}


def subgroup_table(rows: list[SubgroupRow]) -> pd.DataFrame:
    """Subgroup rows as a table: AUROC and calibration-in-the-large with intervals."""
    return pd.DataFrame([{"Attribute": r.attribute, "Level": r.level, "Model": r.model, "Stays": r.n,
                          "Deaths": r.deaths, "AUROC": "too few deaths" if r.auroc is None else interval(r.auroc),
                          "Calibration-in-the-large": interval(r.citl, signed=True)} for r in rows])


def ablation_gain(result: ProtocolResult, name: str) -> str:
    """Mean change in AUROC over runs from adding the descriptors to model `name`, e.g. '+0.031 (5 of 5 runs up)'."""
    with_d = np.array([r.evaluation.auroc.value for r in result.models[name].runs])
    without = np.array([r.evaluation.auroc.value for r in result.models[name + NO_DESCRIPTORS].runs])
    gain = with_d - without
    return f"{gain.mean():+.3f} ({int((gain > 0).sum())} of {gain.size} runs up)"


def recompute_check(predictions: pd.DataFrame, results: dict[str, ProtocolResult]) -> str:
    """Recompute every run's AUROC from the predictions file; a sentence saying how many agree with the
    typed results (to 1e-9), and the largest difference."""
    again = recomputed_auroc(predictions)
    diffs = [abs(again[(p, name, r.run)] - r.evaluation.auroc.value)
             for p, res in results.items() for name, m in res.models.items() for r in m.runs]
    agree = sum(d <= 1e-9 for d in diffs)
    return f"{agree} of {len(diffs)} run AUROCs agree with the results file (largest difference {max(diffs):.1e})"
