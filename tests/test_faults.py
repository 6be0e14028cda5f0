"""Crash safety: kill a generation or a save midway (SIGKILL, or a failure between two steps), then
check that a rerun leaves exactly one complete dataset or bundle and no leftovers."""

from __future__ import annotations

import errno
import io
import logging
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from ehrlib import files as eio
from ehrlib.files import MARKER, TargetBusyError, atomic_directory, target_lock
from ehrlib.jsonfiles import write_json

ROOT = Path(__file__).resolve().parents[1]


def leftovers(parent: Path) -> list[str]:
    """Hidden temporary, set-aside, lock or unfinished files an interrupted run could leave."""
    return sorted(p.name for p in parent.iterdir()
                  if p.name.startswith(".") and any(t in p.name for t in (".tmp-", ".old-", ".lock", ".tmp")))


def _run_until(script: str, ready: Path, timeout: float = 60.0) -> None:
    """Start `script` in a fresh Python, wait until it creates `ready`, then SIGKILL it."""
    proc = subprocess.Popen([sys.executable, "-c", textwrap.dedent(script)], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + timeout
    while not ready.exists():
        if proc.poll() is not None:
            raise AssertionError(f"script ended early: {proc.stderr.read().decode()[-2000:]}")
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError("script never reached the kill point")
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL


def _complete(folder: Path, n_files: int) -> bool:
    return (folder / MARKER).is_file() and len([p for p in folder.iterdir() if p.name.endswith(".txt")]) == n_files


def test_killed_generation_then_rerun_leaves_one_complete_dataset(tmp_path, caplog):
    final = tmp_path / "ds"
    with atomic_directory(final) as tmp:
        (tmp / "old.txt").write_text("old")
    ready = tmp_path / "ready"
    _run_until(f"""
        import time
        from pathlib import Path
        from ehrlib.files import atomic_directory
        with atomic_directory({str(final)!r}, overwrite=True) as tmp:
            for i in range(3):
                (tmp / f"new{{i}}.txt").write_text("new")
            Path({str(ready)!r}).touch()
            time.sleep(60)  # killed here, halfway through
    """, ready)
    assert (final / "old.txt").read_text() == "old"  # the old dataset is intact
    assert any(".ds.tmp-" in n for n in leftovers(tmp_path))  # and the killed run's copy is visible
    with caplog.at_level(logging.WARNING, logger="ehrlib.files"):
        with atomic_directory(final, overwrite=True) as tmp:
            for i in range(5):
                (tmp / f"new{i}.txt").write_text("new")
    assert "left by an interrupted run" in caplog.text
    assert _complete(final, 5) and not (final / "old.txt").exists()
    assert leftovers(tmp_path) == []


def test_kill_between_the_two_renames_is_repaired(tmp_path, caplog):
    """Where the system cannot swap two folders atomically, an overwrite renames twice; a kill
    between the renames leaves no dataset at the target: the next run restores it, saying so."""
    final = tmp_path / "ds"
    with atomic_directory(final) as tmp:
        (tmp / "old.txt").write_text("old")
    ready = tmp_path / "ready"
    _run_until(f"""
        import os, time
        from pathlib import Path
        import ehrlib.files as eio
        eio._exchange = lambda a, b: False  # as on a system without renameat2
        real = os.replace
        calls = []
        def replace(a, b):
            calls.append(a)
            if len(calls) == 2:  # the old copy is set aside; die before the new one is moved in
                Path({str(ready)!r}).touch()
                time.sleep(60)
            return real(a, b)
        eio.os.replace = replace
        with eio.atomic_directory({str(final)!r}, overwrite=True) as tmp:
            (tmp / "new.txt").write_text("new")
    """, ready)
    assert not final.exists() and any(".ds.old-" in n for n in leftovers(tmp_path))
    with caplog.at_level(logging.WARNING, logger="ehrlib.files"):
        with pytest.raises(eio.DatasetExistsError):  # the restored dataset is not silently replaced
            with atomic_directory(final):
                pass
    assert "restored" in caplog.text and "removed" in caplog.text
    assert (final / "old.txt").read_text() == "old" and leftovers(tmp_path) == []


def test_fallback_overwrite_without_atomic_swap(tmp_path, monkeypatch):
    monkeypatch.setattr(eio, "_exchange", lambda a, b: False)
    final = tmp_path / "ds"
    for text in ("one", "two"):
        with atomic_directory(final, overwrite=True) as tmp:
            (tmp / "v.txt").write_text(text)
    assert (final / "v.txt").read_text() == "two" and leftovers(tmp_path) == []


def test_a_second_run_on_the_same_target_fails_clearly(tmp_path):
    final = tmp_path / "ds"
    with target_lock(final):
        with pytest.raises(TargetBusyError, match=r"ds: another ehrlib run is writing it now"):
            with atomic_directory(final):
                pass
        proc = subprocess.run([sys.executable, "-m", "ehrlib", "generate", "stroke", "--out", str(final),
                               "--patients", "50", "--quiet"], cwd=ROOT, capture_output=True, text=True)
        assert proc.returncode == 2 and "another ehrlib run is writing it now" in proc.stderr
    assert not final.exists() and leftovers(tmp_path) == []  # the lock is gone with its holder


def test_killed_real_generation_then_rerun(tmp_path):
    """SIGKILL `ehrlib generate icu` once its temporary folder exists; a rerun gives the same bytes as
    an uninterrupted generation and removes what the killed run left."""
    from ehrlib.icu.writer import dataset_digest

    out = tmp_path / "icu"
    proc = subprocess.Popen([sys.executable, "-m", "ehrlib", "generate", "icu", "--out", str(out),
                             "--episodes", "400", "--seed", "3", "--quiet"], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not list(tmp_path.glob(".icu.tmp-*/train")) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    if proc.returncode == 0:  # pragma: no cover - finished before the kill (a very fast machine)
        pytest.skip("generation finished before it could be killed")
    assert not out.exists()
    rerun = subprocess.run([sys.executable, "-m", "ehrlib", "generate", "icu", "--out", str(out), "--episodes",
                            "400", "--seed", "3", "--quiet"], cwd=ROOT, capture_output=True, text=True)
    assert rerun.returncode == 0, rerun.stderr
    assert "left by an interrupted run" in rerun.stderr
    clean = tmp_path / "clean"
    subprocess.run([sys.executable, "-m", "ehrlib", "generate", "icu", "--out", str(clean), "--episodes", "400",
                    "--seed", "3", "--quiet"], cwd=ROOT, check=True, capture_output=True)
    assert dataset_digest(out) == dataset_digest(clean)
    assert leftovers(tmp_path) == []


# ----------------------------------------------------------------------------- the model bundle


class FakeModel:
    """Stands in for a Keras model in save tests (writes bytes; loading is tested in test_models)."""

    def __init__(self, payload: bytes, die: Path | None = None) -> None:
        self.payload, self.die = payload, die

    def save(self, path) -> None:
        Path(path).write_bytes(self.payload)
        if self.die is not None:
            self.die.touch()
            time.sleep(60)


def _prep():
    from ehrlib.icu.episodes import EpisodeSet
    from ehrlib.mortality.preprocessing import MortalityPreprocessor

    rng = np.random.default_rng(0)
    v = rng.normal(size=(10, 48, 2)).astype(np.float32)
    es = EpisodeSet(values=v, mask=np.ones(v.shape, bool), y=np.arange(10) % 2,
                    stays=np.array([f"{i}_episode1_timeseries.csv" for i in range(10)]),
                    variables=["a", "b"], true_risk=None, split="train")
    return MortalityPreprocessor().fit(es)


def test_failed_bundle_save_keeps_the_previous_bundle(tmp_path, monkeypatch):
    from ehrlib.mortality import bundle
    from ehrlib.mortality.preprocessing import MortalityPreprocessor

    bundle.save_artifacts(tmp_path, FakeModel(b"model one"), _prep())
    first = bundle._check_bundle(tmp_path / bundle.BUNDLE_DIR)

    def boom(self, path):
        raise OSError(28, "No space left on device", str(path))

    monkeypatch.setattr(MortalityPreprocessor, "save", boom)  # fails after the model was written
    with pytest.raises(OSError):
        bundle.save_artifacts(tmp_path, FakeModel(b"model two"), _prep())
    assert bundle._check_bundle(tmp_path / bundle.BUNDLE_DIR) == first
    assert (tmp_path / bundle.BUNDLE_DIR / "lstm.keras").read_bytes() == b"model one"
    assert leftovers(tmp_path) == []


def test_killed_bundle_save_then_rerun(tmp_path):
    from ehrlib.mortality import bundle as lstm_bundle

    lstm_bundle.save_artifacts(tmp_path, FakeModel(b"model one"), _prep())
    ready = tmp_path / "ready"
    _run_until(f"""
        import sys
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from pathlib import Path
        from test_faults import FakeModel, _prep
        from ehrlib.mortality import bundle as lstm_bundle
        lstm_bundle.save_artifacts({str(tmp_path)!r}, FakeModel(b"model two", die=Path({str(ready)!r})), _prep())
    """, ready)
    folder = tmp_path / lstm_bundle.BUNDLE_DIR
    assert (folder / "lstm.keras").read_bytes() == b"model one"  # never a mixed pair
    lstm_bundle._check_bundle(folder)
    lstm_bundle.save_artifacts(tmp_path, FakeModel(b"model two"), _prep())
    assert (folder / "lstm.keras").read_bytes() == b"model two" and lstm_bundle._check_bundle(folder).files
    assert leftovers(tmp_path) == []


def test_bundle_manifest_catches_a_mismatched_or_changed_file(tmp_path):
    from ehrlib.evaluation.calibration import IsotonicCalibrator
    from ehrlib.evaluation.thresholds import choose_thresholds
    from ehrlib.mortality import bundle as lstm_bundle

    rng = np.random.default_rng(0)
    y = np.arange(100) % 2
    p = np.clip(0.4 * y + 0.6 * rng.random(100), 0, 1)
    lstm_bundle.save_artifacts(tmp_path, FakeModel(b"model"), _prep())
    paths = lstm_bundle.update_artifacts(tmp_path, calibrator=IsotonicCalibrator().fit(p, y), threshold=choose_thresholds(y, p))
    assert set(paths) == {"model", "preprocessor", "calibrator", "threshold"}
    folder = tmp_path / lstm_bundle.BUNDLE_DIR
    assert set(lstm_bundle._check_bundle(folder).files) == {"lstm.keras", "preprocessor.json", "calibrator.json", "threshold.json"}
    other = _prep()
    other.medians = other.medians + 1.0
    other.save(folder / "preprocessor.json")  # a preprocessor from another training, written beside
    with pytest.raises(ValueError, match=r"preprocessor.json: its SHA-256 differs from .*manifest.json"):
        lstm_bundle.load_bundle(tmp_path)
    (folder / "preprocessor.json").unlink()
    with pytest.raises(FileNotFoundError, match=r"preprocessor.json: listed in .*manifest.json but missing"):
        lstm_bundle.load_bundle(tmp_path)


def test_unfinished_reader_cache_files_are_removed(tmp_path, caplog):
    from test_bad_inputs import write_split

    from ehrlib.icu.reader import read_split

    d = write_split(tmp_path)
    stale = d / "..cache-train-48h-0123456789abcdef01234567.npz.k2j3.tmp"
    stale.write_bytes(b"half a cache")
    os.utime(stale, (time.time() - 3600, time.time() - 3600))
    with caplog.at_level(logging.WARNING, logger="ehrlib.icu.cache"):
        read_split(tmp_path, "train", progress=False)
    assert not stale.exists() and "unfinished reader cache" in caplog.text
    assert len(list(d.glob(".cache-train-48h-*.npz"))) == 1


def test_data_command_cleans_leftovers_even_when_up_to_date(tmp_path, monkeypatch, capsys, caplog):
    import ehrlib.icu.writer
    import ehrlib.stroke.synth
    from ehrlib.cli import main
    from ehrlib.profiles import get_profile

    def fake_generate(out, overwrite=False, **k):
        with atomic_directory(out, overwrite=overwrite) as tmp:
            (tmp / "data.txt").write_text("data")
        return out

    monkeypatch.delenv("EHRLIB_ICU_DIR", raising=False)
    monkeypatch.setenv("EHRLIB_ROOT", str(tmp_path))
    monkeypatch.setattr(ehrlib.icu.writer, "generate_icu_dataset", fake_generate)
    monkeypatch.setattr(ehrlib.stroke.synth, "generate_stroke_dataset", fake_generate)
    assert main(["data", "--profile", "quick"]) == 0
    parent = get_profile("quick").icu_dir.parent
    (parent / ".icu.tmp-abc123").mkdir()  # what a killed regeneration leaves
    (parent / ".icu.tmp-abc123" / "half.csv").write_text("half")
    with caplog.at_level(logging.WARNING, logger="ehrlib.files"):
        assert main(["data", "--profile", "quick"]) == 0
    err = capsys.readouterr().err
    assert "up to date" in err and "left by an interrupted run" in err
    assert leftovers(parent) == []


def test_a_folder_that_appears_during_generation_is_not_replaced(tmp_path):
    final = tmp_path / "ds"
    with pytest.raises(eio.NotEhrlibFolderError, match=r"holding mine.txt"):
        with atomic_directory(final, overwrite=True) as tmp:
            (tmp / "new.txt").write_text("new")
            final.mkdir()  # the user makes the folder while the generator runs
            (final / "mine.txt").write_text("mine")
    assert (final / "mine.txt").read_text() == "mine" and leftovers(tmp_path) == []


class _FullDisk(io.BufferedWriter):
    """A file on a full disk: every write fails with a bare ENOSPC, as the operating system's does."""

    def write(self, data):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_a_save_onto_a_full_disk_names_the_file(tmp_path, monkeypatch):
    from ehrlib.cli import describe_error

    path = tmp_path / "prep.json"
    _prep().save(path)
    before = path.read_bytes()
    monkeypatch.setattr(eio.os, "fdopen", lambda fd, *a, **k: _FullDisk(io.FileIO(fd, "wb")))
    with pytest.raises(OSError) as err:
        _prep().save(path)
    assert err.value.errno == errno.ENOSPC and err.value.filename == str(path)
    assert describe_error(err.value) == f"{path}: no space left on the device; free some space or choose another --out"
    assert path.read_bytes() == before and leftovers(tmp_path) == []


def test_a_full_disk_while_making_the_temporary_file_names_the_file(tmp_path, monkeypatch):
    def full(prefix, suffix, dir):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), os.path.join(dir, f"{prefix}x1y2{suffix}"))

    monkeypatch.setattr(eio.tempfile, "mkstemp", full)
    with pytest.raises(OSError, match=r"No space left on device") as err:
        write_json(tmp_path / "results.json", {"a": 1})
    assert err.value.filename == str(tmp_path / "results.json")


