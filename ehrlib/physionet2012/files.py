"""Where the PhysioNet 2012 challenge files are, how to download and verify them, and safe reading.

The four files (`FILE_NAMES`): `set-a.tar.gz` and `set-b.tar.gz` (one `<RecordID>.txt` per ICU stay,
under `set-a/` or `set-b/`) and `Outcomes-a.txt`, `Outcomes-b.txt` (one row per stay). A set's records
may also be an extracted folder `set-a/` of `<RecordID>.txt` beside the outcomes (`PhysionetFiles`).

Where they are looked for (`candidate_folders`): `$EHRLIB_PHYSIONET2012` when set (and then only there:
an incomplete folder named by the variable is an error, not a silent fallback), otherwise
`<project root>/../shared/physionet2012` and then `<project root>/data/physionet2012`, where
`download_physionet2012` puts them (from `PHYSIONET_URL`, or `$EHRLIB_PHYSIONET2012_URL` through
`ensure_physionet2012`). Each download is written beside its destination and renamed into place, in a
folder carrying ehrlib's marker; a folder ehrlib did not make is never written into.

Tarballs are read in memory with `tarfile` (nothing is extracted to disk). Members `set-a/<id>.txt` or
`<id>.txt` are read, directories ignored, and anything else refused with one line naming the member: an
absolute name, a `..` component, a link, a device or FIFO, or a file that is not a `.txt` record of
this set. A truncated or corrupt tarball, a malformed outcomes file and a record without its outcome
(or an outcome without its record) each raise `PhysionetDataError`, one line naming the file.
"""

from __future__ import annotations

import http.client
import os
import re
import sys
import tarfile
import urllib.error
import urllib.request
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ehrlib.files import atomic_open, check_regular_file, is_ehrlib_folder, mark_folder, target_lock
from ehrlib.logs import get_logger, progress_enabled
from ehrlib.profiles import project_root

__all__ = [
    "ENV_FOLDER", "ENV_URL", "FILE_NAMES", "OUTCOME_COLUMNS", "PHYSIONET_URL", "SETS", "PhysionetDataError",
    "PhysionetFiles", "RecordFiles", "candidate_folders", "download_physionet2012", "ensure_physionet2012",
    "locate_physionet2012", "match_outcomes", "physionet_url", "read_outcomes", "read_record_files",
    "verify_physionet2012",
]

log = get_logger(__name__)

PHYSIONET_URL = "https://physionet.org/files/challenge-2012/1.0.0/"
FILE_NAMES: tuple[str, ...] = ("set-a.tar.gz", "set-b.tar.gz", "Outcomes-a.txt", "Outcomes-b.txt")
SETS: tuple[str, ...] = ("a", "b")
#: Environment variables: the folder holding the four files, and the download's base URL.
ENV_FOLDER = "EHRLIB_PHYSIONET2012"
ENV_URL = "EHRLIB_PHYSIONET2012_URL"
#: The outcomes files' header, and the names this package gives those columns.
OUTCOME_HEADER = ("RecordID", "SAPS-I", "SOFA", "Length_of_stay", "Survival", "In-hospital_death")
OUTCOME_COLUMNS = ("saps1", "sofa", "length_of_stay", "survival", "death")
#: Largest record file or outcomes file read (a real record is under 30 kB; this refuses a tar bomb).
MAX_FILE_BYTES = 64 << 20
_RECORD_NAME = re.compile(r"^([0-9]{1,12})\.txt$")
_CHUNK = 1 << 20


class PhysionetDataError(ValueError):
    """A missing, malformed or unsafe PhysioNet 2012 file; one line naming the file (member, line) and problem."""


@dataclass(frozen=True)
class PhysionetFiles:
    """A folder holding the challenge's files: per set a tarball (or an extracted folder) and outcomes."""

    folder: Path

    def records(self, s: str) -> Path:
        """Set `s`'s records: the tarball `set-s.tar.gz`, or else an extracted folder `set-s/`."""
        _check_set(s)
        tarball = self.folder / f"set-{s}.tar.gz"
        folder = self.folder / f"set-{s}"
        return folder if not tarball.exists() and folder.is_dir() else tarball

    def outcomes(self, s: str) -> Path:
        """Set `s`'s outcomes file `Outcomes-s.txt`."""
        _check_set(s)
        return self.folder / f"Outcomes-{s}.txt"

    def missing(self) -> list[str]:
        """The files (or folders) of the four that are not there; empty when the folder is complete."""
        out = []
        for s in SETS:
            if not (self.records(s).is_file() or self.records(s).is_dir()):
                out.append(f"set-{s}.tar.gz (or set-{s}/)")
            if not self.outcomes(s).is_file():
                out.append(self.outcomes(s).name)
        return out


