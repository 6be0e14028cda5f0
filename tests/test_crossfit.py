"""Cross-fitting: every stay predicted out of fold, never by a model fitted or stopped on it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ehrlib.evaluation.crossfit import CrossFitConfig, cross_fit


@dataclass
class Stays:
    """A minimal dataset: labels, one subject per two stays, and a feature."""

    y: np.ndarray
    x: np.ndarray
    ids: np.ndarray

    @property
    def subject_ids(self) -> np.ndarray:
        return self.ids // 2

    def take(self, idx: np.ndarray) -> "Stays":
        return Stays(self.y[idx], self.x[idx], self.ids[idx])

    def __len__(self) -> int:
        return len(self.y)


def _data(n: int, offset: int = 0, seed: int = 0) -> Stays:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-2 * x))).astype(int)
    return Stays(y, x, np.arange(offset, offset + n))


def test_cross_fit_never_predicts_a_stay_it_saw() -> None:
    train, test = _data(400), _data(100, offset=10_000, seed=1)
    seen: list[tuple[int, set[int], set[int]]] = []

    def make(k: int):
        def fit(tr: Stays, va: Stays):
            fitted = set(tr.ids.tolist()) | set(va.ids.tolist())
            seen.append((k, fitted, set(tr.subject_ids.tolist()) & set(va.subject_ids.tolist())))
            return lambda s: s.x + k * 1e-3
        return {"m": fit}

    cf = cross_fit(train, make, test, CrossFitConfig(n_splits=4, inner_splits=5, seed=0))
    assert np.isfinite(cf.oof["m"]).all() and cf.test["m"].shape == (4, 100)
    for k, fitted, shared in seen:
        held = set(train.ids[cf.fold == k].tolist())
        assert not fitted & held and not shared  # held-out fold unseen; inner split by subject
        np.testing.assert_allclose(cf.oof["m"][cf.fold == k], train.x[cf.fold == k] + k * 1e-3)
    subjects = train.subject_ids
    assert all(len(set(cf.fold[subjects == s].tolist())) == 1 for s in np.unique(subjects))
    assert [len(i) for i in cf.inner_idx] == [len(v) for v in cf.inner_val["m"]]


def test_cross_fit_is_deterministic() -> None:
    train = _data(300)
    make = lambda k: {"m": lambda tr, va: (lambda s: s.x * len(tr))}  # noqa: E731
    a = cross_fit(train, make, None, CrossFitConfig(n_splits=3, seed=5))
    b = cross_fit(train, make, None, CrossFitConfig(n_splits=3, seed=5))
    np.testing.assert_array_equal(a.oof["m"], b.oof["m"])
    np.testing.assert_array_equal(a.fold, b.fold)


def test_cross_fit_with_two_workers_gives_the_same_predictions() -> None:
    train, test = _data(300), _data(60, offset=10_000, seed=1)

    def make(k: int):
        return {"slope": lambda tr, va: (lambda s: s.x * len(tr) + k),
                "mean": lambda tr, va: (lambda s: np.full(len(s), tr.y.mean() + va.y.mean()))}

    one = cross_fit(train, make, test, CrossFitConfig(n_splits=3, seed=2))
    two = cross_fit(train, make, test, CrossFitConfig(n_splits=3, seed=2, workers=2))
    for name in ("slope", "mean"):
        np.testing.assert_array_equal(one.oof[name], two.oof[name])
        np.testing.assert_array_equal(one.test[name], two.test[name])
        for a, b in zip(one.inner_val[name], two.inner_val[name]):
            np.testing.assert_array_equal(a, b)
    assert len(two.seconds["slope"]) == 3 and list(two.oof) == ["slope", "mean"]
