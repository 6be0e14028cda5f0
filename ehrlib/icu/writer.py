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
import logging
import time
from pathlib import Path
from typing import Sequence

import numpy as np

from ehrlib.icu.layout import SPLITS
from ehrlib.icu.risk import risk_model_text
from ehrlib.icu.schema import DECIMALS, EXTRA_SPECS, GCS_TEXT, LOWER, UNITS, UPPER, VARIABLES
from ehrlib.icu.synth import IcuCohort, IcuConfig, proportional_split, simulate_icu
from ehrlib.files import atomic_directory


HEADER = "Hours," + ",".join(VARIABLES) + "\n"
LAYOUTS: tuple[str, ...] = ("folders", "benchmark")
from ehrlib.logs import get_logger
from ehrlib.logs import progress as progress_bar

log = get_logger(__name__)


def header(variables: Sequence[str]) -> str:
    """The first line of an episode file: `Hours` and the variables."""
    return "Hours," + ",".join(variables) + "\n"


def _cell_table(lo: float, hi: float, dec: int, last: bool,
                labels: dict[int, str] | None = None) -> tuple[np.ndarray, np.ndarray, int, int]:
    """Pre-formatted cells for every value from lo to hi at `dec` decimals (plus an empty cell);
    with `labels`, integer codes are written as their text (the benchmark's Glasgow coma scale)."""
    lo_c, hi_c = int(round(lo * 10 ** dec)), int(round(hi * 10 ** dec))
    end = "\n" if last else ","
    if labels is not None:
        cells = [f"{labels[c]}{end}" for c in range(lo_c, hi_c + 1)] + [end]
    else:
        cells = [f"{c / 10 ** dec:.{dec}f}{end}" for c in range(lo_c, hi_c + 1)] + [end]
    arr = np.array([c.encode() for c in cells])
    return arr, np.char.str_len(arr).astype(np.int64), lo_c, dec


def _format_rows(times: np.ndarray, values: np.ndarray, tables: list) -> tuple[bytes, np.ndarray]:
    """Format rows (Hours in minutes, values) into CSV bytes; returns bytes and each row's length."""
    r = len(times)
    cols = []
    lens = np.zeros(r, dtype=np.int64)
    width = 0
    for k, (arr, ln, lo_c, dec) in enumerate(tables):
        if k == 0:
            idx = times.astype(np.int64) - lo_c
        else:
            v = values[:, k - 1]
            code = np.rint(np.nan_to_num(v, nan=0.0).astype(np.float64) * 10 ** dec).astype(np.int64) - lo_c
            idx = np.where(np.isnan(v), len(arr) - 1, np.clip(code, 0, len(arr) - 2))
        cols.append(arr[idx])
        lens += ln[idx]
        width = max(width, arr.dtype.itemsize)
    mat = np.empty((r, len(tables)), dtype=f"S{width}")
    for k, c in enumerate(cols):
        mat[:, k] = c
    return mat.tobytes().replace(b"\x00", b""), lens


def _spec(name: str) -> tuple[float, float, int]:
    """Range and decimals of one variable."""
    if name in EXTRA_SPECS:
        _, lo, hi, dec = EXTRA_SPECS[name]
        return float(lo), float(hi), int(dec)
    k = VARIABLES.index(name)
    return float(LOWER[k]), float(UPPER[k]), int(DECIMALS[k])


def _tables(variables: Sequence[str] = VARIABLES) -> list:
    """Cell tables for `Hours` (minutes 0..2880) and each variable, in file column order."""
    hours = [f"{mnt // 60 + (mnt % 60) / 60:.4f},".encode() for mnt in range(0, 48 * 60 + 1)]
    harr = np.array(hours)
    tabs = [(harr, np.char.str_len(harr).astype(np.int64), 0, 0)]
    for k, name in enumerate(variables):
        lo, hi, dec = _spec(name)
        tabs.append(_cell_table(lo, hi, dec, last=k == len(variables) - 1, labels=GCS_TEXT.get(name)))
    return tabs


def _stay_folders(lat, layout: str) -> np.ndarray:
    """The folder of each episode's file: its split, or in the benchmark layout `train` (train and
    validation) or `test`."""
    if layout == "benchmark":
        return np.where(lat["split"].to_numpy() == "test", "test", "train")
    return lat["split"].to_numpy()


