"""Plotly figures of chapter 05: day categories, one patient's timeline, sample prevalence, the ICD-10
autoencoder's training curve and its embedding projected to 2-D coloured by ICD-10 chapter. Every series
has its own colour and, where colour alone could be missed, its own bar pattern, marker or line style."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.colors
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ehrlib.plots import PALETTE, TEMPLATE
from ehrlib.stroke.autoencoder import embedding_projection
from ehrlib.stroke.encoding import PAPER_ONE_IN, ExamplePatient
from ehrlib.stroke.icd10 import CHAPTER_ORDER, CodeEmbedding, icd10_chapter, icd10_description

DAY_CATEGORY_LABELS: tuple[str, ...] = ("first or <7 d", "7-29 d", "30-89 d", "90-179 d", "180-365 d", ">365 d")
SPLIT_NAMES: dict[str, str] = {"train": "train", "val": "validation", "test": "test"}
PATTERNS: tuple[str, ...] = ("", "/", ".")  # bar fill patterns, one per series
CHAPTER_COLOURS: tuple[str, ...] = tuple(plotly.colors.qualitative.Alphabet)  # 26 distinct: one per chapter


def day_category_figure(diagnoses: pd.DataFrame, exams: pd.DataFrame) -> go.Figure:
    """Share of records in each Eq. 5 day category, for diagnoses and for exam-years."""
    fig = go.Figure()
    for k, (name, frame) in enumerate((("diagnoses", diagnoses), ("exam-years", exams))):
        share = np.bincount(frame["day_cat"].to_numpy(np.int64), minlength=6) / max(len(frame), 1)
        fig.add_bar(x=list(DAY_CATEGORY_LABELS), y=share, name=name, marker_color=PALETTE[k],
                    marker_pattern_shape=PATTERNS[k])
    fig.update_layout(template=TEMPLATE, title="Days since the previous record (Eq. 5 categories)",
                      xaxis_title="category", yaxis_title="share of records", yaxis_tickformat=".0%",
                      barmode="group")
    return fig


def patient_timeline_figure(diagnoses: pd.DataFrame, exams: pd.DataFrame, index_date: pd.Timestamp,
                            title: str = "One patient's record") -> go.Figure:
    """Diagnoses (by ICD-10 chapter) and exam-years of one patient over time, with the index date marked."""
    fig = go.Figure()
    chapters = icd10_chapter(diagnoses["icd10"].to_numpy()) if len(diagnoses) else np.array([])
    fig.add_scatter(x=diagnoses["date"], y=chapters, mode="markers", name="diagnosis", marker_color=PALETTE[0],
                    text=diagnoses["icd10"], hovertemplate="%{x|%Y-%m-%d}: %{text}<extra></extra>")
    fig.add_scatter(x=exams["date"], y=["exam-year"] * len(exams), mode="markers", name="exam-year",
                    marker=dict(symbol="square", color=PALETTE[2]), text=exams["age_year"].astype(str),
                    hovertemplate="%{x|%Y-%m-%d}: age %{text}<extra></extra>")
    fig.add_vline(x=pd.Timestamp(index_date).to_pydatetime(), line_dash="dash", line_color=PALETTE[1])
    fig.add_annotation(x=pd.Timestamp(index_date).to_pydatetime(), y=1, yref="paper", text="first stroke",
                       showarrow=False, yanchor="bottom")
    fig.update_layout(template=TEMPLATE, title=title, xaxis_title="date", yaxis_title="ICD-10 chapter")
    return fig


def example_timeline_figure(example: ExamplePatient) -> go.Figure:
    """`patient_timeline_figure` of the chapter's example patient, titled with its id."""
    return patient_timeline_figure(example.diagnoses, example.exams, example.index_date,
                                   title=f"Patient {example.patient_id}: records before the stroke")


