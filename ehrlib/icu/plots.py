"""Plotly figures for the synthetic ICU chapters (01 generating, 02 missingness).

Functions take in-memory cohorts (`ehrlib.icu.synth.IcuCohort`) or hourly arrays read from disk
(`ehrlib.icu.reader.EpisodeSet`: values (n, 48, F) with NaN where unobserved, and a mask) and return
`plotly.graph_objects.Figure` objects; notebooks only call them. Analysis (tables, difficulty,
staleness) lives in `ehrlib.icu.describe`.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ehrlib.icu.describe import hours_since_last, shift_of_clock
from ehrlib.icu.schema import SHIFTS, UNITS, VARIABLES
from ehrlib.icu.synth import IcuCohort
from ehrlib.icu.tour import Distributions, Example
from ehrlib.plots import ICU_PALETTE, PALETTE

OUTCOME_COLORS = {"survived": PALETTE[0], "died": PALETTE[1]}


def _color(k: int) -> str:
    """The `k`-th colour of chapters 01-02's palette (`ehrlib.plots.ICU_PALETTE`), cycling."""
    return ICU_PALETTE[k % len(ICU_PALETTE)]


#: Line styles of the series of one figure, in order, so that series differ in more than colour.
DASHES = ("solid", "dash", "dot", "dashdot", "longdash")


def _dash(k: int) -> str:
    """The `k`-th line style (`DASHES`), cycling."""
    return DASHES[k % len(DASHES)]


def _outcome(y: np.ndarray) -> np.ndarray:
    """Outcome names ('died' / 'survived') of 0/1 labels."""
    return np.where(np.asarray(y) == 1, "died", "survived")


# ---------------------------------------------------------------------------------------------
# Chapter 01: the generator
# ---------------------------------------------------------------------------------------------

def severity_trajectories(cohort: IcuCohort, n_each: int = 12, seed: int = 0) -> go.Figure:
    """Latent severity S(t) over 48 h for a few survivors and non-survivors, with outcome means."""
    lat = cohort.latent
    y = lat["y"].to_numpy()
    rng = np.random.default_rng(seed)
    fig = go.Figure()
    hours = np.arange(cohort.severity.shape[1])
    for label, val in (("survived", 0), ("died", 1)):
        idx = np.nonzero(y == val)[0]
        pick = rng.choice(idx, size=min(n_each, len(idx)), replace=False)
        for k, i in enumerate(pick):
            fig.add_trace(go.Scatter(x=hours, y=cohort.severity[i], mode="lines", opacity=0.35,
                                     line=dict(color=OUTCOME_COLORS[label], width=1), legendgroup=label,
                                     showlegend=False, hovertext=lat["stay"].iloc[i]))
        fig.add_trace(go.Scatter(x=hours, y=cohort.severity[idx].mean(axis=0), mode="lines", name=f"{label}: mean",
                                 line=dict(color=OUTCOME_COLORS[label], width=4, dash=_dash(val)), legendgroup=label))
    fig.update_layout(title="Latent severity S(t): individual trajectories and outcome means",
                      xaxis_title="hours since ICU admission", yaxis_title="severity S(t) (latent units)")
    return fig


def compare_episode(cohorts: Mapping[str, IcuCohort], episode: int,
                    variables: Sequence[str] = ("Heart Rate", "Systolic blood pressure", "Glucose", "Lactate"),
                    title: str = "") -> go.Figure:
    """One episode's charted values under several generator settings (same seed, same patient)."""
    fig = make_subplots(rows=len(variables), cols=1, shared_xaxes=True, vertical_spacing=0.04,
                        subplot_titles=[f"{v} ({UNITS[v]})" for v in variables])
    for k, (name, c) in enumerate(cohorts.items()):
        df = c.episode_frame(episode)
        for r, v in enumerate(variables, start=1):
            d = df[["Hours", v]].dropna()
            fig.add_trace(go.Scatter(x=d["Hours"], y=d[v], mode="lines+markers", name=name, legendgroup=name,
                                     showlegend=r == 1, marker=dict(size=4), line=dict(color=_color(k), width=1, dash=_dash(k))),
                          row=r, col=1)
    fig.update_xaxes(title_text="hours since ICU admission", row=len(variables), col=1)
    fig.update_layout(title=title or f"Episode {cohorts[next(iter(cohorts))].latent['stay'].iloc[episode]}",
                      height=220 * len(variables) + 80)
    return fig


