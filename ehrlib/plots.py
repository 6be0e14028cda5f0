"""Plotly figures for the book, and the notebook set-up that makes them render offline.

Figures are interactive in the built HTML. The book's pages load one local copy of plotly.js
(`book/_static/plotly.min.js`, copied by `make html` and listed in `_config.yml`), so each figure
is written as a bare `<div>` plus its `Plotly.newPlot` call: no CDN, no network, small pages.
That renderer is used only when the book runner executes the notebooks (it sets `EHRLIB_BOOK=1`);
a reader running a notebook in Jupyter keeps plotly's default renderer for their front end.

The mortality figure functions below reproduce the replication's 14 visualisations (ROC,
precision-recall, calibration, confusion matrix, probability distribution, threshold vs metrics,
summary metrics, learning curves, ROC/PR comparison, metric bars, improvement chart, comparison
table) as interactive figures; each returns a `plotly.graph_objects.Figure`.
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio
from IPython import get_ipython
from myst_nb import glue
from plotly.io.base_renderers import MimetypeRenderer
from plotly.subplots import make_subplots
from sklearn import metrics as skm

from ehrlib.evaluation.bootstrap import Interval
from ehrlib.evaluation.calibration import smooth_calibration_curve
from ehrlib.evaluation.metrics import metric_value, relative_improvement, reliability_bins
from ehrlib.evaluation.thresholds import threshold_curve

TEMPLATE = "plotly_white"
BOOK_RENDERER = "ehr_book"


class BookRenderer(MimetypeRenderer):
    """Renderer emitting only an HTML `<div>` that relies on the page's own plotly.js."""

    def to_mimebundle(self, fig_dict: dict) -> dict:
        html = pio.to_html(fig_dict, include_plotlyjs=False, include_mathjax=False, full_html=False,
                           default_width="100%", default_height=480, validate=False,
                           config={"displaylogo": False, "responsive": True})
        return {"text/html": html}


def setup_notebook() -> None:
    """Set up a chapter's kernel: the `plotly_white` template, the book's renderer when building the
    book, and data frames shown through `frame_html` (whole numbers as integers)."""
    if in_book():
        pio.renderers[BOOK_RENDERER] = BookRenderer()
        pio.renderers.default = BOOK_RENDERER
    pio.templates.default = TEMPLATE
    shell = get_ipython()
    if shell is not None:
        shell.display_formatter.formatters["text/html"].for_type(pd.DataFrame, frame_html)


def in_book() -> bool:
    """Whether the book runner is executing this kernel (it sets `EHRLIB_BOOK=1`)."""
    return os.environ.get("EHRLIB_BOOK") == "1"


def _decimals(values: np.ndarray, use: np.ndarray) -> np.ndarray:
    """Per cell: the decimals its shortest form needs (at most 6) where `use`, else 0."""
    out = np.zeros(values.shape, dtype=int)
    for idx in zip(*np.nonzero(use)):
        out[idx] = min(len(np.format_float_positional(values[idx], trim="-").partition(".")[2]), 6)
    return out


def frame_html(df: pd.DataFrame) -> str:
    """A data frame's HTML as a reader should see it: no index column (a meaningful index becomes named
    columns), one header row, missing values as a dash, and readable numbers. A float column or row whose
    values are all whole (counts that became floats beside rates, or through a NaN) prints them as
    integers (`2100`, not `2100.0`); other floats print with the decimals their column or row needs
    (`0.800` beside `0.856`)."""
    df = _plain_index(df)
    cols = [j for j, dtype in enumerate(df.dtypes) if pd.api.types.is_float_dtype(dtype)]
    if not cols or df.size > 20_000:
        return _table_html(df)
    vals = df.iloc[:, cols].to_numpy(np.float64)
    finite = np.isfinite(vals)
    whole = finite & (np.abs(vals) < 1e15) & (vals == np.round(vals))
    col_whole = np.all(whole | ~finite, axis=0) & finite.any(axis=0)
    row_whole = np.all(whole | ~finite, axis=1) & finite.any(axis=1) & (len(cols) > 1)
    places = _decimals(vals, finite & ~whole)
    dec = np.maximum(np.maximum(places.max(axis=0)[None, :], places.max(axis=1)[:, None]), 1)
    out = df.copy()
    for k, j in enumerate(cols):
        as_int = whole[:, k] & (col_whole[k] | row_whole)
        text = [(MISSING if not f else f"{x:.0f}" if i else f"{x:.{d}f}")
                for x, f, i, d in zip(vals[:, k], finite[:, k], as_int, dec[:, k])]
        out.isetitem(j, pd.Series(text, index=df.index, dtype=object))
    return _table_html(out)


