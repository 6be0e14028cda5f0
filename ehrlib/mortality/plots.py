"""Plotly figures for the LSTM chapter: the focal loss, and one episode before/after preprocessing.

The mortality evaluation figures (ROC, calibration, learning curves, ...) live in `ehrlib.plots`;
these two explain the chapter's own ingredients.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ehrlib.icu.episodes import EpisodeSet
from ehrlib.mortality.losses import focal_loss_numpy
from ehrlib.mortality.preprocessing import MortalityPreprocessor

COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b")


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
