"""Plotly figures of the mortality chapters: the focal loss and one episode before/after preprocessing
(chapter 3), and chapter 7's comparison figures.

The generic evaluation figures (ROC, calibration, learning curves, ...) live in `ehrlib.plots`; the
comparison figures here feed them the chapter's typed records and give every line series its own colour
and its own dash (`distinct_lines`), so that no two series, treat-all and treat-none included, share both.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ehrlib import plots
from ehrlib.evaluation.protocol import ModelEvaluation, metric_entries
from ehrlib.icu.episodes import EpisodeSet
from ehrlib.mortality.facts import curves_with_oracle
from ehrlib.mortality.losses import focal_loss_numpy
from ehrlib.mortality.preprocessing import MortalityPreprocessor
from ehrlib.mortality.report import MODEL_NAMES
from ehrlib.mortality.results import DecisionCurve, KFoldResult, LearningCurve, SeedSummary

COLORS = plots.PALETTE[:6]
LINE_COLORS = (*plots.PALETTE, "#000000", "#17becf")
DASHES = ("solid", "dash", "dot", "dashdot", "longdash", "longdashdot", "6px,3px,1px,3px", "2px,6px")


def focal_loss_figure(gammas: Sequence[float] = (0.0, 1.0, 2.0, 5.0), alpha: float = 0.25) -> go.Figure:
    """Two panels: loss against the probability of the true class for several gamma (no alpha), and
    the focal loss (gamma 2) of a positive and of a negative against the predicted probability with
    Lin et al.'s alpha weighting (alpha for positives, 1 - alpha for negatives)."""
    p = np.linspace(0.01, 0.99, 197)
    fig = make_subplots(rows=1, cols=2, subplot_titles=(
        "Focusing: effect of gamma",
        f"Class weighting: gamma 2, alpha {alpha}"), horizontal_spacing=0.1)
    for i, g in enumerate(gammas):
        name = "cross-entropy (gamma 0)" if g == 0 else f"focal, gamma {g:g}"
        # alpha = 0.5 doubled gives the unweighted loss -(1 - p_t)^gamma log(p_t).
        fig.add_scatter(x=p, y=2 * focal_loss_numpy(np.ones_like(p), p, gamma=g, alpha=0.5), name=name,
                        line=dict(color=COLORS[i % len(COLORS)]), row=1, col=1)
    for y_true, label, color, dash in ((1, "died (weight alpha)", COLORS[1], "solid"),
                                       (0, "survived (weight 1 - alpha)", COLORS[0], "solid")):
        fig.add_scatter(x=p, y=focal_loss_numpy(np.full_like(p, y_true), p, gamma=2.0, alpha=alpha),
                        name=f"focal: {label}", line=dict(color=color, dash=dash), row=1, col=2)
        fig.add_scatter(x=p, y=focal_loss_numpy(np.full_like(p, y_true), p, gamma=0.0, alpha=0.5) * 2,
                        name=f"cross-entropy: {'died' if y_true else 'survived'}",
                        line=dict(color=color, dash="dot"), row=1, col=2)
    fig.update_xaxes(title_text="probability of the true class p_t", row=1, col=1)
    fig.update_xaxes(title_text="predicted probability of death p", row=1, col=2)
    fig.update_yaxes(title_text="loss", range=[0, 3], row=1, col=1)
    fig.update_yaxes(range=[0, 3], row=1, col=2)
    fig.update_layout(title="Focal loss against cross-entropy", height=460, template="plotly_white",
                      margin=dict(l=60, r=20, t=90, b=50),
                      legend=dict(orientation="h", yanchor="top", y=-0.18, x=0))
    return fig


def episode_figure(values: np.ndarray, mask: np.ndarray, transformed: np.ndarray, variables: Sequence[str],
                   mask_value: float, show: Sequence[str] | None = None,
                   title: str = "One episode before and after preprocessing") -> go.Figure:
    """Raw observations of one episode (top) and the model's input for the same variables (bottom).

    `values`/`mask` are (48, F) for one episode, `transformed` its (48, D) preprocessed tensor. Fully
    unobserved steps, which the Masking layer skips, are shaded grey in the lower panel.
    """
    variables = list(variables)
    show = list(show) if show is not None else variables[:4]
    hours = np.arange(values.shape[0])
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08, subplot_titles=(
        "Raw observations (markers: measured values)",
        "Model input: forward-filled, median-imputed, standardised (grey: masked steps)"))
    for i, name in enumerate(show):
        j = variables.index(name)
        color = COLORS[i % len(COLORS)]
        obs = mask[:, j]
        fig.add_scatter(x=hours[obs], y=values[obs, j], mode="markers", name=name, legendgroup=name,
                        marker=dict(color=color), row=1, col=1)
        live = transformed[:, j] != mask_value
        fig.add_scatter(x=hours[live], y=transformed[live, j], mode="lines+markers", name=name,
                        legendgroup=name, showlegend=False, line=dict(color=color, shape="hv"), row=2, col=1)
    for t in np.flatnonzero(~mask.any(axis=1)):
        fig.add_vrect(x0=t - 0.5, x1=t + 0.5, fillcolor="grey", opacity=0.25, line_width=0, row=2, col=1)
    fig.update_xaxes(title_text="hour since ICU admission", row=2, col=1)
    fig.update_yaxes(title_text="raw value", row=1, col=1)
    fig.update_yaxes(title_text="z-score", row=2, col=1)
    fig.update_layout(title=title, height=620, template="plotly_white", margin=dict(l=60, r=20, t=80, b=50))
    return fig


