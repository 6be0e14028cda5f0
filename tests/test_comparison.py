"""Chapter 7's library (`mortality.comparison`): its checks fail on bad inputs, its tables read the
typed records, and every sentence's direction follows the numbers (each verdict tested both ways)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from ehrlib.evaluation.bootstrap import Interval
from ehrlib.evaluation.subgroups import SubgroupRow
from ehrlib.evaluation.thresholds import ThresholdChoice
from ehrlib.mortality import comparison as cmp
from ehrlib.mortality import plots as mplots
from ehrlib.mortality.report import MODEL_NAMES, subgroup_sentence, subgroup_table_rows
from ehrlib.mortality.prose import difference_verdict, sign_verdict
from ehrlib.mortality.results import (Ablation, AblationRow, Comparison, DecisionCurve, KFoldResult, LearningCurve,
                                      MortalityResults, NetBenefitAt, PairedDifference, SeedSummary, Subgroups)
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
    assert facts["seed_verdict"] == ("the paired interval lies below zero for 1 of 3 seeds and above zero for "
                                     "1 of 3 seeds")
    assert facts["n_seeds"] == 3 and facts["seed_diff"].startswith("-0.005 ± 0.025 (range -0.030 to +0.020)")
    assert facts["seed_auroc"] == "0.810 ± 0.010 (range 0.800 to 0.820)"
    assert "above zero for none" in cmp.seed_facts(_seeds([_iv(-0.03), _iv(-0.02)]))["seed_verdict"]
    table = cmp.seed_table(_seeds([_iv(-0.03), _iv(0.02)]))
    assert list(table.columns)[0] == "seed" and table.iloc[0, 3] == "-0.030 (-0.040 to -0.020)"


def _decision(nb_lstm: float, nb_all: float, half: float = 0.005) -> DecisionCurve:
    grid = np.array([0.1, 0.2, 0.3])
    at = NetBenefitAt(threshold=0.21, model=_iv(nb_lstm, half), treat_all=_iv(nb_all, half),
                      difference=_iv(nb_lstm - nb_all, half))
    return DecisionCurve(thresholds=grid, marks={"max F1": 0.21, "90 % sensitivity": 0.1},
                         net_benefit={"treat all": np.full(3, nb_all), "treat none": np.zeros(3),
                                      MODEL_NAMES["lstm"]: np.full(3, nb_lstm)}, at_threshold=at)


def test_decision_verdict_follows_the_net_benefit_intervals() -> None:
    good = cmp.decision_facts(_decision(0.05, 0.01))
    assert good["t_f1"] == 0.21 and good["nb_verdict"].startswith("acting on the LSTM beats both")
    assert good["nb_lstm"] == "0.0500 (0.0450 to 0.0550)" and good["nb_diff"].startswith("+0.0400")
    assert "does worse than treating everyone" in cmp.decision_facts(_decision(0.01, 0.05))["nb_verdict"]
    both = cmp.decision_facts(_decision(-0.01, 0.05))["nb_verdict"]
    assert "worse than treating no one and treating everyone" in both
    unclear = cmp.decision_facts(_decision(0.05, 0.049))["nb_verdict"]
    assert unclear.startswith("the interval includes zero") and unclear.endswith("from treating everyone")
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
    assert facts["lc_gain"] == "LSTM + focal loss +0.050; logistic regression (benchmark) -0.010"
    assert facts["lc_last"] == "500" and facts["lc_all"] == "2,000"
    assert facts["lc_verdict"].startswith(f"For {MODEL_NAMES['lstm']} the smaller set's AUROC lies below")
    assert "for logistic regression (benchmark) it lies inside" in facts["lc_verdict"]
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
    assert "furthest off in sex X (100 episodes, 10 deaths), where it under-predicts mortality by 0.060 (0.050 to 0.070)" in subgroup_sentence(
        _subgroups([0.0, 0.05, -0.06]))
    assert "over-predicts" in subgroup_sentence(_subgroups([0.07, 0.05, -0.06]))
    assert "the interval includes zero" in subgroup_sentence(_subgroups([0.005, 0.0, 0.0]))
    rows = subgroup_table_rows(_subgroups([0.0, 0.05, -0.05]))
    assert rows[-1][5] == "too few deaths" and rows[1][6] == "+0.050 (+0.040 to +0.060)"
    assert cmp.subgroup_table(_subgroups([0.0, 0.0, 0.0])).shape == (4, 7)
    none = Subgroups(available=False, reason=cmp.NO_ATTRIBUTES, rows=[])
    assert subgroup_sentence(none) == cmp.NO_ATTRIBUTES and cmp.subgroup_table(none).iloc[0, 0] == cmp.NO_ATTRIBUTES


def _ablation(diff: Interval | None = None) -> Ablation:
    rows = [AblationRow(setting=s, model=m, auroc=_iv(a))
            for s, base in (("all mechanisms on", 0.8), ("MAR and MNAR off", 0.75))
            for m, a in (("lstm", base), ("logistic_regression", base + 0.01), ("gbt", base),
                         ("missingness", base - 0.2))]
    return Ablation(n_episodes=1000, rows=rows, n_train=700, n_test=150,
                    diff_auroc={} if diff is None else {"all mechanisms on": diff})


def _headline(diff: Interval) -> Comparison:
    entry = PairedDifference(a=0.8, b=0.8 - diff.value, difference=diff, p_value=0.5, n_boot=200)
    return Comparison(auroc=entry, auprc=entry)


def test_ablation_table_and_sentence() -> None:
    table = cmp.ablation_table(_ablation())
    assert list(table.index) == ["all mechanisms on", "MAR and MNAR off"]
    assert list(table.columns) == [MODEL_NAMES[m] for m in ("lstm", "logistic_regression", "gbt", "missingness")]
    facts = cmp.ablation_facts(_ablation(), _headline(_iv(-0.01)), 5000)
    assert "observation counts alone reach AUROC 0.600 (0.590 to 0.610)" in facts["ablation"]
    assert facts["abl_n"] == "1,000" and facts["abl_pair"] == ""
    assert "not run on external data" in cmp.ablation_facts(None, _headline(_iv(-0.01)), 5000)["ablation"]
    assert cmp.ablation_table(None).shape == (1, 1)


def test_kfold_table_names_metrics_in_words() -> None:
    summary = {m: {k: {"mean": 0.8, "sd": 0.01} for k in ("auroc", "brier")} for m in ("lstm", "logistic_regression")}
    kf = KFoldResult(n_splits=3, n_episodes=90, folds=[], summary=summary, diff_auroc=[0.01, -0.02, -0.01],
                     seconds=12.0)
    table = cmp.kfold_table(kf)
    assert list(table.index) == ["AUROC", "Brier score"] and table.iloc[0, 0] == "0.800 ± 0.010"
    facts = cmp.kfold_facts(kf, cmp.ComparisonConfig.from_profile(get_profile("quick")))
    assert facts["k_pos"] == "positive in 1 of the 3 folds and negative in 2" and facts["k_diffs"] == "+0.010, -0.020, -0.010"
    assert facts["k_oracle"] == " (no known true risk here)"


def test_every_line_series_gets_its_own_colour_and_dash() -> None:
    fig = mplots.decision_figure(_decision(0.05, 0.01))
    styles = [(t.line.color, t.line.dash) for t in fig.data]
    assert len({c for c, _ in styles}) == len(styles) and len({d for _, d in styles}) == len(styles)
    names = [t.name for t in fig.data]
    assert styles[names.index("treat all")] != styles[names.index("treat none")]


def test_ablation_against_the_headline_says_whether_it_agrees_reverses_or_cannot_tell() -> None:
    headline = _headline(Interval(-0.02, -0.03, -0.01))
    noise = cmp.ablation_pair_sentence(_ablation(Interval(0.008, -0.02, 0.03)), headline, 5000)
    assert "+0.008 (-0.020 to +0.030)" in noise and "700 training and 150 test" in noise and "5,000" in noise
    assert "cannot be told apart" in noise
    reversed_ = cmp.ablation_pair_sentence(_ablation(Interval(0.03, 0.01, 0.05)), headline, 5000)
    assert "reversed" in reversed_ and "cannot be told" not in reversed_
    agrees = cmp.ablation_pair_sentence(_ablation(Interval(-0.03, -0.05, -0.01)), headline, 5000)
    assert "same side" in agrees


def test_best_baseline_is_chosen_on_validation_not_test() -> None:
    rng = np.random.default_rng(0)
    n = 200
    y_val, y_test = rng.integers(0, 2, n), rng.integers(0, 2, n)
    subjects = np.arange(n)
    test = SimpleNamespace(y=y_test, subject_ids=subjects)
    val = SimpleNamespace(y=y_val, subject_ids=subjects)
    good_val, bad_val = y_val + rng.normal(0, 0.5, n), rng.uniform(size=n)
    good_test, bad_test = rng.uniform(size=n), y_test + rng.normal(0, 0.5, n)  # the reverse on test
    ms = cmp.ModelSet(models={}, raw={"lstm": y_test + rng.normal(0, 1, n), "gbt": good_test,
                                      "news2": bad_test},
                      calibrated={}, p_val={"lstm": y_val * 1.0, "gbt": good_val, "news2": bad_val}, oracle=None)
    cfg = cmp.ComparisonConfig.from_profile(get_profile("quick"))
    best = cmp.choose_best_baseline({"val": val, "test": test}, ms, cfg)
    assert best.model == "gbt" and set(best.validation_auroc) == {"gbt", "news2"}
    assert best.comparison.auroc.b == pytest.approx(0.5, abs=0.1)  # its (poor) test AUROC, paired with the LSTM
    table = cmp.validation_table(best)
    assert table.loc[table["chosen"] != "", "model"].tolist() == [MODEL_NAMES["gbt"]]


def test_kfold_sign_verdict() -> None:
    assert sign_verdict([-0.01, -0.02]) == "negative in every one of the 2 folds"
    assert sign_verdict([0.01, 0.02, 0.03]) == "positive in every one of the 3 folds"
    assert sign_verdict([0.01, -0.02, -0.03]) == "positive in 1 of the 3 folds and negative in 2"


def test_oracle_gaps_pair_each_model_with_the_true_risk() -> None:
    rng = np.random.default_rng(3)
    n = 400
    risk = rng.beta(2, 5, n)
    y = (rng.random(n) < risk).astype(int)
    test = SimpleNamespace(y=y, true_risk=risk, subject_ids=np.arange(n) // 2)
    ms = SimpleNamespace(raw={"truth": risk.copy(), "noisy": risk + rng.normal(0, 0.3, n)})
    cfg = SimpleNamespace(n_boot=200, seed=0)
    gaps = cmp.oracle_gaps(test, ms, cfg)
    assert (gaps["truth"].value, gaps["truth"].ci_low, gaps["truth"].ci_high) == (0.0, 0.0, 0.0)
    assert gaps["noisy"].ci_high < 0  # noise only loses ranking
    assert cmp.oracle_gaps(SimpleNamespace(y=y, true_risk=None, subject_ids=None), ms, cfg) is None


def test_difference_verdict_turns_with_the_interval() -> None:
    assert difference_verdict(_iv(0.03), "LSTM", "gradient-boosted trees").startswith(
        "patients are ranked better with the LSTM than with the gradient-boosted trees")
    assert "better with the gradient-boosted trees than with the LSTM" in difference_verdict(
        _iv(-0.03), "LSTM", "gradient-boosted trees")
    assert "cannot tell" in difference_verdict(_iv(0.0), "LSTM", "regression")


def test_runs_verdict_says_plainly_when_no_interval_excludes_zero() -> None:
    from ehrlib.mortality.prose import runs_verdict

    assert runs_verdict([_iv(0.0), _iv(0.005)]) == "no seed's paired 95 % interval excludes zero"
    assert runs_verdict([_iv(0.0)], "folds") == "no fold's paired 95 % interval excludes zero"


def test_and_list_reads_as_english() -> None:
    from ehrlib.mortality.prose import and_list

    assert (and_list(["a"]), and_list(["a", "b"]), and_list(["a", "b", "c"])) == ("a", "a and b", "a, b and c")
