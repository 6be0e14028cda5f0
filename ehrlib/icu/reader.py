"""Fast reader for ICU episodes in the MIMIC-III benchmark's in-hospital-mortality layout.

Layout read (`read_split`): `ROOT/<split>/listfile.csv` (header `stay,y_true`, labels 0/1) and one
`ROOT/<split>/{SUBJECT_ID}_episode{N}_timeseries.csv` per stay, with a `Hours` column and one column
per variable, one row per charted time and an empty cell where nothing was measured. An optional
`ROOT/<split>/ground_truth.csv` (`stay,true_risk`) is loaded into `EpisodeSet.true_risk` (the
generator's latent risk, for evaluation only, never a feature). The real benchmark's own layout is
also accepted: when `ROOT/<split>_listfile.csv` exists (made by mimic3-benchmarks'
`split_train_val.py`), it is the listfile, and the stay files are read from `ROOT/train/` (train and
val) or `ROOT/test/`; this matters because the real `train/listfile.csv` lists train *and* val stays.

Hourly binning, for a window of `n_hours` (48): only rows with `0 <= Hours <= n_hours` are used, the
others are dropped. A row at `Hours` goes to bin `floor(Hours)`, except `Hours == n_hours`, which goes
to the last bin `n_hours - 1`. Within a bin, each variable keeps its *last* observation by time;
rows with equal `Hours` keep the one written later in the file. `values` holds that value (float32,
NaN where nothing was observed) and `mask` is True exactly where a value was observed in the bin.

Categorical text (the real benchmark's Capillary refill rate and the four Glasgow coma scale
variables, spelled "Glascow" there) is mapped to the numeric score (see `categorical_score`): a value
that starts with a number ("4 Spontaneously", "1.0 ET/Trach", "15", "0.0") is that number; the
benchmark's spellings without a number ("To Pain", "No Response-ETT", "Obeys Commands", ...) are
mapped by the table `CATEGORICAL_TEXT`; a score outside the variable's range (`CATEGORICAL_RANGE`) or
any other text is an error. Every other column must hold finite numbers (text such as "NA", "nan"
or "inf" is an error; only the empty cell means "not measured").

Speed: a split's files are read as bytes, checked to share one header, concatenated and parsed once
by pyarrow's multithreaded CSV reader; rows are then scattered into the arrays with vectorised
indexing. When the bulk parse fails, the offending file, line, column and value are located (in bulk
where possible) so the error still names them. A cache `.cache-<split>-<n_hours>h-<key>.npz` is
written beside the stay files (atomically; `np.load(allow_pickle=False)`); its key fingerprints the
listfile, ground truth, reader version and every stay file's name, size and modification time
(`st_mtime_ns`), so an edited, added or removed file makes it stale and it is rebuilt.
"""

from __future__ import annotations

import csv
import functools
import hashlib
import io
import math
import os
import re
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from ehrlib.logs import get_logger

_log = get_logger(__name__)

__all__ = [
    "CACHE_GLOB",
    "CATEGORICAL_RANGE",
    "CATEGORICAL_TEXT",
    "DataFormatError",
    "EpisodeSet",
    "SplitPaths",
    "categorical_score",
    "clear_cache",
    "read_dataset",
    "read_listfile",
    "read_split",
    "resolve_split",
]

#: Bump when the reader's output for the same files changes (invalidates every cache).
READER_VERSION = 1
SPLITS = ("train", "val", "test")
#: File names of the reader's caches beside the stay files (tools hashing a dataset should skip them).
CACHE_GLOB = ".cache-*.npz"
STAY_PATTERN = re.compile(r"^(\d+)_episode(\d+)_timeseries\.csv$")
_LEADING_NUMBER = re.compile(r"^([0-9]+(?:\.[0-9]*)?)(?:\s+\S.*)?$")

#: Valid score range of each categorical variable of the real benchmark (inclusive).
CATEGORICAL_RANGE: dict[str, tuple[float, float]] = {
    "Capillary refill rate": (0.0, 1.0),
    "Glascow coma scale eye opening": (1.0, 4.0),
    "Glascow coma scale motor response": (1.0, 6.0),
    "Glascow coma scale total": (3.0, 15.0),
    "Glascow coma scale verbal response": (1.0, 5.0),
}

