"""Write a simulated ICU cohort to disk in the MIMIC-III benchmark's in-hospital-mortality layout.

`generate_icu_dataset` simulates (`ehrlib.icu.synth.simulate_icu`) and writes atomically:
`{train,val,test}/listfile.csv`, `ground_truth.csv` (the true risk; never a feature) and one
`*_timeseries.csv` per episode, plus `latent.csv` and `metadata.json`. Cells are formatted with
lookup tables of pre-formatted strings and each file is written with one call. `dataset_digest`
hashes a whole dataset folder (for byte-identity checks).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import sys
import time
from pathlib import Path
from typing import Sequence

import numpy as np

from ehrlib.icu.synth import (_DEC, _HI, _LO, SPLITS, UNITS, VARIABLES, IcuCohort, IcuConfig, proportional_split,
                              simulate_icu)
from ehrlib.io import atomic_directory


HEADER = "Hours," + ",".join(VARIABLES) + "\n"


def _cell_table(lo: float, hi: float, dec: int, last: bool) -> tuple[np.ndarray, np.ndarray, int]:
    """Pre-formatted cells for every value from lo to hi at `dec` decimals (plus an empty cell)."""
    lo_c, hi_c = int(round(lo * 10 ** dec)), int(round(hi * 10 ** dec))
    end = "\n" if last else ","
    cells = [f"{c / 10 ** dec:.{dec}f}{end}" for c in range(lo_c, hi_c + 1)] + [end]
    arr = np.array([c.encode() for c in cells])
    return arr, np.char.str_len(arr).astype(np.int64), lo_c


def _format_rows(times: np.ndarray, values: np.ndarray, tables: list) -> tuple[bytes, np.ndarray]:
    """Format rows (Hours in minutes, values) into CSV bytes; returns bytes and each row's length."""
    r = len(times)
    cols = []
    lens = np.zeros(r, dtype=np.int64)
    width = 0
    for k, (arr, ln, lo_c) in enumerate(tables):
        if k == 0:
            idx = times.astype(np.int64) - lo_c
        else:
            v = values[:, k - 1]
            dec = int(_DEC[k - 1])
            code = np.rint(np.nan_to_num(v, nan=0.0).astype(np.float64) * 10 ** dec).astype(np.int64) - lo_c
            idx = np.where(np.isnan(v), len(arr) - 1, np.clip(code, 0, len(arr) - 2))
        cols.append(arr[idx])
        lens += ln[idx]
        width = max(width, arr.dtype.itemsize)
    mat = np.empty((r, len(tables)), dtype=f"S{width}")
    for k, c in enumerate(cols):
        mat[:, k] = c
    return mat.tobytes().replace(b"\x00", b""), lens


def _tables() -> list:
    hours = [f"{mnt // 60 + (mnt % 60) / 60:.4f},".encode() for mnt in range(0, 48 * 60 + 1)]
    harr = np.array(hours)
    tabs = [(harr, np.char.str_len(harr).astype(np.int64), 0)]
    for k in range(len(VARIABLES)):
        tabs.append(_cell_table(float(_LO[k]), float(_HI[k]), int(_DEC[k]), last=k == len(VARIABLES) - 1))
    return tabs


def write_cohort(cohort: IcuCohort, folder: Path, progress: bool = False, chunk: int = 2000) -> None:
    """Write a cohort's files into an existing (empty) folder in the benchmark layout.

    `chunk` only bounds memory; the bytes written do not depend on it.
    """
    lat = cohort.latent
    tabs = _tables()
    for s in SPLITS:
        (folder / s).mkdir(parents=True, exist_ok=True)
    n = len(lat)
    stays = lat["stay"].to_numpy()
    splits = lat["split"].to_numpy()
    start = time.perf_counter()
    for a in range(0, n, chunk):
        b = min(n, a + chunk)
        nr = cohort.n_rows[a:b]
        valid = np.arange(cohort.times.shape[1])[None, :] < nr[:, None]
        buf, lens = _format_rows(cohort.times[a:b][valid], cohort.values[a:b][valid], tabs)
        ends = np.cumsum(lens)
        row_end = np.cumsum(nr)
        byte_end = np.where(row_end > 0, ends[np.maximum(row_end - 1, 0)], 0) if len(ends) else np.zeros(len(nr), int)
        byte_start = np.concatenate([[0], byte_end[:-1]])
        head = HEADER.encode()
        for i in range(b - a):
            with open(folder / splits[a + i] / stays[a + i], "wb") as fh:
                fh.write(head + buf[byte_start[i]:byte_end[i]])
        if progress:
            print(f"  wrote {b:,}/{n:,} episode files ({time.perf_counter() - start:.1f} s)", file=sys.stderr, flush=True)
    for s in SPLITS:
        part = lat[lat["split"] == s].sort_values("stay", kind="stable")
        (folder / s / "listfile.csv").write_text(
            "stay,y_true\n" + "".join(f"{a},{b}\n" for a, b in zip(part["stay"], part["y"])))
        (folder / s / "ground_truth.csv").write_text(
            "stay,true_risk\n" + "".join(f"{a},{b:.6f}\n" for a, b in zip(part["stay"], part["true_risk"])))
    lat_out = lat.sort_values(["split", "stay"], kind="stable")
    lat_out.to_csv(folder / "latent.csv", index=False, float_format="%.6f", lineterminator="\n")