def preprocessed_episode_figure(train: EpisodeSet, prep: MortalityPreprocessor) -> go.Figure:
    """`episode_figure` for the first training episode with more than three fully unobserved hours, showing
    four vitals (the first four variables when the data lack them)."""
    i = int(np.argmax(MortalityPreprocessor.masked_steps(train).sum(axis=1) > 3))
    vitals = ("Heart Rate", "Systolic blood pressure", "Respiratory rate", "Oxygen saturation")
    show = [v for v in vitals if v in train.variables] or train.variables[:4]
    return episode_figure(train.values[i], train.mask[i], prep.transform(train.take([i]))[0], train.variables,
                          prep.mask_value, show=show, title=f"Training episode {train.stays[i]}: raw and preprocessed")


def distinct_lines(fig: go.Figure) -> go.Figure:
    """Give the figure's line series, in order, each its own colour and its own dash (up to eight)."""
    lines = [t for t in fig.data if "lines" in (t.mode or "")]
    for i, trace in enumerate(lines):
        trace.line.color = LINE_COLORS[i % len(LINE_COLORS)]
        trace.line.dash = DASHES[i % len(DASHES)]
        if "markers" in trace.mode:
            trace.marker.color = LINE_COLORS[i % len(LINE_COLORS)]
    return fig


def named_curves(test: EpisodeSet, raw: dict[str, np.ndarray]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """(labels, raw test scores) per model name, with the true risk (oracle) added when the data have one."""
    return curves_with_oracle(test, {MODEL_NAMES[k]: p for k, p in raw.items()})


def roc_comparison_figure(test: EpisodeSet, raw: dict[str, np.ndarray]) -> go.Figure:
    """ROC curves of every model's raw test scores and of the true risk, against chance."""
    return distinct_lines(plots.roc_figure(named_curves(test, raw), title="ROC comparison on the test split (raw scores)"))


def pr_comparison_figure(test: EpisodeSet, raw: dict[str, np.ndarray]) -> go.Figure:
    """Precision-recall curves of every model's raw test scores and of the true risk, against no skill."""
    return distinct_lines(plots.pr_figure(named_curves(test, raw),
                                          title="Precision-recall comparison on the test split (raw scores)"))


def metrics_by_model_figure(models: dict[str, ModelEvaluation]) -> go.Figure:
    """Every test metric of every model at its own threshold, with interval whiskers."""
    return plots.metric_comparison_figure({MODEL_NAMES[k]: metric_entries(m) for k, m in models.items()},
                                          title="Test metrics by model")


def lstm_improvement_figure(models: dict[str, ModelEvaluation]) -> go.Figure:
    """Improvement of each test metric, LSTM over the regression, signed so that positive is better."""
    return plots.improvement_figure(metric_entries(models["lstm"]), metric_entries(models["logistic_regression"]))


def seed_figure(seeds: SeedSummary, reference_auroc: float) -> go.Figure:
    """The LSTM's raw test AUROC per seed against the (seed-free) regression's."""
    values = {"LSTM": seeds.auroc, "logistic regression": [reference_auroc] * len(seeds.seeds)}
    return distinct_lines(plots.seeds_figure(seeds.seeds, values, title="Raw test AUROC of the LSTM by seed"))


def decision_figure(decision: DecisionCurve) -> go.Figure:
    """Net benefit of every model, treat-all and treat-none, with the LSTM's two thresholds marked."""
    curve = {"threshold": decision.thresholds, **decision.net_benefit}
    return distinct_lines(plots.decision_curve_figure(
        curve, decision.marks, title="Decision curves on the test split (calibrated probabilities)"))


def learning_figure(learning: LearningCurve) -> go.Figure:
    """Raw test AUROC with intervals against the number of training episodes, per model."""
    return distinct_lines(plots.learning_size_figure(learning.sizes,
                                                     {MODEL_NAMES[k]: v for k, v in learning.auroc.items()}))


def kfold_folds_figure(kfold: KFoldResult) -> go.Figure:
    """Each fold's held-out AUROC, AUPRC and F1 per model."""
    return plots.kfold_figure(kfold.folds, title="Per-fold test metrics (k-fold validation by patient)")
