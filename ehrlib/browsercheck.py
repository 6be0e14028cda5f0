"""The browser test: open every page of the built book in headless Chromium and fail on what a reader
would see broken.

`python -m ehrlib.browsercheck _build/html --screenshots _build/screenshots` (`make browser-test`)
serves the built book on a loopback port, opens each page with Debian's `chromium` through its
`chromedriver` (selenium; nothing is downloaded), waits for MathJax and plotly, and reports, per page:
a JavaScript error or a resource that failed to load (the browser console's SEVERE entries), an
internal link to a missing page or a missing anchor, a plotly figure that did not draw, math that did
not render, a figure without a numbered caption, a page wider than the viewport, a code line longer
than the column (it would scroll), a whole number printed as a float in a table (`2100.0`), a table with
a pandas index column, a NaN or None in a table, a table wider than the text column, an output that is a
raw Python value (a list, a tuple, `True`, `NaN`), and log
or error text in an output (stderr streams, tracebacks, TensorFlow warnings, the reader's log lines). It saves a screenshot of every page and
exits 1 if any page has a problem. Links are checked against the built files (every `id` and `name`
of the target page), so an anchor is found even in a page the browser did not open.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import http.server
import re
import shutil
import sys
import threading
import time
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Iterator
from urllib.parse import unquote, urlsplit

VIEWPORT = (1366, 900)  # a common laptop screen
SKIP_DIRS = ("_static", "_sources", "_downloads", "_images")
# Text that must never appear in a page's outputs (log lines, tracebacks, library warnings).
FORBIDDEN_OUTPUT = ("Traceback (most recent call last)", "WARNING:tensorflow", "ICU reader [")
LOG_LINE = re.compile(r"^ehrlib(\.\w+)*: ", re.MULTILINE)  # the format of ehrlib.logs
# Console messages known to be harmless: the theme logs this once in a fresh browser profile, whose
# local storage holds no light/dark choice yet (pydata-sphinx-theme then uses "auto").
BENIGN_CONSOLE = ("favicon.ico", "Got invalid theme mode: . Resetting to auto.")
# Whole numbers printed as floats: a table row or column whose numeric cells (two or more) all end in
# ".0" holds counts printed as floats ("2100.0"); a lone "9.0" among "9.3" and "7.7" is a rounded decimal,
# and zeros ("0.0000", a net benefit of treating no one) say nothing either way.
FLOAT_INTS_JS = """
function floatInts() {
  const num = /^-?[\\d,]+(\\.\\d+)?$/, whole = /^-?[\\d,]+\\.0+$/, zero = /^-?0(\\.0+)?$/, bad = new Set();
  for (const t of document.querySelectorAll('.cell_output table, .output table')) {
    const rows = [...t.querySelectorAll('tr')].map(tr => [...tr.querySelectorAll('td')]);
    const lines = [...rows];
    const width = Math.max(0, ...rows.map(r => r.length));
    for (let j = 0; j < width; j++) lines.push(rows.map(r => r[j]).filter(Boolean));
    for (const line of lines) {
      const cells = line.filter(td => num.test(td.innerText.trim()) && !zero.test(td.innerText.trim()));
      if (cells.length >= 2 && cells.every(td => whole.test(td.innerText.trim()))) cells.forEach(td => bad.add(td));
    }
  }
  return [...bad].map(td => td.innerText.trim());
}
"""
PAGE_STATE_JS = FLOAT_INTS_JS + """
const figs = [...document.querySelectorAll('.plotly-graph-div')];
const math = [...document.querySelectorAll('.math')];
const outputs = [...document.querySelectorAll('.cell_output, .output')];
return {
  figures: figs.length,
  undrawn: figs.filter(d => !d.querySelector('svg.main-svg')).map(d => d.id || '(no id)'),
  math: math.length,
  captions: document.querySelectorAll('figcaption .caption-number').length,
  unrendered: math.filter(m => !m.querySelector('mjx-container')).length,
  math_errors: document.querySelectorAll('mjx-merror').length,
  scroll_width: document.documentElement.scrollWidth,
  view_width: window.innerWidth,
  links: [...document.querySelectorAll('a[href]')].map(a => a.href),
  stderr: document.querySelectorAll('.output.stderr, .stderr').length,
  output_text: outputs.map(o => o.innerText).join('\\n'),
  wide_code: [...document.querySelectorAll('.cell_input pre, div.highlight pre')]
    .filter(p => p.scrollWidth > p.clientWidth + 1).length,
  float_ints: floatInts(),
  index_tables: [...document.querySelectorAll('.cell_output table, .output table')]
    .filter(t => t.querySelector('tbody th')).length,
  nan_cells: [...document.querySelectorAll('.cell_output td, .output td')]
    .filter(td => /^(NaN|nan|None|NaT|<NA>)$/.test(td.innerText.trim())).length,
  plain_outputs: [...document.querySelectorAll('.cell_output .text_plain pre, .output.text_plain pre')]
    .map(p => p.innerText.trim()),
  wide_tables: [...document.querySelectorAll('.cell_output table, .output table')].filter(t => {
    const col = t.closest('article') || document.body;
    return t.getBoundingClientRect().width > col.clientWidth + 1;
  }).length,
};
"""
# A raw Python value printed as an output instead of a sentence or a table: a list, tuple, set or dict
# display, a bare True/False/None, or a NaN.
RAW_REPR = re.compile(r"^(\[.*\]|\(.*\)|\{.*\}|True|False|None|nan|NaN)$", re.DOTALL)
WAIT_MATHJAX_JS = """
const done = arguments[arguments.length - 1];
const mj = window.MathJax;
if (mj && mj.startup && mj.startup.promise) { mj.startup.promise.then(() => done(true), e => done(String(e))); }
else { done(null); }
"""


@dataclass
class PageReport:
    """What was found on one page: its path in the book, counts, and the problems (empty: the page is fine)."""

    page: str
    figures: int = 0
    math: int = 0
    problems: list[str] = field(default_factory=list)


class _Ids(HTMLParser):
    """Collects every `id` and `name` attribute of an HTML document (the targets of `#anchor` links)."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for key, value in attrs:
            if key in ("id", "name") and value:
                self.ids.add(value)


