"""The book's findings follow the numbers: each sentence turns when the results point the other way."""

from __future__ import annotations

from types import SimpleNamespace as NS

from ehrlib import findings as F
from ehrlib.evaluation.bootstrap import Interval


def test_runs_verdict_counts_intervals_on_each_side() -> None:
    diffs = [Interval(-0.02, -0.03, -0.01), Interval(-0.01, -0.02, 0.005), Interval(0.02, 0.01, 0.03)]
    assert F.runs_verdict(diffs) == ("the paired interval lies below zero for 1 of 3 seeds and above zero "
                                     "for 1 of 3 seeds")
    assert "below zero for none" in F.runs_verdict([Interval(0.01, 0.005, 0.02)])
    assert F.runs_verdict([Interval(0.01, 0.0, 0.02)]) == "no seed's paired 95 % interval excludes zero"


def _mortality(diff: float) -> NS:
    iv = lambda v: Interval(v, v - 0.01, v + 0.01)  # noqa: E731
    lstm = NS(calibrator="isotonic", calibrated=NS(ece=iv(0.02)))
    return NS(seeds=NS(auroc=[0.80, 0.81, 0.82], diff_auroc=[iv(diff)] * 3), lstm=lstm, oracle=NS(auroc=iv(0.87)),
              baselines={"logistic_regression": NS(evaluation=NS(auroc=iv(0.82)))})


def test_mortality_findings_follow_the_sign_of_the_difference() -> None:
    worse, better = F.mortality_findings(_mortality(-0.02)), F.mortality_findings(_mortality(0.03))
    assert "averages -0.020" in worse[0] and "below zero for 3 of 3 seeds and above zero for none" in worse[0]
    assert "averages +0.030" in better[0] and "below zero for none and above zero for 3 of 3 seeds" in better[0]
    assert "0.870 (0.860 to 0.880)" in worse[1] and "(isotonic regression)" in worse[2]


def test_missing_chapters_are_named_not_summarised(tmp_path) -> None:
    page = F.findings_page(tmp_path, "quick")
    assert "did not run" in page and "quick profile" in page and page.count("\n- ") == 3
