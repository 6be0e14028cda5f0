"""Typed results of the real-data chapter (PhysioNet 2012): `physionet2012_metrics.json`.

One `ProtocolResult` per protocol ("challenge": fit on set A, score set B; "kfold": 5-fold
cross-validation over A and B pooled), each holding every model's runs (a run is one fold's model,
trained with its own seed): the full `ModelEvaluation` (subject-bootstrap intervals), the challenge's
event 1 (with its interval) and event 2, and the paired AUROC difference from the reference models
on the same resamples. `spread` is the mean, standard deviation, minimum and maximum over the runs,
the headline for every model. The predictions behind every metric are in `predictions.csv` beside
the file (`ehrlib.mortality.protocols.save_predictions`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ehrlib.evaluation.bootstrap import Interval, Spread
from ehrlib.evaluation.protocol import ModelEvaluation
from ehrlib.records import Record

RESULTS_FILE = "physionet2012_metrics.json"
SPREAD_METRICS = ("auroc", "auprc", "event1", "event2", "ece", "slope", "intercept")


@dataclass
class RunRecord(Record):
    """One run (one fold's model) of one model under one protocol."""

    run: int
    seed: int
    n_fit: int
    evaluation: ModelEvaluation
    event1: Interval
    event2: float
    diff_auroc: dict[str, Interval] = field(default_factory=dict)

    def metric(self, name: str) -> float:
        """A headline metric of this run by name (see `SPREAD_METRICS`)."""
        ev = self.evaluation
        values = {"auroc": ev.auroc.value, "auprc": ev.auprc.value, "event1": self.event1.value,
                  "event2": self.event2, "ece": ev.calibrated.ece.value, "slope": ev.calibrated.slope.value,
                  "intercept": ev.calibrated.intercept.value}
        return float(values[name])


@dataclass
class ModelRuns(Record):
    """Every run of one model, and the spread of each headline metric over them."""

    runs: list[RunRecord]
    spread: dict[str, Spread]
    seconds: float
    validation_auroc: float

    @classmethod
    def of(cls, runs: list[RunRecord], seconds: float, validation_auroc: float) -> "ModelRuns":
        """Collect runs and compute their spreads; `validation_auroc` is what model choices may use
        (out-of-fold over the fitting set, or the mean over the folds' inner validation sets)."""
        spread = {m: Spread.of([r.metric(m) for r in runs]) for m in SPREAD_METRICS}
        diffs = sorted({k for r in runs for k in r.diff_auroc})
        for ref in diffs:
            spread[f"diff_auroc_{ref}"] = Spread.of([r.diff_auroc[ref].value for r in runs])
        return cls(runs=runs, spread=spread, seconds=float(seconds), validation_auroc=float(validation_auroc))


@dataclass
class ProtocolResult(Record):
    """One protocol: what was fitted on what, and every model's runs."""

    protocol: str
    description: str
    n_fit: int
    n_scored: int
    deaths_scored: int
    n_splits: int
    n_boot: int
    references: list[str]
    models: dict[str, ModelRuns]

    def validate(self) -> None:
        """Every model has runs; the references are models of this protocol."""
        if any(not m.runs for m in self.models.values()):
            raise ValueError("a model has no runs")
        missing = [r for r in self.references if r not in self.models]
        if missing:
            raise ValueError(f"references {missing} are not among the models")


@dataclass
class RealDataResults(Record):
    """`physionet2012_metrics.json`: the data summary, the cleaning counts and both protocols."""

    source: str
    records: dict[str, int]
    deaths: dict[str, int]
    variables: list[str]
    descriptors: list[str]
    protocols: dict[str, ProtocolResult]
    timings: dict[str, float] = field(default_factory=dict)


def results_path(folder: str | os.PathLike) -> Path:
    """The typed results file in a results folder."""
    return Path(folder) / RESULTS_FILE


def load_real_results(folder: str | os.PathLike) -> RealDataResults:
    """Read and validate `physionet2012_metrics.json` (errors name the file and field)."""
    return RealDataResults.load(results_path(folder))
