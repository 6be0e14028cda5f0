"""JSON files: atomic, indented, key-sorted writes of plain values (numpy values converted, NaN as null),
reads that name the file in every error, top-level merges, and the timings kept beside a generated folder.
JSON is the only format for fitted state (no pickles).
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

from ehrlib.files import atomic_write_text, check_regular_file

#: Largest JSON file read (fitted state, results); anything bigger is not one of ehrlib's files.
MAX_JSON_BYTES = 1 << 30


def to_jsonable(obj: Any) -> Any:
    """Convert numpy scalars/arrays and non-finite floats into plain JSON values (NaN -> null)."""
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if hasattr(obj, "tolist") and not isinstance(obj, (str, bytes)):
        return to_jsonable(obj.tolist())
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, Path):
        return str(obj)
    return obj


def write_json(path: str | os.PathLike, obj: Any) -> Path:
    """Write `obj` as indented, key-sorted JSON atomically; numpy values are converted."""
    text = json.dumps(to_jsonable(obj), indent=2, sort_keys=True, allow_nan=False)
    return atomic_write_text(path, text + "\n")


def read_json(path: str | os.PathLike) -> Any:
    """Read a JSON file, naming the file in the error if it is missing or malformed."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    check_regular_file(path, "JSON file", MAX_JSON_BYTES)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: line {exc.lineno}: malformed JSON ({exc.msg})") from None


def timings_path(folder: str | os.PathLike) -> Path:
    """Where a generated folder's timings are kept: `.<name>.timings.json` beside it, never inside, so
    that the same seed gives byte-identical datasets."""
    folder = Path(folder)
    return folder.parent / f".{folder.name}.timings.json"


def write_timings(folder: str | os.PathLike, timings: dict[str, float]) -> Path:
    """Record how long making `folder` took (seconds), beside it (see `timings_path`)."""
    return write_json(timings_path(folder), {k: round(float(v), 3) for k, v in timings.items()})


def read_timings(folder: str | os.PathLike) -> dict[str, float]:
    """The timings recorded by `write_timings` for `folder` ({} if none were recorded)."""
    path = timings_path(folder)
    data = read_json(path) if path.is_file() else {}
    return {str(k): float(v) for k, v in data.items()} if isinstance(data, dict) else {}


def update_json(path: str | os.PathLike, updates: dict[str, Any]) -> dict[str, Any]:
    """Merge `updates` into the top level of the JSON object at `path` (created if absent).

    Several notebooks contribute sections of one results file; each replaces only its own keys.
    """
    path = Path(path)
    current = read_json(path) if path.exists() else {}
    if not isinstance(current, dict):
        raise ValueError(f"{path}: expected a JSON object at the top level")
    current.update(to_jsonable(updates))
    write_json(path, current)
    return current
