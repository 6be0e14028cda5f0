"""Typed results of the stroke study: `stroke_cohort.json` (chapter 05) and `stroke_metrics.json` (06, 07).

Notebooks write through these classes and readers (chapter 07, the report) read through them; a missing,
renamed or mistyped field fails on load, naming the file and the field (`ehrlib.records.Record`). Predictions
behind every metric are written as CSV beside the metrics (`write_predictions`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ehrlib.booktext import interval
from ehrlib.files import atomic_write_text
from ehrlib.records import Record
from ehrlib.stroke.evaluation import ppv_at_prevalence


@dataclass
class StrokeCohortResults(Record):
    """Chapter 05's numbers: cohort, splits, samples, autoencoder, true-risk AUROC and timings."""

    profile: str
    seed: int
    population: int
    cases: int
    controls: int
    splits: dict[str, dict[str, int]]
    samples: dict[str, dict[str, dict[str, float]]]
    vocabulary_size: int
    autoencoder: dict[str, float]
    true_risk_auroc: dict[str, dict[str, float | None]]
    encoding: dict[str, Any]
    paper: dict[str, float]
    timings_seconds: dict[str, float]

    def validate(self) -> None:
        """Two controls per case and a reconstruction accuracy in [0, 1]."""
        if self.controls != 2 * self.cases:
            raise ValueError(f"expected two controls per case, got {self.cases} cases and {self.controls} controls")
        if not 0.0 <= self.autoencoder["reconstruction_accuracy"] <= 1.0:
            raise ValueError("reconstruction_accuracy must lie in [0, 1]")


@dataclass
class MetricValue(Record):
    """A metric with its 95 % matched-set bootstrap interval (None where undefined)."""

    value: float | None
    ci_low: float | None
    ci_high: float | None


@dataclass
class ViewResult(Record):
    """One model in one view on the test split."""

    view: str
    threshold: float | None
    n_samples: int
    n_sets: int
    prevalence: float | None
    metrics: dict[str, MetricValue]
    ppv_population: float | None = None

    def validate(self) -> None:
        """The view is one of the three and F1 and AUROC are present."""
        if self.view not in ("paper", "patient", "matched"):
            raise ValueError(f"unknown view {self.view!r}")
        missing = {"f1", "auroc"} - set(self.metrics)
        if missing:
            raise ValueError(f"metrics {sorted(missing)} missing")

    def value(self, metric: str) -> float:
        """The point value of `metric` (NaN when undefined)."""
        v = self.metrics[metric].value
        return float("nan") if v is None else float(v)


@dataclass
class ModelResult(Record):
    """A network, baseline or reference on one sample type: its views, choice, training and predictions."""

    name: str
    family: str  # "network", "baseline" or "reference"
    samples: str  # "diagnosis" or "exam"
    views: dict[str, ViewResult]
    architecture: dict[str, Any] | None = None
    grid: list[dict[str, Any]] = field(default_factory=list)
    training: dict[str, Any] = field(default_factory=dict)
    predictions: str = ""

    def validate(self) -> None:
        """A known family and sample type."""
        if self.family not in ("network", "baseline", "reference"):
            raise ValueError(f"unknown family {self.family!r}")
        if self.samples not in ("diagnosis", "exam"):
            raise ValueError(f"unknown samples {self.samples!r}")


@dataclass
class StrokeMetrics(Record):
    """`stroke_metrics.json`: every model in every view, the ablations and the timings."""

    profile: str
    seed: int
    paper_auroc: float
    population_prevalence: float
    n_boot: int
    models: dict[str, ModelResult]
    ablations: dict[str, Any]
    timings_seconds: dict[str, float]

    def table(self, view: str, metric: str = "auroc") -> pd.DataFrame:
        """Model x (value, low, high) of one metric in one view, networks first."""
        rows = {n: {"samples": m.samples, "family": m.family, "value": m.views[view].value(metric),
                    "ci_low": m.views[view].metrics[metric].ci_low, "ci_high": m.views[view].metrics[metric].ci_high}
                for n, m in self.models.items() if view in m.views and metric in m.views[view].metrics}
        return pd.DataFrame(rows).T


def interval_cell(mv: MetricValue | None, digits: int = 3) -> str:
    """A table cell: "0.812 (0.790 to 0.833)" (`ehrlib.booktext.interval`), or "-" where the metric or its
    interval is undefined."""
    ok = mv is not None and mv.value is not None and mv.ci_low is not None and mv.ci_high is not None
    return interval(mv, digits) if ok else "-"


def comparison_table(metrics: StrokeMetrics, metric: str = "auroc", digits: int = 3) -> pd.DataFrame:
    """Models (rows: samples, family, name) x views: "value (low to high)" of `metric` on the test split."""
    rows = {(m.samples, m.family, name): {view: interval_cell(r.metrics.get(metric), digits)
                                          for view, r in m.views.items()}
            for name, m in metrics.models.items()}
    out = pd.DataFrame(rows).T
    out.index.names = ["samples", "family", "model"]
    return out.sort_index(level=["samples", "family"], sort_remaining=False)


VIEW_METRICS = ("f1", "precision", "recall", "specificity", "accuracy", "auroc", "auprc")


def view_table(metrics: StrokeMetrics, view: str) -> pd.DataFrame:
    """Chapter 6's table of one view: every model's samples, test size and each metric with its interval
    (`top1`, the share of matched sets whose case scores highest, in the matched view)."""
    keys = VIEW_METRICS + (("top1",) if view == "matched" else ())
    rows = {name: {"samples": m.samples, "n": m.views[view].n_samples,
                   **{k: interval_cell(m.views[view].metrics[k]) for k in keys}}
            for name, m in metrics.models.items()}
    return pd.DataFrame(rows).T


