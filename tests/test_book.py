"""The book runner: chapter order from _toc.yml, papermill execution, failures reported clearly."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import jupytext
import nbformat
import pytest

from ehrlib import book, cli
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

    # A prose-only edit: no kernel starts, the real papermill output takes the new Markdown.
    src = nbformat.read(book_root / "notebooks/01_ok.ipynb", as_version=4)
    src.cells[0].source = "# OK, reworded"
    nbformat.write(src, book_root / "notebooks/01_ok.ipynb")
    assert run_notebooks("full", only=["01_ok"], root=book_root) == 0
    assert "reusing its execution" in capsys.readouterr().err
    again = nbformat.read(book_root / "book/chapters/01-ok.ipynb", as_version=4)
    nbformat.validate(again)
    assert again.cells[0].source == "# OK, reworded" and again.metadata["ehrlib"] == done.metadata["ehrlib"]
    assert [c.outputs for c in again.cells if c.cell_type == "code"] == [c.outputs for c in done.cells
                                                                        if c.cell_type == "code"]
    assert "reused, new prose merged in" in (book_root / "book/reproducibility.md").read_text()

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


# ---------------------------------------------------------------- rebuilding only what changed

THREE = "format: jb-book\nroot: intro\nchapters:\n  - file: chapters/01-a\n  - file: chapters/02-b\n  - file: chapters/03-c\n"


def _chapter(title: str, code: str) -> str:
    return (f'# %% [markdown]\n# # {title}\n#\n# Some prose.\n\n# %% tags=["parameters"]\nprofile = "quick"\n\n'
            f'# %%\n{code}\n\n# %% [markdown]\n# Closing prose.\n')


@pytest.fixture()
def three_root(tmp_path: Path, monkeypatch) -> tuple[Path, list[str]]:
    """A book of three chapters and a stand-in for papermill that records which notebooks it executed
    (it injects the parameters cell and gives every code cell an output, as papermill would)."""
    (tmp_path / "_toc.yml").write_text(THREE)
    (tmp_path / "notebooks").mkdir()
    for stem in ("01_a", "02_b", "03_c"):
        _notebook(_chapter(stem, f'x = "{stem}"'), tmp_path / "notebooks" / f"{stem}.ipynb")
    calls: list[str] = []

    def fake_papermill(src: Path, dest: Path, profile: str, root: Path) -> None:
        nb = nbformat.read(src, as_version=4)
        at = next(i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", [])) + 1
        nb.cells.insert(at, nbformat.v4.new_code_cell(f'profile = "{profile}"',
                                                      metadata={"tags": ["injected-parameters"]}))
        for cell in nb.cells:
            if cell.cell_type == "code":
                cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=f"ran {src.stem}\n")]
        nbformat.write(nb, dest)
        calls.append(src.stem)

    monkeypatch.setattr(book, "_papermill", fake_papermill)
    monkeypatch.delenv("EHRLIB_ICU_DIR", raising=False)
    monkeypatch.delenv("EHRLIB_PHYSIONET2012", raising=False)
    return tmp_path, calls


def _run(root: Path, calls: list[str], profile: str = "quick", **kwargs) -> list[str]:
    """Run the book and return the chapters executed by that run."""
    calls.clear()
    assert run_notebooks(profile, root=root, **kwargs) == 0
    return list(calls)


def _edit(root: Path, stem: str, old: str, new: str) -> None:
    path = root / "notebooks" / f"{stem}.ipynb"
    nb = nbformat.read(path, as_version=4)
    changed = [c for c in nb.cells if old in c.source]
    assert changed, f"{old!r} not in {stem}"
    for cell in changed:
        cell.source = cell.source.replace(old, new)
    nbformat.write(nb, path)


def test_second_build_reuses_every_chapter_and_the_page_says_so(three_root) -> None:
    root, calls = three_root
    assert _run(root, calls) == ["01_a", "02_b", "03_c"]
    first = (root / "book/chapters/02-b.ipynb").read_bytes()
    meta = nbformat.read(root / "book/chapters/02-b.ipynb", as_version=4).metadata["ehrlib"]
    assert meta["profile"] == "quick" and len(meta["input_key"]) == 64 and meta["executed_at"].endswith("UTC")
    assert "executed in this build" in (root / "book/reproducibility.md").read_text()
    assert _run(root, calls) == []
    assert (root / "book/chapters/02-b.ipynb").read_bytes() == first, "an unchanged chapter is left as it was"
    page = (root / "book/reproducibility.md").read_text()
    assert page.count("reused (inputs unchanged)") == 3 and "executed in this build" not in page
    assert meta["executed_at"] in page


def test_prose_edit_is_merged_into_the_reused_execution(three_root) -> None:
    root, calls = three_root
    _run(root, calls)
    _edit(root, "02_b", "Some prose.", "Some better prose.")
    assert _run(root, calls) == []
    nb = nbformat.read(root / "book/chapters/02-b.ipynb", as_version=4)
    assert any("Some better prose." in c.source for c in nb.cells if c.cell_type == "markdown")
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert [c.source for c in code] == ['profile = "quick"', 'profile = "quick"', 'x = "02_b"']
    assert "injected-parameters" in code[1].metadata["tags"] and "remove-cell" in code[0].metadata["tags"]
    assert all(c.outputs[0].text == "ran 02_b\n" for c in code), "the outputs are kept"
    assert "download-links" in nb.cells[1].metadata["tags"] and sum("download-links" in c.metadata.get("tags", [])
                                                                   for c in nb.cells) == 1
    page = (root / "book/reproducibility.md").read_text()
    assert page.count("reused, new prose merged in") == 1 and page.count("reused (inputs unchanged)") == 2
    # Moving a Markdown cell between code cells, or retagging it, is a prose edit too.
    path = root / "notebooks/03_c.ipynb"
    src = nbformat.read(path, as_version=4)
    src.cells.insert(1, src.cells.pop())
    nbformat.write(src, path)
    assert _run(root, calls) == []
    moved = nbformat.read(root / "book/chapters/03-c.ipynb", as_version=4)
    assert [c.cell_type for c in moved.cells][:4] == ["markdown", "markdown", "markdown", "code"]
    src.cells[1].metadata["tags"] = ["remove-cell"]
    nbformat.write(src, path)
    assert _run(root, calls) == []
    assert nbformat.read(root / "book/chapters/03-c.ipynb", as_version=4).cells[2].metadata["tags"] == ["remove-cell"]


def test_code_edit_executes_the_chapter_and_every_later_one(three_root) -> None:
    root, calls = three_root
    _run(root, calls)
    _edit(root, "02_b", 'x = "02_b"', 'x = "02_b, edited"')
    assert _run(root, calls) == ["02_b", "03_c"]
    _edit(root, "01_a", 'x = "01_a"', 'x = "01_a"  # a comment is code too')
    assert _run(root, calls) == ["01_a", "02_b", "03_c"]
    page = (root / "book/reproducibility.md").read_text()
    assert page.count("executed in this build") == 3


def test_tag_edit_executes_again(three_root) -> None:
    root, calls = three_root
    _run(root, calls)
    path = root / "notebooks/03_c.ipynb"
    nb = nbformat.read(path, as_version=4)
    nb.cells[-2].metadata["tags"] = ["remove-input"]
    nbformat.write(nb, path)
    assert _run(root, calls) == ["03_c"]


def test_ehrlib_change_profile_change_or_force_executes_all(three_root, monkeypatch) -> None:
    root, calls = three_root
    _run(root, calls)
    assert _run(root, calls, profile="full") == ["01_a", "02_b", "03_c"], "another profile's copy is never taken"
    assert _run(root, calls, profile="quick") == ["01_a", "02_b", "03_c"]
    assert _run(root, calls, force=True) == ["01_a", "02_b", "03_c"]
    assert _run(root, calls, force=True, only=["02_b"]) == ["02_b"]
    assert _run(root, calls) == []
    monkeypatch.setattr(book, "package_digest", lambda folder=None: "0" * 64)
    assert _run(root, calls) == ["01_a", "02_b", "03_c"]


def test_data_and_icu_override_change_the_keys(three_root, monkeypatch, tmp_path_factory) -> None:
    root, calls = three_root
    _run(root, calls)
    icu = root / "data" / "quick" / "icu"
    icu.mkdir(parents=True)
    (icu / "metadata.json").write_text('{"seed": 0}')
    assert _run(root, calls) == ["01_a", "02_b", "03_c"], "generated data appeared"
    (icu / ".cache").write_text("a reader's cache")
    assert _run(root, calls) == []
    external = tmp_path_factory.mktemp("external")
    monkeypatch.setenv("EHRLIB_ICU_DIR", str(external))
    assert _run(root, calls, only=["02_b", "03_c"]) == ["02_b", "03_c"]
    assert nbformat.read(root / "book/chapters/03-c.ipynb", as_version=4).metadata["ehrlib"]["icu_dir"] == str(external)
    monkeypatch.delenv("EHRLIB_ICU_DIR")
    assert _run(root, calls) == ["02_b", "03_c"], "a copy made on other ICU data is never taken"


def test_only_keeps_working_and_chains_on_the_stored_copies(three_root) -> None:
    root, calls = three_root
    assert _run(root, calls, only=["02_b"]) == ["02_b"]
    assert not (root / "book/chapters/01-a.ipynb").exists()
    # 02_b ran with no executed 01_a before it: once 01_a is executed, 02_b and 03_c follow.
    assert _run(root, calls) == ["01_a", "02_b", "03_c"]
    _edit(root, "01_a", 'x = "01_a"', 'x = 1')
    assert _run(root, calls, only=["03_c"]) == [], "03_c's inputs include 02_b's stored execution, unchanged"
    assert _run(root, calls, only=["01_a", "03_c"]) == ["01_a", "03_c"]
    assert _run(root, calls) == ["02_b", "03_c"], "02_b is stale and 03_c ran after its old copy"


def test_a_failed_run_leaves_the_old_copy_unkeyed(three_root, monkeypatch) -> None:
    root, calls = three_root
    _run(root, calls)
    _edit(root, "02_b", 'x = "02_b"', 'x = 1 / 0')
    stand_in = book._papermill

    def failing(src: Path, dest: Path, profile: str, root: Path) -> None:
        raise RuntimeError(f"{src.stem} failed")

    monkeypatch.setattr(book, "_papermill", failing)
    assert run_notebooks("quick", root=root) == 1
    old = nbformat.read(root / "book/chapters/02-b.ipynb", as_version=4)
    assert old.metadata["ehrlib"]["input_key"] == "stale", "the old copy stays for the page, never reused"
    monkeypatch.setattr(book, "_papermill", stand_in)
    _edit(root, "02_b", 'x = 1 / 0', 'x = "02_b"')  # reverted: same key as the old copy, which is stale now
    assert _run(root, calls) == ["02_b"], "03_c ran after an execution of 02_b with these inputs: reused"


def test_a_stored_copy_without_a_key_or_unreadable_is_executed_again(three_root) -> None:
    root, calls = three_root
    _run(root, calls)
    path = root / "book/chapters/01-a.ipynb"
    nb = nbformat.read(path, as_version=4)
    del nb.metadata["ehrlib"]
    nbformat.write(nb, path)
    (root / "book/chapters/03-c.ipynb").write_text("{ not json")
    # 01_a's inputs did not change (its re-execution gives the same results), so 02_b stays reused.
    assert _run(root, calls) == ["01_a", "03_c"]
    assert book.stored_run(path) is not None and book.stored_run(root / "book/chapters/missing.ipynb") is None


# ---------------------------------------------------------------- the pure pieces


def _source(markdown: str, code: str) -> nbformat.NotebookNode:
    return nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell(f"# Title\n{markdown}"),
        nbformat.v4.new_code_cell('profile = "quick"', metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell(code), nbformat.v4.new_markdown_cell("The end.")])


def test_input_key_follows_code_cells_tags_inputs_and_the_previous_key() -> None:
    inputs = book.BuildInputs("quick", "p" * 64, {"EHRLIB_ICU_DIR": ""}, {"icu": "absent"})
    base = book.input_key(inputs, book.code_cells(_source("prose", "x = 1")), "")
    assert book.input_key(inputs, book.code_cells(_source("other prose", "x = 1")), "") == base
    assert book.input_key(inputs, book.code_cells(_source("prose", "x = 2")), "") != base
    retagged = _source("prose", "x = 1")
    retagged.cells[2].metadata["tags"] = ["remove-input"]
    assert book.input_key(inputs, book.code_cells(retagged), "") != base
    assert book.input_key(inputs, book.code_cells(_source("prose", "x = 1")), "k") != base
    for changed in (book.BuildInputs("full", "p" * 64, {"EHRLIB_ICU_DIR": ""}, {"icu": "absent"}),
                    book.BuildInputs("quick", "q" * 64, {"EHRLIB_ICU_DIR": ""}, {"icu": "absent"}),
                    book.BuildInputs("quick", "p" * 64, {"EHRLIB_ICU_DIR": "/x"}, {"icu": "absent"}),
                    book.BuildInputs("quick", "p" * 64, {"EHRLIB_ICU_DIR": ""}, {"icu": "f" * 64})):
        assert book.input_key(changed, book.code_cells(_source("prose", "x = 1")), "") != base


def test_plan_build_reuses_unchanged_chapters_and_chains_keys() -> None:
    stems = ["01_a", "02_b", "03_c"]
    cells = {s: book.code_cells(_source("p", f"x = '{s}'")) for s in stems}
    inputs = book.BuildInputs("quick", "p" * 64)
    first = book.plan_build(stems, stems, cells, {}, inputs)
    assert [p.action for p in first] == ["execute"] * 3 and len({p.key for p in first}) == 3
    stored = {p.stem: book.StoredRun(p.key, "quick", "then", 1.0, tuple(c["source"] for c in cells[p.stem]))
              for p in first}
    assert [p.action for p in book.plan_build(stems, stems, cells, stored, inputs)] == ["reuse"] * 3
    assert [p.action for p in book.plan_build(stems, stems, cells, stored, inputs, force=True)] == ["execute"] * 3
    edited = {**cells, "02_b": book.code_cells(_source("p", "x = 'new'"))}
    assert [p.action for p in book.plan_build(stems, stems, edited, stored, inputs)] == ["reuse", "execute", "execute"]
    other = book.plan_build(stems, stems, cells, stored, book.BuildInputs("full", "p" * 64))
    assert [p.action for p in other] == ["execute"] * 3
    only = book.plan_build(stems, ["03_c"], edited, stored, inputs)
    assert [p.action for p in only] == ["skip", "skip", "reuse"] and only[1].key == stored["02_b"].input_key
    assert not book.reusable(dataclasses.replace(stored["01_a"], profile="full"), first[0].key, "quick", cells["01_a"])
    assert not book.reusable(dataclasses.replace(stored["01_a"], code=("x",)), first[0].key, "quick", cells["01_a"])


def test_merge_prose_keeps_outputs_and_takes_the_new_markdown() -> None:
    executed = _source("old prose", "print(1)")
    executed.cells.insert(2, nbformat.v4.new_code_cell('profile = "full"', metadata={"tags": ["injected-parameters"]}))
    executed.cells[3].outputs = [nbformat.v4.new_output("stream", name="stdout", text="1\n")]
    executed.cells.insert(1, nbformat.v4.new_markdown_cell("download", metadata={"tags": ["download-links"]}))
    executed.metadata["ehrlib"] = {"input_key": "k"}
    merged = book.merge_prose(_source("new prose", "print(1)"), executed, "01_a")
    assert merged is not None and merged.metadata["ehrlib"] == {"input_key": "k"}
    kinds = [(c.cell_type, c.metadata.get("tags", [])) for c in merged.cells]
    assert kinds == [("markdown", []), ("markdown", ["download-links"]), ("code", ["parameters"]),
                     ("code", ["injected-parameters"]), ("code", []), ("markdown", [])]
    assert merged.cells[0].source == "# Title\nnew prose" and merged.cells[4].outputs[0].text == "1\n"
    assert "src/01_a.py" in merged.cells[1].source
    assert executed.cells[0].source == "# Title\nold prose", "the stored notebook itself is not changed"
    assert book.merge_prose(_source("new prose", "print(2)"), executed, "01_a") is None


def test_data_fingerprint_reads_descriptions_sizes_and_the_recipe(tmp_path: Path) -> None:
    icu = tmp_path / "icu"
    (icu / "train").mkdir(parents=True)
    (icu / "metadata.json").write_text('{"seed": 0}')
    (icu / "train_listfile.csv").write_text("stay,y\n1,0\n")
    (icu / "train" / "1.csv").write_text("abc")
    assert book.data_fingerprint(tmp_path / "nothing") == "absent"
    first = book.data_fingerprint(icu)
    (icu / ".cache").mkdir()
    (icu / ".cache" / "x.npz").write_text("hidden")
    assert book.data_fingerprint(icu) == first
    (icu / "train" / "1.csv").write_text("xyz")
    assert book.data_fingerprint(icu) == first, "same size: data files are not read"
    for change in (lambda: (icu / "train" / "1.csv").write_text("longer"),
                   lambda: (icu / "metadata.json").write_text('{"seed": 1}'),
                   lambda: (icu / "train_listfile.csv").write_text("stay,y\n1,1\n"),
                   lambda: (tmp_path / ".icu.recipe.json").write_text("{}")):
        before = book.data_fingerprint(icu)
        change()
        assert book.data_fingerprint(icu) != before


def test_package_digest_follows_python_sources_only(tmp_path: Path) -> None:
    (tmp_path / "sub" / "__pycache__").mkdir(parents=True)
    (tmp_path / "sub" / "m.py").write_text("x = 1\n")
    first = book.package_digest(tmp_path)
    (tmp_path / "notes.txt").write_text("ignored")
    (tmp_path / "sub" / "__pycache__" / "m.py").write_text("ignored")
    assert book.package_digest(tmp_path) == first
    (tmp_path / "sub" / "m.py").write_text("x = 2\n")
    assert book.package_digest(tmp_path) != first
    assert len(book.package_digest()) == 64


def test_collect_inputs_reads_the_environment_overrides(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("EHRLIB_ICU_DIR", raising=False)
    monkeypatch.delenv("EHRLIB_PHYSIONET2012", raising=False)
    plain = book.collect_inputs("quick", tmp_path)
    assert plain.environment == {"EHRLIB_ICU_DIR": "", "EHRLIB_PHYSIONET2012": ""} and plain.data["icu"] == "absent"
    (tmp_path / "real").mkdir()
    (tmp_path / "real" / "test_listfile.csv").write_text("stay,y\n")
    (tmp_path / "pn").mkdir()
    (tmp_path / "pn" / "SHA256SUMS.txt").write_text("abc  set-a.tar.gz\n")
    monkeypatch.setenv("EHRLIB_ICU_DIR", str(tmp_path / "real"))
    monkeypatch.setenv("EHRLIB_PHYSIONET2012", str(tmp_path / "pn"))
    other = book.collect_inputs("quick", tmp_path)
    assert other.environment["EHRLIB_ICU_DIR"] == str((tmp_path / "real").resolve())
    assert other.data["icu"] == book.data_fingerprint(tmp_path / "real") != "absent"
    assert other.data["physionet2012"] == book.data_fingerprint(tmp_path / "pn")


def test_cli_passes_force_and_only(monkeypatch) -> None:
    seen: list[tuple] = []
    monkeypatch.setattr(book, "run_notebooks",
                        lambda profile, only=None, force=False: seen.append((profile, only, force)) or 0)
    assert cli.main(["run-notebooks", "--profile", "full", "--force", "--only", "02_b"]) == 0
    assert cli.main(["run-notebooks"]) == 0
    assert seen == [("full", ["02_b"], True), ("quick", None, False)]


def test_a_chapter_whose_data_are_missing_gets_a_how_to_page_and_runs_when_they_come(three_root, monkeypatch) -> None:
    root, calls = three_root
    present = {"yes": False}
    monkeypatch.setitem(book.DATA_CHAPTERS, "02_b", (lambda r: "" if present["yes"] else "the files", "Get the files."))
    assert _run(root, calls) == ["01_a", "03_c"]  # 02_b not executed
    nb = nbformat.read(root / "book/chapters/02-b.ipynb", as_version=4)
    assert nb.cells[0].source == "# 02_b" and any("Get the files." in c.source for c in nb.cells)
    assert not any(c.cell_type == "code" and c.source.startswith("x =") for c in nb.cells)
    assert nb.metadata["ehrlib"]["input_key"] == "data missing", "a how-to page is never reused"
    assert _run(root, calls) == []  # still missing: the page again, nothing executed
    present["yes"] = True
    assert _run(root, calls) == ["02_b"]  # (real data arriving also changes every key: data fingerprint)
    nb = nbformat.read(root / "book/chapters/02-b.ipynb", as_version=4)
    assert any(c.cell_type == "code" and c.source == 'x = "02_b"' for c in nb.cells)
