"""A corpus of bad input: each case checks that the error names the file (or option) and the problem,
and that nothing was written or lost (the input tree is byte-for-byte unchanged, no cache appears)."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ehrlib.icu.layout import DataFormatError
from ehrlib.icu.reader import read_dataset, read_split
from ehrlib.files import MARKER
from ehrlib.jsonfiles import write_json
from ehrlib.records import RecordError

VARS = ["Heart Rate", "Oxygen saturation", "Temperature", "Platelets"]
STAYS = ["11_episode1_timeseries.csv", "12_episode1_timeseries.csv"]


def tree_digest(root: Path) -> dict[str, str]:
    """Name -> SHA-256 of every file under root (hidden ones included)."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and not p.is_symlink()}


def write_split(root: Path, split: str = "train", stays=STAYS, rows=None, marker: bool = True) -> Path:
    """A valid small split (with ground truth); `rows[i]` replaces stay i's data lines."""
    d = root / split
    d.mkdir(parents=True, exist_ok=True)
    (d / "listfile.csv").write_text("stay,y_true\n" + "".join(f"{s},{i % 2}\n" for i, s in enumerate(stays)))
    (d / "ground_truth.csv").write_text("stay,true_risk\n" + "".join(f"{s},0.5\n" for s in stays))
    for i, s in enumerate(stays):
        body = (rows or {}).get(i, "0.5,80,97,37.0,250\n1.5,82,,,\n")
        (d / s).write_text("Hours," + ",".join(VARS) + "\n" + body)
    if marker:
        (root / MARKER).write_text("{}\n")
    return d


def _expect_reader_error(root: Path, match: str, names: str, split: str = "train", **kw) -> None:
    before = tree_digest(root)
    with pytest.raises(DataFormatError, match=match) as err:
        read_split(root, split, progress=False, **kw)
    assert names in str(err.value), str(err.value)
    assert tree_digest(root) == before, "reading bad input changed or wrote files (a cache?)"


# ----------------------------------------------------------------------------- listfiles


LISTFILES = {
    "header only": ("stay,y_true\n", r"lists no stays"),
    "wrong header": ("stay,label\n11_episode1_timeseries.csv,0\n", r"line 1: header must be 'stay,y_true'"),
    "label 2": ("stay,y_true\n11_episode1_timeseries.csv,2\n", r"line 2: label y_true must be 0 or 1"),
    "duplicate": ("stay,y_true\n11_episode1_timeseries.csv,0\n11_episode1_timeseries.csv,0\n",
                  r"line 3: duplicate stay"),
    "path escape": ("stay,y_true\n../../etc/passwd,1\n", r"line 2: stay '../../etc/passwd' is not named"),
    "not utf-8": (b"stay,y_true\n\xff\xfe,1\n", r"not UTF-8 text"),
    "empty file": ("", r"line 1: header must be"),
}


@pytest.mark.parametrize("case", sorted(LISTFILES))
def test_bad_listfile(tmp_path, case):
    content, match = LISTFILES[case]
    d = write_split(tmp_path)
    (d / "listfile.csv").write_bytes(content if isinstance(content, bytes) else content.encode())
    _expect_reader_error(tmp_path, match, str(d / "listfile.csv"))


def test_listfile_that_is_a_fifo_or_folder(tmp_path):
    d = write_split(tmp_path)
    (d / "listfile.csv").unlink()
    os.mkfifo(d / "listfile.csv")
    _expect_reader_error(tmp_path, r"FIFO \(named pipe\), not a regular file", str(d / "listfile.csv"))
    (d / "listfile.csv").unlink()
    (d / "listfile.csv").mkdir()
    _expect_reader_error(tmp_path, r"is a folder, not a regular file", str(d / "listfile.csv"))


# ----------------------------------------------------------------------------- episode files


