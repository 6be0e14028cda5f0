"""Writing files and folders safely: atomic files and folders, folder markers, locks and recovery.

Nothing is ever left half-written: files are written beside their destination under a temporary
name and renamed into place (`atomic_open`, the one atomic writer), and datasets and artifact
bundles are built in a temporary folder that replaces the target at the end (`atomic_directory`).
Nothing ehrlib did not make is replaced: every folder it makes carries a marker (`MARKER`) and only
such folders are overwritten; a lock per target stops two runs from writing the same folder, and a
run finds and repairs what a killed one left behind.
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import errno
import fcntl
import os
import shutil
import stat
import tempfile
import typing
from pathlib import Path
from typing import Iterator

from ehrlib.logs import get_logger

log = get_logger(__name__)

#: Marker file inside every dataset or artifact folder that ehrlib makes; only such folders are ever
#: replaced or regenerated (its bytes are fixed, so datasets stay byte-identical).
MARKER = ".ehrlib-made"
_MARKER_TEXT = '{"made_by": "ehrlib", "note": "ehrlib may replace this folder (--overwrite)"}\n'




class DatasetExistsError(FileExistsError):
    """Raised when a dataset folder already exists and overwriting was not asked for."""


class NotEhrlibFolderError(FileExistsError):
    """Raised instead of replacing a folder (or file) that ehrlib did not make; names what is there."""


class TargetBusyError(RuntimeError):
    """Raised when another run holds the lock on the same target folder."""


def is_ehrlib_folder(path: str | os.PathLike) -> bool:
    """Whether `path` is a folder carrying ehrlib's marker (so ehrlib may replace it)."""
    return Path(path, MARKER).is_file()


def mark_folder(path: str | os.PathLike) -> Path:
    """Write ehrlib's marker into a folder it made (its bytes are fixed)."""
    marker = Path(path, MARKER)
    marker.write_text(_MARKER_TEXT, encoding="utf-8")
    return marker


def describe_path(path: Path, limit: int = 5) -> str:
    """A short description of what is at `path`, for refusals: a file, or a folder and a few names."""
    if not path.is_dir():
        return "a file" if path.is_file() else "something that is not a folder"
    try:
        names = sorted(p.name for p in path.iterdir())
    except OSError as exc:
        return f"a folder that cannot be listed ({exc.strerror})"
    more = f", ... ({len(names)} entries)" if len(names) > limit else ""
    return f"a folder holding {', '.join(names[:limit])}{more}" if names else "an empty folder"


def check_regular_file(path: str | os.PathLike, what: str = "file", max_bytes: int | None = None,
                       error: type[Exception] = ValueError) -> os.stat_result:
    """Stat `path` (following links) and require a regular file, optionally at most `max_bytes` long.

    Raises `error` naming the path for a missing file (`FileNotFoundError` when `error` is the default),
    a folder, a FIFO, a device (such as a link to `/dev/zero`) or an oversized file, before anything is
    read from it: a FIFO would block the reader and a device could exhaust memory.
    """
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise (FileNotFoundError if error is ValueError else error)(f"{path}: {what} not found") from None
    except PermissionError:
        raise error(f"{path}: permission denied (cannot read the {what})") from None
    if not stat.S_ISREG(st.st_mode):
        kind = ("a folder" if stat.S_ISDIR(st.st_mode) else "a FIFO (named pipe)" if stat.S_ISFIFO(st.st_mode)
                else "a device" if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode)
                else "a socket" if stat.S_ISSOCK(st.st_mode) else "not a regular file")
        raise error(f"{path}: {what} is {kind}, not a regular file")
    if max_bytes is not None and st.st_size > max_bytes:
        raise error(f"{path}: {what} is {st.st_size:,} bytes, more than the {max_bytes:,} accepted")
    return st


def check_target(final: str | os.PathLike, option: str = "--out") -> Path:
    """Normalise a target folder path and check that it can be made: it has a name (not `.` or `/`)
    and its nearest existing ancestor is a folder. Errors name the option and the path."""
    raw = str(final)
    final = Path(os.path.abspath(raw))
    if raw.strip() == "" or final == final.parent:
        raise ValueError(f"{option} {raw!r}: give a folder to create, such as ./data/icu")
    if Path(raw).name in ("", ".", ".."):
        raise ValueError(f"{option} {raw!r} is the folder {final} itself; give a new folder inside it, "
                         f"such as {Path(raw) / 'icu'}")
    for parent in final.parents:
        if parent.exists():
            if not parent.is_dir():
                raise NotADirectoryError(f"{option} {raw}: {parent} is a file, not a folder")
            break
    if len(os.fsencode(final.name)) > 200:
        raise ValueError(f"{option} {raw}: the folder name is {len(os.fsencode(final.name))} bytes long; "
                         f"keep it under 200")
    return final


