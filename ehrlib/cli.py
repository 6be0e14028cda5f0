"""Command line: `ehrlib generate icu|stroke ...`, `ehrlib data --profile P`, `ehrlib data physionet2012`,
`ehrlib run-notebooks`.

Heavy modules are imported inside each command so that `ehrlib --help` answers at once.
"""

from __future__ import annotations

import argparse
import errno
import os
import shutil
import sys
import time
from pathlib import Path

from ehrlib.logs import get_logger

_log = get_logger(__name__)

#: Memory and disk a generated dataset needs, measured on this project's generators (peak resident
#: memory of `ehrlib generate` at 1,000 and 4,000 ICU episodes, 2,000 and 8,000 patients), with a
#: margin: a base plus a cost per episode or patient. Used to refuse sizes that cannot fit.
ICU_BYTES = {"base": 200e6, "per_unit": 64e3, "disk_per_unit": 5.5e3}
STROKE_BYTES = {"base": 220e6, "per_unit": 24e3, "disk_per_unit": 0.6e3}


def _int_option(name: str, low: int, high: int | None = None):
    """An argparse type: an integer in [low, high], the error naming the option."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} must be an integer, got {text!r}") from None
        if value < low or (high is not None and value > high):
            bound = (f"an integer from {low:,} to {high:,}" if high is not None and high < 2**62
                     else "a non-negative integer" if low == 0 else f"an integer of at least {low:,}")
            raise argparse.ArgumentTypeError(f"{name} must be {bound}, got {value:,}")
        return value
    return parse


def _fraction_option(name: str):
    """An argparse type: a number strictly between 0 and 1, the error naming the option."""
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} must be a number, got {text!r}") from None
        if not 0.0 < value < 1.0:
            raise argparse.ArgumentTypeError(f"{name} must lie strictly between 0 and 1, got {text}")
        return value
    return parse


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors: `ehrlib: error: argument --seed: ...` and exit status 2."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(2, f"ehrlib: error: {message} (see `{self.prog} --help`)\n")


SEED = _int_option("--seed", 0, 2**63 - 1)


class ResourceError(ValueError):
    """A requested size that cannot fit in the memory or disk available (raised before allocating)."""


def _add_generate(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    gen = sub.add_parser("generate", help="generate a synthetic dataset")
    kinds = gen.add_subparsers(dest="kind", required=True)
    icu = kinds.add_parser("icu", parents=[common],
                           help="synthetic ICU episodes in the MIMIC-III benchmark layout")
    icu.add_argument("--out", required=True, type=Path, help="dataset folder to create")
    icu.add_argument("--episodes", type=_int_option("--episodes", 1), default=None,
                     help="number of ICU episodes (default 24,327)")
    icu.add_argument("--split", type=_int_option("--split", 0), nargs=3, default=None,
                     metavar=("TRAIN", "VAL", "TEST"), help="episodes per split (must add up to --episodes)")
    icu.add_argument("--mortality", type=_fraction_option("--mortality"), default=None,
                     help="target in-hospital mortality (default 0.208)")
    icu.add_argument("--seed", type=SEED, default=0)
    icu.add_argument("--variables", choices=("source", "benchmark"), default="source",
                     help="the source document's 15 variables, or the real MIMIC-III benchmark's 17")
    icu.add_argument("--layout", choices=("folders", "benchmark"), default="folders",
                     help="<split>/listfile.csv folders, or the real benchmark's train/ test/ *_listfile.csv")
    icu.add_argument("--overwrite", action="store_true",
                     help="replace an existing dataset (only a folder ehrlib made)")
    icu.add_argument("--quiet", action="store_true", help="no progress output")
    stroke = kinds.add_parser("stroke", parents=[common],
                              help="synthetic hospital EHR (patients, diagnoses, exams)")
    stroke.add_argument("--out", required=True, type=Path, help="dataset folder to create")
    stroke.add_argument("--patients", type=_int_option("--patients", 1), default=None,
                        help="population size (default: the generator's)")
    stroke.add_argument("--seed", type=SEED, default=0)
    stroke.add_argument("--overwrite", action="store_true",
                        help="replace an existing dataset (only a folder ehrlib made)")
    stroke.add_argument("--quiet", action="store_true", help="no progress output")


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `ehrlib` console script; returns the process exit code.

    Errors a user can act on (bad input, a refused folder, a full disk, a denied permission, a size
    that cannot fit in memory) are printed as one line naming the path or option and the problem,
    with exit status 2 (1 for other failures); `--debug` shows the traceback instead.
    """
    common = _Parser(add_help=False)
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="show the full traceback of an error")
    parser = _Parser(prog="ehrlib", description=__doc__, parents=[common])
    sub = parser.add_subparsers(dest="command", required=True)
    _add_generate(sub, common)
    data = sub.add_parser("data", parents=[common],
                          help="generate every dataset a profile needs (skips up-to-date ones)")
    data.add_argument("what", nargs="?", choices=["physionet2012"], default=None,
                      help="physionet2012: locate (or download) and verify the PhysioNet 2012 sets only")
    data.add_argument("--profile", default="quick")
    data.add_argument("--overwrite", action="store_true")
    data.add_argument("--download", action=argparse.BooleanOptionalAction, default=True,
                      help="download the PhysioNet 2012 files when they are not found (default: yes)")
    run = sub.add_parser("run-notebooks", parents=[common],
                         help="execute the book's notebooks with papermill, in _toc.yml order "
                              "(only those whose inputs changed; see ehrlib/book.py)")
    run.add_argument("--profile", default="quick")
    run.add_argument("--only", nargs="*", default=None, help="notebook stems to run (default: all)")
    run.add_argument("--force", action="store_true",
                     help="execute every chapter, even those whose inputs did not change since their last execution")
    args = parser.parse_args(argv)
    debug = getattr(args, "debug", False)
    try:
        return _dispatch(args)
    except KeyboardInterrupt:
        print("ehrlib: interrupted; nothing half-written was kept", file=sys.stderr)
        return 130
    except Exception as exc:  # one line for the user; the traceback with --debug
        if debug:
            raise
        print(f"ehrlib: error: {describe_error(exc)}", file=sys.stderr)
        return 2 if isinstance(exc, (ValueError, OSError, MemoryError, RuntimeError)) else 1


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "generate":
        return _generate(args)
    if args.command == "data":
        if args.what == "physionet2012":
            return _physionet2012(args.download)
        return _data(args.profile, args.overwrite, args.download)
    from ehrlib.book import run_notebooks

    return run_notebooks(args.profile, only=args.only, force=args.force)


