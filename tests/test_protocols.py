"""The real-data study's protocols on small in-memory cohorts with descriptors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ehrlib.icu.episodes import EpisodeSet
from ehrlib.mortality import protocols as R
from ehrlib.mortality.pipelines import logistic_fitter
from ehrlib.mortality.preprocessing import MortalityPreprocessor
from ehrlib.mortality.protocols import NO_DESCRIPTORS
from ehrlib.mortality.real_report import ablation_table, best_on_validation, model_table, runs_table

NAMES = ["Heart Rate", "Systolic blood pressure", "Respiratory rate", "Temperature"]


def cohort(n: int, seed: int, offset: int = 0, split: str = "a") -> EpisodeSet:
    """Vitals drift with a latent severity; age adds risk; labels drawn from the latent risk."""
    rng = np.random.default_rng(seed)
    sev, age = rng.normal(size=n), rng.uniform(20, 90, n)
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-(sev + (age - 60) / 15 - 1.5)))).astype(np.int8)
    base = np.array([85.0, 120.0, 18.0, 37.0])
    values = base + np.array([8.0, -10.0, 3.0, 0.3]) * sev[:, None, None] + rng.normal(0, 3, (n, 48, 4))
    mask = rng.uniform(size=values.shape) < 0.5
    static = np.column_stack([age, rng.integers(0, 2, n).astype(float)])
    static[rng.uniform(size=n) < 0.05, 0] = np.nan
    return EpisodeSet(values=np.where(mask, values, np.nan), mask=mask, y=y,
                      stays=np.array([f"{offset + i}_episode1" for i in range(n)]), variables=NAMES,
                      true_risk=None, split=split, static=static, static_names=["Age", "Male"])


def score_fitter(k: int):
    """A cheap stand-in model: mean heart rate plus a tenth of the age (fold-dependent offset)."""
    def predict(eps: EpisodeSet) -> np.ndarray:
        age = 0.0 if eps.static is None else np.nan_to_num(eps.static[:, 0], nan=60.0) / 10
        return np.nanmean(np.where(eps.mask[:, :, 0], eps.values[:, :, 0], np.nan), axis=1) + age + k
    return lambda train, val: predict


def make(k: int) -> dict:
    fit = {"logistic_regression": logistic_fitter(), "gbt": score_fitter(k)}
    fit["logistic_regression" + NO_DESCRIPTORS] = R.without_descriptors(logistic_fitter())
    return fit


CONFIG = R.StudyConfig(n_splits=3, inner_splits=4, kfold_inner_splits=3, n_boot=20)


def test_challenge_protocol_scores_every_run_and_never_fits_on_set_b() -> None:
    a, b = cohort(450, 0), cohort(300, 1, offset=10_000, split="b")
    run = R.challenge_protocol(a, b, make, CONFIG)
    res = run.result
    assert set(res.models) == {"logistic_regression", "gbt", "logistic_regression_no_descriptors"}
    assert all(len(m.runs) == 3 for m in res.models.values()) and res.n_scored == 300
    shuffled = cohort(300, 1, offset=10_000, split="b")
    shuffled.y = np.random.default_rng(9).permutation(shuffled.y)
    again = R.challenge_protocol(a, shuffled, make, CONFIG).result
    for name in res.models:  # calibrator and threshold come from set A alone
        assert [r.evaluation.threshold for r in again.models[name].runs] == [
            r.evaluation.threshold for r in res.models[name].runs]
    assert res.models["logistic_regression"].spread["auroc"].mean > res.models[
        "logistic_regression_no_descriptors"].spread["auroc"].mean  # age carries risk here
    assert len(model_table(res)) == 2 and len(runs_table(res, "gbt")) == 3 and len(ablation_table(res)) == 1
    assert best_on_validation(res, exclude=()) in res.models


def test_predictions_file_recomputes_the_reported_auroc(tmp_path) -> None:
    a, b = cohort(300, 2), cohort(200, 3, offset=10_000, split="b")
    ch = R.challenge_protocol(a, b, make, CONFIG)
    kf = R.kfold_protocol(EpisodeSet.concat([a, b]), make, CONFIG)
    path = R.save_predictions(tmp_path, [R.predictions_frame(ch, a, b), R.predictions_frame(kf, None, EpisodeSet.concat([a, b]))])
    again = R.recomputed_auroc(pd.read_csv(path))
    for run in (ch, kf):
        for name, m in run.result.models.items():
            for r in m.runs:
                assert again[(run.result.protocol, name, r.run)] == pytest.approx(r.evaluation.auroc.value, abs=1e-9)
    # the typed results, whose per-run calibration curves carry no interval (NaN ends), read back whole
    from ehrlib.mortality.real_results import RealDataResults, load_real_results

    saved = RealDataResults(source="test", records={"a": 300}, deaths={"a": 1}, variables=["x"], descriptors=[],
                            protocols={"challenge": ch.result, "kfold": kf.result})
    saved.save(tmp_path / "physionet2012_metrics.json")
    back = load_real_results(tmp_path)
    ici = back.protocols["challenge"].models["gbt"].runs[0].evaluation.calibrated.ici
    assert np.isnan(ici.ci_low) and ici.value == ch.result.models["gbt"].runs[0].evaluation.calibrated.ici.value


def test_kfold_protocol_calibrates_each_fold_on_its_inner_validation() -> None:
    pooled = EpisodeSet.concat([cohort(300, 4), cohort(300, 5, offset=10_000, split="b")])
    kf = R.kfold_protocol(pooled, make, CONFIG)
    assert kf.result.n_scored == 600 and np.isfinite(kf.calibrated["gbt"]).all()
    assert sorted({r.run for r in kf.result.models["gbt"].runs}) == [0, 1, 2]


def test_clinical_score_fitter_imputes_the_training_median() -> None:
    train, test = cohort(10, 0), cohort(4, 1, offset=100)
    scores = pd.Series({**{i: float(i) for i in range(10)}, 100: 50.0, 101: np.nan})
    predict = R.clinical_score_fitter(scores)(train, train)
    np.testing.assert_array_equal(predict(test), [50.0, 4.5, 4.5, 4.5])


def test_without_descriptors_hides_them_from_fit_and_predict() -> None:
    seen = []
    def fit(tr, va):
        seen.append((tr.static, va.static))
        return lambda eps: np.full(len(eps), 0.0 if eps.static is None else 1.0)
    a = cohort(20, 0)
    predict = R.without_descriptors(fit)(a, a)
    assert seen == [(None, None)] and predict(a).sum() == 0 and a.static is not None


def test_preprocessor_appends_standardised_descriptors_and_masks_empty_hours() -> None:
    train, test = cohort(200, 0), cohort(50, 1)
    prep = MortalityPreprocessor().fit(train)
    x = prep.transform(test)
    assert x.shape == (50, 48, 2 * len(NAMES) + 2) and prep.feature_names[-2:] == ["Age", "Male"]
    live = test.mask.any(axis=2)
    age = x[:, :, -2][live]
    filled = np.where(np.isnan(test.static[:, 0]), np.nanmedian(train.static[:, 0]), test.static[:, 0])
    np.testing.assert_allclose(age, np.repeat(((filled - prep.static.means[0]) / prep.static.stds[0])[:, None],
                                              48, axis=1)[live], rtol=1e-5)
    assert (x[~live] == prep.mask_value).all()
    again = MortalityPreprocessor.from_dict(prep.to_dict())
    np.testing.assert_array_equal(again.transform(test), x)


def test_verdict_needs_most_runs_on_one_side() -> None:
    from types import SimpleNamespace as NS

    from ehrlib.evaluation.bootstrap import Interval
    from ehrlib.mortality.real_report import verdict
    from ehrlib.evaluation.bootstrap import Spread

    def result(diffs):
        runs = [NS(diff_auroc={"gbt": Interval(d, d - 0.01, d + 0.01)}) for d in diffs]
        spread = {"diff_auroc_gbt": Spread.of(diffs)}
        return NS(models={"lstm": NS(runs=runs, spread=spread)})

    assert verdict(result([-0.03, -0.02, -0.02]), "lstm", "gbt") == "ranks stays worse than"
    assert verdict(result([0.03, 0.02, 0.0]), "lstm", "gbt") == "ranks stays better than"
    assert verdict(result([-0.03, 0.0, 0.005]), "lstm", "gbt").startswith("cannot be told apart")