EPISODES = {
    "heart rate -50": ("0.5,-50,97,37,250\n", r"line 2: column 'Heart Rate': value -50 is impossible"),
    "SpO2 150": ("0.5,80,150,37,250\n", r"line 2: column 'Oxygen saturation': value 150 is impossible"),
    "temperature 1e30": ("0.5,80,97,1e30,250\n", r"line 2: column 'Temperature': value 1e\+30 is impossible"),
    "float32 overflow": ("0.5,80,97,37,1e39\n", r"line 2: column 'Platelets': value 1e\+39 is too large"),
    "text nan": ("0.5,80,97,nan,250\n", r"line 2: column 'Temperature': value .*nan.* is not a finite number"),
    "text NA": ("0.5,80,97,37,NA\n", r"line 2: column 'Platelets': value 'NA' is not a finite number"),
    "empty Hours": (",80,97,37,250\n", r"line 2: column 'Hours' is empty"),
    "short row": ("0.5,80\n", r"line 2: expected 5 fields"),
    "header only": ("", r"no data rows after the header \(listed in .*listfile.csv, line 3\); every listed stay"),
    "blank lines only": ("\n\r\n\n", r"no data rows after the header"),
}


@pytest.mark.parametrize("case", sorted(EPISODES))
def test_bad_episode_file(tmp_path, case):
    body, match = EPISODES[case]
    d = write_split(tmp_path, rows={1: body})
    _expect_reader_error(tmp_path, match, str(d / STAYS[1]))


def test_several_empty_stay_files_are_counted_in_one_line(tmp_path):
    d = write_split(tmp_path, rows={0: "", 1: ""})
    _expect_reader_error(tmp_path, r"no data rows .*line 2\); .* \(1 more listed stay files are empty too\)$",
                         str(d / STAYS[0]))


def test_external_data_is_cleaned_with_counts_not_silently(tmp_path):
    d = write_split(tmp_path, rows={0: "0.5,-50,150,37,250\n1.5,400,99,30,1\n"}, marker=False)
    (d / "ground_truth.csv").unlink()  # external data: no ground truth, no marker
    es = read_split(tmp_path, "train", progress=False)
    assert es.cleaning == {"Heart Rate": {"removed": 2, "clipped": 0}, "Oxygen saturation": {"removed": 0, "clipped": 1}}
    hr, sat = es.values[0, :, 0], es.values[0, :, 1]
    assert np.isnan(hr[0]) and np.isnan(hr[1]) and sat[0] == 100.0  # -50 and 400 removed, 150 clipped
    with pytest.raises(DataFormatError, match="impossible"):
        read_split(tmp_path, "train", progress=False, ranges="error", cache=False)
    from ehrlib.icu.ranges import cleaning_table

    table = cleaning_table({"train": es})
    assert table.to_dict("records") == [
        {"split": "train", "variable": "Heart Rate", "removed": 2, "clipped": 0},
        {"split": "train", "variable": "Oxygen saturation", "removed": 0, "clipped": 1}]
    assert es.take([0]).cleaning == es.cleaning  # counts describe the split as read


def test_episode_file_that_is_a_fifo_or_links_to_dev_zero(tmp_path):
    d = write_split(tmp_path)
    (d / STAYS[1]).unlink()
    os.mkfifo(d / STAYS[1])  # reading a FIFO would block for ever
    _expect_reader_error(tmp_path, r"not a regular file", str(d / STAYS[1]))
    (d / STAYS[1]).unlink()
    os.symlink("/dev/zero", d / STAYS[1])  # reading it would exhaust memory
    _expect_reader_error(tmp_path, r"not a regular file", str(d / STAYS[1]))


def test_missing_listed_stay_blames_the_episode_file(tmp_path):
    d = write_split(tmp_path)
    (d / STAYS[1]).unlink()
    _expect_reader_error(tmp_path, r"stay file not found \(listed in .*listfile.csv, line 3", str(d / STAYS[1]))