_ERRNO_HINTS = {
    errno.ENOSPC: "no space left on the device; free some space or choose another --out",
    errno.EDQUOT: "disk quota exceeded; free some space or choose another --out",
    errno.EACCES: "permission denied; choose a folder you can write to",
    errno.EPERM: "operation not permitted; choose a folder you can write to",
    errno.EROFS: "read-only file system; choose a writable folder",
    errno.ENAMETOOLONG: "file name too long; choose a shorter --out",
    errno.ENOTDIR: "a part of the path is a file, not a folder",
    errno.EMFILE: "too many open files",
}


def describe_error(exc: BaseException) -> str:
    """One line for an exception: the path and the problem for OS errors, a hint for memory errors,
    the message itself (first line) for ehrlib's own errors, the type and message otherwise."""
    if isinstance(exc, MemoryError):
        return ("out of memory; try a smaller size (--episodes or --patients) or close other programs"
                + (f" ({exc})" if str(exc) else ""))
    if isinstance(exc, OSError) and exc.errno in _ERRNO_HINTS:
        where = exc.filename or ""
        return f"{where}: {_ERRNO_HINTS[exc.errno]}" if where else _ERRNO_HINTS[exc.errno]
    if isinstance(exc, OSError) and exc.strerror and exc.filename:
        return f"{exc.filename}: {exc.strerror.lower()}"
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    if isinstance(exc, (ValueError, OSError, RuntimeError, KeyError, LookupError)) and text:
        return text.strip("'\"") if isinstance(exc, KeyError) else text
    return f"{type(exc).__name__}: {text} (run again with --debug for the traceback)"


