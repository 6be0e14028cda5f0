"""The realism report: the synthetic ICU stays measured beside real ones (PhysioNet 2012), variable by variable and as a whole.
For every variable both datasets chart, `variable_table` gives the share of stays measured, the hours with a value per
stay (vital signs: hours charted of 48; labs: draws), the 48-hour mean's median in survivors and non-survivors and its
univariate AUROC (direction-free, among the stays measured); `multivariate_table` the test AUROC of models fitted on an
equal number of training stays (observation counts only, 48-h means + last values, the benchmark's 7 x 6 regression,
boosted trees), on the time series alone; `targets` checks the calibration targets of the data card
(`book/cards/icu-data.md`) and says by how much each is met or missed; `realism_figure` draws the per-variable figures.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots
from sklearn.metrics import roc_auc_score

from ehrlib.icu.describe import last_values, lr_auroc, window_means
from ehrlib.icu.episodes import EpisodeSet
from ehrlib.icu.synth import IcuCohort
from ehrlib.mortality.baselines import GbtBaseline, LogisticBaseline
from ehrlib.physionet2012.files import locate_physionet2012
from ehrlib.physionet2012.reader import read_physionet2012
from ehrlib.plots import PALETTE

#: Vital signs (charted hourly); every other shared variable is a lab (drawn a few times a stay).
VITAL_SIGNS: tuple[str, ...] = ("Heart Rate", "Systolic blood pressure", "Diastolic blood pressure", "Respiratory rate",
                                "Temperature", "Oxygen saturation")
#: Shared variables that are no charting target: PhysioNet 2012 charts respiratory rate for a minority of stays.
NOT_CHARTING_TARGETS: tuple[str, ...] = ("Respiratory rate",)
#: The columns of `variable_table`.
MEASURES: tuple[str, ...] = ("measured, %", "per stay", "median, survivors", "median, non-survivors", "AUROC")
#: The model rows of `multivariate_table`, in order.
MODELS: tuple[str, ...] = ("observation counts only", "48-h means + last values", "benchmark regression, 7 x 6",
                           "gradient-boosted trees, 7 x 6")

#: The boosted trees of `multivariate_aurocs`.
GBT = GbtBaseline(max_iter=120, learning_rate=0.1)


@dataclass(frozen=True)
class RealismTargets:
    """The calibration targets (issue 21): univariate AUROC per variable and their median, charting per stay
    (relative), the share of stays with lactate (points), the counts-only and means+last regressions, the temporal
    headroom and the true risk's AUROC (minimums)."""

    auroc_each: float = 0.05
    auroc_median: float = 0.03
    charting_relative: float = 0.30
    lactate_points: float = 10.0
    regression: float = 0.03
    min_headroom: float = 0.02
    min_true_risk_auroc: float = 0.86


def shared_variables(a: EpisodeSet, b: EpisodeSet) -> list[str]:
    """The variables both episode sets chart, in `a`'s order."""
    return [v for v in a.variables if v in set(b.variables)]


def select(episodes: EpisodeSet, variables: list[str] | None = None, n: int | None = None) -> EpisodeSet:
    """The episodes' time series alone: only `variables` (default all), the first `n` stays (default all), no static
    descriptors (so that real and synthetic stays are compared on what both chart)."""
    keep = slice(None) if n is None else slice(0, n)
    cols = list(range(len(episodes.variables))) if variables is None else [episodes.variables.index(v) for v in variables]
    part = episodes.take(keep)
    return dataclasses.replace(part, values=part.values[:, :, cols], mask=part.mask[:, :, cols],
                               variables=[part.variables[k] for k in cols], static=None, static_names=[])


def cohort_episodes(cohort: IcuCohort, split: str) -> EpisodeSet:
    """One split of an in-memory synthetic cohort as an `EpisodeSet` (hourly means of the charted values; the reader
    keeps an hour's last value instead, which changes the 48-h summaries very little)."""
    sel = (cohort.latent["split"] == split).to_numpy()
    hourly, mask = cohort.hourly()
    lat = cohort.latent[sel]
    return EpisodeSet(values=hourly[sel], mask=mask[sel], y=lat["y"].to_numpy(), stays=lat["stay"].to_numpy(),
                      variables=list(cohort.variables), true_risk=lat["true_risk"].to_numpy(), split=split)


def _auroc(y: np.ndarray, x: np.ndarray) -> float:
    """Direction-free AUROC of one score among the stays where it exists (NaN with a single class)."""
    ok = ~np.isnan(x)
    if len(np.unique(y[ok])) < 2:
        return float("nan")
    a = roc_auc_score(y[ok], x[ok])
    return float(max(a, 1.0 - a))


