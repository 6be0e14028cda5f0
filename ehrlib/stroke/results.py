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

from ehrlib.booktext import interval, number, spread
from ehrlib.evaluation.bootstrap import Spread
from ehrlib.files import atomic_write_text
from ehrlib.records import Record
from ehrlib.stroke.evaluation import VIEW_METRICS, VIEWS


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

    def validate(self) -> None:
        """The view is one of the three, AUROC is present, and threshold metrics only in the paper's view."""
        if self.view not in ("paper", "patient", "matched"):
            raise ValueError(f"unknown view {self.view!r}")
        if "auroc" not in self.metrics:
            raise ValueError("metrics ['auroc'] missing")
        extra = set(self.metrics) - set(VIEW_METRICS[self.view])
        if extra:
            raise ValueError(f"metrics {sorted(extra)} are not reported in the {self.view} view (threshold policy)")

    def value(self, metric: str) -> float:
        """The point value of `metric` (NaN when undefined)."""
        v = self.metrics[metric].value
        return float("nan") if v is None else float(v)




@dataclass
class SeedRun(Record):
    """One training seed of a network: its test views (with intervals), its training summary (epochs run,
    best epoch, what stopped it, history) and the file of its test predictions."""

    seed: int
    views: dict[str, ViewResult]
    training: dict[str, Any]
    predictions: str = ""


@dataclass
class ModelResult(Record):
    """A network, baseline or reference on one sample type: its views, choice, training and predictions.

    A network has one `SeedRun` per training seed in `runs`; its `views` are those of the first seed (the
    grid's choice), and its headline is the spread over seeds (`spread`)."""

    name: str
    family: str  # "network", "baseline" or "reference"
    samples: str  # "diagnosis" or "exam"
    views: dict[str, ViewResult]
    architecture: dict[str, Any] | None = None
    grid: list[dict[str, Any]] = field(default_factory=list)
    training: dict[str, Any] = field(default_factory=dict)
    predictions: str = ""
    runs: list[SeedRun] = field(default_factory=list)

    def validate(self) -> None:
        """A known family and sample type."""
        if self.family not in ("network", "baseline", "reference"):
            raise ValueError(f"unknown family {self.family!r}")
        if self.samples not in ("diagnosis", "exam"):
            raise ValueError(f"unknown samples {self.samples!r}")

    def spread(self, view: str, metric: str = "auroc") -> Spread | None:
        """The spread of `metric` in `view` over the seeds in `runs` (None without runs)."""
        values = [r.views[view].value(metric) for r in self.runs]
        return Spread.of(values) if values else None

    def headline(self, view: str, metric: str = "auroc") -> float:
        """The number that stands for this model: the mean over seeds for a network, else the test value."""
        s = self.spread(view, metric)
        return s.mean if s is not None else self.views[view].value(metric)


@dataclass(frozen=True)
class Difference(Record):
    """A network's test AUROC minus its best baseline's (chosen on validation) for one seed and view, with
    the 95 % interval of the paired bootstrap that resamples matched sets."""

    network: str
    baseline: str
    samples: str
    view: str
    seed: int
    value: float
    ci_low: float
    ci_high: float


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
    seeds: list[int] = field(default_factory=list)
    differences: list[Difference] = field(default_factory=list)
    baseline_choice: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)  # samples, view, name: val AUROC

    def table(self, view: str, metric: str = "auroc") -> pd.DataFrame:
        """Model x (value, low, high) of one metric in one view, networks first."""
        rows = {n: {"samples": m.samples, "family": m.family, "value": m.views[view].value(metric),
                    "ci_low": m.views[view].metrics[metric].ci_low, "ci_high": m.views[view].metrics[metric].ci_high}
                for n, m in self.models.items() if view in m.views and metric in m.views[view].metrics}
        return pd.DataFrame(rows).T


METRIC_WORDS: dict[str, str] = {
    "auroc": "AUROC", "auprc": "AUPRC", "f1": "F1", "precision": "precision", "recall": "recall",
    "specificity": "specificity", "accuracy": "accuracy", "ppv_population": "PPV at population prevalence",
    "top1": "case ranked first"}
VIEW_WORDS: dict[str, str] = {"paper": "paper's samples", "patient": "one per patient", "matched": "within matched sets"}
SAMPLE_TYPES = ("diagnosis", "exam")


def interval_cell(mv: MetricValue | None, digits: int = 3) -> str:
    """A table cell: "0.812 (0.790 to 0.833)" (`ehrlib.booktext.interval`), or "-" where the metric or its
    interval is undefined."""
    ok = mv is not None and mv.value is not None and mv.ci_low is not None and mv.ci_high is not None
    return interval(mv, digits) if ok else "-"


def model_cell(m: ModelResult, view: str, metric: str, digits: int = 3) -> str:
    """A network's spread over seeds ("0.812 ± 0.011 (range 0.798 to 0.826)"), any other model's interval."""
    s = m.spread(view, metric) if metric in m.views[view].metrics else None
    return spread(s, digits) if s is not None else interval_cell(m.views[view].metrics.get(metric), digits)


def comparison_table(metrics: StrokeMetrics, metric: str = "auroc", digits: int = 3) -> pd.DataFrame:
    """Models (rows: samples, family, name) x views: "value (low to high)" of `metric` on the test split."""
    rows = {(m.samples, m.family, name): {view: interval_cell(r.metrics.get(metric), digits)
                                          for view, r in m.views.items()}
            for name, m in metrics.models.items()}
    out = pd.DataFrame(rows).T
    out.index.names = ["samples", "family", "model"]
    return out.sort_index(level=["samples", "family"], sort_remaining=False)


