"""Command line: `ehrlib generate icu|stroke ...`, `ehrlib data --profile P`, `ehrlib run-notebooks`.

Heavy modules are imported inside each command so that `ehrlib --help` answers at once.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path


def _add_generate(sub: argparse._SubParsersAction) -> None:
    gen = sub.add_parser("generate", help="generate a synthetic dataset")
    kinds = gen.add_subparsers(dest="kind", required=True)
    icu = kinds.add_parser("icu", help="synthetic ICU episodes in the MIMIC-III benchmark layout")
    icu.add_argument("--out", required=True, type=Path, help="dataset folder to create")
    icu.add_argument("--episodes", type=int, default=None, help="number of ICU episodes (default 24,327)")
    icu.add_argument("--split", type=int, nargs=3, default=None, metavar=("TRAIN", "VAL", "TEST"),
                     help="episodes per split (must add up to --episodes)")
    icu.add_argument("--mortality", type=float, default=None, help="target in-hospital mortality (default 0.208)")
    icu.add_argument("--seed", type=int, default=0)
    icu.add_argument("--overwrite", action="store_true", help="replace an existing dataset")
    icu.add_argument("--quiet", action="store_true", help="no progress output")
    stroke = kinds.add_parser("stroke", help="synthetic hospital EHR (patients, diagnoses, exams)")
    stroke.add_argument("--out", required=True, type=Path, help="dataset folder to create")
    stroke.add_argument("--patients", type=int, default=None, help="population size (default: the generator's)")
    stroke.add_argument("--seed", type=int, default=0)
    stroke.add_argument("--overwrite", action="store_true", help="replace an existing dataset")
    stroke.add_argument("--quiet", action="store_true", help="no progress output")


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `ehrlib` console script; returns the process exit code."""
    parser = argparse.ArgumentParser(prog="ehrlib", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    _add_generate(sub)
    data = sub.add_parser("data", help="generate every dataset a profile needs (skips existing ones)")
    data.add_argument("--profile", default="quick")
    data.add_argument("--overwrite", action="store_true")
    run = sub.add_parser("run-notebooks", help="execute the book's notebooks with papermill, in _toc.yml order")
    run.add_argument("--profile", default="quick")
    run.add_argument("--only", nargs="*", default=None, help="notebook stems to run (default: all)")
    args = parser.parse_args(argv)

    try:
        if args.command == "generate":
            return _generate(args)
        if args.command == "data":
            return _data(args.profile, args.overwrite)
        if args.command == "run-notebooks":
            from ehrlib.book import run_notebooks

            return run_notebooks(args.profile, only=args.only)
    except (ValueError, FileExistsError, FileNotFoundError) as exc:
        print(f"ehrlib: error: {exc}", file=sys.stderr)
        return 2
    return 1


def _generate(args: argparse.Namespace) -> int:
    start = time.perf_counter()
    if args.kind == "icu":
        from ehrlib.icu_synth import generate_icu_dataset

        generate_icu_dataset(args.out, n_episodes=args.episodes, split=args.split, mortality=args.mortality,
                             seed=args.seed, overwrite=args.overwrite, progress=not args.quiet)
    else:
        from ehrlib.stroke_synth import generate_stroke_dataset

        generate_stroke_dataset(args.out, n_patients=args.patients, seed=args.seed,
                                overwrite=args.overwrite, progress=not args.quiet)
    print(f"ehrlib: wrote {args.out} in {time.perf_counter() - start:.1f} s")
    return 0


def _data(profile_name: str, overwrite: bool) -> int:
    from ehrlib.profiles import get_profile

    p = get_profile(profile_name)
    if p.icu_external:
        if not p.icu_dir.is_dir():
            raise FileNotFoundError(f"EHRLIB_ICU_DIR={p.icu_dir} is not a folder; unset it to generate synthetic data")
        print(f"ehrlib: EHRLIB_ICU_DIR is set; the ICU chapters use {p.icu_dir} (nothing generated there)")
    elif p.icu_dir.exists() and not overwrite:
        print(f"ehrlib: {p.icu_dir} exists; keeping it")
    else:
        from ehrlib.icu_synth import generate_icu_dataset

        t = time.perf_counter()
        generate_icu_dataset(p.icu_dir, n_episodes=p.icu_episodes, split=list(p.icu_split),
                             mortality=p.icu_mortality, seed=p.seed, overwrite=overwrite, progress=True)
        print(f"ehrlib: ICU data -> {p.icu_dir} ({time.perf_counter() - t:.1f} s)")
    if p.stroke_dir.exists() and not overwrite:
        print(f"ehrlib: {p.stroke_dir} exists; keeping it")
    else:
        from ehrlib.stroke_synth import generate_stroke_dataset

        t = time.perf_counter()
        generate_stroke_dataset(p.stroke_dir, n_patients=p.stroke_patients or None, seed=p.seed,
                                overwrite=overwrite, progress=True)
        print(f"ehrlib: stroke EHR -> {p.stroke_dir} ({time.perf_counter() - t:.1f} s)")
    return 0
