"""Where an ICU dataset's files are: the MIMIC-III benchmark's in-hospital-mortality layout.

The one definition of the split names (`SPLITS`), the file names, the stay-name pattern and the error
type (`DataFormatError`) shared by the generator, the reader and its cache. Two layouts are accepted
(`resolve_split`): this project's `ROOT/<split>/listfile.csv` (header `stay,y_true`) with the stay
files and an optional `ground_truth.csv` (`stay,true_risk`) beside it, and the real benchmark's
`ROOT/<split>_listfile.csv` with the stay files in `ROOT/train/` (train and val) or `ROOT/test/`
(and, when this project's generator wrote it, `ROOT/<split>_ground_truth.csv`; real data has none).
The small files (listfile, ground truth) are read here, each line checked, errors naming the file
and the line. Every file is checked to be a regular file before it is opened (a FIFO would hang the
reader, a link to `/dev/zero` would exhaust memory).
"""

from __future__ import annotations

import csv
import io
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ehrlib.files import check_regular_file as _check_regular_file

__all__ = [
    "DataFormatError", "GROUND_TRUTH", "LISTFILE", "SPLITS", "STAY_PATTERN", "SplitPaths",
    "check_regular_file", "read_ground_truth", "read_listfile", "resolve_split",
]

#: The splits of every ICU dataset, in this order.
SPLITS: tuple[str, ...] = ("train", "val", "test")
#: File names inside a split folder.
LISTFILE = "listfile.csv"
GROUND_TRUTH = "ground_truth.csv"
#: Stay files: `{SUBJECT_ID}_episode{N}_timeseries.csv`.
STAY_PATTERN = re.compile(r"^(\d+)_episode(\d+)_timeseries\.csv$")
#: Largest small file (listfile, ground truth) read whole; larger is not a listfile.
MAX_SMALL_FILE = 1 << 30


class DataFormatError(ValueError):
    """A malformed benchmark file; the message names the file, the line and the problem."""


@dataclass(frozen=True)
class SplitPaths:
    """Where one split's files are: the listfile, the folder of stay files, the ground truth."""

    listfile: Path
    data_dir: Path
    ground_truth: Path | None
    layout: str  # "folders" (ROOT/<split>/listfile.csv) or "benchmark" (ROOT/<split>_listfile.csv)


def check_regular_file(path: str | os.PathLike, what: str = "file", max_bytes: int | None = None) -> os.stat_result:
    """`ehrlib.files.check_regular_file` raising `DataFormatError`: refuse a missing file, a folder, a FIFO,
    a device (a link to `/dev/zero`) or an oversized file before reading it, naming the path."""
    return _check_regular_file(path, what, max_bytes, error=DataFormatError)


def resolve_split(root: str | os.PathLike, split: str) -> SplitPaths:
    """Find a split's listfile and stay folder in either accepted layout (see the module docstring)."""
    root = Path(root)
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; expected one of {', '.join(SPLITS)}")
    bench = root / f"{split}_{LISTFILE}"
    if bench.is_file():
        data_dir = root / ("test" if split == "test" else "train")
        gt = root / f"{split}_{GROUND_TRUTH}"  # written by this project's generator; real data has none
        return SplitPaths(bench, data_dir, gt if gt.exists() else None, "benchmark")
    data_dir = root / split
    listfile = data_dir / LISTFILE
    if not listfile.exists():
        raise DataFormatError(f"{listfile}: listfile not found (no {bench.name} either)")
    gt = data_dir / GROUND_TRUTH
    return SplitPaths(listfile, data_dir, gt if gt.exists() else None, "folders")


def read_small_csv(path: Path, header: list[str]) -> list[list[str]]:
    """Read a small CSV with the exact `header`, returning its data rows (line i+2 is row i)."""
    check_regular_file(path, "file", MAX_SMALL_FILE)
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataFormatError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    try:
        rows = list(csv.reader(io.StringIO(text)))
    except csv.Error as exc:
        raise DataFormatError(f"{path}: malformed CSV ({exc})") from None
    if not rows or [c.strip() for c in rows[0]] != header:
        got = rows[0] if rows else "an empty file"
        raise DataFormatError(f"{path}: line 1: header must be {','.join(header)!r}, got {got!r}")
    return rows[1:]


def read_listfile(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """Read a `stay,y_true` listfile into (stay names, int8 labels), checking every line.

    Stay names must look like `{SUBJECT_ID}_episode{N}_timeseries.csv`, labels must be 0 or 1, no
    stay may appear twice, and at least one stay must be listed (a header-only listfile is an
    error); errors name the listfile and the line.
    """
    path = Path(path)
    rows = _nonblank(read_small_csv(path, ["stay", "y_true"]))
    if not rows:
        raise DataFormatError(f"{path}: the listfile lists no stays (only a header)")
    stays: list[str] = []
    labels = np.empty(len(rows), dtype=np.int8)
    seen: dict[str, int] = {}
    for i, (line, row) in enumerate(rows):
        if len(row) != 2:
            raise DataFormatError(f"{path}: line {line}: expected 2 fields (stay,y_true), got {len(row)}: {row!r}")
        stay, label = row[0].strip(), row[1].strip()
        if not STAY_PATTERN.match(stay):
            raise DataFormatError(
                f"{path}: line {line}: stay {stay!r} is not named {{SUBJECT_ID}}_episode{{N}}_timeseries.csv")
        if label not in ("0", "1"):
            raise DataFormatError(f"{path}: line {line}: label y_true must be 0 or 1, got {label!r} (stay {stay})")
        if stay in seen:
            raise DataFormatError(f"{path}: line {line}: duplicate stay {stay!r} (first on line {seen[stay]})")
        seen[stay] = line
        stays.append(stay)
        labels[i] = int(label)
    return np.array(stays, dtype=str), labels


def _nonblank(rows: list[list[str]]) -> list[tuple[int, list[str]]]:
    """(line number, fields) of the data rows that are not blank lines."""
    return [(i + 2, row) for i, row in enumerate(rows) if row]


def read_ground_truth(path: Path, stays: np.ndarray) -> np.ndarray:
    """Read `stay,true_risk` rows, aligned to `stays`; every stay exactly once, risks in [0, 1]."""
    rows = _nonblank(read_small_csv(path, ["stay", "true_risk"]))
    index = {s: i for i, s in enumerate(stays.tolist())}
    risk = np.full(len(stays), np.nan)
    for line, row in rows:
        if len(row) != 2:
            raise DataFormatError(f"{path}: line {line}: expected 2 fields (stay,true_risk), got {len(row)}")
        stay = row[0].strip()
        if stay not in index:
            raise DataFormatError(f"{path}: line {line}: stay {stay!r} is not in the listfile")
        try:
            r = float(row[1])
        except ValueError:
            raise DataFormatError(f"{path}: line {line}: true_risk {row[1]!r} is not a number") from None
        if not 0.0 <= r <= 1.0:
            raise DataFormatError(f"{path}: line {line}: true_risk {r} is outside [0, 1]")
        if not math.isnan(risk[index[stay]]):
            raise DataFormatError(f"{path}: line {line}: duplicate stay {stay!r}")
        risk[index[stay]] = r
    missing = np.flatnonzero(np.isnan(risk))
    if missing.size:
        raise DataFormatError(f"{path}: {missing.size} listed stays have no true_risk (first: {stays[missing[0]]})")
    return risk