MISSING = "–"  # how a table shows a value that does not exist (never "NaN")


def _plain_index(df: pd.DataFrame) -> pd.DataFrame:
    """The table as a reader should see it: a meaningful index becomes ordinary, named columns, a
    default 0..n-1 index disappears, and column levels are joined into one header row."""
    if not isinstance(df.index, pd.RangeIndex) or df.index.start != 0 or df.index.step != 1:
        unnamed = [n is None for n in df.index.names]
        df = df.reset_index()
        if len(unnamed) == 1 and unnamed[0]:
            df = df.rename(columns={df.columns[0]: ""})
    if isinstance(df.columns, pd.MultiIndex):
        df = df.copy()
        df.columns = [" ".join(str(c) for c in col if str(c) and not str(c).startswith("level_")).strip()
                      for col in df.columns]
    if df.columns.name is not None:  # pandas would print the columns' name in a column of its own
        df = df.rename_axis(columns=None)
    return df


def _table_html(df: pd.DataFrame) -> str:
    """HTML of a table without its index column, missing values as `MISSING`."""
    return df.to_html(index=False, na_rep=MISSING, border=0, classes="dataframe", escape=True)


def show_figure(name: str, fig: go.Figure) -> None:
    """Show a chapter's figure under the label `name`. In the book the figure appears only where the
    Markdown places it with a `{glue:figure}` directive of that name (numbered, captioned and
    referable with `{numref}`); in Jupyter it shows below the cell as usual."""
    glue(name, fig, display=not in_book())


# ---------------------------------------------------------------- mortality figures (the source's 14)

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#7f7f7f")
# Chapters 01-02's order (the ICU data figures, `ehrlib.icu.plots`): purple before orange and cyan in grey's
# place, as those figures have always been coloured.
ICU_PALETTE = (PALETTE[0], PALETTE[1], PALETTE[2], PALETTE[4], PALETTE[3], PALETTE[5], "#17becf")
THRESHOLD_METRICS = ("recall", "precision", "specificity", "f1", "accuracy")
SUMMARY_METRICS = ("auroc", "auprc", "recall", "precision", "specificity", "f1", "accuracy")
METRIC_LABELS = {"auroc": "AUROC", "auprc": "AUPRC", "recall": "Recall", "precision": "Precision",
                 "specificity": "Specificity", "f1": "F1", "accuracy": "Accuracy", "brier": "Brier",
                 "ece": "ECE", "ici": "ICI"}


def _errors(entries: list[object]) -> tuple[list[float], list[float]]:
    """Upper and lower whisker lengths of metric entries (0 for bare numbers)."""
    hi = [e.ci_high - e.value if isinstance(e, Interval) else 0.0 for e in entries]
    lo = [e.value - e.ci_low if isinstance(e, Interval) else 0.0 for e in entries]
    return hi, lo


def _layout(fig: go.Figure, title: str, x: str | None = None, y: str | None = None, **kw: object) -> go.Figure:
    fig.update_layout(title=title, template=TEMPLATE, margin=dict(l=60, r=20, t=60, b=50), **kw)
    if x:
        fig.update_xaxes(title_text=x)
    if y:
        fig.update_yaxes(title_text=y)
    return fig


