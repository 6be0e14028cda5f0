"""Chapter 10's training costs on real stays: XLA or not per model, and two trainings at once.

Usage: `python benchmarks/bench_sequence.py [--share 0.8] [--max-epochs 15]`. Reads PhysioNet 2012 set A
(skipped without it), keeps a random `--share` of it as one fold's fitting stays (seven eighths train,
one eighth stops early, as in the chapter) and prints:

1. for each new model (the tuned LSTM's settings, GRU-D, attention), with and without XLA: the first
   epoch (tracing and compilation included), the median later epoch and the whole training, in seconds;
2. the four fits of a fold (the three models and boosted trees) one after another and two at a time
   (`ehrlib.workers.ordered_map`), in seconds, and whether every prediction is identical.

These figures set the profile's `sequence_xla` and `sequence_workers`. Timings on a shared machine are
inflated by contention.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

from ehrlib.evaluation.kfold import inner_split  # noqa: E402
from ehrlib.mortality.pipelines import gbt_fitter  # noqa: E402
from ehrlib.mortality.sequence_models import SequenceSpec, fit_sequence_model, sequence_fitter  # noqa: E402
from ehrlib.mortality.sequence_training import TrainSettings  # noqa: E402
from ehrlib.mortality.time_inputs import TimeInputs  # noqa: E402
from ehrlib.physionet2012.files import locate_physionet2012  # noqa: E402
from ehrlib.physionet2012.reader import read_physionet2012  # noqa: E402
from ehrlib.workers import ordered_map  # noqa: E402


def specs(max_epochs: int, xla: bool) -> dict[str, SequenceSpec]:
    """The chapter's three new models with the settings its search chose at full scale."""
    train = TrainSettings(loss="bce", batch_size=128, max_epochs=max_epochs, patience=3, jit_compile=xla)
    return {"LSTM (tuned)": SequenceSpec(kind="lstm", train=train, inputs=TimeInputs(delta=True), lstm_dropout=0.2,
                                         lstm_head_dropout=0.2, lstm_recurrent_dropout=0.0),
            "GRU-D": SequenceSpec(kind="grud", train=train), "Attention": SequenceSpec(kind="attention", train=train)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--share", type=float, default=0.8, help="share of set A fitted on (a fold: 0.8)")
    parser.add_argument("--max-epochs", type=int, default=15)
    args = parser.parse_args()
    found = locate_physionet2012()
    if found is None:
        print("PhysioNet 2012 not found: skipped")
        return
    a = read_physionet2012(found, sets=("a",))["a"].episodes
    keep = np.flatnonzero(np.random.default_rng(0).random(len(a)) < args.share)
    fold = a.take(keep)
    tr, va = inner_split(fold.y.astype(int), fold.subject_ids, 8, 0)
    train, val = fold.take(tr), fold.take(va)
    print(f"{len(train):,} training stays, {len(val):,} validation stays")
    print(f"{'model':14s} {'XLA':>5s} {'epochs':>6s} {'first':>6s} {'later':>6s} {'total':>6s}")
    for xla in (False, True):
        for name, spec in specs(args.max_epochs, xla).items():
            _, res = fit_sequence_model(spec, train, val, seed=0)
            later = float(np.median(res.epoch_seconds[1:])) if len(res.epoch_seconds) > 1 else float("nan")
            print(f"{name:14s} {str(xla):>5s} {len(res.val_auroc):6d} {res.epoch_seconds[0]:6.1f} {later:6.2f} "
                  f"{res.seconds:6.1f}")
    fitters = {name: sequence_fitter(spec, seed=1) for name, spec in specs(args.max_epochs, False).items()}
    fitters["Boosted trees"] = gbt_fitter(seed=1)
    timings, preds = {}, {}
    for workers in (1, 2):
        start = time.perf_counter()
        preds[workers] = ordered_map(lambda fit: fit(train, val)(val), list(fitters.values()), workers)
        timings[workers] = time.perf_counter() - start
    same = all(np.array_equal(p, q) for p, q in zip(preds[1], preds[2]))
    print(f"four fits one at a time: {timings[1]:.1f} s; two at a time: {timings[2]:.1f} s "
          f"({timings[1] / timings[2]:.2f}x); identical predictions: {same}")


if __name__ == "__main__":
    main()
