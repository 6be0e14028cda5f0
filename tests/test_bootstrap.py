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
