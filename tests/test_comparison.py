"""Chapter 7's library (`mortality.comparison`): its checks fail on bad inputs, its tables read the
typed records, and every sentence's direction follows the numbers (each verdict tested both ways)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ehrlib.evaluation.bootstrap import Interval
from ehrlib.evaluation.subgroups import SubgroupRow
from ehrlib.evaluation.thresholds import ThresholdChoice
from ehrlib.mortality import comparison as cmp
from ehrlib.mortality import plots as mplots
from ehrlib.mortality.report import MODEL_NAMES, subgroup_sentence, subgroup_table_rows
from ehrlib.mortality.results import (Ablation, AblationRow, DecisionCurve, KFoldResult, LearningCurve,
                                      MortalityResults, SeedSummary, Subgroups)
from ehrlib.profiles import get_profile


def _iv(v: float, half: float = 0.01) -> Interval:
    return Interval(v, v - half, v + half)


def test_config_follows_the_profile() -> None:
    p = get_profile("quick")
    cfg = cmp.ComparisonConfig.from_profile(p)
    assert (cfg.n_boot, cfg.n_seeds, cfg.kfold_splits) == (p.n_bootstrap, p.lstm_seeds, p.kfold_splits)
    assert cfg.lstm.max_epochs == p.lstm_max_epochs and cfg.kfold_lstm.max_epochs == p.kfold_max_epochs


def test_a_threshold_that_differs_from_chapter_4s_stops_the_chapter(tmp_path: Path) -> None:
    saved = ThresholdChoice(threshold=0.3, criterion="max F1 on validation", validation_f1=0.5,
                            sensitivity_target=0.9, sensitivity_threshold=0.1, n_validation=100)
    cmp.check_threshold(saved, 0.3, tmp_path / "threshold.json")
    with pytest.raises(ValueError, match=r"threshold\.json: threshold 0\.3 differs"):
        cmp.check_threshold(saved, 0.31, tmp_path / "threshold.json")


def test_results_without_the_lstm_name_the_folder(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="run chapters 03 and 04 first"):
        cmp.previous_lstm(MortalityResults.empty(), tmp_path)


def _seeds(diffs: list[Interval]) -> SeedSummary:
    n = len(diffs)
    return SeedSummary(seeds=list(range(n)), auroc=[0.8 + 0.01 * i for i in range(n)], auprc=[0.4] * n,
                       diff_auroc=diffs, seconds=[1.0] * n)


def test_seed_sentence_counts_intervals_on_each_side() -> None:
    facts = cmp.seed_facts(_seeds([_iv(-0.03), _iv(-0.005), _iv(0.02)]))
    assert facts["seed_verdict"] == "1 of the 3 seeds give an interval above zero and 1 one below zero"
    assert facts["n_seeds"] == 3 and facts["dmean"] == "-0.0050"
    table = cmp.seed_table(_seeds([_iv(-0.03), _iv(0.02)]))
    assert list(table.columns)[0] == "seed" and table.iloc[0, 3] == "-0.030 (-0.040 to -0.020)"


def _decision(nb_lstm: float, nb_all: float) -> DecisionCurve:
    grid = np.array([0.1, 0.2, 0.3])
    return DecisionCurve(thresholds=grid, marks={"max F1": 0.21, "90 % sensitivity": 0.1},
                         net_benefit={"treat all": np.full(3, nb_all), "treat none": np.zeros(3),
                                      MODEL_NAMES["lstm"]: np.full(3, nb_lstm)})


def test_decision_verdict_follows_the_net_benefit() -> None:
    good = cmp.decision_facts(_decision(0.05, 0.01))
    assert good["t_f1"] == 0.2 and good["nb_verdict"].startswith("acting on the LSTM beats both")
    assert "does not beat" in cmp.decision_facts(_decision(0.01, 0.05))["nb_verdict"]
    assert "does not beat" in cmp.decision_facts(_decision(-0.01, -0.05))["nb_verdict"]
    table = cmp.decision_table(_decision(0.05, 0.01))
    assert list(table.columns) == ["max F1 (t = 0.20)", "90 % sensitivity (t = 0.10)"]


def test_decision_grid_covers_the_marks() -> None:
    grid = cmp.decision_grid({"a": 0.5, "b": 0.1})
    assert grid[0] == 0.01 and grid[-1] == 0.75 and np.all(np.diff(grid) > 0)
    assert cmp.decision_grid({"a": 0.05})[-1] == 0.6


def test_learning_facts_with_one_and_two_sizes() -> None:
    two = LearningCurve(sizes=[500, 2000], auroc={"lstm": [_iv(0.70), _iv(0.75)],
                                                   "logistic_regression": [_iv(0.80), _iv(0.79)]})
    facts = cmp.learning_facts(two)
    assert facts["lc_gain"] == f"{MODEL_NAMES['lstm']} +0.050; {MODEL_NAMES['logistic_regression']} -0.010"
    assert facts["lc_last"] == "500" and facts["lc_all"] == "2,000"
    assert cmp.learning_facts(LearningCurve(sizes=[900], auroc={"lstm": [_iv(0.7)]}))["lc_gain"] == "only one size was run"
    assert list(cmp.learning_table(two).index) == [500, 2000]


def _subgroups(citl: list[float]) -> Subgroups:
    rows = [SubgroupRow(model="lstm", attribute="sex", level=lvl, n=100, deaths=10, auroc=_iv(a), citl=_iv(c))
            for lvl, a, c in zip(("F", "M", "X"), (0.7, 0.8, 0.75), citl)]
    rows.append(SubgroupRow(model="logistic_regression", attribute="sex", level="F", n=100, deaths=10, auroc=None,
                            citl=_iv(0.5)))
    return Subgroups(available=True, reason="", rows=rows)


def test_subgroup_sentence_and_rows_are_shared_with_the_report() -> None:
    text = subgroup_sentence(_subgroups([0.0, 0.05, -0.05]))
    assert "from 0.700 (sex F) to 0.800 (sex M)" in text and "2 of its 3 subgroups" in text
    assert "0 of its 3" in subgroup_sentence(_subgroups([0.0, 0.0, 0.0]))
    rows = subgroup_table_rows(_subgroups([0.0, 0.05, -0.05]))
    assert rows[-1][5] == "too few deaths" and rows[1][6] == "+0.050 (+0.040 to +0.060)"
    assert cmp.subgroup_table(_subgroups([0.0, 0.0, 0.0])).shape == (4, 7)
    none = Subgroups(available=False, reason=cmp.NO_ATTRIBUTES, rows=[])
    assert subgroup_sentence(none) == cmp.NO_ATTRIBUTES and cmp.subgroup_table(none).iloc[0, 0] == cmp.NO_ATTRIBUTES


def _ablation() -> Ablation:
    rows = [AblationRow(setting=s, model=m, auroc=_iv(a))
            for s, base in (("all mechanisms on", 0.8), ("MAR and MNAR off", 0.75))
            for m, a in (("lstm", base), ("logistic_regression", base + 0.01), ("gbt", base),
                         ("missingness", base - 0.2))]
    return Ablation(n_episodes=1000, rows=rows)


def test_ablation_table_and_sentence() -> None:
    table = cmp.ablation_table(_ablation())
    assert list(table.index) == ["all mechanisms on", "MAR and MNAR off"]
    assert list(table.columns) == [MODEL_NAMES[m] for m in ("lstm", "logistic_regression", "gbt", "missingness")]
    facts = cmp.ablation_facts(_ablation())
    assert "observation counts alone reach AUROC 0.600 (0.590 to 0.610)" in facts["ablation"]
    assert facts["abl_n"] == "1,000"
    assert "not run on external data" in cmp.ablation_facts(None)["ablation"]
    assert cmp.ablation_table(None).shape == (1, 1)


def test_kfold_table_names_metrics_in_words() -> None:
    summary = {m: {k: {"mean": 0.8, "sd": 0.01} for k in ("auroc", "brier")} for m in ("lstm", "logistic_regression")}
    kf = KFoldResult(n_splits=3, n_episodes=90, folds=[], summary=summary, diff_auroc=[0.01, -0.02, -0.01],
                     seconds=12.0)
    table = cmp.kfold_table(kf)
    assert list(table.index) == ["AUROC", "Brier score"] and table.iloc[0, 0] == "0.800 ± 0.010"
    facts = cmp.kfold_facts(kf, cmp.ComparisonConfig.from_profile(get_profile("quick")))
    assert facts["k_pos"] == "1 of 3" and facts["k_diffs"] == "+0.010, -0.020, -0.010"
    assert facts["k_oracle"] == " (no known true risk here)"


def test_every_line_series_gets_its_own_colour_and_dash() -> None:
    fig = mplots.decision_figure(_decision(0.05, 0.01))
    styles = [(t.line.color, t.line.dash) for t in fig.data]
    assert len({c for c, _ in styles}) == len(styles) and len({d for _, d in styles}) == len(styles)
    names = [t.name for t in fig.data]
    assert styles[names.index("treat all")] != styles[names.index("treat none")]