def views_long(metrics: StrokeMetrics, metric: str = "auroc") -> pd.DataFrame:
    """One row per model and view: model, view, value, ci_low, ci_high of `metric` (for the views figure)."""
    return pd.DataFrame([{"model": name, "view": view, "value": m.views[view].metrics[metric].value,
                          "ci_low": m.views[view].metrics[metric].ci_low,
                          "ci_high": m.views[view].metrics[metric].ci_high}
                         for name, m in metrics.models.items() for view in ("paper", "patient", "matched")])


def best_of(metrics: StrokeMetrics, view: str, family: str, samples: str, metric: str = "auroc") -> tuple[str, float]:
    """(name, value) of the best model of a family on one sample type in one view, by `metric`."""
    cands = [(n, m.views[view].value(metric)) for n, m in metrics.models.items()
             if m.family == family and m.samples == samples and view in m.views]
    cands = [c for c in cands if np.isfinite(c[1])]
    if not cands:
        raise ValueError(f"no {family} on {samples} samples with a finite {metric} in view {view!r}")
    return max(cands, key=lambda c: c[1])


VIEWS = ("paper", "patient", "matched")
SAMPLE_TYPES = ("diagnosis", "exam")


def best_network_vs_baseline(metrics: StrokeMetrics, metric: str = "auroc") -> pd.DataFrame:
    """Per view and sample type: the best network and the best baseline by test `metric`, and the
    network minus the baseline (positive: the network did better)."""
    rows = []
    for view in VIEWS:
        for samples in SAMPLE_TYPES:
            net, net_v = best_of(metrics, view, "network", samples, metric)
            base, base_v = best_of(metrics, view, "baseline", samples, metric)
            rows.append({"View": view, "Samples": samples, "Best network": net, "Network AUROC": round(net_v, 3),
                         "Best baseline": base, "Baseline AUROC": round(base_v, 3),
                         "Network minus baseline": round(net_v - base_v, 3)})
    return pd.DataFrame(rows)


def view_result(score, ppv_prevalence: float | None = None) -> ViewResult:
    """A `ViewResult` from an `ehrlib.stroke.evaluation.ViewScore` (PPV at `ppv_prevalence` if given)."""
    def clean(x: float) -> float | None:
        return float(x) if x is not None and np.isfinite(x) else None

    metrics = {k: MetricValue(clean(iv.value), clean(iv.ci_low), clean(iv.ci_high)) for k, iv in score.metrics.items()}
    ppv = None
    if ppv_prevalence is not None and score.threshold is not None:
        ppv = clean(ppv_at_prevalence(score.metrics["recall"].value, score.metrics["specificity"].value,
                                      ppv_prevalence))
    return ViewResult(score.view, clean(score.threshold) if score.threshold is not None else None, score.n_samples,
                      score.n_sets, clean(score.prevalence), metrics, ppv)


def write_predictions(path: str | Path, rows: pd.DataFrame) -> Path:
    """Write test predictions (view, patient_id, case_id, key, label, score) as CSV, atomically."""
    out = rows.rename(columns={"y": "label"}).loc[:, ["view", "patient_id", "case_id", "key", "label", "score"]]
    return atomic_write_text(path, out.to_csv(index=False, float_format="%.8g"))


__all__ = ["MetricValue", "ModelResult", "StrokeCohortResults", "StrokeMetrics", "ViewResult", "best_of", "cohort_results",
           "comparison_table", "view_result",
           "write_predictions"]


def cohort_results(*, profile, population: int, counts: dict[str, int], prevalence: pd.DataFrame,
                   vocabulary_size: int, autoencoder, knn_chapter: float, true_risk_auroc: dict,
                   config, timings: dict[str, float]) -> StrokeCohortResults:
    """Assemble chapter 05's `StrokeCohortResults` from its pieces (`cohort_counts`, `prevalence_table`,
    the `AutoencoderResult`, `true_risk_auroc`, the `EncodingConfig` and the step timings)."""
    splits = {s: {"cases": counts[f"{s}_cases"], "controls": counts[f"{s}_controls"],
                  "patients": counts[f"{s}_cases"] + counts[f"{s}_controls"]} for s in ("train", "val", "test")}
    samples = {inp: {s: {"samples": int(r["samples"]), "positives": int(r["positives"]),
                         "prevalence": float(r["prevalence"]), "patients": int(r["patients"])}
                     for s, r in grp.set_index("split").iterrows()} for inp, grp in prevalence.groupby("input")}
    ae = autoencoder
    return StrokeCohortResults(
        profile=profile.name, seed=profile.seed, population=int(population), cases=counts["cases"],
        controls=counts["controls"], splits=splits, samples=samples, vocabulary_size=int(vocabulary_size),
        autoencoder={"reconstruction_accuracy": float(ae.reconstruction_accuracy), "epochs": len(ae.history["loss"]),
                     "max_epochs": ae.config.epochs, "final_loss": float(ae.history["loss"][-1]),
                     "chapter_knn_accuracy": float(knn_chapter)},
        true_risk_auroc={k: {s: (None if not np.isfinite(v) else float(v)) for s, v in d.items()}
                         for k, d in true_risk_auroc.items()},
        encoding={"missing_strategy": config.missing_strategy, "max_diagnoses": config.max_diagnoses,
                  "max_exam_years": config.max_exam_years},
        paper={"cases": 2725, "controls": 5450, "diagnosis_one_in": 8, "exam_one_in": 9, "auroc_best_model": 0.669},
        timings_seconds={k: round(float(v), 2) for k, v in timings.items()})
