"""Tests for ehrlib.icu.reader: round trips through small benchmark-layout trees written in tmp_path."""

from __future__ import annotations

import math
import os
import re
from pathlib import Path

import numpy as np
import pytest

from ehrlib.icu import cache as icu_cache
from ehrlib.icu import reader as readers
from ehrlib.icu.episodes import EpisodeSet
from ehrlib.icu.layout import DataFormatError
from ehrlib.icu.reader import categorical_score, read_dataset, read_split

SYNTH_VARS = ["Heart Rate", "Systolic blood pressure", "Platelets", "Glucose"]  # random values: "Platelets" has no range
REAL_VARS = [
    "Capillary refill rate", "Diastolic blood pressure", "Fraction inspired oxygen",
    "Glascow coma scale eye opening", "Glascow coma scale motor response", "Glascow coma scale total",
    "Glascow coma scale verbal response", "Glucose", "Heart Rate", "Height", "Mean blood pressure",
    "Oxygen saturation", "Respiratory rate", "Systolic blood pressure", "Temperature", "Weight", "pH",
]


# --------------------------------------------------------------------------------------------------
# Fixture writers
# --------------------------------------------------------------------------------------------------


def _cell(v) -> str:
    """Text of one cell: empty for None/NaN, the shortest exact repr for numbers, text as is."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    if isinstance(v, str):
        return v
    return repr(float(v))


def write_split(root: Path, split: str, stays: list[str], labels: list[int], episodes: list[list[tuple]],
                variables: list[str], true_risk: list[float] | None = None, newline: str = "\n") -> Path:
    """Write one split in the benchmark layout: listfile, one CSV per stay, optional ground truth.

    `episodes[i]` is a list of rows `(hours, v_1, ..., v_F)`, written in the given order; None is
    an empty cell, strings are written verbatim.
    """
    d = root / split
    d.mkdir(parents=True, exist_ok=True)
    (d / "listfile.csv").write_text(
        "stay,y_true\n" + "".join(f"{s},{y}\n" for s, y in zip(stays, labels)), newline="")
    header = ",".join(["Hours", *variables])
    for stay, rows in zip(stays, episodes):
        lines = [header] + [",".join(_cell(c) for c in row) for row in rows]
        (d / stay).write_text(newline.join(lines) + newline, newline="")
    if true_risk is not None:
        (d / "ground_truth.csv").write_text(
            "stay,true_risk\n" + "".join(f"{s},{r!r}\n" for s, r in zip(stays, true_risk)), newline="")
    return d


def random_episodes(rng: np.random.Generator, n: int, n_vars: int) -> list[list[tuple]]:
    """Irregular episodes: out-of-window rows, Hours exactly 0 and 48, ties, unsorted rows, gaps."""
    episodes = []
    for i in range(n):
        k = int(rng.integers(0, 40))
        hours = np.round(rng.uniform(-6, 54, size=k), 3)
        extra = [0.0, 48.0, 47.999, 12.0, 12.0] if i % 3 else []
        hours = np.concatenate([hours, extra])
        if i % 4 == 0:
            hours = np.sort(hours)  # some files sorted, the others not
        rows = []
        for h in hours:
            vals = np.round(rng.normal(80, 20, size=n_vars), 2).astype(np.float32)
            rows.append((float(h), *[float(v) if rng.random() < 0.6 else None for v in vals]))
        episodes.append(rows)
    return episodes


def reference_arrays(episodes: list[list[tuple]], n_vars: int, n_hours: int = 48) -> tuple[np.ndarray, np.ndarray]:
    """Straightforward per-row implementation of the documented binning rule (the test oracle)."""
    values = np.full((len(episodes), n_hours, n_vars), np.nan, dtype=np.float32)
    for i, rows in enumerate(episodes):
        order = sorted(range(len(rows)), key=lambda r: (rows[r][0], r))  # by time, ties by file line
        for r in order:
            h = rows[r][0]
            if not 0 <= h <= n_hours:
                continue
            b = min(int(math.floor(h)), n_hours - 1)
            for f, v in enumerate(rows[r][1:]):
                if v is not None:
                    values[i, b, f] = np.float32(v)
    return values, ~np.isnan(values)


def make_stays(subjects: list[int]) -> list[str]:
    """Stay names for the given subject ids (episode numbers count repeats)."""
    seen: dict[int, int] = {}
    out = []
    for s in subjects:
        seen[s] = seen.get(s, 0) + 1
        out.append(f"{s}_episode{seen[s]}_timeseries.csv")
    return out


@pytest.fixture
def synth_root(tmp_path: Path) -> tuple[Path, dict]:
    """A three-split synthetic tree with ground truth; returns the root and what was written."""
    rng = np.random.default_rng(7)
    written = {}
    for split, n in (("train", 30), ("val", 8), ("test", 9)):
        subjects = rng.integers(10_000, 99_999, size=n).tolist()
        subjects[1] = subjects[0]  # one patient with two episodes
        stays = make_stays(subjects)
        labels = rng.integers(0, 2, size=n).tolist()
        risk = np.round(rng.uniform(0, 1, size=n), 6).tolist()
        eps = random_episodes(rng, n, len(SYNTH_VARS))
        write_split(tmp_path, split, stays, labels, eps, SYNTH_VARS, true_risk=risk)
        written[split] = dict(stays=stays, labels=labels, risk=risk, episodes=eps, subjects=subjects)
    return tmp_path, written


# --------------------------------------------------------------------------------------------------
# Round trips
# --------------------------------------------------------------------------------------------------


def test_round_trip_matches_reference(synth_root):
    root, written = synth_root
    for split in ("train", "val", "test"):
        es = read_split(root, split, cache=False, progress=False)
        w = written[split]
        values, mask = reference_arrays(w["episodes"], len(SYNTH_VARS))
        assert es.values.dtype == np.float32 and es.mask.dtype == bool and es.y.dtype == np.int8
        assert es.values.shape == (len(w["stays"]), 48, len(SYNTH_VARS))
        np.testing.assert_array_equal(es.mask, mask)
        np.testing.assert_array_equal(es.values, values)  # NaN positions compare equal
        assert es.stays.tolist() == w["stays"]
        assert es.y.tolist() == w["labels"]
        assert es.variables == SYNTH_VARS
        assert es.split == split
        np.testing.assert_array_equal(es.true_risk, w["risk"])
        np.testing.assert_array_equal(es.subject_ids, np.array(w["subjects"], dtype=np.int64))
        assert es.subject_ids.dtype == np.int64


def test_arrays_written_one_row_per_bin_read_back_exactly(tmp_path):
    rng = np.random.default_rng(3)
    n, f = 6, len(SYNTH_VARS)
    values = rng.normal(100, 30, size=(n, 48, f)).astype(np.float32)
    mask = rng.random((n, 48, f)) < 0.3
    values[~mask] = np.nan
    episodes = []
    for i in range(n):
        rows = [(t + 0.25, *[float(values[i, t, j]) if mask[i, t, j] else None for j in range(f)])
                for t in range(48) if mask[i, t].any()]
        episodes.append(rows)
    write_split(tmp_path, "train", make_stays(list(range(100, 100 + n))), [0, 1] * 3, episodes, SYNTH_VARS)
    es = read_split(tmp_path, "train", cache=False, progress=False, ranges="keep")
    np.testing.assert_array_equal(es.values, values)
    np.testing.assert_array_equal(es.mask, mask)
    assert es.true_risk is None


def test_binning_rule_window_and_last_wins(tmp_path):
    rows = [
        (-0.5, 1.0, None, None, None),   # before the window: dropped
        (0.0, 2.0, None, None, None),    # bin 0
        (0.9, None, 5.0, None, None),    # bin 0, other variable
        (0.5, 3.0, None, None, None),    # bin 0, earlier than 0.9 but later than 0.0: wins for var 0
        (3.2, 7.0, None, None, None),    # bin 3
        (3.2, 8.0, None, None, None),    # same time, later line: wins
        (47.5, None, None, 1.0, None),   # bin 47
        (48.0, None, None, 2.0, None),   # Hours == 48 -> bin 47, later: wins
        (48.01, None, None, 3.0, None),  # after the window: dropped
        (10.0, None, None, None, None),  # a row with nothing measured
    ]
    write_split(tmp_path, "val", ["1_episode1_timeseries.csv"], [1], [rows], SYNTH_VARS)
    es = read_split(tmp_path, "val", cache=False, progress=False)
    assert es.values[0, 0, 0] == 3.0 and es.values[0, 0, 1] == 5.0
    assert es.values[0, 3, 0] == 8.0
    assert es.values[0, 47, 2] == 2.0
    assert es.mask.sum() == 4 and not es.mask[0, 10].any()
    assert np.isnan(es.values[~es.mask]).all()
    es24 = read_split(tmp_path, "val", n_hours=24, cache=False, progress=False)
    assert es24.values.shape == (1, 24, 4) and es24.mask.sum() == 3


def test_crlf_blank_lines_and_header_only_files(tmp_path):
    stays = make_stays([5, 6, 7])
    eps = [[(1.5, 60.0, None, None, None), (2.5, 61.0, 120.0, None, None)], [(50.0, 70.0, None, None, None)],
           [(0.0, None, None, None, 9.0)]]
    d = write_split(tmp_path, "test", stays, [0, 0, 1], eps, SYNTH_VARS, newline="\r\n")
    p = d / stays[0]
    p.write_bytes(p.read_bytes().replace(b"\r\n2.5", b"\r\n\r\n2.5"))  # a blank line inside
    es = read_split(tmp_path, "test", cache=False, progress=False, ranges="keep")
    assert es.values[0, 1, 0] == 60.0 and es.values[0, 2, 1] == 120.0
    assert not es.mask[1].any()  # charted only after the window: nothing observed in it
    assert es.values[2, 0, 3] == 9.0
    header_only = d / stays[1]
    header_only.write_bytes(header_only.read_bytes().split(b"\r\n")[0] + b"\r\n")
    with pytest.raises(DataFormatError, match=re.escape(f"{header_only}: no data rows after the header")):
        read_split(tmp_path, "test", cache=False, progress=False, ranges="keep")


def test_take_and_concat(synth_root):
    root, _ = synth_root
    ds = read_dataset(root, cache=False, progress=False)
    assert set(ds) == {"train", "val", "test"}
    tr = ds["train"]
    sub = tr.take([3, 0, 5])
    assert len(sub) == 3 and sub.stays.tolist() == [tr.stays[3], tr.stays[0], tr.stays[5]]
    np.testing.assert_array_equal(sub.values, tr.values[[3, 0, 5]])
    np.testing.assert_array_equal(sub.true_risk, tr.true_risk[[3, 0, 5]])
    sel = tr.y == 1
    pos = tr.take(sel)
    assert len(pos) == int(sel.sum()) and (pos.y == 1).all()
    assert len(tr.take(np.array([], dtype=int))) == 0
    assert tr.take(slice(2, 5)).stays.tolist() == tr.stays[2:5].tolist()
    sub.values[0, 0, 0] = 12345.0
    assert tr.values[3, 0, 0] != 12345.0  # take copies
    with pytest.raises(ValueError):
        tr.take(np.ones(3, dtype=bool))
    both = EpisodeSet.concat([ds["train"], ds["val"]])
    assert len(both) == len(tr) + len(ds["val"]) and both.split == "train+val"
    np.testing.assert_array_equal(both.mask[len(tr):], ds["val"].mask)
    np.testing.assert_array_equal(both.subject_ids[: len(tr)], tr.subject_ids)
    assert EpisodeSet.concat([tr.take([0]), tr.take([1])]).split == "train"
    no_risk = EpisodeSet(tr.values, tr.mask, tr.y, tr.stays, tr.variables, None, "train")
    assert EpisodeSet.concat([no_risk, ds["val"]]).true_risk is None
    other = EpisodeSet(tr.values[:, :, :2], tr.mask[:, :, :2], tr.y, tr.stays, tr.variables[:2], None, "x")
    with pytest.raises(ValueError, match="variables differ"):
        EpisodeSet.concat([tr, other])
    assert tr.static is None and tr.static_names == []  # the benchmark reader has no static descriptors


def _with_static(es: EpisodeSet, names: list[str], offset: float = 0.0) -> EpisodeSet:
    """A copy of `es` with static descriptors: column k of episode i holds offset + 10 * i + k."""
    static = offset + 10.0 * np.arange(len(es))[:, None] + np.arange(len(names))[None, :]
    return EpisodeSet(es.values, es.mask, es.y, es.stays, es.variables, es.true_risk, es.split,
                      static=static, static_names=names)


def test_static_descriptors_follow_take_and_concat(synth_root):
    root, _ = synth_root
    ds = read_dataset(root, cache=False, progress=False)
    tr = _with_static(ds["train"], ["Age", "Male"])
    assert tr.static.dtype == np.float32 and tr.static.shape == (len(tr), 2)
    sub = tr.take([2, 0])
    np.testing.assert_array_equal(sub.static, tr.static[[2, 0]])
    assert sub.static_names == ["Age", "Male"]
    assert tr.take(tr.y == 1).static.shape == (int((tr.y == 1).sum()), 2)
    va = _with_static(ds["val"], ["Age", "Male"], offset=1000.0)
    both = EpisodeSet.concat([tr, va])
    np.testing.assert_array_equal(both.static, np.concatenate([tr.static, va.static]))
    assert both.static_names == ["Age", "Male"]
    with pytest.raises(ValueError, match="all or none"):
        EpisodeSet.concat([tr, ds["val"]])
    with pytest.raises(ValueError, match="static names differ"):
        EpisodeSet.concat([tr, _with_static(ds["val"], ["Age", "Sex"])])
    with pytest.raises(ValueError, match="static has shape"):
        EpisodeSet(tr.values, tr.mask, tr.y, tr.stays, tr.variables, None, "x",
                   static=np.zeros((len(tr), 3)), static_names=["Age", "Male"])
    with pytest.raises(ValueError, match="without static values"):
        EpisodeSet(tr.values, tr.mask, tr.y, tr.stays, tr.variables, None, "x", static_names=["Age"])


# --------------------------------------------------------------------------------------------------
# Cache
# --------------------------------------------------------------------------------------------------


def test_cache_hit_is_identical_and_stale_cache_is_rebuilt(synth_root, monkeypatch):
    root, written = synth_root
    fresh = read_split(root, "train", cache=False, progress=False)
    first = read_split(root, "train", progress=False)
    caches = list((root / "train").glob(".cache-train-48h-*.npz"))
    assert len(caches) == 1
    old_cache = caches[0]

    def boom(*a, **k):
        raise AssertionError("files were parsed although the cache is valid")

    with monkeypatch.context() as m:
        m.setattr(readers, "_read_episode_files", boom)
        hit = read_split(root, "train", progress=False)
    for es in (first, hit):
        np.testing.assert_array_equal(es.values, fresh.values)
        np.testing.assert_array_equal(es.mask, fresh.mask)
        np.testing.assert_array_equal(es.y, fresh.y)
        np.testing.assert_array_equal(es.stays, fresh.stays)
        np.testing.assert_array_equal(es.true_risk, fresh.true_risk)
        assert es.variables == fresh.variables and es.split == "train"
    assert hit.values.dtype == np.float32 and hit.stays.dtype.kind == "U"

    # Change one value in one file (same size), with a new modification time.
    stay = written["train"]["stays"][2]
    p = root / "train" / stay
    header = p.read_text().splitlines()[0]
    p.write_text(header + "\n" + "5.5,11.0,,,\n")
    st = p.stat()
    os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    changed = read_split(root, "train", progress=False)
    assert changed.values[2, 5, 0] == 11.0 and changed.mask[2].sum() == 1
    np.testing.assert_array_equal(changed.values[3:], fresh.values[3:])
    caches = list((root / "train").glob(".cache-train-48h-*.npz"))
    assert len(caches) == 1 and caches[0] != old_cache  # the stale cache was replaced

    # A changed listfile (label flipped) also invalidates the cache.
    lf = root / "train" / "listfile.csv"
    lines = lf.read_text().splitlines()
    s0, y0 = lines[1].split(",")
    lines[1] = f"{s0},{1 - int(y0)}"
    lf.write_text("\n".join(lines) + "\n")
    assert read_split(root, "train", progress=False).y[0] == 1 - int(y0)
    # A different window gets its own cache.
    assert read_split(root, "train", n_hours=24, progress=False).values.shape[1] == 24


def test_unwritable_cache_only_warns(synth_root, monkeypatch):
    root, _ = synth_root

    def refuse(*a, **k):
        raise PermissionError("read-only file system")

    monkeypatch.setattr(icu_cache, "save_cache", refuse)
    with pytest.warns(RuntimeWarning, match="could not write the reader cache"):
        es = read_split(root, "test", progress=False)
    assert len(es) == 9 and not list((root / "test").glob(icu_cache.CACHE_GLOB))


def test_damaged_cache_is_ignored(synth_root):
    root, _ = synth_root
    read_split(root, "val", progress=False)
    (cache,) = (root / "val").glob(".cache-val-*.npz")
    cache.write_bytes(b"not a zip file")
    with pytest.warns(RuntimeWarning, match="unreadable cache"):
        es = read_split(root, "val", progress=False)
    assert len(es) == 8


# --------------------------------------------------------------------------------------------------
# Real-benchmark-style files: 17 variables and categorical text
# --------------------------------------------------------------------------------------------------


def test_categorical_scores_cover_documented_variants():
    expect = {
        "Glascow coma scale eye opening": {
            "To Pain": 2, "3 To speech": 3, "1 No Response": 1, "4 Spontaneously": 4, "None": 1,
            "To Speech": 3, "Spontaneously": 4, "2 To pain": 2},
        "Glascow coma scale motor response": {
            "1 No Response": 1, "3 Abnorm flexion": 3, "Abnormal extension": 2, "No response": 1,
            "4 Flex-withdraws": 4, "Localizes Pain": 5, "Flex-withdraws": 4, "Obeys Commands": 6,
            "Abnormal Flexion": 3, "6 Obeys Commands": 6, "5 Localizes Pain": 5, "2 Abnorm extensn": 2},
        "Glascow coma scale verbal response": {
            "1 No Response": 1, "No Response": 1, "Confused": 4, "Inappropriate Words": 3, "Oriented": 5,
            "No Response-ETT": 1, "5 Oriented": 5, "Incomprehensible sounds": 2, "1.0 ET/Trach": 1,
            "4 Confused": 4, "2 Incomp sounds": 2, "3 Inapprop words": 3},
        "Glascow coma scale total": {str(k): k for k in range(3, 16)},
        "Capillary refill rate": {"0.0": 0, "1.0": 1},
    }
    for var, table in expect.items():
        for text, score in table.items():
            assert categorical_score(var, text) == score, (var, text)
    assert categorical_score("Glascow coma scale total", "15.0") == 15
    for var, bad in [("Glascow coma scale eye opening", "Opens eyes"),
                     ("Glascow coma scale motor response", "7 Dances"),
                     ("Glascow coma scale total", "2"), ("Capillary refill rate", "Brisk")]:
        with pytest.raises(ValueError):
            categorical_score(var, bad)


def _real_rows() -> list[list[tuple]]:
    """Three episodes of real-benchmark-style rows (17 variables, categorical text)."""
    blank = [None] * 17

    def row(h, **kv):
        r = list(blank)
        for name, v in kv.items():
            r[REAL_VARS.index(name.replace("_", " "))] = v
        return (h, *r)

    ep0 = [
        row(0.25, **{"Heart_Rate": 92.0, "Glascow_coma_scale_eye_opening": "4 Spontaneously",
                     "Glascow_coma_scale_motor_response": "6 Obeys Commands", "Glascow_coma_scale_total": "15",
                     "Glascow_coma_scale_verbal_response": "5 Oriented", "Capillary_refill_rate": "0.0"}),
        row(1.5, **{"Glascow_coma_scale_eye_opening": "To Pain", "Glascow_coma_scale_verbal_response": "1.0 ET/Trach",
                    "Glascow_coma_scale_motor_response": "Abnormal extension", "pH": 7.31, "Weight": 81.2}),
        row(-2.0, **{"Heart_Rate": 130.0}),
    ]
    ep1 = [row(3.0, **{"Glascow_coma_scale_verbal_response": "No Response-ETT", "Capillary_refill_rate": "1.0",
                       "Glascow_coma_scale_total": "8", "Fraction_inspired_oxygen": 0.5})]
    ep2 = [row(47.0, **{"Glascow_coma_scale_motor_response": "1 No Response", "Temperature": 36.6})]
    return [ep0, ep1, ep2]


def test_real_benchmark_style_files(tmp_path):
    stays = make_stays([10011, 10026, 10030])
    write_split(tmp_path, "test", stays, [0, 1, 0], _real_rows(), REAL_VARS)
    es = read_split(tmp_path, "test", cache=False, progress=False)
    assert es.variables == REAL_VARS and es.values.shape == (3, 48, 17)
    v = {name: es.values[:, :, i] for i, name in enumerate(REAL_VARS)}
    assert v["Glascow coma scale eye opening"][0, 0] == 4 and v["Glascow coma scale eye opening"][0, 1] == 2
    assert v["Glascow coma scale motor response"][0, 0] == 6 and v["Glascow coma scale motor response"][0, 1] == 2
    assert v["Glascow coma scale verbal response"][0, 1] == 1 and v["Glascow coma scale verbal response"][1, 3] == 1
    assert v["Glascow coma scale total"][0, 0] == 15 and v["Glascow coma scale total"][1, 3] == 8
    assert v["Capillary refill rate"][0, 0] == 0 and v["Capillary refill rate"][1, 3] == 1
    assert v["Heart Rate"][0, 0] == 92  # the row at -2 h is dropped
    assert v["pH"][0, 1] == np.float32(7.31) and v["Glascow coma scale motor response"][2, 47] == 1
    assert es.mask.sum() == 6 + 5 + 4 + 2
    # The cache stores the mapped numbers.
    cached = read_split(tmp_path, "test", progress=False)
    again = read_split(tmp_path, "test", progress=False)
    np.testing.assert_array_equal(again.values, es.values)
    np.testing.assert_array_equal(cached.values, es.values)


def test_real_benchmark_listfile_layout(tmp_path):
    """ROOT/{train,val,test}_listfile.csv with val stays inside ROOT/train/ (mimic3-benchmarks)."""
    rows = _real_rows()
    stays = make_stays([1, 2, 3])
    write_split(tmp_path, "train", stays, [0, 1, 0], rows, REAL_VARS)  # train/listfile.csv lists all
    (tmp_path / "train_listfile.csv").write_text(f"stay,y_true\n{stays[0]},0\n{stays[2]},0\n")
    (tmp_path / "val_listfile.csv").write_text(f"stay,y_true\n{stays[1]},1\n")
    tr = read_split(tmp_path, "train", progress=False)
    va = read_split(tmp_path, "val", progress=False)
    assert tr.stays.tolist() == [stays[0], stays[2]] and va.stays.tolist() == [stays[1]]
    assert not set(tr.stays) & set(va.stays)
    assert va.values[0, 3, REAL_VARS.index("Fraction inspired oxygen")] == np.float32(0.5)
    assert len(list((tmp_path / "train").glob(".cache-*"))) == 2  # train and val caches coexist
    assert icu_cache.clear_cache(tmp_path) == 2 and not list(tmp_path.rglob(icu_cache.CACHE_GLOB))


# --------------------------------------------------------------------------------------------------
# Errors name the file and the line
# --------------------------------------------------------------------------------------------------


@pytest.fixture
def small_root(tmp_path: Path) -> tuple[Path, list[str]]:
    """A valid two-episode train split to break in each error test."""
    stays = make_stays([11, 12])
    eps = [[(0.5, 80.0, 120.0, None, None), (1.5, 82.0, None, 1.2, None)], [(2.0, 90.0, None, None, 6.1)]]
    write_split(tmp_path, "train", stays, [0, 1], eps, SYNTH_VARS, true_risk=[0.1, 0.7])
    return tmp_path, stays


def _raises(root: Path, pattern: str, split: str = "train") -> str:
    with pytest.raises(DataFormatError, match=pattern) as info:
        read_split(root, split, cache=False, progress=False)
    assert isinstance(info.value, ValueError)
    return str(info.value)


def test_error_missing_listfile(tmp_path):
    (tmp_path / "val").mkdir()
    _raises(tmp_path, re.escape(str(tmp_path / "val" / "listfile.csv")) + ".*not found", split="val")
    with pytest.raises(ValueError, match="unknown split"):
        read_split(tmp_path, "dev", progress=False)


def test_error_bad_listfile_header(small_root):
    root, stays = small_root
    (root / "train" / "listfile.csv").write_text(f"stay,label\n{stays[0]},0\n")
    _raises(root, r"listfile\.csv: line 1: header must be 'stay,y_true'")


def test_error_bad_label_names_line(small_root):
    root, stays = small_root
    (root / "train" / "listfile.csv").write_text(f"stay,y_true\n{stays[0]},0\n{stays[1]},2\n")
    _raises(root, r"listfile\.csv: line 3: label y_true must be 0 or 1, got '2'")


def test_error_duplicate_stay(small_root):
    root, stays = small_root
    (root / "train" / "listfile.csv").write_text(f"stay,y_true\n{stays[0]},0\n{stays[1]},1\n{stays[0]},0\n")
    _raises(root, r"listfile\.csv: line 4: duplicate stay .* \(first on line 2\)")


def test_error_bad_stay_name(small_root):
    root, stays = small_root
    (root / "train" / "listfile.csv").write_text(f"stay,y_true\n{stays[0]},0\n../../etc/passwd,1\n")
    _raises(root, r"listfile\.csv: line 3: stay '../../etc/passwd' is not named")


def test_error_listed_file_missing(small_root):
    root, stays = small_root
    (root / "train" / stays[1]).unlink()
    msg = _raises(root, r"stay file not found \(listed in .*listfile\.csv, line 3")
    assert str(root / "train" / stays[1]) in msg and "ground_truth" not in msg  # blames the missing file
    with pytest.raises(DataFormatError, match="stay file not found"):  # also with the cache on
        read_split(root, "train", progress=False)


def test_error_no_hours_column(small_root):
    root, stays = small_root
    p = root / "train" / stays[1]
    p.write_text(p.read_text().replace("Hours,", "Time,", 1))
    _raises(root, re.escape(str(p)) + r": line 1: no 'Hours' column")


def test_error_header_differs(small_root):
    root, stays = small_root
    p = root / "train" / stays[1]
    p.write_text(p.read_text().replace("Glucose", "Sodium", 1))
    _raises(root, re.escape(str(p)) + r": line 1: header differs .*extra \['Sodium'\], missing \['Glucose'\]")


def test_error_non_numeric_value(small_root):
    root, stays = small_root
    p = root / "train" / stays[0]
    p.write_text(p.read_text().replace("1.5,82.0", "1.5,high"))
    _raises(root, re.escape(str(p)) + r": line 3: column 'Heart Rate': value 'high' is not a finite number")


def test_spaces_around_numbers_are_accepted(small_root):
    root, stays = small_root
    p = root / "train" / stays[0]
    p.write_text(p.read_text().replace("1.5,82.0", " 1.5 , 82.0 "))
    assert read_split(root, "train", cache=False, progress=False).values[0, 1, 0] == 82.0
    p.write_text(p.read_text().replace(" 82.0 ", " 1_000 "))
    _raises(root, re.escape(str(p)) + r": line 3: column 'Heart Rate': value ' 1_000 ' is not a finite number")


@pytest.mark.parametrize("text", ["nan", "inf", "NA", "1e400"])
def test_error_nan_or_inf_text(small_root, text):
    root, stays = small_root
    p = root / "train" / stays[1]
    p.write_text(p.read_text().replace("6.1", text))
    _raises(root, re.escape(str(p)) + r": line 2: column 'Glucose': value .* is not a finite number")


def test_error_empty_hours_and_wrong_field_count(small_root):
    root, stays = small_root
    p = root / "train" / stays[0]
    good = p.read_text()
    p.write_text(good.replace("1.5,82.0", ",82.0"))
    _raises(root, re.escape(str(p)) + r": line 3: column 'Hours' is empty")
    p.write_text(good.replace("1.5,82.0,,1.2,", "1.5,82.0,,1.2"))
    _raises(root, re.escape(str(p)) + r": line 3: expected 5 fields as in the header, got 4")


def test_error_line_numbers_with_blank_lines(small_root):
    root, stays = small_root
    p = root / "train" / stays[0]
    p.write_text(p.read_text().replace("\n1.5,82.0", "\n\n\n1.5,bad"))
    _raises(root, re.escape(str(p)) + r": line 5: column 'Heart Rate': value 'bad'")


def test_error_unknown_categorical_text(tmp_path):
    rows = _real_rows()
    stays = make_stays([1, 2, 3])
    rows[2].append((5.0, *([None] * 4 + ["Waves hello"] + [None] * 12)))  # motor response column
    write_split(tmp_path, "test", stays, [0, 1, 0], rows, REAL_VARS)
    _raises(tmp_path, re.escape(str(tmp_path / "test" / stays[2]))
            + r": line 3: column 'Glascow coma scale motor response': unknown text 'Waves hello'", split="test")


def test_error_ground_truth(small_root):
    root, stays = small_root
    gt = root / "train" / "ground_truth.csv"
    gt.write_text(f"stay,true_risk\n{stays[0]},0.1\n99_episode1_timeseries.csv,0.5\n")
    _raises(root, r"ground_truth\.csv: line 3: stay '99_episode1_timeseries.csv' is not in the listfile")
    gt.write_text(f"stay,true_risk\n{stays[0]},0.1\n{stays[1]},1.5\n")
    _raises(root, r"ground_truth\.csv: line 3: true_risk 1.5 is outside \[0, 1\]")
    gt.write_text(f"stay,true_risk\n{stays[0]},0.1\n")
    _raises(root, r"ground_truth\.csv: 1 listed stays have no true_risk")


# --------------------------------------------------------------------------------------------------
# Edge cases and the real generator's output
# --------------------------------------------------------------------------------------------------


def test_header_only_listfile_and_bad_window(tmp_path, caplog):
    (tmp_path / "val").mkdir()
    (tmp_path / "val" / "listfile.csv").write_text("stay,y_true\n")
    with pytest.raises(DataFormatError, match=r"listfile\.csv: the listfile lists no stays"):
        read_split(tmp_path, "val")
    with pytest.raises(ValueError, match="n_hours"):
        read_split(tmp_path, "val", n_hours=0)


def test_progress_goes_to_logging_not_stdout(small_root, caplog, capsys):
    root, _ = small_root
    with caplog.at_level("INFO", logger="ehrlib.icu.reader"):
        read_split(root, "train", progress=True)
    assert "ICU reader [train]" in caplog.text
    assert capsys.readouterr().out == ""


def _pandas_oracle(path: Path, variables: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Bin one stay file with pandas and plain Python (independent of the bulk reader)."""
    import pandas as pd

    df = pd.read_csv(path)
    assert list(df.columns) == ["Hours", *variables]
    rows = [tuple(None if pd.isna(v) else float(v) for v in r) for r in df.itertuples(index=False)]
    return reference_arrays([rows], len(variables))


