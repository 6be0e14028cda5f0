"""Atomic writes and JSON helpers."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from ehrlib.files import DatasetExistsError, MARKER, atomic_directory
from ehrlib.jsonfiles import read_json, update_json, write_json


def test_atomic_directory_renames_on_success(tmp_path: Path) -> None:
    final = tmp_path / "ds"
    with atomic_directory(final) as tmp:
        (tmp / "a.txt").write_text("x")
        assert not final.exists()
    assert (final / "a.txt").read_text() == "x"
    assert [p.name for p in tmp_path.iterdir()] == ["ds"]


def test_atomic_directory_leaves_nothing_on_failure(tmp_path: Path) -> None:
    final = tmp_path / "ds"
    with pytest.raises(RuntimeError):
        with atomic_directory(final) as tmp:
            (tmp / "a.txt").write_text("x")
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_atomic_directory_refuses_then_overwrites(tmp_path: Path) -> None:
    final = tmp_path / "ds"
    with atomic_directory(final) as tmp:
        (tmp / "old.txt").write_text("old")
    with pytest.raises(DatasetExistsError, match="already exists"):
        with atomic_directory(final):
            pass
    assert (final / "old.txt").exists()
    with atomic_directory(final, overwrite=True) as tmp:
        (tmp / "new.txt").write_text("new")
    assert sorted(p.name for p in final.iterdir()) == [MARKER, "new.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["ds"]


def test_json_round_trip_with_numpy_and_nan(tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    write_json(path, {"a": np.float32(0.5), "b": np.arange(3), "c": math.nan})
    assert read_json(path) == {"a": 0.5, "b": [0, 1, 2], "c": None}
    update_json(path, {"d": {"x": 1}})
    assert read_json(path)["d"] == {"x": 1} and read_json(path)["a"] == 0.5


def test_read_json_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{\n  'x': 1\n}")
    with pytest.raises(ValueError, match=r"bad.json: line 2"):
        read_json(bad)
