"""Atomic file and folder writing, JSON helpers, and `Record`, the typed JSON base shared by every module.

Nothing is ever left half-written: files are written beside their destination under a temporary
name and renamed into place, and datasets are built in a temporary folder that is renamed at the
end. JSON is the only serialisation format for fitted state (no pickles).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import tempfile
import types
import typing
from pathlib import Path
from typing import Any, Iterator


class DatasetExistsError(FileExistsError):
    """Raised when a dataset folder already exists and overwriting was not asked for."""


def _umask() -> int:
    """The process's file-creation mask (read by setting and restoring it)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_directory(final: str | os.PathLike, overwrite: bool = False) -> Iterator[Path]:
    """Yield a fresh temporary folder that replaces `final` only if the block succeeds.

    The temporary folder is created in the same parent (so the rename is atomic on one file
    system). If `final` exists and `overwrite` is false, `DatasetExistsError` is raised before
    anything is written. On any exception the temporary folder is removed and `final` is untouched.
    """
    final = Path(final)
    if final.exists() and not overwrite:
        raise DatasetExistsError(f"{final} already exists; pass overwrite=True (--overwrite) to replace it")
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.tmp-", dir=final.parent))
    os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes 0700; a dataset gets ordinary folder permissions
    try:
        yield tmp
        if final.exists():
            old = final.with_name(f".{final.name}.old-{os.getpid()}")
            os.replace(final, old)
            os.replace(tmp, final)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike) -> Iterator[typing.BinaryIO]:
    """Yield a binary file that appears at `path` only when the block succeeds (the one atomic writer).

    The data go to a hidden temporary file `.<name>.<random>.tmp` in the same folder, which is
    flushed to disk and renamed over `path` at the end; on any error it is removed and `path` keeps
    its old content. A kill leaves only the temporary file, which `remove_leftovers` finds.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the file ordinary permissions
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write `data` to `path` through a temporary file in the same folder and an atomic rename."""
    with atomic_open(path) as fh:
        fh.write(data)
    return Path(path)


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write UTF-8 `text` to `path` atomically (see `atomic_write_bytes`)."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def _jsonable(obj: Any) -> Any:
    """Convert numpy scalars/arrays and non-finite floats into plain JSON values (NaN -> null)."""
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if hasattr(obj, "tolist") and not isinstance(obj, (str, bytes)):
        return _jsonable(obj.tolist())
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, Path):
        return str(obj)
    return obj


def write_json(path: str | os.PathLike, obj: Any) -> Path:
    """Write `obj` as indented, key-sorted JSON atomically; numpy values are converted."""
    text = json.dumps(_jsonable(obj), indent=2, sort_keys=True, allow_nan=False)
    return atomic_write_text(path, text + "\n")


def read_json(path: str | os.PathLike) -> Any:
    """Read a JSON file, naming the file in the error if it is missing or malformed."""
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: no such file") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: line {exc.lineno}: malformed JSON ({exc.msg})") from None


def update_json(path: str | os.PathLike, updates: dict[str, Any]) -> dict[str, Any]:
    """Merge `updates` into the top level of the JSON object at `path` (created if absent).

    Several notebooks contribute sections of one results file; each replaces only its own keys.
    """
    path = Path(path)
    current = read_json(path) if path.exists() else {}
    if not isinstance(current, dict):
        raise ValueError(f"{path}: expected a JSON object at the top level")
    current.update(_jsonable(updates))
    write_json(path, current)
    return current


# ---------------------------------------------------------------- typed JSON records


class RecordError(ValueError):
    """A JSON record whose fields are missing, unknown or of the wrong type or value; the message
    names the file (when there is one), the field and the problem."""


def _fail(where: str, path: str, problem: str) -> None:
    prefix = f"{where}: " if where else ""
    raise RecordError(f"{prefix}field {path!r}: {problem}" if path else f"{prefix}{problem}")


