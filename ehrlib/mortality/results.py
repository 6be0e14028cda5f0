"""Typed mortality results: what chapters 03, 04 and 07 write and chapter 08's report reads.

One JSON file (`mortality_metrics.json` in the profile's results folder) holds a `MortalityResults`
record. Every section is a field that is always present in the file: `None` means "that chapter has
not run", and anything else must have exactly its record's fields, with the right types. A chapter
replaces only its own sections (`update_results`), which reads and validates the whole file first,
so a missing, renamed or mistyped field fails loudly (naming the file and the field) both when a
chapter writes and when the report reads.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from ehrlib.evaluation.bootstrap import Interval
from ehrlib.evaluation.protocol import ModelEvaluation
from ehrlib.evaluation.subgroups import SubgroupRow
from ehrlib.records import Record

RESULTS_FILE = "mortality_metrics.json"


@dataclass
class SplitCount(Record):
    """Size of one split."""

    n: int
    deaths: int
    prevalence: float
    subjects: int


@dataclass
class DataSummary(Record):
    """The dataset the chapters ran on."""

    splits: dict[str, SplitCount]
    n_variables: int
    variables: list[str]
    source: Literal["synthetic", "external"]
    has_true_risk: bool


@dataclass
class TrainingRecord(Record):
    """Chapter 03's LSTM training: configuration, epochs, timings and raw validation scores."""

    config: dict[str, Any]
    n_parameters: int
    epochs_run: int
    best_epoch: int
    seconds: float
    seconds_per_epoch: float
    xla: bool
    n_train: int
    n_features: int
    masked_step_fraction: dict[str, float]
    val_auroc_raw: float
    val_auprc_raw: float
    oracle_val_auroc: float | None
    history: dict[str, list[float]]

    def validate(self) -> None:
        """The kept epoch was run."""
        if not 1 <= self.best_epoch <= self.epochs_run:
            raise ValueError(f"best_epoch {self.best_epoch} outside 1..{self.epochs_run}")


@dataclass
class Oracle(Record):
    """The generator's true risk scored on test like a model: the ceiling, and the ECE noise floor."""

    auroc: Interval
    auprc: Interval
    ece: Interval
    ici: Interval


@dataclass
class BaselineRecord(Record):
    """One baseline's test evaluation, its notes (fitted choices) and fit seconds."""

    evaluation: ModelEvaluation
    notes: dict[str, Any]
    seconds: float


@dataclass
class PairedDifference(Record):
    """Model A minus model B on the same subject resamples (raw scores)."""

    a: float
    b: float
    difference: Interval
    p_value: float
    n_boot: int

    @classmethod
    def from_bootstrap(cls, entry: dict[str, float]) -> "PairedDifference":
        """From one metric of `bootstrap.grouped_paired_bootstrap`."""
        return cls(a=float(entry["a"]), b=float(entry["b"]),
                   difference=Interval(entry["value"], entry["ci_low"], entry["ci_high"]),
                   p_value=float(entry["p_value"]), n_boot=int(entry["n_boot"]))


@dataclass
class Comparison(Record):
    """LSTM minus the benchmark logistic regression on test (AUROC and AUPRC of raw scores)."""

    auroc: PairedDifference
    auprc: PairedDifference


@dataclass
class SeedSummary(Record):
    """The LSTM over several seeds: raw test AUROC/AUPRC and the paired difference from the regression."""

    seeds: list[int]
    auroc: list[float]
    auprc: list[float]
    diff_auroc: list[Interval]
    seconds: list[float]

    def validate(self) -> None:
        """One entry per seed in every list."""
        n = len(self.seeds)
        if not n or any(len(v) != n for v in (self.auroc, self.auprc, self.diff_auroc, self.seconds)):
            raise ValueError("every per-seed list must have one entry per seed")

    def spread(self, key: str = "auroc") -> tuple[float, float, float, float]:
        """Mean, sample SD (0 for one seed), min and max of a per-seed metric."""
        v = np.asarray(getattr(self, key) if key != "diff_auroc" else [d.value for d in self.diff_auroc])
        return float(v.mean()), float(v.std(ddof=1)) if v.size > 1 else 0.0, float(v.min()), float(v.max())


@dataclass
class KFoldResult(Record):
    """Patient-grouped k-fold validation: per-fold point scores per model, and their summary."""

    n_splits: int
    n_episodes: int
    folds: list[dict[str, dict[str, float]]]
    summary: dict[str, dict[str, dict[str, float]]]
    diff_auroc: list[float]
    seconds: float


