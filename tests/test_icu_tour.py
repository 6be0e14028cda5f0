"""Tests of chapter 01's tour of the generator (`ehrlib.icu.tour`) on a small in-memory demo cohort."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ehrlib.icu import tour
from ehrlib.icu.episodes import EpisodeSet
from ehrlib.icu.schema import VARIABLES


@pytest.fixture(scope="module")
def demo() -> tour.Demo:
    return tour.demo_cohort(seed=3, n_episodes=400)


def test_verdict_words_follow_the_numbers():
    assert [tour.direction(2, 1), tour.direction(1, 2), tour.direction(1, 1)] == ["higher", "lower", "the same"]
    assert tour.same_word(True) == "identical" and tour.same_word(False) == "different"
    assert [tour.interval_word(0.1, 0.2), tour.interval_word(-0.2, -0.1), tour.interval_word(-0.1, 0.1)] == [
        "above zero", "below zero", "includes zero"]


def test_severity_facts_say_what_the_means_show(demo):
    f = tour.severity_facts(demo)
    sev, y = demo.base.severity, demo.y
    assert f["n_demo"] == 400 and f["sev0_died"] == pytest.approx(sev[y == 1, 0].mean())
    assert f["sev0_word"] == ("higher" if f["sev0_died"] > f["sev0_surv"] else "lower")
    widens = f["sev48_died"] - f["sev48_surv"] > f["sev0_died"] - f["sev0_surv"]
    assert f["sev_change_word"] == ("widens" if widens else "narrows")
    assert 0 <= f["deteriorating_pct"] <= 100


def test_rhythm_facts_name_the_largest_range(demo):
    settings = tour.rhythm_settings(demo)
    f = tour.rhythm_facts(settings)
    assert f["hr_range_all"] > f["hr_range_neither"], "the rhythm and sleep make the day-night range"
    assert f["hr_range_word"] == "largest"
    swapped = {**settings, tour.RHYTHM["all"]: settings[tour.RHYTHM["neither"]]}
    assert tour.rhythm_facts(swapped)["hr_range_word"] == "not the largest"


def test_treatment_and_individual_variability(demo):
    t = tour.treatment_effects(demo)
    assert t.values["spo2_word"] == tour.direction(t.values["spo2_treated"], t.values["spo2_untreated"])
    both = t.values["spo2_word"] == t.values["sbp_word"] == "higher"
    assert t.values["treatment_hides"].startswith("Both") == both
    assert len(t.series) == 2 and all(len(v) == len(next(iter(t.series.values()))) for v in t.series.values())
    ind = tour.individual_variability(demo)
    assert ind.values["hr_sd_indiv"] > ind.values["hr_sd_noindiv"] and ind.values["hr_sd_word"] == "wider"


def test_fluids_events_and_risk_ablations(demo):
    values, example = tour.fluid_effects(demo)
    lat = demo.base.latent
    assert values["fluids_same_risk"] == "the same", "fluids change the chart, never the label"
    assert lat["fluid_boluses"].iloc[example.patient] >= 3 and lat["fluid_responder"].iloc[example.patient] == 1
    assert values["fl_boluses"] == lat["fluid_boluses"].iloc[example.patient]
    ev, event = tour.event_example(demo)
    assert ev["ev_hour"] < 24 and set(event.cohorts) == {"all features", "no acute events"}
    risk = tour.risk_ablation_facts(demo)
    assert risk["same_obs"] == "identical" and 0.5 < risk["auc_uni"] < 1
    assert risk["uni_word"] == tour.direction(risk["auc_uni"], risk["auc_demo"])


def test_observed_by_ablation_has_every_setting(demo):
    observed = tour.observed_by_ablation(demo)
    assert list(observed.columns) == ["all features", *tour.MISSINGNESS]
    assert list(observed.index) == list(VARIABLES)
    assert (observed["no MCAR"] >= observed["all features"] - 1e-12).all(), "MCAR only removes values"


def test_care_facts_direction_flips_with_the_numbers():
    latent = pd.DataFrame({"event_hour": [1.0, np.nan, np.nan, np.nan], "event_responder": [0, 0, 0, 0],
                           "postoperative": [1, 1, 0, 0], "oxygen_hours": [0, 2, 0, 0], "ventilated_hours": 0,
                           "vasopressor_hours": 0, "fluid_boluses": 0, "limitation_hour": np.nan, "y": [0, 0, 1, 0]})
    f = tour.care_facts(tour.care_table(latent))
    assert f["mort_postop"] == 0 and f["mort_not_postop"] == 50 and f["postop_word"] == "less"
    f = tour.care_facts(tour.care_table(latent.assign(y=[1, 0, 0, 0])))
    assert f["postop_word"] == "more" and f["pct_event"] == 25


def _episodes(stays: list[str], split: str) -> EpisodeSet:
    v = np.ones((len(stays), 48, len(VARIABLES)), np.float32)
    v[0, :, VARIABLES.index("Lactate")] = np.nan
    return EpisodeSet(values=v, mask=~np.isnan(v), y=np.zeros(len(stays), int), stays=stays, variables=list(VARIABLES),
                      true_risk=None, split=split)


def test_pool_cohort_facts_and_resimulate(demo):
    lat = demo.base.latent.set_index("stay")
    stays = list(lat.index)
    data = {"train": _episodes(stays[:2], "train"), "val": _episodes(stays[2:3], "val"),
            "test": _episodes(stays[3:5], "test")}
    pooled = tour.pool(data, lat)
    assert list(pooled.latent["stay"]) == stays[:5] and pooled.values.shape[0] == 5
    f = tour.cohort_facts(pooled)
    assert f["lactate_stays_pct"] == pytest.approx(100 * 2 / 5), "three of five splits' first stays lack lactate"
    meta = {"config": {"n_episodes": 400, "split": list(demo.config.split), "mortality": demo.config.mortality,
                       "seed": 3}}
    assert len(tour.resimulate(meta, lat.index.to_numpy()).latent) == 400
    with pytest.raises(ValueError, match="metadata.json"):
        tour.resimulate(meta, lat.index.to_numpy()[:-1])