def test_a_full_disk_inside_a_dataset_names_the_target_not_the_hidden_copy(tmp_path):
    final = tmp_path / "ds"
    with pytest.raises(OSError) as err:
        with atomic_directory(final):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))  # what a plain write raises
    assert err.value.filename == str(final) and err.value.errno == errno.ENOSPC
    with pytest.raises(FileNotFoundError) as err:
        with atomic_directory(final) as tmp:
            (tmp / "val" / "listfile.csv").write_text("stay,y_true\n")  # a missing sub-folder
    assert err.value.filename == str(final / "val" / "listfile.csv")
    assert not final.exists() and leftovers(tmp_path) == []
    with atomic_directory(final):
        pass
    with pytest.raises(eio.DatasetExistsError, match=r"ds already exists"):  # ehrlib's own errors are unchanged
        with atomic_directory(final):
            pass


def _dead_pid() -> int:
    """The id of a process that has ended."""
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    return int(proc.stdout)


def _killed_mid_overwrite(parent: Path, between_renames: bool) -> Path:
    """What a run killed while overwriting `parent/icu` leaves: its lock (naming the dead process), its
    half-written copy and, killed between the two renames, the old dataset set aside."""
    final = parent / "icu"
    with atomic_directory(final) as tmp:
        (tmp / "old.txt").write_text("old")
    pid = _dead_pid()
    (parent / ".icu.lock").write_text(f"{pid}\n")
    half = parent / ".icu.tmp-k1ll3d"
    half.mkdir()
    (half / "half.csv").write_text("half")
    if between_renames:
        final.rename(parent / f".icu.old-{pid}")
    return final


