"""Tests of the mechanistic synthetic ICU generator (`ehrlib.icu.synth`), on small seeded cohorts."""

from __future__ import annotations

import dataclasses
import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import cross_val_predict

from ehrlib.icu import writer as icu_writer
from ehrlib.icu.reader import SPLITS
from ehrlib.icu.synth import VARIABLES, IcuConfig, RealismFlags, ablate, proportional_split, simulate_icu
from ehrlib.icu.writer import HEADER, dataset_digest, generate_icu_dataset

ROOT = Path(__file__).resolve().parent.parent


RISK_ONLY = ("multivariate_mortality", "u_shaped_risk")  # switches that change the risk, not the charts


def small(n: int = 400, seed: int = 3, **kw) -> IcuConfig:
    """A small config with the default split proportions."""
    return IcuConfig(n_episodes=n, split=proportional_split(n), seed=seed, **kw)


@pytest.fixture(scope="module")
def cohort():
    return simulate_icu(small(600))


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    out = tmp_path_factory.mktemp("icu") / "ds"
    generate_icu_dataset(out, n_episodes=300, seed=11, progress=False)
    return out


# --- determinism -----------------------------------------------------------------------------

def test_same_seed_gives_byte_identical_files(tmp_path, dataset):
    again = generate_icu_dataset(tmp_path / "again", n_episodes=300, seed=11, progress=False)
    assert dataset_digest(again) == dataset_digest(dataset)
    for rel in ["train/listfile.csv", "test/ground_truth.csv", "latent.csv"]:
        assert (again / rel).read_bytes() == (dataset / rel).read_bytes()


def test_different_seed_gives_different_data(tmp_path, dataset):
    other = generate_icu_dataset(tmp_path / "other", n_episodes=300, seed=12, progress=False)
    assert dataset_digest(other) != dataset_digest(dataset)


def test_in_memory_simulation_is_deterministic(cohort):
    again = simulate_icu(small(600))
    np.testing.assert_array_equal(again.values, cohort.values)
    np.testing.assert_array_equal(again.times, cohort.times)
    pd.testing.assert_frame_equal(again.latent, cohort.latent)


# --- layout ------------------------------------------------------------------------------------

def test_layout_headers_and_hours(dataset):
    meta = json.loads((dataset / "metadata.json").read_text())
    assert meta["config"]["n_episodes"] == 300
    for split in SPLITS:
        listfile = pd.read_csv(dataset / split / "listfile.csv")
        assert list(listfile.columns) == ["stay", "y_true"]
        assert set(listfile["y_true"]) <= {0, 1}
        truth = pd.read_csv(dataset / split / "ground_truth.csv")
        assert list(truth.columns) == ["stay", "true_risk"]
        assert list(truth["stay"]) == list(listfile["stay"])
        assert truth["true_risk"].between(0, 1).all()
        files = sorted(p.name for p in (dataset / split).glob("*_timeseries.csv"))
        assert files == sorted(listfile["stay"])
        for name in files[:40]:
            text = (dataset / split / name).read_text()
            assert text.startswith(HEADER)
            df = pd.read_csv(io.StringIO(text))
            assert list(df.columns) == ["Hours", *VARIABLES]
            assert df["Hours"].between(0, 48).all()
            assert (np.diff(df["Hours"].to_numpy()) >= 0).all()
            assert df[list(VARIABLES)].notna().any(axis=1).all(), "every row records something"
            hours = [line.split(",", 1)[0] for line in text.splitlines()[1:]]
            assert all(len(h.split(".")[1]) == 4 for h in hours), "Hours have fixed decimals"
    assert (dataset / "latent.csv").exists()


def test_files_match_in_memory_cohort(tmp_path):
    cfg = small(120, seed=5)
    out = generate_icu_dataset(tmp_path / "d", config=cfg, seed=5, progress=False)
    c = simulate_icu(cfg)
    lat = c.latent
    for i in [0, 7, 50, 119]:
        df = pd.read_csv(out / lat["split"].iloc[i] / lat["stay"].iloc[i])
        mem = c.episode_frame(i)
        np.testing.assert_allclose(df["Hours"], mem["Hours"], atol=1e-4)
        np.testing.assert_allclose(df[list(VARIABLES)].to_numpy(), mem[list(VARIABLES)].to_numpy(), atol=1e-3)


