"""Project-level checks: pins agree, notebooks are paired and parameterised, the TOC is complete."""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from pathlib import Path

import jupytext
import pytest
import yaml

from ehrlib.book import chapter_stems, pinned_requirements, render_environment_yml, toc_files
from ehrlib.profiles import PROFILES, get_profile

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.py"))


def test_environment_yml_has_the_same_pins_as_requirements() -> None:
    req = pinned_requirements(ROOT / "requirements.txt")
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    env_pins = dict(line.split("==", 1) for line in pip_section if "==" in line)
    assert env_pins == req, "environment.yml and requirements.txt disagree; run `make environment.yml`"
    assert (ROOT / "environment.yml").read_text() == render_environment_yml(ROOT / "requirements.txt")


def test_top_level_requirements_are_pinned_at_the_same_versions() -> None:
    pins = pinned_requirements(ROOT / "requirements.txt")
    for raw in (ROOT / "requirements.in").read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if "==" in line:
            name, version = line.split("==")
            assert pins[name.lower()] == version, f"{name} pinned differently in requirements.txt"


def test_unpinned_requirement_is_rejected(tmp_path: Path) -> None:
    bad = tmp_path / "req.txt"
    bad.write_text("numpy==2.0\npandas>=2\n")
    with pytest.raises(ValueError, match=r"req.txt:2"):
        pinned_requirements(bad)


