"""Book plumbing: the chapter list from `_toc.yml`, and papermill execution in that order, of only
the chapters whose inputs changed.

The book's sources live in `book/` (Jupyter Book builds that folder with the root `_config.yml` and
`_toc.yml`), so a chapter listed in `_toc.yml` as `chapters/01-generating-icu-data` is rendered at
`chapters/01-generating-icu-data.html`. `make book` calls `run_notebooks(profile)`, which executes
`notebooks/<stem>.ipynb` for every such entry (the stem is the slug with `_` for `-`:
`01_generating_icu_data`), injecting only the profile's name, and writes the executed copy to
`book/chapters/<slug>.ipynb` (git-ignored) with the paired sources beside it for download
(execution is off in `_config.yml`). Each executed notebook is written to a temporary name and
renamed only when it ran without error. Adding a chapter takes one `_toc.yml` line and the notebook;
entries outside `chapters/` are ordinary pages. After a successful run the runner writes the
reproducibility page (`ehrlib.reproducibility`) and the findings the introduction and conclusion include
(`ehrlib.findings`). A chapter that reads data the build does not have (`DATA_CHAPTERS`: the
PhysioNet 2012 files, found or downloaded by `ehrlib data`) is not executed: its page says how to get
the data instead, and it runs in the next build that has them.

A chapter is executed again only when its input key changed (`input_key`): a SHA-256 of its code cells
(source and tags), the `ehrlib` package's source, the profile, the data overrides `$EHRLIB_ICU_DIR` and
`$EHRLIB_PHYSIONET2012`, cheap fingerprints of the datasets it reads, and the key of the chapter before
it. The key is stored in the executed notebook (`metadata.ehrlib`); a chapter whose stored key matches
is reused, and when only its Markdown changed the new prose is merged into the stored execution
(`merge_prose`). `run_notebooks(..., force=True)` (`make book FORCE=1`) executes every chapter.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import fnmatch
import hashlib
import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

import nbformat
import yaml

from ehrlib.findings import write_findings
from ehrlib.files import atomic_write_text
from ehrlib.jsonfiles import update_json
from ehrlib.logs import get_logger
from ehrlib.physionet2012.files import locate_physionet2012
from ehrlib.profiles import get_profile, project_root
from ehrlib.reproducibility import ChapterRun, write_reproducibility_page

_log = get_logger(__name__)
BOOK_DIR = Path("book")  # Jupyter Book's source folder (paths in _toc.yml are relative to it)
CHAPTER_PREFIX = "chapters/"  # _toc.yml entries under this prefix are executed notebooks
EXECUTED_DIR = BOOK_DIR / "chapters"  # where the runner writes them (git-ignored)
SOURCES_DIR = EXECUTED_DIR / "src"  # the paired notebook sources, copied there for download
LEGACY_PREFIX = "book/_executed/"  # the old location; an entry there is reported, not ignored
# Chapters that explain the synthetic ICU generator and need its hidden state (latent.csv, metadata.json).
SYNTHETIC_ICU_ONLY = ("01_generating_icu_data", "02_exploring_missingness")
PACKAGE_DIR = Path(__file__).resolve().parent  # the ehrlib package, whose source is part of every key
KEY_VERSION = 1  # bump when the key's recipe changes, so no execution keyed the old way is reused
ENV_OVERRIDES = ("EHRLIB_ICU_DIR", "EHRLIB_PHYSIONET2012")  # environment variables that change the data read
# Small files that describe a dataset, hashed whole by `data_fingerprint` (other files by name and size).
DESCRIPTIVE_FILES = ("metadata.json", "*listfile.csv", "SHA256SUMS*", "*.sha256")


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


# ---------------------------------------------------------------- what a chapter's execution depends on


#: Chapters that read data a build may lack: stem -> (what is missing, or "" when present; how to get it).
PHYSIONET_HOWTO = (
    "This chapter runs the mortality study on the PhysioNet/Computing in Cardiology Challenge 2012 data "
    "(sets A and B; open, under the ODC-By 1.0 licence), which this build did not have. Get them with "
    "`python -m ehrlib data physionet2012` (it looks in `$EHRLIB_PHYSIONET2012`, then in "
    "`../shared/physionet2012/` beside the project, and otherwise downloads `set-a.tar.gz`, `set-b.tar.gz`, "
    "`Outcomes-a.txt` and `Outcomes-b.txt` from https://physionet.org/content/challenge-2012/1.0.0/), then "
    "run `make book` again.")
DATA_CHAPTERS: dict[str, tuple[Any, str]] = {
    "09_physionet2012": (lambda root: "" if locate_physionet2012(root) else "the PhysioNet 2012 files",
                         PHYSIONET_HOWTO),
    "10_sequence_models": (lambda root: "" if locate_physionet2012(root) else "the PhysioNet 2012 files",
                           PHYSIONET_HOWTO),
}


@dataclass(frozen=True)
class BuildInputs:
    """What every chapter's input key shares: the profile's name, a digest of the `ehrlib` package's
    source, the environment overrides that change data (`ENV_OVERRIDES`, their values) and cheap
    fingerprints of the datasets the chapters read (`data_fingerprint`)."""

    profile: str
    package: str
    environment: dict[str, str] = field(default_factory=dict)
    data: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class StoredRun:
    """What an executed notebook in `book/chapters/` says about its execution (`metadata.ehrlib`), and
    the sources of its code cells in order (papermill's injected-parameters cell left out)."""

    input_key: str
    profile: str
    executed_at: str
    seconds: float
    code: tuple[str, ...]


@dataclass(frozen=True)
class ChapterPlan:
    """One chapter's decision in a build: `execute`, `reuse` (its stored execution, prose merged in), or
    `skip` (outside `--only`); `key` is its input key (for `skip`, the key its stored copy has)."""

    stem: str
    action: str
    key: str


def package_digest(folder: Path = PACKAGE_DIR) -> str:
    """SHA-256 over the names and bytes of every `.py` file under `folder` (the `ehrlib` package), sorted."""
    h = hashlib.sha256()
    for p in sorted(folder.rglob("*.py")):
        if "__pycache__" not in p.parts:
            h.update(p.relative_to(folder).as_posix().encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()


def data_fingerprint(folder: Path) -> str:
    """A cheap content fingerprint of a dataset folder, without reading its data: the bytes of its small
    descriptive files (`DESCRIPTIVE_FILES`: metadata, listfiles, checksums) and of ehrlib's recipe beside
    it (`.<name>.recipe.json`, written by `ehrlib data`), and the name and size of every other visible
    file (hidden files such as a reader's cache are left out). `absent` when there is no such folder."""
    if not folder.is_dir():
        return "absent"
    h = hashlib.sha256()
    recipe = folder.parent / f".{folder.name}.recipe.json"
    if recipe.is_file():
        h.update(b"recipe\0" + recipe.read_bytes() + b"\0")
    for p in sorted(folder.rglob("*")):
        rel = p.relative_to(folder)
        if not p.is_file() or any(part.startswith(".") for part in rel.parts):
            continue
        small = any(fnmatch.fnmatch(p.name, pattern) for pattern in DESCRIPTIVE_FILES)
        content = p.read_bytes() if small else str(p.stat().st_size).encode()
        h.update(rel.as_posix().encode() + b"\0" + content + b"\0")
    return h.hexdigest()


def collect_inputs(profile: str, root: Path, package_dir: Path = PACKAGE_DIR) -> BuildInputs:
    """The `BuildInputs` of a build of `profile` under `root`, read now from the package source, the
    environment (`ENV_OVERRIDES`) and the profile's datasets (`data/<profile>/icu` and `stroke`, or the
    ICU folder `$EHRLIB_ICU_DIR` names, and the PhysioNet 2012 folder: the one `$EHRLIB_PHYSIONET2012`
    names, else the one `locate_physionet2012` finds)."""
    environment = {name: os.environ.get(name, "") for name in ENV_OVERRIDES}
    icu_dir = environment["EHRLIB_ICU_DIR"]
    icu = Path(icu_dir).resolve() if icu_dir else root / "data" / profile / "icu"
    environment["EHRLIB_ICU_DIR"] = str(icu) if icu_dir else ""
    data = {"icu": data_fingerprint(icu), "stroke": data_fingerprint(root / "data" / profile / "stroke")}
    if environment["EHRLIB_PHYSIONET2012"]:
        data["physionet2012"] = data_fingerprint(Path(environment["EHRLIB_PHYSIONET2012"]))
    else:
        found = locate_physionet2012(root)
        data["physionet2012"] = data_fingerprint(found.folder) if found is not None else "absent"
    return BuildInputs(profile, package_digest(package_dir), environment, data)


def code_cells(nb: nbformat.NotebookNode) -> list[dict[str, Any]]:
    """The source and tags of each code cell of a (source) notebook, in order: what its execution depends
    on within the notebook (Markdown cells and other cell metadata do not count)."""
    return [{"source": c.source, "tags": list(c.metadata.get("tags", []))} for c in nb.cells if c.cell_type == "code"]


def input_key(inputs: BuildInputs, cells: list[dict[str, Any]], previous: str) -> str:
    """A chapter's input key: SHA-256 of its code cells, the build's shared inputs and `previous`, a
    digest of the keys of the chapters before it in `_toc.yml` order (chapters read earlier chapters'
    results, so this chain makes a re-executed chapter re-execute every chapter after it)."""
    record = {"version": KEY_VERSION, "inputs": dataclasses.asdict(inputs), "cells": cells, "previous": previous}
    return hashlib.sha256(json.dumps(record, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def stored_run(path: Path) -> StoredRun | None:
    """The `StoredRun` of the executed notebook at `path` (read as plain JSON: no schema validation of
    large outputs), or None when there is none or it carries no valid `metadata.ehrlib`, e.g. one
    executed before keys existed (it is then executed again)."""
    if not path.is_file():
        return None
    try:
        nb = json.loads(path.read_text(encoding="utf-8"))
        meta = nb["metadata"]["ehrlib"]
        code = tuple(_text(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"
                     and "injected-parameters" not in c.get("metadata", {}).get("tags", []))
        return StoredRun(str(meta["input_key"]), str(meta["profile"]), str(meta["executed_at"]),
                         float(meta["seconds"]), code)
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        _log.info(f"{path}: not reusable ({type(exc).__name__}: {exc}); it will be executed again")
        return None


def _text(source: str | list[str]) -> str:
    """A cell's source as one string (the notebook format allows a list of lines)."""
    return source if isinstance(source, str) else "".join(source)


def reusable(stored: StoredRun | None, key: str, profile: str, cells: list[dict[str, Any]]) -> bool:
    """Whether a stored execution stands for this build: same input key, same profile, and the same
    sequence of code cells as the source notebook."""
    return (stored is not None and stored.input_key == key and stored.profile == profile
            and stored.code == tuple(c["source"] for c in cells))


def plan_build(stems: list[str], selected: list[str], cells: dict[str, list[dict[str, Any]]],
               stored: dict[str, StoredRun | None], inputs: BuildInputs, force: bool = False) -> list[ChapterPlan]:
    """Decide, in `_toc.yml` order, which of the `selected` chapters to execute and which to reuse.

    Each chapter's key takes as `previous` a running digest of the keys of all chapters before it as
    they will stand after this build: the new key of a selected chapter, the stored copy's key (or
    `absent`) of one outside `--only`. When every chapter is built this is a plain chain of keys; with
    `--only` it still sees an earlier chapter executed again while one between them was skipped.
    `force` executes every selected chapter. Chapters outside `selected` come back as `skip`.
    """
    plan: list[ChapterPlan] = []
    previous = ""
    for stem in stems:
        if stem in selected:
            key = input_key(inputs, cells[stem], previous)
            reuse = not force and reusable(stored.get(stem), key, inputs.profile, cells[stem])
            plan.append(ChapterPlan(stem, "reuse" if reuse else "execute", key))
        else:
            run = stored.get(stem)
            plan.append(ChapterPlan(stem, "skip", run.input_key if run else "absent"))
        previous = hashlib.sha256(f"{previous}\0{plan[-1].key}".encode()).hexdigest()
    return plan


# ---------------------------------------------------------------- reusing an execution with new prose


def merge_prose(source: nbformat.NotebookNode, executed: nbformat.NotebookNode,
                stem: str) -> nbformat.NotebookNode | None:
    """The executed notebook with the source's current Markdown (and raw) cells: the source's cells in
    order, each code cell replaced by its executed copy (outputs kept; papermill's injected-parameters
    cell stays right after the cell it followed), the download line put back under the title. None when
    the code-cell sequences differ (the chapter must then be executed again)."""
    groups: list[list[nbformat.NotebookNode]] = [[]]  # cells before the first code cell, then one per code cell
    for cell in executed.cells:
        injected = "injected-parameters" in cell.metadata.get("tags", [])
        if cell.cell_type == "code" and not injected:
            groups.append([cell])
        elif injected:
            groups[-1].append(cell)
    executed_code = [g[0] for g in groups[1:]]
    source_code = [c for c in source.cells if c.cell_type == "code"]
    if [c.source for c in executed_code] != [c.source for c in source_code]:
        return None
    cells = list(groups[0])
    for cell in source.cells:
        cells.extend(groups.pop(1) if cell.cell_type == "code" else [copy.deepcopy(cell)])
    merged = nbformat.from_dict({**{k: copy.deepcopy(v) for k, v in executed.items() if k != "cells"},
                                 "cells": copy.deepcopy(cells)})
    _insert_download_cell(merged, stem)
    return merged


def _prose(nb: nbformat.NotebookNode) -> list[tuple[str, str, list[str]]]:
    """The notebook's layout as a prose edit changes it: each cell's type, and for a non-code cell its
    source and tags (the runner's download line left out)."""
    return [(c.cell_type, "" if c.cell_type == "code" else c.source,
             [] if c.cell_type == "code" else list(c.metadata.get("tags", [])))
            for c in nb.cells if "download-links" not in c.metadata.get("tags", [])]


def _insert_download_cell(nb: nbformat.NotebookNode, stem: str) -> None:
    """Put the line that links the chapter's paired sources under the notebook's title."""
    nb.cells.insert(1 if nb.cells and nb.cells[0].cell_type == "markdown" else 0, nbformat.v4.new_markdown_cell(
        f"```{{tip}}\nRun this chapter yourself: download the notebook {{download}}`{stem}.ipynb <src/{stem}.ipynb>` "
        f"or its paired script {{download}}`{stem}.py <src/{stem}.py>`, and see {{doc}}`../running`.\n```",
        metadata={"tags": ["download-links"]}))


# ---------------------------------------------------------------- the runner


def run_notebooks(profile: str, only: list[str] | None = None, root: Path | None = None, force: bool = False) -> int:
    """Build the book's chapters for `profile`, executing with papermill only those whose inputs changed;
    return a process exit code.

    Every selected chapter (all, or those in `only`) gets an input key (`plan_build`); one whose executed
    notebook carries the same key is reused, with the source's current prose merged in, and the others
    are executed (`force`: all of them). Logs each notebook's duration as it finishes and records them in
    `data/results/<profile>/notebook_timings.json`. Stops at the first failing notebook with a message
    naming it and the error; its partial output is kept beside the others as `<slug>.failed.ipynb`.
    When all succeeded, writes the reproducibility page (without `$EHRLIB_ICU_DIR`).
    """
    root = root or project_root()
    get_profile(profile)  # validate the name before starting anything
    stems = chapter_stems(root)
    selected = _select(stems, only)
    out_dir = root / EXECUTED_DIR
    out_dir.mkdir(parents=True, exist_ok=True)
    sources = {stem: _read_source(root, stem) for stem in selected}
    stored = {stem: stored_run(out_dir / f"{chapter_slug(stem)}.ipynb") for stem in stems}
    cells = {stem: code_cells(nb) for stem, nb in sources.items()}
    plan = plan_build(stems, selected, cells, stored, collect_inputs(profile, root), force)
    statuses: dict[str, str] = {}
    for step in plan:
        if step.action == "reuse":
            statuses[step.stem] = _reuse(root, step.stem, sources[step.stem], out_dir, stored[step.stem])
    steps = [step for step in plan if step.action == "execute" or statuses.get(step.stem) == "execute"]
    _log.info(f"{len(steps)} of {len(selected)} chapters to execute (profile {profile}"
              f"{', --force' if force else ''}); {len(selected) - len(steps)} reused")
    code = _execute_in_kernel(steps, profile, root, out_dir) if steps else 0
    statuses.update({step.stem: "executed" for step in steps})
    if code == 0 and not os.environ.get("EHRLIB_ICU_DIR"):  # the pages describe the synthetic build only
        write_reproducibility_page(profile, root, _chapter_runs(plan, statuses, stored, profile, out_dir))
        write_findings(root, profile)
    return code


def _select(stems: list[str], only: list[str] | None) -> list[str]:
    """The chapters to build (all, or those named in `only`, in `_toc.yml` order); checks the names and
    that chapters describing the synthetic generator are not run on `$EHRLIB_ICU_DIR` data."""
    if only:
        unknown = sorted(set(only) - set(stems))
        if unknown:
            raise ValueError(f"not chapters in _toc.yml: {unknown}")
        stems = [s for s in stems if s in only]
    external = sorted(set(stems) & set(SYNTHETIC_ICU_ONLY)) if os.environ.get("EHRLIB_ICU_DIR") else []
    if external:
        raise ValueError(f"EHRLIB_ICU_DIR is set, but {external} describe the synthetic generator and need its "
                         "data; run the other chapters with --only (see the README)")
    return stems


def _read_source(root: Path, stem: str) -> nbformat.NotebookNode:
    """The chapter's source notebook `notebooks/<stem>.ipynb`; a missing or unreadable one is a one-line error."""
    src = root / "notebooks" / f"{stem}.ipynb"
    if not src.exists():
        raise FileNotFoundError(f"{src}: listed in _toc.yml but missing (run jupytext --sync)")
    try:
        return nbformat.read(src, as_version=4)
    except (ValueError, KeyError, AttributeError) as exc:
        raise ValueError(f"{src}: not a readable notebook ({exc}); run jupytext --sync") from None


def _reuse(root: Path, stem: str, source: nbformat.NotebookNode, out_dir: Path, stored: StoredRun | None) -> str:
    """Reuse the stored execution of a chapter whose inputs did not change: merge the source's current
    prose into it (written only when the prose changed). Returns the status `reused` or `prose`, or
    `execute` when the stored notebook no longer matches the source's code cells."""
    path = out_dir / f"{chapter_slug(stem)}.ipynb"
    executed = nbformat.read(path, as_version=4)
    merged = merge_prose(source, executed, stem)
    if merged is None:
        _log.info(f"{stem}: the stored notebook's code cells differ from the source; executing it again")
        return "execute"
    _copy_sources(root, stem)
    when = stored.executed_at if stored else "?"
    if _prose(merged) == _prose(executed):
        _log.info(f"{stem}: inputs unchanged; reusing its execution of {when}")
        return "reused"
    atomic_write_text(path, nbformat.writes(merged))
    _log.info(f"{stem}: only prose changed; reusing its execution of {when} with the new prose")
    return "prose"


def _chapter_runs(plan: list[ChapterPlan], statuses: dict[str, str], stored: dict[str, StoredRun | None],
                  profile: str, out_dir: Path) -> list[ChapterRun]:
    """The reproducibility page's rows: every chapter with an executed notebook of this profile, in order
    (only the notebooks executed now are read again)."""
    runs = []
    for step in plan:
        slug = chapter_slug(step.stem)
        run = stored_run(out_dir / f"{slug}.ipynb") if step.action == "execute" else stored.get(step.stem)
        if run is not None and run.profile == profile:
            runs.append(ChapterRun(step.stem, slug, statuses.get(step.stem, "not built"), run.executed_at, run.seconds))
    return runs


def _execute_in_kernel(steps: list[ChapterPlan], profile: str, root: Path, out_dir: Path) -> int:
    """Execute the planned chapters in a clean, temporary IPython profile (see `_execute`)."""
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
        return _execute(steps, profile, root, out_dir, kernel_env)


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


def _papermill(src: Path, dest: Path, profile: str, root: Path) -> None:
    """Execute one notebook with papermill, injecting only the profile's name (tests replace this)."""
    import papermill as pm

    pm.execute_notebook(str(src), str(dest), parameters={"profile": profile}, kernel_name="python3",
                        language="python", cwd=str(root / "notebooks"), progress_bar=False)


def _execute(steps: list[ChapterPlan], profile: str, root: Path, out_dir: Path, kernel_env: dict[str, str]) -> int:
    """Execute each planned chapter in turn; write it (tidied, stamped with its key) only when it ran."""
    timings: dict[str, float] = {}
    total = time.perf_counter()
    for i, step in enumerate(steps, 1):
        stem, slug = step.stem, chapter_slug(step.stem)
        src, tmp = root / "notebooks" / f"{stem}.ipynb", out_dir / f".{slug}.running.ipynb"
        _log.info(f"[{i}/{len(steps)}] {stem} (profile {profile}) ...")
        _mark_stale(out_dir / f"{slug}.ipynb")
        start = time.perf_counter()
        missing = DATA_CHAPTERS[stem][0](root) if stem in DATA_CHAPTERS else ""
        try:
            if missing:
                _log.warning(f"{stem}: {missing} not found; its page says how to get them")
                _write_placeholder(src, tmp, DATA_CHAPTERS[stem][1])
            else:
                with _environment(kernel_env):  # the kernel inherits it; the runner's own log stays on
                    _papermill(src, tmp, profile, root)
        except Exception as exc:  # papermill raises PapermillExecutionError with the cell's traceback
            failed = out_dir / f"{slug}.failed.ipynb"
            if tmp.exists():
                os.replace(tmp, failed)
            _log.error(f"notebook {src.relative_to(root)} failed after {time.perf_counter() - start:.0f} s; "
                       f"partial output in {failed.relative_to(root)}\n{exc}")
            return 1
        timings[stem] = round(time.perf_counter() - start, 1)
        executed_at = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        _tidy_executed(tmp, stem, {"input_key": "data missing" if missing else step.key, "profile": profile,
                                   "executed_at": executed_at,
                                   "seconds": timings[stem], "icu_dir": os.environ.get("EHRLIB_ICU_DIR", "")})
        _copy_sources(root, stem)
        os.replace(tmp, out_dir / f"{slug}.ipynb")
        (out_dir / f"{slug}.failed.ipynb").unlink(missing_ok=True)
        _log.info(f"[{i}/{len(steps)}] {stem} done in {timings[stem]:.0f} s")
    timings["total"] = round(time.perf_counter() - total, 1)
    update_json(root / "data" / "results" / profile / "notebook_timings.json", timings)
    _log.info(f"executed {len(steps)} notebooks in {timings['total']:.0f} s")
    return 0


def _write_placeholder(src: Path, dest: Path, text: str) -> None:
    """Write the page of a chapter whose data the build lacks: its title cell, then `text` in a note."""
    nb = nbformat.read(src, as_version=4)
    title = next(c for c in nb.cells if c.cell_type == "markdown")
    note = nbformat.v4.new_markdown_cell(f"```{{note}}\n{text}\n```")
    nb.cells = [nbformat.v4.new_markdown_cell(title.source.split("\n")[0]), note]
    nbformat.write(nb, dest)


def _mark_stale(path: Path) -> None:
    """Take the input key out of a chapter's stored execution before the chapter runs again: the run
    rewrites its results, so if it fails or is killed the old copy (kept for the page) must never be reused."""
    if stored_run(path) is None:
        return
    nb = nbformat.read(path, as_version=4)
    nb.metadata["ehrlib"]["input_key"] = "stale"
    atomic_write_text(path, nbformat.writes(nb))


def _tidy_executed(path: Path, stem: str, stamp: dict[str, Any]) -> None:
    """Prepare an executed notebook for the page: hide the default `parameters` cell (the page shows
    papermill's injected one), drop standard-error output (log lines, warnings), merge consecutive
    stdout outputs so that lines printed one by one read as one block, put a download line for the
    paired sources under the title, and record `stamp` (its input key, profile, time) in
    `metadata.ehrlib`."""
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
    _insert_download_cell(nb, stem)
    nb.metadata["ehrlib"] = stamp
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
