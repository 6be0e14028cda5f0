"""The book's text from numbers (`ehrlib.booktext`): one interval convention, glue, timings."""

from __future__ import annotations

import time

import numpy as np
import pytest

from ehrlib import booktext
from ehrlib.booktext import Stopwatch, interval, number, plain, spread, timed
from ehrlib.evaluation.bootstrap import Interval
from ehrlib.evaluation.bootstrap import Spread


def test_intervals_read_one_way_and_differences_carry_their_sign():
    iv = Interval(0.8123, 0.7901, 0.8334)
    assert interval(iv) == "0.812 (0.790 to 0.833)"
    assert interval(iv, 4) == "0.8123 (0.7901 to 0.8334)"
    assert interval(Interval(0.021, -0.004, 0.046), signed=True) == "+0.021 (-0.004 to +0.046)"
    assert interval(0.5) == "0.500" and interval(np.float64(-0.25), 2, signed=True) == "-0.25"
    assert interval(Interval(0.7, None, None)) == "0.700"  # an interval without ends: the value alone
    assert number(0.0, 1, signed=True) == "+0.0"


def test_spread_is_mean_sd_and_range():
    s = Spread(mean=0.8121, sd=0.0112, min=0.7981, max=0.8262, n=5)
    assert spread(s) == "0.812 ± 0.011 (range 0.798 to 0.826)"
    assert spread(Spread(mean=-0.01, sd=0.02, min=-0.03, max=0.01, n=5), 2, signed=True) == "-0.01 ± 0.02 (range -0.03 to +0.01)"


def test_plain_values_for_glue():
    assert plain(np.int64(3)) == 3 and type(plain(np.int64(3))) is int
    assert type(plain(np.float32(0.5))) is float and plain(True) == "True" and plain("x") == "x"
    assert plain(None) == "None"


def test_glue_values_glues_each_value_under_its_prefixed_name(monkeypatch):
    glued = []
    myst_nb = pytest.importorskip("myst_nb")
    monkeypatch.setattr(myst_nb, "glue", lambda name, value, display: glued.append((name, value, display)))
    assert booktext.glue_values({"a": np.int64(2), "b": "text"}, prefix="ch1_") is None
    assert glued == [("ch1_a", 2, False), ("ch1_b", "text", False)]


def test_timed_records_the_block_and_a_stopwatch_runs_across_cells():
    timings: dict[str, float] = {}
    with timed(timings, "sleep") as clock:
        time.sleep(0.02)
    assert timings["sleep"] == clock.seconds >= 0.02
    with timed() as alone:
        pass
    assert 0 <= alone.seconds < 0.02
    with pytest.raises(RuntimeError), timed(timings, "failed"):
        raise RuntimeError("boom")
    assert "failed" not in timings
    with pytest.raises(ValueError, match="both"):
        with timed(timings):
            pass
    watch = Stopwatch()
    time.sleep(0.01)
    assert watch.elapsed >= 0.01


def test_duration_reads_seconds_then_minutes():
    assert booktext.duration(0.3) == "under a second" and booktext.duration(7.4) == "7 seconds"
    assert booktext.duration(119) == "119 seconds"
    assert booktext.duration(204) == "3.4 minutes"
