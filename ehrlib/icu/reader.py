"""Fast reader for ICU episodes in the MIMIC-III benchmark's in-hospital-mortality layout.

Layout read (`read_split`): `ROOT/<split>/listfile.csv` (header `stay,y_true`, labels 0/1) and one
`ROOT/<split>/{SUBJECT_ID}_episode{N}_timeseries.csv` per stay, with a `Hours` column and one column
per variable, one row per charted time and an empty cell where nothing was measured (a listed stay
whose file has no data rows is an error: it would load as a stay with nothing observed). An optional
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
where possible) so the error still names them. Results are cached beside the stay
files (`ehrlib.icu.cache`). File names, splits, the listfile and `DataFormatError` live in
`ehrlib.icu.layout`, the `EpisodeSet` container in `ehrlib.icu.episodes`. Progress goes to the
`logging` logger `ehrlib.icu.reader` (INFO), never to stdout.
"""

from __future__ import annotations

import csv
import functools
import logging
import math
import os
import re
import stat
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd

from ehrlib.icu import cache as _cache
from ehrlib.icu.episodes import EpisodeSet
from ehrlib.icu.layout import (SPLITS, DataFormatError, SplitPaths, read_ground_truth, read_listfile,
                               resolve_split)
from ehrlib.icu.ranges import POLICIES, VARIABLE_RANGES, RangePolicy, apply_range_policy, too_large_for_float32
from ehrlib.files import is_ehrlib_folder

__all__ = ["CATEGORICAL_RANGE", "CATEGORICAL_TEXT", "categorical_score", "check_splits_agree", "range_policy",
           "read_dataset", "read_split"]

from ehrlib.jsonfiles import read_json
from ehrlib.logs import get_logger

log = get_logger(__name__)
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