#: The real benchmark's categorical spellings that carry no number, with their scores (keys are
#: compared case-insensitively, with runs of spaces collapsed). Intubated patients' verbal
#: responses ("No Response-ETT", like the numbered "1.0 ET/Trach") score 1, as MIMIC-III charts them.
CATEGORICAL_TEXT: dict[str, dict[str, float]] = {
    "Glascow coma scale eye opening": {
        "none": 1.0, "no response": 1.0, "to pain": 2.0, "to speech": 3.0, "spontaneously": 4.0,
    },
    "Glascow coma scale motor response": {
        "no response": 1.0, "abnormal extension": 2.0, "abnorm extensn": 2.0,
        "abnormal flexion": 3.0, "abnorm flexion": 3.0, "flex-withdraws": 4.0,
        "localizes pain": 5.0, "obeys commands": 6.0,
    },
    "Glascow coma scale verbal response": {
        "no response": 1.0, "no response-ett": 1.0, "et/trach": 1.0,
        "incomprehensible sounds": 2.0, "incomp sounds": 2.0,
        "inappropriate words": 3.0, "inapprop words": 3.0, "confused": 4.0, "oriented": 5.0,
    },
    "Glascow coma scale total": {},
    "Capillary refill rate": {},
}


class DataFormatError(ValueError):
    """A malformed benchmark file; the message names the file, the line and the problem."""


# --------------------------------------------------------------------------------------------------
# The container
# --------------------------------------------------------------------------------------------------


@dataclass(eq=False)
class EpisodeSet:
    """Hourly-binned ICU episodes of one split (or several, after `concat`).

    `values[i, t, f]` is the last value of variable `variables[f]` observed in hour `t` of episode
    `stays[i]` (NaN if none), `mask[i, t, f]` is True exactly where one was observed, `y` the 0/1
    in-hospital-mortality label, and `true_risk` the generator's latent risk from
    `ground_truth.csv` (None when the split has none; never use it as a feature).
    """

    values: np.ndarray
    mask: np.ndarray
    y: np.ndarray
    stays: np.ndarray
    variables: list[str]
    true_risk: np.ndarray | None
    split: str

    def __post_init__(self) -> None:
        """Check that the arrays agree in shape and carry the documented dtypes."""
        self.values = np.asarray(self.values, dtype=np.float32)
        self.mask = np.asarray(self.mask, dtype=bool)
        self.y = np.asarray(self.y, dtype=np.int8)
        self.stays = np.asarray(self.stays, dtype=str)
        self.variables = [str(v) for v in self.variables]
        n = len(self.stays)
        if self.values.ndim != 3 or self.values.shape != self.mask.shape:
            raise ValueError(f"values {self.values.shape} and mask {self.mask.shape} must be equal 3-D shapes")
        if self.values.shape[0] != n or self.y.shape != (n,) or self.values.shape[2] != len(self.variables):
            raise ValueError(
                f"inconsistent EpisodeSet: values {self.values.shape}, y {self.y.shape}, "
                f"{n} stays, {len(self.variables)} variables")
        if self.true_risk is not None:
            self.true_risk = np.asarray(self.true_risk, dtype=np.float64)
            if self.true_risk.shape != (n,):
                raise ValueError(f"true_risk has shape {self.true_risk.shape}, expected ({n},)")

    def __len__(self) -> int:
        """Number of episodes."""
        return len(self.stays)

    @property
    def n_hours(self) -> int:
        """Number of hourly bins (the window length)."""
        return int(self.values.shape[1])

    @property
    def subject_ids(self) -> np.ndarray:
        """Patient ids (int64) parsed from the stay names' `{SUBJECT_ID}_episode` prefix."""
        out = np.empty(len(self.stays), dtype=np.int64)
        for i, stay in enumerate(self.stays.tolist()):
            head, sep, _ = stay.partition("_episode")
            if not sep or not head.isdigit():
                raise ValueError(f"stay {stay!r} does not start with '{{SUBJECT_ID}}_episode'")
            out[i] = int(head)
        return out

    def take(self, idx: np.ndarray | Sequence[int] | slice) -> "EpisodeSet":
        """Return the episodes selected by integer indices, a boolean mask or a slice (copied)."""
        if not isinstance(idx, slice):
            idx = np.asarray(idx)
            if idx.dtype == bool:
                if idx.shape != (len(self),):
                    raise ValueError(f"boolean index of shape {idx.shape} for {len(self)} episodes")
            elif idx.size == 0:
                idx = idx.astype(np.intp)
            elif not np.issubdtype(idx.dtype, np.integer):
                raise TypeError(f"index must be integers or booleans, not {idx.dtype}")
        return EpisodeSet(
            values=self.values[idx].copy(), mask=self.mask[idx].copy(), y=self.y[idx].copy(),
            stays=self.stays[idx].copy(), variables=list(self.variables),
            true_risk=None if self.true_risk is None else self.true_risk[idx].copy(), split=self.split)

    @staticmethod
    def concat(sets: Sequence["EpisodeSet"]) -> "EpisodeSet":
        """Stack episode sets with the same variables and window; `true_risk` is kept if all have it.

        The result's `split` is the common split name, or the distinct names joined by "+".
        """
        sets = list(sets)
        if not sets:
            raise ValueError("EpisodeSet.concat needs at least one EpisodeSet")
        first = sets[0]
        for s in sets[1:]:
            if s.variables != first.variables:
                raise ValueError(f"cannot concat: variables differ ({first.variables} vs {s.variables})")
            if s.n_hours != first.n_hours:
                raise ValueError(f"cannot concat: {first.n_hours} vs {s.n_hours} hourly bins")
        names = list(dict.fromkeys(s.split for s in sets))
        risks = [s.true_risk for s in sets]
        return EpisodeSet(
            values=np.concatenate([s.values for s in sets]), mask=np.concatenate([s.mask for s in sets]),
            y=np.concatenate([s.y for s in sets]), stays=np.concatenate([s.stays for s in sets]),
            variables=list(first.variables),
            true_risk=None if any(r is None for r in risks) else np.concatenate(risks),
            split="+".join(names))


