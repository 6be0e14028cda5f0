"""The notebook set-up: tables print whole numbers as integers, figures go where the Markdown puts them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from ehrlib import plots


@pytest.mark.parametrize(("value", "text"), [(2100.0, "2100"), (0.0, "0"), (-12.0, "-12"), (0.123, "0.123"),
                                               (1234.5678, "1234.57"), (np.nan, "nan"), (np.inf, "inf")])
def test_number_text_prints_whole_numbers_as_integers(value: float, text: str) -> None:
    assert plots.number_text(value) == text


def test_setup_notebook_makes_mixed_count_and_rate_tables_print_counts_as_integers() -> None:
    table = pd.DataFrame({"train": {"episodes": 2100, "mortality": 0.133}, "test": {"episodes": 450, "mortality": 0.12}})
    assert table["train"].dtype == float  # counts and rates share a column, as in chapter 03's split table
    with pd.option_context("display.float_format", None):
        assert "2100.0" in table.to_html()
        plots.setup_notebook()
        html = table.to_html()
    assert "2100.0" not in html and ">2100<" in html and ">0.133<" in html


@pytest.mark.parametrize(("book", "shown"), [("1", False), ("", True)])
def test_show_figure_glues_under_its_label_and_displays_only_outside_the_book(monkeypatch, book, shown) -> None:
    calls = []
    monkeypatch.setattr(plots, "glue", lambda name, value, display: calls.append((name, value, display)))
    monkeypatch.setenv("EHRLIB_BOOK", book)
    fig = go.Figure()
    plots.show_figure("fig-01-1", fig)
    assert calls == [("fig-01-1", fig, shown)]