def human_bytes(n: float) -> str:
    """A byte count in the largest decimal unit that keeps it at least 1 (`1.2 GB`, `350.0 MB`,
    `5.5 kB`, `0 bytes`), so that a small amount is never printed as `0.0 GB`."""
    for unit, size in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if abs(n) >= size:
            return f"{n / size:,.1f} {unit}"
    return f"{n:,.0f} bytes"


def check_resources(n: int, costs: dict[str, float], option: str, out: Path) -> None:
    """Refuse a size whose estimated memory or disk use exceeds what is available, before allocating.

    The estimate is `costs["base"] + n * costs["per_unit"]` bytes of memory and `n * costs["disk_per_unit"]`
    bytes of disk; the message says how much is needed, how much there is and what size would fit.
    """
    need = costs["base"] + n * costs["per_unit"]
    have = available_memory()
    if have is not None and need > have:
        fit = max(int((have - costs["base"]) / costs["per_unit"]), 0)
        raise ResourceError(f"{option} {n:,} needs about {human_bytes(need)} of memory but about "
                            f"{human_bytes(have)} is available; at most about {fit:,} would fit")
    probe = next((p for p in [out, *out.parents] if p.exists()), None)
    if probe is not None:
        free = shutil.disk_usage(probe).free
        disk = n * costs["disk_per_unit"]
        if disk > free:
            raise ResourceError(f"{option} {n:,} needs about {human_bytes(disk)} of disk but "
                                f"{human_bytes(free)} is free at {probe}")


def available_memory() -> float | None:
    """Bytes of memory available to a new allocation (Linux `MemAvailable`), or None if unknown."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return float(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return float(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return None


def _generate(args: argparse.Namespace) -> int:
    from ehrlib.files import prepare_target

    start = time.perf_counter()
    out = prepare_target(args.out, args.overwrite, option="--out")  # checked again, under the lock, when writing
    if args.kind == "icu":
        from ehrlib.icu.defaults import DEFAULT_EPISODES
        from ehrlib.icu.synth import proportional_split
        from ehrlib.icu.writer import check_splits_filled, generate_icu_dataset

        if args.split is not None and args.episodes is not None and sum(args.split) != args.episodes:
            raise ValueError(f"--split {' '.join(map(str, args.split))} adds up to {sum(args.split):,}, "
                             f"not --episodes {args.episodes:,}")
        n = args.episodes or (sum(args.split) if args.split else DEFAULT_EPISODES)
        check_splits_filled(tuple(args.split) if args.split else proportional_split(n), explicit=args.split is not None,
                            episodes_name="--episodes", split_name="--split")
        check_resources(n, ICU_BYTES, "--episodes", out)
        generate_icu_dataset(out, n_episodes=args.episodes, split=args.split, mortality=args.mortality,
                             seed=args.seed, overwrite=args.overwrite, progress=not args.quiet,
                             variables=args.variables, layout=args.layout)
    else:
        from ehrlib.stroke.synth import StrokeConfig, generate_stroke_dataset

        check_resources(args.patients or StrokeConfig().n_patients, STROKE_BYTES, "--patients", out)
        generate_stroke_dataset(out, n_patients=args.patients, seed=args.seed,
                                overwrite=args.overwrite, progress=not args.quiet)
    _log.info(f"wrote {out} in {time.perf_counter() - start:.1f} s")
    return 0


def _recipe(params: dict, modules: tuple[str, ...]) -> dict:
    """What a generated dataset was made from: its parameters and a SHA-256 of the generator's source."""
    import hashlib
    import importlib.util
    import json

    digest = hashlib.sha256(json.dumps(params, sort_keys=True).encode())
    for name in modules:
        digest.update(Path(importlib.util.find_spec(name).origin).read_bytes())
    return {"params": params, "sha256": digest.hexdigest()}


