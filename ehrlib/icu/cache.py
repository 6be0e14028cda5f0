"""The ICU reader's cache: one fingerprinted `.npz` per split and window, beside the stay files.

A cache `.cache-<split>-<n_hours>h-<key>.npz` holds an `EpisodeSet`'s arrays (read back with
`np.load(allow_pickle=False)`). Its key fingerprints the reader version, the listfile and ground
truth (their bytes) and every stay file's name, size, modification time, inode change time and inode,
so an edited, added, removed or replaced file makes it stale, even after a same-size edit whose
modification time was restored (the change time cannot be set back). Caches are written atomically
through `ehrlib.files.atomic_open`; temporary files left by a killed run are removed by the next write.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import time
import warnings
from pathlib import Path

import numpy as np

from ehrlib.icu.episodes import EpisodeSet
from ehrlib.icu.layout import SplitPaths
from ehrlib.files import atomic_open

__all__ = ["CACHE_GLOB", "READER_VERSION", "cache_path", "clear_cache", "fingerprint", "load_cache", "save_cache"]

from ehrlib.logs import get_logger

log = get_logger(__name__)

#: Bump when the reader's output for the same files changes (invalidates every cache).
READER_VERSION = 3
#: File names of the reader's caches beside the stay files (tools hashing a dataset should skip them).
CACHE_GLOB = ".cache-*.npz"
#: Temporary files of a cache write that did not finish.
_TMP_GLOB = "..cache-*.npz.*.tmp"  # atomic_open's ".<name>.<random>.tmp"
#: A temporary cache file older than this (seconds) belongs to no running reader.
STALE_TMP_SECONDS = 120.0


def fingerprint(paths: SplitPaths, stays: np.ndarray, split: str, n_hours: int, policy: str = "error") -> str:
    """Hash of everything the arrays depend on; "" when a stay file is missing (reading will say so)."""
    h = hashlib.sha256()
    h.update(f"ehrlib.icu.reader v{READER_VERSION} split={split} n_hours={n_hours} layout={paths.layout} "
             f"ranges={policy}\n".encode())
    h.update(paths.listfile.read_bytes())
    if paths.ground_truth is not None:
        h.update(b"\0ground_truth\0" + paths.ground_truth.read_bytes())
    parts = []
    for stay in stays.tolist():
        try:
            st = os.stat(paths.data_dir / stay)
        except FileNotFoundError:
            return ""
        parts.append(f"{stay}\t{st.st_size}\t{st.st_mtime_ns}\t{st.st_ctime_ns}\t{st.st_ino}\n")
    h.update("".join(parts).encode())
    return h.hexdigest()


def cache_path(paths: SplitPaths, split: str, n_hours: int, key: str) -> Path:
    """Where the cache of `split` with window `n_hours` and fingerprint `key` lives."""
    return paths.data_dir / f"{_prefix(split, n_hours)}{key[:24]}.npz"


def _prefix(split: str, n_hours: int) -> str:
    """File-name prefix of a split's cache files (the key follows)."""
    return f".cache-{split}-{n_hours}h-"


def clear_cache(root: str | os.PathLike) -> int:
    """Delete the reader's cache files (and unfinished ones) under a dataset root; returns how many."""
    removed = 0
    for pattern in (CACHE_GLOB, _TMP_GLOB):
        for p in sorted(Path(root).glob(f"*/{pattern}")):
            p.unlink(missing_ok=True)
            removed += pattern == CACHE_GLOB
    return removed


def load_cache(path: Path, key: str) -> EpisodeSet | None:
    """Load a cache file if it exists and carries `key`; a damaged file is ignored (None, with a warning)."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            if str(z["key"]) != key:
                return None
            return EpisodeSet(
                values=z["values"], mask=z["mask"], y=z["y"], stays=z["stays"],
                variables=z["variables"].tolist(),
                true_risk=z["true_risk"] if bool(z["has_true_risk"]) else None, split=str(z["split"]),
                cleaning=json.loads(str(z["cleaning"])))
    except Exception as exc:  # damaged or foreign file: rebuild
        warnings.warn(f"ignoring unreadable cache {path} ({exc})", RuntimeWarning, stacklevel=3)
        return None


def save_cache(path: Path, key: str, es: EpisodeSet) -> None:
    """Write the cache atomically, then remove the split's older caches and unfinished writes."""
    with atomic_open(path, durable=False) as fh:  # a lost cache is only rebuilt
        np.savez(
            fh, key=np.array(key), values=es.values, mask=es.mask, y=es.y, stays=es.stays,
            variables=np.array(es.variables, dtype=str),
            true_risk=es.true_risk if es.true_risk is not None else np.zeros(0),
            has_true_risk=np.array(es.true_risk is not None), split=np.array(es.split),
            cleaning=np.array(json.dumps(es.cleaning, sort_keys=True)))
    prefix = path.name[: path.name.rfind("-") + 1]
    for old in path.parent.glob(prefix + "*.npz"):
        if old != path:
            old.unlink(missing_ok=True)
    now = time.time()
    for tmp in path.parent.glob(f".{prefix}*.npz.*.tmp"):
        with contextlib.suppress(FileNotFoundError):
            if now - tmp.stat().st_mtime < STALE_TMP_SECONDS:
                continue  # another reader may be writing it now
        log.warning("removed an unfinished reader cache left by an interrupted run: %s", tmp)
        tmp.unlink(missing_ok=True)
