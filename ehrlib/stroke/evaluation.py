"""The stroke models' evaluation in three views, with intervals that resample matched case sets.

The cohort is sampled on the outcome (a case and two matched controls), and every history prefix is a
sample; numbers on the paper's samples therefore mix the model with the sampling design (a case's positive
samples are by construction its last prefixes before the stroke). Every model is scored in three views:

1. **paper**: every history prefix of the test patients is a sample, labelled as in the paper (a first
   stroke within 365 days of the prefix's last record). Comparable with the paper's AUROC 0.669.
2. **patient**: one prediction per patient at a landmark date, `landmark_days` (365) before the case's
   index date, the same date for the case's controls: the latest sample whose last record is on or before
   the landmark. The label is whether the patient's own first stroke comes within the year after the
   landmark: the case's does, and so does that of an "until_index" control with a stroke in that year.
   Patients with no record before the landmark drop out (counted).
3. **matched**: within each matched set of the patient view (a case and at least one of its controls).
   AUROC is the conditional AUROC: how often the model ranks the case above one of its own controls (ties
   one half). AUPRC is its within-set counterpart: each set's average precision, which with one positive
   is 1 / (the case's rank, tied controls ranked first), averaged over sets. `top1` is the share of sets
   whose case scores highest (ties shared), the decision rule "flag one member per set".

**Threshold policy.** Threshold metrics (F1, precision, recall, specificity, accuracy and the PPV at the
population prevalence) are reported in the paper's view only, at the F1-optimal threshold of the
validation split's samples, as the paper chose its own. In the patient and matched views a fixed
threshold means nothing a reader could use: the cohort holds one case per two controls, so the F1-optimal
threshold of a weak ranking flags nearly everyone (recall near 1, specificity near 0), and within a
matched set the only decision is which member to flag, which `top1` measures. Those views report ranking
metrics only.

Intervals: percentile bootstrap that resamples matched case sets (`ehrlib.evaluation.bootstrap`), never
single samples. The PPV at a population prevalence (`ppv_at_prevalence`) is computed in every replicate
from its recall and specificity, so it has an interval too. Differences between two models on the same
samples (`paired_difference`) are paired: both are scored on the same resampled sets.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ehrlib.evaluation.bootstrap import (
    AT_THRESHOLD, Interval, grouped_bootstrap, grouped_paired_bootstrap, percentile_interval, point_metrics,
    replicate_metrics, weight_chunks,
)
from ehrlib.evaluation.thresholds import select_f1_threshold

VIEWS: tuple[str, ...] = ("paper", "patient", "matched")
PAPER_AUROC = 0.669


@dataclass
class Scored:
    """One split's samples with a model's scores: the columns every view needs.

    `key` is the sample's last record date (ISO string) so that each prediction can be traced to its
    sample; `index_date` is the matched case's stroke date.
    """

    frame: pd.DataFrame  # patient_id, case_id, role, index_date, event_date, last_date, y, score

    @classmethod
    def build(cls, samples, cohort: pd.DataFrame, score: np.ndarray) -> "Scored":
        """From `EncodedSamples` of one split, its cohort and the scores of its samples."""
        c = cohort.set_index("patient_id")
        event = c["event_date"] if "event_date" in c.columns else c["index_date"].where(c["role"].eq("case"))
        frame = pd.DataFrame({
            "patient_id": samples.patient_id, "case_id": samples.case_id, "role": samples.role,
            "index_date": pd.to_datetime(c["index_date"].reindex(samples.patient_id).to_numpy()),
            "event_date": pd.to_datetime(event.reindex(samples.patient_id).to_numpy()),
            "last_date": pd.to_datetime(samples.last_date), "y": samples.y.astype(int),
            "score": np.asarray(score, dtype=np.float64)})
        if len(frame) != len(np.asarray(score)):
            raise ValueError("one score per sample is required")
        return cls(frame)


def view_frame(scored: Scored, view: str, landmark_days: int = 365) -> pd.DataFrame:
    """The rows of `view` ("paper", "patient" or "matched") with columns patient_id, case_id, key, y, score."""
    f = scored.frame
    if view == "paper":
        out = f.assign(key=f["last_date"].dt.strftime("%Y-%m-%d"))
    elif view in ("patient", "matched"):
        landmark = f["index_date"] - pd.Timedelta(days=landmark_days)
        g = f.loc[f["last_date"] <= landmark]
        g = g.sort_values(["patient_id", "last_date"], kind="mergesort").groupby("patient_id").tail(1)
        mark = g["index_date"] - pd.Timedelta(days=landmark_days)
        event = g["event_date"] if "event_date" in g.columns else g["index_date"].where(g["role"] == "case")
        within = (event > mark) & (event <= mark + pd.Timedelta(days=365))
        out = g.assign(y=within.astype(int), key=mark.dt.strftime("%Y-%m-%d"))
        if view == "matched":
            sets = out.groupby("case_id")["y"].agg(["sum", "size"])
            ok = sets.index[(sets["sum"] == 1) & (sets["size"] >= 2)]
            out = out.loc[out["case_id"].isin(ok)]
    else:
        raise ValueError(f"view must be one of {VIEWS}, got {view!r}")
    return out.loc[:, ["patient_id", "case_id", "key", "y", "score"]].reset_index(drop=True)


def _set_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Per matched set (index case_id, sorted): case-over-control wins (ties 1/2), control count, the case's
    top-rank share and its average precision."""
    case = frame.loc[frame["y"] == 1].set_index("case_id")["score"]
    ctrl = frame.loc[frame["y"] == 0]
    c_case = case.reindex(ctrl["case_id"]).to_numpy()
    s = ctrl["score"].to_numpy()
    by = pd.DataFrame({"case_id": ctrl["case_id"].to_numpy(), "wins": (c_case > s) + 0.5 * (c_case == s),
                       "beat": (c_case > s).astype(float), "tie": (c_case == s).astype(float)}
                      ).groupby("case_id", sort=True)
    t = by.sum()
    t["pairs"] = by.size().astype(float)
    t["top1"] = np.where(t["beat"] + t["tie"] == t["pairs"], 1.0 / (1.0 + t["tie"]), 0.0)
    t["ap"] = 1.0 / (1.0 + t["pairs"] - t["beat"])
    return t