def view_table(metrics: StrokeMetrics, view: str, keys: tuple[str, ...] | None = None) -> pd.DataFrame:
    """Chapter 6's table of one view: every model's samples, test size and each metric of `keys` (default:
    the view's, `VIEW_METRICS`) in words; networks as their spread over seeds, the others with intervals."""
    keys = keys or VIEW_METRICS[view]
    rows = [{"model": name, "samples": m.samples, "test samples": m.views[view].n_samples,
             **{METRIC_WORDS[k]: model_cell(m, view, k) for k in keys}} for name, m in metrics.models.items()]
    return pd.DataFrame(rows)


def views_long(metrics: StrokeMetrics, metric: str = "auroc") -> pd.DataFrame:
    """One row per model and view (model, view, value, ci_low, ci_high) for the views figure: a network's
    mean over seeds with the mean of its seeds' interval ends, any other model's value and interval."""
    rows = []
    for name, m in metrics.models.items():
        for view in VIEWS:
            runs = [r.views[view].metrics[metric] for r in m.runs] or [m.views[view].metrics[metric]]
            mean = lambda k: float(np.mean([getattr(r, k) for r in runs]))  # noqa: E731
            rows.append({"model": name, "view": view, "value": mean("value"), "ci_low": mean("ci_low"),
                         "ci_high": mean("ci_high")})
    return pd.DataFrame(rows)


def verdict(diffs: list[Difference]) -> str:
    """'better' when every seed's paired interval lies above zero, 'worse' when every one lies below, else
    'no clear difference'."""
    if not diffs:
        raise ValueError("no paired differences to judge")
    if all(d.ci_low > 0 for d in diffs):
        return "better"
    if all(d.ci_high < 0 for d in diffs):
        return "worse"
    return "no clear difference"


def differences_of(metrics: StrokeMetrics, network: str, view: str) -> list[Difference]:
    """The per-seed paired differences of one network in one view."""
    return [d for d in metrics.differences if d.network == network and d.view == view]


def differences_table(metrics: StrokeMetrics) -> pd.DataFrame:
    """One row per network and view: the baseline chosen on validation, the mean paired AUROC difference
    over seeds, each seed's difference with its interval, and the `verdict`."""
    rows = []
    for name in [n for n, m in metrics.models.items() if m.family == "network"]:
        for view in VIEWS:
            diffs = differences_of(metrics, name, view)
            if not diffs:
                continue
            rows.append({"network": name, "view": VIEW_WORDS[view], "best baseline (validation)": diffs[0].baseline,
                         "mean difference": number(float(np.mean([d.value for d in diffs])), signed=True),
                         **{f"seed {d.seed}": interval(d, signed=True) for d in diffs}, "verdict": verdict(diffs)})
    return pd.DataFrame(rows)


def differences_frame(metrics: StrokeMetrics) -> pd.DataFrame:
    """Every paired difference as a row (network, baseline, view, seed, value, ci_low, ci_high), for
    `stroke.plots.differences_figure`."""
    return pd.DataFrame([d.to_dict() for d in metrics.differences])


def stroke_verdict(metrics: StrokeMetrics, views: tuple[str, ...] = ("patient", "matched")) -> str:
    """The chapter's verdict against the baselines, from the paired intervals: per view, how many networks
    are better than, worse than, or not clearly different from their best baseline over all seeds."""
    networks = [n for n, m in metrics.models.items() if m.family == "network"]
    parts = []
    for view in views:
        found = [verdict(differences_of(metrics, n, view)) for n in networks if differences_of(metrics, n, view)]
        if not found:
            raise ValueError(f"no paired differences in the {view} view")
        count = {v: found.count(v) for v in ("better", "worse", "no clear difference")}
        parts.append(f"{VIEW_WORDS[view]}: {count['better']} of {len(found)} networks better than their best "
                     f"baseline on every seed, {count['worse']} worse on every seed, "
                     f"{count['no clear difference']} not clearly different")
    return "; ".join(parts)


def view_result(score) -> ViewResult:
    """A `ViewResult` from an `ehrlib.stroke.evaluation.ViewScore`."""
    def clean(x: float | None) -> float | None:
        return float(x) if x is not None and np.isfinite(x) else None

    metrics = {k: MetricValue(clean(iv.value), clean(iv.ci_low), clean(iv.ci_high)) for k, iv in score.metrics.items()}
    return ViewResult(score.view, clean(score.threshold), score.n_samples, score.n_sets, clean(score.prevalence),
                      metrics)


def write_predictions(path: str | Path, rows: pd.DataFrame) -> Path:
    """Write test predictions (view, patient_id, case_id, key, label, score) as CSV, atomically."""
    out = rows.rename(columns={"y": "label"}).loc[:, ["view", "patient_id", "case_id", "key", "label", "score"]]
    return atomic_write_text(path, out.to_csv(index=False, float_format="%.8g"))


__all__ = ["Difference", "METRIC_WORDS", "MetricValue", "ModelResult", "SAMPLE_TYPES", "SeedRun", "Spread",
           "StrokeCohortResults", "StrokeMetrics", "VIEW_WORDS", "ViewResult",
           "cohort_results", "comparison_table", "differences_frame", "differences_of", "differences_table", "interval_cell", "model_cell",
           "stroke_verdict", "verdict", "view_result", "view_table", "views_long", "write_predictions"]


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