@functools.lru_cache(maxsize=None)
def element_ids(path: Path) -> frozenset[str]:
    """The anchors (`id` and `name` values) defined in an HTML file."""
    parser = _Ids()
    parser.feed(path.read_text(encoding="utf-8", errors="replace"))
    return frozenset(parser.ids)


def html_pages(site: Path) -> list[Path]:
    """Every HTML page of a built book, relative to `site`, outside the theme's and Sphinx's asset folders."""
    return sorted(p.relative_to(site) for p in site.rglob("*.html")
                  if not any(part in SKIP_DIRS for part in p.relative_to(site).parts))


def broken_links(site: Path, base_url: str, links: list[str]) -> list[str]:
    """Internal links (under `base_url`) whose file does not exist in `site` or whose `#anchor` the
    target page does not define; links to other sites are not followed (the book builds offline)."""
    problems = []
    for link in dict.fromkeys(links):
        if not link.startswith(base_url):
            continue
        parts = urlsplit(link)
        rel = unquote(parts.path[len(urlsplit(base_url).path):]).lstrip("/")
        target = site / rel
        if rel == "" or rel.endswith("/"):
            target = target / "index.html"
        if not target.is_file():
            problems.append(f"broken link {link} (no file {target.relative_to(site)})")
        elif parts.fragment and target.suffix == ".html" and unquote(parts.fragment) not in element_ids(target):
            problems.append(f"broken anchor {link} (no id '{unquote(parts.fragment)}' in {target.relative_to(site)})")
    return problems


def page_problems(state: dict, console: list[dict]) -> list[str]:
    """The problems in one page's state (from `PAGE_STATE_JS`) and browser console entries."""
    problems = [f"console error: {e.get('message', '')[:300]}" for e in console
                if e.get("level") == "SEVERE" and not any(ok in e.get("message", "") for ok in BENIGN_CONSOLE)]
    if state["undrawn"]:
        problems.append(f"{len(state['undrawn'])} of {state['figures']} plotly figures did not draw: {state['undrawn'][:5]}")
    if state["figures"] > state.get("captions", 0):
        problems.append(f"{state['figures']} plotly figures but {state.get('captions', 0)} numbered captions "
                        "(place each with a `{glue:figure}` directive)")
    if state["unrendered"] or state["math_errors"]:
        problems.append(f"math not rendered: {state['unrendered']} of {state['math']} elements, "
                        f"{state['math_errors']} MathJax errors")
    if state["scroll_width"] > state["view_width"] + 1:
        problems.append(f"page wider than the viewport: {state['scroll_width']} px > {state['view_width']} px")
    if state.get("wide_code"):
        problems.append(f"{state['wide_code']} code cells have lines longer than the column (they scroll)")
    if state.get("float_ints"):
        problems.append(f"{len(state['float_ints'])} table cells print a whole number as a float, "
                        f"e.g. {state['float_ints'][:4]}")
    if state.get("index_tables"):
        problems.append(f"{state['index_tables']} tables show a pandas index column")
    if state.get("nan_cells"):
        problems.append(f"{state['nan_cells']} table cells show NaN or None instead of a value or a dash")
    raw = [text for text in state.get("plain_outputs", []) if RAW_REPR.match(text)]
    if raw:
        problems.append(f"{len(raw)} outputs are raw Python values, e.g. {raw[0][:60]!r}")
    if state.get("wide_tables"):
        problems.append(f"{state['wide_tables']} tables are wider than the text column")
    if state["stderr"]:
        problems.append(f"{state['stderr']} standard-error outputs shown")
    problems += [f"output contains {text!r}" for text in FORBIDDEN_OUTPUT if text in state["output_text"]]
    if LOG_LINE.search(state["output_text"]):
        problems.append(f"output contains an ehrlib log line: {LOG_LINE.search(state['output_text']).group(0)!r}")
    return problems


