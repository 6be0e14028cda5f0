"""The package's folders show its data flow: imports run only downwards (read with `ast`, not run)."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "ehrlib"
# What each part may import from the rest of ehrlib. Shared plumbing sits at the bottom; each study's
# data and the evaluation core above it; the mortality models on top; the command line and book runner
# (cli, book, reproducibility, browsercheck, sphinxext, __main__) may import anything.
ALLOWED = {
    "io": {"logs"},
    "logs": set(),
    "profiles": {"icu"},  # icu.defaults only: the full profile's sizes are the generator's defaults
    "evaluation": {"io", "logs"},
    "icu": {"io", "logs", "profiles"},
    "physionet2012": {"io", "logs", "profiles", "icu"},  # real ICU data, beside icu
    "batches": set(),
    "stroke": {"io", "logs", "profiles", "evaluation", "plots", "batches"},
    "plots": {"evaluation", "io", "logs"},
    "mortality": {"io", "logs", "profiles", "evaluation", "icu", "plots", "batches"},
}


def _part(path: Path) -> str:
    rel = path.relative_to(PACKAGE)
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


def _imports(path: Path) -> set[str]:
    """The ehrlib parts a module imports at run time (imports under `if TYPE_CHECKING:` excluded)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If)
            and "TYPE_CHECKING" in ast.unparse(node.test) for n in ast.walk(node)}
    names = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("ehrlib."):
            names.add(node.module.split(".")[1])
        elif isinstance(node, ast.ImportFrom) and node.module == "ehrlib":
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.Import):
            names.update(a.name.split(".")[1] for a in node.names if a.name.startswith("ehrlib."))
    return names


MODULES = sorted(p for p in PACKAGE.rglob("*.py") if _part(p) in ALLOWED)


@pytest.mark.parametrize("path", MODULES, ids=[str(p.relative_to(PACKAGE)) for p in MODULES])
def test_imports_run_downwards(path):
    part = _part(path)
    upward = _imports(path) - ALLOWED[part] - {part}
    assert not upward, f"{path.relative_to(PACKAGE)} ({part}) imports {sorted(upward)}, above it"


def test_the_check_sees_an_upward_import(tmp_path):
    bad = tmp_path / "m.py"
    bad.write_text("from ehrlib.mortality.lstm import build_lstm\nif TYPE_CHECKING:\n    from ehrlib.icu import x\n")
    assert _imports(bad) == {"mortality"}