def test_splits_must_share_variables_and_not_stays(tmp_path):
    write_split(tmp_path, "train")
    write_split(tmp_path, "val", stays=["21_episode1_timeseries.csv"])
    test = write_split(tmp_path, "test", stays=["31_episode1_timeseries.csv"])
    p = test / "31_episode1_timeseries.csv"
    p.write_text(p.read_text().replace("Platelets", "Bilirubin"))
    with pytest.raises(DataFormatError, match=r"splits 'train' and 'test' have different variables"):
        read_dataset(tmp_path, progress=False)
    write_split(tmp_path, "test", stays=[STAYS[0]])  # the same stay in train and test
    with pytest.raises(DataFormatError, match=r"1 stay\(s\) are in both 'train' and 'test' \(first: 11_episode1"):
        read_dataset(tmp_path, progress=False)


def test_cache_key_sees_a_same_size_edit_with_restored_mtime(tmp_path):
    d = write_split(tmp_path)
    first = read_split(tmp_path, "train", progress=False)
    p = d / STAYS[0]
    st = p.stat()
    p.write_text(p.read_text().replace("0.5,80,", "0.5,81,"))  # same size
    os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns))  # modification time put back
    again = read_split(tmp_path, "train", progress=False)
    assert first.values[0, 0, 0] == 80 and again.values[0, 0, 0] == 81


# ----------------------------------------------------------------------------- stroke Parquet tables


def _stroke_tables(tmp_path: Path, patch=None) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    t = {
        "patients": pd.DataFrame({"patient_id": [1, 2], "birth_year": np.array([1950, 1960], np.int32),
                                  "gender": ["F", "M"]}),
        "diagnoses": pd.DataFrame({"patient_id": [1, 2], "date": pd.to_datetime(["2005-03-01", "2006-04-02"]),
                                   "icd10": ["I10", "E11"]}),
        "exams": pd.DataFrame({"patient_id": [1, 2], "date": pd.to_datetime(["2005-03-01", "2006-04-02"]),
                               "exam_type": ["blood", "biochemical"], "metric": ["Hb", "glucose"],
                               "value": [13.5, 105.0]}),
    }
    if patch:
        patch(t)
    folder = tmp_path / "ehr"
    folder.mkdir(exist_ok=True)
    for name, df in t.items():
        pq.write_table(pa.Table.from_pandas(df, preserve_index=False), folder / f"{name}.parquet")
    return folder


def _set(table, col, value, row=1):
    def patch(t):
        t[table].loc[row, col] = value
    return patch


STROKE = {
    "lab value -5": ("exams", _set("exams", "value", -5.0), r"row 1: glucose value -5 mg/dL is outside its plausible"),
    "lab value 1e300": ("exams", _set("exams", "value", 1e300), r"row 1: glucose value 1e\+300 .* outside"),
    "exam in 2099": ("exams", _set("exams", "date", pd.Timestamp("2099-01-01")), r"row 1: column 'date': date 2099"),
    "diagnosis in 2099": ("diagnoses", _set("diagnoses", "date", pd.Timestamp("2099-05-05")),
                          r"row 1: column 'date': date 2099"),
    "birth year 1790": ("diagnoses", _set("patients", "birth_year", 1790, row=0),
                        r"row 0: diagnosis dated 2005-03-01 at age 215"),
    "unknown code": ("diagnoses", _set("diagnoses", "icd10", "XX99"), r"row 1: unknown ICD-10 code 'XX99'"),
}


@pytest.mark.parametrize("case", sorted(STROKE))
def test_bad_stroke_table(tmp_path, case):
    from ehrlib.stroke.schema import StrokeSchemaError, read_stroke_tables

    table, patch, match = STROKE[case]
    folder = _stroke_tables(tmp_path, patch)
    before = tree_digest(folder)
    with pytest.raises(StrokeSchemaError, match=match) as err:
        read_stroke_tables(folder)
    assert str(folder / f"{table}.parquet") in str(err.value)
    assert tree_digest(folder) == before


def test_valid_stroke_tables_pass(tmp_path):
    from ehrlib.stroke.schema import read_stroke_tables

    assert len(read_stroke_tables(_stroke_tables(tmp_path)).exams) == 2


