"""`ehrlib.records.Record`: typed JSON records that fail loudly on a missing, unknown or mistyped field."""

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pytest

from ehrlib.jsonfiles import write_json
from ehrlib.records import Record, RecordError


@dataclass
class Inner(Record):
    value: float
    ci: tuple[float, float] | None = None

    def validate(self) -> None:
        if not 0 <= self.value <= 1:
            raise ValueError(f"value {self.value} outside [0, 1]")


@dataclass
class Outer(Record):
    name: str
    n: int
    kind: Literal["raw", "calibrated"]
    metrics: dict[str, Inner]
    knots: np.ndarray
    notes: list[str] = field(default_factory=list)


def _outer() -> Outer:
    return Outer(name="lstm", n=3, kind="raw", metrics={"auroc": Inner(0.8, (0.7, 0.9))},
                 knots=np.array([0.0, 0.5, 1.0]))


def test_round_trip(tmp_path):
    rec = _outer()
    rec.save(tmp_path / "r.json")
    back = Outer.load(tmp_path / "r.json")
    assert back.metrics["auroc"] == Inner(0.8, (0.7, 0.9)) and back.n == 3
    np.testing.assert_array_equal(back.knots, rec.knots)


@pytest.mark.parametrize("mutate, message", [
    (lambda d: d.pop("n"), "field 'n': missing"),
    (lambda d: d.update(extra=1), "unknown field(s) ['extra']"),
    (lambda d: d.update(n="3"), "field 'n': expected an integer"),
    (lambda d: d.update(n=True), "field 'n': expected an integer"),
    (lambda d: d.update(kind="other"), "field 'kind': expected one of"),
    (lambda d: d["metrics"]["auroc"].update(value="abc"), "field 'metrics.auroc.value': expected a number"),
    (lambda d: d["metrics"]["auroc"].update(value=7.5), "value 7.5 outside [0, 1]"),
    (lambda d: d["metrics"]["auroc"].pop("value"), "field 'metrics.auroc.value': missing"),
    (lambda d: d["metrics"]["auroc"].update(ci=[0.1]), "expected 2 items"),
    (lambda d: d.update(knots="0,1"), "field 'knots': expected an array"),
])
def test_bad_files_name_file_and_field(tmp_path, mutate, message):
    d = _outer().to_dict()
    mutate(d)
    write_json(tmp_path / "bad.json", d)
    with pytest.raises(RecordError) as err:
        Outer.load(tmp_path / "bad.json")
    assert str(tmp_path / "bad.json") in str(err.value) and message in str(err.value)


def test_top_level_must_be_an_object(tmp_path):
    write_json(tmp_path / "list.json", [1, 2])
    with pytest.raises(RecordError, match="expected a JSON object for Outer"):
        Outer.load(tmp_path / "list.json")