def clock_profile(cohorts: Mapping[str, IcuCohort], variable: str, survivors_only: bool = True) -> go.Figure:
    """Mean charted value of `variable` by clock hour of the chart, one line per cohort setting."""
    fig = go.Figure()
    k = VARIABLES.index(variable)
    for j, (name, c) in enumerate(cohorts.items()):
        valid = (np.arange(c.times.shape[1])[None, :] < c.n_rows[:, None])
        if survivors_only:
            valid &= (c.latent["y"].to_numpy() == 0)[:, None]
        v = c.values[:, :, k]
        ok = valid & ~np.isnan(v)
        clock = np.floor((c.latent["admission_hour"].to_numpy()[:, None] + c.times / 60.0) % 24).astype(int)
        s = pd.Series(v[ok]).groupby(clock[ok]).mean()
        fig.add_trace(go.Scatter(x=s.index, y=s.values, mode="lines+markers", name=name,
                                 line=dict(color=_color(j), dash=_dash(j))))
    who = "survivors' " if survivors_only else ""
    fig.update_layout(title=f"{variable}: mean of {who}charted values by clock hour",
                      xaxis_title="clock hour of the chart", yaxis_title=f"{variable} ({UNITS[variable]})")
    return fig


def correlation_heatmaps(mats: Mapping[str, pd.DataFrame]) -> go.Figure:
    """Side-by-side heatmaps of correlation matrices (e.g. correlations on / off)."""
    fig = make_subplots(rows=1, cols=len(mats), subplot_titles=list(mats), horizontal_spacing=0.12)
    for k, (name, m) in enumerate(mats.items(), start=1):
        short = [c.replace(" blood pressure", " BP").replace("Oxygen saturation", "SpO2") for c in m.columns]
        fig.add_trace(go.Heatmap(z=m.to_numpy(), x=short, y=short, zmin=-1, zmax=1, colorscale="RdBu_r",
                                 showscale=k == len(mats), text=np.round(m.to_numpy(), 2), texttemplate="%{text}"),
                      row=1, col=k)
    fig.update_layout(title="Correlation of within-patient fluctuations of the vitals", height=450)
    return fig


def distribution_by_setting(values: Mapping[str, np.ndarray], xlabel: str, title: str) -> go.Figure:
    """Overlaid histograms (probability density) of one quantity under several settings."""
    fig = go.Figure()
    for k, (name, v) in enumerate(values.items()):
        v = np.asarray(v, dtype=float)
        fig.add_trace(go.Histogram(x=v[~np.isnan(v)], name=name, opacity=0.55, histnorm="probability density",
                                   nbinsx=60, marker_color=_color(k)))
    fig.update_layout(barmode="overlay", title=title, xaxis_title=xlabel, yaxis_title="density")
    return fig


def example_figure(example: Example) -> go.Figure:
    """Chapter 01's example patient (`ehrlib.icu.tour.Example`) charted under each of its settings."""
    return compare_episode(example.cohorts, example.patient, variables=example.variables, title=example.title)


def distributions_figure(d: Distributions) -> go.Figure:
    """Chapter 01's per-patient quantity under several settings (`ehrlib.icu.tour.Distributions`)."""
    return distribution_by_setting(d.series, d.xlabel, d.title)


def observed_by_setting(observed: pd.DataFrame) -> go.Figure:
    """Grouped bars: share of hourly bins with a value per variable (rows of `observed`) under each setting
    (its columns), one colour and pattern per setting."""
    patterns = ("", "/", ".", "x", "-", "\\")
    fig = go.Figure([go.Bar(x=observed.index, y=observed[c], name=c,
                            marker=dict(color=_color(k), pattern_shape=patterns[k % len(patterns)]))
                     for k, c in enumerate(observed.columns)])
    fig.update_layout(title="Share of hourly bins with a value, under each missingness ablation", barmode="group",
                      yaxis_tickformat=".0%", xaxis_tickangle=-35)
    return fig


def risk_by_outcome(latent: pd.DataFrame) -> go.Figure:
    """Histogram of the true risk by drawn outcome (`latent`: the episodes' `true_risk` and `y` columns)."""
    risk, y = latent["true_risk"].to_numpy(), latent["y"].to_numpy()
    fig = go.Figure()
    for label in ("survived", "died"):
        sel = _outcome(y) == label
        fig.add_trace(go.Histogram(x=risk[sel], name=label, opacity=0.6, nbinsx=50, histnorm="probability density",
                                   marker_color=OUTCOME_COLORS[label]))
    fig.update_layout(barmode="overlay", title="True risk by drawn outcome", xaxis_title="true risk of death",
                      yaxis_title="density")
    return fig