def variable_table(episodes: EpisodeSet, variables: list[str]) -> pd.DataFrame:
    """Per variable: share of stays measured (%), hours with a value per stay (over all stays; for labs about the
    draws), the 48-hour mean's median in survivors and in non-survivors, and its direction-free AUROC among the stays
    measured."""
    means = window_means(np.where(episodes.mask, episodes.values, np.nan))
    y = np.asarray(episodes.y).astype(int)
    rows = {}
    for v in variables:
        k = episodes.variables.index(v)
        x, hours = means[:, k], episodes.mask[:, :, k].sum(axis=1)
        rows[v] = {"measured, %": 100 * float(np.mean(hours > 0)), "per stay": float(hours.mean()),
                   "median, survivors": float(np.nanmedian(x[y == 0])) if np.any(~np.isnan(x[y == 0])) else np.nan,
                   "median, non-survivors": float(np.nanmedian(x[y == 1])) if np.any(~np.isnan(x[y == 1])) else np.nan,
                   "AUROC": _auroc(y, x)}
    return pd.DataFrame(rows).T.rename_axis("variable")


def side_by_side(ours: EpisodeSet, real: EpisodeSet, variables: list[str] | None = None) -> pd.DataFrame:
    """`variable_table` of both datasets on their shared variables, columns (measure, "ours" / "real"), with the
    charting kind of each variable ("vital hours" or "lab draws")."""
    variables = variables or shared_variables(ours, real)
    both = pd.concat({"ours": variable_table(ours, variables), "real": variable_table(real, variables)}, axis=1)
    both = both.swaplevel(axis=1)[[(m, d) for m in MEASURES for d in ("ours", "real")]]
    both.insert(0, ("charting", ""), ["vital hours" if v in VITAL_SIGNS else "lab draws" for v in variables])
    return both


def _fit_score(model, train: EpisodeSet, test: EpisodeSet) -> float:
    return float(roc_auc_score(np.asarray(test.y).astype(int), model.fit(train).predict_proba(test)))


def multivariate_aurocs(train: EpisodeSet, test: EpisodeSet, models: tuple[str, ...] = MODELS) -> dict[str, float]:
    """Test AUROC of the `MODELS` fitted on `train`: L2 regressions on observation counts per variable and on 48-h
    means with last values, the benchmark's regression and boosted trees on its 7 x 6 sub-window statistics (`GBT`:
    fewer, larger steps than chapter 07's, to keep the report fast); `models` picks some of them."""
    ytr, yte = np.asarray(train.y).astype(int), np.asarray(test.y).astype(int)
    counts = [s.mask.sum(axis=1).astype(float) for s in (train, test)]
    summary = [np.c_[window_means(np.where(s.mask, s.values, np.nan)), last_values(s.values, s.mask)]
               for s in (train, test)]
    fits = {MODELS[0]: lambda: lr_auroc(counts[0], ytr, counts[1], yte),
            MODELS[1]: lambda: lr_auroc(summary[0], ytr, summary[1], yte),
            MODELS[2]: lambda: _fit_score(LogisticBaseline(), train, test),
            MODELS[3]: lambda: _fit_score(dataclasses.replace(GBT), train, test)}
    return {m: fits[m]() for m in models}


def multivariate_table(ours: tuple[EpisodeSet, EpisodeSet], real: tuple[EpisodeSet, EpisodeSet],
                       n_train: int | None = None) -> pd.DataFrame:
    """`multivariate_aurocs` of both datasets, each (train, test) on its time series alone (`select`), the first
    `n_train` training stays of each (default: as many as the smaller training set) so that both learn from as much."""
    n_train = n_train or min(len(ours[0]), len(real[0]))
    table = {name: multivariate_aurocs(select(tr, n=n_train), select(te)) for name, (tr, te) in
             (("ours", ours), ("real", real))}
    return pd.DataFrame(table).rename_axis("test AUROC")


def _row(target: str, ours: float, real: float, limit: float, met: bool, miss: float) -> dict[str, object]:
    return {"target": target, "ours": ours, "real": real, "allowed": limit, "met": bool(met),
            "missed by": 0.0 if met else float(miss)}


