"""Book plumbing: the chapter list from `_toc.yml`, and papermill execution in that order.

The book's sources live in `book/` (Jupyter Book builds that folder with the root `_config.yml` and
`_toc.yml`), so a chapter listed in `_toc.yml` as `chapters/01-generating-icu-data` is rendered at
`chapters/01-generating-icu-data.html`. `make book` calls `run_notebooks(profile)`, which executes
`notebooks/<stem>.ipynb` for every such entry (the stem is the slug with `_` for `-`:
`01_generating_icu_data`), injecting only the profile's name, and writes the executed copy to
`book/chapters/<slug>.ipynb` (git-ignored) with the paired sources beside it for download
(execution is off in `_config.yml`). Each executed notebook is written to a temporary name and
renamed only when it ran without error. Adding a chapter takes one `_toc.yml` line and the notebook;
entries outside `chapters/` are ordinary pages. After a successful run the runner writes the
reproducibility page (`ehrlib.reproducibility`).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Iterator

import yaml

from ehrlib.io import update_json
from ehrlib.logs import get_logger
from ehrlib.profiles import get_profile, project_root

_log = get_logger(__name__)
BOOK_DIR = Path("book")  # Jupyter Book's source folder (paths in _toc.yml are relative to it)
CHAPTER_PREFIX = "chapters/"  # _toc.yml entries under this prefix are executed notebooks
EXECUTED_DIR = BOOK_DIR / "chapters"  # where the runner writes them (git-ignored)
SOURCES_DIR = EXECUTED_DIR / "src"  # the paired notebook sources, copied there for download
LEGACY_PREFIX = "book/_executed/"  # the old location; an entry there is reported, not ignored
# Chapters that explain the synthetic ICU generator and need its hidden state (latent.csv, metadata.json).
SYNTHETIC_ICU_ONLY = ("01_generating_icu_data", "02_exploring_missingness")


def chapter_slug(stem: str) -> str:
    """The chapter's page name for a notebook stem: `01_generating_icu_data` -> `01-generating-icu-data`."""
    return stem.replace("_", "-")


def chapter_stem(slug: str) -> str:
    """The notebook stem for a chapter's page name (the inverse of `chapter_slug`)."""
    return slug.replace("-", "_")


def toc_files(root: Path | None = None) -> list[str]:
    """Every `file:` entry of `_toc.yml` (the root page first), in reading order."""
    root = root or project_root()
    toc = yaml.safe_load((root / "_toc.yml").read_text(encoding="utf-8"))
    files: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            for key in ("root", "file"):
                if isinstance(node.get(key), str):
                    files.append(node[key])
            for value in node.values():
                if isinstance(value, (list, dict)):
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(toc)
    return files


def chapter_stems(root: Path | None = None) -> list[str]:
    """Notebook stems of the chapters listed in `_toc.yml` (entries under `chapters/`), in reading order.

    An entry in the old `book/_executed/<stem>` form raises a ValueError that says how to write it.
    """
    stems: list[str] = []
    for f in toc_files(root):
        if f.startswith(LEGACY_PREFIX):
            stem = Path(f).name
            raise ValueError(f"_toc.yml: '{f}' uses the old location; list the chapter as "
                             f"'{CHAPTER_PREFIX}{chapter_slug(stem)}' (see ehrlib/book.py)")
        if f.startswith(CHAPTER_PREFIX):
            stems.append(chapter_stem(Path(f).with_suffix("").name))
    return stems


def run_notebooks(profile: str, only: list[str] | None = None, root: Path | None = None) -> int:
    """Execute the book's notebooks with papermill for `profile`; return a process exit code.

    Logs each notebook's duration as it finishes and records them in
    `data/results/<profile>/notebook_timings.json`. Stops at the first failing notebook with a
    message naming it and the error; the failing notebook's partial output is kept beside the
    others as `<slug>.failed.ipynb` for inspection. When all ran, writes the reproducibility page.
    """
    root = root or project_root()
    get_profile(profile)  # validate the name before starting anything
    stems = chapter_stems(root)
    if only:
        unknown = sorted(set(only) - set(stems))
        if unknown:
            raise ValueError(f"not chapters in _toc.yml: {unknown}")
        stems = [s for s in stems if s in only]
    external = sorted(set(stems) & set(SYNTHETIC_ICU_ONLY)) if os.environ.get("EHRLIB_ICU_DIR") else []
    if external:
        raise ValueError(f"EHRLIB_ICU_DIR is set, but {external} describe the synthetic generator and need its "
                         "data; run the other chapters with --only (see the README)")
    out_dir = root / EXECUTED_DIR
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="ehrlib-ipython-") as ipython_dir:
        # A clean IPython profile: a reader's own startup files cannot change the book's results,
        # and the kernel logs only errors (not ipykernel's start-up notice about TCP transport).
        config = Path(ipython_dir) / "profile_default" / "ipython_kernel_config.py"
        config.parent.mkdir(parents=True)
        config.write_text("c.IPKernelApp.log_level = 'ERROR'\n", encoding="utf-8")
        # Libraries' log records go to stderr (removed from the pages), not stdout: TensorFlow, for one,
        # logs to stdout in an interactive kernel unless the root logger already has a handler.
        startup = config.parent / "startup" / "00-ehrlib-logging.py"
        startup.parent.mkdir()
        startup.write_text("import logging, sys\nlogging.basicConfig(stream=sys.stderr, level=logging.WARNING, "
                           "format='%(name)s: %(levelname)s: %(message)s')\n", encoding="utf-8")
        kernel_env = {"TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONWARNINGS": "ignore::DeprecationWarning",
                      "TF_ENABLE_ONEDNN_OPTS": "0", "EHRLIB_ROOT": str(root), "EHRLIB_BOOK": "1",  # see ehrlib.plots, ehrlib.logs
                      "IPYTHONDIR": ipython_dir}
        code = _execute(stems, profile, root, out_dir, kernel_env)
    if code == 0 and not os.environ.get("EHRLIB_ICU_DIR"):  # the page describes the synthetic build only
        from ehrlib.reproducibility import write_reproducibility_page

        write_reproducibility_page(profile, root)
    return code


