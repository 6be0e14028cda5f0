"""Tests for ehrlib.physionet2012: small hand-written records in tmp_path (tarballs, folders, a local server)."""

from __future__ import annotations

import functools
import http.server
import io
import tarfile
import threading
from pathlib import Path

import numpy as np
import pytest

from ehrlib.cli import main as cli_main
from ehrlib.files import MARKER
from ehrlib.physionet2012 import files as pfiles
from ehrlib.physionet2012 import reader as preader
from ehrlib.physionet2012.files import (PhysionetDataError, PhysionetFiles, download_physionet2012,
                                        ensure_physionet2012, locate_physionet2012, verify_physionet2012)
from ehrlib.physionet2012.reader import PARAMETER_MAP, STATIC_NAMES, VARIABLES, PhysionetSet, read_physionet2012

OUTCOME_HEADER = "RecordID,SAPS-I,SOFA,Length_of_stay,Survival,In-hospital_death\n"


def record(rid: int, rows: list[tuple[str, str, float]], age=54, gender=0, height=-1, icu=4, weight=-1) -> bytes:
    """A record file: the 00:00 descriptors, then the time-series rows (time, parameter, value)."""
    lines = ["Time,Parameter,Value", f"00:00,RecordID,{rid}", f"00:00,Age,{age}", f"00:00,Gender,{gender}",
             f"00:00,Height,{height}", f"00:00,ICUType,{icu}", f"00:00,Weight,{weight}"]
    lines += [f"{t},{p},{v:g}" if isinstance(v, (int, float)) else f"{t},{p},{v}" for t, p, v in rows]
    return ("\n".join(lines) + "\n").encode()


def tarball(members: dict[str, bytes]) -> bytes:
    """A gzip tarball of regular files (name -> bytes), with the set folder entry."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def write_data(folder: Path, sets: dict[str, dict[int, bytes]], outcomes: dict[str, str] | None = None,
               as_folder: bool = False) -> PhysionetFiles:
    """Write both sets' records (tarball or extracted folder) and outcomes (death = RecordID odd)."""
    folder.mkdir(parents=True, exist_ok=True)
    for s, recs in sets.items():
        if as_folder:
            (folder / f"set-{s}").mkdir()
            for rid, data in recs.items():
                (folder / f"set-{s}" / f"{rid}.txt").write_bytes(data)
        else:
            (folder / f"set-{s}.tar.gz").write_bytes(tarball({f"set-{s}/{rid}.txt": d for rid, d in recs.items()}))
        text = (outcomes or {}).get(s) or OUTCOME_HEADER + "".join(
            f"{rid},{10 + k},{-1 if k == 0 else 3},{5},{-1 if rid % 2 == 0 else 7},{rid % 2}\n"
            for k, rid in enumerate(sorted(recs)))
        (folder / f"Outcomes-{s}.txt").write_text(text)
    return PhysionetFiles(folder)


SET_A = {
    101: record(101, [("00:05", "HR", 80), ("00:30", "HR", 90), ("00:45", "HR", 95), ("00:45", "HR", 96),
                      ("01:10", "SysABP", 120), ("01:20", "NISysABP", 130), ("02:10", "NISysABP", 110),
                      ("01:00", "Urine", 50), ("01:30", "Urine", 70), ("01:40", "MechVent", 1),
                      ("03:00", "Weight", 81.5), ("48:00", "HR", 70), ("48:30", "HR", 60),
                      ("02:00", "GCS", 14), ("02:00", "SaO2", 97)],
                age=70, gender=1, height=462.3, icu=2, weight=80),
    102: record(102, [("00:10", "HR", 0), ("00:20", "pH", 735), ("00:25", "pH", 95), ("00:30", "Temp", -17.8),
                      ("05:00", "Weight", 0), ("06:00", "Glucose", 8), ("07:00", "FiO2", 0.5)],
                age=45, gender=-1, height=170.2, icu=-1, weight=-1),
    103: record(103, [], age=33, gender=0, height=13, icu=3, weight=472),
}
SET_B = {201: record(201, [("10:00", "HR", 100)], icu=1), 202: record(202, [("11:00", "RespRate", 18)])}


@pytest.fixture
def data(tmp_path) -> PhysionetFiles:
    return write_data(tmp_path / "pn", {"a": SET_A, "b": SET_B})


def read(files: PhysionetFiles, tmp_path: Path, **kw) -> dict[str, PhysionetSet]:
    return read_physionet2012(files, cache_dir=tmp_path / "cache", **kw)