# ----------------------------------------------------------------------------- fitted-state files


def _fitted_states():
    """One fitted instance of every state class, with its loader."""
    from ehrlib.evaluation.calibration import IsotonicCalibrator
    from ehrlib.evaluation.thresholds import choose_thresholds
    from ehrlib.icu.episodes import EpisodeSet
    from ehrlib.mortality.baselines import FeatureStandardiser, LogisticBaseline
    from ehrlib.mortality.news2 import News2Baseline
    from ehrlib.mortality.preprocessing import MortalityPreprocessor
    from ehrlib.stroke.encoding import EncodingState
    from ehrlib.stroke.icd10 import Vocabulary
    from ehrlib.stroke.schema import METRICS

    rng = np.random.default_rng(0)
    y = (rng.random(200) < 0.3).astype(int)
    p = np.clip(0.3 * y + rng.random(200) * 0.7, 0, 1)
    vals = rng.normal(80, 10, size=(40, 48, 3)).astype(np.float32)
    es = EpisodeSet(values=vals, mask=np.ones(vals.shape, bool), y=y[:40], stays=np.array([f"{i}_episode1_timeseries.csv" for i in range(40)]),
                    variables=["Heart Rate", "Respiratory rate", "Temperature"], true_risk=None, split="train")
    enc = EncodingState(missing_strategy="roll_forward", diagnosis_age_mean=60.0, diagnosis_age_std=10.0,
                        exam_age_mean=61.0, exam_age_std=9.0, metric_mean={m: 1.0 for m in METRICS},
                        metric_std={m: 2.0 for m in METRICS}, gender_means={g: {m: 1.0 for m in METRICS} for g in "FM"},
                        n_train_patients=10)
    return {
        "preprocessor": (MortalityPreprocessor().fit(es), MortalityPreprocessor.load),
        "calibrator": (IsotonicCalibrator().fit(p, y), IsotonicCalibrator.load),
        "threshold": (choose_thresholds(y, p), type(choose_thresholds(y, p)).load),
        "standardiser": (FeatureStandardiser().fit(rng.normal(size=(20, 4))),
                         lambda path: FeatureStandardiser.from_dict(json.loads(Path(path).read_text()), where=str(path))),
        "logistic": (LogisticBaseline().fit(es), LogisticBaseline.load),
        "news2": (News2Baseline(), News2Baseline.load),
        "encoding": (enc, EncodingState.load),
        "vocabulary": (Vocabulary(("E11", "I10", "I639")), Vocabulary.load),
    }


def _mut(path: str, value):
    """Set a nested field ("a.b.0") of a state dict to `value`."""
    def apply(root):
        d = root
        keys = path.split(".")
        for k in keys[:-1]:
            d = d[int(k)] if isinstance(d, list) else d[k]
        last = keys[-1]
        if isinstance(d, list):
            d[int(last)] = value
        else:
            d[last] = value
        return root
    return apply


STATES = [
    ("preprocessor", _mut("medians.0", None), r"field 'medians'|medians of 'Heart Rate' is nan"),
    ("preprocessor", _mut("stds.1", 0.0), r"stds of 'Respiratory rate' is 0.0; must be positive"),
    ("preprocessor", _mut("stds.2", -1.0), r"stds of 'Temperature' is -1.0; must be positive"),
    ("preprocessor", _mut("variables", "abc"), r"field 'variables': expected a list"),
    ("threshold", _mut("threshold", "abc"), r"field 'threshold': expected a number"),
    ("threshold", _mut("threshold", 7.5), r"threshold 7.5 is outside \[0, 1\]"),
    ("calibrator", _mut("y_thresholds.0", -0.5), r"calibrated values must lie in \[0, 1\]"),
    ("calibrator", _mut("y_thresholds.0", 2.0), r"knots must be non-decreasing|must lie in \[0, 1\]"),
    ("standardiser", _mut("scale.0", 0.0), r"scale of column 0 is 0.0; must be positive"),
    ("logistic", _mut("coef", [1.0]), r"1 coefficients for"),
    ("news2", _mut("window_hours", 0), r"window_hours must be >= 1"),
    ("encoding", _mut("metric_std.Hb", -1.0), r"metric_std\['Hb'\] is -1.0"),
    ("encoding", _mut("missing_strategy", "guess"), r"missing_strategy must be one of"),
    ("vocabulary", _mut("codes", "I639"), r"field 'codes': expected a list"),
    ("vocabulary", _mut("codes", ["I10", "I10"]), r"unique"),
]


