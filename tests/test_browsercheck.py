"""The browser test's checks: links and anchors against the built files, page state, and (when Debian's
chromium is installed) a real headless-Chromium run that must catch a JavaScript error, a page wider
than the viewport and a broken anchor, and pass a clean page."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ehrlib.browsercheck import broken_links, check_site, html_pages, page_problems
from ehrlib.sphinxext import dedupe_scripts

BASE = "http://127.0.0.1:8000/"
CLEAN_STATE = {"figures": 2, "captions": 2, "undrawn": [], "math": 3, "unrendered": 0, "math_errors": 0, "scroll_width": 1366,
               "view_width": 1366, "links": [], "stderr": 0, "output_text": "AUROC 0.81\n"}


@pytest.fixture()
def site(tmp_path: Path) -> Path:
    (tmp_path / "chapters").mkdir()
    (tmp_path / "_static").mkdir()
    (tmp_path / "_static" / "x.html").write_text("<p>theme asset</p>")
    (tmp_path / "index.html").write_text('<html><body><h1 id="top">Book</h1>'
                                         '<a href="chapters/01-a.html#sec">ch</a></body></html>')
    (tmp_path / "chapters" / "01-a.html").write_text('<section id="sec"><a name="old"></a>'
                                                    '<a href="../index.html#top">home</a></section>')
    return tmp_path


def test_pages_exclude_theme_assets(site: Path) -> None:
    assert [p.as_posix() for p in html_pages(site)] == ["chapters/01-a.html", "index.html"]


def test_links_and_anchors_are_checked_against_the_built_files(site: Path) -> None:
    links = [BASE + "chapters/01-a.html#sec", BASE + "chapters/01-a.html#old", BASE, BASE + "index.html#top",
             "https://doi.org/10.1038/s41746-018-0029-1", BASE + "chapters/01-a.html#nope", BASE + "missing.html"]
    problems = broken_links(site, BASE, links)
    assert len(problems) == 2
    assert "broken anchor" in problems[0] and "'nope'" in problems[0]
    assert "broken link" in problems[1] and "missing.html" in problems[1]


def test_page_problems_name_each_failure() -> None:
    assert page_problems(CLEAN_STATE, [{"level": "SEVERE", "message": "GET /favicon.ico 404"},
                                       {"level": "WARNING", "message": "deprecated"}]) == []
    bad = dict(CLEAN_STATE, undrawn=["fig1"], unrendered=1, scroll_width=1500, stderr=1,
               output_text="ehrlib.icu.reader: ICU reader [train]: 2,100 episodes from cache\nWARNING:tensorflow: x")
    problems = page_problems(bad, [{"level": "SEVERE", "message": "Uncaught SyntaxError"}])
    text = "\n".join(problems)
    for expected in ("console error: Uncaught SyntaxError", "1 of 2 plotly figures did not draw", "math not rendered",
                     "wider than the viewport: 1500 px", "standard-error", "'ICU reader ['", "WARNING:tensorflow",
                     "ehrlib log line"):
        assert expected in text, expected


def test_long_code_floats_for_counts_and_uncaptioned_figures_fail() -> None:
    bad = dict(CLEAN_STATE, wide_code=2, float_ints=["2100.0", "419.0"], captions=1)
    text = "\n".join(page_problems(bad, []))
    for expected in ("2 code cells have lines longer", "'2100.0'", "2 plotly figures but 1 numbered captions"):
        assert expected in text, expected


def test_index_columns_nan_cells_raw_values_and_wide_tables_fail() -> None:
    bad = dict(CLEAN_STATE, index_tables=1, nan_cells=2, wide_tables=1,
               plain_outputs=["['lstm_bundle', 'predictions.csv']", "True", "AUROC 0.81"])
    text = "\n".join(page_problems(bad, []))
    for expected in ("1 tables show a pandas index column", "2 table cells show NaN", "2 outputs are raw Python values",
                     "1 tables are wider than the text column"):
        assert expected in text, expected
    assert page_problems(dict(CLEAN_STATE, plain_outputs=["AUROC 0.81", "(see figure 3)."]), []) == []


def test_sphinx_extension_removes_repeated_scripts() -> None:
    from sphinx.builders.html._assets import _JavaScript

    scripts = [_JavaScript("a.js"), _JavaScript(None, body="const X = 1"), _JavaScript("a.js"),
               _JavaScript("", body="const X = 1"), _JavaScript("a.js", defer="defer")]  # None or "": inline
    context = {"script_files": scripts}
    dedupe_scripts(None, "page", "page.html", context, None)
    assert context["script_files"] is scripts and len(scripts) == 3


@pytest.mark.slow
@pytest.mark.skipif(not (shutil.which("chromium") and shutil.which("chromedriver")),
                    reason="Debian's chromium and chromium-driver are not installed")
def test_headless_chromium_finds_what_a_reader_would_see(site: Path, tmp_path: Path) -> None:
    (site / "chapters" / "02-bad.html").write_text(
        '<html><body><div style="width:3000px">wide</div><a href="01-a.html#gone">x</a>'
        '<script>notDefinedAnywhere();</script>'
        '<div class="cell_output"><table><tr><th>episodes</th><td>2100.0</td><td>450.0</td></tr>'
        '<tr><th>urgent, %</th><td>9.3</td><td>NaN</td></tr></table>'
        '<div class="output text_plain"><pre>[\'lstm_bundle\', \'predictions.csv\']</pre></div></div>'
        '</body></html>')
    (site / "chapters" / "03-fine.html").write_text(
        '<html><body><div class="cell_output"><table><thead><tr><th>row</th><th>a</th><th>b</th><th>c</th>'
        '</tr></thead><tr><td>episodes</td><td>2100</td><td>450</td></tr>'
        '<tr><td>urgent, %</td><td>9.3</td><td>7.7</td><td>9.0</td></tr>'
        '<tr><td>treat none</td><td>0.0000</td><td>0.0000</td><td>0.0000</td></tr></table>'
        '<div class="output text_plain"><pre>AUROC 0.81 (0.79 to 0.83)</pre></div></div></body></html>')
    shots = tmp_path / "shots"
    reports = {r.page: r for r in check_site(site, shots)}
    assert reports["index.html"].problems == [] and reports["chapters/01-a.html"].problems == []
    problems = "\n".join(reports["chapters/02-bad.html"].problems)
    assert "notDefinedAnywhere" in problems and "wider than the viewport" in problems and "'gone'" in problems
    assert "2 table cells print a whole number as a float, e.g. ['2100.0', '450.0']" in problems
    assert "1 tables show a pandas index column" in problems and "1 table cells show NaN" in problems
    assert "1 outputs are raw Python values" in problems
    assert reports["chapters/03-fine.html"].problems == []  # a rounded "9.0" beside "9.3" and "7.7" is fine
    assert sorted(p.name for p in shots.iterdir()) == ["chapters__01-a.png", "chapters__02-bad.png",
                                                       "chapters__03-fine.png", "index.png"]