@pytest.mark.parametrize("py", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_pair_in_sync_and_without_outputs(py: Path) -> None:
    ipynb = py.with_suffix(".ipynb")
    assert ipynb.exists(), f"{py.name} has no paired .ipynb (run `make sync`)"
    from_py = jupytext.read(py)
    raw = json.loads(ipynb.read_text())
    committed = jupytext.reads(ipynb.read_text(), fmt="ipynb")

    def cells(nb):  # what a reader sees: type, source and tags
        return [(c.cell_type, c.source.strip(), sorted(c.metadata.get("tags", []))) for c in nb.cells]

    assert cells(from_py) == cells(committed), f"{py.name} and {ipynb.name} differ (run `make sync`)"
    for cell in raw["cells"]:
        if cell["cell_type"] == "code":
            assert not cell.get("outputs") and cell.get("execution_count") is None, f"{ipynb.name} has outputs"


@pytest.mark.parametrize("py", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_has_a_profile_parameters_cell(py: Path) -> None:
    nb = jupytext.read(py)
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, f"{py.name}: expected exactly one cell tagged 'parameters'"
    tree = ast.parse(tagged[0].source)
    names = [t.id for node in tree.body if isinstance(node, ast.Assign) for t in node.targets]
    assert names == ["profile"], f"{py.name}: the parameters cell must assign only `profile`"
    default = ast.literal_eval(tree.body[0].value)
    assert default in PROFILES
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# "), f"{py.name}: no title"


def test_toc_lists_exactly_the_notebooks() -> None:
    stems = chapter_stems(ROOT)
    assert stems == sorted(stems), "chapters must run in numbered order"
    missing = sorted({p.stem for p in NOTEBOOKS} - set(stems))
    assert not missing, f"notebooks without a _toc.yml line (add 'chapters/<nn>-<name>'): {missing}"
    assert set(stems) == {p.stem for p in NOTEBOOKS}, "_toc.yml lists chapters that have no notebook"


def test_every_other_toc_page_exists_in_book() -> None:
    pages = [f for f in toc_files(ROOT) if not f.startswith("chapters/") and f != "reproducibility"]
    missing = [f for f in pages if not any((ROOT / "book" / f).with_suffix(s).exists() for s in (".md", ".ipynb"))]
    assert not missing, f"_toc.yml pages missing from book/: {missing}"
    assert "reproducibility" in toc_files(ROOT), "the generated reproducibility page must be in the book"


def test_profiles_are_consistent() -> None:
    for p in PROFILES.values():
        assert sum(p.icu_split) == p.icu_episodes
        assert 0 < p.icu_mortality < 1
        assert p.results_dir.parts[-2:] == ("results", p.name)
    assert get_profile("full").icu_split == (16_972, 3_740, 3_615)
    with pytest.raises(ValueError, match="unknown profile"):
        get_profile("huge")


def test_cli_help_answers_without_heavy_imports() -> None:
    code = "import sys; from ehrlib.cli import main\ntry: main(['--help'])\nexcept SystemExit: pass\n" \
           "assert 'tensorflow' not in sys.modules and 'pandas' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, cwd=ROOT)


def test_gitignore_keeps_generated_things_out() -> None:
    generated = ["data/quick/icu/x.csv", "book/chapters/01-a.ipynb", "book/chapters/src/01_a.py",
                 "book/reproducibility.md", "_build/x", ".venv/bin/python", "model.pkl"]
    out = subprocess.run(["git", "check-ignore", *generated], cwd=ROOT, capture_output=True, text=True)
    assert out.stdout.split() == generated, out.stdout


def test_icu_dir_can_point_at_real_data(monkeypatch, tmp_path: Path) -> None:
    assert get_profile("quick").icu_dir.parts[-2:] == ("quick", "icu")
    monkeypatch.setenv("EHRLIB_ICU_DIR", str(tmp_path))
    assert get_profile("quick").icu_dir == tmp_path.resolve()


def test_data_command_regenerates_only_stale_datasets(monkeypatch, tmp_path: Path, capsys) -> None:
    import ehrlib.icu.writer
    import ehrlib.stroke.synth
    from ehrlib import cli

    calls: list[tuple[str, bool]] = []

    def fake(kind):
        def generate(out, overwrite=False, progress=True, **params):
            out.mkdir(parents=True, exist_ok=overwrite)
            calls.append((kind, overwrite))
        return generate

    monkeypatch.delenv("EHRLIB_ICU_DIR", raising=False)
    monkeypatch.setenv("EHRLIB_ROOT", str(tmp_path))
    monkeypatch.setattr(ehrlib.icu.writer, "generate_icu_dataset", fake("icu"))
    monkeypatch.setattr(ehrlib.stroke.synth, "generate_stroke_dataset", fake("stroke"))
    assert cli.main(["data", "--profile", "quick"]) == 0
    assert calls == [("icu", False), ("stroke", False)]
    assert cli.main(["data", "--profile", "quick"]) == 0
    assert len(calls) == 2 and "up to date" in capsys.readouterr().err
    # A dataset made by other parameters (or older generator code) is regenerated, not reused.
    recipe = tmp_path / "data" / "quick" / ".icu.recipe.json"
    recipe.write_text(recipe.read_text().replace('"seed": 0', '"seed": 1'))
    assert cli.main(["data", "--profile", "quick"]) == 0
    assert calls[2:] == [("icu", True)] and "regenerating" in capsys.readouterr().err


def test_book_loads_plotly_and_mathjax_locally() -> None:
    config = yaml.safe_load((ROOT / "_config.yml").read_text())["sphinx"]["config"]
    assert config["html_js_files"] == ["plotly.min.js"] and not config["mathjax_path"].startswith("http")
    makefile = (ROOT / "Makefile").read_text()
    for name in ("plotly.min.js", config["mathjax_path"]):
        assert f"book/_assets/{name}" in makefile, f"make html must copy {name} into book/_assets"


def test_make_test_runs_the_browser_test_and_ci_installs_chromium() -> None:
    makefile = (ROOT / "Makefile").read_text()
    test_recipe = makefile.split("\ntest: unit\n", 1)[1].split("\n\n", 1)[0]
    assert "book PROFILE=quick" in test_recipe and "browser-test" in test_recipe
    assert test_recipe.index("book PROFILE=quick") < test_recipe.index("browser-test")
    assert "-m ehrlib.browsercheck _build/html --screenshots _build/screenshots" in makefile
    ci = (ROOT / ".ci" / "run").read_text()
    assert "command -v chromium" in ci and "apt-get install -y -qq chromium chromium-driver" in ci
    assert "selenium" in pinned_requirements(ROOT / "requirements.txt")


@pytest.mark.parametrize("py", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_figure_is_numbered_captioned_and_referenced(py: Path) -> None:
    """Each `show_figure(label, ...)` has a `{glue:figure}` directive of that label with a caption, and the
    prose refers to it with `{numref}`; no figure is left as a bare output with a hand-typed number."""
    nb = jupytext.read(py)
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    prose = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    shown = re.findall(r'show_figure\(\s*"([^"]+)"', code)
    assert shown, f"{py.name} shows no figure through show_figure"
    assert not re.search(r"\.show\(\)\s*$", code, re.M), f"{py.name}: a figure is shown without a label"
    assert not re.search(r"\*\*Figure \d+\.\*\*", prose), f"{py.name}: a hand-numbered caption"
    for label in shown:
        directive = re.search(r"```\{glue:figure\} " + re.escape(label) + r"\n:name: " + re.escape(label)
                              + r"\n\n(\S.*?)\n```", prose, re.S)
        assert directive, f"{py.name}: no captioned {{glue:figure}} directive for {label}"
        assert f"{{numref}}`{label}`" in prose, f"{py.name}: {label} is never referenced with {{numref}}"


@pytest.mark.parametrize("py", NOTEBOOKS, ids=lambda p: p.stem)
def test_shown_code_fits_the_book_column(py: Path) -> None:
    """Code a reader sees (every cell but `remove-input` ones) fits the book's column of about 80
    characters, so it never scrolls sideways (the browser test checks the rendered page too)."""
    for cell in jupytext.read(py).cells:
        tags = cell.metadata.get("tags", [])
        if cell.cell_type == "code" and not {"remove-input", "remove-cell"} & set(tags):
            long = [line for line in cell.source.split("\n") if len(line) > 79]
            assert not long, f"{py.name}: code line longer than 79 characters: {long[0]!r}"


# A chapter reads like a keras-io page: its hidden cells are one or two calls (what a chapter computes lives in
# ehrlib, with tests), and it has no more code than prose. Lines are counted without blank ones.
HIDDEN_TAGS = {"remove-input", "hide-input", "remove-cell"}
MAX_HIDDEN_LINES = 15


def chapter_shape(nb) -> tuple[int, int, list[int]]:
    """Non-blank code lines, non-blank Markdown lines, and the indices of hidden cells over the limit
    (counted with their blank lines, as the source reads)."""
    code = prose = 0
    long_hidden = []
    for i, cell in enumerate(nb.cells):
        lines = sum(1 for line in cell.source.splitlines() if line.strip())
        if cell.cell_type == "markdown":
            prose += lines
            continue
        code += lines
        if HIDDEN_TAGS & set(cell.metadata.get("tags", [])) and len(cell.source.splitlines()) > MAX_HIDDEN_LINES:
            long_hidden.append(i)
    return code, prose, long_hidden


@pytest.mark.parametrize("py", NOTEBOOKS, ids=lambda p: p.stem)
def test_chapter_has_no_more_code_than_prose_and_short_hidden_cells(py: Path) -> None:
    code, prose, long_hidden = chapter_shape(jupytext.read(py))
    assert code <= prose, f"{py.name}: {code} lines of code against {prose} of prose; move the logic into ehrlib"
    assert not long_hidden, f"{py.name}: hidden cells {long_hidden} run over {MAX_HIDDEN_LINES} lines"


def test_the_shape_check_sees_a_long_hidden_cell_and_more_code_than_prose() -> None:
    nb = jupytext.reads("# %% [markdown]\n# One line of prose.\n\n# %% tags=[\"remove-input\"]\n"
                        + "\n".join(f"x{i} = {i}" for i in range(16)) + "\n", fmt="py:percent")
    code, prose, long_hidden = chapter_shape(nb)
    assert (code, prose, long_hidden) == (16, 1, [1])


@pytest.mark.parametrize("py", NOTEBOOKS, ids=lambda p: p.stem)
def test_header_run_time_is_glued_and_says_its_unit_once(py: Path) -> None:
    """Each chapter's header states the run time measured in this build (`booktext.duration` gives the unit)."""
    nb = jupytext.read(py)
    header = " ".join(line.lstrip("# ") for line in nb.cells[0].source.splitlines())
    assert re.search(r"This run took \{glue:text\}`ch\d+_minutes`\.", header, re.I), f"{py.name}: no glued run time"
    assert not re.search(r"_minutes`\s+minutes", header), f"{py.name}: the unit is said twice"