def test_charting_is_irregular_vitals_hourly_labs_sparse(cohort):
    frac = cohort.observed_fraction()
    assert frac["Heart Rate"] > 0.6
    assert frac["Creatinine"] < 0.3
    minutes = cohort.times[cohort.times >= 0] % 60
    assert 0.1 < np.mean(minutes != 0) < 0.95, "chart times are jittered but often on the hour"


# --- splits and prevalence ----------------------------------------------------------------------

def test_split_sizes_exact_patient_disjoint_and_stratified():
    cfg = IcuConfig(n_episodes=2000, split=(1400, 300, 300), seed=2)
    lat = simulate_icu(cfg).latent
    assert lat.groupby("split").size().to_dict() == {"train": 1400, "val": 300, "test": 300}
    owners = lat.groupby("subject_id")["split"].nunique()
    assert (owners == 1).all(), "a subject's episodes must all lie in one split"
    assert (lat.groupby("subject_id").size() > 1).any(), "some subjects have several episodes"
    prev = lat.groupby("split")["y"].mean()
    assert (prev - lat["y"].mean()).abs().max() < 0.01
    assert lat["stay"].is_unique


def test_prevalence_near_target():
    for target in (0.1, 0.3):
        lat = simulate_icu(small(3000, seed=4, mortality=target)).latent
        assert lat["true_risk"].mean() == pytest.approx(target, abs=1e-6)
        se = np.sqrt(target * (1 - target) / 3000)
        assert abs(lat["y"].mean() - target) < 4 * se


def test_n_episodes_alone_splits_proportionally(tmp_path):
    out = generate_icu_dataset(tmp_path / "p", n_episodes=101, seed=1, progress=False)
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["config"]["split"] == list(proportional_split(101))
    assert sum(meta["config"]["split"]) == 101


# --- the label never shapes observations -----------------------------------------------------------

def test_observations_do_not_depend_on_label(cohort):
    """Changing the target prevalence changes every risk and many labels, but no observation: a
    generator that drew measurements from the label (the replication's mistake) fails here."""
    other = simulate_icu(small(600, mortality=0.5))
    assert (other.latent["y"] != cohort.latent["y"]).sum() > 50
    np.testing.assert_array_equal(other.values, cohort.values)
    np.testing.assert_array_equal(other.times, cohort.times)
    np.testing.assert_array_equal(other.truth, cohort.truth)


@pytest.mark.parametrize("flag", RISK_ONLY)
def test_risk_model_switch_changes_labels_not_observations(cohort, flag):
    other = simulate_icu(small(600, realism=RealismFlags().off(flag)))
    assert not np.allclose(other.latent["true_risk"], cohort.latent["true_risk"])
    np.testing.assert_array_equal(other.values, cohort.values)


# --- bad input, overwrite and atomicity ---------------------------------------------------------------

@pytest.mark.parametrize("kwargs, message", [
    (dict(n_episodes=-5), "positive"),
    (dict(n_episodes=0), "positive"),
    (dict(n_episodes=100, split=(50, 30, 10)), "add up"),
    (dict(n_episodes=100, split=(120, -10, -10)), "non-negative"),
    (dict(n_episodes=100, mortality=0.0), "between 0 and 1"),
    (dict(n_episodes=100, mortality=1.0), "between 0 and 1"),
    (dict(n_episodes=100, mortality=1.5), "between 0 and 1"),
])
def test_rejects_impossible_parameters(tmp_path, kwargs, message):
    with pytest.raises(ValueError, match=message):
        generate_icu_dataset(tmp_path / "bad", progress=False, **kwargs)
    assert not (tmp_path / "bad").exists()


def test_refuses_to_overwrite_unless_asked(tmp_path):
    out = generate_icu_dataset(tmp_path / "d", n_episodes=60, seed=1, progress=False)
    digest = dataset_digest(out)
    with pytest.raises(FileExistsError, match="already exists"):
        generate_icu_dataset(out, n_episodes=60, seed=2, progress=False)
    assert dataset_digest(out) == digest
    generate_icu_dataset(out, n_episodes=60, seed=2, progress=False, overwrite=True)
    assert dataset_digest(out) != digest


