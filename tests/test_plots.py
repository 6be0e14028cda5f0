"""The notebook set-up: tables print whole numbers as integers, figures go where the Markdown puts them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from ehrlib import plots


def test_frame_html_prints_whole_number_rows_and_columns_as_integers_and_keeps_column_decimals() -> None:
    # counts and rates share a column, as in chapter 03's split table; one column has a NaN
    table = pd.DataFrame({"train": {"episodes": 2100, "mortality": 0.133}, "test": {"episodes": 450, "mortality": 0.12}})
    table["n"] = [3.0, np.nan]
    assert table["train"].dtype == float and "2100.0" in table.to_html()
    html = plots.frame_html(table)
    assert ">2100<" in html and ">450<" in html and ">0.133<" in html and ">0.120<" in html
    assert ">3<" in html and f">{plots.MISSING}<" in html and "NaN" not in html and "2100.0" not in html
    body = html.split("<tbody>")[1]
    assert "<th" not in body and "<td>episodes</td>" in body  # the index became an ordinary column
    # a rounded percentage keeps its decimal among decimals: 9.0 beside 9.3 and 7.7 (no whole row here)
    pct = pd.DataFrame({"urgent, %": [9.3, 7.7, 9.0], "label": ["a", "b", "c"]})
    assert ">9.0<" in plots.frame_html(pct) and ">9.3<" in plots.frame_html(pct)
    assert ">0.800<" in plots.frame_html(pd.DataFrame({"auroc": [0.856, 0.8]}))


def test_frame_html_shows_no_index_and_one_header_row() -> None:
    plain = plots.frame_html(pd.DataFrame({"model": ["a", "b"], "auroc": [0.8, 0.9]}))
    assert "<th" not in plain.split("<tbody>")[1] and ">0<" not in plain  # the default 0..n-1 index is gone
    wide = pd.DataFrame([[1, 2]], columns=pd.MultiIndex.from_tuples([("auroc", "mean"), ("auroc", "sd")]))
    head = plots.frame_html(wide).split("<tbody>")[0]
    assert head.count("<tr") == 1 and ">auroc mean<" in head
    named = pd.DataFrame({"n": [3, 4]}, index=pd.Index(["x", "y"], name="split"))
    assert ">split<" in plots.frame_html(named).split("<tbody>")[0]
    pivot = named.rename_axis(columns="role")  # a pivot's columns carry a name
    assert "<th" not in plots.frame_html(pivot).split("<tbody>")[1]


@pytest.mark.parametrize(("book", "shown"), [("1", False), ("", True)])
def test_show_figure_glues_under_its_label_and_displays_only_outside_the_book(monkeypatch, book, shown) -> None:
    calls = []
    monkeypatch.setattr(plots, "glue", lambda name, value, display: calls.append((name, value, display)))
    monkeypatch.setenv("EHRLIB_BOOK", book)
    fig = go.Figure()
    plots.show_figure("fig-01-1", fig)
    assert calls == [("fig-01-1", fig, shown)]


def test_one_palette_keeps_each_figures_colours() -> None:
    """Pinned: the colours the mortality/stroke figures and the ICU data figures (chapters 01-02) had when
    each module kept its own palette; the ICU order is a named reordering of the one palette."""
    from ehrlib.icu import plots as icu_plots

    assert plots.PALETTE == ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#7f7f7f")
    assert plots.ICU_PALETTE == ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#17becf")
    assert icu_plots.OUTCOME_COLORS == {"survived": "#1f77b4", "died": "#d62728"}
    assert [icu_plots._color(k) for k in (0, 3, 7, 10)] == ["#1f77b4", "#9467bd", "#1f77b4", "#9467bd"]
    assert not hasattr(icu_plots, "PALETTE") or icu_plots.PALETTE is plots.PALETTE