def _ensure_dataset(folder: Path, params: dict, modules: tuple[str, ...], generate, overwrite: bool) -> None:
    """Generate `folder` unless it exists and was made by the same parameters and generator code.

    The recipe is kept beside the dataset (`.<name>.recipe.json`), so a book build never silently
    uses data from an older generator or another size; a stale dataset is regenerated.
    """
    from ehrlib.files import (MARKER, NotEhrlibFolderError, describe_path, is_ehrlib_folder, mark_folder,
                              recover_leftovers, target_lock)
    from ehrlib.jsonfiles import read_json, write_json

    recipe = _recipe(params, modules)
    recipe_file = folder.parent / f".{folder.name}.recipe.json"
    if folder.parent.is_dir():
        with target_lock(folder) as lock:  # a killed earlier run's leftovers, even when nothing is regenerated
            recover_leftovers(folder, lock)
    if folder.is_dir() and not folder.is_symlink() and not is_ehrlib_folder(folder) and recipe_file.is_file():
        mark_folder(folder)  # made by ehrlib before markers existed: its recipe is beside it
        _log.info(f"{folder} has ehrlib's recipe beside it (made before folder markers); marked as ehrlib's")
    if folder.exists() and (folder.is_symlink() or not folder.is_dir() or
                            (any(folder.iterdir()) and not is_ehrlib_folder(folder))):
        raise NotEhrlibFolderError(
            f"{folder} was not made by ehrlib (no {MARKER} inside; it is {describe_path(folder)}); refusing to "
            f"regenerate it: move it away, or point the book at it with EHRLIB_ICU_DIR if it is ICU data")
    if folder.exists() and not overwrite:
        if recipe_file.exists() and read_json(recipe_file) == recipe:
            _log.info(f"{folder} is up to date; keeping it")
            return
        _log.info(f"{folder} was made by other parameters or generator code; regenerating it")
        overwrite = True
    t = time.perf_counter()
    recipe_file.unlink(missing_ok=True)  # a kill during generation must not leave a recipe that vouches for old data
    generate(folder, overwrite=overwrite, progress=True, **params)
    write_json(recipe_file, recipe)
    _log.info(f"{folder} generated in {time.perf_counter() - t:.1f} s")


def _physionet2012(download: bool) -> int:
    """`ehrlib data physionet2012`: locate (or download) and verify the sets; one line per set."""
    from ehrlib.physionet2012.files import ENV_FOLDER, ensure_physionet2012, verify_physionet2012

    files = ensure_physionet2012(download=download)
    if files is None:
        print(f"ehrlib: error: PhysioNet 2012 data not found{'' if download else ' (--no-download)'} and not "
              f"downloaded; set {ENV_FOLDER} to a folder holding them or run with network access", file=sys.stderr)
        return 1
    for s, counts in verify_physionet2012(files).items():
        print(f"PhysioNet 2012 set {s}: {counts['records']:,} records, {counts['deaths']:,} in-hospital deaths "
              f"({files.records(s)})")
    return 0


def _data(profile_name: str, overwrite: bool, download: bool = True) -> int:
    from ehrlib.profiles import get_profile

    p = get_profile(profile_name)
    if p.icu_external:
        if not p.icu_dir.is_dir():
            raise FileNotFoundError(f"EHRLIB_ICU_DIR={p.icu_dir} is not a folder; unset it to generate synthetic data")
        _log.info(f"EHRLIB_ICU_DIR is set; the ICU chapters use {p.icu_dir} (nothing generated there)")
    else:
        from ehrlib.icu.writer import generate_icu_dataset

        _ensure_dataset(p.icu_dir, {"n_episodes": p.icu_episodes, "split": list(p.icu_split),
                                    "mortality": p.icu_mortality, "seed": p.seed},
                        ("ehrlib.icu.synth", "ehrlib.icu.writer", "ehrlib.icu.defaults"), generate_icu_dataset, overwrite)
    from ehrlib.stroke.synth import generate_stroke_dataset

    _ensure_dataset(p.stroke_dir, {"n_patients": p.stroke_patients or None, "seed": p.seed},
                    ("ehrlib.stroke.synth", "ehrlib.stroke.schema"), generate_stroke_dataset, overwrite)
    from ehrlib.physionet2012.files import ensure_physionet2012

    try:  # real data: never fails the build (chapter 09 says when it is missing)
        ensure_physionet2012(download=download)
    except (ValueError, OSError, RuntimeError) as exc:
        _log.warning(f"PhysioNet 2012 data not usable ({describe_error(exc)}); chapter 09 will say so")
    return 0