@pytest.mark.parametrize("kind, mutate, match", STATES, ids=[f"{k}-{i}" for i, (k, _, _) in enumerate(STATES)])
def test_bad_fitted_state_file(tmp_path, kind, mutate, match):
    obj, load = _fitted_states()[kind]
    state = obj.to_dict()
    load_path = tmp_path / f"{kind}.json"
    write_json(load_path, state)
    assert load(load_path) is not None  # the unmodified file loads
    write_json(load_path, mutate(state))
    before = load_path.read_bytes()
    with pytest.raises(ValueError, match=match) as err:
        load(load_path)
    assert str(load_path) in str(err.value)
    assert load_path.read_bytes() == before


@pytest.mark.parametrize("kind", ["preprocessor", "calibrator", "threshold", "logistic", "news2", "encoding", "vocabulary"])
def test_fitted_state_top_level_list(tmp_path, kind):
    _, load = _fitted_states()[kind]
    path = tmp_path / "state.json"
    path.write_text("[1, 2, 3]\n")
    with pytest.raises(RecordError, match=r"expected a JSON object") as err:
        load(path)
    assert str(path) in str(err.value)


def _calibrators():
    from ehrlib.evaluation.calibration import IsotonicCalibrator, PlattCalibrator

    rng = np.random.default_rng(1)
    y = (rng.random(300) < 0.3).astype(int)
    p = np.clip(0.3 * y + rng.random(300) * 0.7, 0, 1)
    return p, {"isotonic": IsotonicCalibrator().fit(p, y), "platt": PlattCalibrator().fit(p, y)}


CALIBRATOR_FILES = [
    ("isotonic", lambda s: {k: v for k, v in s.items() if k != "x_thresholds"},
     r"field 'x_thresholds': missing \(required by IsotonicState\)"),
    ("isotonic", lambda s: {**s, "y_thresholds": "abc"}, r"field 'y_thresholds': expected an array"),
    ("platt", lambda s: {**s, "b": "abc"}, r"field 'b': expected a number"),
    ("platt", lambda s: {**s, "x_thresholds": [0.5]}, r"unknown field\(s\) \['x_thresholds'\] for PlattCalibrator"),
    ("isotonic", lambda s: {**s, "kind": "spline"}, r"field 'kind': unknown calibrator 'spline'; expected one of"),
    ("isotonic", lambda s: {k: v for k, v in s.items() if k != "kind"}, r"field 'kind': missing; a calibrator file"),
    ("platt", lambda s: [s], r"expected a JSON object for a calibrator, got list"),
]


@pytest.mark.parametrize("kind, mutate, match", CALIBRATOR_FILES, ids=[f"{k}-{i}" for i, (k, _, _) in enumerate(CALIBRATOR_FILES)])
def test_bad_calibrator_file_is_blamed_on_the_kind_it_names(tmp_path, kind, mutate, match):
    from ehrlib.evaluation.calibration import load_calibrator

    path = tmp_path / "calibrator.json"
    write_json(path, mutate(_calibrators()[1][kind].to_dict()))
    with pytest.raises(RecordError, match=match) as err:
        load_calibrator(path)
    assert str(err.value).startswith(f"{path}: ") and "\n" not in str(err.value)
    if kind == "isotonic":
        assert "Platt" not in str(err.value)