def _check_set(s: str) -> None:
    if s not in SETS:
        raise ValueError(f"unknown PhysioNet 2012 set {s!r}; expected one of {', '.join(SETS)}")


# --------------------------------------------------------------------------------------------------
# Locating, downloading, ensuring
# --------------------------------------------------------------------------------------------------


def candidate_folders(root: Path | None = None) -> list[Path]:
    """Folders searched, in order: `$EHRLIB_PHYSIONET2012` alone when set; otherwise
    `<root>/../shared/physionet2012`, then `<root>/data/physionet2012` (`root`: the project root)."""
    env = os.environ.get(ENV_FOLDER)
    if env:
        return [Path(env).expanduser()]
    root = Path(root) if root is not None else project_root()
    return [root.parent / "shared" / "physionet2012", root / "data" / "physionet2012"]


def locate_physionet2012(root: Path | None = None) -> PhysionetFiles | None:
    """The first candidate folder holding all four files (a tarball or folder per set), or None.

    When `$EHRLIB_PHYSIONET2012` is set and its folder is incomplete, raises `PhysionetDataError`
    naming it and what is missing (no silent fallback to another copy).
    """
    for folder in candidate_folders(root):
        files = PhysionetFiles(folder)
        missing = files.missing()
        if not missing:
            return files
        if os.environ.get(ENV_FOLDER):
            raise PhysionetDataError(f"{ENV_FOLDER}={folder}: missing {', '.join(missing)}")
    return None


def physionet_url() -> str:
    """The download's base URL: `$EHRLIB_PHYSIONET2012_URL` if set, else `PHYSIONET_URL`."""
    return os.environ.get(ENV_URL) or PHYSIONET_URL


def download_physionet2012(dest: Path, base_url: str = PHYSIONET_URL, progress: bool = True,
                           timeout: float = 30) -> PhysionetFiles:
    """Download the four files into `dest` (made and marked as ehrlib's) and return them.

    Files already there are kept (each was renamed into place only when complete). Each download is
    written beside its destination and renamed; a network failure raises `PhysionetDataError` naming
    the URL. A non-empty folder ehrlib did not make is refused; a second download into the same
    folder at the same time fails at once (a lock beside it).
    """
    dest = Path(dest)
    if dest.exists() and (not dest.is_dir() or (any(dest.iterdir()) and not is_ehrlib_folder(dest))):
        raise PhysionetDataError(f"{dest}: exists and was not made by ehrlib; refusing to download into it")
    dest.mkdir(parents=True, exist_ok=True)
    with target_lock(dest):
        mark_folder(dest)
        for name in FILE_NAMES:
            if not (dest / name).is_file():
                _download(f"{base_url.rstrip('/')}/{name}", dest / name, progress, timeout)
    log.info("downloaded the PhysioNet 2012 files into %s", dest)
    return PhysionetFiles(dest)


def _download(url: str, path: Path, progress: bool, timeout: float) -> None:
    """Stream one URL into `path` (written aside, renamed when complete), with a tqdm bar on stderr."""
    from tqdm import tqdm

    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            total = resp.headers.get("Content-Length")
            total = int(total) if total and total.isdigit() else None
            got = 0
            with atomic_open(path) as fh, tqdm(total=total, unit="B", unit_scale=True, desc=path.name,
                                               file=sys.stderr, leave=False,
                                               disable=not progress_enabled(progress)) as bar:
                while chunk := resp.read(_CHUNK):
                    fh.write(chunk)
                    got += len(chunk)
                    bar.update(len(chunk))
                if total is not None and got != total:
                    raise PhysionetDataError(f"{url}: download incomplete ({got:,} of {total:,} bytes)")
    except urllib.error.HTTPError as exc:
        raise PhysionetDataError(f"{url}: download failed (HTTP {exc.code} {exc.reason})") from None
    except urllib.error.URLError as exc:
        raise PhysionetDataError(f"{url}: download failed ({exc.reason})") from None
    except (http.client.HTTPException, TimeoutError, ConnectionError) as exc:
        raise PhysionetDataError(f"{url}: download failed ({type(exc).__name__}: {exc})") from None


