"""Plotly figures for the book, and the notebook set-up that makes them render offline.

Figures are interactive in the built HTML. The book's pages load one local copy of plotly.js
(`book/_static/plotly.min.js`, copied by `make html` and listed in `_config.yml`), so each figure
is written as a bare `<div>` plus its `Plotly.newPlot` call: no CDN, no network, small pages.
That renderer is used only when the book runner executes the notebooks (it sets `EHRLIB_BOOK=1`);
a reader running a notebook in Jupyter keeps plotly's default renderer for their front end.
"""

from __future__ import annotations

import os

import plotly.io as pio
from plotly.io.base_renderers import MimetypeRenderer

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
    """Use the `plotly_white` template, and the book's renderer when building the book."""
    if os.environ.get("EHRLIB_BOOK") == "1":
        pio.renderers[BOOK_RENDERER] = BookRenderer()
        pio.renderers.default = BOOK_RENDERER
    pio.templates.default = TEMPLATE