def roc_figure(curves: dict[str, tuple[np.ndarray, np.ndarray]], title: str = "ROC curve") -> go.Figure:
    """ROC curves (one or several models on their own labels), AUROC in the legend, chance diagonal."""
    fig = go.Figure()
    for i, (name, (y, p)) in enumerate(curves.items()):
        fpr, tpr, _ = skm.roc_curve(y, p)
        auc = skm.roc_auc_score(y, p)
        fig.add_scatter(x=fpr, y=tpr, mode="lines", name=f"{name} (AUROC {auc:.3f})",
                        line=dict(color=PALETTE[i % len(PALETTE)], width=2))
    fig.add_scatter(x=[0, 1], y=[0, 1], mode="lines", name="chance", line=dict(color="grey", dash="dash"))
    return _layout(fig, title, "False positive rate (1 - specificity)", "True positive rate (sensitivity)",
                   xaxis_range=[0, 1], yaxis_range=[0, 1.01])


def pr_figure(curves: dict[str, tuple[np.ndarray, np.ndarray]], title: str = "Precision-recall curve") -> go.Figure:
    """Precision-recall curves, average precision in the legend, prevalence as the no-skill line."""
    fig = go.Figure()
    prevalence = None
    for i, (name, (y, p)) in enumerate(curves.items()):
        precision, recall, _ = skm.precision_recall_curve(y, p)
        ap = skm.average_precision_score(y, p)
        fig.add_scatter(x=recall, y=precision, mode="lines", line_shape="hv", name=f"{name} (AUPRC {ap:.3f})",
                        line=dict(color=PALETTE[i % len(PALETTE)], width=2))
        prevalence = float(np.mean(y))
    if prevalence is not None:
        fig.add_scatter(x=[0, 1], y=[prevalence, prevalence], mode="lines", name=f"no skill ({prevalence:.3f})",
                        line=dict(color="grey", dash="dash"))
    return _layout(fig, title, "Recall (sensitivity)", "Precision (PPV)", xaxis_range=[0, 1], yaxis_range=[0, 1.01])


def calibration_figure(y: np.ndarray, predictions: dict[str, np.ndarray], n_bins: int = 10,
                       title: str = "Reliability diagram", smooth: bool = True) -> go.Figure:
    """Reliability diagram (10 equal-width bins, marker size ~ bin count) for several probability sets,
    each with its smoothed calibration curve (local linear regression, dotted) when `smooth`."""
    fig = go.Figure()
    fig.add_scatter(x=[0, 1], y=[0, 1], mode="lines", name="perfect calibration",
                    line=dict(color="grey", dash="dash"))
    for i, (name, p) in enumerate(predictions.items()):
        b = reliability_bins(y, p, n_bins)
        size = 6 + 18 * np.sqrt(b["count"] / b["count"].max())
        fig.add_scatter(x=b["mean_predicted"], y=b["fraction_positive"], mode="lines+markers", name=name,
                        marker=dict(size=size, color=PALETTE[i % len(PALETTE)]),
                        customdata=b["count"], hovertemplate="mean p %{x:.3f}<br>observed %{y:.3f}<br>n %{customdata}")
        if smooth:
            c = smooth_calibration_curve(y, p)
            fig.add_scatter(x=c["predicted"], y=c["observed"], mode="lines", name=f"{name} (smoothed)",
                            line=dict(color=PALETTE[i % len(PALETTE)], dash="dot"))
    return _layout(fig, title, "Mean predicted probability", "Observed fraction of deaths",
                   xaxis_range=[0, 1], yaxis_range=[0, 1.01])