def targets(table: pd.DataFrame, multi: pd.DataFrame, true_risk_auroc: float, headroom: float,
            goal: RealismTargets = RealismTargets()) -> pd.DataFrame:
    """Each calibration target, met or missed by how much: every shared variable's AUROC and their median, charting
    per stay (vital hours and lab draws, relative; respiratory rate excluded), the share of stays with lactate, the
    counts-only and means+last regressions (`multivariate_table`), and the temporal headroom and true risk's AUROC
    (minimums, from chapter 01's headroom table). `table` is `side_by_side`'s."""
    rows = []
    auc = table["AUROC"]
    for v, (o, r) in auc.iterrows():
        rows.append(_row(f"AUROC, {v}", o, r, goal.auroc_each, abs(o - r) <= goal.auroc_each, abs(o - r) - goal.auroc_each))
    mo, mr = auc["ours"].median(), auc["real"].median()
    rows.append(_row("AUROC, median over variables", mo, mr, goal.auroc_median, abs(mo - mr) <= goal.auroc_median,
                     abs(mo - mr) - goal.auroc_median))
    for v, (o, r) in table["per stay"].iterrows():
        if v in NOT_CHARTING_TARGETS:
            continue
        rel = o / r - 1 if r else np.inf
        rows.append(_row(f"{table.loc[v, ('charting', '')]} per stay, {v}", o, r, goal.charting_relative,
                         abs(rel) <= goal.charting_relative, abs(rel) - goal.charting_relative))
    if "Lactate" in table.index:
        o, r = table.loc["Lactate", ("measured, %", "ours")], table.loc["Lactate", ("measured, %", "real")]
        rows.append(_row("stays with lactate, %", o, r, goal.lactate_points, abs(o - r) <= goal.lactate_points,
                         abs(o - r) - goal.lactate_points))
    for model in MODELS[:2]:
        o, r = multi.loc[model, "ours"], multi.loc[model, "real"]
        rows.append(_row(f"AUROC, {model}", o, r, goal.regression, abs(o - r) <= goal.regression,
                         abs(o - r) - goal.regression))
    rows.append(_row("temporal headroom (at least)", headroom, np.nan, goal.min_headroom,
                     headroom >= goal.min_headroom, goal.min_headroom - headroom))
    rows.append(_row("true risk AUROC (at least)", true_risk_auroc, np.nan, goal.min_true_risk_auroc,
                     true_risk_auroc >= goal.min_true_risk_auroc, goal.min_true_risk_auroc - true_risk_auroc))
    return pd.DataFrame(rows).set_index("target")


def realism_figure(table: pd.DataFrame, title: str = "Ours beside PhysioNet 2012, per shared variable") -> go.Figure:
    """Three panels, one row per shared variable: univariate AUROC of the 48-h mean, hours or draws with a value per
    stay, and the share of stays measured, ours and real side by side (`side_by_side`'s table)."""
    panels = (("AUROC", "univariate AUROC"), ("per stay", "hours / draws per stay"), ("measured, %", "stays measured, %"))
    fig = make_subplots(rows=1, cols=3, shared_yaxes=True, subplot_titles=[p[1] for p in panels], horizontal_spacing=0.04)
    names = list(table.index)[::-1]
    for col, (measure, _) in enumerate(panels, start=1):
        for k, (who, label) in enumerate((("ours", "synthetic (ours)"), ("real", "PhysioNet 2012, set B"))):
            fig.add_trace(go.Scatter(x=table[(measure, who)].to_numpy()[::-1], y=names, mode="markers", name=label,
                                     marker={"color": PALETTE[k], "size": 9, "symbol": ("circle", "diamond")[k]},
                                     legendgroup=who, showlegend=col == 1), row=1, col=col)
    fig.update_layout(title=title, template="plotly_white", height=120 + 26 * len(names),
                      legend={"orientation": "h", "y": -0.12}, margin={"l": 10, "r": 10})
    return fig


@dataclass
class RealismReport:
    """The whole report: `table` (`side_by_side`), `multi` (`multivariate_table`), `targets` (`targets`)."""

    table: pd.DataFrame
    multi: pd.DataFrame
    targets: pd.DataFrame

    def summary(self) -> str:
        """One sentence: how many targets are met, and each missed one with its miss."""
        missed = self.targets[~self.targets["met"]]
        text = f"{int(self.targets['met'].sum())} of {len(self.targets)} targets are met"
        if missed.empty:
            return text + "."
        return text + "; missed: " + "; ".join(f"{name} (by {row['missed by']:.3g})" for name, row in missed.iterrows()) + "."