def _matched_rows(t: pd.DataFrame, w: np.ndarray) -> dict[str, np.ndarray]:
    """The matched-view metrics (conditional AUROC, within-set AUPRC, top-rank share) for each row of set
    weights `w` (n_rep, n_sets)."""
    n = w.sum(axis=1)
    return {"auroc": (w @ t["wins"].to_numpy()) / (w @ t["pairs"].to_numpy()), "auprc": (w @ t["ap"].to_numpy()) / n,
            "top1": (w @ t["top1"].to_numpy()) / n}


def _matched_replicates(t: pd.DataFrame, n_boot: int, seed: int) -> dict[str, np.ndarray]:
    """Every bootstrap replicate's matched-view metrics, resampling the sets of `t` (in their order)."""
    if not len(t):
        raise ValueError("no matched set with a case and a control")
    parts = [_matched_rows(t, w) for w in weight_chunks(np.arange(len(t)), n_boot, seed)]
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def matched_bootstrap(frame: pd.DataFrame, n_boot: int = 1000, seed: int = 0) -> dict[str, Interval]:
    """The matched view's metrics (conditional AUROC, within-set AUPRC and the top-rank share) with
    percentile intervals from resampling matched sets."""
    t = _set_table(frame)
    reps = _matched_replicates(t, n_boot, seed)
    point = {k: float(v[0]) for k, v in _matched_rows(t, np.ones((1, len(t)))).items()}
    return {k: percentile_interval(point[k], reps[k]) for k in point}


def ppv_at_prevalence(recall, specificity, prevalence: float):
    """Positive predictive value of a rule with this recall and specificity where the outcome has `prevalence`
    (NaN where the rule flags nobody); arrays of replicates give an array."""
    tp = np.asarray(recall, dtype=np.float64) * prevalence
    fp = (1.0 - np.asarray(specificity, dtype=np.float64)) * (1.0 - prevalence)
    with np.errstate(invalid="ignore", divide="ignore"):
        ppv = np.where(tp + fp > 0, tp / (tp + fp), np.nan)
    return float(ppv) if ppv.ndim == 0 else ppv


def population_incidence(hazard: pd.DataFrame, patients: pd.DataFrame, min_age: int = 45, max_age: int = 95) -> float:
    """The generator population's mean one-year stroke probability, 1 - exp(-hazard), over person-years
    aged `min_age`-`max_age`: a realistic prevalence for a one-year prediction (not the cohort's 1 : 2)."""
    h = hazard.merge(patients[["patient_id", "birth_year"]], on="patient_id")
    age = h["year"] - h["birth_year"]
    sel = h.loc[age.between(min_age, max_age), "annual_hazard"].to_numpy(np.float64)
    return float(np.mean(1.0 - np.exp(-sel)))


#: The metrics each view reports (the threshold policy of the module docstring).
VIEW_METRICS: dict[str, tuple[str, ...]] = {
    "paper": ("auroc", "auprc", "f1", "precision", "recall", "specificity", "accuracy", "ppv_population"),
    "patient": ("auroc", "auprc"), "matched": ("auroc", "auprc", "top1")}


@dataclass
class ViewScore:
    """A view's metrics with intervals, its validation-chosen threshold (paper's view only) and sizes."""

    view: str
    metrics: dict[str, Interval]
    threshold: float | None
    n_samples: int
    n_sets: int
    prevalence: float