# --------------------------------------------------------------------------------------------------
# Small files: layout, listfile, ground truth, categorical text
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SplitPaths:
    """Where one split's files are: the listfile, the folder of stay files, the ground truth."""

    listfile: Path
    data_dir: Path
    ground_truth: Path | None
    layout: str  # "folders" (ROOT/<split>/listfile.csv) or "benchmark" (ROOT/<split>_listfile.csv)


def resolve_split(root: str | os.PathLike, split: str) -> SplitPaths:
    """Find a split's listfile and stay folder in either accepted layout (see the module docstring)."""
    root = Path(root)
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; expected one of {', '.join(SPLITS)}")
    bench = root / f"{split}_listfile.csv"
    if bench.is_file():
        data_dir = root / ("test" if split == "test" else "train")
        return SplitPaths(bench, data_dir, None, "benchmark")
    data_dir = root / split
    listfile = data_dir / "listfile.csv"
    if not listfile.is_file():
        raise DataFormatError(f"{listfile}: listfile not found (no {bench.name} either)")
    gt = data_dir / "ground_truth.csv"
    return SplitPaths(listfile, data_dir, gt if gt.is_file() else None, "folders")


def _read_small_csv(path: Path, header: list[str]) -> list[list[str]]:
    """Read a small CSV with the exact `header`, returning its data rows (line i+2 is row i)."""
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except FileNotFoundError:
        raise DataFormatError(f"{path}: file not found") from None
    except UnicodeDecodeError as exc:
        raise DataFormatError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    rows = list(csv.reader(io.StringIO(text)))
    if not rows or [c.strip() for c in rows[0]] != header:
        got = rows[0] if rows else "an empty file"
        raise DataFormatError(f"{path}: line 1: header must be {','.join(header)!r}, got {got!r}")
    return rows[1:]