def _check_float(value: Any, where: str, path: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        _fail(where, path, f"expected a number, got {type(value).__name__} {value!r:.40}")
    return float(value)


def _convert(value: Any, hint: Any, where: str, path: str) -> Any:
    """Check `value` (parsed JSON) against the type `hint` and build it (nested records, arrays)."""
    import numpy as np

    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        if len(inner) == 1:
            return _convert(value, inner[0], where, path)
        for option in inner:  # first option that accepts the value
            try:
                return _convert(value, option, where, path)
            except RecordError:
                continue
        _fail(where, path, f"{value!r:.40} matches none of {hint}")
    if isinstance(hint, type) and issubclass(hint, Record):
        return hint.from_dict(value, where=where, _path=path)
    if hint is float:
        return _check_float(value, where, path)
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            _fail(where, path, f"expected an integer, got {type(value).__name__} {value!r:.40}")
        return value
    if hint in (str, bool):
        if not isinstance(value, hint):
            _fail(where, path, f"expected {hint.__name__}, got {type(value).__name__} {value!r:.40}")
        return value
    if hint is np.ndarray:
        if not isinstance(value, list):
            _fail(where, path, f"expected an array (JSON list), got {type(value).__name__}")
        arr = np.asarray([np.nan if v is None else v for v in value], dtype=np.float64) if value else np.zeros(0)
        return arr
    if origin in (list, tuple):
        if not isinstance(value, list):
            _fail(where, path, f"expected a list, got {type(value).__name__} {value!r:.40}")
        if origin is tuple and not (len(args) == 2 and args[1] is Ellipsis):
            if len(value) != len(args):
                _fail(where, path, f"expected {len(args)} items, got {len(value)}")
            return tuple(_convert(v, a, where, f"{path}[{i}]") for i, (v, a) in enumerate(zip(value, args)))
        item = args[0] if args else Any
        items = [_convert(v, item, where, f"{path}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin is dict:
        if not isinstance(value, dict):
            _fail(where, path, f"expected an object, got {type(value).__name__} {value!r:.40}")
        item = args[1] if len(args) == 2 else Any
        return {str(k): _convert(v, item, where, f"{path}.{k}") for k, v in value.items()}
    if origin is typing.Literal:
        if value not in args:
            _fail(where, path, f"expected one of {list(args)}, got {value!r:.40}")
        return value
    raise TypeError(f"Record cannot load fields of type {hint!r} ({path})")


class Record:
    """Base for dataclasses that are saved as JSON and checked when they are read back.

    `to_dict` gives plain JSON values (nested records, numpy arrays and scalars converted);
    `from_dict` requires exactly the dataclass's fields (a missing or unknown field fails, naming
    it), checks each value against its type hint (numbers, strings, booleans, lists, tuples,
    dicts, `X | None`, `Literal`, nested records, `np.ndarray` from a list of numbers), then runs
    `validate()`, which subclasses override for value checks (ranges, shapes). `save` writes
    atomically; `load` names the file in every error. Used for fitted state and typed results.
    """

    def validate(self) -> None:
        """Check values beyond their types; raise `ValueError` naming the problem (default: none)."""

    def to_dict(self) -> dict[str, Any]:
        """The record as plain JSON-ready values."""
        import dataclasses

        out = {}
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            out[f.name] = _record_value(value)
        return _jsonable(out)

    @classmethod
    def from_dict(cls, data: Any, where: str = "", _path: str = "") -> Any:
        """Build and validate a record from parsed JSON; `where` (a file name) prefixes errors."""
        import dataclasses

        if not isinstance(data, dict):
            _fail(where, _path, f"expected a JSON object for {cls.__name__}, got {type(data).__name__}")
        hints = typing.get_type_hints(cls)
        fields = {f.name: f for f in dataclasses.fields(cls) if f.init}  # type: ignore[arg-type]
        unknown = sorted(set(data) - set(fields))
        if unknown:
            _fail(where, _path, f"unknown field(s) {unknown} for {cls.__name__} (known: {sorted(fields)})")
        kwargs = {}
        for name, f in fields.items():
            sub = f"{_path}.{name}" if _path else name
            if name not in data:
                if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                    _fail(where, sub, f"missing (required by {cls.__name__})")
                continue
            kwargs[name] = _convert(data[name], hints[name], where, sub)
        try:
            record = cls(**kwargs)
            record.validate()
        except RecordError:
            raise
        except (ValueError, TypeError) as exc:
            _fail(where, _path, f"invalid {cls.__name__}: {exc}")
        return record

    def save(self, path: str | os.PathLike) -> Path:
        """Write the record as JSON, atomically."""
        self.validate()
        return write_json(path, self.to_dict())

    @classmethod
    def load(cls, path: str | os.PathLike) -> Any:
        """Read and validate a record saved by `save`; errors name the file, the field and the problem."""
        return cls.from_dict(read_json(path), where=str(path))


def _record_value(value: Any) -> Any:
    if isinstance(value, Record):
        return value.to_dict()
    if isinstance(value, dict):
        return {k: _record_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_record_value(v) for v in value]
    return value
