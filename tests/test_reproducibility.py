"""The generated reproducibility page: facts collected at build time, rendered as MyST Markdown."""

from __future__ import annotations

from pathlib import Path

from ehrlib.profiles import get_profile
from ehrlib.reproducibility import hardware, installed_packages, parquet_digest, render_page

TOC = "format: jb-book\nroot: intro\nchapters:\n  - file: chapters/01-a\n  - file: chapters/02-b\n  - file: reproducibility\n"


def test_parquet_digest_follows_names_and_bytes(tmp_path: Path) -> None:
    (tmp_path / "a.parquet").write_bytes(b"one")
    (tmp_path / "notes.txt").write_bytes(b"ignored")
    first = parquet_digest(tmp_path)
    (tmp_path / "notes.txt").write_bytes(b"changed")
    assert parquet_digest(tmp_path) == first
    (tmp_path / "a.parquet").write_bytes(b"two")
    assert parquet_digest(tmp_path) != first


def test_page_holds_profile_timings_digests_machine_and_versions(tmp_path: Path) -> None:
    (tmp_path / "_toc.yml").write_text(TOC)
    stroke = tmp_path / "data" / "quick" / "stroke"
    stroke.mkdir(parents=True)
    (stroke / "patients.parquet").write_bytes(b"x")
    machine = hardware()
    assert set(machine) >= {"CPU", "logical cores available", "memory"}
    page = render_page(get_profile("quick"), tmp_path, {"01_a": 12.3, "02_b": 125.0, "total": 137.3},
                       {"numpy": "2.4.0", "zzz": "1"}, machine, "abc123", "2026-01-01 00:00 UTC")
    assert page.startswith("<!-- Generated") and "# Reproducibility" in page
    assert "| {doc}`chapters/01-a` | 12 s |" in page and "| {doc}`chapters/02-b` | 2 min 05 s |" in page
    assert "| **all chapters** | **2 min 17 s** |" in page and "`seed` | `0`" in page and "commit `abc123`" in page
    assert f"`{parquet_digest(stroke)}`" in page and "| `data/quick/icu` | not generated |" in page
    assert "| numpy | 2.4.0 |" in page and "| zzz | 1 |" in page


def test_installed_packages_sees_this_environment() -> None:
    packages = installed_packages()
    assert "numpy" in packages and "jupyter-book" in packages
