"""Fast reader of the PhysioNet 2012 records into hourly `EpisodeSet`s, with descriptors and outcomes.

`read_physionet2012(files, sets)` gives one `PhysionetSet` per set ("a", "b"): `episodes` (an
`EpisodeSet` named `"<RecordID>_episode1"`, in RecordID order, `y` = In-hospital_death, no true risk,
`static` = the descriptors as features `STATIC_NAMES`), `descriptors` and `outcomes` (frames indexed by
RecordID, in the same order) and `cleaning` (one row per parameter and rule, with its count).

Hourly binning, exactly as the benchmark reader (`ehrlib.icu.reader`): 48 bins; `Time` HH:MM since ICU
admission is converted to hours; rows with 0 <= hours <= 48 are kept; a row goes to bin floor(hours),
hour 48 to bin 47; within a bin each variable keeps its last value by time (ties: the later row in the
file), except `Urine`, summed over the bin (mL per hour), and `MechVent`, its maximum. The 00:00
descriptor rows (RecordID, Age, Gender, Height, ICUType and the first Weight at 00:00) are not time
series; a Weight charted later (or a second one at 00:00) is the time series "Weight". Values are
cleaned first (`ehrlib.physionet2012.cleaning`, every rule counted).

Parameters (raw name -> variable, in `VARIABLES` order; `PARAMETER_MAP`):

| raw | variable | unit | in a bin |
|---|---|---|---|
| HR | Heart Rate | bpm | last |
| SysABP, NISysABP | Systolic blood pressure | mmHg | last; invasive preferred in an hour with both |
| DiasABP, NIDiasABP | Diastolic blood pressure | mmHg | last; invasive preferred |
| MAP, NIMAP | Mean blood pressure | mmHg | last; invasive preferred |
| RespRate | Respiratory rate | /min | last |
| Temp | Temperature | °C | last |
| SaO2 | Arterial oxygen saturation (a blood gas; not the pulse oximetry "Oxygen saturation") | % | last |
| GCS | Glascow coma scale total (the benchmark's spelling) | 3-15 | last |
| FiO2 | Fraction inspired oxygen | 0-1 | last |
| MechVent | Mechanical ventilation | 0/1 | max |
| Urine | Urine output | mL | sum |
| Weight (after the descriptor) | Weight | kg | last |
| pH | pH | | last |
| PaO2 | Partial pressure of oxygen | mmHg | last |
| PaCO2 | Partial pressure of carbon dioxide | mmHg | last |
| Glucose, Lactate, Creatinine | same names | mg/dL, mmol/L, mg/dL | last |
| K, Na, HCO3 | Potassium, Sodium, Bicarbonate | mEq/L | last |
| BUN | Blood urea nitrogen | mg/dL | last |
| WBC | White blood cells | x10^3/uL | last |
| HCT | Haematocrit | % | last |
| Platelets | Platelets | x10^3/uL | last |
| Mg | Magnesium | mg/dL | last |
| Albumin | Albumin | g/dL | last |
| ALP, ALT, AST | Alkaline phosphatase, Alanine aminotransferase, Aspartate aminotransferase | IU/L | last |
| Bilirubin, Cholesterol | same names | mg/dL | last |
| TroponinI, TroponinT | Troponin I, Troponin T | ug/L | last |

Static features (`STATIC_NAMES`): `Age`, `Male` (Gender 1 -> 1, 0 -> 0, -1 -> NaN), `Height` (cm),
`Weight` (kg, the 00:00 descriptor) and one-hot `ICU: coronary care`, `ICU: cardiac surgery`,
`ICU: medical`, `ICU: surgical` (all NaN when the ICU type is unknown); NaN where unknown or removed.

Speed: a set's record bytes (from the tarball in memory) are concatenated and parsed once by pyarrow's
CSV reader, the record of each row attached by `np.repeat` over the line counts; cleaning, binning
(one stable sort on a composite key) and the scatter into arrays are vectorised. Unknown parameter
names, unparsable times or values are one `PhysionetDataError` line naming the file (member) and line.

Cache: one `.npz` per set and subset in `cache_dir` (default `<project root>/data/cache/physionet2012`),
read with `allow_pickle=False`; its JSON header holds names and tables. Its key hashes `READER_VERSION`,
the set, `records`, and the SHA-256 of the tarball and outcomes file (an extracted folder: each record
file's name, size, modification and change time, the fast path). A damaged cache is ignored and rebuilt.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from ehrlib.icu.episodes import EpisodeSet
from ehrlib.files import atomic_open
from ehrlib.logs import get_logger
from ehrlib.physionet2012.cleaning import CLEANING_RULES, DESCRIPTOR_WEIGHT, Rule
from ehrlib.physionet2012.files import (SETS, PhysionetDataError, PhysionetFiles, RecordFiles, match_outcomes,
                                        read_outcomes, read_record_files)
from ehrlib.profiles import project_root

__all__ = ["DESCRIPTORS", "ICU_TYPES", "N_HOURS", "PARAMETER_MAP", "READER_VERSION", "STATIC_NAMES", "VARIABLES",
           "PhysionetSet", "read_physionet2012"]

log = get_logger(__name__)

#: Bump when the reader's output for the same files changes (invalidates every cache).
READER_VERSION = 1
N_HOURS = 48
#: Raw parameter -> variable, in `VARIABLES` order (invasive pressure before non-invasive: preferred).
PARAMETER_MAP: dict[str, str] = {
    "HR": "Heart Rate", "SysABP": "Systolic blood pressure", "NISysABP": "Systolic blood pressure",
    "DiasABP": "Diastolic blood pressure", "NIDiasABP": "Diastolic blood pressure",
    "MAP": "Mean blood pressure", "NIMAP": "Mean blood pressure", "RespRate": "Respiratory rate",
    "Temp": "Temperature", "SaO2": "Arterial oxygen saturation", "GCS": "Glascow coma scale total",
    "FiO2": "Fraction inspired oxygen", "MechVent": "Mechanical ventilation", "Urine": "Urine output",
    "Weight": "Weight", "pH": "pH", "PaO2": "Partial pressure of oxygen",
    "PaCO2": "Partial pressure of carbon dioxide", "Glucose": "Glucose", "Lactate": "Lactate",
    "Creatinine": "Creatinine", "K": "Potassium", "Na": "Sodium", "HCO3": "Bicarbonate",
    "BUN": "Blood urea nitrogen", "WBC": "White blood cells", "HCT": "Haematocrit", "Platelets": "Platelets",
    "Mg": "Magnesium", "Albumin": "Albumin", "ALP": "Alkaline phosphatase", "ALT": "Alanine aminotransferase",
    "AST": "Aspartate aminotransferase", "Bilirubin": "Bilirubin", "Cholesterol": "Cholesterol",
    "TroponinI": "Troponin I", "TroponinT": "Troponin T",
}
#: The variables of `EpisodeSet.variables`, in this fixed order.
VARIABLES: tuple[str, ...] = tuple(dict.fromkeys(PARAMETER_MAP.values()))
#: The 00:00 descriptors (besides the first Weight at 00:00).
DESCRIPTORS: tuple[str, ...] = ("RecordID", "Age", "Gender", "Height", "ICUType")
ICU_TYPES: dict[int, str] = {1: "coronary care", 2: "cardiac surgery", 3: "medical", 4: "surgical"}
STATIC_NAMES: tuple[str, ...] = ("Age", "Male", "Height", "Weight", *(f"ICU: {v}" for v in ICU_TYPES.values()))
_RAW = tuple(PARAMETER_MAP)  # time-series parameters, index = code
_ALL = (*_RAW, *DESCRIPTORS)  # every known parameter name
_AGGREGATE = {"Urine": "sum", "MechVent": "max"}
_DESC_COLUMNS = ("age", "gender", "height", "weight", "icu_type")  # descriptor columns, cleaned and raw
_DESC_PARAMS = ("Age", "Gender", "Height", DESCRIPTOR_WEIGHT, "ICUType")
_HEADER = b"Time,Parameter,Value"
_TIME = re.compile(r"^([0-9]{1,3}):([0-5][0-9])$")


@dataclass(eq=False)
class PhysionetSet:
    """One PhysioNet 2012 set (or several, after `concat`): episodes with static descriptors, the
    descriptors and outcomes frames (indexed by RecordID, in the episodes' order) and the cleaning counts."""

    episodes: EpisodeSet
    descriptors: pd.DataFrame
    outcomes: pd.DataFrame
    cleaning: pd.DataFrame

    def __post_init__(self) -> None:
        """Check that the three parts describe the same records in the same order."""
        ids = self.episodes.subject_ids
        for name, frame in (("descriptors", self.descriptors), ("outcomes", self.outcomes)):
            if not np.array_equal(frame.index.to_numpy(dtype=np.int64), ids):
                raise ValueError(f"PhysionetSet: {name} index does not match the episodes' RecordIDs")

    def __len__(self) -> int:
        """Number of stays."""
        return len(self.episodes)

    def take(self, idx: np.ndarray | Sequence[int] | slice) -> "PhysionetSet":
        """The stays selected by integer indices, a boolean mask or a slice (copied, kept aligned)."""
        episodes = self.episodes.take(idx)
        pos = np.arange(len(self))[idx]
        return PhysionetSet(episodes, self.descriptors.iloc[pos].copy(), self.outcomes.iloc[pos].copy(),
                            self.cleaning.copy())

    @staticmethod
    def concat(sets: Sequence["PhysionetSet"]) -> "PhysionetSet":
        """Stack sets (episodes as `EpisodeSet.concat`, frames in the same order, cleaning counts added)."""
        sets = list(sets)
        if not sets:
            raise ValueError("PhysionetSet.concat needs at least one PhysionetSet")
        cleaning = (pd.concat([s.cleaning for s in sets]).groupby(["parameter", "rule"], sort=False, as_index=False)
                    ["count"].sum())
        return PhysionetSet(EpisodeSet.concat([s.episodes for s in sets]),
                            pd.concat([s.descriptors for s in sets]), pd.concat([s.outcomes for s in sets]),
                            cleaning)


# --------------------------------------------------------------------------------------------------
# Parsing the concatenated records
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Rows:
    """Every data row of a set's records: record index, minutes since admission, parameter, value."""

    record: np.ndarray  # int64
    minutes: np.ndarray  # int64
    param: np.ndarray  # int64 index into _ALL
    value: np.ndarray  # float64


class _Locator:
    """Maps a row of the concatenated records back to its record file and line (for messages)."""

    def __init__(self, recs: RecordFiles, counts: np.ndarray, lines: dict[int, np.ndarray]) -> None:
        self.recs, self.lines = recs, lines
        self.ends = np.cumsum(counts)

    def __call__(self, row: int) -> str:
        i = int(np.searchsorted(self.ends, row, side="right"))
        k = row - (int(self.ends[i - 1]) if i else 0)
        line = int(self.lines[i][k]) if i in self.lines else k + 2
        return f"{self.recs.where(i)}: line {line}"


def _bodies(recs: RecordFiles) -> tuple[bytes, np.ndarray, dict[int, np.ndarray]]:
    """Each record's data lines (header checked and removed, blank lines dropped) concatenated, the
    rows per record, and for records that had blank lines the file line of each row."""
    parts, counts, lines = [], np.zeros(len(recs.data), dtype=np.int64), {}
    for i, data in enumerate(recs.data):
        head, _, body = data.partition(b"\n")
        if head.rstrip(b"\r").removeprefix(b"\xef\xbb\xbf").replace(b" ", b"") != _HEADER:
            raise PhysionetDataError(f"{recs.where(i)}: line 1: header {head[:60].decode('utf-8', 'replace')!r}, "
                                     f"expected 'Time,Parameter,Value'")
        if body and not body.endswith(b"\n"):
            body += b"\n"
        if body.startswith((b"\n", b"\r\n")) or b"\n\n" in body or b"\n\r\n" in body:
            raw = body.split(b"\n")[:-1]
            keep = np.flatnonzero([bool(ln.strip()) for ln in raw])
            lines[i] = keep + 2
            body = b"".join(raw[k] + b"\n" for k in keep)
        counts[i] = body.count(b"\n")
        parts.append(body)
    return b"".join(parts), counts, lines


def _read_table(buf: bytes, value_type):
    """Parse the concatenated rows with pyarrow (Time and Parameter dictionary-encoded)."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    return pacsv.read_csv(
        pa.py_buffer(buf),
        read_options=pacsv.ReadOptions(column_names=["Time", "Parameter", "Value"], use_threads=True),
        convert_options=pacsv.ConvertOptions(
            column_types={"Time": pa.dictionary(pa.int32(), pa.string()),
                          "Parameter": pa.dictionary(pa.int32(), pa.string()), "Value": value_type},
            null_values=[""], strings_can_be_null=True)).unify_dictionaries()


def _codes(column) -> tuple[np.ndarray, list[str]]:
    """A unified dictionary column's codes (int64, -1 for empty cells) and its words."""
    chunks = column.chunks
    if not chunks:
        return np.zeros(0, dtype=np.int64), []
    codes = np.concatenate([c.indices.fill_null(-1).to_numpy(zero_copy_only=False) for c in chunks])
    return codes.astype(np.int64), [str(w) for w in chunks[0].dictionary.to_pylist()]


def _diagnose(buf: bytes, locate: _Locator, exc: Exception) -> PhysionetDataError:
    """Why the bulk parse failed: a line without three fields, or a value that is not a number."""
    import pyarrow as pa

    try:
        table = _read_table(buf, pa.string())
    except Exception:  # a line with another number of fields: find it (an error path only)
        row = 0
        for ln in buf.split(b"\n")[:-1]:
            if ln.count(b",") != 2:
                return PhysionetDataError(f"{locate(row)}: expected 3 fields Time,Parameter,Value, got "
                                          f"{ln[:60].decode('utf-8', 'replace')!r}")
            row += 1
        return PhysionetDataError(f"{locate(0).split(': line')[0]}: unreadable records ({exc})")
    text = table.column("Value").to_pylist()
    nums = pd.to_numeric(pd.Series(text, dtype=object), errors="coerce").to_numpy(dtype=np.float64)
    bad = np.flatnonzero(~np.isfinite(nums))
    row = int(bad[0]) if bad.size else 0
    return PhysionetDataError(f"{locate(row)}: value {text[row]!r} is not a number")


def _parse(recs: RecordFiles) -> tuple[_Rows, _Locator]:
    """Parse a set's records into rows (one bulk pyarrow parse), checking times, names and values."""
    import pyarrow as pa

    buf, counts, lines = _bodies(recs)
    locate = _Locator(recs, counts, lines)
    n_rows = int(counts.sum())
    if n_rows == 0:
        empty = np.zeros(0, dtype=np.int64)
        return _Rows(empty, empty, empty, np.zeros(0)), locate
    try:
        table = _read_table(buf, pa.float64())
    except Exception as exc:  # pyarrow.lib.ArrowInvalid and friends
        raise _diagnose(buf, locate, exc) from None
    if table.num_rows != n_rows:
        raise _diagnose(buf, locate, ValueError(f"{table.num_rows} rows parsed, {n_rows} lines counted"))
    value = table.column("Value").to_numpy()
    bad = np.flatnonzero(~np.isfinite(value))
    if bad.size:
        raise PhysionetDataError(f"{locate(int(bad[0]))}: value is empty or not a finite number")
    minutes = _minutes(*_codes(table.column("Time")), locate)
    param = _param_codes(*_codes(table.column("Parameter")), locate)
    record = np.repeat(np.arange(len(counts), dtype=np.int64), counts)
    return _Rows(record, minutes, param, value), locate


def _minutes(codes: np.ndarray, words: list[str], locate: _Locator) -> np.ndarray:
    """Minutes since admission of each row from its `HH:MM` time (an error names the first bad line)."""
    table = np.full(len(words) + 1, -1, dtype=np.int64)
    for k, w in enumerate(words):
        m = _TIME.match(w.strip())
        if m:
            table[k] = int(m.group(1)) * 60 + int(m.group(2))
    out = table[codes]  # code -1 (empty) reads the last entry, -1
    bad = np.flatnonzero(out < 0)
    if bad.size:
        word = words[codes[bad[0]]] if codes[bad[0]] >= 0 else ""
        raise PhysionetDataError(f"{locate(int(bad[0]))}: time {word!r} is not HH:MM")
    return out


def _param_codes(codes: np.ndarray, words: list[str], locate: _Locator) -> np.ndarray:
    """Index into the known parameter names of each row (an unknown name is an error naming its line)."""
    known = {name: k for k, name in enumerate(_ALL)}
    table = np.array([known.get(w.strip(), -1) for w in words] + [-1], dtype=np.int64)
    out = table[codes]
    bad = np.flatnonzero(out < 0)
    if bad.size:
        word = words[codes[bad[0]]] if codes[bad[0]] >= 0 else ""
        raise PhysionetDataError(f"{locate(int(bad[0]))}: unknown parameter {word!r}")
    return out


# --------------------------------------------------------------------------------------------------
# Descriptors, cleaning, binning
# --------------------------------------------------------------------------------------------------


def _descriptors(rows: _Rows, recs: RecordFiles, locate: _Locator) -> tuple[np.ndarray, np.ndarray]:
    """The raw descriptors (n, 5) in `_DESC_COLUMNS` order (NaN where not charted) and which rows they are.

    A descriptor charted after 00:00 or twice, or a RecordID that is not the file's, is an error."""
    raw = np.full((len(recs.record_ids), len(_DESC_COLUMNS)), np.nan)
    is_desc = np.zeros(rows.param.size, dtype=bool)
    for name in DESCRIPTORS:
        idx = np.flatnonzero(rows.param == _ALL.index(name))
        late = idx[rows.minutes[idx] != 0]
        if late.size:
            m = int(rows.minutes[late[0]])
            raise PhysionetDataError(f"{locate(int(late[0]))}: descriptor {name} at {m // 60:02d}:{m % 60:02d}, "
                                     f"expected 00:00")
        rec = rows.record[idx]
        dup = idx[1:][rec[1:] == rec[:-1]]
        if dup.size:
            raise PhysionetDataError(f"{locate(int(dup[0]))}: descriptor {name} charted twice")
        is_desc[idx] = True
        if name == "RecordID":
            wrong = np.flatnonzero(rows.value[idx] != recs.record_ids[rec])
            if wrong.size:
                raise PhysionetDataError(f"{locate(int(idx[wrong[0]]))}: RecordID {rows.value[idx[wrong[0]]]:g} "
                                         f"is not the file's ({recs.record_ids[rec[wrong[0]]]})")
        else:
            raw[rec, _DESC_PARAMS.index(name if name != "Weight" else DESCRIPTOR_WEIGHT)] = rows.value[idx]
    idx = np.flatnonzero((rows.param == _ALL.index("Weight")) & (rows.minutes == 0))
    first = idx[np.r_[True, rows.record[idx][1:] != rows.record[idx][:-1]]] if idx.size else idx
    raw[rows.record[first], _DESC_PARAMS.index(DESCRIPTOR_WEIGHT)] = rows.value[first]
    is_desc[first] = True
    return raw, is_desc


def _clean_descriptors(raw: np.ndarray, counts: dict[Rule, int]) -> np.ndarray:
    """Apply the descriptors' cleaning rules column by column (counted in `counts`)."""
    clean = raw.copy()
    for j, param in enumerate(_DESC_PARAMS):
        for rule in _RULES.get(param, ()):
            clean[:, j], counts[rule] = rule.apply(clean[:, j])
    return clean


def _clean_series(rows: _Rows, is_desc: np.ndarray, counts: dict[Rule, int]) -> np.ndarray:
    """The time-series values after the cleaning rules (NaN for descriptor rows and removed values)."""
    v = np.where(is_desc, np.nan, rows.value)
    order = np.argsort(rows.param.astype(np.uint8), kind="stable")  # a radix sort
    bounds = np.searchsorted(rows.param[order], np.arange(len(_RAW) + 1))
    for k, name in enumerate(_RAW):
        idx = order[bounds[k]:bounds[k + 1]]
        vals = v[idx]
        for rule in _RULES.get(name, ()):
            vals, counts[rule] = rule.apply(vals)
        v[idx] = vals
    return v


def _bin(rows: _Rows, v: np.ndarray, n: int) -> np.ndarray:
    """Scatter the cleaned rows into (n, 48, raw parameters) float32: the last value by time in each
    hour (ties: later in the file), Urine summed, MechVent the maximum; NaN where nothing was charted.

    Rows are in file order; when a record's times are not ascending they are first put in a stable
    (record, time) order, so that the last row of an hour is the last by time (ties: later in the file).
    """
    n_raw = len(_RAW)
    keep = np.flatnonzero(np.isfinite(v) & (rows.minutes <= N_HOURS * 60))
    rec, mins = rows.record[keep], rows.minutes[keep]
    if mins.size > 1 and not np.all((np.diff(mins) >= 0) | (np.diff(rec) != 0)):
        order = np.lexsort((mins, rec))  # stable: equal times keep their file order
        keep, rec, mins = keep[order], rec[order], mins[order]
    key = (rec * N_HOURS + np.minimum(mins // 60, N_HOURS - 1)) * n_raw + rows.param[keep]
    vals = v[keep]
    last = np.full(n * N_HOURS * n_raw, -1, dtype=np.int32 if key.size < 2**31 else np.int64)
    np.maximum.at(last, key, np.arange(key.size, dtype=last.dtype))  # the last row of each hour and parameter
    out = np.full(last.size, np.nan, dtype=np.float32)
    seen = np.flatnonzero(last >= 0)
    out[seen] = vals[last[seen]]
    param = rows.param[keep]
    for name, how in _AGGREGATE.items():
        sel = np.flatnonzero(param == _RAW.index(name))  # in (record, time) order: keys non-decreasing
        if sel.size:
            k = key[sel]
            starts = np.flatnonzero(np.r_[True, k[1:] != k[:-1]])
            out[k[starts]] = (np.add if how == "sum" else np.maximum).reduceat(vals[sel], starts)
    return out.reshape(n, N_HOURS, n_raw)


def _combine(raw: np.ndarray) -> np.ndarray:
    """Raw parameters -> `VARIABLES`: a variable charted by two parameters (invasive and non-invasive
    pressure) takes the first (invasive) where it has a value in the hour, else the second."""
    sources = [[k for k, name in enumerate(_RAW) if PARAMETER_MAP[name] == var] for var in VARIABLES]
    out = raw[:, :, [src[0] for src in sources]]
    for j, src in enumerate(sources):
        for k in src[1:]:
            out[:, :, j] = np.where(np.isnan(out[:, :, j]), raw[:, :, k], out[:, :, j])
    return out


def _static(clean: np.ndarray) -> np.ndarray:
    """The static features `STATIC_NAMES` from the cleaned descriptors (one-hot ICU type, NaN if unknown)."""
    icu = clean[:, _DESC_COLUMNS.index("icu_type")]
    onehot = (icu[:, None] == np.arange(1, len(ICU_TYPES) + 1)[None, :]).astype(np.float64)
    onehot[np.isnan(icu)] = np.nan
    cols = [clean[:, _DESC_COLUMNS.index(c)] for c in ("age", "gender", "height", "weight")]
    return np.column_stack([*cols, onehot]).astype(np.float32)


def _descriptor_frame(ids: np.ndarray, raw: np.ndarray, clean: np.ndarray) -> pd.DataFrame:
    """The descriptors frame: cleaned columns, `sex` and `icu` as categories, raw columns (-1 as NaN)."""
    df = pd.DataFrame(clean, columns=list(_DESC_COLUMNS), index=pd.Index(ids, name="RecordID"))
    gender = clean[:, _DESC_COLUMNS.index("gender")]
    icu = clean[:, _DESC_COLUMNS.index("icu_type")]
    df["sex"] = pd.Categorical.from_codes(np.where(np.isnan(gender), -1, gender).astype(int), ["female", "male"])
    df["icu"] = pd.Categorical.from_codes(np.where(np.isnan(icu), 0, icu).astype(int) - 1, list(ICU_TYPES.values()))
    for j, c in enumerate(_DESC_COLUMNS):
        df[f"{c}_raw"] = np.where(raw[:, j] == -1, np.nan, raw[:, j])
    return df


def _cleaning_frame(counts: dict[Rule, int]) -> pd.DataFrame:
    """One row per rule (in `CLEANING_RULES` order): parameter, rule text, count."""
    rows = [(r.parameter, r.text, int(counts.get(r, 0))) for r in CLEANING_RULES]
    return pd.DataFrame(rows, columns=["parameter", "rule", "count"])


def _per_variable(counts: dict[Rule, int]) -> dict[str, dict[str, int]]:
    """Time-series cleaning counts per variable ({"removed", "clipped", "corrected"}) for `EpisodeSet.cleaning`."""
    kind = {"remove": "removed", "outside": "removed", "clip": "clipped", "rescale": "corrected"}
    out: dict[str, dict[str, int]] = {}
    for rule, n in counts.items():
        if n and rule.parameter in PARAMETER_MAP:
            entry = out.setdefault(PARAMETER_MAP[rule.parameter], {"removed": 0, "clipped": 0, "corrected": 0})
            entry[kind[rule.action]] += int(n)
    return dict(sorted(out.items()))


_RULES: dict[str, tuple[Rule, ...]] = {p: tuple(r for r in CLEANING_RULES if r.parameter == p)
                                       for p in dict.fromkeys(r.parameter for r in CLEANING_RULES)}


def _read_set(files: PhysionetFiles, s: str, records: int | None) -> PhysionetSet:
    """Read, clean and bin one set from its files (no cache)."""
    recs = read_record_files(files, s)
    if records is not None:
        recs = RecordFiles(recs.source, recs.record_ids[:records], recs.names[:records], recs.data[:records])
    outcomes = read_outcomes(files.outcomes(s))
    pos = match_outcomes(recs.record_ids, outcomes, recs.source, files.outcomes(s), extra_ok=records is not None)
    outcomes = outcomes.iloc[pos]
    rows, locate = _parse(recs)
    raw_desc, is_desc = _descriptors(rows, recs, locate)
    counts: dict[Rule, int] = {}
    clean_desc = _clean_descriptors(raw_desc, counts)
    values = _combine(_bin(rows, _clean_series(rows, is_desc, counts), len(recs.record_ids)))
    episodes = EpisodeSet(
        values=values, mask=~np.isnan(values), y=outcomes["death"].to_numpy(),
        stays=np.array([f"{r}_episode1" for r in recs.record_ids.tolist()]), variables=list(VARIABLES),
        true_risk=None, split=s, cleaning=_per_variable(counts), static=_static(clean_desc),
        static_names=list(STATIC_NAMES))
    return PhysionetSet(episodes, _descriptor_frame(recs.record_ids, raw_desc, clean_desc), outcomes,
                        _cleaning_frame(counts))


# --------------------------------------------------------------------------------------------------
# Cache and the public entry point
# --------------------------------------------------------------------------------------------------


def _cache_key(files: PhysionetFiles, s: str, records: int | None) -> str:
    """SHA-256 of the reader version, the set, `records` and the set's input files ("" if one is missing)."""
    h = hashlib.sha256(f"ehrlib.physionet2012.reader v{READER_VERSION} set={s} records={records}\n".encode())
    src = files.records(s)
    try:
        if src.is_dir():  # the fast path: names, sizes and times of the extracted record files
            for p in sorted(src.glob("*.txt")):
                st = p.stat()
                h.update(f"{p.name}\t{st.st_size}\t{st.st_mtime_ns}\t{st.st_ctime_ns}\t{st.st_ino}\n".encode())
        else:
            h.update(b"tarball\0" + hashlib.sha256(src.read_bytes()).digest())
        h.update(b"outcomes\0" + hashlib.sha256(files.outcomes(s).read_bytes()).digest())
    except OSError:
        return ""
    return h.hexdigest()


def _cache_path(cache_dir: Path, s: str, records: int | None, key: str) -> Path:
    return cache_dir / f"physionet2012-{s}-{'all' if records is None else records}-{key[:24]}.npz"


def _save_cache(path: Path, key: str, ps: PhysionetSet) -> None:
    """Write a set's arrays and a JSON header atomically; remove this set's older caches."""
    es = ps.episodes
    meta = {"key": key, "version": READER_VERSION, "split": es.split, "variables": es.variables,
            "static_names": es.static_names, "episode_cleaning": es.cleaning,
            "cleaning": ps.cleaning.to_dict(orient="list"), "outcomes": list(ps.outcomes.columns)}
    with atomic_open(path, durable=False) as fh:  # a lost cache is only rebuilt
        np.savez(fh, meta=np.array(json.dumps(meta, sort_keys=True)), values=es.values, y=es.y,
                 record_ids=es.subject_ids, static=es.static,
                 desc_clean=ps.descriptors[list(_DESC_COLUMNS)].to_numpy(np.float64),
                 desc_raw=ps.descriptors[[f"{c}_raw" for c in _DESC_COLUMNS]].to_numpy(np.float64),
                 outcomes=ps.outcomes.to_numpy(np.float64))
    prefix = path.name[: path.name.rfind("-") + 1]
    for old in path.parent.glob(prefix + "*.npz"):
        if old != path:
            old.unlink(missing_ok=True)


def _load_cache(path: Path, key: str) -> PhysionetSet | None:
    """A set from its cache, or None when absent, stale or damaged (then with a warning)."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(str(z["meta"]))
            if meta["key"] != key or meta["version"] != READER_VERSION:
                return None
            ids, values = z["record_ids"], z["values"]
            episodes = EpisodeSet(values=values, mask=~np.isnan(values), y=z["y"],
                                  stays=np.array([f"{r}_episode1" for r in ids.tolist()]),
                                  variables=meta["variables"], true_risk=None, split=meta["split"],
                                  cleaning=meta["episode_cleaning"], static=z["static"],
                                  static_names=meta["static_names"])
            outcomes = pd.DataFrame(z["outcomes"], columns=meta["outcomes"], index=pd.Index(ids, name="RecordID"))
            outcomes["death"] = outcomes["death"].astype(np.int8)
            return PhysionetSet(episodes, _descriptor_frame(ids, z["desc_raw"], z["desc_clean"]), outcomes,
                                pd.DataFrame(meta["cleaning"], columns=["parameter", "rule", "count"]))
    except Exception as exc:  # damaged or foreign file: rebuild
        warnings.warn(f"ignoring unreadable PhysioNet 2012 cache {path} ({type(exc).__name__}: {exc})",
                      RuntimeWarning, stacklevel=3)
        return None


def _cached_set(files: PhysionetFiles, s: str, records: int | None, cache_dir: Path, level: int) -> PhysionetSet:
    """One set from the cache when it is current, else read (and cached; an unwritable cache only warns)."""
    t0 = time.perf_counter()
    key = _cache_key(files, s, records)
    where = _cache_path(cache_dir, s, records, key)
    hit = _load_cache(where, key) if key else None
    if hit is not None:
        log.log(level, "PhysioNet 2012 set %s: %s stays from cache %s (%.2f s)", s, f"{len(hit):,}", where.name,
                time.perf_counter() - t0)
        return hit
    ps = _read_set(files, s, records)
    removed = int(ps.cleaning.loc[~ps.cleaning["rule"].str.startswith(("removed: -1 ", "corrected")), "count"].sum())
    log.log(level, "PhysioNet 2012 set %s: %s stays read from %s in %.1f s (%s impossible values removed or "
            "clipped, see .cleaning)", s, f"{len(ps):,}", files.records(s), time.perf_counter() - t0, f"{removed:,}")
    if key:
        try:
            _save_cache(where, key, ps)
        except OSError as exc:
            warnings.warn(f"could not write the PhysioNet 2012 cache {where} ({exc})", RuntimeWarning, stacklevel=3)
    return ps


def read_physionet2012(files: PhysionetFiles, sets: Sequence[str] = ("a", "b"), *, records: int | None = None,
                       cache_dir: Path | None = None, progress: bool = False) -> dict[str, PhysionetSet]:
    """Read PhysioNet 2012 sets into hourly episodes with descriptors, outcomes and cleaning counts.

    Returns {set: PhysionetSet} in the order of `sets`. `records`, if set, keeps the first N records of
    each set by RecordID (a fixed subset for quick runs). Results are cached in `cache_dir` (default
    `<project root>/data/cache/physionet2012`, see the module docstring). Malformed input raises
    `PhysionetDataError` naming the file, line and problem. Progress goes to the logger (INFO when
    `progress`, DEBUG otherwise).
    """
    bad = [s for s in sets if s not in SETS]
    if bad or not sets:
        raise ValueError(f"sets must be a non-empty selection of {SETS}, got {tuple(sets)!r}")
    if records is not None and (isinstance(records, bool) or not isinstance(records, (int, np.integer))
                                or records < 1):
        raise ValueError(f"records must be a positive integer or None, got {records!r}")
    cache_dir = Path(cache_dir) if cache_dir is not None else project_root() / "data" / "cache" / "physionet2012"
    level = logging.INFO if progress else logging.DEBUG
    return {s: _cached_set(files, s, None if records is None else int(records), cache_dir, level)
            for s in dict.fromkeys(sets)}
