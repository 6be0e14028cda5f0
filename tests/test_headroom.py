"""Tests of chapter 01's headroom study (`ehrlib.mortality.headroom`): intervals, paired gaps and the words read
from them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from ehrlib.evaluation.bootstrap import Interval
from ehrlib.icu.describe import cohort_split
from ehrlib.icu.synth import IcuConfig, proportional_split, simulate_icu
from ehrlib.mortality import headroom as H


@pytest.fixture(scope="module")
def study():
    c = simulate_icu(IcuConfig(n_episodes=900, split=proportional_split(900), seed=5))
    train, test = cohort_split(c, "train"), cohort_split(c, "test")
    scores = H.headroom_scores(c, train, test)
    return H.headroom_intervals(scores, test, n_boot=100, seed=0), test, scores


def test_study_points_are_scikit_learn_aurocs_and_gaps_are_paired(study):
    room, test, scores = study
    assert set(room.auroc) == {key for key, _, _ in H.ROWS} and set(room.minus_true) == set(room.auroc) - {"true"}
    for key, s in scores.items():
        assert room.auroc[key].value == roc_auc_score(test.y, s)
        assert room.auroc[key].ci_low <= room.auroc[key].value <= room.auroc[key].ci_high
    assert room.minus_true["bench"].value == pytest.approx(room.auroc["bench"].value - room.auroc["true"].value)
    assert room.temporal.value == pytest.approx(room.auroc["traj"].value - room.auroc["state48"].value)
    # pairing: the difference's interval is narrower than the two AUROCs' intervals side by side
    width = lambda iv: iv.ci_high - iv.ci_low  # noqa: E731
    assert width(room.minus_true["traj"]) < width(room.auroc["traj"]) + width(room.auroc["true"])
    table = room.table()
    assert list(table.columns) == ["model", "inputs", "test AUROC", "minus the true risk's"]
    assert table.loc[0, "minus the true risk's"] == "–" and " to " in table.loc[3, "test AUROC"]


def test_subjects_of_stays():
    assert list(H.stay_subjects(np.array(["10011_episode1_timeseries.csv", "10011_episode2", "7_episode1"]))) == [
        "10011", "10011", "7"]


def _room(temporal: Interval, worst_gap_high: float) -> H.Headroom:
    auroc = {key: Interval(0.8, 0.7, 0.9) for key, _, _ in H.ROWS}
    gaps = {key: Interval(-0.1, -0.2, -0.05) for key in auroc if key != "true"}
    gaps["counts"] = Interval(-0.1, -0.2, worst_gap_high)
    return H.Headroom(auroc, gaps, temporal, n_boot=10)


def test_facts_words_turn_with_the_intervals():
    single = pd.Series({"Lactate": 0.7, "Sodium": 0.5})
    above = H.headroom_facts(_room(Interval(0.03, 0.01, 0.05), -0.01), single)
    assert above["temporal_word"] == "rank better than" and above["gaps_word"] == "every"
    assert above["iv_temporal"] == "+0.030 (+0.010 to +0.050)" and above["gap_bench"] == "-0.100 (-0.200 to -0.050)"
    spans = H.headroom_facts(_room(Interval(0.03, -0.01, 0.05), 0.01), single)
    assert spans["temporal_word"] == "cannot be told apart from" and spans["gaps_word"] == "not every"
    below = H.headroom_facts(_room(Interval(-0.03, -0.05, -0.01), -0.01), single)
    assert below["temporal_word"] == "rank worse than"
    assert above["single_word"] == "below" and above["best_single"] == "Lactate" and above["worst_single"] == "Sodium"
    assert H.headroom_facts(_room(Interval(0, 0, 0), -0.01), pd.Series({"Lactate": 0.9}))["single_word"] == "above"
