"""Command line: `ehrlib generate icu|stroke ...`, `ehrlib data --profile P`, `ehrlib run-notebooks`.

Heavy modules are imported inside each command so that `ehrlib --help` answers at once.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from ehrlib.logs import get_logger

_log = get_logger(__name__)


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
        _log.error(f"error: {exc}")
        return 2
    return 1


def _generate(args: argparse.Namespace) -> int:
    start = time.perf_counter()
    if args.kind == "icu":
        from ehrlib.icu.synth import generate_icu_dataset

        generate_icu_dataset(args.out, n_episodes=args.episodes, split=args.split, mortality=args.mortality,
                             seed=args.seed, overwrite=args.overwrite, progress=not args.quiet)
    else:
        from ehrlib.stroke.synth import generate_stroke_dataset

        generate_stroke_dataset(args.out, n_patients=args.patients, seed=args.seed,
                                overwrite=args.overwrite, progress=not args.quiet)
    _log.info(f"wrote {args.out} in {time.perf_counter() - start:.1f} s")
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
    from ehrlib.io import read_json, write_json

    recipe = _recipe(params, modules)
    recipe_file = folder.parent / f".{folder.name}.recipe.json"
    if folder.exists() and not overwrite:
        if recipe_file.exists() and read_json(recipe_file) == recipe:
            _log.info(f"{folder} is up to date; keeping it")
            return
        _log.info(f"{folder} was made by other parameters or generator code; regenerating it")
        overwrite = True
    t = time.perf_counter()
    generate(folder, overwrite=overwrite, progress=True, **params)
    write_json(recipe_file, recipe)
    _log.info(f"{folder} generated in {time.perf_counter() - t:.1f} s")


def _data(profile_name: str, overwrite: bool) -> int:
    from ehrlib.profiles import get_profile

    p = get_profile(profile_name)
    if p.icu_external:
        if not p.icu_dir.is_dir():
            raise FileNotFoundError(f"EHRLIB_ICU_DIR={p.icu_dir} is not a folder; unset it to generate synthetic data")
        _log.info(f"EHRLIB_ICU_DIR is set; the ICU chapters use {p.icu_dir} (nothing generated there)")
    else:
        from ehrlib.icu.synth import generate_icu_dataset

        _ensure_dataset(p.icu_dir, {"n_episodes": p.icu_episodes, "split": list(p.icu_split),
                                    "mortality": p.icu_mortality, "seed": p.seed},
                        ("ehrlib.icu.synth",), generate_icu_dataset, overwrite)
    from ehrlib.stroke.synth import generate_stroke_dataset

    _ensure_dataset(p.stroke_dir, {"n_patients": p.stroke_patients or None, "seed": p.seed},
                    ("ehrlib.stroke.synth", "ehrlib.stroke.schema"), generate_stroke_dataset, overwrite)
    return 0