def cell(ps: PhysionetSet, rid: int, hour: int, var: str) -> float:
    i = int(np.flatnonzero(ps.episodes.subject_ids == rid)[0])
    return float(ps.episodes.values[i, hour, VARIABLES.index(var)])


# --------------------------------------------------------------------------------------------------
# Reading: descriptors, binning, cleaning
# --------------------------------------------------------------------------------------------------


def test_descriptors_static_and_unknowns(data, tmp_path):
    a = read(data, tmp_path)["a"]
    d = a.descriptors
    assert d.index.tolist() == [101, 102, 103] and a.episodes.stays.tolist()[0] == "101_episode1"
    assert d.loc[101, "height"] == pytest.approx(182.0, abs=0.01) and d.loc[101, "height_raw"] == pytest.approx(462.3)
    assert d.loc[101, "weight"] == 80 and d.loc[101, "sex"] == "male" and d.loc[101, "icu"] == "cardiac surgery"
    assert np.isnan(d.loc[102, ["gender", "icu_type", "weight", "weight_raw"]].astype(float)).all()
    assert d.loc[102, "height"] == pytest.approx(170.2) and str(d.loc[102, "sex"]) == "nan"
    assert np.isnan(d.loc[103, "height"]) and d.loc[103, "height_raw"] == 13  # removed, raw kept
    assert np.isnan(d.loc[103, "weight"]) and d.loc[103, "weight_raw"] == 472
    static = a.episodes.static
    assert a.episodes.static_names == list(STATIC_NAMES) and static.dtype == np.float32
    np.testing.assert_allclose(static[0], [70, 1, 182.0, 80, 0, 1, 0, 0], atol=0.01)
    assert np.isnan(static[1, 1]) and np.isnan(static[1, 4:]).all()  # unknown sex and ICU type
    np.testing.assert_array_equal(static[2, 4:], [0, 0, 1, 0])
    assert a.episodes.y.tolist() == [1, 0, 1] and a.episodes.true_risk is None and a.episodes.split == "a"
    o = a.outcomes
    assert o.index.tolist() == [101, 102, 103] and np.isnan(o.loc[101, "sofa"]) and o.loc[102, "sofa"] == 3
    assert np.isnan(o.loc[102, "survival"]) and o.loc[101, "survival"] == 7 and o["death"].dtype == np.int8


def test_hourly_binning_rules(data, tmp_path):
    a = read(data, tmp_path)["a"]
    assert cell(a, 101, 0, "Heart Rate") == 96  # last by time; equal times: later in the file
    assert cell(a, 101, 47, "Heart Rate") == 70  # hour 48 goes to the last bin; 48:30 is dropped
    assert cell(a, 101, 1, "Systolic blood pressure") == 120  # invasive preferred in the same hour
    assert cell(a, 101, 2, "Systolic blood pressure") == 110  # non-invasive alone
    assert cell(a, 101, 1, "Urine output") == 120  # summed over the hour
    assert cell(a, 101, 1, "Mechanical ventilation") == 1
    assert cell(a, 101, 3, "Weight") == 81.5 and np.isnan(cell(a, 101, 0, "Weight"))  # descriptor is not series
    assert cell(a, 101, 2, "Glascow coma scale total") == 14 and cell(a, 101, 2, "Arterial oxygen saturation") == 97
    es = a.episodes
    np.testing.assert_array_equal(es.mask, ~np.isnan(es.values))
    assert es.values.shape == (3, 48, len(VARIABLES)) and es.variables == list(VARIABLES)
    assert set(PARAMETER_MAP.values()) == set(VARIABLES) and len(PARAMETER_MAP) == 37


def test_time_order_decides_not_file_order(tmp_path):
    rec = record(5, [("00:50", "HR", 88), ("00:10", "HR", 77), ("00:50", "Na", 140), ("00:40", "Na", 135)])
    files = write_data(tmp_path / "pn", {"a": {5: rec}, "b": SET_B})
    a = read(files, tmp_path)["a"]
    assert cell(a, 5, 0, "Heart Rate") == 88 and cell(a, 5, 0, "Sodium") == 140


