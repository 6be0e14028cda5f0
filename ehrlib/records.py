"""`Record`, the typed JSON base shared by every module: a dataclass written as JSON atomically and
validated field by field on load (missing, unknown or mistyped fields fail, naming the file and the field);
`JsonFile` gives save/load to any class with `to_dict`/`from_dict`.
"""

from __future__ import annotations

import dataclasses
import os
import types
import typing
from pathlib import Path
from typing import Any

from ehrlib.jsonfiles import read_json, to_jsonable, write_json

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


class JsonFile:
    """Mixin giving `save`/`load` to a class with `to_dict()` and `from_dict(data, where=...)` (a fitted
    model whose state is a `Record`): atomic JSON writes, and load errors naming the file and field."""

    def save(self, path: str | os.PathLike) -> Path:
        """Write the state as JSON, atomically."""
        return write_json(path, self.to_dict())  # type: ignore[attr-defined]

    @classmethod
    def load(cls, path: str | os.PathLike) -> Any:
        """Read a state written by `save`; errors name the file, the field and the problem."""
        return cls.from_dict(read_json(path), where=str(path))  # type: ignore[attr-defined]


class Record(JsonFile):
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
        return to_jsonable(out)

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


def _record_value(value: Any) -> Any:
    if isinstance(value, Record):
        return value.to_dict()
    if isinstance(value, dict):
        return {k: _record_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_record_value(v) for v in value]
    return value
