"""Benchmark the PhysioNet 2012 reader: cold (parse both tarballs) and warm (cache) reads of the 8,000 stays.

Usage:
    python benchmarks/bench_physionet.py          # the data found by `locate_physionet2012` (or $EHRLIB_PHYSIONET2012)

Cold reads into a fresh temporary cache folder (so every record is parsed), warm reads the cache the
cold run wrote. Prints seconds, the peak resident memory of the process and the arrays' size; says
so and exits 0 when the data are not there (the benchmark is skipped, not failed).
"""

from __future__ import annotations

import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ehrlib.physionet2012.files import locate_physionet2012  # noqa: E402
from ehrlib.physionet2012.reader import read_physionet2012  # noqa: E402


def main() -> int:
    """Time a cold and a warm read of both sets and print the figures."""
    files = locate_physionet2012()
    if files is None:
        print("PhysioNet 2012 data not found (set EHRLIB_PHYSIONET2012); benchmark skipped")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        cold = read_physionet2012(files, cache_dir=Path(tmp))
        t1 = time.perf_counter()
        warm = read_physionet2012(files, cache_dir=Path(tmp))
        t2 = time.perf_counter()
    n = sum(len(s) for s in cold.values())
    assert all((cold[s].episodes.values.tobytes() == warm[s].episodes.values.tobytes()) for s in cold)
    mb = sum(s.episodes.values.nbytes + s.episodes.mask.nbytes for s in cold.values()) / 1e6
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"PhysioNet 2012 reader: {n:,} stays from {files.folder}")
    print(f"  cold read (parse, clean, bin, write cache): {t1 - t0:.2f} s")
    print(f"  warm read (cache):                          {t2 - t1:.2f} s")
    print(f"  arrays: {mb:.0f} MB; peak resident memory: {peak:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
