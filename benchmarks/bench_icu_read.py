"""Benchmark the ICU reader: cold (parse every file) and warm (cache) load times, and array memory.

Usage:
    python benchmarks/bench_icu_read.py ROOT                 # an existing benchmark-layout dataset
    python benchmarks/bench_icu_read.py ROOT --make-fixture  # first write a crude 24,327-episode
                                                             # fixture (NOT the book's generator)

"Cold" removes the reader's cache files first, so every stay file is read and parsed; it also asks
the operating system to drop the dataset's files from its page cache (posix_fadvise DONTNEED, no
root needed; pass --keep-page-cache to skip), so the files really come from disk. "Warm" loads
the cache written by the cold run.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ehrlib.icu.cache import clear_cache  # noqa: E402
from ehrlib.icu.layout import SPLITS  # noqa: E402
from ehrlib.icu.reader import read_dataset  # noqa: E402

VARIABLES = [
    "Heart Rate", "Systolic blood pressure", "Diastolic blood pressure", "Respiratory rate", "Temperature",
    "Oxygen saturation", "Lactate", "Creatinine", "White blood cells", "Hemoglobin", "Glucose", "Potassium",
    "Sodium", "Bicarbonate", "Blood urea nitrogen",
]


def make_fixture(root: Path, split_sizes: tuple[int, int, int] = (16_972, 3_740, 3_615), seed: int = 0) -> None:
    """Write a crude benchmark-layout fixture (random values, ~60-100 rows per stay) for timing only."""
    rng = np.random.default_rng(seed)
    header = ",".join(["Hours", *VARIABLES])
    subject = 10_000
    for split, n in zip(SPLITS, split_sizes):
        d = root / split
        d.mkdir(parents=True, exist_ok=True)
        lines = ["stay,y_true"]
        for _ in range(n):
            subject += 1
            stay = f"{subject}_episode1_timeseries.csv"
            k = int(rng.integers(60, 101))
            hours = np.sort(rng.uniform(0, 48, size=k)).round(4)
            vals = rng.normal(80, 15, size=(k, len(VARIABLES))).round(2)
            miss = rng.random((k, len(VARIABLES))) < 0.5
            miss[:, 6:] = rng.random((k, len(VARIABLES) - 6)) < 0.9  # labs are sparse
            cells = np.where(miss, "", vals.astype(str))
            rows = [f"{h}," + ",".join(r) for h, r in zip(hours.astype(str), cells.tolist())]
            (d / stay).write_text(header + "\n" + "\n".join(rows) + "\n")
            lines.append(f"{stay},{int(rng.random() < 0.208)}")
        (d / "listfile.csv").write_text("\n".join(lines) + "\n")
        print(f"fixture: wrote {n:,} stays to {d}", flush=True)


def drop_page_cache(root: Path) -> int:
    """Ask the kernel to evict every file under `root` from its page cache; returns the file count."""
    n = 0
    for dirpath, _, names in os.walk(root):
        for name in names:
            fd = os.open(os.path.join(dirpath, name), os.O_RDONLY)
            try:
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(fd)
            n += 1
    return n


def main(argv: list[str] | None = None) -> int:
    """Time a cold and a warm load of all three splits and print the arrays' memory."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("root", type=Path)
    ap.add_argument("--make-fixture", action="store_true", help="write a crude 24,327-stay fixture first")
    ap.add_argument("--keep-page-cache", action="store_true", help="do not evict the files from the OS cache")
    args = ap.parse_args(argv)
    if args.make_fixture:
        t = time.perf_counter()
        make_fixture(args.root)
        print(f"fixture written in {time.perf_counter() - t:.1f} s")
    clear_cache(args.root)
    if not args.keep_page_cache and hasattr(os, "posix_fadvise"):
        os.sync()
        print(f"evicted {drop_page_cache(args.root):,} files from the OS page cache")
    t = time.perf_counter()
    ds = read_dataset(args.root, progress=True)
    cold = time.perf_counter() - t
    t = time.perf_counter()
    warm_ds = read_dataset(args.root, progress=False)
    warm = time.perf_counter() - t
    for split in SPLITS:
        assert np.array_equal(ds[split].values, warm_ds[split].values, equal_nan=True)
    n = sum(len(es) for es in ds.values())
    nbytes = sum(es.values.nbytes + es.mask.nbytes for es in ds.values())
    files = sum(1 for split in SPLITS for _ in ds[split].stays)
    print()
    print(f"episodes              {n:,} ({', '.join(f'{s} {len(ds[s]):,}' for s in SPLITS)}); "
          f"{len(ds['train'].variables)} variables")
    print(f"cold load (parse)     {cold:.2f} s  ({files / cold:,.0f} files/s; includes writing the cache)")
    print(f"warm load (cache)     {warm:.2f} s")
    print(f"arrays in memory      {nbytes / 2**20:.1f} MiB (values float32 + mask bool)")
    print(f"peak RSS              {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
    print(f"observed cells        {sum(int(es.mask.sum()) for es in ds.values()):,}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