def check_replaceable(final: Path, overwrite: bool) -> None:
    """Refuse to replace `final` unless `overwrite` is true and it is an empty folder or one ehrlib made
    (carries `MARKER`); the refusal names what is there. Nothing at `final` passes."""
    if not (final.exists() or final.is_symlink()):
        return
    if not overwrite:
        raise DatasetExistsError(f"{final} already exists; pass --overwrite (overwrite=True) to replace it")
    empty = final.is_dir() and not final.is_symlink() and not any(final.iterdir())
    if not empty and (final.is_symlink() or not is_ehrlib_folder(final)):
        raise NotEhrlibFolderError(
            f"{final} was not made by ehrlib (no {MARKER} inside; it is {describe_path(final)}); "
            f"refusing to replace it: choose another folder or move it away yourself")


@dataclasses.dataclass(frozen=True)
class TargetLock:
    """A held `target_lock`: its file, and the process id recorded in it by a run that was killed while
    holding it (`stale_pid`, None when the lock file was new or clean)."""

    path: Path
    stale_pid: int | None = None


def _take_over(fd: int) -> int | None:
    """Record this process in the lock file just locked; return the process id a killed holder left in
    it (a holder that ends normally removes the file before releasing it), or None."""
    previous = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    pid = int(previous) if previous.isdigit() and len(previous) < 10 else 0
    return pid if pid > 0 and pid != os.getpid() else None


@contextlib.contextmanager
def target_lock(final: str | os.PathLike) -> Iterator[TargetLock]:
    """Hold an exclusive lock on `final` (a `.<name>.lock` file beside it, holding the holder's process
    id) for the block.

    A second run on the same target fails at once with `TargetBusyError` instead of silently
    replacing the first one's output. The lock is released and its file removed at the end; a
    killed run's lock is released by the operating system, and its file, still naming the killed
    process, is taken over by the next run (`TargetLock.stale_pid`; `recover_leftovers` reports it).
    """
    final = Path(final)
    lock = final.parent / f".{final.name}.lock"
    while True:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise TargetBusyError(f"{final}: another ehrlib run is writing it now (lock {lock}); "
                                  f"wait for it to finish or choose another folder") from None
        try:
            same = os.stat(lock).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)  # the previous holder removed the file we locked: lock the new one
    try:
        yield TargetLock(lock, _take_over(fd))
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(lock)
        os.close(fd)


def recover_leftovers(final: str | os.PathLike, lock: TargetLock | None = None) -> list[str]:
    """Clean up after a killed run on `final` (call while holding `target_lock`, passing what it gave);
    returns what was done, which is also logged as one warning line.

    A hidden previous version (`.<name>.old-*`, carrying the marker) is renamed back to `final` when
    `final` is missing (a kill between the two renames of an overwrite); every other `.<name>.tmp-*`
    folder or marked `.<name>.old-*` folder is an unfinished or superseded copy and is removed; a lock
    left by a killed process (`lock.stale_pid`) is reported as taken over (`target_lock` removes it at
    the end). Anything else with such a name (a file, a link, an unmarked folder) is left alone.
    """
    final = Path(final)
    done: list[str] = []
    if lock is not None and lock.stale_pid is not None:
        gone = "no longer running" if not _process_alive(lock.stale_pid) else "no longer holding it"
        done.append(f"took over the lock {lock.path.name} left by process {lock.stale_pid} ({gone})")
    olds = sorted(final.parent.glob(f".{final.name}.old-*"), key=lambda p: p.lstat().st_mtime)
    if not final.exists() and olds and is_ehrlib_folder(olds[-1]):
        os.replace(olds.pop(), final)
        done.append("restored the dataset from the copy an interrupted overwrite had set aside")
    for left in [*olds, *final.parent.glob(f".{final.name}.tmp-*")]:
        if left.is_symlink() or not left.is_dir() or (".old-" in left.name and not is_ehrlib_folder(left)):
            log.warning("left %s alone: it looks like a leftover but ehrlib did not make it", left)
            continue
        shutil.rmtree(left, ignore_errors=True)
        done.append(f"removed {left.name}, left by an interrupted run")
    if done:
        log.warning("%s: recovered after an interrupted run: %s", final, "; ".join(done))
    return done


def _process_alive(pid: int) -> bool:
    """Whether a process with this id (a positive number) exists; it may belong to another user."""
    try:
        os.kill(pid, 0)  # signal 0: only checks
    except (ProcessLookupError, OverflowError):
        return False
    except PermissionError:
        return True
    return True