def confusion_matrix_figure(cm: list[list[int]] | np.ndarray, title: str = "Confusion matrix") -> go.Figure:
    """Heatmap of a 2 x 2 confusion matrix [[tn, fp], [fn, tp]] with counts and row percentages."""
    cm = np.asarray(cm)
    row = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    text = [[f"{cm[i, j]}<br>({100 * row[i, j]:.1f} % of row)" for j in range(2)] for i in range(2)]
    fig = go.Figure(go.Heatmap(z=row, x=["predicted survived", "predicted died"], y=["survived", "died"],
                               text=text, texttemplate="%{text}", colorscale="Blues", zmin=0, zmax=1,
                               showscale=False))
    fig.update_yaxes(autorange="reversed")
    return _layout(fig, title, None, "Actual outcome", height=380)


def probability_distribution_figure(y: np.ndarray, p: np.ndarray, threshold: float | None = None,
                                    title: str = "Predicted probability by outcome") -> go.Figure:
    """Overlaid, normalised histograms of predictions for survivors and deaths, with the threshold."""
    y = np.asarray(y)
    fig = go.Figure()
    for label, name, color in ((0, "survived", PALETTE[0]), (1, "died", PALETTE[1])):
        fig.add_histogram(x=p[y == label], name=name, histnorm="probability", opacity=0.6,
                          xbins=dict(start=0, end=1, size=0.025), marker_color=color)
    if threshold is not None:
        fig.add_vline(x=threshold, line_dash="dash", annotation_text=f"threshold {threshold:.3f}")
    return _layout(fig, title, "Predicted probability", "Share of the class", barmode="overlay")


def threshold_metrics_figure(y: np.ndarray, p: np.ndarray, marks: dict[str, float] | None = None,
                             title: str = "Metrics against the decision threshold") -> go.Figure:
    """Recall, precision, specificity, F1 and accuracy over thresholds 0..1, with marked thresholds."""
    curve = threshold_curve(y, p, np.linspace(0, 1, 201))
    fig = go.Figure()
    for i, k in enumerate(THRESHOLD_METRICS):
        fig.add_scatter(x=curve["threshold"], y=curve[k], mode="lines", name=METRIC_LABELS[k],
                        line=dict(color=PALETTE[i]))
    for name, t in (marks or {}).items():
        fig.add_vline(x=t, line_dash="dot", annotation_text=f"{name} {t:.3f}", annotation_textangle=-90)
    return _layout(fig, title, "Threshold (predict death when p >= threshold)", "Metric value",
                   yaxis_range=[0, 1.02])


def summary_metrics_figure(metrics: dict[str, object], title: str = "Test metrics") -> go.Figure:
    """Bars of the main test metrics, with 95 % bootstrap intervals where the entry carries one."""
    keys = [k for k in SUMMARY_METRICS if k in metrics]
    vals = [metric_value(metrics[k]) for k in keys]
    hi, lo = _errors([metrics[k] for k in keys])
    fig = go.Figure(go.Bar(x=[METRIC_LABELS[k] for k in keys], y=vals, text=[f"{v:.3f}" for v in vals],
                           textposition="outside", marker_color=PALETTE[0],
                           error_y=dict(type="data", array=hi, arrayminus=lo, visible=True)))
    return _layout(fig, title, None, "Value", yaxis_range=[0, 1.1])


def learning_curves_figure(history: dict[str, list[float]], best_epoch: int | None = None,
                           title: str = "Learning curves") -> go.Figure:
    """2 x 2 panels from a training history: loss, AUROC, AUPRC (train vs validation) and the gap."""
    epochs = np.arange(1, len(history["loss"]) + 1)
    fig = make_subplots(rows=2, cols=2, subplot_titles=("Focal loss", "AUROC", "AUPRC",
                                                        "Overfitting gap (train - validation)"))
    for (r, c), key in (((1, 1), "loss"), ((1, 2), "auroc"), ((2, 1), "auprc")):
        for name, k, color in (("train", key, PALETTE[0]), ("validation", f"val_{key}", PALETTE[1])):
            if k in history:
                fig.add_scatter(x=epochs, y=history[k], mode="lines+markers", name=name, legendgroup=name,
                                showlegend=(r, c) == (1, 1), line=dict(color=color), row=r, col=c)
    for i, key in enumerate(("auroc", "auprc")):
        if key in history and f"val_{key}" in history:
            gap = np.asarray(history[key]) - np.asarray(history[f"val_{key}"])
            fig.add_scatter(x=epochs, y=gap, mode="lines+markers", name=f"{METRIC_LABELS[key]} gap",
                            line=dict(color=PALETTE[2 + i]), row=2, col=2)
    if best_epoch is not None:
        for r, c in ((1, 1), (1, 2), (2, 1), (2, 2)):
            fig.add_vline(x=best_epoch, line_dash="dot", line_color="grey", row=r, col=c)
    fig.update_xaxes(title_text="Epoch")
    return _layout(fig, title, height=620)


