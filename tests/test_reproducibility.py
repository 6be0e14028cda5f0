"""The generated reproducibility page: facts collected at build time, rendered as MyST Markdown."""

from __future__ import annotations

from pathlib import Path

import pytest

from ehrlib.profiles import get_profile
from ehrlib.reproducibility import ChapterRun, hardware, installed_packages, parquet_digest, profile_rows, render_page

def test_parquet_digest_follows_names_and_bytes(tmp_path: Path) -> None:
    (tmp_path / "a.parquet").write_bytes(b"one")
    (tmp_path / "notes.txt").write_bytes(b"ignored")
    first = parquet_digest(tmp_path)
    (tmp_path / "notes.txt").write_bytes(b"changed")
    assert parquet_digest(tmp_path) == first
    (tmp_path / "a.parquet").write_bytes(b"two")
    assert parquet_digest(tmp_path) != first


def test_page_holds_profile_timings_digests_machine_and_versions(tmp_path: Path) -> None:
    stroke = tmp_path / "data" / "quick" / "stroke"
    stroke.mkdir(parents=True)
    (stroke / "patients.parquet").write_bytes(b"x")
    machine = hardware()
    assert set(machine) >= {"CPU", "logical cores available", "memory"}
    chapters = [ChapterRun("01_a", "01-a", "executed", "2026-01-01 00:00 UTC", 12.3),
                ChapterRun("02_b", "02-b", "prose", "2025-12-31 23:00 UTC", 125.0),
                ChapterRun("03_c", "03-c", "reused", "2025-12-30 10:00 UTC", 1.0)]
    page = render_page(get_profile("quick"), tmp_path, chapters, {"numpy": "2.4.0", "zzz": "1"}, machine, "abc123",
                       "2026-01-01 00:00 UTC")
    assert page.startswith("<!-- Generated") and "# Reproducibility" in page
    assert "| {doc}`chapters/01-a` | executed in this build | 2026-01-01 00:00 UTC | 12 s |" in page
    assert "| {doc}`chapters/02-b` | reused, new prose merged in | 2025-12-31 23:00 UTC | 2 min 05 s |" in page
    assert "| {doc}`chapters/03-c` | reused (inputs unchanged) | 2025-12-30 10:00 UTC | 1 s |" in page
    assert page.index("chapters/01-a") < page.index("chapters/02-b") < page.index("chapters/03-c")
    assert "| **all chapters** |  |  | **2 min 18 s** |" in page and "`seed` | `0`" in page and "commit `abc123`" in page
    assert f"`{parquet_digest(stroke)}`" in page and "| `data/quick/icu` | not generated |" in page
    assert "| numpy | 2.4.0 |" in page and "| zzz | 1 |" in page


def test_installed_packages_sees_this_environment() -> None:
    packages = installed_packages()
    assert "numpy" in packages and "jupyter-book" in packages


def test_chapter_run_refuses_an_unknown_status() -> None:
    with pytest.raises(ValueError, match="01_a: unknown build status 'done'"):
        ChapterRun("01_a", "01-a", "done", "", 1.0)


def test_a_zero_that_means_a_default_is_said_in_words() -> None:
    rows = dict(profile_rows(get_profile("full")))
    assert rows["`stroke_patients`"].startswith("`0` (the generator's default,") and "patients" in rows["`stroke_patients`"]
    assert rows["`physionet_records`"] == "`0` (all 4,000 records of each set)"
    assert rows["`seed`"] == "`0`"  # a zero seed is just a seed
    assert dict(profile_rows(get_profile("quick")))["`stroke_patients`"] == "`12000`"