def test_calibrator_files_load_by_kind_including_platt_files_without_one(tmp_path):
    from ehrlib.evaluation.calibration import load_calibrator

    p, fitted = _calibrators()
    for kind, cal in fitted.items():
        cal.save(tmp_path / f"{kind}.json")
        back = load_calibrator(tmp_path / f"{kind}.json")
        assert back.kind == kind and json.loads((tmp_path / f"{kind}.json").read_text())["kind"] == kind
        np.testing.assert_array_equal(back.transform(p), cal.transform(p))
    old = {k: v for k, v in fitted["platt"].to_dict().items() if k != "kind"}  # saved before Platt recorded it
    write_json(tmp_path / "old.json", old)
    np.testing.assert_array_equal(load_calibrator(tmp_path / "old.json").transform(p), fitted["platt"].transform(p))


def test_broken_keras_file_is_not_reported_as_missing(tmp_path):
    pytest.importorskip("keras")
    from ehrlib.training import load_keras_model

    path = tmp_path / "model.keras"
    path.write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(ValueError, match=r"model.keras: not a readable Keras model"):
        load_keras_model(path)
    with pytest.raises(FileNotFoundError, match=r"nothing.keras: no such file"):
        load_keras_model(tmp_path / "nothing.keras")


# ----------------------------------------------------------------------------- command line


def _cli(argv, capsys):
    from ehrlib.cli import main

    rc = main(argv)
    lines = capsys.readouterr().err.strip().splitlines()
    return rc, [line for line in lines if not line.startswith("ehrlib.")]  # log lines ("ehrlib.cli: ...") aside


CLI = {
    "negative stroke seed": (["generate", "stroke", "--out", "{tmp}/s", "--seed", "-1"], r"--seed.*non-negative integer"),
    "negative icu seed": (["generate", "icu", "--out", "{tmp}/i", "--seed", "-1"], r"--seed.*non-negative integer"),
    "episodes zero": (["generate", "icu", "--out", "{tmp}/i", "--episodes", "0"], r"--episodes.*at least 1"),
    "mortality 2": (["generate", "icu", "--out", "{tmp}/i", "--mortality", "2"], r"--mortality must lie strictly"),
    "out is .": (["generate", "icu", "--out", ".", "--episodes", "10"], r"--out '\.' is the folder .* itself"),
    "parent is a file": (["generate", "icu", "--out", "{tmp}/afile/x", "--episodes", "10"],
                         r"--out .*afile/x: .*afile is a file, not a folder"),
    "name too long": (["generate", "icu", "--out", "{tmp}/" + "n" * 300, "--episodes", "10"],
                      r"--out .*: the folder name is 300 bytes long"),
    "2e9 episodes": (["generate", "icu", "--out", "{tmp}/i", "--episodes", "2000000000"],
                     r"--episodes 2,000,000,000 needs about 128.0 TB of memory but about .* is available; at most about .* would fit"),
    "split mismatch": (["generate", "icu", "--out", "{tmp}/i", "--episodes", "10", "--split", "1", "2", "3"],
                       r"--split 1 2 3 adds up to 6, not --episodes 10"),
    "one episode": (["generate", "icu", "--out", "{tmp}/i", "--episodes", "1"],
                    r"--episodes 1 is too few: split 1 0 0 leaves the val and test splits empty; use at least 5"),
    "empty split": (["generate", "icu", "--out", "{tmp}/i", "--episodes", "10", "--split", "10", "0", "0"],
                    r"--split 10 0 0 leaves the val and test splits empty; give each .* at least one episode"),
    "overwrite a user folder": (["generate", "icu", "--out", "{tmp}/mine", "--episodes", "10", "--overwrite"],
                                r"mine was not made by ehrlib .*holding notes.txt.*refusing to replace it"),
    "exists without --overwrite": (["generate", "stroke", "--out", "{tmp}/mine", "--patients", "10"],
                                   r"mine already exists; pass --overwrite"),
}


