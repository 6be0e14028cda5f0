"""The grouped bootstrap against scikit-learn on explicitly expanded resamples."""

import numpy as np
import pytest
from sklearn import metrics as skm

from ehrlib.evaluation import bootstrap as BS


def _data(n=300, n_groups=60, seed=1):
    rng = np.random.default_rng(seed)
    groups = rng.integers(0, n_groups, n)
    y = (rng.random(n) < 0.3).astype(int)
    p = np.round(rng.random(n) * 0.6 + 0.3 * y, 2)  # rounded: many ties
    return y, p, groups


def _expanded(y, p, w):
    reps = np.repeat(np.arange(y.size), w.astype(int))
    return y[reps], p[reps]


def test_weights_resample_whole_groups():
    y, p, groups = _data()
    codes = BS.group_codes(groups, y.size)
    w = next(BS.weight_chunks(codes, 50, seed=3))
    assert w.shape == (50, y.size)
    for row in w:  # every member of a group carries the group's draw count
        for g in np.unique(codes):
            assert np.unique(row[codes == g]).size == 1
        assert sum(row[codes == g][0] for g in np.unique(codes)) == codes.max() + 1


@pytest.mark.parametrize("threshold", [0.4, 0.55])
def test_replicates_match_sklearn_on_expanded_resamples(threshold):
    y, p, groups = _data()
    codes = BS.group_codes(groups, y.size)
    w = next(BS.weight_chunks(codes, 20, seed=7))
    reps = BS.replicate_metrics(y, p, threshold=threshold, groups=groups, n_boot=20, seed=7)
    for b in range(20):
        yb, pb = _expanded(y, p, w[b])
        pred = pb >= threshold
        assert reps["auroc"][b] == pytest.approx(skm.roc_auc_score(yb, pb))
        assert reps["auprc"][b] == pytest.approx(skm.average_precision_score(yb, pb))
        assert reps["recall"][b] == pytest.approx(skm.recall_score(yb, pred))
        assert reps["precision"][b] == pytest.approx(skm.precision_score(yb, pred, zero_division=0))
        assert reps["f1"][b] == pytest.approx(skm.f1_score(yb, pred))
        assert reps["accuracy"][b] == pytest.approx(skm.accuracy_score(yb, pred))
        tn, fp, fn, tp = skm.confusion_matrix(yb, pred).ravel()
        assert reps["specificity"][b] == pytest.approx(tn / (tn + fp))


def test_point_metrics_match_sklearn():
    y, p, _ = _data()
    m = BS.point_metrics(y, p, threshold=0.5)
    assert m["auroc"] == pytest.approx(skm.roc_auc_score(y, p))
    assert m["auprc"] == pytest.approx(skm.average_precision_score(y, p))
    assert m["f1"] == pytest.approx(skm.f1_score(y, p >= 0.5))


def test_grouped_intervals_are_wider_when_groups_are_correlated():
    rng = np.random.default_rng(0)
    n_groups, size = 100, 10
    groups = np.repeat(np.arange(n_groups), size)
    y = np.repeat(rng.random(n_groups) < 0.3, size).astype(int)  # the label is a property of the group
    p = np.repeat(rng.random(n_groups), size) * 0.5 + 0.3 * y + rng.normal(0, 0.02, n_groups * size)
    naive = BS.grouped_bootstrap(y, p, n_boot=400, seed=0)["auroc"]
    grouped = BS.grouped_bootstrap(y, p, groups=groups, n_boot=400, seed=0)["auroc"]
    assert naive.value == grouped.value
    assert grouped.ci_high - grouped.ci_low > 2 * (naive.ci_high - naive.ci_low)


def test_seeded_and_paired():
    y, p, groups = _data()
    a = BS.grouped_bootstrap(y, p, groups=groups, threshold=0.5, n_boot=100, seed=5)
    b = BS.grouped_bootstrap(y, p, groups=groups, threshold=0.5, n_boot=100, seed=5)
    assert a == b
    same = BS.grouped_paired_bootstrap(y, p, p, groups=groups, n_boot=100)
    assert same["auroc"]["value"] == 0 and same["auroc"]["ci_low"] == 0 == same["auroc"]["ci_high"]
    better = BS.grouped_paired_bootstrap(y, y * 0.5 + p, p, groups=groups, n_boot=200)
    assert better["auroc"]["value"] > 0 and better["auroc"]["p_value"] < 0.05


def test_groups_shape_checked():
    with pytest.raises(ValueError, match="groups has shape"):
        BS.grouped_bootstrap(np.array([0, 1]), np.array([0.1, 0.9]), groups=np.array([1, 2, 3]))