def metric_comparison_figure(models: dict[str, dict[str, object]], keys: tuple[str, ...] = SUMMARY_METRICS,
                             title: str = "Test metrics by model") -> go.Figure:
    """Grouped bars: one group per metric, one bar per model (interval whiskers where available)."""
    fig = go.Figure()
    for i, (name, m) in enumerate(models.items()):
        ks = [k for k in keys if k in m]
        vals = [metric_value(m[k]) for k in ks]
        hi, lo = _errors([m[k] for k in ks])
        fig.add_bar(x=[METRIC_LABELS[k] for k in ks], y=vals, name=name, marker_color=PALETTE[i % len(PALETTE)],
                    error_y=dict(type="data", array=hi, arrayminus=lo, visible=True))
    return _layout(fig, title, None, "Value", barmode="group", yaxis_range=[0, 1.05])


def improvement_figure(model: dict[str, object], reference: dict[str, object], model_name: str = "LSTM",
                       reference_name: str = "logistic regression",
                       keys: tuple[str, ...] = (*SUMMARY_METRICS, "brier", "ece"), title: str | None = None) -> go.Figure:
    """Improvement (%) of each metric of `model` over `reference`, signed so that positive is better
    (lower-is-better metrics such as Brier and ECE flipped); green better, red worse."""
    ks = [k for k in keys if k in model and k in reference]
    rel = [relative_improvement(k, metric_value(model[k]), metric_value(reference[k])) for k in ks]
    colors = [PALETTE[2] if r >= 0 else PALETTE[1] for r in rel]
    fig = go.Figure(go.Bar(x=[METRIC_LABELS[k] for k in ks], y=rel, marker_color=colors,
                           text=[f"{r:+.1f} %" for r in rel], textposition="outside"))
    fig.add_hline(y=0, line_color="black")
    return _layout(fig, title or f"Improvement, {model_name} over {reference_name}", None,
                   "Improvement (%, positive = better)")


def comparison_table_figure(rows: list[dict[str, object]], title: str = "Model comparison") -> go.Figure:
    """A plotly table of model rows (dicts with the same keys; floats shown with 3 decimals)."""
    cols = list(rows[0])
    cells = [[f"{r[c]:.3f}" if isinstance(r[c], float) else str(r[c]) for r in rows] for c in cols]
    fig = go.Figure(go.Table(header=dict(values=[f"<b>{c}</b>" for c in cols], fill_color="#dbe5f1", align="left"),
                             cells=dict(values=cells, align="left", height=26)))
    return _layout(fig, title, height=120 + 30 * len(rows))


def kfold_figure(folds: list[dict[str, dict[str, float]]], keys: tuple[str, ...] = ("auroc", "auprc", "f1"),
                 title: str = "Per-fold test metrics") -> go.Figure:
    """Per-fold metric values (points) per model (and the oracle), from `validation.run_kfold` fold records."""
    fig = go.Figure()
    models = sorted({m for f in folds for m in f if isinstance(f[m], dict) and "auroc" in f[m]})
    for i, model in enumerate(models):
        xs, ys, texts = [], [], []
        for f in folds:
            for k in (k for k in keys if k in f[model]):
                xs.append(METRIC_LABELS[k])
                ys.append(metric_value(f[model][k]))
                texts.append(f"fold {f.get('fold', '?')}")
        fig.add_scatter(x=xs, y=ys, mode="markers", name=model, text=texts, marker=dict(size=10, opacity=0.7,
                        color=PALETTE[i % len(PALETTE)]), offsetgroup=model)
    return _layout(fig, title, None, "Value", scattermode="group")