# ---------------------------------------------------------------------------------------------
# Chapter 02: missingness
# ---------------------------------------------------------------------------------------------

def missing_rate_by_variable(mask: np.ndarray, y: np.ndarray) -> go.Figure:
    """Share of hourly bins with no value, per variable, by outcome (bars)."""
    fig = go.Figure()
    for label in ("survived", "died"):
        sel = _outcome(y) == label
        fig.add_trace(go.Bar(x=list(VARIABLES), y=1 - mask[sel].mean(axis=(0, 1)), name=label,
                             marker_color=OUTCOME_COLORS[label]))
    fig.update_layout(title="Share of hourly bins without a value, by outcome", yaxis_title="missing",
                      yaxis_tickformat=".0%", barmode="group", xaxis_tickangle=-35)
    return fig


def missing_by_hour(mask: np.ndarray) -> go.Figure:
    """Heatmap: share of episodes with a value, per variable and hour since admission."""
    fig = go.Figure(go.Heatmap(z=mask.mean(axis=0).T, x=np.arange(mask.shape[1]), y=list(VARIABLES),
                               colorscale="Viridis", zmin=0, zmax=1, colorbar=dict(title="observed")))
    fig.update_layout(title="Share of episodes with a value, by hour since admission",
                      xaxis_title="hour since ICU admission", height=480)
    return fig


def observed_by_shift(masks: Mapping[str, tuple[np.ndarray, np.ndarray]], variables: Sequence[str] = VARIABLES[:6]) -> go.Figure:
    """Share of hourly bins observed per nursing shift, for vitals; `masks` maps a setting name to
    (mask (n, 48, F), clock hours (n, 48))."""
    names = list(masks)
    fig = make_subplots(rows=1, cols=len(names), subplot_titles=names, shared_yaxes=True)
    idx = [VARIABLES.index(v) for v in variables]
    for c, name in enumerate(names, start=1):
        mask, clock = masks[name]
        sh = shift_of_clock(clock)
        for k, s in enumerate(SHIFTS):
            rate = mask[:, :, idx][sh == k].mean(axis=0)
            fig.add_trace(go.Bar(x=[v.replace(" blood pressure", " BP") for v in variables], y=rate, name=s,
                                 marker_color=ICU_PALETTE[k], showlegend=c == 1, legendgroup=s), row=1, col=c)
    fig.update_layout(title="Vitals charted per hourly bin, by nursing shift", barmode="group",
                      yaxis_tickformat=".0%", yaxis_title="observed")
    return fig


def observation_rate_by(curves: Mapping[str, tuple[np.ndarray, np.ndarray]], bins: np.ndarray,
                        xlabel: str, title: str) -> go.Figure:
    """P(observed) against a binned quantity, one line per setting; `curves` maps a name to
    (quantity, observed flag) arrays of equal shape."""
    fig = go.Figure()
    centers = 0.5 * (bins[1:] + bins[:-1])
    for k, (name, (q, obs)) in enumerate(curves.items()):
        q = np.asarray(q, float).ravel()
        obs = np.asarray(obs, float).ravel()
        b = np.digitize(q, bins) - 1
        ok = (b >= 0) & (b < len(centers))
        rate = pd.Series(obs[ok]).groupby(b[ok]).mean()
        count = pd.Series(obs[ok]).groupby(b[ok]).size()
        rate = rate[count >= 30]
        fig.add_trace(go.Scatter(x=centers[rate.index], y=rate.values, mode="lines+markers", name=name,
                                 line=dict(color=_color(k))))
    fig.update_layout(title=title, xaxis_title=xlabel, yaxis_title="P(value recorded in the hour)",
                      yaxis_tickformat=".0%")
    return fig


def staleness_figure(mask: np.ndarray, variables: Sequence[str] = ("Heart Rate", "Temperature", "Lactate", "Creatinine")) -> go.Figure:
    """Distribution of how old a forward-filled value is, per variable (box plots)."""
    stale = hours_since_last(mask)
    fig = go.Figure()
    rng = np.random.default_rng(0)
    for k, v in enumerate(variables):
        s = stale[:, :, VARIABLES.index(v)].ravel()
        s = s[~np.isnan(s)]
        s = rng.choice(s, size=min(len(s), 20_000), replace=False)
        fig.add_trace(go.Box(y=s, name=v, marker_color=_color(k), boxpoints=False))
    fig.update_layout(title="Age of the forward-filled value (hours since last observation)",
                      yaxis_title="hours", showlegend=False)
    return fig