def ensure_physionet2012(root: Path | None = None, download: bool = True, progress: bool = True, *,
                         expected_records: int | None = 4000) -> PhysionetFiles | None:
    """Locate the files, else download them into `<root>/data/physionet2012`, then verify them.

    Returns None, with one warning line saying how to get the data, when they are neither found nor
    downloadable (so a book build without data and network still builds). A corrupt or inconsistent
    copy raises `PhysionetDataError` (see `verify_physionet2012`).
    """
    files = locate_physionet2012(root)
    if files is None and download:
        dest = candidate_folders(root)[-1]
        try:
            files = download_physionet2012(dest, physionet_url(), progress)
        except PhysionetDataError as exc:
            log.warning("PhysioNet 2012 data not found and not downloaded (%s); set %s to a folder holding "
                        "%s, or run `ehrlib data physionet2012` with network access", exc, ENV_FOLDER,
                        ", ".join(FILE_NAMES))
            return None
    if files is None:
        log.warning("PhysioNet 2012 data not found in %s; run `ehrlib data physionet2012 --download` or set %s",
                    ", ".join(map(str, candidate_folders(root))), ENV_FOLDER)
        return None
    verify_physionet2012(files, expected_records)
    return files


# --------------------------------------------------------------------------------------------------
# Safe reading of the records
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RecordFiles:
    """One set's record files, read into memory and sorted by RecordID."""

    source: Path  # the tarball or folder
    record_ids: np.ndarray  # int64, ascending
    names: list[str]  # the member or file name of each record, for messages
    data: list[bytes]  # each record file's bytes

    def where(self, i: int) -> str:
        """Record i's location for a message: `tarball:member` or the file's path."""
        return f"{self.source}:{self.names[i]}" if self.source.is_file() else str(self.source / self.names[i])


def read_record_files(files: PhysionetFiles, s: str) -> RecordFiles:
    """Read set `s`'s record files into memory (safely, from the tarball or the extracted folder)."""
    src = files.records(s)
    if src.is_dir():
        found = _read_folder(src)
    elif src.is_file():
        found = _read_tarball(src, s)
    else:
        raise PhysionetDataError(f"{src}: set {s}'s records not found (no tarball and no folder set-{s}/)")
    ids = np.array([rid for rid, _, _ in found], dtype=np.int64)
    order = np.argsort(ids, kind="stable")
    dup = ids[order][1:][np.diff(ids[order]) == 0]
    if dup.size:
        raise PhysionetDataError(f"{src}: record {int(dup[0])} appears twice")
    return RecordFiles(src, ids[order], [found[i][1] for i in order], [found[i][2] for i in order])


def _member_record(src: Path, s: str, m: tarfile.TarInfo) -> int | None:
    """The RecordID of a safe tar member, None for a directory; raises for anything unsafe or foreign."""
    name = m.name
    parts = name.split("/")
    if name.startswith("/") or os.path.isabs(name) or ".." in parts or "\\" in name:
        raise PhysionetDataError(f"{src}: member {name!r}: unsafe name (absolute or with '..'); refused")
    if m.issym() or m.islnk():
        raise PhysionetDataError(f"{src}: member {name!r}: a link; refused")
    if m.isdir():
        return None
    if not m.isreg():
        raise PhysionetDataError(f"{src}: member {name!r}: not a regular file (a device or FIFO); refused")
    parts = [p for p in parts if p not in ("", ".")]
    match = _RECORD_NAME.match(parts[-1]) if parts else None
    if match is None or not (len(parts) == 1 or (len(parts) == 2 and parts[0] == f"set-{s}")):
        raise PhysionetDataError(f"{src}: member {name!r}: not a record file set-{s}/<RecordID>.txt; refused")
    if m.size > MAX_FILE_BYTES:
        raise PhysionetDataError(f"{src}: member {name!r}: {m.size:,} bytes, too large for a record; refused")
    return int(match.group(1))


def _read_tarball(src: Path, s: str) -> list[tuple[int, str, bytes]]:
    """(RecordID, member name, bytes) of every record in a gzip tarball, read in memory, in one pass."""
    check_regular_file(src, "tarball", error=PhysionetDataError)
    out = []
    try:
        with tarfile.open(src, "r|*") as tf:
            for m in tf:
                rid = _member_record(src, s, m)
                if rid is None:
                    continue
                fh = tf.extractfile(m)
                out.append((rid, m.name, fh.read() if fh is not None else b""))
    except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
        raise PhysionetDataError(f"{src}: truncated or corrupt tarball ({type(exc).__name__}: "
                                 f"{str(exc) or 'unexpected end'})") from None
    if not out:
        raise PhysionetDataError(f"{src}: no record files in the tarball")
    return out


def _read_folder(src: Path) -> list[tuple[int, str, bytes]]:
    """(RecordID, file name, bytes) of every `<RecordID>.txt` in an extracted set folder (other files
    are ignored; each record must be a regular file)."""
    out = []
    for p in sorted(src.glob("*.txt")):
        match = _RECORD_NAME.match(p.name)
        if match is None:
            raise PhysionetDataError(f"{p}: not a record file <RecordID>.txt")
        check_regular_file(p, "record file", MAX_FILE_BYTES, error=PhysionetDataError)
        out.append((int(match.group(1)), p.name, p.read_bytes()))
    if not out:
        raise PhysionetDataError(f"{src}: no record files <RecordID>.txt in the folder")
    return out