def test_impossible_values_removed_and_counted(data, tmp_path):
    a = read(data, tmp_path)["a"]
    assert np.isnan(cell(a, 102, 0, "Heart Rate"))  # a zero heart rate is removed
    assert cell(a, 102, 0, "pH") == pytest.approx(7.35)  # 735 -> 7.35 (the later 95 is removed)
    assert np.isnan(cell(a, 102, 0, "Temperature")) and np.isnan(cell(a, 102, 5, "Weight"))
    assert cell(a, 102, 6, "Glucose") == 33  # clipped to the benchmark's valid bound
    c = a.cleaning.set_index(["parameter", "rule"])["count"]

    def count(param: str, starts: str) -> int:
        rows = c.loc[param]
        return int(rows[rows.index.str.startswith(starts)].sum())

    assert count("HR", "removed: 0 ") == 1 and count("pH", "corrected") == 1 and count("pH", "removed: outside") == 1
    assert count("Temp", "removed: outside") == 1 and count("Weight", "removed: 0 ") == 1
    assert count("Glucose", "clipped") == 1 and count("Height", "corrected") == 1
    assert count("Height", "removed: outside") == 1 and count("Weight (descriptor)", "removed: outside") == 1
    assert count("Gender", "removed: -1 ") == 1 and count("ICUType", "removed: -1 ") == 1
    assert count("Height", "removed: -1 ") == 0 and count("FiO2", "corrected") == 0
    assert a.episodes.cleaning["Heart Rate"] == {"removed": 1, "clipped": 0, "corrected": 0}
    assert a.episodes.cleaning["pH"] == {"removed": 1, "clipped": 0, "corrected": 1}


def test_record_without_time_series_is_kept(data, tmp_path):
    a = read(data, tmp_path)["a"]
    i = int(np.flatnonzero(a.episodes.subject_ids == 103)[0])
    assert np.isnan(a.episodes.values[i]).all() and not a.episodes.mask[i].any()
    assert a.descriptors.loc[103, "age"] == 33


def test_tarball_and_folder_give_identical_arrays(tmp_path):
    tar = read(write_data(tmp_path / "t", {"a": SET_A, "b": SET_B}), tmp_path)
    folder_files = write_data(tmp_path / "f", {"a": SET_A, "b": SET_B}, as_folder=True)
    assert folder_files.records("a").is_dir()
    fold = read(folder_files, tmp_path)
    for s in ("a", "b"):
        assert tar[s].episodes.values.tobytes() == fold[s].episodes.values.tobytes()
        np.testing.assert_array_equal(tar[s].episodes.static, fold[s].episodes.static)
        assert tar[s].descriptors.equals(fold[s].descriptors) and tar[s].cleaning.equals(fold[s].cleaning)


def test_records_subset_take_and_concat(data, tmp_path):
    sub = read(data, tmp_path, sets=["a"], records=2)
    assert list(sub) == ["a"] and sub["a"].episodes.subject_ids.tolist() == [101, 102]
    full = read(data, tmp_path)
    assert full["a"].episodes.values[:2].tobytes() == sub["a"].episodes.values.tobytes()
    t = full["a"].take([2, 0])
    assert t.descriptors.index.tolist() == [103, 101] == t.outcomes.index.tolist()
    assert t.episodes.subject_ids.tolist() == [103, 101]
    both = PhysionetSet.concat([full["a"], full["b"]])
    assert len(both) == 5 and both.outcomes.index.tolist() == [101, 102, 103, 201, 202]
    assert both.episodes.split == "a+b" and both.episodes.static.shape == (5, len(STATIC_NAMES))
    hr0 = both.cleaning.set_index(["parameter", "rule"])["count"].loc["HR"].iloc[0]
    assert hr0 == 1 and len(both.cleaning) == len(full["a"].cleaning)
    with pytest.raises(ValueError, match="records must be a positive integer"):
        read(data, tmp_path, records=0)


# --------------------------------------------------------------------------------------------------
# Cache
# --------------------------------------------------------------------------------------------------


