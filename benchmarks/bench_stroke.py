"""Benchmark of the stroke data pipeline: generation, reading, cohort, split (and encodings if available).

Usage: `python benchmarks/bench_stroke.py [--patients N] [--seed S] [--no-determinism] [--no-encodings]
[--no-networks]`. The networks step prints seconds per epoch of models 1-3 (random embedding, untuned).
Prints wall-clock seconds per step, peak resident memory, row counts, cases and controls, the true-risk
AUROC of the labelled samples and whether two generations with the same seed give byte-identical
Parquet files. The encodings step (if `ehrlib.stroke.encoding.encode_cohort` exists) uses a seeded random
32-d code embedding in place of the trained autoencoder: it times the encodings, it is not a model.
Timings on a shared machine are inflated by other processes; run it alone for clean figures.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ehrlib.stroke.cohort import build_cohort, cohort_counts, split_cohort  # noqa: E402
from ehrlib.stroke.schema import TABLE_FILES, read_stroke_tables  # noqa: E402
from ehrlib.stroke.synth import DEFAULT_N_PATIENTS, generate_stroke_dataset  # noqa: E402


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _digests(folder: Path) -> dict[str, str]:
    return {f: hashlib.sha256((folder / f).read_bytes()).hexdigest() for f in TABLE_FILES.values()}


def _encodings(tables, cohort, seed: int) -> None:
    """Time the encodings with a random embedding (only if the encoding module provides encode_cohort)."""
    if importlib.util.find_spec("ehrlib.stroke.encoding") is None:
        print("encodings: ehrlib.stroke.encoding not found, skipped")
        return
    import ehrlib.stroke.encoding as enc
    from ehrlib.stroke.icd10 import CodeEmbedding, build_vocabulary  # noqa: F401

    if not hasattr(enc, "encode_cohort"):
        print("encodings: no encode_cohort entry point, skipped")
        return
    t = time.perf_counter()
    vocab = build_vocabulary(tables.diagnoses["icd10"].unique())
    emb = CodeEmbedding(vocab, np.random.default_rng(seed).uniform(-1, 1, (len(vocab), 32)).astype(np.float32))
    encoded = enc.encode_cohort(tables, cohort, emb)
    secs = time.perf_counter() - t
    _ENCODED["value"] = encoded
    print(f"encodings: {secs:6.1f} s (vocabulary {len(vocab):,} codes, random embedding)")
    print(enc.prevalence_table(encoded).to_string(index=False))
    auroc = enc.true_risk_auroc(encoded)
    print("true-risk AUROC of the labelled samples: "
          + ", ".join(f"{k} {v['all']:.3f}" for k, v in auroc.items()))


_ENCODED: dict = {}


def _networks(epochs: int = 3) -> None:
    """Seconds per epoch of each stroke network (models 1-3, first grid point, batch 32, XLA) on the
    encoded training split; the first epoch includes compilation and is reported apart."""
    from ehrlib.stroke.models import NetworkConfig, TrainConfig, train_network

    encoded = _ENCODED.get("value")
    if encoded is None:
        print("networks: no encodings, skipped")
        return
    for kind in ("diagnosis", "exam", "dual"):
        tr, va = encoded[kind]["train"], encoded[kind]["val"]
        net = train_network(NetworkConfig(kind), tr.inputs(), tr.y, va.inputs(), va.y,
                            TrainConfig(max_epochs=epochs, patience=epochs + 1))
        rest = net.epoch_seconds[1:] or net.epoch_seconds
        print(f"network {kind:9s}: {len(tr.y):,} training samples; first epoch {net.epoch_seconds[0]:5.1f} s "
              f"(with compilation), then {sum(rest) / len(rest):5.1f} s per epoch")


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its figures."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--patients", type=int, default=DEFAULT_N_PATIENTS)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-determinism", action="store_true", help="skip the second generation")
    ap.add_argument("--no-encodings", action="store_true", help="skip timing the encodings (and the networks)")
    ap.add_argument("--no-networks", action="store_true", help="skip timing the networks' epochs")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench_stroke_") as tmp:
        tmp = Path(tmp)
        t = time.perf_counter()
        generate_stroke_dataset(tmp / "a", n_patients=args.patients, seed=args.seed, progress=True)
        t_gen = time.perf_counter() - t
        size = sum((tmp / "a" / f).stat().st_size for f in TABLE_FILES.values()) / 2**20
        t = time.perf_counter()
        tables = read_stroke_tables(tmp / "a")
        t_read = time.perf_counter() - t
        t = time.perf_counter()
        cohort = build_cohort(tables)
        t_cohort = time.perf_counter() - t
        t = time.perf_counter()
        cohort = split_cohort(cohort)
        t_split = time.perf_counter() - t
        counts = cohort_counts(cohort)
        print(f"patients {len(tables.patients):,}; diagnoses {len(tables.diagnoses):,}; exams {len(tables.exams):,}; "
              f"hazard {len(tables.hazard):,}; Parquet {size:.1f} MiB")
        print(f"cases {counts['cases']:,} (paper 2,725); controls {counts['controls']:,} (paper 5,450); "
              + ", ".join(f"{s} {counts[s + '_cases']}+{counts[s + '_controls']}" for s in ("train", "val", "test")))
        print(f"generate+write {t_gen:6.1f} s | read+validate {t_read:6.1f} s | cohort {t_cohort:6.2f} s | "
              f"split {t_split:6.3f} s | total {t_gen + t_read + t_cohort + t_split:6.1f} s | "
              f"peak memory {_peak_mb():,.0f} MiB")
        if not args.no_determinism:
            generate_stroke_dataset(tmp / "b", n_patients=args.patients, seed=args.seed, progress=False)
            same = _digests(tmp / "a") == _digests(tmp / "b")
            print(f"determinism: second generation byte-identical: {same}")
            if not same:
                return 1
        if not args.no_encodings:
            _encodings(tables, cohort, args.seed)
            if not args.no_networks:
                _networks()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