@contextlib.contextmanager
def serve(site: Path) -> Iterator[str]:
    """Serve `site` over HTTP on a free loopback port for the duration; yields the base URL."""
    handler = functools.partial(_QuietHandler, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args) -> None:  # noqa: A002 - the base class's signature
        pass


def chromium_driver(width: int = VIEWPORT[0], height: int = VIEWPORT[1]):
    """A headless Chromium (Debian's `chromium` and `chromedriver` on PATH) driven by selenium."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    browser, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if not browser or not driver:
        raise FileNotFoundError("the browser test needs Debian's chromium and chromium-driver packages "
                                "(apt-get install -y chromium chromium-driver)")
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--hide-scrollbars", f"--window-size={width},{height}", "--force-device-scale-factor=1"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(options=options, service=Service(executable_path=driver))


def check_page(drv, site: Path, base_url: str, page: Path, screenshots: Path | None,
               timeout: float = 20.0) -> PageReport:
    """Open one page, wait for math and figures, collect its problems and save its screenshot."""
    from selenium.common.exceptions import TimeoutException

    drv.get(base_url + page.as_posix())
    drv.set_script_timeout(timeout)
    try:
        mathjax = drv.execute_async_script(WAIT_MATHJAX_JS)
    except TimeoutException:
        mathjax = f"MathJax did not finish starting within {timeout:.0f} s"
    deadline = time.monotonic() + timeout
    state = drv.execute_script(PAGE_STATE_JS)
    while (state["undrawn"] or state["unrendered"]) and time.monotonic() < deadline:
        time.sleep(0.25)
        state = drv.execute_script(PAGE_STATE_JS)
    report = PageReport(page.as_posix(), state["figures"], state["math"])
    report.problems = page_problems(state, drv.get_log("browser")) + broken_links(site, base_url, state["links"])
    if isinstance(mathjax, str):  # the startup promise failed or never settled
        report.problems.append(f"math: {mathjax}")
    if screenshots is not None:
        shot = screenshots / (page.with_suffix("").as_posix().replace("/", "__") + ".png")
        shot.parent.mkdir(parents=True, exist_ok=True)
        drv.save_screenshot(str(shot))
    return report


def check_site(site: Path, screenshots: Path | None = None, pages: list[Path] | None = None) -> list[PageReport]:
    """Check every page of the built book at `site` (or only `pages`); one report per page."""
    site = site.resolve()
    if not (site / "index.html").exists():
        raise FileNotFoundError(f"{site}: no built book here (run `make book PROFILE=quick` first)")
    element_ids.cache_clear()
    reports = []
    with serve(site) as base_url:
        drv = chromium_driver()
        try:
            for page in pages or html_pages(site):
                reports.append(check_page(drv, site, base_url, page, screenshots))
        finally:
            drv.quit()
    return reports


def main(argv: list[str] | None = None) -> int:
    """Command line: check a built book, print one line per page and a summary; exit 1 on any problem."""
    parser = argparse.ArgumentParser(prog="python -m ehrlib.browsercheck", description=__doc__.split("\n\n")[0])
    parser.add_argument("site", type=Path, nargs="?", default=Path("_build/html"))
    parser.add_argument("--screenshots", type=Path, default=Path("_build/screenshots"))
    args = parser.parse_args(argv)
    start = time.perf_counter()
    try:
        reports = check_site(args.site, args.screenshots)
    except FileNotFoundError as exc:
        print(f"browser test: {exc}", file=sys.stderr)
        return 2
    bad = [r for r in reports if r.problems]
    for r in reports:
        print(f"{'FAIL' if r.problems else 'ok  '} {r.page} ({r.figures} figures, {r.math} math)")
        for problem in r.problems:
            print(f"       {problem}")
    print(f"browser test: {len(reports)} pages, {len(bad)} with problems, {time.perf_counter() - start:.0f} s; "
          f"screenshots in {args.screenshots}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