def _resolve_config(n_episodes: int | None, split: Sequence[int] | None, mortality: float | None,
                    seed: int, config: IcuConfig | None) -> IcuConfig:
    """Combine keyword arguments with a config: arguments that are not None (and `seed`) win."""
    base = config or IcuConfig()
    changes: dict = {"seed": seed}
    if n_episodes is not None:
        if isinstance(n_episodes, bool) or int(n_episodes) != n_episodes or n_episodes < 1:
            raise ValueError(f"n_episodes must be a positive integer, got {n_episodes!r}")
        changes["n_episodes"] = int(n_episodes)
        changes["split"] = tuple(split) if split is not None else proportional_split(int(n_episodes), base.split)
    elif split is not None:
        changes["split"] = tuple(split)
        changes["n_episodes"] = int(sum(split)) if all(int(s) >= 0 for s in split) else base.n_episodes
    if mortality is not None:
        changes["mortality"] = mortality
    return dataclasses.replace(base, **changes)


def generate_icu_dataset(out: str | Path, *, n_episodes: int | None = None, split: Sequence[int] | None = None,
                         mortality: float | None = None, seed: int = 0, overwrite: bool = False,
                         progress: bool = True, config: IcuConfig | None = None) -> Path:
    """Simulate a cohort and write it atomically to `out` in the MIMIC-III benchmark layout.

    Writes `{train,val,test}/listfile.csv`, `ground_truth.csv` and one `*_timeseries.csv` per
    episode, plus `latent.csv` (the latent state; never a feature) and `metadata.json`
    (parameters, realism flags, counts, timings). `n_episodes` alone splits in the default
    proportions; `seed` always sets the config's seed. Refuses to replace an existing `out`
    unless `overwrite` is true. Returns the dataset folder.
    """
    cfg = _resolve_config(n_episodes, split, mortality, seed, config)
    out = Path(out)
    t0 = time.perf_counter()
    if progress:
        print(f"icu: simulating {cfg.n_episodes:,} episodes (seed {cfg.seed})", file=sys.stderr, flush=True)
    with atomic_directory(out, overwrite=overwrite) as tmp:
        cohort = simulate_icu(cfg)
        t_sim = time.perf_counter() - t0
        if progress:
            print(f"icu: simulated in {t_sim:.1f} s; writing files", file=sys.stderr, flush=True)
        write_cohort(cohort, tmp, progress=progress)
        lat = cohort.latent
        meta = {
            "generator": "ehrlib.icu.synth",
            "config": {"n_episodes": cfg.n_episodes, "split": list(cfg.split), "mortality": cfg.mortality,
                       "seed": cfg.seed, "repeat_subject_rate": cfg.repeat_subject_rate},
            "realism": dataclasses.asdict(cfg.realism),
            "variables": list(VARIABLES),
            "units": UNITS,
            "intercept": round(cohort.intercept, 10),
            "counts": {s: {"episodes": int((lat["split"] == s).sum()), "deaths": int(lat.loc[lat["split"] == s, "y"].sum()),
                           "subjects": int(lat.loc[lat["split"] == s, "subject_id"].nunique())} for s in SPLITS},
            "prevalence": float(lat["y"].mean()),
            "mean_true_risk": float(lat["true_risk"].mean()),
            "charted_rows": int(cohort.n_rows.sum()),
            "generation": {"simulate_seconds": round(t_sim, 3),
                           "total_seconds": round(time.perf_counter() - t0, 3)},
        }
        (tmp / "metadata.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
    if progress:
        print(f"icu: wrote {out} ({cfg.n_episodes:,} episodes, prevalence {lat['y'].mean():.3f}) in "
              f"{time.perf_counter() - t0:.1f} s", file=sys.stderr, flush=True)
    return out


def dataset_digest(folder: str | Path) -> str:
    """SHA-256 over every file of a dataset (names and bytes), ignoring metadata.json's timings and
    hidden files (such as a reader's cache)."""
    folder = Path(folder)
    h = hashlib.sha256()
    for p in sorted(folder.rglob("*")):
        if not p.is_file() or any(part.startswith(".") for part in p.relative_to(folder).parts):
            continue  # readers may leave hidden caches beside the files
        data = p.read_bytes()
        if p.name == "metadata.json":
            meta = json.loads(data)
            meta.pop("generation", None)
            data = json.dumps(meta, sort_keys=True).encode()
        h.update(str(p.relative_to(folder)).encode() + b"\0" + data + b"\0")
    return h.hexdigest()
