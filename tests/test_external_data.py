"""The mortality chapters on data without a known true risk (the real MIMIC-III benchmark layout).

Covers `$EHRLIB_ICU_DIR` (separate results folder, `ehrlib data` generating nothing there), the NEWS2
consciousness item from the Glasgow coma scale, boosted trees on sparse variables, the report
without an oracle, and (slow) the whole chapter pipeline on a small real-format fixture.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ehrlib.mortality import baselines as B
from ehrlib.mortality import news2 as N
from ehrlib import cli
from ehrlib.profiles import get_profile
from ehrlib.mortality.report import no_ceiling_sentence, render_report
from ehrlib.mortality.results import BaselineRecord, load_results, update_results
from realfixture import write_real_fixture
from test_baselines import VITALS, Eps  # the same minimal EpisodeSet stand-in


def test_external_icu_dir_gets_its_own_results_folder(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.delenv("EHRLIB_ICU_DIR", raising=False)
    p = get_profile("quick")
    assert not p.icu_external and p.results_dir.name == "quick"
    monkeypatch.setenv("EHRLIB_ICU_DIR", str(tmp_path))
    assert p.icu_external and p.results_dir.name == "quick-external"
    assert p.results_dir.parent.name == "results" and p.icu_dir == tmp_path.resolve()


def test_cli_data_does_not_generate_into_an_external_dir(monkeypatch, tmp_path: Path, capsys) -> None:
    import ehrlib.icu.writer
    import ehrlib.stroke.synth

    def refuse(*a, **k):
        raise AssertionError("synthetic ICU data generated into EHRLIB_ICU_DIR")

    made = []
    monkeypatch.setattr(ehrlib.icu.writer, "generate_icu_dataset", refuse)
    monkeypatch.setattr(ehrlib.stroke.synth, "generate_stroke_dataset", lambda out, **k: made.append(out))
    monkeypatch.setenv("EHRLIB_ROOT", str(tmp_path / "root"))
    real = tmp_path / "real"
    real.mkdir()
    monkeypatch.setenv("EHRLIB_ICU_DIR", str(real))
    assert cli.main(["data", "--profile", "quick"]) == 0
    assert list(real.iterdir()) == [] and len(made) == 1  # stroke data still made, ICU folder untouched
    assert str(real.resolve()) in capsys.readouterr().err
    monkeypatch.setenv("EHRLIB_ICU_DIR", str(tmp_path / "missing"))
    assert cli.main(["data", "--profile", "quick"]) == 2
    assert "missing" in capsys.readouterr().err and not (tmp_path / "missing").exists()


def _vitals_with_gcs(gcs: list[tuple[int, float]], with_gcs: bool = True) -> Eps:
    v = np.full((1, 48, 6), np.nan, dtype=np.float32)
    v[0, 0, :5] = [80, 16, 97, 120, 37.0]  # all vitals normal: 0 points
    for hour, score in gcs:
        v[0, hour, 5] = score
    names = VITALS + ["Glascow coma scale total"]
    if not with_gcs:
        v, names = v[:, :, :5], VITALS
    return Eps(values=v, mask=np.isfinite(v), y=np.array([1]), variables=names)


def test_news2_scores_consciousness_from_gcs_when_present() -> None:
    eps = _vitals_with_gcs([(5, 15.0), (10, 9.0), (20, 15.0)])
    hourly = N.news2_hourly(eps)[0]
    assert hourly[4] == 0 and hourly[5] == 0  # GCS 15: alert
    assert hourly[10] == N.NEWS2_GCS_POINTS and hourly[19] == N.NEWS2_GCS_POINTS  # < 15 carried forward
    assert hourly[20] == 0 and hourly[47] == 0
    assert N.news2_uses_consciousness(eps.variables)
    without = _vitals_with_gcs([(10, 9.0)], with_gcs=False)
    assert not N.news2_uses_consciousness(without.variables) and N.news2_hourly(without).max() == 0


def test_gbt_ignores_a_variable_never_observed_in_training() -> None:
    rng = np.random.default_rng(0)
    n = 300
    sev = rng.normal(size=n)
    y = (rng.random(n) < 1 / (1 + np.exp(-2 * sev))).astype(np.int8)
    values = (sev[:, None, None] * np.array([10.0, -5.0, 0.0]) + rng.normal(size=(n, 48, 3))).astype(np.float32)
    mask = rng.random(values.shape) < 0.5
    mask[:, :, 2] = False  # e.g. capillary refill rate: never charted in this split
    values[~mask] = np.nan
    eps = Eps(values=values, mask=mask, y=y, variables=["a", "b", "c"])
    gbt = B.GbtBaseline(max_iter=30).fit(eps)
    n_features = B.subwindow_features(values).shape[1]
    assert 0 < gbt.columns.size < n_features
    p = gbt.predict_proba(eps)
    assert p.shape == (n,) and np.all(np.isfinite(p)) and np.corrcoef(p, sev)[0, 1] > 0.5


@pytest.mark.slow
def test_chapter_pipeline_on_a_real_format_dataset(tmp_path: Path) -> None:
    """Chapters 03, 04, 07 and 08 in miniature on ~300 real-format stays without ground truth."""
    from ehrlib.evaluation.protocol import evaluate_model
    from ehrlib.icu.reader import read_dataset
    from ehrlib.mortality.assemble import comparison, data_summary, episode_attributes, oracle_record
    from ehrlib.mortality.lstm import LstmConfig, fit_lstm_pipeline, predict_proba
    from ehrlib.mortality.pipelines import run_baselines
    from ehrlib.mortality.report import ORACLE_GAP, comparison_rows

    root = write_real_fixture(tmp_path / "real", n_stays=300, seed=1)
    assert not list(root.rglob("ground_truth.csv"))
    data = read_dataset(root, progress=False)
    train, val, test = data["train"], data["val"], data["test"]
    assert all(es.true_risk is None for es in data.values()) and len(train.variables) == 17
    assert not set(train.subject_ids) & set(test.subject_ids)
    assert episode_attributes(root, test.stays) is None and oracle_record(test, 20, 0) is None

    prep, result = fit_lstm_pipeline(train, val, LstmConfig(max_epochs=2, patience=1), seed=0, progress=False)
    p_val, p_test = (predict_proba(result.model, prep.transform(es)) for es in (val, test))
    ev = evaluate_model(p_val, val.y, p_test, test.y, test.subject_ids, n_boot=50, seed=0)
    runs = run_baselines(train, val, test, n_boot=50, seed=0)
    assert runs["news2"].notes["consciousness_from_gcs"] is True
    models = {"lstm": ev.metrics, **{k: r.evaluated.metrics for k, r in runs.items()}}
    for name, m in models.items():
        assert 0 <= m.auroc.value <= 1, name
    assert runs["logistic_regression"].evaluated.metrics.auroc.value > 0.7  # the labels are learnable
    assert all(ORACLE_GAP not in r for r in comparison_rows(models, None))
    from ehrlib.mortality.assemble import training_record

    update_results(tmp_path / "results", training=training_record(result, prep, len(train), {"train": 0.1},
                                                                   {"auroc": 0.8, "auprc": 0.5}, None),
                   lstm=ev.metrics, oracle=None, data=data_summary(data, external=True),
                   comparison=comparison(test, p_test, runs["logistic_regression"].p_test, 50, 0),
                   baselines={k: BaselineRecord(evaluation=r.evaluated.metrics, notes=r.notes, seconds=r.seconds)
                              for k, r in runs.items()})
    text = render_report(load_results(tmp_path / "results"))
    assert no_ceiling_sentence(len(test)) in text and "Glasgow coma scale" in text
    assert "oracle" not in text.lower()