def realism_report(ours: tuple[EpisodeSet, EpisodeSet], real: tuple[EpisodeSet, EpisodeSet], true_risk_auroc: float,
                   headroom: float, goal: RealismTargets = RealismTargets()) -> RealismReport:
    """The realism report of our (train, test) beside the real (train, test): the per-variable table of the two test
    sets on their shared variables, the multivariate models on each dataset's own variables, and the targets."""
    table = side_by_side(ours[1], real[1])
    multi = multivariate_table(ours, real)
    return RealismReport(table=table, multi=multi, targets=targets(table, multi, true_risk_auroc, headroom, goal))


@dataclass
class RealismSection:
    """What chapter 01's realism section shows: the per-variable table, the targets, the figure and the
    values its prose glues (every key present, with a sentence instead when the real data are absent)."""

    table: pd.DataFrame
    targets: pd.DataFrame
    figure: go.Figure
    values: dict[str, object]


GLUED = ("counts", "means_last", "bench", "gbt")
UNCHARTED = ("Glascow coma scale total", "Urine output")


def realism_section(ours: tuple[EpisodeSet, EpisodeSet], real: dict[str, EpisodeSet] | None, true_risk_auroc: float,
                    headroom: float) -> RealismSection:
    """Chapter 01's realism section from our (train, test) and the real sets {"a", "b"} (None when absent)."""
    if real is None:
        table = pd.DataFrame({"PhysioNet 2012": ["not found in this build"]})
        values: dict[str, object] = {"realism_status": (
            "The PhysioNet 2012 files were not found in this build, so the comparison is not shown (`ehrlib data "
            "physionet2012` finds or downloads them); the figures below are placeholders.")}
        values.update({f"{side}_{key}": float("nan") for side in ("real", "ours") for key in GLUED})
        values.update({k: float("nan") for k in ("real_shared_counts", "real_shared_means_last", "gcs_auc",
                                                  "urine_auc", "n_real_vars", "n_shared", "ours_median_auc",
                                                  "real_median_auc")})
        values["shared_gap_word"] = "cannot be compared"
        figure = go.Figure().add_annotation(text="PhysioNet 2012 not found", showarrow=False)
        return RealismSection(table, table, figure, values)
    report = realism_report(ours, (select(real["a"]), select(real["b"])), true_risk_auroc=true_risk_auroc,
                            headroom=headroom)
    shared = list(report.table.index)
    on_shared = multivariate_aurocs(select(real["a"], shared), select(real["b"], shared), MODELS[:2])
    present = [v for v in UNCHARTED if v in real["b"].variables]
    uncharted = variable_table(real["b"], present)["AUROC"].reindex(list(UNCHARTED))
    values = {"realism_status": report.summary(), "real_shared_counts": on_shared[MODELS[0]],
              "real_shared_means_last": on_shared[MODELS[1]], "gcs_auc": float(uncharted.iloc[0]),
              "urine_auc": float(uncharted.iloc[1]), "n_real_vars": len(real["b"].variables), "n_shared": len(shared)}
    for i, key in enumerate(GLUED):
        values[f"real_{key}"] = report.multi["real"].iloc[i]
        values[f"ours_{key}"] = report.multi["ours"].iloc[i]
    values.update({"ours_median_auc": report.table[("AUROC", "ours")].median(),
                   "real_median_auc": report.table[("AUROC", "real")].median(),
                   "shared_gap_word": shared_gap_word(values)})
    return RealismSection(report.table, report.targets, realism_figure(report.table), values)


def shared_gap_word(values: dict[str, object]) -> str:
    """Whether the real regressions (counts, means with last values) come closer to ours on the shared variables
    than on all of PhysioNet 2012's: "shrinks" when both gaps shrink, "grows" when both grow, else "changes"."""
    gaps = [(abs(values[f"real_{k}"] - values[f"ours_{k}"]), abs(values[f"real_shared_{k}"] - values[f"ours_{k}"]))
            for k in ("counts", "means_last")]
    return "shrinks" if all(b < a for a, b in gaps) else "grows" if all(b > a for a, b in gaps) else "changes"


def targets_table(targets: pd.DataFrame) -> pd.DataFrame:
    """The targets as the chapter shows them: met or missed in words, the miss only where there is one."""
    if "met" not in targets.columns:
        return targets
    shown = targets.assign(met=np.where(targets["met"], "met", "missed"))
    return shown.assign(**{"missed by": targets["missed by"].where(~targets["met"].astype(bool))})


def real_sets() -> dict[str, EpisodeSet] | None:
    """PhysioNet 2012's sets A and B as episode sets, or None when the files are not found in this build."""
    files = locate_physionet2012()
    return None if files is None else {s: ps.episodes for s, ps in read_physionet2012(files).items()}
