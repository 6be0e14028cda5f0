"""Tests of ehrlib.preprocessing: forward fill, training-only fitting, JSON state, real masking."""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from ehrlib.mortality.hourly import forward_fill  # noqa: E402
from ehrlib.mortality.preprocessing import MortalityPreprocessor, PreprocessConfig  # noqa: E402
from ehrlib.icu.episodes import EpisodeSet  # noqa: E402

VARS = ["Heart Rate", "Systolic blood pressure", "Glucose"]


def make_set(n: int, seed: int, p_obs: float = 0.3, shift: float = 0.0, split: str = "train") -> EpisodeSet:
    """A small seeded EpisodeSet with realistic-looking scales and ~10 % fully unobserved steps."""
    rng = np.random.default_rng(seed)
    centre = np.array([85.0, 120.0, 130.0]) + shift
    values = (centre + rng.normal(size=(n, 48, 3)) * [15.0, 20.0, 40.0]).astype(np.float32)
    mask = rng.random((n, 48, 3)) < p_obs
    mask[rng.random((n, 48)) < 0.1] = False
    values[~mask] = np.nan
    return EpisodeSet(values=values, mask=mask, y=(rng.random(n) < 0.2).astype(np.int8),
                      stays=np.array([f"{1000 + i}_episode1_timeseries.csv" for i in range(n)]),
                      variables=VARS, true_risk=None, split=split)


def episode(values: np.ndarray, mask: np.ndarray) -> EpisodeSet:
    """Wrap (n, 48, 3) arrays as an EpisodeSet."""
    values = np.where(mask, values, np.nan).astype(np.float32)
    n = values.shape[0]
    return EpisodeSet(values=values, mask=mask, y=np.zeros(n, np.int8),
                      stays=np.array([f"{i}_episode1_timeseries.csv" for i in range(n)]),
                      variables=VARS, true_risk=None, split="val")


# ---------------------------------------------------------------------------------------------- (d)
def test_forward_fill_hand_example():
    v = np.array([[[np.nan, 1.0], [2.0, np.nan], [np.nan, np.nan], [5.0, 7.0], [np.nan, np.nan]]], np.float32)
    m = ~np.isnan(v)
    got = forward_fill(v, m)
    want = np.array([[[np.nan, 1.0], [2.0, 1.0], [2.0, 1.0], [5.0, 7.0], [5.0, 7.0]]], np.float32)
    np.testing.assert_array_equal(got, want)
    # The mask, not NaN, decides: an unobserved cell holding a stale number is still filled.
    v2 = np.where(m, v, 99.0).astype(np.float32)
    np.testing.assert_array_equal(forward_fill(v2, m)[0, 1:], want[0, 1:])