@dataclass
class NetBenefitAt(Record):
    """Net benefit at one threshold probability with subject-bootstrap intervals: acting on the model,
    treating everyone, and the model minus treating everyone (on the same resamples)."""

    threshold: float
    model: Interval
    treat_all: Interval
    difference: Interval


@dataclass
class DecisionCurve(Record):
    """Net benefit per model, treat-all and treat-none over threshold probabilities, with marked points,
    and the LSTM's net benefit at its F1-optimal threshold with intervals (None in older runs)."""

    thresholds: np.ndarray
    net_benefit: dict[str, np.ndarray]
    marks: dict[str, float]
    at_threshold: NetBenefitAt | None = None


@dataclass
class LearningCurve(Record):
    """Test AUROC (raw scores, subject-bootstrap interval) against training episodes, per model."""

    sizes: list[int]
    auroc: dict[str, list[Interval]]


@dataclass
class Subgroups(Record):
    """Subgroup results, or why there are none (real data lack the attributes)."""

    available: bool
    reason: str
    rows: list[SubgroupRow]


@dataclass
class AblationRow(Record):
    """Test AUROC of one model on a dataset generated with some realism switches off."""

    setting: str
    model: str
    auroc: Interval


@dataclass
class Ablation(Record):
    """The missingness-mechanism ablation on small generated datasets."""

    n_episodes: int
    rows: list[AblationRow]
    n_train: int = 0
    n_test: int = 0
    diff_auroc: dict[str, Interval] = field(default_factory=dict)  # setting -> LSTM minus regression, paired


@dataclass
class BestBaseline(Record):
    """The baseline with the highest raw validation AUROC (chosen without looking at test), its validation
    AUROC and every baseline's, and the LSTM minus it on test (paired subject bootstrap)."""

    model: str
    validation_auroc: dict[str, float]
    comparison: Comparison


SECTIONS = ("data", "training", "lstm", "oracle", "baselines", "comparison", "seeds", "kfold",
            "decision_curve", "learning_curve", "subgroups", "ablation", "timings", "best_baseline", "oracle_gaps")


@dataclass
class MortalityResults(Record):
    """Every mortality result of a run; `None` marks a section whose chapter has not run."""

    data: DataSummary | None
    training: TrainingRecord | None
    lstm: ModelEvaluation | None
    oracle: Oracle | None
    baselines: dict[str, BaselineRecord] | None
    comparison: Comparison | None
    seeds: SeedSummary | None
    kfold: KFoldResult | None
    decision_curve: DecisionCurve | None
    learning_curve: LearningCurve | None
    subgroups: Subgroups | None
    ablation: Ablation | None
    timings: dict[str, float]
    best_baseline: BestBaseline | None = None
    oracle_gaps: dict[str, Interval] | None = None  # each model's test AUROC minus the true risk's, paired

    @classmethod
    def empty(cls) -> "MortalityResults":
        """A results record with no section filled."""
        return cls(**{name: None for name in SECTIONS if name != "timings"}, timings={})


def results_path(results_dir: str | os.PathLike) -> Path:
    """The results file in a profile's results folder."""
    return Path(results_dir) / RESULTS_FILE


def load_results(results_dir: str | os.PathLike) -> MortalityResults:
    """Read and validate the run's results (errors name the file and the field)."""
    return MortalityResults.load(results_path(results_dir))


def update_results(results_dir: str | os.PathLike, timings: dict[str, float] | None = None,
                   fresh: bool = False, **sections: Record | dict | None) -> MortalityResults:
    """Replace some sections of the results file (created empty if absent) and merge `timings`.

    The existing file is validated first and the new record before writing, so neither a stale
    file nor a wrong section passes silently. `fresh` starts from an empty file instead: chapter 03,
    whose model every later section depends on, begins a new results file (an older run's file, of
    this or an earlier format, is replaced, not merged).
    """
    unknown = sorted(set(sections) - set(SECTIONS))
    if unknown:
        raise ValueError(f"unknown results section(s) {unknown}; known: {list(SECTIONS)}")
    path = results_path(results_dir)
    current = MortalityResults.load(path) if path.exists() and not fresh else MortalityResults.empty()
    merged = dataclasses.replace(current, **sections, timings={**current.timings, **(timings or {})})
    MortalityResults.from_dict(merged.to_dict(), where=f"{path} (being written)")
    merged.save(path)
    return merged
