"""Tests of the realism report (`ehrlib.mortality.realism`) on small in-memory cohorts and hand-made episodes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ehrlib.icu.episodes import EpisodeSet
from ehrlib.icu.synth import IcuConfig, proportional_split, simulate_icu
from ehrlib.mortality import realism as R


def handmade(values: dict[str, list[list[float]]], y: list[int], static: bool = False) -> EpisodeSet:
    """Episodes with 4 hours from per-variable lists of hourly values (NaN = not charted)."""
    names = list(values)
    v = np.stack([np.asarray(values[k], dtype=np.float32) for k in names], axis=2)
    return EpisodeSet(values=v, mask=~np.isnan(v), y=np.array(y), stays=[f"{i + 1}_episode1" for i in range(len(y))],
                      variables=names, true_risk=None, split="test",
                      static=np.ones((len(y), 1), np.float32) if static else None, static_names=["Age"] if static else [])


NAN = float("nan")
EPISODES = handmade({
    "Heart Rate": [[80, 80, NAN, NAN], [90, 90, 90, 90], [100, NAN, NAN, NAN], [120, 110, NAN, NAN]],
    "Lactate": [[NAN] * 4, [NAN] * 4, [3.0, NAN, NAN, NAN], [1.0, NAN, NAN, NAN]],
}, y=[0, 0, 1, 1], static=True)


def test_variable_table_by_hand():
    t = R.variable_table(EPISODES, ["Heart Rate", "Lactate"])
    assert t.loc["Heart Rate", "measured, %"] == 100 and t.loc["Lactate", "measured, %"] == 50
    assert t.loc["Heart Rate", "per stay"] == pytest.approx((2 + 4 + 1 + 2) / 4)
    assert t.loc["Heart Rate", "median, survivors"] == 85 and t.loc["Heart Rate", "median, non-survivors"] == 107.5
    assert t.loc["Heart Rate", "AUROC"] == 1.0  # perfectly separated
    assert np.isnan(t.loc["Lactate", "AUROC"]), "lactate measured in non-survivors only: no AUROC"
    flipped = handmade({"Heart Rate": [[120] * 4, [110] * 4, [80] * 4, [70] * 4]}, y=[0, 0, 1, 1])
    assert R.variable_table(flipped, ["Heart Rate"]).loc["Heart Rate", "AUROC"] == 1.0, "direction-free"


def test_select_keeps_time_series_only():
    part = R.select(EPISODES, ["Lactate"], n=3)
    assert part.variables == ["Lactate"] and len(part) == 3 and part.static is None and part.static_names == []
    np.testing.assert_array_equal(part.values, EPISODES.values[:3, :, 1:])


@pytest.fixture(scope="module")
def cohorts():
    ours = simulate_icu(IcuConfig(n_episodes=900, split=proportional_split(900), seed=1))
    other = simulate_icu(IcuConfig(n_episodes=700, split=proportional_split(700), seed=2, variables="benchmark"))
    return ours, other


def test_side_by_side_uses_the_shared_variables(cohorts):
    ours, other = (R.cohort_episodes(c, "test") for c in cohorts)
    shared = R.shared_variables(ours, other)
    assert shared == [v for v in ours.variables if v in other.variables] and "Lactate" not in shared
    table = R.side_by_side(ours, other)
    assert list(table.index) == shared
    assert table[("charting", "")].tolist() == ["vital hours" if v in R.VITAL_SIGNS else "lab draws" for v in shared]
    for m in R.MEASURES:
        pd.testing.assert_series_equal(table[(m, "ours")], R.variable_table(ours, shared)[m], check_names=False)
    assert ((table[("AUROC", "ours")] >= 0.5) & (table[("AUROC", "ours")] <= 1)).all()


def test_multivariate_table_fits_on_equal_training_sizes(cohorts, monkeypatch):
    seen = []
    real = R.multivariate_aurocs
    monkeypatch.setattr(R, "multivariate_aurocs", lambda tr, te: seen.append(len(tr)) or real(tr, te))
    ours, other = cohorts
    table = R.multivariate_table(*[(R.cohort_episodes(c, "train"), R.cohort_episodes(c, "test")) for c in (ours, other)])
    assert list(table.index) == list(R.MODELS) and list(table.columns) == ["ours", "real"]
    assert seen == [min(seen)] * 2 == [int((other.latent["split"] == "train").sum())] * 2
    assert ((table > 0.5) & (table < 1)).all().all()


def test_targets_say_what_is_met_and_by_how_much_the_rest_misses():
    cols = pd.MultiIndex.from_tuples([("charting", "")] + [(m, d) for m in R.MEASURES for d in ("ours", "real")])
    table = pd.DataFrame([["vital hours", 100, 98, 40, 43, 86, 85, 90, 89, 0.58, 0.56],
                          ["lab draws", 70, 55, 2.0, 3.5, 1.8, 1.8, 2.3, 2.2, 0.70, 0.62],
                          ["vital hours", 100, 28, 39, 12, 19, 19, 21, 20, 0.60, 0.59]],
                         index=["Heart Rate", "Lactate", "Respiratory rate"], columns=cols)
    multi = pd.DataFrame({"ours": [0.70, 0.75, 0.8, 0.8], "real": [0.72, 0.84, 0.85, 0.86]}, index=list(R.MODELS))
    t = R.targets(table, multi, true_risk_auroc=0.87, headroom=0.01)
    assert t.loc["AUROC, Heart Rate", "met"] and not t.loc["AUROC, Lactate", "met"]
    assert t.loc["AUROC, Lactate", "missed by"] == pytest.approx(0.03)
    assert t.loc["stays with lactate, %", "missed by"] == pytest.approx(5)
    assert "vital hours per stay, Respiratory rate" not in t.index  # not a charting target
    assert t.loc["lab draws per stay, Lactate", "missed by"] == pytest.approx(abs(2.0 / 3.5 - 1) - 0.3)
    assert t.loc["AUROC, observation counts only", "met"] and not t.loc["AUROC, 48-h means + last values", "met"]
    assert not t.loc["temporal headroom (at least)", "met"] and t.loc["true risk AUROC (at least)", "met"]
    assert t.loc["temporal headroom (at least)", "missed by"] == pytest.approx(0.01)


def test_realism_figure_has_three_panels_of_both_datasets():
    cols = pd.MultiIndex.from_tuples([("charting", "")] + [(m, d) for m in R.MEASURES for d in ("ours", "real")])
    table = pd.DataFrame([["vital hours", 100, 98, 40, 43, 86, 85, 90, 89, 0.58, 0.56]], index=["Heart Rate"], columns=cols)
    fig = R.realism_figure(table)
    assert len(fig.data) == 6 and {t.legendgroup for t in fig.data} == {"ours", "real"}
    assert [t.x[0] for t in fig.data[:2]] == [0.58, 0.56]


def test_report_and_its_summary(cohorts):
    ours, other = cohorts
    pair = [(R.cohort_episodes(c, "train"), R.cohort_episodes(c, "test")) for c in (ours, other)]
    rep = R.realism_report(pair[0], pair[1], true_risk_auroc=0.5, headroom=0.5)
    assert not rep.targets.loc["true risk AUROC (at least)", "met"]
    assert rep.summary().startswith(f"{int(rep.targets['met'].sum())} of {len(rep.targets)} targets are met; missed: ")
    assert "true risk AUROC (at least) (by 0.36)" in rep.summary()


def test_realism_section_glues_the_same_keys_with_or_without_real_data(cohorts):
    ours, other = cohorts
    pair = (R.cohort_episodes(ours, "train"), R.cohort_episodes(ours, "test"))
    real = {"a": R.cohort_episodes(other, "train"), "b": R.cohort_episodes(other, "test")}
    absent = R.realism_section(pair, None, true_risk_auroc=0.9, headroom=0.02)
    present = R.realism_section(pair, real, true_risk_auroc=0.9, headroom=0.02)
    assert set(absent.values) == set(present.values)
    assert "not found" in absent.values["realism_status"] and np.isnan(absent.values["real_counts"])
    assert present.values["realism_status"].endswith(".") and 0.4 < present.values["real_counts"] < 1
    assert len(present.figure.data) > 0 and not present.table.empty


def test_shared_gap_word_and_targets_table():
    values = {"real_counts": 0.72, "ours_counts": 0.65, "real_shared_counts": 0.68,
              "real_means_last": 0.83, "ours_means_last": 0.73, "real_shared_means_last": 0.76}
    assert R.shared_gap_word(values) == "shrinks"
    assert R.shared_gap_word({**values, "real_shared_counts": 0.80}) == "changes"
    assert R.shared_gap_word({**values, "real_shared_counts": 0.80, "real_shared_means_last": 0.90}) == "grows"
    targets = pd.DataFrame({"ours": [0.5, 0.6], "real": [0.5, 0.7], "allowed": [0.05, 0.05], "met": [True, False],
                            "missed by": [0.0, 0.05]}, index=pd.Index(["a", "b"], name="target"))
    shown = R.targets_table(targets)
    assert list(shown["met"]) == ["met", "missed"] and np.isnan(shown.loc["a", "missed by"])
    assert shown.loc["b", "missed by"] == 0.05
    placeholder = pd.DataFrame({"PhysioNet 2012": ["not found in this build"]})
    assert R.targets_table(placeholder) is placeholder
