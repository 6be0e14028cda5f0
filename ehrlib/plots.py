"""Plotly figures for the book, and the notebook set-up that makes them render offline.

Figures are interactive in the built HTML. The book ships a local copy of plotly.js
(`book/_static/plotly.min.js`, copied by `make book`), and figures are rendered with the
`notebook_connected` renderer, so pages stay small and need no network.
"""

from __future__ import annotations

import plotly.io as pio

TEMPLATE = "plotly_white"


def setup_notebook() -> None:
    """Set plotly's renderer and template for notebooks executed for the book.

    `notebook_connected` writes figures that expect plotly.js to be loaded by the page (the book
    loads its local copy); the `plotly_white` template keeps figures legible in print and on screen.
    """
    pio.renderers.default = "notebook_connected"
    pio.templates.default = TEMPLATE