def _write_episode_files(cohort: IcuCohort, folder: Path, dirs: np.ndarray, progress: bool, chunk: int) -> None:
    """Write one `*_timeseries.csv` per episode, formatting `chunk` episodes at a time."""
    tabs = _tables(cohort.variables)
    head = header(cohort.variables).encode()
    n = len(dirs)
    stays = cohort.latent["stay"].to_numpy()
    for a in progress_bar(range(0, n, chunk), desc="icu: writing episode files", unit="chunk", enabled=progress):
        b = min(n, a + chunk)
        nr = cohort.n_rows[a:b]
        valid = np.arange(cohort.times.shape[1])[None, :] < nr[:, None]
        buf, lens = _format_rows(cohort.times[a:b][valid], cohort.values[a:b][valid], tabs)
        ends = np.cumsum(lens)
        row_end = np.cumsum(nr)
        byte_end = np.where(row_end > 0, ends[np.maximum(row_end - 1, 0)], 0) if len(ends) else np.zeros(len(nr), int)
        byte_start = np.concatenate([[0], byte_end[:-1]])
        for i in range(b - a):
            with open(folder / dirs[a + i] / stays[a + i], "wb") as fh:
                fh.write(head + buf[byte_start[i]:byte_end[i]])


def _listfile(part) -> str:
    return "stay,y_true\n" + "".join(f"{a},{b}\n" for a, b in zip(part["stay"], part["y"]))


def write_cohort(cohort: IcuCohort, folder: Path, progress: bool = False, chunk: int = 2000,
                 layout: str = "folders") -> None:
    """Write a cohort's files into an existing (empty) folder.

    Layout `folders` (this project's): `<split>/listfile.csv`, `<split>/ground_truth.csv` and the
    episode files in `<split>/`. Layout `benchmark` (the real MIMIC-III benchmark's, so its own
    scripts run unchanged): episode files in `train/` (train and validation) and `test/`, with
    `train/listfile.csv` (train and validation), `test/listfile.csv` and `train_listfile.csv`,
    `val_listfile.csv`, `test_listfile.csv` at the root; the true risk then goes to
    `<split>_ground_truth.csv` at the root, which no reader of real data looks for. Both write
    `latent.csv`. `chunk` only bounds memory; the bytes written do not depend on it.
    """
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {LAYOUTS}, got {layout!r}")
    lat = cohort.latent
    dirs = _stay_folders(lat, layout)
    for d in sorted(set(dirs.tolist())):
        (folder / d).mkdir(parents=True, exist_ok=True)
    _write_episode_files(cohort, folder, dirs, progress, chunk)
    for s in SPLITS:
        part = lat[lat["split"] == s].sort_values("stay", kind="stable")
        truth = "stay,true_risk\n" + "".join(f"{a},{b:.6f}\n" for a, b in zip(part["stay"], part["true_risk"]))
        if layout == "folders":
            (folder / s / "listfile.csv").write_text(_listfile(part))
            (folder / s / "ground_truth.csv").write_text(truth)
        else:
            (folder / f"{s}_listfile.csv").write_text(_listfile(part))
            (folder / f"{s}_ground_truth.csv").write_text(truth)
    if layout == "benchmark":
        for d in ("train", "test"):
            part = lat[dirs == d].sort_values("stay", kind="stable")
            (folder / d / "listfile.csv").write_text(_listfile(part))
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
    cfg = dataclasses.replace(base, **changes)
    check_splits_filled(cfg.split, explicit=split is not None or n_episodes is None, proportions=base.split)
    return cfg


def check_splits_filled(split: Sequence[int], explicit: bool, proportions: Sequence[float] | None = None,
                        episodes_name: str = "n_episodes", split_name: str = "split") -> None:
    """Refuse split sizes that leave train, val or test without an episode, naming the option.

    An empty split could not be read back (the reader refuses a listfile that lists no stays), so it
    is refused before anything is simulated. `explicit` says whether the sizes were given (blame
    `split_name`) or derived from the episode count (blame `episodes_name`, giving the smallest count
    whose proportional split, in `proportions`, fills every split).
    """
    empty = [name for name, size in zip(SPLITS, split) if size == 0]
    if not empty:
        return
    which = f"the {' and '.join(empty)} split{'s' if len(empty) > 1 else ''} empty"
    sizes = " ".join(str(int(s)) for s in split)
    if explicit:
        raise ValueError(f"{split_name} {sizes} leaves {which}; give each of train, val and test at least "
                         f"one episode (an empty split cannot be read back)")
    weights = proportions if proportions is not None else IcuConfig().split
    least = next((n for n in range(len(SPLITS), 10_000) if min(proportional_split(n, weights)) > 0), None)
    more = f"use at least {least:,} episodes, or " if least is not None else "give "
    raise ValueError(f"{episodes_name} {sum(split):,} is too few: split {sizes} leaves {which}; "
                     f"{more}a {split_name} with at least one in each")


