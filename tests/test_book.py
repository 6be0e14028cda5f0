"""The book runner: chapter order from _toc.yml, papermill execution, failures reported clearly."""

from __future__ import annotations

import json
from pathlib import Path

import jupytext
import nbformat
import pytest

from ehrlib.book import chapter_slug, chapter_stem, chapter_stems, run_notebooks, toc_files

TOC = """format: jb-book
root: intro
parts:
  - caption: A
    chapters:
      - file: chapters/01-ok
      - file: chapters/02-fails
  - caption: B
    chapters:
      - file: notes
"""


def _notebook(text: str, path: Path) -> None:
    nbformat.write(jupytext.reads(text, fmt="py:percent"), path)


@pytest.fixture()
def book_root(tmp_path: Path) -> Path:
    (tmp_path / "_toc.yml").write_text(TOC)
    (tmp_path / "notebooks").mkdir()
    _notebook('# %% [markdown]\n# # OK\n\n# %% tags=["parameters"]\nprofile = "quick"\n\n'
              '# %%\nimport logging, os, sys, time\nprint("profile is", profile, os.environ["EHRLIB_BOOK"], '
              'bool(logging.getLogger().handlers), flush=True)\n'
              'time.sleep(0.3)\nprint("a log line", file=sys.stderr, flush=True)\nprint("second line", flush=True)\n',
              tmp_path / "notebooks" / "01_ok.ipynb")
    (tmp_path / "notebooks" / "01_ok.py").write_text("# the paired script\n")
    _notebook('# %% [markdown]\n# # Fails\n\n# %% tags=["parameters"]\nprofile = "quick"\n\n'
              '# %%\nraise RuntimeError("deliberate failure in " + profile)\n',
              tmp_path / "notebooks" / "02_fails.ipynb")
    return tmp_path


def test_chapter_stems_follow_the_toc(book_root: Path) -> None:
    assert chapter_stems(book_root) == ["01_ok", "02_fails"]
    assert toc_files(book_root) == ["intro", "chapters/01-ok", "chapters/02-fails", "notes"]
    assert chapter_slug("06_stroke_models") == "06-stroke-models" and chapter_stem("06-stroke-models") == "06_stroke_models"


def test_old_toc_location_is_reported(book_root: Path) -> None:
    (book_root / "_toc.yml").write_text(TOC + "      - file: book/_executed/06_stroke_models\n")
    with pytest.raises(ValueError, match="chapters/06-stroke-models"):
        chapter_stems(book_root)


@pytest.mark.slow
def test_run_notebooks_injects_profile_and_stops_on_failure(book_root: Path, capsys) -> None:
    assert run_notebooks("full", only=["01_ok"], root=book_root) == 0
    done = nbformat.read(book_root / "book/chapters/01-ok.ipynb", as_version=4)
    streams = [o for c in done.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "stream"]
    assert len(streams) == 1, "consecutive prints must be merged into one output"
    # One stdout block: the stderr line is dropped, and the root logger has a (stderr) handler, so
    # libraries such as TensorFlow do not log to stdout.
    assert streams[0].text == "profile is full 1 True\nsecond line\n"
    params = [c for c in done.cells if "parameters" in c.metadata.get("tags", [])]
    assert params and "remove-cell" in params[0].metadata["tags"]
    timings = json.loads((book_root / "data/results/full/notebook_timings.json").read_text())
    assert timings["01_ok"] > 0
    assert "download-links" in done.cells[1].metadata["tags"] and "src/01_ok.py" in done.cells[1].source
    assert (book_root / "book/chapters/src/01_ok.py").exists() and (book_root / "book/chapters/src/01_ok.ipynb").exists()
    page = (book_root / "book/reproducibility.md").read_text()
    assert "{doc}`chapters/01-ok`" in page and "| numpy |" in page and "not generated" in page
    assert "01_ok" in capsys.readouterr().err, "the runner logs its progress on stderr"

    assert run_notebooks("quick", root=book_root) == 1
    err = capsys.readouterr().err
    assert "notebooks/02_fails.ipynb failed" in err and "deliberate failure in quick" in err
    assert (book_root / "book/chapters/02-fails.failed.ipynb").exists()
    assert not (book_root / "book/chapters/02-fails.ipynb").exists()


def test_unknown_profile_or_chapter_is_rejected(book_root: Path) -> None:
    with pytest.raises(ValueError, match="unknown profile"):
        run_notebooks("nope", root=book_root)
    with pytest.raises(ValueError, match="not chapters"):
        run_notebooks("quick", only=["99_x"], root=book_root)


def test_synthetic_only_chapters_refuse_external_icu_data(monkeypatch, tmp_path: Path) -> None:
    (tmp_path / "_toc.yml").write_text(TOC.replace("01-ok", "01-generating-icu-data"))
    monkeypatch.setenv("EHRLIB_ICU_DIR", str(tmp_path))
    with pytest.raises(ValueError, match="01_generating_icu_data"):
        run_notebooks("quick", root=tmp_path)