@pytest.mark.parametrize("case", sorted(CLI))
def test_bad_command_line(tmp_path, monkeypatch, capsys, case):
    argv, match = CLI[case]
    monkeypatch.chdir(tmp_path)
    (tmp_path / "afile").write_text("x")
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("my own notes")
    before = tree_digest(tmp_path)
    names = sorted(p.name for p in tmp_path.iterdir())
    try:
        rc, err = _cli([a.replace("{tmp}", str(tmp_path)) for a in argv], capsys)
    except SystemExit as exc:  # argparse's own errors (one line too)
        rc, err = exc.code, capsys.readouterr().err.strip().splitlines()
    assert rc != 0
    assert any(__import__("re").search(match, line) for line in err), err
    assert "Traceback" not in "\n".join(err) and len(err) == 1
    assert tree_digest(tmp_path) == before and sorted(p.name for p in tmp_path.iterdir()) == names


@pytest.mark.parametrize("free, shown", [(0, "0 bytes"), (20_000, "20.0 kB"), (3_500_000, "3.5 MB")])
def test_full_disk_is_reported_in_a_unit_that_shows_the_amount(tmp_path, monkeypatch, capsys, free, shown):
    import shutil
    from collections import namedtuple

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(10**12, 10**12 - free, free))
    rc, err = _cli(["generate", "icu", "--out", str(tmp_path / "icu"), "--episodes", "1000"], capsys)
    assert rc == 2 and len(err) == 1, err
    assert f"--episodes 1,000 needs about 5.5 MB of disk but {shown} is free at {tmp_path}" in err[0], err
    assert list(tmp_path.iterdir()) == []


def test_human_bytes():
    from ehrlib.cli import human_bytes

    assert [human_bytes(b) for b in (0, 999, 1000, 55_000, 2.5e9, 3e12)] == [
        "0 bytes", "999 bytes", "1.0 kB", "55.0 kB", "2.5 GB", "3.0 TB"]


def test_library_refuses_an_empty_split_before_simulating(tmp_path):
    from ehrlib.icu.writer import generate_icu_dataset

    with pytest.raises(ValueError, match=r"n_episodes 4 is too few: split 3 1 0 leaves the test split empty"):
        generate_icu_dataset(tmp_path / "icu", n_episodes=4, progress=False)
    with pytest.raises(ValueError, match=r"split 2 0 1 leaves the val split empty"):
        generate_icu_dataset(tmp_path / "icu", split=(2, 0, 1), progress=False)
    assert list(tmp_path.iterdir()) == []
    out = generate_icu_dataset(tmp_path / "icu", n_episodes=5, progress=False)  # the smallest that fills all three
    assert [len(read_split(out, s, progress=False).y) for s in ("train", "val", "test")] == [3, 1, 1]


@pytest.mark.parametrize("error, match", [
    (OSError(28, "No space left on device", "/data/icu/train/1.csv"), r"/data/icu/train/1.csv: no space left on the device"),
    (PermissionError(13, "Permission denied", "/data/icu"), r"/data/icu: permission denied"),
    (OSError(36, "File name too long", "/data/xxx"), r"/data/xxx: file name too long"),
    (MemoryError(), r"out of memory; try a smaller size"),
])
def test_os_and_memory_errors_are_one_line(tmp_path, monkeypatch, capsys, error, match):
    import ehrlib.icu.writer

    def fail(*a, **k):
        raise error

    monkeypatch.setattr(ehrlib.icu.writer, "generate_icu_dataset", fail)
    rc, err = _cli(["generate", "icu", "--out", str(tmp_path / "icu"), "--episodes", "10"], capsys)
    assert rc == 2 and len(err) == 1 and __import__("re").search(match, err[0]), err
    with pytest.raises(type(error)):  # --debug shows the real exception (and its traceback)
        _cli(["generate", "icu", "--out", str(tmp_path / "icu"), "--episodes", "10", "--debug"], capsys)


