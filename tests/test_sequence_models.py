"""Chapter 10's sequence models: time-aware inputs, the attention model, the training loop, the search
(never given a test stay) and the study helpers, on small in-memory cohorts."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from ehrlib.evaluation.crossfit import CrossFit
from ehrlib.icu.episodes import EpisodeSet
from ehrlib.mortality.attention import AttentionConfig, attention_layers, build_attention
from ehrlib.mortality.protocols import ProtocolRun
from ehrlib.mortality.sequence_models import SequenceSpec, fit_sequence_model, network_inputs, sequence_fitter
from ehrlib.mortality.sequence_search import (LSTM_STAGES, SearchConfig, apply_changes, search, stages_for)
from ehrlib.mortality.sequence_study import seed_mean_difference, sequence_fitters
from ehrlib.mortality.sequence_training import TrainSettings, train_network
from ehrlib.mortality.time_inputs import TimeInputs, TimePreprocessor, hours_since_observed, lstm_tensor

keras = pytest.importorskip("keras")
NAMES = ["Heart Rate", "Systolic blood pressure", "Respiratory rate"]
FAST = TrainSettings(loss="bce", max_epochs=2, patience=1, batch_size=16, jit_compile=False)


def cohort(n: int, seed: int, offset: int = 0, steps: int = 12) -> EpisodeSet:
    """Vitals drift with a latent severity; labels drawn from it; descriptors age and sex."""
    rng = np.random.default_rng(seed)
    sev = rng.normal(size=n)
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-(2 * sev - 1)))).astype(np.int8)
    values = np.array([85.0, 120.0, 18.0]) + np.array([8.0, -10.0, 3.0]) * sev[:, None, None] \
        + rng.normal(0, 3, (n, steps, 3))
    mask = rng.uniform(size=values.shape) < 0.4
    static = np.column_stack([rng.uniform(20, 90, n), rng.integers(0, 2, n).astype(float)])
    return EpisodeSet(values=np.where(mask, values, np.nan), mask=mask, y=y,
                      stays=np.array([f"{offset + i}_episode1" for i in range(n)]), variables=NAMES,
                      true_risk=None, split="a", static=static, static_names=["Age", "Male"])


# ---------------------------------------------------------------- inputs

def test_hours_since_observed_is_ches_delta():
    mask = np.array([[1, 0, 0, 1, 0]], dtype=bool)[:, :, None]
    np.testing.assert_array_equal(hours_since_observed(mask)[0, :, 0], [0, 1, 2, 3, 1])
    never = np.zeros((1, 4, 1), dtype=bool)
    np.testing.assert_array_equal(hours_since_observed(never)[0, :, 0], [0, 1, 2, 3])


def test_preprocessor_fits_on_observed_training_values_and_round_trips(tmp_path):
    train, other = cohort(60, 0), cohort(20, 1, offset=100)
    prep = TimePreprocessor.fit(train)
    hr = train.values[:, :, 0][train.mask[:, :, 0]]
    assert prep.state.means[0] == pytest.approx(hr.mean()) and prep.state.stds[0] == pytest.approx(hr.std())
    arr = prep.transform(other)
    assert {k: v.shape for k, v in arr.items()} == {"values": (20, 12, 3), "mask": (20, 12, 3),
                                                     "delta": (20, 12, 3), "static": (20, 2)}
    assert all(np.isfinite(v).all() and v.dtype == np.float32 for v in arr.values())
    first = np.argmax(other.mask[:, :, 0], axis=1)  # before a first observation: the training mean (0)
    row = int(np.flatnonzero(first > 0)[0])
    assert np.all(arr["values"][row, :first[row], 0] == 0.0)
    prep.save(tmp_path / "time.json")
    again = TimePreprocessor.load(tmp_path / "time.json").transform(other)
    assert all(np.array_equal(arr[k], again[k]) for k in arr)
    assert lstm_tensor(arr, TimeInputs()).shape == (20, 12, 3 * 3 + 2)
    assert lstm_tensor(arr, TimeInputs(mask=False, delta=False, descriptors=False)).shape == (20, 12, 3)


def test_preprocessor_bad_inputs_give_one_clear_line(tmp_path):
    train = cohort(10, 0)
    train.values[2, 3, 1], train.mask[2, 3, 1] = np.nan, True
    with pytest.raises(ValueError, match="episode 2, step 3, variable 1"):
        TimePreprocessor.fit(train)
    prep = TimePreprocessor.fit(cohort(10, 0))
    with pytest.raises(ValueError, match="fitted on"):
        prep.transform(cohort(10, 0, steps=6))
    (tmp_path / "bad.json").write_text('{"variables": ["a"], "n_steps": 4, "means": [0.0], "stds": [-1.0], "clip": 10.0}')
    with pytest.raises(ValueError, match="bad.json"):
        TimePreprocessor.load(tmp_path / "bad.json")


# ---------------------------------------------------------------- attention model

def test_attention_pooling_respects_the_mask():
    _, pooling = attention_layers()
    layer = pooling(seed=0)
    x = np.random.default_rng(0).normal(size=(2, 4, 3)).astype(np.float32)
    mask = np.array([[True, False, False, False], [False, False, False, False]])
    out = np.asarray(layer(x, mask=mask))
    np.testing.assert_allclose(out[0], x[0, 0], rtol=1e-5)  # one present step: all weight on it
    scores = x[1] @ np.asarray(layer.query)[:, 0]  # no present step: softmax over every step
    w = np.exp(scores - scores.max()) / np.exp(scores - scores.max()).sum()
    np.testing.assert_allclose(out[1], (w[:, None] * x[1]).sum(axis=0), rtol=1e-5)


def test_attention_shapes_determinism_and_save_load(tmp_path):
    arr = TimePreprocessor.fit(cohort(30, 0)).transform(cohort(8, 1))
    cfg = AttentionConfig(d_model=8, heads=2, ff_units=8, dense=(4,))
    model = build_attention(12, 3, 2, cfg, seed=4)
    assert tuple(model(arr).shape) == (8, 1)
    same = build_attention(12, 3, 2, cfg, seed=4)
    assert all(np.array_equal(a, b) for a, b in zip(model.get_weights(), same.get_weights()))
    model.save(tmp_path / "attention.keras")
    again = keras.saving.load_model(tmp_path / "attention.keras", compile=False)
    np.testing.assert_allclose(model(arr).numpy(), again(arr).numpy(), rtol=1e-5)
    with pytest.raises(ValueError, match="divisible"):
        AttentionConfig(d_model=9, heads=2)


# ---------------------------------------------------------------- training loop and fitters

@pytest.mark.parametrize("kind", ["lstm", "grud", "attention"])
def test_fitters_train_deterministically_for_a_seed(kind):
    train, val, test = cohort(48, 0), cohort(16, 1, offset=100), cohort(10, 2, offset=200)
    spec = SequenceSpec(kind=kind, train=FAST, attention=AttentionConfig(d_model=8, ff_units=8))
    p1 = sequence_fitter(spec, seed=3)(train, val)(test)
    p2 = sequence_fitter(spec, seed=3)(train, val)(test)
    assert p1.shape == (10,) and np.all((p1 > 0) & (p1 < 1))
    np.testing.assert_array_equal(p1, p2)


def test_training_loop_restores_the_best_epoch_and_rejects_bad_inputs():
    train, val = cohort(48, 0), cohort(16, 1, offset=100)
    prep = TimePreprocessor.fit(train)
    spec = SequenceSpec(kind="grud")
    from ehrlib.mortality.sequence_models import build_network
    model = build_network(spec, prep, 0)
    x_val = network_inputs(spec, prep.transform(val))
    result = train_network(model, network_inputs(spec, prep.transform(train)), train.y, x_val, val.y,
                           TrainSettings(max_epochs=4, patience=4, batch_size=16, jit_compile=False))
    assert len(result.val_auroc) == 4 and result.best_val_auroc == max(result.val_auroc)
    from sklearn.metrics import roc_auc_score
    from ehrlib.mortality.sequence_training import predict
    assert roc_auc_score(val.y, predict(model, x_val)) == pytest.approx(result.best_val_auroc)
    bad = dict(x_val, values=np.full_like(x_val["values"], np.nan))
    with pytest.raises(ValueError, match="val: inputs contain NaN"):
        train_network(model, x_val, val.y, bad, val.y, FAST)
    with pytest.raises(ValueError, match="alpha"):
        TrainSettings(alpha=1.5)


# ---------------------------------------------------------------- the search

def spy_factory(seen: set):
    """A fitter factory recording every stay it fits on or predicts, scoring by a spec-dependent rule."""
    def make(spec: SequenceSpec, seed: int):
        def fit(train: EpisodeSet, val: EpisodeSet):
            seen.update(train.stays)
            seen.update(val.stays)
            shift = spec.train.learning_rate * 100 + (spec.train.loss == "bce") + spec.inputs.delta

            def predict(eps: EpisodeSet) -> np.ndarray:
                seen.update(eps.stays)
                hr = np.nanmean(np.where(eps.mask[:, :, 0], eps.values[:, :, 0], np.nan), axis=1)
                return np.nan_to_num(hr) * (1 if shift > 1 else -1)
            return predict
        return fit
    return make


def test_the_search_never_touches_a_test_stay():
    fit_set, test = cohort(80, 0), cohort(40, 1, offset=1000)
    seen: set = set()
    result = search(fit_set, SequenceSpec(kind="lstm", train=FAST), LSTM_STAGES, SearchConfig(seed=0), spy_factory(seen))
    assert seen and seen <= set(fit_set.stays)
    assert not seen & set(test.stays)
    assert set(result.train_stays).isdisjoint(result.val_stays)
    assert set(result.train_stays) | set(result.val_stays) == set(fit_set.stays)
    assert result.chosen.train.loss == "bce"  # the spy ranks well only with cross-entropy
    assert sum(r.kept for r in result.rows) == len(LSTM_STAGES)
    assert len({r.spec for r in result.rows}) < len(result.rows)  # a spec met twice is trained once


def test_the_search_with_two_workers_makes_the_same_choices():
    fit_set = cohort(80, 0)
    base = SequenceSpec(kind="lstm", train=FAST)
    one = search(fit_set, base, LSTM_STAGES, SearchConfig(seed=0), spy_factory(set()))
    two = search(fit_set, base, LSTM_STAGES, SearchConfig(seed=0, workers=2), spy_factory(set()))
    assert one.chosen == two.chosen
    assert [(r.stage, r.label, r.spec, r.val_auroc, r.kept) for r in one.rows] == \
        [(r.stage, r.label, r.spec, r.val_auroc, r.kept) for r in two.rows]
    met_before = [r.spec in [q.spec for q in two.rows[:i]] for i, r in enumerate(two.rows)]
    assert any(met_before) and [r.seconds == 0.0 for r in two.rows] == met_before  # trained once, timed once


def test_predict_traces_once_and_padding_changes_no_prediction():
    train, val = cohort(48, 0), cohort(16, 1, offset=100)
    spec = SequenceSpec(kind="attention", train=FAST, attention=AttentionConfig(d_model=8, ff_units=8))
    prep, result = fit_sequence_model(spec, train, val, seed=0)
    from ehrlib.mortality.sequence_training import predict
    x = network_inputs(spec, prep.transform(cohort(40, 2, offset=300)))
    whole = predict(result.model, x)  # 40 stays padded to one batch of 256, as the 16 validation stays were
    parts = np.concatenate([predict(result.model, {k: v[i:i + 5] for k, v in x.items()}) for i in range(0, 40, 5)])
    np.testing.assert_allclose(whole, parts, rtol=1e-6)
    assert result.model._ehrlib_seq_predict.experimental_get_tracing_count() == 1  # validation, 40 and 5 stays


def test_search_changes_and_sizes():
    spec = apply_changes(SequenceSpec(kind="lstm"), {"train.loss": "bce", "inputs.delta": False, "lstm_dropout": 0.1})
    assert (spec.train.loss, spec.inputs.delta, spec.lstm_dropout) == ("bce", False, 0.1)
    with pytest.raises(ValueError, match="unknown search fields"):
        apply_changes(spec, {"model.units": 3})
    assert stages_for("full") is LSTM_STAGES and len(stages_for("small")[0][1]) == 2
    with pytest.raises(ValueError, match="unknown search size"):
        stages_for("huge")


# ---------------------------------------------------------------- study helpers

def test_sequence_fitters_pair_every_fold_with_the_references():
    make = sequence_fitters({"grud": lambda seed: (lambda tr, va: (lambda e: np.full(len(e), seed / 10)))}, seed=5)
    fold = make(2)
    assert set(fold) == {"logistic_regression", "gbt", "grud"}
    assert fold["grud"](None, None)(cohort(3, 0))[0] == pytest.approx(0.7)


def test_seed_mean_difference_is_zero_for_equal_models_and_positive_for_a_better_one():
    rng = np.random.default_rng(0)
    y = (rng.uniform(size=300) < 0.3).astype(int)
    noise = rng.normal(size=(3, 300))
    good = y + 0.5 * noise
    cf = CrossFit(fold=np.zeros(10, dtype=int), test={"m": good, "same": good.copy(), "ref": y + 2 * noise})
    run = ProtocolRun(result=SimpleNamespace(protocol="challenge"), crossfit=cf, calibrated={}, seconds=0.0)
    same = seed_mean_difference(run, y, "m", "same", n_boot=50)
    assert (same.value, same.ci_low, same.ci_high) == (0.0, 0.0, 0.0)
    better = seed_mean_difference(run, y, "m", "ref", n_boot=50)
    assert better.ci_low > 0 and better.ci_low <= better.value <= better.ci_high


def test_curve_series_orders_by_size_and_tables_name_every_model():
    from ehrlib.evaluation.bootstrap import Interval
    from ehrlib.mortality.sequence_study import CurvePoint, curve_series, spec_table

    pts = [CurvePoint("gru", 200, Interval(0.8, 0.7, 0.9)), CurvePoint("gru", 100, Interval(0.7, 0.6, 0.8)),
           CurvePoint("trees", 100, Interval(0.75, 0.7, 0.8)), CurvePoint("trees", 200, Interval(0.77, 0.7, 0.8))]
    sizes, series = curve_series(pts)
    assert sizes == [100, 200] and [iv.value for iv in series["gru"]] == [0.7, 0.8]
    table = spec_table({"lstm_tuned": SequenceSpec(kind="lstm"), "grud": SequenceSpec(kind="grud"),
                        "attention": SequenceSpec(kind="attention")})
    assert list(table["Model"]) == ["LSTM, trained well", "GRU-D", "Attention over hours"]
    assert table["Architecture"].str.len().min() > 10


def test_curve_trend_reads_the_last_step():
    from ehrlib.evaluation.bootstrap import Interval
    from ehrlib.mortality.sequence_study import CurvePoint, curve_trend

    pts = [CurvePoint(m, n, Interval(v, v - 0.01, v + 0.01))
           for m, n, v in [("A", 100, 0.80), ("A", 200, 0.81), ("B", 100, 0.70), ("B", 200, 0.79)]]
    assert "gains less than" in curve_trend(pts, "A", "B") and "ending 0.020 above them" in curve_trend(pts, "A", "B")
    assert "gains more than" in curve_trend(pts, "B", "A")
    assert "single" in curve_trend(pts[:1] + pts[2:3], "A", "B")


# ---------------------------------------------------------------- the chapter's tables and sentences


def test_report_tables_read_the_data_and_the_inputs():
    from ehrlib.mortality import sequence_report as report

    a = cohort(20, 1)
    table = report.data_table({"set A": a})
    assert table.loc[0, "Stays"] == 20 and table.loc[0, "Mortality"] == f"{a.y.mean():.1%}"
    example = report.inputs_example(a, hours=5, n_vars=2)
    assert list(example["hour"]) == list(range(5)) and example.shape[1] == 1 + 3 * 2
    assert set(example["Heart Rate (mask)"]) <= {0.0, 1.0} and (example["Heart Rate (delta)"] >= 0).all()


def test_goal_sentence_and_curve_facts_turn_with_the_numbers():
    from ehrlib.evaluation.bootstrap import Interval
    from ehrlib.mortality import sequence_report as report
    from ehrlib.mortality.sequence_study import CurvePoint

    assert report.goal_sentence(["GRU-D"]) == "met by GRU-D"
    assert report.goal_sentence([]).startswith("not met by any new model")
    pts = [CurvePoint(m, n, Interval(v, v - 0.01, v + 0.01))
           for m, n, v in [("A", 100, 0.80), ("A", 200, 0.81), ("Boosted trees", 100, 0.70), ("Boosted trees", 200, 0.79)]]
    facts = report.curve_facts(pts, "A")
    assert facts["curve"] == "100 stays: A 0.800, Boosted trees 0.700; 200 stays: A 0.810, Boosted trees 0.790"
    assert "gains less than" in facts["trend"] and facts["halfwidth"] == "0.010"


def test_second_protocol_sentence_says_which_models_run():
    from ehrlib.mortality import sequence_report as report

    assert report.second_protocol_sentence(["lstm_tuned", "grud", "attention"], "grud").startswith("Every model")
    assert "only the best new model on validation, the GRU-D" in report.second_protocol_sentence(["grud"], "grud")