def _paper_metrics(rows: pd.DataFrame, threshold: float, prevalence: float | None, n_boot: int, seed: int
                   ) -> dict[str, Interval]:
    """The paper view's metrics at `threshold`, with the PPV at `prevalence` computed in every replicate."""
    y, p, groups = rows["y"].to_numpy(), rows["score"].to_numpy(), rows["case_id"].to_numpy()
    point = point_metrics(y, p, threshold)
    reps = replicate_metrics(y, p, threshold=threshold, groups=groups, n_boot=n_boot, seed=seed)
    if prevalence is not None:
        point["ppv_population"] = ppv_at_prevalence(point["recall"], point["specificity"], prevalence)
        reps["ppv_population"] = ppv_at_prevalence(reps["recall"], reps["specificity"], prevalence)
    return {k: percentile_interval(point[k], reps[k]) for k in point}


def evaluate_view(val: Scored, test: Scored, view: str, n_boot: int = 1000, seed: int = 0,
                  prevalence: float | None = None) -> tuple[ViewScore, pd.DataFrame]:
    """Score one view on test with matched-set intervals: ranking metrics in every view; in the paper's
    view also the metrics at the validation split's F1-optimal threshold and the PPV at `prevalence`.
    Returns the scores and the test rows behind them (for the predictions file)."""
    test_rows = view_frame(test, view)
    threshold = None
    if view == "paper":
        v = view_frame(val, view)
        threshold = select_f1_threshold(v["y"].to_numpy(), v["score"].to_numpy())["threshold"]
        metrics = _paper_metrics(test_rows, threshold, prevalence, n_boot, seed)
    elif view == "matched":
        metrics = matched_bootstrap(test_rows, n_boot, seed)
    else:
        metrics = grouped_bootstrap(test_rows["y"].to_numpy(), test_rows["score"].to_numpy(),
                                    groups=test_rows["case_id"].to_numpy(), n_boot=n_boot, seed=seed)
    metrics = {k: metrics[k] for k in VIEW_METRICS[view] if k in metrics}
    score = ViewScore(view, metrics, threshold, len(test_rows), int(test_rows["case_id"].nunique()),
                      float(test_rows["y"].mean()) if len(test_rows) else float("nan"))
    return score, test_rows


def evaluate_all_views(val: Scored, test: Scored, n_boot: int = 1000, seed: int = 0,
                       prevalence: float | None = None) -> tuple[dict[str, ViewScore], pd.DataFrame]:
    """`evaluate_view` for every view; the test predictions of all views in one frame (column `view`)."""
    scores, rows = {}, []
    for view in VIEWS:
        scores[view], r = evaluate_view(val, test, view, n_boot, seed, prevalence)
        rows.append(r.assign(view=view))
    return scores, pd.concat(rows, ignore_index=True)


def view_auroc(scored: Scored, view: str) -> float:
    """The point AUROC of one view (the conditional AUROC in the matched view), no interval: the quantity
    by which the best baseline is chosen on validation."""
    rows = view_frame(scored, view)
    if view == "matched":
        return float(_matched_rows(_set_table(rows), np.ones((1, rows["case_id"].nunique())))["auroc"][0])
    return point_metrics(rows["y"].to_numpy(), rows["score"].to_numpy())["auroc"]


def _aligned(a: pd.DataFrame, b: pd.DataFrame) -> None:
    """Refuse two view frames that do not hold the same samples in the same order."""
    same = len(a) == len(b) and all(np.array_equal(a[c].to_numpy(), b[c].to_numpy())
                                    for c in ("patient_id", "case_id", "key", "y"))
    if not same:
        raise ValueError("paired difference: the two models were not scored on the same samples")


def paired_difference(a: Scored, b: Scored, view: str, n_boot: int = 1000, seed: int = 0,
                      level: float = 0.95) -> Interval:
    """AUROC of model `a` minus model `b` in one view, both scored on the same test samples, with a
    percentile interval from resampling matched sets, the same resamples for both (a paired bootstrap)."""
    ra, rb = view_frame(a, view), view_frame(b, view)
    _aligned(ra, rb)
    if view == "matched":
        ta, tb = _set_table(ra), _set_table(rb)
        diff = _matched_replicates(ta, n_boot, seed)["auroc"] - _matched_replicates(tb, n_boot, seed)["auroc"]
        ones = np.ones((1, len(ta)))
        point = float(_matched_rows(ta, ones)["auroc"][0] - _matched_rows(tb, ones)["auroc"][0])
        return percentile_interval(point, diff, level)
    d = grouped_paired_bootstrap(ra["y"].to_numpy(), ra["score"].to_numpy(), rb["score"].to_numpy(),
                                 groups=ra["case_id"].to_numpy(), n_boot=n_boot, seed=seed, level=level)["auroc"]
    return Interval(d["value"], d["ci_low"], d["ci_high"])


__all__ = [
    "AT_THRESHOLD", "PAPER_AUROC", "Scored", "VIEWS", "VIEW_METRICS", "ViewScore", "evaluate_all_views",
    "evaluate_view", "matched_bootstrap", "paired_difference", "population_incidence", "ppv_at_prevalence",
    "view_auroc", "view_frame",
]
