"""`ordered_map`: results in the items' order, jobs really concurrent, failures raised."""

from __future__ import annotations

import threading
import time

import pytest

from ehrlib.workers import ordered_map


def test_results_keep_the_order_of_the_items_whatever_finishes_first() -> None:
    def slow_first(x: int) -> int:
        time.sleep(0.02 * (5 - x))
        return x * x

    assert ordered_map(slow_first, range(5), workers=3) == [0, 1, 4, 9, 16]
    assert ordered_map(slow_first, range(5), workers=1) == [0, 1, 4, 9, 16]
    assert ordered_map(slow_first, [], workers=2) == []


def test_two_workers_run_two_jobs_at_once_and_one_worker_does_not() -> None:
    def meet(barrier: threading.Barrier) -> bool:
        barrier.wait()  # returns only when both jobs are running
        return True

    barrier = threading.Barrier(2, timeout=5)
    assert ordered_map(meet, [barrier, barrier], workers=2) == [True, True]
    alone = threading.Barrier(2, timeout=0.2)
    with pytest.raises(threading.BrokenBarrierError):
        ordered_map(meet, [alone, alone], workers=1)


def test_a_failing_job_raises_and_bad_worker_counts_are_refused() -> None:
    def fail_on_two(x: int) -> int:
        if x == 2:
            raise RuntimeError("job 2 failed")
        return x

    with pytest.raises(RuntimeError, match="job 2 failed"):
        ordered_map(fail_on_two, range(4), workers=2)
    with pytest.raises(ValueError, match="workers must be >= 1"):
        ordered_map(fail_on_two, range(4), workers=0)
