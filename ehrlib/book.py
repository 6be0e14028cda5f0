"""Book plumbing: the chapter list from `_toc.yml`, and papermill execution in that order.

`make book` calls `run_notebooks(profile)`, which executes `notebooks/<stem>.ipynb` for every
chapter `book/_executed/<stem>` in the table of contents, injecting only the profile's name, and
writes the executed copy there for Jupyter Book to render (execution is off in `_config.yml`).
Each executed notebook is written to a temporary name and renamed only when it ran without error.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Iterator

import yaml

from ehrlib.io import update_json
from ehrlib.profiles import get_profile, project_root

EXECUTED_DIR = Path("book") / "_executed"
# Chapters that explain the synthetic ICU generator and need its hidden state (latent.csv, metadata.json).
SYNTHETIC_ICU_ONLY = ("01_generating_icu_data", "02_exploring_missingness")


def chapter_stems(root: Path | None = None) -> list[str]:
    """Notebook stems of the executed chapters listed in `_toc.yml`, in reading order."""
    root = root or project_root()
    toc = yaml.safe_load((root / "_toc.yml").read_text(encoding="utf-8"))
    files: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("file"), str):
                files.append(node["file"])
            for value in node.values():
                if isinstance(value, (list, dict)):
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(toc)
    prefix = EXECUTED_DIR.as_posix() + "/"
    return [f[len(prefix):] for f in files if f.startswith(prefix)]


def run_notebooks(profile: str, only: list[str] | None = None, root: Path | None = None) -> int:
    """Execute the book's notebooks with papermill for `profile`; return a process exit code.

    Prints each notebook's duration as it finishes and records them in
    `data/results/<profile>/notebook_timings.json`. Stops at the first failing notebook with a
    message naming it and the error; the failing notebook's partial output is kept beside the
    others as `<stem>.failed.ipynb` for inspection.
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
        kernel_env = {"TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONWARNINGS": "ignore::DeprecationWarning",
                      "EHRLIB_ROOT": str(root), "EHRLIB_BOOK": "1",  # EHRLIB_BOOK: see ehrlib.plots
                      "IPYTHONDIR": ipython_dir}
        with _environment(kernel_env):  # kernels inherit the environment; restored afterwards
            return _execute(stems, profile, root, out_dir)


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


def _execute(stems: list[str], profile: str, root: Path, out_dir: Path) -> int:
    import papermill as pm

    timings: dict[str, float] = {}
    total = time.perf_counter()
    for i, stem in enumerate(stems, 1):
        src = root / "notebooks" / f"{stem}.ipynb"
        if not src.exists():
            raise FileNotFoundError(f"{src}: listed in _toc.yml but missing (run jupytext --sync)")
        tmp = out_dir / f".{stem}.running.ipynb"
        print(f"[{i}/{len(stems)}] {stem} (profile {profile}) ...", flush=True)
        start = time.perf_counter()
        try:
            pm.execute_notebook(str(src), str(tmp), parameters={"profile": profile}, kernel_name="python3",
                                language="python", cwd=str(root / "notebooks"), progress_bar=False)
        except Exception as exc:  # papermill raises PapermillExecutionError with the cell's traceback
            failed = out_dir / f"{stem}.failed.ipynb"
            if tmp.exists():
                os.replace(tmp, failed)
            print(f"ehrlib: notebook {src.relative_to(root)} failed after {time.perf_counter() - start:.0f} s; "
                  f"partial output in {failed.relative_to(root)}\n{exc}", file=sys.stderr, flush=True)
            return 1
        _tidy_executed(tmp)
        os.replace(tmp, out_dir / f"{stem}.ipynb")
        (out_dir / f"{stem}.failed.ipynb").unlink(missing_ok=True)
        timings[stem] = round(time.perf_counter() - start, 1)
        print(f"[{i}/{len(stems)}] {stem} done in {timings[stem]:.0f} s", flush=True)
    timings["total"] = round(time.perf_counter() - total, 1)
    update_json(root / "data" / "results" / profile / "notebook_timings.json", timings)
    print(f"ehrlib: executed {len(stems)} notebooks in {timings['total']:.0f} s", flush=True)
    return 0


def _tidy_executed(path: Path) -> None:
    """Prepare an executed notebook for the page: hide the default `parameters` cell (the page shows
    papermill's injected one) and merge consecutive stream outputs, so that progress lines printed
    one by one read as one block instead of a stack of boxes."""
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
            if (out.output_type == "stream" and prev is not None and prev.output_type == "stream"
                    and prev.name == out.name):
                prev.text += out.text
            else:
                merged.append(out)
        cell.outputs = merged
    nbformat.write(nb, path)


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
