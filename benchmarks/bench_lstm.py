"""Seconds per epoch of the mortality LSTM's training loop on a full-size-shaped input.

Usage: `python benchmarks/bench_lstm.py [--n-train 16972] [--n-val 3740] [--epochs 2] [--options ...]`.
The input is random but shaped like the full profile (48 steps, 17 variables plus 17 mask indicators,
about 10 % fully unobserved steps). Each option trains `--epochs` epochs with the real `train_lstm`
(same model, same data sizes); the first epoch includes tracing/compilation, so the steady-state
figure is the median of the later epochs. Timings on a shared machine are inflated by contention.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

OPTIONS = {
    "graph": dict(jit_compile=False, unroll=False),
    "graph+unroll": dict(jit_compile=False, unroll=True),
    "xla": dict(jit_compile=True, unroll=False),
    "xla+unroll": dict(jit_compile=True, unroll=True),
}


def make_inputs(n: int, n_vars: int = 17, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Random standardised inputs with mask indicators and masked steps, plus 0/1 labels."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 48, n_vars)).astype(np.float32)
    ind = (rng.random((n, 48, n_vars)) < 0.3).astype(np.float32)
    X = np.concatenate([x, ind], axis=2)
    X[rng.random((n, 48)) < 0.1] = -99.0
    y = (rng.random(n) < 0.2).astype(np.int8)
    return X, y


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n-train", type=int, default=16_972)
    parser.add_argument("--n-val", type=int, default=3_740)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--options", nargs="*", default=["graph", "xla"], choices=list(OPTIONS),
                        help="paths to time (xla+unroll compiles for minutes and runs slowly on CPU)")
    parser.add_argument("--threads", type=int, default=0,
                        help="intra-op threads for TensorFlow (0: its default, one per core)")
    args = parser.parse_args()

    import tensorflow as tf

    if args.threads:
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(args.threads)

    from ehrlib.mortality.lstm import LstmConfig, train_lstm

    X_train, y_train = make_inputs(args.n_train, seed=0)
    X_val, y_val = make_inputs(args.n_val, seed=1)
    print(f"input: train {X_train.shape}, val {X_val.shape}; {args.epochs} epochs per option; "
          f"{os.cpu_count()} CPUs visible; threads {args.threads or 'default'}", flush=True)
    rows = []
    for name in args.options:
        config = LstmConfig(max_epochs=args.epochs, patience=args.epochs, **OPTIONS[name])
        t = time.perf_counter()
        result = train_lstm(X_train, y_train, X_val, y_val, config, seed=0, progress=False)
        secs = result.epoch_seconds
        steady = float(np.median(secs[1:])) if len(secs) > 1 else float("nan")
        rows.append((name, secs[0], steady, time.perf_counter() - t))
        print(f"{name:<14} first epoch {secs[0]:7.1f} s   later epochs {steady:7.1f} s/epoch   "
              f"total {rows[-1][3]:7.1f} s", flush=True)
    best = min(rows, key=lambda r: r[2] if np.isfinite(r[2]) else r[1])
    default = LstmConfig(max_epochs=50)
    chosen = "xla" if default.use_xla(args.n_train) else "graph"
    print(f"fastest steady state: {best[0]} ({best[2]:.1f} s/epoch); LstmConfig default path for "
          f"{args.n_train:,} training episodes and 50 epochs (jit_compile='auto'): {chosen}")


if __name__ == "__main__":
    main()