def prepare_target(final: str | os.PathLike, overwrite: bool, option: str = "--out") -> Path:
    """Check a target folder before a long run: its path (`check_target`), then, under its lock, repair
    what a killed run left (`recover_leftovers`) and only then refuse an existing folder unless
    `overwrite` (`check_replaceable`). `atomic_directory` checks again when it writes."""
    final = check_target(final, option=option)
    if final.parent.is_dir():
        with target_lock(final) as lock:
            recover_leftovers(final, lock)
            check_replaceable(final, overwrite)
    else:
        check_replaceable(final, overwrite)
    return final


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically (Linux renameat2 RENAME_EXCHANGE); False where unsupported."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    at_fdcwd, rename_exchange = -100, 2
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):
        return False
    raise OSError(err, os.strerror(err), str(b))


def _replace_folder(tmp: Path, final: Path) -> None:
    """Put the finished folder `tmp` at `final`, with no moment where `final` is missing where the
    system can swap atomically (else: set the old copy aside, rename, delete it; a kill in between is
    repaired by `recover_leftovers` on the next run)."""
    if not final.exists() and not final.is_symlink():
        os.replace(tmp, final)
        return
    if final.is_dir() and not any(final.iterdir()):
        final.rmdir()
        os.replace(tmp, final)
        return
    if _exchange(tmp, final):
        shutil.rmtree(tmp, ignore_errors=True)  # now the old copy; the next run removes what is left
        return
    old = final.with_name(f".{final.name}.old-{os.getpid()}")
    os.replace(final, old)
    os.replace(tmp, final)
    shutil.rmtree(old, ignore_errors=True)


def name_the_file(exc: OSError, path: Path, tmp: Path | None = None) -> OSError:
    """The OS error `exc` naming what the user asked to write: a write, flush or sync error carries no
    file name (a full disk raises a bare `OSError(ENOSPC)`), so it gets `path`; a name inside the hidden
    temporary copy `tmp` becomes the same name under `path`. Anything else is returned unchanged."""
    name = exc.filename
    if name is not None and tmp is not None:
        with contextlib.suppress(ValueError, TypeError):
            name = path / Path(os.fsdecode(name)).relative_to(tmp)
    if name is None:
        name = path
    if exc.errno is None or str(name) == str(exc.filename) or exc.filename2 is not None:
        return exc
    renamed = OSError(exc.errno, exc.strerror or os.strerror(exc.errno), str(name))
    renamed.__cause__ = exc
    return renamed


def _raise_named(exc: OSError, path: Path, tmp: Path | None = None) -> typing.NoReturn:
    """Raise `exc`, or the same error naming `path` (see `name_the_file`)."""
    raise name_the_file(exc, path, tmp)


def _umask() -> int:
    """The process's file-creation mask (read by setting and restoring it)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_directory(final: str | os.PathLike, overwrite: bool = False) -> Iterator[Path]:
    """Yield a fresh temporary folder that replaces `final` only if the block succeeds.

    Before anything is written: the target is checked (`check_target`), locked against a second
    run (`target_lock`), leftovers of a killed run are repaired (`recover_leftovers`), and an
    existing `final` is refused unless `overwrite` is true (`DatasetExistsError`) and, even then,
    unless it is an empty folder or carries ehrlib's marker (`NotEhrlibFolderError`, naming what is
    there). The temporary folder is in the same parent (an atomic rename), gets the marker when the
    block succeeds, and is removed on any exception, leaving `final` untouched.
    """
    final = check_target(final, option="target")
    final.parent.mkdir(parents=True, exist_ok=True)
    with target_lock(final) as lock:
        recover_leftovers(final, lock)
        check_replaceable(final, overwrite)
        tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.tmp-", dir=final.parent))
        os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes 0700; a dataset gets ordinary folder permissions
        try:
            yield tmp
            mark_folder(tmp)
            check_replaceable(final, overwrite)  # again: something may have appeared there meanwhile
            _replace_folder(tmp, final)
        except OSError as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            _raise_named(exc, final, tmp)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike, durable: bool = True) -> Iterator[typing.BinaryIO]:
    """Yield a binary file that appears at `path` only when the block succeeds (the one atomic writer).

    The data go to a hidden temporary file `.<name>.<random>.tmp` in the same folder, which is
    flushed to disk (`durable`; a cache that is rebuilt anyway may skip it) and renamed over `path`
    at the end; on any error it is removed and `path` keeps its old content. A kill leaves only the
    temporary file, which the next writer of the same kind removes (the reader cache does).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:  # a full disk or a folder without write permission: name the file asked for
        _raise_named(exc, path, Path(os.fsdecode(exc.filename)) if exc.filename else None)
    try:
        with os.fdopen(fd, "wb") as fh:
            yield fh
            fh.flush()
            if durable:
                os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the file ordinary permissions
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            _raise_named(exc, path, Path(tmp))
        raise


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write `data` to `path` through a temporary file in the same folder and an atomic rename."""
    with atomic_open(path) as fh:
        fh.write(data)
    return Path(path)


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write UTF-8 `text` to `path` atomically (see `atomic_write_bytes`)."""
    return atomic_write_bytes(path, text.encode("utf-8"))