@contextlib.contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    """Temporarily set environment variables (restoring the previous values on exit)."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old


def _execute(stems: list[str], profile: str, root: Path, out_dir: Path, kernel_env: dict[str, str]) -> int:
    import papermill as pm

    timings: dict[str, float] = {}
    total = time.perf_counter()
    for i, stem in enumerate(stems, 1):
        src = root / "notebooks" / f"{stem}.ipynb"
        if not src.exists():
            raise FileNotFoundError(f"{src}: listed in _toc.yml but missing (run jupytext --sync)")
        slug = chapter_slug(stem)
        tmp = out_dir / f".{slug}.running.ipynb"
        _log.info(f"[{i}/{len(stems)}] {stem} (profile {profile}) ...")
        start = time.perf_counter()
        try:
            with _environment(kernel_env):  # the kernel inherits it; the runner's own log stays on
                pm.execute_notebook(str(src), str(tmp), parameters={"profile": profile}, kernel_name="python3",
                                    language="python", cwd=str(root / "notebooks"), progress_bar=False)
        except Exception as exc:  # papermill raises PapermillExecutionError with the cell's traceback
            failed = out_dir / f"{slug}.failed.ipynb"
            if tmp.exists():
                os.replace(tmp, failed)
            _log.error(f"notebook {src.relative_to(root)} failed after {time.perf_counter() - start:.0f} s; "
                       f"partial output in {failed.relative_to(root)}\n{exc}")
            return 1
        _tidy_executed(tmp, stem)
        _copy_sources(root, stem)
        os.replace(tmp, out_dir / f"{slug}.ipynb")
        (out_dir / f"{slug}.failed.ipynb").unlink(missing_ok=True)
        timings[stem] = round(time.perf_counter() - start, 1)
        _log.info(f"[{i}/{len(stems)}] {stem} done in {timings[stem]:.0f} s")
    timings["total"] = round(time.perf_counter() - total, 1)
    update_json(root / "data" / "results" / profile / "notebook_timings.json", timings)
    _log.info(f"executed {len(stems)} notebooks in {timings['total']:.0f} s")
    return 0


def _tidy_executed(path: Path, stem: str) -> None:
    """Prepare an executed notebook for the page: hide the default `parameters` cell (the page shows
    papermill's injected one), drop standard-error output (log lines, warnings), merge consecutive
    stdout outputs so that lines printed one by one read as one block, and put a download line for the
    paired sources under the title."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        tags = cell.metadata.get("tags", [])
        if "parameters" in tags and "remove-cell" not in tags:
            cell.metadata["tags"] = [*tags, "remove-cell"]
        if cell.cell_type != "code":
            continue
        merged: list = []
        for out in cell.outputs:
            prev = merged[-1] if merged else None
            if out.output_type == "stream" and out.name == "stderr":
                continue
            if out.output_type == "stream" and prev is not None and prev.output_type == "stream":
                prev.text += out.text
            else:
                merged.append(out)
        cell.outputs = merged
    nb.cells.insert(1 if nb.cells and nb.cells[0].cell_type == "markdown" else 0, nbformat.v4.new_markdown_cell(
        f"```{{tip}}\nRun this chapter yourself: download the notebook {{download}}`{stem}.ipynb <src/{stem}.ipynb>` "
        f"or its paired script {{download}}`{stem}.py <src/{stem}.py>`, and see {{doc}}`../running`.\n```",
        metadata={"tags": ["download-links"]}))
    nbformat.write(nb, path)


def _copy_sources(root: Path, stem: str) -> None:
    """Copy the chapter's paired sources (`notebooks/<stem>.py` and the output-free `.ipynb`) next to
    the executed notebooks, where the page's download links point."""
    out = root / SOURCES_DIR
    out.mkdir(parents=True, exist_ok=True)
    for suffix in (".py", ".ipynb"):
        src = root / "notebooks" / f"{stem}{suffix}"
        if src.exists():
            shutil.copyfile(src, out / src.name)


def pinned_requirements(path: Path) -> dict[str, str]:
    """`{name: version}` for every `name==version` line of a pip requirements file (names normalised)."""
    pins: dict[str, str] = {}
    for lineno, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if "==" not in line:
            raise ValueError(f"{path}:{lineno}: not pinned with '==': {raw!r}")
        name, version = line.split("==", 1)
        pins[name.strip().lower().replace("_", "-")] = version.strip()
    return pins


def render_environment_yml(requirements: Path) -> str:
    """The conda/Binder `environment.yml` text holding exactly the pins of `requirements`."""
    lines = [
        "# Conda / Binder environment: Python 3.11 and the same pins as requirements.txt",
        "# (regenerate with `make environment.yml`; tests/test_project.py checks they agree).",
        "name: ehr-book",
        "channels:",
        "  - conda-forge",
        "dependencies:",
        "  - python=3.11",
        "  - pip",
        "  - pip:",
    ]
    lines += [f"      - {name}=={version}" for name, version in sorted(pinned_requirements(requirements).items())]
    lines.append("      - -e .")
    return "\n".join(lines) + "\n"