def test_data_command_refuses_to_regenerate_a_folder_it_did_not_make(tmp_path, monkeypatch, capsys):
    import ehrlib.icu.writer
    import ehrlib.stroke.synth
    from ehrlib.files import atomic_directory

    def fake_generate(out, overwrite=False, **k):
        with atomic_directory(out, overwrite=overwrite) as tmp:
            (tmp / "data.txt").write_text(repr(sorted(k.items())))
        return out

    monkeypatch.delenv("EHRLIB_ICU_DIR", raising=False)
    monkeypatch.setenv("EHRLIB_ROOT", str(tmp_path))
    monkeypatch.setattr(ehrlib.icu.writer, "generate_icu_dataset", fake_generate)
    monkeypatch.setattr(ehrlib.stroke.synth, "generate_stroke_dataset", fake_generate)
    from ehrlib.profiles import get_profile

    stroke_dir = get_profile("quick").stroke_dir
    stroke_dir.mkdir(parents=True)
    (stroke_dir / "notes.txt").write_text("my own notes")
    rc, err = _cli(["data", "--profile", "quick"], capsys)
    assert rc == 2 and len(err) == 1 and "was not made by ehrlib" in err[0] and "notes.txt" in err[0]
    assert (stroke_dir / "notes.txt").read_text() == "my own notes"
    (stroke_dir / "notes.txt").unlink()  # an empty folder may be filled
    rc, err = _cli(["data", "--profile", "quick"], capsys)
    assert rc == 0 and (stroke_dir / MARKER).is_file() and (stroke_dir / "data.txt").exists()
    from ehrlib.cli import main

    assert main(["data", "--profile", "quick"]) == 0
    assert "up to date; keeping it" in capsys.readouterr().err


def test_data_command_adopts_a_dataset_made_before_markers(tmp_path, monkeypatch, capsys):
    import ehrlib.icu.writer
    import ehrlib.stroke.synth
    from ehrlib.files import atomic_directory

    def fake_generate(out, overwrite=False, **k):
        with atomic_directory(out, overwrite=overwrite) as tmp:
            (tmp / "data.txt").write_text("new")
        return out

    monkeypatch.delenv("EHRLIB_ICU_DIR", raising=False)
    monkeypatch.setenv("EHRLIB_ROOT", str(tmp_path))
    monkeypatch.setattr(ehrlib.icu.writer, "generate_icu_dataset", fake_generate)
    monkeypatch.setattr(ehrlib.stroke.synth, "generate_stroke_dataset", fake_generate)
    from ehrlib.cli import main
    from ehrlib.profiles import get_profile

    old = get_profile("quick").icu_dir
    old.mkdir(parents=True)
    (old / "data.txt").write_text("old")
    write_json(old.parent / ".icu.recipe.json", {"params": {}, "sha256": "stale"})  # an older ehrlib's recipe
    assert main(["data", "--profile", "quick"]) == 0
    assert "made before folder markers" in capsys.readouterr().err
    assert (old / "data.txt").read_text() == "new" and (old / MARKER).is_file()


def test_fifo_instead_of_a_parquet_table_or_state_file(tmp_path):
    from ehrlib.mortality.preprocessing import MortalityPreprocessor
    from ehrlib.stroke.schema import StrokeSchemaError, read_stroke_tables

    folder = _stroke_tables(tmp_path)
    (folder / "exams.parquet").unlink()
    os.mkfifo(folder / "exams.parquet")
    with pytest.raises(StrokeSchemaError, match=r"exams.parquet: Parquet table is a FIFO \(named pipe\)"):
        read_stroke_tables(folder)
    os.mkfifo(tmp_path / "prep.json")
    with pytest.raises(ValueError, match=r"prep.json: JSON file is a FIFO"):
        MortalityPreprocessor.load(tmp_path / "prep.json")
    os.symlink("/dev/zero", tmp_path / "zero.json")
    with pytest.raises(ValueError, match=r"zero.json: JSON file is a device"):
        MortalityPreprocessor.load(tmp_path / "zero.json")