def _read_stay_file(path: str, listfile: Path, line: int, stay: str) -> bytes:
    """A stay file's bytes; it must exist and be a regular file (checked on the open descriptor, which
    never blocks, so a FIFO or a link to a device is refused before anything is read)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except FileNotFoundError:
        raise DataFormatError(f"{path}: stay file not found (listed in {listfile}, line {line}, "
                              f"as {stay!r})") from None
    except OSError as exc:
        raise DataFormatError(f"{path}: cannot open the stay file ({exc.strerror})") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise DataFormatError(f"{path}: stay file is not a regular file (a FIFO, device or folder); "
                                  f"listed in {listfile}, line {line}")
        data = os.read(fd, st.st_size)
        while len(data) < st.st_size:  # a short read (very large files): read on to the end
            more = os.read(fd, st.st_size - len(data))
            if not more:
                break
            data += more
        return data
    finally:
        os.close(fd)


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
        data = _read_stay_file(path, paths.listfile, i + 2, stay)
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
            log.info("    %s / %s files read", f"{i + 1:,}", f"{len(stays):,}")
    _refuse_empty_stays(paths, files, counts)
    return _RawSplit(columns, buf, offsets, counts, irregular, files)


def _refuse_empty_stays(paths: SplitPaths, files: list[str], counts: np.ndarray) -> None:
    """Refuse a listed stay whose file has a header but no data rows: it would load silently as a stay
    with nothing observed (the benchmark's in-hospital-mortality files always chart something)."""
    empty = np.flatnonzero(counts == 0)
    if empty.size:
        i = int(empty[0])
        more = f" ({empty.size - 1:,} more listed stay files are empty too)" if empty.size > 1 else ""
        raise DataFormatError(f"{files[i]}: no data rows after the header (listed in {paths.listfile}, "
                              f"line {i + 2}); every listed stay needs at least one charted row{more}")


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
    huge = too_large_for_float32(arr)
    if huge is not None:
        path, line = locate(int(huge[0]))
        raise DataFormatError(f"{path}: line {line}: column {name!r}: value {arr[huge[0]]:g} is too large "
                              f"(beyond float32's {np.finfo(np.float32).max:.3g}; it would be stored as infinity)")
    return arr


def _ranged_column(table, name: str, locate: _Locator, policy: RangePolicy,
                   cleaning: dict[str, dict[str, int]]) -> np.ndarray:
    """A numeric column after the range policy (`ehrlib.icu.ranges`): an error naming the file, line and
    value for "error", outliers removed and values clipped (counted in `cleaning`) for "clean"."""
    arr = _numeric_column(table, name, locate)
    arr, counts, first_bad = apply_range_policy(arr, name, policy)
    if first_bad >= 0:
        rng = VARIABLE_RANGES[name]
        path, line = locate(first_bad)
        raise DataFormatError(
            f"{path}: line {line}: column {name!r}: value {arr[first_bad]:g} is impossible (outside "
            f"{rng.possible[0]:g}-{rng.possible[1]:g}; read external data with ranges='clean' to drop or clip)")
    if counts["removed"] or counts["clipped"]:
        cleaning[name] = counts
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
# Public entry points
# --------------------------------------------------------------------------------------------------


def _parse_split(paths: SplitPaths, split: str, n_hours: int, level: int = logging.INFO,
                 policy: RangePolicy = "error") -> EpisodeSet:
    """Read and bin one split from its files (no cache): listfile, stay files, then ground truth."""
    t0 = time.perf_counter()
    stays, y = read_listfile(paths.listfile)
    log.log(level, "  reading %s stay files from %s ...", f"{len(stays):,}", paths.data_dir)
    raw = _read_episode_files(paths, stays, progress=level >= logging.INFO)
    true_risk = read_ground_truth(paths.ground_truth, stays) if paths.ground_truth is not None else None
    t1 = time.perf_counter()
    variables = [c for c in raw.columns if c != "Hours"]
    categorical = {c for c in variables if c in CATEGORICAL_RANGE}
    n_rows = int(raw.counts.sum())
    cleaning: dict[str, dict[str, int]] = {}
    try:  # every stay file has a data row (`_refuse_empty_stays`)
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
    getters = [functools.partial(_categorical_column, table, c, locate) if c in categorical
               else functools.partial(_ranged_column, table, c, locate, policy, cleaning) for c in variables]
    values, mask = _bin(hours, getters, raw.counts, n_hours)
    del table
    log.log(level, "  %s: %s episodes, %s rows, %d variables (reading files %.1f s, parsing and binning %.1f s)",
             split, f"{len(stays):,}", f"{n_rows:,}", len(variables), t1 - t0, time.perf_counter() - t1)
    _log_cleaning(paths, split, cleaning)
    return EpisodeSet(values=values, mask=mask, y=y, stays=stays, variables=variables,
                      true_risk=true_risk, split=split, cleaning=cleaning)


def _log_cleaning(paths: SplitPaths, split: str, cleaning: dict[str, dict[str, int]]) -> None:
    """Warn, per variable, how many values the "clean" range policy removed or clipped (never silent)."""
    for var, counts in cleaning.items():
        log.warning("%s [%s]: %s: %d values removed as outliers, %d clipped to the valid range",
                    paths.data_dir, split, var, counts["removed"], counts["clipped"])


def read_split(root: str | os.PathLike, split: str, *, n_hours: int = 48, cache: bool = True,
               progress: bool = True, ranges: str = "auto") -> EpisodeSet:
    """Load one split (`train`, `val` or `test`) of a benchmark-layout dataset into hourly arrays.

    Episodes follow the listfile's order. With `cache`, a fingerprinted `.npz` beside the stay files
    is reused when nothing changed and rebuilt otherwise (a read-only folder only costs a warning).
    Malformed input raises `DataFormatError` naming the file, the line and the problem. Values
    outside the known variables' plausible ranges follow `ranges` (`ehrlib.icu.ranges`): "error",
    "clean" (drop outliers, clip to valid bounds, counted in `EpisodeSet.cleaning`) or "keep";
    "auto" is "error" for this project's synthetic data (a folder ehrlib made, or one with a
    ground truth) and "clean" otherwise. Progress goes to the `ehrlib.icu.reader` logger (INFO;
    `progress=False` logs at DEBUG instead).
    """
    if isinstance(n_hours, bool) or not isinstance(n_hours, (int, np.integer)) or n_hours < 1:
        raise ValueError(f"n_hours must be a positive integer, got {n_hours!r}")
    n_hours = int(n_hours)
    level = logging.INFO if progress else logging.DEBUG
    t0 = time.perf_counter()
    paths = resolve_split(root, split)
    policy = range_policy(root, paths, ranges)
    key = ""
    if cache:
        key = _cache.fingerprint(paths, read_listfile(paths.listfile)[0], split, n_hours, policy)
        where = _cache.cache_path(paths, split, n_hours, key)
        if key:
            hit = _cache.load_cache(where, key)
            if hit is not None:
                log.log(level, "ICU reader [%s]: %s episodes from cache %s (%.2f s)",
                        split, f"{len(hit):,}", where.name, time.perf_counter() - t0)
                _log_cleaning(paths, split, hit.cleaning)
                return hit
    log.log(level, "ICU reader [%s]: parsing %s", split, paths.listfile)
    es = _parse_split(paths, split, n_hours, level, policy)
    if cache and key:
        try:
            _cache.save_cache(where, key, es)
        except OSError as exc:
            warnings.warn(f"could not write the reader cache {where} ({exc})", RuntimeWarning, stacklevel=2)
    log.log(level, "ICU reader [%s]: done in %.1f s", split, time.perf_counter() - t0)
    return es


def range_policy(root: str | os.PathLike, paths: SplitPaths, ranges: str) -> RangePolicy:
    """The range policy for a split: `ranges` itself, or for "auto" "error" on this project's synthetic
    data (ehrlib's marker or a ground-truth file) and "clean" on anything else."""
    if ranges == "auto":
        return "error" if is_ehrlib_folder(root) or paths.ground_truth is not None else "clean"
    if ranges not in POLICIES:
        raise ValueError(f"ranges must be 'auto' or one of {POLICIES}, got {ranges!r}")
    return ranges  # type: ignore[return-value]


def read_dataset(root: str | os.PathLike, **kw) -> dict[str, EpisodeSet]:
    """Load the train, val and test splits (keyword arguments as for `read_split`) and check that they
    fit together: the same variables in every split and no stay in two splits."""
    data = {split: read_split(root, split, **kw) for split in SPLITS}
    check_splits_agree(data, root)
    return data


@dataclass
class Generated:
    """A dataset ehrlib generated, with what only a generator can write: every split's episodes, the
    hidden state of each stay (`latent.csv`, indexed by stay) and its settings (`metadata.json`)."""

    splits: dict[str, EpisodeSet]
    latent: pd.DataFrame
    meta: dict[str, Any]


def read_generated(icu_dir: Path) -> Generated:
    """Read the splits, `latent.csv` and `metadata.json` the generator wrote to `icu_dir`."""
    icu_dir = Path(icu_dir)
    return Generated(splits=read_dataset(icu_dir, progress=False),
                     latent=pd.read_csv(icu_dir / "latent.csv").set_index("stay"),
                     meta=read_json(icu_dir / "metadata.json"))


def check_splits_agree(data: dict[str, EpisodeSet], root: str | os.PathLike = "") -> None:
    """Raise `DataFormatError` when splits list different variables or share a stay (naming both)."""
    names = list(data)
    first = names[0]
    for other in names[1:]:
        if data[other].variables != data[first].variables:
            a, b = data[first].variables, data[other].variables
            raise DataFormatError(
                f"{root}: splits {first!r} and {other!r} have different variables (only in {first}: "
                f"{[v for v in a if v not in b]}, only in {other}: {[v for v in b if v not in a]}"
                f"{', or another order' if set(a) == set(b) else ''})")
    for i, s in enumerate(names):
        for t in names[i + 1:]:
            shared = np.intersect1d(data[s].stays, data[t].stays)
            if shared.size:
                raise DataFormatError(f"{root}: {shared.size} stay(s) are in both {s!r} and {t!r} "
                                      f"(first: {shared[0]}); a stay belongs to one split")