def test_reads_the_synthetic_generator_output(tmp_path):
    icu_synth = pytest.importorskip("ehrlib.icu.synth")
    root = pytest.importorskip("ehrlib.icu.writer").generate_icu_dataset(tmp_path / "icu", n_episodes=150, seed=3, progress=False)
    ds = read_dataset(root, progress=False)
    assert sum(len(es) for es in ds.values()) == 150
    subjects = [set(es.subject_ids.tolist()) for es in ds.values()]
    assert not (subjects[0] & subjects[1] or subjects[0] & subjects[2] or subjects[1] & subjects[2])
    rng = np.random.default_rng(0)
    for split, es in ds.items():
        assert es.variables == list(icu_synth.VARIABLES) and len(es.variables) == 15
        assert es.true_risk is not None and ((es.true_risk >= 0) & (es.true_risk <= 1)).all()
        assert set(np.unique(es.y).tolist()) <= {0, 1} and es.mask.any()
        for i in rng.choice(len(es), size=min(5, len(es)), replace=False):
            values, mask = _pandas_oracle(Path(root) / split / es.stays[i], es.variables)
            np.testing.assert_array_equal(es.mask[i], mask[0])
            np.testing.assert_array_equal(es.values[i], values[0])


def test_read_generated_returns_the_splits_latent_state_and_settings(tmp_path):
    from ehrlib.icu.reader import read_generated
    from ehrlib.icu.writer import generate_icu_dataset

    folder = generate_icu_dataset(tmp_path / "icu", n_episodes=30, split=(20, 5, 5), seed=3, progress=False)
    generated = read_generated(folder)
    assert {name: len(es) for name, es in generated.splits.items()} == {"train": 20, "val": 5, "test": 5}
    stays = np.concatenate([es.stays for es in generated.splits.values()])
    assert sorted(generated.latent.index) == sorted(stays)
    assert generated.meta["config"]["seed"] == 3 and generated.meta["counts"]["train"]["episodes"] == 20
