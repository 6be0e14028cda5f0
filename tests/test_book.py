"""The book runner: chapter order from _toc.yml, papermill execution, failures reported clearly."""

from __future__ import annotations

import json
from pathlib import Path

import jupytext
import nbformat
import pytest

from ehrlib.book import chapter_stems, run_notebooks

TOC = """format: jb-book
root: book/intro
parts:
  - caption: A
    chapters:
      - file: book/_executed/01_ok
      - file: book/_executed/02_fails
"""


def _notebook(text: str, path: Path) -> None:
    nbformat.write(jupytext.reads(text, fmt="py:percent"), path)


@pytest.fixture()
def book_root(tmp_path: Path) -> Path:
    (tmp_path / "_toc.yml").write_text(TOC)
    (tmp_path / "notebooks").mkdir()
    _notebook('# %% [markdown]\n# # OK\n\n# %% tags=["parameters"]\nprofile = "quick"\n\n'
              '# %%\nimport os, time\nprint("profile is", profile, os.environ["EHRLIB_BOOK"], flush=True)\n'
              'time.sleep(0.3)\nprint("second line", flush=True)\n',
              tmp_path / "notebooks" / "01_ok.ipynb")
    _notebook('# %% [markdown]\n# # Fails\n\n# %% tags=["parameters"]\nprofile = "quick"\n\n'
              '# %%\nraise RuntimeError("deliberate failure in " + profile)\n',
              tmp_path / "notebooks" / "02_fails.ipynb")
    return tmp_path


def test_chapter_stems_follow_the_toc(book_root: Path) -> None:
    assert chapter_stems(book_root) == ["01_ok", "02_fails"]


@pytest.mark.slow
def test_run_notebooks_injects_profile_and_stops_on_failure(book_root: Path, capsys) -> None:
    assert run_notebooks("full", only=["01_ok"], root=book_root) == 0
    done = nbformat.read(book_root / "book/_executed/01_ok.ipynb", as_version=4)
    streams = [o for c in done.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "stream"]
    assert len(streams) == 1, "consecutive prints must be merged into one output"
    assert streams[0].text == "profile is full 1\nsecond line\n"
    params = [c for c in done.cells if "parameters" in c.metadata.get("tags", [])]
    assert params and "remove-cell" in params[0].metadata["tags"]
    timings = json.loads((book_root / "data/results/full/notebook_timings.json").read_text())
    assert timings["01_ok"] > 0

    assert run_notebooks("quick", root=book_root) == 1
    err = capsys.readouterr().err
    assert "notebooks/02_fails.ipynb failed" in err and "deliberate failure in quick" in err
    assert (book_root / "book/_executed/02_fails.failed.ipynb").exists()
    assert not (book_root / "book/_executed/02_fails.ipynb").exists()


def test_unknown_profile_or_chapter_is_rejected(book_root: Path) -> None:
    with pytest.raises(ValueError, match="unknown profile"):
        run_notebooks("nope", root=book_root)
    with pytest.raises(ValueError, match="not chapters"):
        run_notebooks("quick", only=["99_x"], root=book_root)


def test_synthetic_only_chapters_refuse_external_icu_data(monkeypatch, tmp_path: Path) -> None:
    (tmp_path / "_toc.yml").write_text(TOC.replace("01_ok", "01_generating_icu_data"))
    monkeypatch.setenv("EHRLIB_ICU_DIR", str(tmp_path))
    with pytest.raises(ValueError, match="01_generating_icu_data"):
        run_notebooks("quick", root=tmp_path)