def prevalence_figure(table: pd.DataFrame) -> go.Figure:
    """Samples per positive ("1 in k") per input type and split, against the paper's 1 in 8 / 1 in 9, from
    `prevalence_table`'s rows (those of inputs the paper gives no figure for, "dual", are left out)."""
    table = table[table["input"].isin(list(PAPER_ONE_IN))]
    fig = go.Figure()
    for k, (split, name) in enumerate(SPLIT_NAMES.items()):
        part = table[table["split"] == split]
        fig.add_bar(x=part["input"], y=part["one_in"], name=name, marker_color=PALETTE[k],
                    marker_pattern_shape=PATTERNS[k])
    for k, (inp, v) in enumerate(PAPER_ONE_IN.items()):
        fig.add_scatter(x=[inp], y=[v], mode="markers", marker=dict(symbol="diamond", size=14, color="black"),
                        name="Teoh 2018", showlegend=k == 0)
    fig.update_layout(template=TEMPLATE, title="Samples per positive sample (1 in k)", barmode="group",
                      xaxis_title="input", yaxis_title="k")
    return fig


def autoencoder_history_figure(history: dict[str, list[float]]) -> go.Figure:
    """Training loss and accuracy of the ICD-10 autoencoder per epoch."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=("cross-entropy loss", "training accuracy"))
    epochs = np.arange(1, len(history["loss"]) + 1)
    fig.add_scatter(x=epochs, y=history["loss"], mode="lines+markers", name="loss", row=1, col=1,
                    line=dict(color=PALETTE[0], dash="solid"))
    fig.add_scatter(x=epochs, y=history["accuracy"], mode="lines+markers", name="accuracy", row=1, col=2,
                    line=dict(color=PALETTE[3], dash="dash"), marker_symbol="square")
    fig.update_yaxes(type="log", row=1, col=1)
    fig.update_xaxes(title_text="epoch")
    fig.update_layout(template=TEMPLATE, title="ICD-10 autoencoder training", showlegend=False)
    return fig


def embedding_figure(projection: np.ndarray, codes: np.ndarray, chapters: np.ndarray,
                     descriptions: np.ndarray | None = None) -> go.Figure:
    """2-D projection of the 32-d code embedding, one point per code, coloured by ICD-10 chapter (each
    chapter its own colour)."""
    fig = go.Figure()
    text = codes if descriptions is None else np.char.add(np.char.add(codes.astype(str), ": "),
                                                          descriptions.astype(str))
    present = [c for c in CHAPTER_ORDER if c in set(chapters)] + sorted(set(chapters) - set(CHAPTER_ORDER))
    for k, ch in enumerate(present):
        sel = chapters == ch
        fig.add_trace(go.Scattergl(x=projection[sel, 0], y=projection[sel, 1], mode="markers", name=ch,
                                   marker=dict(size=4, opacity=0.7, color=CHAPTER_COLOURS[k % len(CHAPTER_COLOURS)]),
                                   text=text[sel], hovertemplate="%{text}<extra>chapter " + ch + "</extra>"))
    fig.update_layout(template=TEMPLATE, title="ICD-10 code embedding (PCA of the 32-d encoder output)",
                      xaxis_title="PC 1", yaxis_title="PC 2", legend_title="chapter")
    return fig


def code_embedding_figure(embedding: CodeEmbedding) -> go.Figure:
    """`embedding_figure` of a code embedding: its first two principal components, chapters and descriptions."""
    codes = np.asarray(embedding.vocabulary.codes)
    return embedding_figure(embedding_projection(embedding), codes, icd10_chapter(codes), icd10_description(codes))


__all__ = ["autoencoder_history_figure", "code_embedding_figure", "day_category_figure", "embedding_figure",
           "example_timeline_figure", "patient_timeline_figure", "prevalence_figure", "view_auroc_figure"]


def view_auroc_figure(table: pd.DataFrame, title: str = "Test AUROC with 95 % matched-set intervals"):
    """Points with error bars: rows (model, view) of `table` with columns model, view, value, ci_low, ci_high."""
    fig = go.Figure()
    for view, part in table.groupby("view", sort=False):
        fig.add_trace(go.Scatter(
            x=part["value"], y=part["model"], mode="markers", name=view,
            error_x={"type": "data", "symmetric": False, "array": part["ci_high"] - part["value"],
                     "arrayminus": part["value"] - part["ci_low"]}))
    fig.add_vline(x=0.5, line_dash="dot", line_color="grey")
    fig.add_vline(x=0.669, line_dash="dash", line_color="black", annotation_text="paper 0.669")
    fig.update_layout(template=TEMPLATE, title=title, xaxis_title="AUROC", height=80 + 28 * table["model"].nunique(),
                      legend_title="view")
    return fig


VIEW_STYLES: dict[str, tuple[str, str]] = {"paper": (PALETTE[0], "circle"), "patient": (PALETTE[1], "diamond"),
                                           "matched": (PALETTE[2], "square")}


def views_figure(table: pd.DataFrame, paper_auroc: float = 0.669,
                 title: str = "Test AUROC in the three views") -> go.Figure:
    """Chapter 06's views figure: rows (model, view) of `table` (columns model, view, value, ci_low,
    ci_high, as `results.views_long` gives them), one colour and marker per view, side by side per model;
    chance (dotted) and the paper's AUROC (dashed) marked."""
    fig = go.Figure()
    for view, part in table.groupby("view", sort=False):
        color, symbol = VIEW_STYLES.get(view, (PALETTE[3], "x"))
        fig.add_scatter(x=part["value"], y=part["model"], mode="markers", name=view, offsetgroup=view,
                        marker=dict(color=color, symbol=symbol, size=9),
                        error_x=dict(type="data", symmetric=False, array=part["ci_high"] - part["value"],
                                     arrayminus=part["value"] - part["ci_low"], color=color))
    fig.add_vline(x=0.5, line_dash="dot", line_color="grey", annotation_text="chance")
    fig.add_vline(x=paper_auroc, line_dash="dash", line_color="black", annotation_text=f"paper {paper_auroc}")
    fig.update_yaxes(autorange="reversed")
    fig.update_layout(template=TEMPLATE, title=title, xaxis_title="AUROC", legend_title="view",
                      scattermode="group", height=120 + 36 * table["model"].nunique())
    return fig