def test_cache_hit_is_identical_and_damage_rebuilds(data, tmp_path, monkeypatch):
    first = read(data, tmp_path)
    caches = sorted((tmp_path / "cache").glob("physionet2012-*.npz"))
    assert [p.name.split("-")[1] for p in caches] == ["a", "b"]

    def boom(*a, **k):
        raise AssertionError("records were parsed although the cache is current")

    with monkeypatch.context() as m:
        m.setattr(preader, "_read_set", boom)
        hit = read(data, tmp_path)
    for s in ("a", "b"):
        assert hit[s].episodes.values.tobytes() == first[s].episodes.values.tobytes()
        np.testing.assert_array_equal(hit[s].episodes.mask, first[s].episodes.mask)
        np.testing.assert_array_equal(hit[s].episodes.static, first[s].episodes.static)
        assert hit[s].episodes.stays.tolist() == first[s].episodes.stays.tolist()
        assert hit[s].episodes.cleaning == first[s].episodes.cleaning
        for frame in ("descriptors", "outcomes", "cleaning"):
            assert getattr(hit[s], frame).equals(getattr(first[s], frame)), frame
    caches[0].write_bytes(b"not a zip file")
    with pytest.warns(RuntimeWarning, match="ignoring unreadable PhysioNet 2012 cache"):
        again = read(data, tmp_path)
    assert again["a"].episodes.values.tobytes() == first["a"].episodes.values.tobytes()
    # A changed outcomes file makes the cache stale.
    text = (data.folder / "Outcomes-a.txt").read_text().replace("\n101,10,-1,5,7,1\n", "\n101,10,-1,5,7,0\n")
    (data.folder / "Outcomes-a.txt").write_text(text)
    assert read(data, tmp_path)["a"].episodes.y.tolist() == [0, 0, 1]


# --------------------------------------------------------------------------------------------------
# Bad input: one line naming the file
# --------------------------------------------------------------------------------------------------


def one_line(exc: pytest.ExceptionInfo) -> str:
    msg = str(exc.value)
    assert "\n" not in msg
    return msg


@pytest.mark.parametrize("row, problem", [
    ("00:30,Heartbeat,80", "unknown parameter 'Heartbeat'"),
    ("0:3O,HR,80", "time '0:3O' is not HH:MM"),
    ("00:30,HR,fast", "value 'fast' is not a number"),
    ("00:30,HR", "expected 3 fields"),
])
def test_malformed_record_names_file_and_line(tmp_path, row, problem):
    bad = record(7, [("00:10", "HR", 70)]) + (row + "\n").encode()
    files = write_data(tmp_path / "pn", {"a": {6: record(6, []), 7: bad}, "b": SET_B})
    with pytest.raises(PhysionetDataError) as exc:
        read(files, tmp_path, sets=["a"])
    assert f"set-a.tar.gz:set-a/7.txt: line 9: {problem}" in one_line(exc)


def test_record_id_must_match_the_file(tmp_path):
    files = write_data(tmp_path / "pn", {"a": {8: record(9, [])}, "b": SET_B})
    with pytest.raises(PhysionetDataError, match=r"set-a/8.txt: line 2: RecordID 9 is not the file's \(8\)"):
        read(files, tmp_path, sets=["a"])