def metadata(cohort: IcuCohort, layout: str) -> dict:
    """What `metadata.json` records: parameters, realism flags, variables, the risk model, counts.
    No timings (they go to the log), so the whole dataset folder is byte-identical for a seed."""
    cfg, lat = cohort.config, cohort.latent
    return {
        "generator": "ehrlib.icu.synth",
        "config": {"n_episodes": cfg.n_episodes, "split": list(cfg.split), "mortality": cfg.mortality,
                   "seed": cfg.seed, "repeat_subject_rate": cfg.repeat_subject_rate, "variables": cfg.variables},
        "layout": layout,
        "realism": dataclasses.asdict(cfg.realism),
        "variables": list(cohort.variables),
        "units": {v: UNITS.get(v) or EXTRA_SPECS[v][0] for v in cohort.variables},
        "risk_model": risk_model_text(),
        "intercept": round(cohort.intercept, 10),
        "counts": {s: {"episodes": int((lat["split"] == s).sum()), "deaths": int(lat.loc[lat["split"] == s, "y"].sum()),
                       "subjects": int(lat.loc[lat["split"] == s, "subject_id"].nunique())} for s in SPLITS},
        "prevalence": float(lat["y"].mean()),
        "mean_true_risk": float(lat["true_risk"].mean()),
        "charted_rows": int(cohort.n_rows.sum()),
    }


def generate_icu_dataset(out: str | Path, *, n_episodes: int | None = None, split: Sequence[int] | None = None,
                         mortality: float | None = None, seed: int = 0, overwrite: bool = False,
                         progress: bool = True, config: IcuConfig | None = None, variables: str | None = None,
                         layout: str = "folders") -> Path:
    """Simulate a cohort and write it atomically to `out` in the MIMIC-III benchmark format.

    Writes the listfiles, ground truth and one `*_timeseries.csv` per episode in the given `layout`
    (see `write_cohort`), plus `latent.csv` (the latent state; never a feature) and `metadata.json`
    (see `metadata`). `n_episodes` alone splits in the default proportions; `seed` always sets the
    config's seed; `variables` ("source" or "benchmark") overrides the config's variable set.
    Timings go to the log (`logging`), progress to a `tqdm` bar when `progress`. Refuses to replace
    an existing `out` unless `overwrite` is true. Returns the dataset folder.
    """
    cfg = _resolve_config(n_episodes, split, mortality, seed, config)
    if variables is not None:
        cfg = dataclasses.replace(cfg, variables=variables)
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {LAYOUTS}, got {layout!r}")
    out = Path(out)
    t0 = time.perf_counter()
    with atomic_directory(out, overwrite=overwrite) as tmp:
        cohort = simulate_icu(cfg)
        t_sim = time.perf_counter() - t0
        write_cohort(cohort, tmp, progress=progress, layout=layout)
        (tmp / "metadata.json").write_text(json.dumps(metadata(cohort, layout), indent=2, sort_keys=True) + "\n")
    log.info("icu: %s episodes (seed %d) simulated in %.1f s, written to %s in %.1f s in all; prevalence %.3f",
             f"{cfg.n_episodes:,}", cfg.seed, t_sim, out, time.perf_counter() - t0, cohort.latent["y"].mean())
    return out


def dataset_digest(folder: str | Path) -> str:
    """SHA-256 over every file of a dataset (names and bytes), ignoring hidden files (such as a
    reader's cache)."""
    folder = Path(folder)
    h = hashlib.sha256()
    for p in sorted(folder.rglob("*")):
        if not p.is_file() or any(part.startswith(".") for part in p.relative_to(folder).parts):
            continue  # readers may leave hidden caches beside the files
        data = p.read_bytes()
        h.update(str(p.relative_to(folder)).encode() + b"\0" + data + b"\0")
    return h.hexdigest()