def test_calibration_replicates_match_expanded_resamples_and_pair_with_ranking():
    from ehrlib.evaluation.metrics import expected_calibration_error

    y, p, groups = _data()
    reps = BS.replicate_calibration(y, p, groups=groups, n_boot=8, seed=4)
    w = next(BS.weight_chunks(BS.group_codes(groups, y.size), 8, seed=4))
    ranking = BS.replicate_metrics(y, p, groups=groups, n_boot=8, seed=4)
    for b in range(8):
        ye, pe = _expanded(y, p, w[b])
        assert reps["ece"][b] == pytest.approx(expected_calibration_error(ye, pe), abs=1e-12)
        assert reps["brier"][b] == pytest.approx(skm.brier_score_loss(ye, pe), abs=1e-12)
        assert ranking["auroc"][b] == pytest.approx(skm.roc_auc_score(ye, pe), abs=1e-12)  # same resamples


def test_ece_interval_covers_the_point_and_the_true_risk_has_a_noise_floor():
    rng = np.random.default_rng(0)
    risk = rng.uniform(0.02, 0.6, 3000)
    y = (rng.random(3000) < risk).astype(int)
    iv = BS.calibration_intervals(y, risk, n_boot=300, seed=0)["ece"]
    assert iv.ci_low <= iv.value <= iv.ci_high
    assert 0.003 < iv.value < 0.04  # even the true risk has a positive ECE at this n
    biased = BS.calibration_intervals(y, np.clip(risk + 0.1, 0, 1), n_boot=300, seed=0)["ece"]
    assert biased.ci_low > iv.ci_high


def test_subject_bootstrap_is_wider_than_episode_bootstrap_for_repeated_subjects():
    rng = np.random.default_rng(1)
    n_subjects = 400
    risk = rng.uniform(0.05, 0.6, n_subjects)
    y_s = (rng.random(n_subjects) < risk).astype(int)
    p_s = np.clip(risk + rng.normal(0, 0.1, n_subjects), 0, 1)
    copies = 4  # each subject's episodes share outcome and score: only 400 independent units
    y, p, groups = np.repeat(y_s, copies), np.repeat(p_s, copies), np.repeat(np.arange(n_subjects), copies)
    by_subject = BS.grouped_bootstrap(y, p, groups=groups, n_boot=300, seed=0)["auroc"]
    by_episode = BS.grouped_bootstrap(y, p, groups=None, n_boot=300, seed=0)["auroc"]
    width = lambda iv: iv.ci_high - iv.ci_low  # noqa: E731
    assert width(by_subject) > 1.5 * width(by_episode)
    assert by_subject.value == by_episode.value


def test_interval_is_a_validated_record(tmp_path):
    from ehrlib.records import RecordError

    iv = BS.Interval(0.8, 0.7, 0.9)
    iv.save(tmp_path / "iv.json")
    assert BS.Interval.load(tmp_path / "iv.json") == iv and iv.excludes(0) and not iv.excludes(0.85)
    (tmp_path / "bad.json").write_text('{"value": 0.8, "ci_low": 0.9, "ci_high": 0.7}')
    with pytest.raises(RecordError, match="ci_low"):
        BS.Interval.load(tmp_path / "bad.json")


def test_paired_bootstrap_with_the_references_replicates_given_is_the_same() -> None:
    from ehrlib.evaluation.bootstrap import grouped_paired_bootstrap, replicate_metrics

    rng = np.random.default_rng(4)
    y = rng.integers(0, 2, 300)
    a, b = rng.uniform(size=300) + y * 0.3, rng.uniform(size=300) + y * 0.2
    groups = np.arange(300) // 3
    plain = grouped_paired_bootstrap(y, a, b, groups=groups, n_boot=100, seed=7)
    reps = replicate_metrics(y, b, groups=groups, n_boot=100, seed=7)
    assert grouped_paired_bootstrap(y, a, b, groups=groups, n_boot=100, seed=7, reps_b=reps) == plain


def test_remembered_weights_are_the_drawn_ones_and_read_only(monkeypatch) -> None:
    codes = BS.group_codes(np.repeat(np.arange(30), 2), 60)
    remembered = np.concatenate(list(BS.weight_chunks(codes, 40, seed=9, max_cells=600)))
    again = np.concatenate(list(BS.weight_chunks(codes, 40, seed=9, max_cells=600)))
    monkeypatch.setattr(BS, "MEMO_CELLS", 0)  # drawn afresh, never remembered
    drawn = np.concatenate(list(BS.weight_chunks(codes, 40, seed=9, max_cells=600)))
    np.testing.assert_array_equal(remembered, drawn)
    np.testing.assert_array_equal(again, drawn)
    assert not np.array_equal(drawn, np.concatenate(list(BS.weight_chunks(codes, 40, seed=10, max_cells=600))))
    chunk = next(BS.weight_chunks(codes, 40, seed=9, max_cells=600))
    with pytest.raises(ValueError, match="read-only"):
        chunk[0, 0] = 5.0