def read_listfile(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """Read a `stay,y_true` listfile into (stay names, int8 labels), checking every line.

    Stay names must look like `{SUBJECT_ID}_episode{N}_timeseries.csv`, labels must be 0 or 1, and
    no stay may appear twice; errors name the listfile and the line.
    """
    path = Path(path)
    rows = _read_small_csv(path, ["stay", "y_true"])
    stays: list[str] = []
    labels = np.empty(len(rows), dtype=np.int8)
    seen: dict[str, int] = {}
    for i, row in enumerate(rows):
        line = i + 2
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


def _read_ground_truth(path: Path, stays: np.ndarray) -> np.ndarray:
    """Read `stay,true_risk` rows, aligned to `stays`; every stay exactly once, risks in [0, 1]."""
    rows = _read_small_csv(path, ["stay", "true_risk"])
    index = {s: i for i, s in enumerate(stays.tolist())}
    risk = np.full(len(stays), np.nan)
    for i, row in enumerate(rows):
        line = i + 2
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


def categorical_score(variable: str, text: str) -> float:
    """Map one categorical cell of the real benchmark to its numeric score.

    A value starting with a number is that number ("4 Spontaneously" -> 4, "1.0 ET/Trach" -> 1,
    "15" -> 15); the benchmark's spellings without a number are looked up in `CATEGORICAL_TEXT`
    ("To Pain" -> 2). Raises `ValueError` for unknown text or a score outside `CATEGORICAL_RANGE`.
    """
    if variable not in CATEGORICAL_RANGE:
        raise ValueError(f"{variable!r} is not a categorical variable")
    norm = " ".join(text.split())
    m = _LEADING_NUMBER.match(norm)
    if m:
        score = float(m.group(1))
    else:
        key = norm.lower()
        if key not in CATEGORICAL_TEXT[variable]:
            raise ValueError(f"unknown text {text!r} for {variable!r}")
        score = CATEGORICAL_TEXT[variable][key]
    lo, hi = CATEGORICAL_RANGE[variable]
    if not lo <= score <= hi:
        raise ValueError(f"score {score:g} from {text!r} is outside {variable!r}'s range {lo:g}-{hi:g}")
    return score


# --------------------------------------------------------------------------------------------------
# Reading and parsing the stay files in bulk
# --------------------------------------------------------------------------------------------------


@dataclass
class _RawSplit:
    """The stay files' data lines (headers removed) concatenated in listfile order, and where each is."""

    columns: list[str]
    buf: bytearray  # every file's data lines, each file ending with a newline
    offsets: np.ndarray  # int64 (n + 1,): file i's data lines are buf[offsets[i]:offsets[i + 1]]
    counts: np.ndarray  # int64 (n,): data rows (non-blank lines after the header) per file
    irregular: set[int]  # files with blank lines (their line numbers need re-counting)
    paths: list[str]  # the stay files, for error messages

    def body(self, i: int) -> bytes:
        """File i's data lines."""
        return bytes(self.buf[self.offsets[i]:self.offsets[i + 1]])


def _parse_header(path: Path, head: bytes) -> list[str]:
    """Parse and check a stay file's header line: a `Hours` column, unique non-empty names."""
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        raise DataFormatError(f"{path}: line 1: header is not UTF-8 text") from None
    try:
        names = next(csv.reader([text]), [])
    except csv.Error as exc:
        raise DataFormatError(f"{path}: line 1: malformed header ({exc})") from None
    names = [n.strip() for n in names]
    if "Hours" not in names:
        raise DataFormatError(f"{path}: line 1: no 'Hours' column in the header {names!r}")
    if any(not n for n in names):
        raise DataFormatError(f"{path}: line 1: empty column name in the header {names!r}")
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise DataFormatError(f"{path}: line 1: duplicate column(s) {dup} in the header")
    return names


def _read_episode_files(paths: SplitPaths, stays: np.ndarray, progress: bool = False) -> _RawSplit:
    """Read every listed stay file's bytes, check they share one header, and count their rows."""
    buf = bytearray()
    offsets = np.zeros(len(stays) + 1, dtype=np.int64)
    files: list[str] = []
    counts = np.zeros(len(stays), dtype=np.int64)
    t_last = time.perf_counter()
    irregular: set[int] = set()
    header: bytes | None = None
    columns: list[str] = []
    first_path: Path | None = None
    folder = str(paths.data_dir)
    for i, stay in enumerate(stays.tolist()):
        path = os.path.join(folder, stay)
        try:
            with open(path, "rb") as fh:
                data = fh.read()
        except FileNotFoundError:
            raise DataFormatError(
                f"{paths.listfile}: line {i + 2}: stay {stay!r} is listed but {path} does not exist") from None
        nl = data.find(b"\n")
        head, body = (data, b"") if nl < 0 else (data[:nl], data[nl + 1:])
        if head.startswith(b"\xef\xbb\xbf"):
            head = head[3:]
        head = head.rstrip(b"\r")
        if head != header:
            if not head:
                raise DataFormatError(f"{path}: line 1: empty file or header (expected 'Hours,...')")
            names = _parse_header(path, head)
            if header is None:
                header, columns, first_path = head, names, path
            elif names != columns:
                extra = [n for n in names if n not in columns]
                lacking = [n for n in columns if n not in names]
                raise DataFormatError(
                    f"{path}: line 1: header differs from {first_path} (all files of a split must share "
                    f"it): extra {extra}, missing {lacking}, got {names}")
        if body and not body.endswith(b"\n"):
            body += b"\n"
        if body.startswith((b"\n", b"\r\n")) or b"\n\n" in body or b"\n\r\n" in body:
            irregular.add(i)
            counts[i] = sum(1 for ln in body.split(b"\n") if ln.strip(b"\r"))
        else:
            counts[i] = body.count(b"\n")
        buf += body
        offsets[i + 1] = len(buf)
        files.append(path)
        if progress and time.perf_counter() - t_last > 5.0:
            t_last = time.perf_counter()
            _log.info(f"    {i + 1:,} / {len(stays):,} files read")
    return _RawSplit(columns, buf, offsets, counts, irregular, files)


class _Locator:
    """Maps a row of the concatenated data back to its file and line number."""

    def __init__(self, raw: _RawSplit) -> None:
        self.raw = raw
        self.ends = np.cumsum(raw.counts)

    def __call__(self, row: int) -> tuple[str, int]:
        """Return (file, 1-based line) of concatenated data row `row`."""
        i = int(np.searchsorted(self.ends, row, side="right"))
        k = row - (int(self.ends[i - 1]) if i else 0)
        if i not in self.raw.irregular:
            return self.raw.paths[i], k + 2
        seen = -1
        for j, ln in enumerate(self.raw.body(i).split(b"\n")):
            if ln.strip(b"\r"):
                seen += 1
                if seen == k:
                    return self.raw.paths[i], j + 2
        return self.raw.paths[i], -1  # pragma: no cover - counts and bodies always agree


def _column_types(columns: list[str], categorical: set[str], all_text: bool) -> dict:
    """pyarrow column types: text for categorical columns (or all, when diagnosing), else float64."""
    import pyarrow as pa

    return {c: pa.string() if (all_text or c in categorical) else pa.float64() for c in columns}


def _arrow_read(buf: bytearray, columns: list[str], types: dict):
    """Parse header-less CSV bytes with pyarrow (multithreaded, no copy); only the empty cell is null."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    return pacsv.read_csv(
        pa.BufferReader(pa.py_buffer(buf)),
        read_options=pacsv.ReadOptions(column_names=columns, use_threads=True, block_size=1 << 22),
        parse_options=pacsv.ParseOptions(newlines_in_values=False),
        convert_options=pacsv.ConvertOptions(
            column_types=types, null_values=[""], strings_can_be_null=True, quoted_strings_can_be_null=True))


def _find_bad_shape(raw: _RawSplit) -> DataFormatError | None:
    """Find the first line whose field count differs from the header's (a Python scan: error path)."""
    n = len(raw.columns)
    for i in range(len(raw.paths)):
        for j, ln in enumerate(raw.body(i).split(b"\n")):
            ln = ln.rstrip(b"\r")
            if not ln:
                continue
            try:
                fields = next(csv.reader([ln.decode("utf-8")]))
            except UnicodeDecodeError:
                return DataFormatError(f"{raw.paths[i]}: line {j + 2}: not UTF-8 text")
            except csv.Error as exc:
                return DataFormatError(f"{raw.paths[i]}: line {j + 2}: malformed CSV ({exc})")
            if len(fields) != n:
                return DataFormatError(
                    f"{raw.paths[i]}: line {j + 2}: expected {n} fields as in the header, got {len(fields)}")
    return None


def _bad_numeric_cell(text_column) -> tuple[int, str] | None:
    """First row whose text pyarrow cannot read as a finite number (the CSV reader's own rule:
    surrounding spaces allowed), with that text; None if every non-empty cell is fine."""
    import pyarrow as pa
    import pyarrow.compute as pc

    enc = pc.dictionary_encode(text_column.combine_chunks())
    words = pc.utf8_trim_whitespace(enc.dictionary)
    try:
        nums = pc.cast(words, pa.float64()).to_numpy(zero_copy_only=False)
        bad = np.flatnonzero(~np.isfinite(nums))
    except pa.ArrowInvalid:  # find the unreadable words one by one (an error path only)
        bad_list = []
        for k, w in enumerate(words.to_pylist()):
            try:
                ok = math.isfinite(pc.cast(pa.array([w]), pa.float64())[0].as_py())
            except pa.ArrowInvalid:
                ok = False
            if not ok:
                bad_list.append(k)
        bad = np.array(bad_list, dtype=np.int64)
    if not bad.size:
        return None
    codes = enc.indices.fill_null(-1).to_numpy(zero_copy_only=False)
    row = int(np.flatnonzero(np.isin(codes, bad))[0])
    return row, enc.dictionary[int(codes[row])].as_py()


def _diagnose_parse_failure(raw: _RawSplit, categorical: set[str], exc: Exception) -> DataFormatError:
    """Locate why the bulk parse failed: a malformed line, or a non-numeric cell (file/line/column/value)."""
    try:
        table = _arrow_read(raw.buf, raw.columns, _column_types(raw.columns, categorical, all_text=True))
    except Exception as exc2:  # malformed rows or encoding: scan line by line
        return _find_bad_shape(raw) or DataFormatError(f"stay files in {Path(raw.paths[0]).parent}: {exc2}")
    if table.num_rows != int(raw.counts.sum()):
        return _find_bad_shape(raw) or DataFormatError(
            f"stay files in {Path(raw.paths[0]).parent}: {table.num_rows} rows parsed but "
            f"{int(raw.counts.sum())} lines counted (quoted line breaks are not supported)")
    locate = _Locator(raw)
    for c in raw.columns:
        if c in categorical:
            continue
        hit = _bad_numeric_cell(table.column(c))
        if hit is not None:
            path, line = locate(hit[0])
            return DataFormatError(f"{path}: line {line}: column {c!r}: value {hit[1]!r} is not a finite number")
    return DataFormatError(f"stay files in {Path(raw.paths[0]).parent}: {exc}")


def _numeric_column(table, name: str, locate: _Locator) -> np.ndarray:
    """A float64 column (NaN for empty cells); a 'nan'/'inf' text cell is an error naming its line."""
    col = table.column(name)
    arr = col.to_numpy()  # nulls become NaN
    bad = ~np.isfinite(arr)
    if bad.any():
        null = col.is_null().to_numpy(zero_copy_only=False)
        hits = np.flatnonzero(bad & ~null)
        if hits.size:
            path, line = locate(int(hits[0]))
            raise DataFormatError(
                f"{path}: line {line}: column {name!r}: value {arr[hits[0]]!r} is not a finite number")
    return arr


def _categorical_column(table, name: str, locate: _Locator) -> np.ndarray:
    """Map a text column of the real benchmark to float64 scores (NaN for empty cells)."""
    import pyarrow.compute as pc

    enc = pc.dictionary_encode(table.column(name).combine_chunks())
    words = enc.dictionary.to_pylist()
    scores = np.empty(len(words) + 1, dtype=np.float64)
    codes = enc.indices.fill_null(len(words)).to_numpy(zero_copy_only=False)
    for k, w in enumerate(words):
        try:
            scores[k] = categorical_score(name, w)
        except ValueError as exc:
            path, line = locate(int(np.flatnonzero(codes == k)[0]))
            raise DataFormatError(f"{path}: line {line}: column {name!r}: {exc}") from None
    scores[-1] = np.nan
    return scores[codes]


def _bin(hours: np.ndarray, columns: Sequence[Callable[[], np.ndarray]], counts: np.ndarray,
         n_hours: int) -> tuple[np.ndarray, np.ndarray]:
    """Scatter rows into (n, n_hours, F) arrays: window filter, floor binning, last observation wins.

    `columns[f]()` returns variable f's float64 values for every row (NaN: not measured); columns
    are fetched one at a time so only one full-length column is held at once.
    """
    n, nf = len(counts), len(columns)
    ep = np.repeat(np.arange(n, dtype=np.int64), counts)
    rows = np.flatnonzero((hours >= 0) & (hours <= n_hours))
    h, e = hours[rows], ep[rows]
    del ep
    # Stable order by (episode, time); files are usually already sorted by time.
    if h.size > 1 and not np.all((np.diff(h) >= 0) | (np.diff(e) != 0)):
        order = np.lexsort((np.arange(h.size), h, e))
        rows, h, e = rows[order], h[order], e[order]
    key = e * n_hours + np.minimum(np.floor(h).astype(np.int64), n_hours - 1)
    del h, e
    values = np.full((n * n_hours, nf), np.nan, dtype=np.float32)
    for f, get in enumerate(columns):
        v = get()[rows]
        obs = ~np.isnan(v)
        k, v = key[obs], v[obs]
        last = np.ones(k.size, dtype=bool)
        last[:-1] = k[1:] != k[:-1]  # keys are non-decreasing: the last of each run wins
        values[k[last], f] = v[last]
    values = values.reshape(n, n_hours, nf)
    return values, ~np.isnan(values)


# --------------------------------------------------------------------------------------------------
# Cache
# --------------------------------------------------------------------------------------------------


def _fingerprint(paths: SplitPaths, stays: np.ndarray, split: str, n_hours: int) -> str:
    """Hash of everything the arrays depend on: listfile, ground truth, files' sizes and mtimes."""
    h = hashlib.sha256()
    h.update(f"ehrlib.readers v{READER_VERSION} split={split} n_hours={n_hours} layout={paths.layout}\n".encode())
    h.update(paths.listfile.read_bytes())
    if paths.ground_truth is not None:
        h.update(b"\0ground_truth\0" + paths.ground_truth.read_bytes())
    parts = []
    for stay in stays.tolist():
        try:
            st = os.stat(paths.data_dir / stay)
        except FileNotFoundError:
            return ""  # reading will raise the proper error
        parts.append(f"{stay}\t{st.st_size}\t{st.st_mtime_ns}\n")
    h.update("".join(parts).encode())
    return h.hexdigest()


def clear_cache(root: str | os.PathLike) -> int:
    """Delete the reader's cache files under a dataset root; returns how many were removed."""
    removed = 0
    for p in sorted(Path(root).glob(f"*/{CACHE_GLOB}")):
        p.unlink(missing_ok=True)
        removed += 1
    return removed


def _cache_prefix(split: str, n_hours: int) -> str:
    """File-name prefix of a split's cache files (the key follows)."""
    return f".cache-{split}-{n_hours}h-"


def _load_cache(path: Path, key: str) -> EpisodeSet | None:
    """Load a cache file if it exists and carries `key`; a damaged file is ignored (None)."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            if str(z["key"]) != key:
                return None
            return EpisodeSet(
                values=z["values"], mask=z["mask"], y=z["y"], stays=z["stays"],
                variables=z["variables"].tolist(),
                true_risk=z["true_risk"] if bool(z["has_true_risk"]) else None, split=str(z["split"]))
    except Exception as exc:  # damaged or foreign file: rebuild
        warnings.warn(f"ignoring unreadable cache {path} ({exc})", RuntimeWarning, stacklevel=3)
        return None


def _save_cache(path: Path, key: str, es: EpisodeSet) -> None:
    """Write the cache atomically (temporary file, then rename) and remove the split's older caches."""
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez(
                fh, key=np.array(key), values=es.values, mask=es.mask, y=es.y, stays=es.stays,
                variables=np.array(es.variables, dtype=str),
                true_risk=es.true_risk if es.true_risk is not None else np.zeros(0),
                has_true_risk=np.array(es.true_risk is not None), split=np.array(es.split))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    prefix = path.name[: path.name.rfind("-") + 1]
    for old in path.parent.glob(prefix + "*.npz"):
        if old != path:
            old.unlink(missing_ok=True)


# --------------------------------------------------------------------------------------------------
# Public entry points
# --------------------------------------------------------------------------------------------------


def _parse_split(paths: SplitPaths, split: str, n_hours: int, progress: bool) -> EpisodeSet:
    """Read and bin one split from its files (no cache)."""
    t0 = time.perf_counter()
    stays, y = read_listfile(paths.listfile)
    true_risk = _read_ground_truth(paths.ground_truth, stays) if paths.ground_truth is not None else None
    if progress:
        _log.info(f"  reading {len(stays):,} stay files from {paths.data_dir} ...")
    raw = _read_episode_files(paths, stays, progress)
    t1 = time.perf_counter()
    variables = [c for c in raw.columns if c != "Hours"]
    categorical = {c for c in variables if c in CATEGORICAL_RANGE}
    n_rows = int(raw.counts.sum())
    if n_rows == 0:
        values = np.full((len(stays), n_hours, len(variables)), np.nan, dtype=np.float32)
        mask = np.zeros(values.shape, dtype=bool)
    else:
        try:
            table = _arrow_read(raw.buf, raw.columns, _column_types(raw.columns, categorical, all_text=False))
        except Exception as exc:  # pyarrow.lib.ArrowInvalid and friends
            raise _diagnose_parse_failure(raw, categorical, exc) from None
        if table.num_rows != n_rows:
            raise _diagnose_parse_failure(raw, categorical, ValueError("row count mismatch"))
        locate = _Locator(raw)
        hours = _numeric_column(table, "Hours", locate)
        if np.isnan(hours).any():
            path, line = locate(int(np.flatnonzero(np.isnan(hours))[0]))
            raise DataFormatError(f"{path}: line {line}: column 'Hours' is empty")
        getters = [functools.partial(_categorical_column if c in categorical else _numeric_column, table, c, locate)
                   for c in variables]
        values, mask = _bin(hours, getters, raw.counts, n_hours)
        del table
    t2 = time.perf_counter()
    if progress:
        _log.info(f"  {split}: {len(stays):,} episodes, {n_rows:,} rows, {len(variables)} variables "
              f"(reading files {t1 - t0:.1f} s, parsing and binning {t2 - t1:.1f} s)")
    return EpisodeSet(values=values, mask=mask, y=y, stays=stays, variables=variables,
                      true_risk=true_risk, split=split)


def read_split(root: str | os.PathLike, split: str, *, n_hours: int = 48, cache: bool = True,
               progress: bool = True) -> EpisodeSet:
    """Load one split (`train`, `val` or `test`) of a benchmark-layout dataset into hourly arrays.

    Episodes follow the listfile's order. With `cache`, a fingerprinted `.npz` beside the stay files
    is reused when nothing changed and rebuilt otherwise (a read-only folder only costs a warning).
    Malformed input raises `DataFormatError` naming the file, the line and the problem.
    """
    if not isinstance(n_hours, (int, np.integer)) or n_hours < 1:
        raise ValueError(f"n_hours must be a positive integer, got {n_hours!r}")
    n_hours = int(n_hours)
    t0 = time.perf_counter()
    paths = resolve_split(root, split)
    key = ""
    if cache:
        key = _fingerprint(paths, read_listfile(paths.listfile)[0], split, n_hours)
        cache_path = paths.data_dir / f"{_cache_prefix(split, n_hours)}{key[:24]}.npz"
        if key:
            hit = _load_cache(cache_path, key)
            if hit is not None:
                if progress:
                    _log.info(f"ICU reader [{split}]: {len(hit):,} episodes from cache "
                          f"{cache_path.name} ({time.perf_counter() - t0:.2f} s)")
                return hit
    if progress:
        _log.info(f"ICU reader [{split}]: parsing {paths.listfile}")
    es = _parse_split(paths, split, n_hours, progress)
    if cache and key:
        try:
            _save_cache(cache_path, key, es)
        except OSError as exc:
            warnings.warn(f"could not write the reader cache {cache_path} ({exc})", RuntimeWarning, stacklevel=2)
    if progress:
        _log.info(f"ICU reader [{split}]: done in {time.perf_counter() - t0:.1f} s")
    return es


def read_dataset(root: str | os.PathLike, **kw) -> dict[str, EpisodeSet]:
    """Load the train, val and test splits (keyword arguments as for `read_split`)."""
    return {split: read_split(root, split, **kw) for split in SPLITS}