def differences_figure(table: pd.DataFrame, title: str = "Network minus best baseline, paired AUROC") -> go.Figure:
    """Each seed's paired difference with its interval (`table` rows: network, view, seed, value, ci_low,
    ci_high), one colour and marker per view, side by side per network; zero marked."""
    fig = go.Figure()
    for view, part in table.groupby("view", sort=False):
        color, symbol = VIEW_STYLES.get(view, (PALETTE[3], "x"))
        label = part["network"] + " (seed " + part["seed"].astype(str) + ")"
        fig.add_scatter(x=part["value"], y=label, mode="markers", name=view, offsetgroup=view,
                        marker=dict(color=color, symbol=symbol, size=9),
                        error_x=dict(type="data", symmetric=False, array=part["ci_high"] - part["value"],
                                     arrayminus=part["value"] - part["ci_low"], color=color))
    fig.add_vline(x=0.0, line_dash="dash", line_color="black")
    fig.update_yaxes(autorange="reversed")
    fig.update_layout(template=TEMPLATE, title=title, xaxis_title="AUROC difference (network minus baseline)",
                      legend_title="view", scattermode="group", height=120 + 30 * table[["network", "seed"]].drop_duplicates().shape[0])
    return fig


def training_curves_figure(curves: pd.DataFrame, title: str = "Validation F1 per epoch") -> go.Figure:
    """Validation F1 per epoch of every network and seed (`curves` rows: network, seed, epoch, val_f1,
    best): one colour per network, one line style per seed, the best epoch of each marked."""
    fig = go.Figure()
    dashes = ("solid", "dash", "dot", "dashdot", "longdash")
    for i, (network, part) in enumerate(curves.groupby("network", sort=False)):
        for j, (seed, run) in enumerate(part.groupby("seed", sort=True)):
            color = PALETTE[i % len(PALETTE)]
            fig.add_scatter(x=run["epoch"], y=run["val_f1"], mode="lines", name=f"{network}, seed {seed}",
                            line=dict(color=color, dash=dashes[j % len(dashes)]))
            best = run[run["best"]]
            fig.add_scatter(x=best["epoch"], y=best["val_f1"], mode="markers", showlegend=False,
                            marker=dict(color=color, symbol="star", size=11), hoverinfo="skip")
    fig.update_layout(template=TEMPLATE, title=title, xaxis_title="epoch", yaxis_title="validation F1")
    return fig