def test_failure_midway_leaves_nothing(tmp_path, monkeypatch):
    def boom(cohort, folder, **kw):
        (folder / "train").mkdir()
        (folder / "train" / "partial.csv").write_text("x")
        raise RuntimeError("disk full")

    monkeypatch.setattr(icu_writer, "write_cohort", boom)
    with pytest.raises(RuntimeError, match="disk full"):
        generate_icu_dataset(tmp_path / "d", n_episodes=60, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_realism_flags_reject_unknown_names():
    with pytest.raises(ValueError, match="unknown realism feature"):
        RealismFlags().off("telepathy")


# --- realism switches --------------------------------------------------------------------------------

@pytest.mark.parametrize("flag", [f.name for f in dataclasses.fields(RealismFlags) if f.name not in RISK_ONLY])
def test_each_realism_switch_changes_observations(flag):
    base = simulate_icu(small(300, seed=8))
    off = simulate_icu(small(300, seed=8, realism=RealismFlags().off(flag)))
    same_shape = base.values.shape == off.values.shape
    assert not (same_shape and np.array_equal(base.values, off.values, equal_nan=True)
                and np.array_equal(base.times, off.times)), f"switching {flag} off changed nothing"
    # the latent state is untouched by an observation-side switch
    pd.testing.assert_series_equal(base.latent["baseline_severity"], off.latent["baseline_severity"])


def test_all_features_off_charts_on_the_hour_without_noise():
    c = simulate_icu(small(100, seed=8, realism=RealismFlags.none()))
    assert np.all(c.times[c.times >= 0] % 60 == 0)
    assert c.observed_fraction()["Heart Rate"] == 1.0


# --- physiology -----------------------------------------------------------------------------------

def test_survivors_typical_values_are_plausible_and_directions_physiological():
    c = simulate_icu(small(3000, seed=6))
    means = pd.DataFrame(c.means(), columns=VARIABLES)
    y = c.latent["y"].to_numpy()
    surv = means[y == 0].median()
    dead = means[y == 1].median()
    ranges = {"Heart Rate": (78, 94), "Systolic blood pressure": (110, 128), "Diastolic blood pressure": (54, 66),
              "Respiratory rate": (16, 22), "Temperature": (36.3, 37.1), "Oxygen saturation": (96, 99.5),
              "Glucose": (110, 145), "Sodium": (136, 142), "Potassium": (3.8, 4.4), "Creatinine": (0.7, 1.4),
              "Lactate": (1.0, 2.2), "Hemoglobin": (9.5, 12), "Bicarbonate": (22, 27)}
    for var, (lo, hi) in ranges.items():
        assert lo <= surv[var] <= hi, f"survivors' median {var} {surv[var]:.2f} outside [{lo}, {hi}]"
    assert dead["Heart Rate"] > surv["Heart Rate"] + 5
    assert dead["Systolic blood pressure"] < surv["Systolic blood pressure"] - 5
    assert dead["Oxygen saturation"] < surv["Oxygen saturation"]
    assert dead["Lactate"] > surv["Lactate"]
    assert dead["Creatinine"] > surv["Creatinine"]
    assert dead["Bicarbonate"] < surv["Bicarbonate"]


def test_difficulty_true_risk_beats_logistic_regression_on_means():
    c = simulate_icu(small(4000, seed=9))
    y = c.latent["y"].to_numpy()
    best = roc_auc_score(y, c.latent["true_risk"])
    x = pd.DataFrame(c.means(), columns=VARIABLES)
    x = x.fillna(x.mean())
    x = (x - x.mean()) / x.std()
    p = cross_val_predict(LogisticRegression(max_iter=2000), x, y, cv=5, method="predict_proba")[:, 1]
    lr = roc_auc_score(y, p)
    assert 0.84 <= best <= 0.94
    assert lr < best - 0.025, f"LR on means {lr:.3f} too close to the best achievable {best:.3f}"
    assert lr > 0.7, "the observations carry real signal"


def test_hourly_binning_matches_long_format(cohort):
    means, mask = cohort.hourly()
    long = cohort.long()
    assert mask.sum() <= len(long)
    assert means.shape == (600, 48, 15)
    assert np.isnan(means[~mask]).all() and not np.isnan(means[mask]).any()


def test_ablate_switches_off_only_the_named_feature():
    cfg = small(120, seed=8)
    off = ablate(cfg, "meals")
    assert off.config.realism == RealismFlags().off("meals") and off.config.seed == cfg.seed
    direct = simulate_icu(dataclasses.replace(cfg, realism=RealismFlags().off("meals")))
    np.testing.assert_array_equal(off.values, direct.values)
    assert not np.array_equal(off.values, simulate_icu(cfg).values, equal_nan=True)
    with pytest.raises(ValueError, match="unknown realism feature"):
        ablate(cfg, "telepathy")


def test_icu_defaults_are_defined_once():
    from ehrlib.icu import defaults
    from ehrlib.profiles import get_profile

    full = get_profile("full")
    assert (full.icu_episodes, full.icu_split, full.icu_mortality) == (
        defaults.DEFAULT_EPISODES, defaults.DEFAULT_SPLIT, defaults.DEFAULT_MORTALITY)
    cfg = IcuConfig()
    assert (cfg.n_episodes, cfg.split, cfg.mortality) == (full.icu_episodes, full.icu_split, full.icu_mortality)


# --- issue 9: impossible records, byte identity, documented risk model, benchmark variables/layout ----

def test_no_episode_after_an_in_hospital_death():
    cfg = small(3000, seed=5, repeat_subject_rate=0.4)
    lat = simulate_icu(cfg).latent.sort_values(["subject_id", "episode"])
    assert (lat.groupby("subject_id").size() > 1).sum() > 300, "many subjects with several episodes"
    last = lat.groupby("subject_id")["episode"].transform("max")
    assert not ((lat["y"] == 1) & (lat["episode"] < last)).any(), "a subject died and came back"
    for _, g in lat.groupby("subject_id"):  # episode numbers run 1..k within each subject
        assert list(g["episode"]) == list(range(1, len(g) + 1))
        break
    assert (lat.groupby("subject_id")["episode"].apply(lambda e: sorted(e) == list(range(1, len(e) + 1)))).all()
    assert lat["stay"].is_unique


def test_end_history_at_death_by_hand():
    from ehrlib.icu.synth import end_history_at_death

    subj = np.array([0, 0, 0, 1, 2, 2])
    episode = np.array([1, 2, 3, 1, 1, 2])
    ids = np.array([11111, 22222, 33333])
    y = np.array([0, 1, 0, 1, 1, 0])
    s, e, i = end_history_at_death(subj, episode, ids, y, np.random.default_rng(0))
    np.testing.assert_array_equal(s, [0, 0, 1, 2, 3, 4])
    np.testing.assert_array_equal(e, [1, 2, 1, 1, 1, 1])
    assert list(i[[0, 2, 3]]) == [11111, 22222, 33333]
    assert len(set(i.tolist())) == 5


def test_whole_folder_is_byte_identical_and_metadata_has_no_timings(tmp_path, dataset):
    again = generate_icu_dataset(tmp_path / "again", n_episodes=300, seed=11, progress=False)
    files = sorted(p.relative_to(dataset) for p in dataset.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(again) for p in again.rglob("*") if p.is_file())
    for rel in files:
        assert (again / rel).read_bytes() == (dataset / rel).read_bytes(), f"{rel} differs"
    meta = json.loads((dataset / "metadata.json").read_text())
    assert not any("second" in k or "time" in k for k in json.dumps(meta).split('"')), "timings in metadata"


def test_documented_risk_model_is_the_code():
    from ehrlib.icu.risk import RISK_WEIGHTS, risk_model_text

    card = " ".join((ROOT / "book" / "cards" / "icu-data.md").read_text(encoding="utf-8").replace("`", "").split())
    assert risk_model_text() in card, "the data card's risk formula is not RISK_WEIGHTS'"
    for name, w in RISK_WEIGHTS.items():
        assert f"{w:g} {name}" in risk_model_text()


def test_generator_docstrings_are_a_paragraph_that_points_to_the_data_card():
    from ehrlib.icu import risk, schema, synth

    for module in (synth, risk, schema):
        doc = module.__doc__.strip()
        assert "\n\n" not in doc and len(doc.splitlines()) <= 10, f"{module.__name__}: docstring longer than a paragraph"
        assert "book/cards/icu-data.md" in doc, f"{module.__name__}: docstring does not point to the data card"


def latent_steps(cfg: IcuConfig):
    """The generator's latent steps (subjects, course, events, treatment, fluids) for `cfg`."""
    from ehrlib.icu import synth as s

    rng = s._streams(cfg.seed)
    sub = s.draw_subjects(cfg, rng)
    course = s.draw_course(sub, rng)
    care = s.draw_events(sub, course, cfg.realism, rng)
    s.draw_treatment(course, care, cfg.realism, rng)
    s.draw_fluids(course, care, cfg.realism, rng)
    return sub, course, care


def test_risk_terms_are_those_of_the_weights():
    from ehrlib.icu import risk as r
    from ehrlib.icu import synth as s

    cfg = small(200, seed=2)
    sub, course, care = latent_steps(cfg)
    truth = np.zeros((200, 49, 15), dtype=np.float32) + s._NORMAL.astype(np.float32)
    terms = r.risk_terms(sub, course, care, truth, cfg.realism)
    assert set(terms) == set(r.RISK_WEIGHTS)
    lin = r.risk_score(sub, course, care, truth, cfg.realism)
    np.testing.assert_allclose(lin, sum(w * terms[k] for k, w in r.RISK_WEIGHTS.items()))


def _course_and_care(cfg: IcuConfig, first_day_shift: float = 0.0):
    """Subjects, course and events of `cfg`, with the cardiovascular factor of hours 0-24 shifted."""
    from ehrlib.icu import synth as s

    rng = s._streams(cfg.seed)
    sub = s.draw_subjects(cfg, rng)
    course = s.draw_course(sub, rng)
    course.organ[:, :25, 0] += first_day_shift
    return sub, course, s.draw_events(sub, course, cfg.realism, rng)


def test_first_day_load_enters_the_risk_beyond_the_state_at_48h():
    from ehrlib.icu import risk as r
    from ehrlib.icu import synth as s

    cfg = small(300, seed=4)
    truth = np.zeros((300, 49, 15), dtype=np.float32) + s._NORMAL.astype(np.float32)
    sub, course, care = _course_and_care(cfg)
    _, shifted, care2 = _course_and_care(cfg, first_day_shift=0.5)
    np.testing.assert_array_equal(course.organ[:, 25:], shifted.organ[:, 25:])  # same course from hour 25
    np.testing.assert_array_equal(course.sev, shifted.sev)
    diff = r.risk_score(sub, shifted, care2, truth, cfg.realism) - r.risk_score(sub, course, care, truth, cfg.realism)
    np.testing.assert_allclose(diff, 0.5 * r.RISK_WEIGHTS["C(0-24)"], rtol=1e-5)


def test_true_risk_has_no_needlessly_extreme_tail():
    from scipy.stats import skew

    lat = simulate_icu(small(4000, seed=12)).latent
    risk = lat["true_risk"].to_numpy()
    logit = np.log(risk / (1 - risk))
    assert abs(skew(logit)) < 0.5, f"skewed linear predictor ({skew(logit):.2f})"
    # 0.975: the calibrated event term (weight 3.0, raised to keep the temporal headroom) lengthens the top 1 %
    assert np.quantile(risk, 0.99) < 0.975 and np.quantile(risk, 0.9) < 0.68
    assert roc_auc_score(lat["y"], risk) > 0.84, "a less extreme risk must still separate the outcomes"


def test_oxygen_hides_respiratory_failure_from_spo2():
    cfg = small(1500, seed=7)
    base, untreated = simulate_icu(cfg), ablate(cfg, "oxygen_therapy")
    on_o2 = (base.latent["oxygen_hours"] > 0).to_numpy()
    assert 0.2 < on_o2.mean() < 0.7
    k = VARIABLES.index("Oxygen saturation")
    treated, bare = base.means()[on_o2, k], untreated.means()[on_o2, k]
    assert np.nanmedian(treated) - np.nanmedian(bare) > 0.7
    assert np.nanquantile(treated, 0.1) - np.nanquantile(bare, 0.1) > 2.5, "the sickest desaturate untreated"
    same = np.isclose(base.means()[~on_o2, k], untreated.means()[~on_o2, k], equal_nan=True)
    assert same.mean() > 0.99, "patients without oxygen in hours 0-47 chart the same (a few start at hour 48)"


def test_vasopressors_lift_the_blood_pressure_of_patients_in_shock():
    cfg = small(1500, seed=7)
    base, untreated = simulate_icu(cfg), ablate(cfg, "vasopressors")
    hours = base.latent["vasopressor_hours"].to_numpy()
    assert 0.1 < np.mean(hours > 0) < 0.4
    k = VARIABLES.index("Systolic blood pressure")
    long = hours > 12  # most of the window on vasopressors
    lift = np.nanmedian(base.means()[long, k]) - np.nanmedian(untreated.means()[long, k])
    # 2.5: the calibrated (weaker) cardiovascular loading leaves less pressure for vasopressors to restore
    assert lift > 2.5, f"48-hour mean systolic pressure lifted by only {lift:.1f} mmHg"


def test_fluid_boluses_lift_responders_dilute_everyone_and_leave_the_risk_alone():
    from ehrlib.icu.describe import window_means
    from ehrlib.icu.synth import FLUID_NONRESPONDER_LIMIT

    cfg = small(1500, seed=7)
    base, dry = simulate_icu(cfg), ablate(cfg, "fluids")
    lat = base.latent
    boluses, responds = lat["fluid_boluses"].to_numpy(), lat["fluid_responder"].to_numpy() == 1
    assert 0.2 < np.mean(boluses > 0) < 0.55 and 1 <= np.median(boluses[boluses > 0]) <= 4
    assert boluses[~responds].max() <= FLUID_NONRESPONDER_LIMIT, "fluids stop in non-responders"
    # a bolus is a treatment of failing circulation: given to those with the higher first-day load
    load = lat["cardiovascular_0_24h"].to_numpy()
    assert np.median(load[boluses > 0]) > np.median(load[boluses == 0]) + 0.5
    k = VARIABLES.index("Systolic blood pressure")
    day, day_dry = window_means(base.hourly()[0], 0, 24), window_means(dry.hourly()[0], 0, 24)
    given_r, given_n = (boluses > 0) & responds, (boluses > 0) & ~responds
    lift_r = np.nanmedian(day[given_r, k] - day_dry[given_r, k])
    lift_n = np.nanmedian(day[given_n, k] - day_dry[given_n, k])
    assert lift_r > 1.0 and lift_r > 3 * abs(lift_n), (lift_r, lift_n)
    hb = VARIABLES.index("Hemoglobin")
    assert np.nanmedian(base.means()[boluses >= 2, hb] - dry.means()[boluses >= 2, hb]) < -0.2
    # fluids change only the chart: the same risks and labels, and no change without a bolus
    np.testing.assert_array_equal(lat["true_risk"], dry.latent["true_risk"])
    np.testing.assert_array_equal(lat["y"], dry.latent["y"])
    none = boluses == 0
    same = [np.array_equal(a, b, equal_nan=True) for a, b in zip(base.values[none], dry.values[none])]
    assert np.mean(same) > 0.99, "patients without a bolus in hours 0-47 chart the same (a few get one at hour 48)"
    assert (dry.latent["fluid_boluses"] == 0).all()


def test_no_fluids_once_treatment_is_limited():
    _, course, care = latent_steps(small(3000, seed=5))
    failing = course.organ[:, :, 0] > 1.6  # above nearly every patient's threshold
    assert (care.withdrawn & failing).sum() > 50, "the test needs limited patients whose circulation fails"
    assert not (care.bolus & care.withdrawn).any()
    assert care.bolus[failing & ~care.withdrawn].mean() > 0.03


def test_benchmark_variables_and_layout_read_by_the_project_reader(tmp_path):
    from ehrlib.icu.reader import read_dataset
    from ehrlib.icu.schema import BENCHMARK_VARIABLES

    out = generate_icu_dataset(tmp_path / "bench", n_episodes=200, seed=4, progress=False,
                               variables="benchmark", layout="benchmark")
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == ["test", "train"]
    for s in SPLITS:
        assert (out / f"{s}_listfile.csv").read_text().startswith("stay,y_true\n")
    val = pd.read_csv(out / "val_listfile.csv")
    assert all((out / "train" / st).is_file() for st in val["stay"]), "validation episodes live in train/"
    text = "".join((out / "train" / st).read_text() for st in val["stay"][:60])
    first = text.splitlines()[0]
    assert first == "Hours," + ",".join(BENCHMARK_VARIABLES)
    everything = "".join(p.read_text() for p in out.glob("*/*_timeseries.csv"))
    for cell in (",4 Spontaneously,", ",6 Obeys Commands,", ",5 Oriented,", ",1.0 ET/Trach,", ",1.0,", ",0.0,"):
        assert cell in everything, cell
    data = read_dataset(out, cache=False, progress=False)
    cfg = IcuConfig(n_episodes=200, split=proportional_split(200), seed=4, variables="benchmark")
    mem = simulate_icu(cfg)
    _, mask = mem.hourly()
    verbal = "Glascow coma scale verbal response"
    for s in SPLITS:
        es = data[s]
        assert es.variables == list(BENCHMARK_VARIABLES)
        idx = mem.latent.reset_index().set_index("stay").loc[es.stays, "index"].to_numpy()
        np.testing.assert_array_equal(es.y, mem.latent["y"].to_numpy()[idx])
        np.testing.assert_array_equal(es.mask, mask[idx])
        # the ground truth written at the root (`<split>_ground_truth.csv`) is read in this layout too
        np.testing.assert_allclose(es.true_risk, mem.latent["true_risk"].to_numpy()[idx], atol=1e-6)
        for k in range(0, len(idx), 7):  # the reader keeps each hour's last value
            df = mem.episode_frame(int(idx[k]))
            df[verbal] = df[verbal].replace(0, 1)  # "1.0 ET/Trach" scores 1
            last = df.groupby(np.minimum(np.floor(df["Hours"]), 47).astype(int)).last()
            expect = np.full((48, len(BENCHMARK_VARIABLES)), np.nan)
            expect[last.index] = last[list(BENCHMARK_VARIABLES)].to_numpy()
            np.testing.assert_allclose(es.values[k], expect, atol=1e-3)


def test_benchmark_variables_chart_plausibly():
    from ehrlib.icu.schema import BENCHMARK_VARIABLES

    c = simulate_icu(small(1500, seed=3, variables="benchmark"))
    frame = pd.DataFrame(c.means(), columns=BENCHMARK_VARIABLES)
    obs = c.observed_fraction()
    assert obs["Glascow coma scale total"] > 0.2 and obs["pH"] < 0.15 and obs["Height"] < 0.05
    assert frame["Glascow coma scale total"].between(3, 15).all()
    y = c.latent["y"].to_numpy() == 1
    assert frame["Glascow coma scale total"][y].median() < frame["Glascow coma scale total"][~y].median()
    assert 7.3 < frame["pH"].median() < 7.45
    fio2 = frame["Fraction inspired oxygen"].dropna()
    assert len(fio2) > 100 and fio2.between(0.21, 1.0).all()


def test_cli_generates_the_benchmark_options(tmp_path, capsys):
    from ehrlib.cli import main

    rc = main(["generate", "icu", "--out", str(tmp_path / "d"), "--episodes", "60", "--variables", "benchmark",
               "--layout", "benchmark", "--quiet"])
    assert rc == 0
    assert (tmp_path / "d" / "val_listfile.csv").is_file()
    meta = json.loads((tmp_path / "d" / "metadata.json").read_text())
    assert meta["layout"] == "benchmark" and meta["config"]["variables"] == "benchmark"