def test_transform_hand_example_fill_then_medians_then_scale():
    train = make_set(200, seed=0)
    prep = MortalityPreprocessor(PreprocessConfig(add_mask_features=True)).fit(train)
    values = np.full((1, 48, 3), np.nan, np.float32)
    mask = np.zeros((1, 48, 3), bool)
    values[0, 2, 0], mask[0, 2, 0] = 100.0, True  # HR at hour 2 only
    values[0, 5, 2], mask[0, 5, 2] = 200.0, True  # glucose at hour 5 only
    x = prep.transform(episode(values, mask))[0]
    z = lambda raw, j: (raw - prep.means[j]) / prep.stds[j]  # noqa: E731
    assert x.shape == (48, 6)
    # Hours 0-1 and 3-4 and 6+ (nothing observed) are masked on every feature.
    for t in [0, 1, 3, 4] + list(range(6, 48)):
        assert np.all(x[t] == prep.mask_value), t
    # Hour 2: HR observed; SBP and glucose not yet observed -> training medians.
    np.testing.assert_allclose(x[2, :3], [z(100.0, 0), z(prep.medians[1], 1), z(prep.medians[2], 2)], rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(x[2, 3:], [1, 0, 0])
    # Hour 5: HR carried forward from hour 2; glucose observed.
    np.testing.assert_allclose(x[5, :3], [z(100.0, 0), z(prep.medians[1], 1), z(200.0, 2)], rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(x[5, 3:], [0, 0, 1])


def test_state_values_and_standardised_training_inputs():
    train = make_set(300, seed=1)
    prep = MortalityPreprocessor().fit(train)
    obs = np.where(train.mask, train.values, np.nan).reshape(-1, 3)
    np.testing.assert_allclose(prep.medians, np.nanmedian(obs.astype(np.float64), axis=0))
    x = prep.transform(train)
    live = train.mask.any(axis=2)
    assert x.dtype == np.float32 and x.shape == (300, 48, 6)
    np.testing.assert_allclose(x[live][:, :3].mean(axis=0), 0.0, atol=1e-4)
    np.testing.assert_allclose(x[live][:, :3].std(axis=0), 1.0, atol=1e-4)
    # Masked exactly where nothing was observed, and the mask value never appears elsewhere.
    assert np.array_equal((x == prep.mask_value).all(axis=2), ~live)
    assert not (x[live] == prep.mask_value).any()
    assert np.isfinite(x).all()


def test_clip_keeps_mask_value_out_of_reach_and_config_is_checked():
    train = make_set(100, seed=2)
    prep = MortalityPreprocessor(PreprocessConfig(add_mask_features=False)).fit(train)
    wild = make_set(5, seed=3)
    wild.values[wild.mask] = 1e9  # absurd artefact values
    x = prep.transform(wild)
    live = wild.mask.any(axis=2)
    assert x[live].max() == prep.config.clip
    assert not (x[live] == prep.mask_value).all(axis=1).any()
    with pytest.raises(ValueError, match="outside"):
        PreprocessConfig(mask_value=-5.0, clip=10.0)


# ---------------------------------------------------------------------------------------------- (b)
def test_no_leakage_state_depends_only_on_training_data():
    train, val = make_set(150, seed=4), make_set(80, seed=5, split="val")
    prep = MortalityPreprocessor().fit(train)
    before = prep.to_json()
    prep.transform(val)
    assert prep.to_json() == before  # transforming never refits
    val_other = make_set(80, seed=6, shift=500.0, split="val")  # wildly different val data
    prep2 = MortalityPreprocessor().fit(train)
    prep2.transform(val_other)
    assert prep2.to_json() == before
    # ... while different *training* data does change the state (the check can fail).
    assert MortalityPreprocessor().fit(make_set(150, seed=7, shift=5.0)).to_json() != before
    # A val episode is transformed the same whatever other episodes it comes with.
    both = EpisodeSet.concat([val, val_other])
    np.testing.assert_array_equal(prep.transform(both)[:80], prep.transform(val))


# ---------------------------------------------------------------------------------------------- (c)
def test_json_round_trip_gives_identical_transforms(tmp_path):
    train, test = make_set(120, seed=8), make_set(40, seed=9, split="test")
    for cfg in (PreprocessConfig(), PreprocessConfig(add_mask_features=False, mask_value=-50.0, clip=8.0)):
        prep = MortalityPreprocessor(cfg).fit(train)
        path = prep.save(tmp_path / "prep.json")
        loaded = MortalityPreprocessor.load(path)
        assert loaded.config == cfg and loaded.mask_value == prep.mask_value
        np.testing.assert_array_equal(loaded.transform(test), prep.transform(test))
        again = MortalityPreprocessor.from_json(prep.to_json())
        np.testing.assert_array_equal(again.transform(test), prep.transform(test))


def test_errors_are_clear(tmp_path):
    prep = MortalityPreprocessor()
    with pytest.raises(RuntimeError, match="not fitted"):
        prep.transform(make_set(3, seed=0))
    train = make_set(20, seed=0)
    prep.fit(train)
    other = make_set(3, seed=1)
    other.variables = ["a", "b", "c"]
    with pytest.raises(ValueError, match="variables differ"):
        prep.transform(other)
    bad = make_set(3, seed=1)
    i, t, f = np.argwhere(bad.mask)[0]
    bad.values[i, t, f] = np.nan
    with pytest.raises(ValueError, match=f"episode {i}, step {t}, variable {f}"):
        prep.transform(bad)
    (tmp_path / "p.json").write_text('{"kind": "something else"}')
    with pytest.raises(ValueError, match="p.json"):
        MortalityPreprocessor.load(tmp_path / "p.json")


# ---------------------------------------------------------------------------------------------- (a)
def _replication_transform(train: EpisodeSet, episodes: EpisodeSet) -> np.ndarray:
    """The public replication's approach: missing -> 0, then standardise (no step is all-zero after)."""
    def fill0(es):
        return np.where(es.mask, es.values, 0.0).astype(np.float32)
    tr = fill0(train).reshape(-1, 3)
    mean, std = tr.mean(axis=0), tr.std(axis=0)
    return (fill0(episodes) - mean) / std


def _spread_pair(seed: int) -> tuple[EpisodeSet, EpisodeSet]:
    """Two views of the same observations: packed into hours 0..k-1, and spread with empty hours
    inserted before, between and after them (the same rows, in the same order)."""
    rng = np.random.default_rng(seed)
    k = 12
    rows = (np.array([85.0, 120.0, 130.0]) + rng.normal(size=(k, 3)) * [15, 20, 40]).astype(np.float32)
    obs = rng.random((k, 3)) < 0.6
    obs[:, 0] = True  # each row observes something
    packed_v, packed_m = np.zeros((1, 48, 3), np.float32), np.zeros((1, 48, 3), bool)
    packed_v[0, :k], packed_m[0, :k] = rows, obs
    hours = np.sort(rng.choice(np.arange(3, 48), size=k, replace=False))  # leading gap of >= 3 h
    spread_v, spread_m = np.zeros((1, 48, 3), np.float32), np.zeros((1, 48, 3), bool)
    spread_v[0, hours], spread_m[0, hours] = rows, obs
    return episode(packed_v, packed_m), episode(spread_v, spread_m)


def test_masked_steps_are_really_skipped_by_the_lstm():
    """Inserting fully unobserved hours anywhere does not change the prediction: the LSTM skips them.

    The same check on the replication's fill-0-then-standardise inputs with Masking(0.0) fails, since
    no step is all-zero after standardising: its Masking layer masked nothing.
    """
    from ehrlib.mortality.lstm import LstmConfig, build_lstm, predict_proba

    train = make_set(200, seed=10)
    prep = MortalityPreprocessor().fit(train)
    pairs = [_spread_pair(s) for s in range(4)]
    packed = EpisodeSet.concat([p for p, _ in pairs])
    spread = EpisodeSet.concat([s for _, s in pairs])
    x_packed, x_spread = prep.transform(packed), prep.transform(spread)
    assert not np.array_equal(x_packed, x_spread)
    model = build_lstm(48, prep.n_features, LstmConfig(), mask_value=prep.mask_value, seed=3)
    p_packed, p_spread = predict_proba(model, x_packed), predict_proba(model, x_spread)
    np.testing.assert_allclose(p_spread, p_packed, rtol=0, atol=1e-6)
    # Not trivially constant: different episodes get different predictions.
    assert np.ptp(p_packed) > 1e-3
    # The Masking layer marks exactly the fully unobserved steps.
    keras_mask = np.asarray(model.get_layer("masking").compute_mask(x_spread))
    np.testing.assert_array_equal(keras_mask, spread.mask.any(axis=2))

    # The replication's approach: the same test fails.
    rep_model = build_lstm(48, 3, LstmConfig(), mask_value=0.0, seed=3)
    r_packed = predict_proba(rep_model, _replication_transform(train, packed))
    r_spread = predict_proba(rep_model, _replication_transform(train, spread))
    assert np.max(np.abs(r_packed - r_spread)) > 1e-3
    assert np.asarray(rep_model.get_layer("masking").compute_mask(_replication_transform(train, spread))).all()


def test_episode_figure_shades_masked_steps():
    from ehrlib.mortality.plots import episode_figure

    train = make_set(30, seed=11)
    prep = MortalityPreprocessor().fit(train)
    x = prep.transform(train.take([0]))[0]
    fig = episode_figure(train.values[0], train.mask[0], x, train.variables, prep.mask_value, show=VARS[:2])
    assert len(fig.data) == 4
    assert len(fig.layout.shapes) == int((~train.mask[0].any(axis=1)).sum())
    np.testing.assert_array_equal(fig.data[0].x, np.flatnonzero(train.mask[0, :, 0]))
