"""K-fold harness: patient-disjoint, stratified folds; nothing fitted on the held-out fold."""

from __future__ import annotations

import numpy as np
import pytest

from ehrlib.evaluation import kfold as V
from ehrlib.icu.episodes import EpisodeSet
from ehrlib.mortality.pipelines import logistic_fitter

VITALS = ["Heart Rate", "Respiratory rate", "Oxygen saturation", "Systolic blood pressure", "Temperature"]


def _episodes(n_patients: int = 150, seed: int = 0) -> EpisodeSet:
    """1-3 episodes per patient; vitals and label both follow a latent severity."""
    rng = np.random.default_rng(seed)
    per = rng.integers(1, 4, n_patients)
    subject = np.repeat(np.arange(100, 100 + n_patients), per)
    episode = np.concatenate([np.arange(1, k + 1) for k in per])
    n = subject.size
    sev = rng.normal(0, 1, n)
    risk = 1 / (1 + np.exp(-(1.5 * sev - 1.5)))
    y = (rng.uniform(size=n) < risk).astype(np.int8)
    base = np.array([85, 18, 96, 120, 37.0])
    slope = np.array([12, 4, -2, -12, 0.5])
    values = (base + slope * sev[:, None, None] + rng.normal(0, 1, (n, 48, 5)) * np.abs(slope) * 0.3)
    mask = rng.uniform(size=values.shape) < 0.5
    values = np.where(mask, values, np.nan).astype(np.float32)
    stays = np.array([f"{s}_episode{e}_timeseries.csv" for s, e in zip(subject, episode)])
    return EpisodeSet(values=values, mask=mask, y=y, stays=stays, variables=VITALS, true_risk=risk, split="train")


def test_patient_folds_are_disjoint_stratified_and_cover_everything() -> None:
    eps = _episodes(300)
    folds = V.patient_folds(eps.y, eps.subject_ids, 5, seed=0)
    assert len(folds) == 5
    seen = np.concatenate([te for _, te in folds])
    assert np.array_equal(np.sort(seen), np.arange(len(eps)))
    overall = eps.y.mean()
    for tr, te in folds:
        assert not set(eps.subject_ids[tr]) & set(eps.subject_ids[te])
        assert abs(eps.y[te].mean() - overall) < 0.05
    again = V.patient_folds(eps.y, eps.subject_ids, 5, seed=0)
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(folds, again))


def test_inner_split_is_by_patient() -> None:
    eps = _episodes(200)
    tr, va = V.inner_split(eps.y, eps.subject_ids, 5, seed=1)
    assert not set(eps.subject_ids[tr]) & set(eps.subject_ids[va])
    assert 0.1 < va.size / len(eps) < 0.3


def test_fitting_never_sees_the_held_out_fold(monkeypatch) -> None:
    """Leak guard: fitters, calibrator and threshold only ever receive inner-training/validation episodes."""
    eps = _episodes(200)
    seen: list[tuple[str, set[int]]] = []

    def spy_fitter(train, val):
        seen.append(("fit", set(train.subject_ids) | set(val.subject_ids)))
        # the score encodes the patient, so calibrator inputs can be traced back to patients
        return lambda e: e.subject_ids.astype(np.float64)

    calibrated_on: list[set[int]] = []
    threshold_on: list[int] = []
    real_protocol = V.fit_protocol

    def spy_protocol(p_val, y_val, *args, **kwargs):
        calibrated_on.append(set(np.floor(np.asarray(p_val)).astype(int)))
        threshold_on.append(len(y_val))
        return real_protocol(p_val, y_val, *args, **kwargs)

    monkeypatch.setattr(V, "fit_protocol", spy_protocol)
    out = V.run_kfold(eps, {"spy": spy_fitter}, V.KFoldConfig(n_splits=4, seed=3), progress=False, keep_stays=True)
    assert len(out["folds"]) == 4 and len(seen) == 4 and len(calibrated_on) == 4
    for fold, (_, fitted), cal, n_thr in zip(out["folds"], seen, calibrated_on, threshold_on):
        test_subjects = {int(s.partition("_")[0]) for s in fold["stays"]["test"]}
        val_subjects = {int(s.partition("_")[0]) for s in fold["stays"]["inner_val"]}
        assert not fitted & test_subjects
        assert cal == val_subjects and not cal & test_subjects
        assert n_thr == fold["n_inner_val"]
        assert fold["n_inner_train"] + fold["n_inner_val"] + fold["n_test"] == len(eps)


def test_run_kfold_with_logistic_regression_summarises_folds() -> None:
    eps = _episodes(300, seed=1)
    out = V.run_kfold(eps, {"lr": logistic_fitter()}, V.KFoldConfig(n_splits=3, seed=0), progress=False)
    s = out["summary"]["lr"]
    aurocs = [f["lr"]["auroc"] for f in out["folds"]]
    assert s["auroc"]["mean"] == pytest.approx(np.mean(aurocs))
    assert s["auroc"]["sd"] == pytest.approx(np.std(aurocs, ddof=1))
    assert s["auroc"]["mean"] > 0.7
    assert "oracle" in out["summary"] and out["summary"]["oracle"]["auroc"]["mean"] > 0.7
    assert "stays" not in out["folds"][0]
    again = V.run_kfold(eps, {"lr": logistic_fitter()}, V.KFoldConfig(n_splits=3, seed=0), progress=False)
    assert [f["lr"]["auroc"] for f in again["folds"]] == aurocs


def test_too_few_positives_is_an_error() -> None:
    with pytest.raises(ValueError, match="at least 5"):
        V.patient_folds(np.array([0] * 20 + [1] * 3), np.arange(23), 5, 0)


def test_kfold_imports_no_model() -> None:
    """The harness knows only fitters: no LSTM, baseline or TensorFlow import in its source."""
    import inspect

    imports = [line for line in inspect.getsource(V).splitlines() if line.lstrip().startswith(("import ", "from "))]
    assert imports and not [line for line in imports if any(w in line for w in ("mortality", "keras", "tensorflow"))]