def test_corrupt_and_truncated_tarballs(data, tmp_path):
    whole = (data.folder / "set-a.tar.gz").read_bytes()
    for damaged in (whole[: len(whole) // 2], b"this is not a tarball"):
        (data.folder / "set-a.tar.gz").write_bytes(damaged)
        with pytest.raises(PhysionetDataError) as exc:
            verify_physionet2012(data, expected_records=None)
        assert one_line(exc).startswith(f"{data.folder / 'set-a.tar.gz'}: truncated or corrupt tarball")
        with pytest.raises(PhysionetDataError, match="truncated or corrupt"):
            read(data, tmp_path)


def test_outcomes_must_match_records_both_ways(data, tmp_path):
    assert verify_physionet2012(data, expected_records=None) == {
        "a": {"records": 3, "outcomes": 3, "deaths": 2}, "b": {"records": 2, "outcomes": 2, "deaths": 1}}
    with pytest.raises(PhysionetDataError, match="3 records, expected 4,000"):
        verify_physionet2012(data)
    path = data.folder / "Outcomes-a.txt"
    good = path.read_text()
    path.write_text(good.replace("102,11,3,5,-1,0\n", ""))
    with pytest.raises(PhysionetDataError) as exc:
        verify_physionet2012(data, expected_records=None)
    assert one_line(exc).startswith(f"{path}: no outcome row for record 102")
    with pytest.raises(PhysionetDataError, match="no outcome row for record 102"):
        read(data, tmp_path)
    path.write_text(good + "999,1,1,1,-1,0\n")
    with pytest.raises(PhysionetDataError, match=r"Outcomes-a.txt: line 5: RecordID 999 has no record file"):
        verify_physionet2012(data, expected_records=None)
    assert len(read(data, tmp_path, sets=["a"], records=3)["a"]) == 3  # a subset ignores other rows
    for text, problem in ((good.replace("SAPS-I", "SAPS"), "line 1: header"),
                          (good.replace("102,11,3,5,-1,0", "102,11,x,5,-1,0"), "line 3: column 'SOFA'"),
                          (good.replace("102,11,3,5,-1,0", "102,11,3,5,-1,2"), "line 3: In-hospital_death 2")):
        path.write_text(text)
        with pytest.raises(PhysionetDataError) as exc:
            verify_physionet2012(data, expected_records=None)
        assert problem in one_line(exc)


@pytest.mark.parametrize("kind", ["dotdot", "absolute", "symlink", "hardlink", "device", "foreign"])
def test_unsafe_tar_members_are_refused(tmp_path, kind):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        good = record(1, [])
        info = tarfile.TarInfo("set-a/1.txt")
        info.size = len(good)
        tf.addfile(info, io.BytesIO(good))
        name = {"dotdot": "set-a/../../x.txt", "absolute": "/tmp/abs.txt", "symlink": "set-a/2.txt",
                "hardlink": "set-a/3.txt", "device": "set-a/4.txt", "foreign": "set-a/notes.md"}[kind]
        bad = tarfile.TarInfo(name)
        bad.type = {"symlink": tarfile.SYMTYPE, "hardlink": tarfile.LNKTYPE, "device": tarfile.CHRTYPE}.get(
            kind, tarfile.REGTYPE)
        bad.linkname = "/etc/passwd" if kind in ("symlink", "hardlink") else ""
        bad.size = 3 if bad.type == tarfile.REGTYPE else 0
        tf.addfile(bad, io.BytesIO(b"abc") if bad.type == tarfile.REGTYPE else None)
    files = write_data(tmp_path / "pn", {"a": {1: record(1, [])}, "b": SET_B})
    (files.folder / "set-a.tar.gz").write_bytes(buf.getvalue())
    before = sorted(p.name for p in tmp_path.parent.iterdir())
    with pytest.raises(PhysionetDataError) as exc:
        read(files, tmp_path, sets=["a"])
    assert f"member {name!r}" in one_line(exc) and "refused" in one_line(exc)
    assert sorted(p.name for p in tmp_path.parent.iterdir()) == before and not Path("/tmp/abs.txt").exists()
    assert sorted(p.name for p in files.folder.iterdir()) == ["Outcomes-a.txt", "Outcomes-b.txt", "set-a.tar.gz",
                                                               "set-b.tar.gz"]


# --------------------------------------------------------------------------------------------------
# Locating and downloading
# --------------------------------------------------------------------------------------------------


@pytest.fixture
def server(tmp_path):
    """A local HTTP server (127.0.0.1, port 0, in a thread) serving tmp_path/served; yields its base URL."""
    served = tmp_path / "served"
    served.mkdir()

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(served)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield served, f"http://127.0.0.1:{httpd.server_address[1]}/files/"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_download_from_a_local_server_and_404(data, server, tmp_path, monkeypatch):
    served, url = server
    (served / "files").mkdir()
    for name in pfiles.FILE_NAMES:
        (served / "files" / name).write_bytes((data.folder / name).read_bytes())
    dest = tmp_path / "dl"
    got = download_physionet2012(dest, url, progress=False)
    for name in pfiles.FILE_NAMES:
        assert (dest / name).read_bytes() == (data.folder / name).read_bytes()
    assert (dest / MARKER).is_file() and got.folder == dest
    assert verify_physionet2012(got, expected_records=None)["a"]["deaths"] == 2
    (served / "files" / "Outcomes-b.txt").unlink()
    with pytest.raises(PhysionetDataError) as exc:
        download_physionet2012(tmp_path / "dl2", url, progress=False)
    assert one_line(exc) == f"{url}Outcomes-b.txt: download failed (HTTP 404 File not found)"
    assert sorted(p.name for p in (tmp_path / "dl2").iterdir()) == [MARKER, "Outcomes-a.txt", "set-a.tar.gz",
                                                                    "set-b.tar.gz"]  # nothing half-written
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep")
    with pytest.raises(PhysionetDataError, match="not made by ehrlib"):
        download_physionet2012(foreign, url, progress=False)


def test_ensure_locates_downloads_or_warns(data, server, tmp_path, monkeypatch, capsys):
    served, url = server
    root = tmp_path / "project"
    monkeypatch.delenv(pfiles.ENV_FOLDER, raising=False)
    monkeypatch.setenv(pfiles.ENV_URL, url)
    assert ensure_physionet2012(root, download=True, progress=False, expected_records=None) is None  # 404s
    assert ensure_physionet2012(root, download=False, expected_records=None) is None
    warned = [ln for ln in capsys.readouterr().err.splitlines() if "PhysioNet 2012 data not" in ln]
    assert len(warned) == 2 and "HTTP 404" in warned[0] and "not found in" in warned[1]
    (served / "files").mkdir()
    for name in pfiles.FILE_NAMES:
        (served / "files" / name).write_bytes((data.folder / name).read_bytes())
    got = ensure_physionet2012(root, download=True, progress=False, expected_records=None)
    assert got is not None and got.folder == root / "data" / "physionet2012"
    assert locate_physionet2012(root) == got
    monkeypatch.setenv(pfiles.ENV_FOLDER, str(data.folder))
    assert locate_physionet2012(root) == PhysionetFiles(data.folder)
    monkeypatch.setenv(pfiles.ENV_FOLDER, str(tmp_path / "empty"))
    with pytest.raises(PhysionetDataError, match=r"EHRLIB_PHYSIONET2012=.*empty: missing set-a.tar.gz"):
        locate_physionet2012(root)


def test_cli_data_physionet2012(data, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(pfiles.ENV_FOLDER, str(data.folder))
    monkeypatch.setattr(pfiles, "verify_physionet2012", lambda files, expected=4000: verify_physionet2012(files, None))
    assert cli_main(["data", "physionet2012", "--no-download"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("PhysioNet 2012 set a: 3 records, 2 in-hospital deaths") and len(out) == 2
    monkeypatch.delenv(pfiles.ENV_FOLDER)
    monkeypatch.setenv("EHRLIB_ROOT", str(tmp_path / "nowhere"))
    assert cli_main(["data", "physionet2012", "--no-download"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("ehrlib: error: PhysioNet 2012 data not found (--no-download)")


# --------------------------------------------------------------------------------------------------
# The real sets, when present
# --------------------------------------------------------------------------------------------------


def test_real_sets_if_present(tmp_path):
    try:
        files = locate_physionet2012()
    except PhysionetDataError as exc:
        pytest.skip(str(exc))
    if files is None:
        pytest.skip("the PhysioNet 2012 sets are not present")
    summary = verify_physionet2012(files)
    assert summary == {"a": {"records": 4000, "outcomes": 4000, "deaths": 554},
                       "b": {"records": 4000, "outcomes": 4000, "deaths": 568}}
    sets = read_physionet2012(files, cache_dir=tmp_path)
    for s, deaths in (("a", 554), ("b", 568)):
        es = sets[s].episodes
        assert len(es) == 4000 and int(es.y.sum()) == deaths and es.values.shape == (4000, 48, len(VARIABLES))
        assert es.mask[:, :, VARIABLES.index("Heart Rate")].any(axis=1).mean() > 0.95
    assert sets["a"].episodes.subject_ids[0] == 132539 and sets["a"].descriptors.loc[132539, "age"] == 54


def test_data_command_never_fails_for_physionet(data, tmp_path, monkeypatch, capsys):
    import ehrlib.icu.writer
    import ehrlib.stroke.synth

    monkeypatch.delenv("EHRLIB_ICU_DIR", raising=False)
    monkeypatch.delenv(pfiles.ENV_FOLDER, raising=False)
    monkeypatch.setenv("EHRLIB_ROOT", str(tmp_path / "root"))
    monkeypatch.setattr(ehrlib.icu.writer, "generate_icu_dataset", lambda out, **k: out.mkdir(parents=True))
    monkeypatch.setattr(ehrlib.stroke.synth, "generate_stroke_dataset", lambda out, **k: out.mkdir(parents=True))
    assert cli_main(["data", "--profile", "quick", "--no-download"]) == 0
    assert "PhysioNet 2012 data not found in" in capsys.readouterr().err
    assert cli_main(["data", "--profile", "quick"]) == 0  # the download is refused (tests reach no network)
    assert "download failed" in capsys.readouterr().err
    monkeypatch.setenv(pfiles.ENV_FOLDER, str(data.folder))  # found, but 3 records instead of 4,000
    assert cli_main(["data", "--profile", "quick"]) == 0
    err = capsys.readouterr().err
    assert "PhysioNet 2012 data not usable" in err and "expected 4,000" in err
