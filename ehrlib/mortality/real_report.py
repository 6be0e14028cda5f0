"""Tables and sentences of the real-data chapter, read from its typed results (`real_results`).

Intervals are written "0.812 (0.790 to 0.833)"; a model's headline is its mean over runs with the
standard deviation and range, never one run. The "best" model is chosen on validation AUROC
(out-of-fold over the fitting set), never on the scored set. Published figures on these data are in
`PUBLISHED` with the protocol each used, so the reader can see which comparisons are like for like.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ehrlib.evaluation.bootstrap import Interval
from ehrlib.mortality.protocols import NO_DESCRIPTORS
from ehrlib.mortality.real_results import ProtocolResult, Spread

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


def interval(iv: Interval, digits: int = 3, signed: bool = False) -> str:
    """'0.812 (0.790 to 0.833)'."""
    f = f"+.{digits}f" if signed else f".{digits}f"
    return f"{iv.value:{f}} ({iv.ci_low:{f}} to {iv.ci_high:{f}})"


def spread(s: Spread, digits: int = 3, signed: bool = False) -> str:
    """'0.812 ± 0.011 (0.798 to 0.826)': mean ± standard deviation (range) over runs."""
    f = f"+.{digits}f" if signed else f".{digits}f"
    return f"{s.mean:{f}} ± {s.sd:.{digits}f} ({s.min:{f}} to {s.max:{f}})"


def main_models(result: ProtocolResult) -> list[str]:
    """The models of a protocol without the ablation's copies, in the chapter's order."""
    return [m for m in LABELS if m in result.models and m != "descriptors_only"] + [
        m for m in result.models if m not in LABELS and not m.endswith(NO_DESCRIPTORS)]


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