def decision_curve_figure(curve: dict[str, np.ndarray], marks: dict[str, float] | None = None,
                          title: str = "Decision curve") -> go.Figure:
    """Net benefit against threshold probability for each model, treat-all and treat-none."""
    fig = go.Figure()
    t = curve["threshold"]
    names = [k for k in curve if k != "threshold"]
    for i, name in enumerate(names):
        style = dict(color="grey", dash="dash") if name in ("treat all", "treat none") else dict(
            color=PALETTE[i % len(PALETTE)], width=2)
        fig.add_scatter(x=t, y=curve[name], mode="lines", name=name, line=style)
    for name, x in (marks or {}).items():
        fig.add_vline(x=x, line_dash="dot", annotation_text=f"{name} {x:.3f}", annotation_textangle=-90)
    top = max(float(np.max(curve[n])) for n in names)
    return _layout(fig, title, "Threshold probability", "Net benefit", yaxis_range=[-0.05, top * 1.1 + 1e-3])


def learning_size_figure(sizes: list[int], auroc: dict[str, list[Interval]],
                         title: str = "Test AUROC against training size") -> go.Figure:
    """Test AUROC (with interval band whiskers) of each model against the number of training episodes."""
    fig = go.Figure()
    for i, (name, ivs) in enumerate(auroc.items()):
        hi, lo = _errors(list(ivs))
        fig.add_scatter(x=sizes, y=[iv.value for iv in ivs], mode="lines+markers", name=name,
                        line=dict(color=PALETTE[i % len(PALETTE)]),
                        error_y=dict(type="data", array=hi, arrayminus=lo, visible=True))
    fig.update_xaxes(type="log")
    return _layout(fig, title, "Training episodes (log scale)", "Test AUROC")


def seeds_figure(seeds: list[int], values: dict[str, list[float]], title: str = "Test AUROC by seed") -> go.Figure:
    """One point per seed for each series (e.g. LSTM AUROC and the regression's, same test set)."""
    fig = go.Figure()
    for i, (name, v) in enumerate(values.items()):
        fig.add_scatter(x=[str(s) for s in seeds], y=v, mode="markers+lines", name=name,
                        marker=dict(size=10, color=PALETTE[i % len(PALETTE)]))
    return _layout(fig, title, "Seed", "Test AUROC")


def runs_figure(values: dict[str, dict[str, list[float]]], marks: dict[str, float] | None = None,
                title: str = "AUROC of every run", metric: str = "AUROC") -> go.Figure:
    """One point per run for each model (rows) and protocol (colours), with optional reference lines
    (`marks`: label -> value, e.g. published figures)."""
    fig = go.Figure()
    symbols = ("circle", "diamond", "square", "triangle-up")
    for i, (protocol, by_model) in enumerate(values.items()):
        ys, xs = [], []
        for model, runs in by_model.items():
            ys += [model] * len(runs)
            xs += list(runs)
        fig.add_scatter(x=xs, y=ys, mode="markers", name=protocol, offsetgroup=protocol,
                        marker=dict(size=10, opacity=0.75, color=PALETTE[i % len(PALETTE)],
                                    symbol=symbols[i % len(symbols)]))
    for j, (name, x) in enumerate((marks or {}).items()):
        fig.add_vline(x=x, line_dash=("dot", "dash", "dashdot")[j % 3], line_color="grey",
                      annotation_text=name, annotation_textangle=-90)
    fig.update_yaxes(autorange="reversed")
    return _layout(fig, title, metric, None, scattermode="group")
