"""Independent jobs on the machine's cores: `ordered_map` runs a function over items, a few at a time.

The book's trainings are independent jobs (one model of one fold, one candidate of a search stage), and
one TensorFlow training keeps only about 1.3 of this machine's two cores busy: its small recurrent batches
leave gaps that a second job fills. Threads suffice, because TensorFlow, scikit-learn and numpy release
the interpreter lock while they compute. Results come back in the items' order whatever order the jobs
finish in, and every job carries its own seed, so the outputs do not depend on the number of workers
(`benchmarks/bench_sequence.py` measures the gain and checks the predictions are identical).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Sequence, TypeVar

T = TypeVar("T")
R = TypeVar("R")


def ordered_map(fn: Callable[[T], R], items: Sequence[T], workers: int = 1) -> list[R]:
    """`[fn(x) for x in items]`, with up to `workers` jobs running at once (threads); results in the order
    of `items`. With one worker (or one item) the jobs run here, one after another. The first job to fail
    raises its exception here once the running jobs are done; jobs not yet started are cancelled."""
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    items = list(items)
    if workers == 1 or len(items) <= 1:
        return [fn(x) for x in items]
    with ThreadPoolExecutor(max_workers=min(workers, len(items))) as pool:
        futures = [pool.submit(fn, x) for x in items]
        try:
            return [f.result() for f in futures]
        except BaseException:
            for f in futures:
                f.cancel()
            raise