@pytest.mark.parametrize("between_renames", [False, True], ids=["temporary copy", "between renames"])
def test_rerun_without_overwrite_recovers_a_killed_overwrite_before_refusing(tmp_path, capsys, between_renames):
    from ehrlib.cli import main

    final = _killed_mid_overwrite(tmp_path, between_renames)
    assert main(["generate", "stroke", "--out", str(final), "--patients", "10", "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == f"ehrlib: error: {final} already exists; pass --overwrite (overwrite=True) to replace it"
    assert len(err) == 2 and "recovered after an interrupted run" in err[0], err  # one log line, one error line
    assert "took over the lock .icu.lock left by process" in err[0] and "(no longer running)" in err[0]
    assert "removed .icu.tmp-k1ll3d" in err[0] and ("restored the dataset" in err[0]) == between_renames
    assert (final / "old.txt").read_text() == "old" and leftovers(tmp_path) == []


def test_a_lock_records_its_holder_and_a_dead_holder_is_reported(tmp_path):
    final = tmp_path / "ds"
    with target_lock(final) as lock:
        assert lock.stale_pid is None and lock.path.read_text() == f"{os.getpid()}\n"
    assert not lock.path.exists()
    dead = _dead_pid()
    lock.path.write_text(f"{dead}\n")
    with target_lock(final) as lock:
        assert lock.stale_pid == dead
        assert eio.recover_leftovers(final, lock) == [f"took over the lock .ds.lock left by process {dead} (no longer running)"]
    lock.path.write_text("")  # an empty lock file (an older ehrlib's) is not blamed on any process
    with target_lock(final) as lock:
        assert lock.stale_pid is None and eio.recover_leftovers(final, lock) == []
    assert leftovers(tmp_path) == []
