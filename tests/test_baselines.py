"""Sub-window features, the train-only standardiser, the benchmark LR, GBT and the NEWS2 table."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
from scipy import stats
from sklearn.impute import SimpleImputer
from sklearn.metrics import roc_auc_score
from sklearn.preprocessing import StandardScaler

from ehrlib.mortality import baselines as B
from ehrlib.mortality import news2 as N
from ehrlib.mortality.pipelines import run_baselines

VITALS = ["Heart Rate", "Respiratory rate", "Oxygen saturation", "Systolic blood pressure", "Temperature"]


@dataclass
class Eps:
    """Minimal stand-in for ehrlib.icu.episodes.EpisodeSet."""

    values: np.ndarray
    mask: np.ndarray
    y: np.ndarray
    variables: list[str]
    static: np.ndarray | None = None
    static_names: list[str] | None = None

    @property
    def subject_ids(self) -> np.ndarray:
        """Two episodes per subject."""
        return np.arange(len(self.y)) // 2


def _cohort(n: int = 400, seed: int = 0) -> Eps:
    """Vitals drift with a latent severity; the label is drawn from the same severity."""
    rng = np.random.default_rng(seed)
    sev = rng.normal(0, 1, n)
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-(sev * 1.5 - 1.5)))).astype(np.int8)
    t = np.linspace(0, 1, 48)[None, :]
    base = {"Heart Rate": (85, 12), "Respiratory rate": (18, 4), "Oxygen saturation": (96, -2),
            "Systolic blood pressure": (120, -12), "Temperature": (37, 0.5)}
    cols = [mu + d * sev[:, None] * (0.5 + t) + rng.normal(0, abs(d) * 0.3, (n, 48)) for mu, d in base.values()]
    values = np.stack(cols, axis=2).astype(np.float32)
    mask = rng.uniform(size=values.shape) < 0.4
    values[~mask] = np.nan
    return Eps(values=values, mask=mask, y=y, variables=list(base))


def test_window_slices() -> None:
    s = B.window_slices(48)
    assert (s["full"].start, s["full"].stop) == (0, 48)
    assert (s["first10"].start, s["first10"].stop) == (0, 5)
    assert (s["first25"].stop, s["first50"].stop) == (12, 24)
    assert (s["last10"].start, s["last25"].start, s["last50"].start) == (43, 36, 24)
    assert s["last10"].stop == 48


def test_subwindow_features_on_hand_example() -> None:
    v = np.full((2, 48, 2), np.nan, dtype=np.float32)
    v[0, :, 0] = 5.0  # constant series
    v[0, 0, 1], v[0, 47, 1] = 1.0, 3.0  # first and last hour only
    v[1, 10:20, 0] = np.arange(10)  # neither in first10 nor last50
    names = B.feature_names(["a", "b"])
    f = dict(zip(names, B.subwindow_features(v).T))
    assert f["a|full|std"][0] == 0 and f["a|full|skew"][0] == 0 and f["a|full|count"][0] == 48
    assert f["a|full|mean"][0] == 5 and f["a|last10|count"][0] == 5
    assert f["b|first10|min"][0] == 1 and f["b|first10|count"][0] == 1
    assert f["b|last10|max"][0] == 3 and f["b|last10|count"][0] == 1
    assert f["b|full|mean"][0] == 2 and f["b|full|std"][0] == 1
    assert f["b|first50|mean"][0] == 1 and f["b|last50|mean"][0] == 3
    assert f["a|first10|count"][1] == 0 and np.isnan(f["a|first10|mean"][1])
    assert f["a|first25|count"][1] == 2 and f["a|first25|max"][1] == 1
    assert np.isnan(f["a|last50|min"][1])
    assert f["a|full|skew"][1] == pytest.approx(0, abs=1e-6)


def test_subwindow_features_match_scipy_on_random_series() -> None:
    rng = np.random.default_rng(1)
    v = rng.gamma(2, 1, (3, 48, 1)).astype(np.float32)
    v[rng.uniform(size=v.shape) < 0.3] = np.nan
    f = dict(zip(B.feature_names(["x"]), B.subwindow_features(v).T))
    for i in range(3):
        x = v[i, 24:, 0].astype(np.float64)
        x = x[np.isfinite(x)]
        assert f["x|last50|std"][i] == pytest.approx(np.std(x), rel=1e-5)
        assert f["x|last50|skew"][i] == pytest.approx(stats.skew(x), rel=1e-4)
        assert f["x|last50|count"][i] == x.size
    # chunking does not change the result
    np.testing.assert_array_equal(B.subwindow_features(v, chunk=1), B.subwindow_features(v))


def test_standardiser_matches_sklearn_and_is_fitted_on_train_only() -> None:
    rng = np.random.default_rng(2)
    train = rng.normal(3, 2, (200, 4))
    train[rng.uniform(size=train.shape) < 0.2] = np.nan
    test = rng.normal(50, 9, (50, 4))  # very different: must not move the fitted state
    st = B.FeatureStandardiser().fit(train)
    ref = StandardScaler().fit(SimpleImputer().fit_transform(train))
    np.testing.assert_allclose(st.mean, ref.mean_)
    np.testing.assert_allclose(st.scale, ref.scale_)
    ref_test = ref.transform(SimpleImputer().fit(train).transform(test))
    np.testing.assert_allclose(st.transform(test), ref_test)
    before = (st.mean.copy(), st.scale.copy())
    st.transform(test)
    np.testing.assert_array_equal(st.mean, before[0])
    back = B.FeatureStandardiser.from_dict(st.to_dict())
    np.testing.assert_array_equal(back.transform(test), st.transform(test))


def test_standardiser_handles_unseen_and_constant_columns() -> None:
    X = np.array([[np.nan, 1.0], [np.nan, 1.0]])
    st = B.FeatureStandardiser().fit(X)
    out = st.transform(np.array([[5.0, np.nan]]))
    assert np.isfinite(out).all() and out[0, 1] == 0


def test_logistic_baseline_learns_and_round_trips(tmp_path) -> None:
    train, test = _cohort(600, 0), _cohort(300, 1)
    lr = B.LogisticBaseline().fit(train)
    p = lr.predict_proba(test)
    assert roc_auc_score(test.y, p) > 0.7
    lr.save(tmp_path / "lr.json")
    np.testing.assert_allclose(B.LogisticBaseline.load(tmp_path / "lr.json").predict_proba(test), p, rtol=1e-12)
    assert lr.model.C == 0.001


def test_logistic_baseline_rejects_other_variables() -> None:
    train = _cohort(100, 0)
    lr = B.LogisticBaseline().fit(train)
    other = _cohort(10, 1)
    other.variables = other.variables[::-1]
    with pytest.raises(ValueError, match="variables differ"):
        lr.predict_proba(other)


def test_gbt_baseline_is_deterministic() -> None:
    train, test = _cohort(500, 0), _cohort(200, 1)
    a = B.GbtBaseline(seed=3, max_iter=30).fit(train).predict_proba(test)
    b = B.GbtBaseline(seed=3, max_iter=30).fit(train).predict_proba(test)
    np.testing.assert_array_equal(a, b)
    assert roc_auc_score(test.y, a) > 0.65


@pytest.mark.parametrize("var,value,points", [
    ("Respiratory rate", 8, 3), ("Respiratory rate", 9, 1), ("Respiratory rate", 11, 1), ("Respiratory rate", 12, 0),
    ("Respiratory rate", 20, 0), ("Respiratory rate", 21, 2), ("Respiratory rate", 24, 2), ("Respiratory rate", 25, 3),
    ("Oxygen saturation", 91, 3), ("Oxygen saturation", 92, 2), ("Oxygen saturation", 93, 2),
    ("Oxygen saturation", 94, 1), ("Oxygen saturation", 95, 1), ("Oxygen saturation", 96, 0),
    ("Systolic blood pressure", 90, 3), ("Systolic blood pressure", 91, 2), ("Systolic blood pressure", 100, 2),
    ("Systolic blood pressure", 101, 1), ("Systolic blood pressure", 110, 1), ("Systolic blood pressure", 111, 0),
    ("Systolic blood pressure", 219, 0), ("Systolic blood pressure", 220, 3),
    ("Heart Rate", 40, 3), ("Heart Rate", 41, 1), ("Heart Rate", 50, 1), ("Heart Rate", 51, 0), ("Heart Rate", 90, 0),
    ("Heart Rate", 91, 1), ("Heart Rate", 110, 1), ("Heart Rate", 111, 2), ("Heart Rate", 130, 2),
    ("Heart Rate", 131, 3),
    ("Temperature", 35.0, 3), ("Temperature", 35.1, 1), ("Temperature", 36.0, 1), ("Temperature", 36.1, 0),
    ("Temperature", 38.0, 0), ("Temperature", 38.1, 1), ("Temperature", 39.0, 1), ("Temperature", 39.1, 2),
    ("Temperature", np.nan, 0),
])
def test_news2_table(var: str, value: float, points: int) -> None:
    assert N.news2_component(var, np.array([value]))[0] == points


def test_news2_episode_score_carries_forward_and_takes_worst_hour() -> None:
    v = np.full((1, 48, 5), np.nan, dtype=np.float32)
    names = ["Heart Rate", "Respiratory rate", "Oxygen saturation", "Systolic blood pressure", "Temperature"]
    v[0, 0, :] = [80, 16, 97, 120, 37.0]  # all normal: 0
    v[0, 10, 0] = 135  # HR 3 from hour 10, carried forward
    v[0, 12, 2] = 90  # SpO2 3 from hour 12
    v[0, 30, :] = [80, 16, 97, 120, 37.0]  # back to normal
    eps = Eps(values=v, mask=np.isfinite(v), y=np.array([1]), variables=names)
    hourly = N.news2_hourly(eps)[0]
    assert hourly[9] == 0 and hourly[10] == 3 and hourly[12] == 6 and hourly[29] == 6 and hourly[47] == 0
    assert N.news2_score(eps)[0] == 6
    assert N.news2_score(eps, window_hours=18)[0] == 0


def test_news2_baseline_ranks_risk_and_round_trips(tmp_path) -> None:
    val, test = _cohort(600, 0), _cohort(600, 1)
    nb, by_window = N.choose_window(val)
    assert set(by_window) == {"12", "24", "48"} and nb.window_hours in (12, 24, 48)
    assert roc_auc_score(test.y, nb.score(test)) > 0.6
    nb.save(tmp_path / "news2.json")
    back = N.News2Baseline.load(tmp_path / "news2.json")
    assert back == nb and back.score(test).tolist() == nb.score(test).tolist()


def test_news2_scores_oxygen_from_fio2_and_consciousness_from_gcs() -> None:
    v = np.full((1, 48, 7), np.nan, dtype=np.float32)
    names = [*VITALS, N.NEWS2_FIO2_VARIABLE, N.NEWS2_GCS_VARIABLE]
    v[0, 0, :5] = [80, 16, 97, 120, 37.0]
    v[0, 5, 5] = 0.21  # room air: 0
    v[0, 10, 5] = 0.4  # oxygen: 2 from hour 10
    v[0, 20, 5] = 21.0  # percent, room air again
    v[0, 30, 6] = 13  # GCS < 15: 3 from hour 30
    eps = Eps(values=v, mask=np.isfinite(v), y=np.array([1]), variables=names)
    hourly = N.news2_hourly(eps)[0]
    assert hourly[5] == 0 and hourly[10] == 2 and hourly[19] == 2 and hourly[20] == 0 and hourly[30] == 3
    assert N.news2_uses_oxygen(names) and not N.news2_uses_oxygen(VITALS)
    np.testing.assert_array_equal(N.oxygen_points(np.array([np.nan, 0.21, 0.22, 28.0, 1.0])), [0, 0, 2, 2, 2])


def test_news2_names_missing_vitals() -> None:
    eps = _cohort(5)
    eps.variables = ["x"] * 5
    with pytest.raises(ValueError, match="NEWS2 needs at least 4 of its vitals"):
        N.news2_score(eps)


def test_news2_without_spo2_scores_the_other_vitals() -> None:
    """Data without pulse oximetry (PhysioNet 2012) score the other vitals; SpO2 adds nothing."""
    eps = _cohort(50)
    keep = [i for i, v in enumerate(eps.variables) if v != "Oxygen saturation"]
    full = N.news2_hourly(eps)
    spo2 = eps.variables.index("Oxygen saturation")
    filled = N.forward_fill(eps.values[:, :, [spo2]], eps.mask[:, :, [spo2]])[:, :, 0]
    without = Eps(values=eps.values[:, :, keep], mask=eps.mask[:, :, keep], y=eps.y,
                  variables=[eps.variables[i] for i in keep])
    assert N.news2_vitals(without.variables) == [v for v in N.NEWS2_TABLE if v != "Oxygen saturation"]
    np.testing.assert_array_equal(N.news2_hourly(without), full - N.news2_component("Oxygen saturation", filled))


def test_missingness_baseline_sees_only_observation_counts() -> None:
    train, test = _cohort(500, 0), _cohort(300, 1)
    model = B.MissingnessBaseline().fit(train)
    p = model.predict_proba(test)
    shuffled = Eps(values=np.where(test.mask, 0.0, np.nan), mask=test.mask, y=test.y, variables=test.variables)
    np.testing.assert_array_equal(model.predict_proba(shuffled), p)  # values never enter


def test_run_baselines_fits_on_train_and_validation_only() -> None:
    train, val, test = _cohort(500, 0), _cohort(300, 1), _cohort(300, 2)
    runs = run_baselines(train, val, test, n_boot=20, seed=0)
    assert set(runs) == {"logistic_regression", "gbt", "missingness", "news2"}
    flipped = Eps(values=test.values, mask=test.mask, y=1 - test.y, variables=test.variables)
    again = run_baselines(train, val, flipped, n_boot=20, seed=0)
    for name in runs:
        # test labels change the test metrics but none of the fitted choices
        assert again[name].evaluated.fitted.choice == runs[name].evaluated.fitted.choice
        np.testing.assert_array_equal(again[name].p_test, runs[name].p_test)
        auc, auc_flipped = (r[name].evaluated.metrics.auroc.value for r in (runs, again))
        assert auc_flipped == pytest.approx(1 - auc)
        assert runs[name].evaluated.metrics.resampling_unit == "subject"
    assert runs["news2"].notes["window_hours"] in (12, 24, 48)