# --------------------------------------------------------------------------------------------------
# Outcomes, matching, verification
# --------------------------------------------------------------------------------------------------


def read_outcomes(path: Path) -> pd.DataFrame:
    """Read an outcomes file into a frame indexed by RecordID (file order) with `OUTCOME_COLUMNS`.

    `saps1`, `sofa`, `length_of_stay` and `survival` are floats with -1 (unknown; for `survival`: no
    death recorded) as NaN; `death` (In-hospital_death) is int8 0/1. A wrong header, a row that is
    not whole numbers, a death other than 0/1 or a repeated RecordID raises, naming the line.
    """
    path = Path(path)
    check_regular_file(path, "outcomes file", MAX_FILE_BYTES, error=PhysionetDataError)
    head = path.read_bytes().split(b"\n", 1)[0].decode("utf-8", "replace").strip()
    if tuple(h.strip() for h in head.split(",")) != OUTCOME_HEADER:
        raise PhysionetDataError(f"{path}: line 1: header {head[:80]!r}, expected {','.join(OUTCOME_HEADER)!r}")
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False, skip_blank_lines=False)
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        raise PhysionetDataError(f"{path}: malformed outcomes file ({str(exc).strip().splitlines()[0]})") from None
    nums = raw.apply(lambda c: pd.to_numeric(c.str.strip(), errors="coerce"))
    bad = nums.isna().to_numpy() | (nums.to_numpy() != np.round(nums.to_numpy()))
    if bad.any():
        r, c = np.argwhere(bad)[0]
        raise PhysionetDataError(f"{path}: line {r + 2}: column {OUTCOME_HEADER[c]!r}: "
                                 f"{raw.iat[r, c]!r} is not a whole number")
    vals = nums.to_numpy(dtype=np.float64)
    for r in np.flatnonzero(~np.isin(vals[:, 5], (0, 1)))[:1]:
        raise PhysionetDataError(f"{path}: line {r + 2}: In-hospital_death {vals[r, 5]:g} is not 0 or 1")
    ids = vals[:, 0].astype(np.int64)
    for r in np.flatnonzero(pd.Index(ids).duplicated())[:1]:
        raise PhysionetDataError(f"{path}: line {r + 2}: RecordID {ids[r]} appears twice")
    out = pd.DataFrame({name: np.where(vals[:, k + 1] == -1, np.nan, vals[:, k + 1])
                        for k, name in enumerate(OUTCOME_COLUMNS[:4])}, index=pd.Index(ids, name="RecordID"))
    out["death"] = vals[:, 5].astype(np.int8)
    return out


def match_outcomes(record_ids: np.ndarray, outcomes: pd.DataFrame, records_path: Path, outcomes_path: Path,
                   extra_ok: bool = False) -> np.ndarray:
    """Positions in `outcomes` of each record; a record without an outcome row (or, unless `extra_ok`,
    an outcome row without its record) raises `PhysionetDataError` naming both files."""
    pos = outcomes.index.get_indexer(record_ids)
    if (pos < 0).any():
        rid = int(record_ids[np.flatnonzero(pos < 0)[0]])
        raise PhysionetDataError(f"{outcomes_path}: no outcome row for record {rid} (in {records_path}); "
                                 f"{int((pos < 0).sum())} record(s) lack one")
    if not extra_ok and len(outcomes) != len(record_ids):
        extra = np.flatnonzero(~outcomes.index.isin(record_ids))
        raise PhysionetDataError(f"{outcomes_path}: line {extra[0] + 2}: RecordID {outcomes.index[extra[0]]} "
                                 f"has no record file in {records_path}; {extra.size} such row(s)")
    return pos


def verify_physionet2012(files: PhysionetFiles, expected_records: int | None = 4000) -> dict[str, dict[str, int]]:
    """Check both sets: every record file readable and matched to exactly one outcome row and back.

    Returns per set {"records", "outcomes", "deaths"}. With `expected_records`, a set of another
    size is an error too. Every problem is one `PhysionetDataError` line naming the file.
    """
    summary: dict[str, dict[str, int]] = {}
    for s in SETS:
        recs = read_record_files(files, s)
        outcomes = read_outcomes(files.outcomes(s))
        match_outcomes(recs.record_ids, outcomes, recs.source, files.outcomes(s))
        if expected_records is not None and len(recs.record_ids) != expected_records:
            raise PhysionetDataError(f"{recs.source}: {len(recs.record_ids):,} records, expected {expected_records:,}")
        summary[s] = {"records": len(recs.record_ids), "outcomes": len(outcomes),
                      "deaths": int(outcomes["death"].sum())}
    return summary
