"""Tests of `ehrlib.mortality.facts`: the numbers chapter 3's prose reads, checked by hand."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from ehrlib.evaluation.bootstrap import Interval
from ehrlib.mortality import facts
from ehrlib.mortality.results import Oracle


def test_focal_facts_match_the_formula():
    f = facts.focal_facts(alpha=0.25, gamma=2.0)
    assert f["ce_easy"] == pytest.approx(-np.log(0.9))
    assert f["focal_easy"] == pytest.approx(0.75 * 0.1 ** 2 * -np.log(0.9), rel=1e-5)
    assert f["easy_ratio"] == f"{f['ce_easy'] / f['focal_easy']:.0f}"


def test_split_table_and_data_facts():
    data = {"train": [0] * 4, "val": [0] * 2}
    data = {k: type("E", (), {"__len__": lambda self, n=len(v): n, "y": np.array([0, 1] * (len(v) // 2)),
                               "n_hours": 48, "variables": ["a", "b"]})() for k, v in data.items()}
    table = facts.split_table(data)
    assert table.loc["train", "episodes"] == 4 and table.loc["val", "deaths"] == 1
    assert table.loc["train", "mortality"] == 0.5
    cleaning = pd.DataFrame({"removed": [1000, 2], "clipped": [0, 3]})
    f = facts.data_facts(data, cleaning, 1.5)
    assert f == {"n_cleaned": "1,005", "n_episodes": "6", "n_hours": 48, "n_variables": 2, "load_seconds": 1.5}


def test_training_facts_read_the_kept_epoch():
    history = {"loss": [0.6, 0.4, 0.3], "val_loss": [0.5, 0.45, 0.5], "auroc": [0.6, 0.7, 0.8],
               "val_auroc": [0.65, 0.75, 0.7]}
    result = SimpleNamespace(history=history, best={"val_auroc": 0.75, "val_auprc": 0.3}, best_epoch=2,
                             epochs_run=3, seconds=12.4, seconds_per_epoch=4.1, xla=False)
    f = facts.training_facts(result, 1234)
    assert f["gap"] == "-0.050" and f["n_train"] == "1,234" and f["train_seconds"] == "12"
    assert f["xla"] == "without" and f["val_auroc_max"] == 0.75 and f["loss_last"] == 0.3


def test_worst_bin_and_the_oracle_curve():
    y = np.array([0, 0, 1, 1, 0, 1])
    p = np.array([0.05, 0.05, 0.05, 0.95, 0.95, 0.95])
    f = facts.worst_bin_facts(y, p)  # bin [0, 0.1): predicted 0.05, observed 1/3; bin [0.9, 1): 0.95 vs 2/3
    assert f["worst_n"] == 3 and f["worst_pred"] == pytest.approx(0.05) and f["worst_obs"] == pytest.approx(1 / 3)
    test = SimpleNamespace(y=y, true_risk=None)
    assert list(facts.curves_with_oracle(test, {"m": p})) == ["m"]
    test.true_risk = p
    assert list(facts.curves_with_oracle(test, {"m": p})) == ["m", "true risk (oracle)"]


def test_report_facts_without_seeds_oracle_or_baselines():
    iv = SimpleNamespace(value=0.8, ci_low=0.7, ci_high=0.9)
    results = SimpleNamespace(training=SimpleNamespace(history={"loss": [1, 2], "auroc": [0.6, 0.7],
                                                                "val_auroc": [0.65, 0.75]}),
                              lstm=SimpleNamespace(auroc=iv), oracle=None, baselines=None, seeds=None)
    f = facts.report_facts(results)
    assert f["epochs"] == 2 and f["gap"] == "-0.050" and f["auroc"] == "0.800 (0.700 to 0.900)"
    assert f["seeds"] == "chapter 3's model reaches " and "no known true risk" in f["others"]


def test_noise_floor_and_ideal_sentences_turn_with_the_numbers():
    iv = Interval(0.5, 0.4, 0.6)
    oracle = Oracle(auroc=iv, auprc=iv, ece=Interval(0.02, 0.015, 0.03), ici=Interval(0.01, 0.005, 0.02))
    assert "within the range of the true risk" in facts.noise_floor_sentence(Interval(0.025, 0.02, 0.03), oracle)
    assert "above that range" in facts.noise_floor_sentence(Interval(0.031, 0.025, 0.04), oracle)
    assert "no known true risk" in facts.noise_floor_sentence(iv, None)
    assert facts.ideal_sentence(Interval(0.9, 0.8, 1.1), 1.0) == "includes 1"
    assert facts.ideal_sentence(Interval(0.2, 0.1, 0.3), 0.0) == "excludes 0"
