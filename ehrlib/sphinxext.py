"""A small Sphinx extension for the book (listed in `_config.yml` under `sphinx.extra_extensions`).

Jupyter Book 1 registers some page scripts twice (sphinx-thebe's `const THEBE_JS_URL = ...` and
sphinx-togglebutton's settings), and a `const` declared twice is a JavaScript error on every page,
which the browser test (`ehrlib.browsercheck`) reports. This extension removes exact duplicates from
each page's script list just before the page is written.
"""

from __future__ import annotations

from typing import Any


def _script_key(js: Any) -> tuple:
    """What makes two script entries the same: the file name (None and "" both mean an inline script) and
    every attribute (the inline body included)."""
    attributes = getattr(js, "attributes", {}) or {}
    filename = getattr(js, "filename", js) or ""
    return str(filename), tuple(sorted((k, str(v)) for k, v in attributes.items()))


def dedupe_scripts(app: Any, pagename: str, templatename: str, context: dict, doctree: Any) -> None:
    """Drop repeated entries from the page's `script_files`, keeping the first of each."""
    scripts = context.get("script_files")
    if not scripts:
        return
    seen: set[tuple] = set()
    unique = []
    for js in scripts:
        key = _script_key(js)
        if key not in seen:
            seen.add(key)
            unique.append(js)
    scripts[:] = unique


def setup(app: Any) -> dict:
    """Sphinx entry point."""
    app.connect("html-page-context", dedupe_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
