"""Chapter 7, the baseline comparison, as one call per section: fit the baselines, read the LSTM back,
pair them on test, retrain over seeds, draw decision and learning curves, score subgroups, run the
missingness ablation and the patient k-fold, and save it all in the typed results.

Each section has a `run_*` (or builder) function that returns a typed record of `mortality.results`, a
`*_table` that returns the data frame the page shows and a `*_facts` that returns the values its prose
glues (formatted as the prose shows them; directions and comparisons worded by the verdict helpers of
`mortality.prose`, so a sentence changes with the numbers). The scale comes from a `ComparisonConfig`
made from the profile.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ehrlib.booktext import interval, spread
from ehrlib.evaluation.kfold import KFoldConfig, run_kfold
from ehrlib.evaluation.protocol import ModelEvaluation, fit_protocol
from ehrlib.evaluation.subgroups import subgroup_rows
from ehrlib.evaluation.bootstrap import Interval, grouped_paired_bootstrap, point_metrics, replicate_metrics
from ehrlib.evaluation.thresholds import ThresholdChoice, decision_curve, net_benefit_interval
from ehrlib.icu.episodes import EpisodeSet
from ehrlib.jsonfiles import write_json
from ehrlib.mortality.assemble import (comparison, episode_attributes, kfold_result, load_predictions,
                                       missingness_ablation)
from ehrlib.mortality.lstm import LstmConfig
from ehrlib.mortality.pipelines import (BaselineRun, gbt_fitter, learning_curve, logistic_fitter, lstm_fitter,
                                        missingness_fitter, run_baselines, seed_run, train_seed)
from ehrlib.mortality.prose import and_list, difference_verdict, model_word, runs_verdict, sign_verdict
from ehrlib.mortality.report import (MODEL_NAMES, SUBGROUP_COLUMNS, comparison_rows, improvement_rows, metrics_summary,
                                    no_ceiling_sentence, p_value_text, subgroup_sentence, subgroup_table_rows)
from ehrlib.mortality.results import (Ablation, BaselineRecord, BestBaseline, Comparison, DataSummary, DecisionCurve, KFoldResult, LearningCurve,
                                      MortalityResults, NetBenefitAt, Oracle, SeedSummary, Subgroups, load_results,
                                      update_results)

KFOLD_KEYS = ("auroc", "auprc", "recall", "precision", "f1", "brier", "ece")
METRIC_WORDS = {"auroc": "AUROC", "auprc": "AUPRC", "recall": "recall", "precision": "precision", "f1": "F1",
                "brier": "Brier score", "ece": "ECE"}
NO_ATTRIBUTES = ("This dataset has no age, sex or admission type per stay (the benchmark files lack them), so no "
                 "subgroup analysis is possible.")


@dataclass(frozen=True)
class ComparisonConfig:
    """The chapter's scale: bootstrap resamples, seed, the LSTM's configurations (main and k-fold), seeds,
    learning-curve sizes, ablation size, folds, and whether the data are external (no generator)."""

    n_boot: int
    seed: int
    lstm: LstmConfig
    kfold_lstm: LstmConfig
    n_seeds: int
    learning_sizes: tuple[int, ...]
    ablation_episodes: int
    kfold_splits: int
    external: bool

    @classmethod
    def from_profile(cls, p: Any) -> "ComparisonConfig":
        """The configuration of a `profiles.Profile`."""
        def lstm(epochs: int) -> LstmConfig:
            return LstmConfig(max_epochs=epochs, patience=p.lstm_patience, batch_size=p.batch_size)

        return cls(n_boot=p.n_bootstrap, seed=p.seed, lstm=lstm(p.lstm_max_epochs), kfold_lstm=lstm(p.kfold_max_epochs),
                   n_seeds=p.lstm_seeds, learning_sizes=tuple(p.learning_curve_sizes),
                   ablation_episodes=p.ablation_episodes, kfold_splits=p.kfold_splits, external=bool(p.icu_external))


def data_facts(data: dict[str, EpisodeSet]) -> dict[str, Any]:
    """Episodes per split, variables and hours, as the prose reads them."""
    train = data["train"]
    return {**{f"n_{s}": f"{len(data[s]):,}" for s in ("train", "val", "test")}, "n_vars": len(train.variables),
            "n_hours": train.n_hours}


def split_table(summary: DataSummary) -> pd.DataFrame:
    """Episodes, deaths, mortality and subjects per split."""
    return pd.DataFrame([{"split": s, "episodes": c.n, "deaths": c.deaths, "mortality": round(c.prevalence, 3),
                          "subjects": c.subjects} for s, c in summary.splits.items()])


def fit_baselines(data: dict[str, EpisodeSet], cfg: ComparisonConfig, folder: Path) -> dict[str, BaselineRun]:
    """Fit and score the four baselines (`pipelines.run_baselines`) and save the two that have a JSON form
    (the regression and the NEWS2-style score) in `folder`."""
    runs = run_baselines(data["train"], data["val"], data["test"], n_boot=cfg.n_boot, seed=cfg.seed)
    runs["logistic_regression"].model.save(Path(folder) / "logistic_regression.json")
    runs["news2"].model.save(Path(folder) / "news2.json")
    return runs


def baseline_facts(runs: dict[str, BaselineRun]) -> dict[str, Any]:
    """The NEWS2-style score's window and items and the boosted trees' iterations, as the prose reads them."""
    news = runs["news2"].notes
    items = ("consciousness is scored from the Glasgow coma scale" if news["consciousness_from_gcs"]
             else "the data chart no consciousness item")
    items += " and supplemental oxygen from FiO2" if news["oxygen_from_fio2"] else ", nor supplemental oxygen"
    windows = ", ".join(f"{v:.3f} for {k} h" for k, v in news["validation_auroc_by_window"].items())
    return {"news_window": news["window_hours"], "news_windows": windows, "news_items": items,
            "gbt_iter": runs["gbt"].notes["iterations"]}


def check_threshold(saved: ThresholdChoice, refitted: float, path: Path) -> None:
    """Raise if the threshold chapter 4 saved (`path`) differs from the one the refitted protocol chose."""
    if not np.isclose(saved.threshold, refitted):
        raise ValueError(f"{path}: threshold {saved.threshold} differs from the refitted protocol's {refitted}")


def previous_lstm(results: MortalityResults, path: Path) -> ModelEvaluation:
    """The LSTM's test evaluation from chapters 3 and 4, or an error naming the results folder."""
    if results.lstm is None:
        raise ValueError(f"{path}: the results have no LSTM evaluation; run chapters 03 and 04 first")
    return results.lstm


@dataclass
class ModelSet:
    """Every model of the chapter (the LSTM first): test evaluations, raw and calibrated test scores, raw
    validation scores, and the true risk's record (None without one)."""

    models: dict[str, ModelEvaluation]
    raw: dict[str, np.ndarray]
    calibrated: dict[str, np.ndarray]
    p_val: dict[str, np.ndarray]
    oracle: Oracle | None


def with_lstm(results_dir: Path, data: dict[str, EpisodeSet], runs: dict[str, BaselineRun], seed: int) -> ModelSet:
    """The LSTM's saved raw predictions (chapter 3) beside the baselines: its protocol is refitted on
    validation and checked against chapter 4's threshold, its test evaluation read from the results."""
    folder, val, test = Path(results_dir) / "mortality", data["val"], data["test"]
    p_val, p_test = load_predictions(folder, val, "val"), load_predictions(folder, test, "test")
    protocol = fit_protocol(p_val, val.y, seed=seed)
    check_threshold(ThresholdChoice.load(folder / "threshold.json"), protocol.choice.threshold, folder / "threshold.json")
    previous = load_results(results_dir)
    models = {"lstm": previous_lstm(previous, Path(results_dir)), **{k: r.evaluated.metrics for k, r in runs.items()}}
    return ModelSet(models=models, raw={"lstm": p_test, **{k: r.p_test for k, r in runs.items()}},
                    calibrated={"lstm": protocol.calibrate(p_test), **{k: r.evaluated.p_test for k, r in runs.items()}},
                    p_val={"lstm": p_val, **{k: r.p_val for k, r in runs.items()}}, oracle=previous.oracle)


def oracle_gaps(test: EpisodeSet, ms: ModelSet, cfg: ComparisonConfig) -> dict[str, Interval] | None:
    """Each model's test AUROC minus the true risk's, paired on the same subject resamples (None when the
    data have no true risk): how much ranking each model leaves on the table."""
    if test.true_risk is None:
        return None
    truth = replicate_metrics(test.y, test.true_risk, groups=test.subject_ids, n_boot=cfg.n_boot, seed=cfg.seed)
    gaps = {}
    for name, p in ms.raw.items():
        d = grouped_paired_bootstrap(test.y, p, test.true_risk, groups=test.subject_ids, n_boot=cfg.n_boot,
                                     seed=cfg.seed, reps_b=truth)["auroc"]
        gaps[name] = Interval(d["value"], d["ci_low"], d["ci_high"])
    return gaps


def overview_table(ms: ModelSet, gaps: dict[str, Interval] | None) -> pd.DataFrame:
    """One row per model: test AUROC and AUPRC with intervals, metrics at its threshold, calibration, and
    (with a true risk) its AUROC minus the true risk's with the paired interval."""
    return pd.DataFrame(comparison_rows(ms.models, gaps)).set_index("model").round(3)


def ceiling_facts(ms: ModelSet, n_test: int) -> dict[str, Any]:
    """The true risk's test AUROC (or why there is none), and the two scores not fitted to measured values."""
    ceiling = (f"On the {n_test:,} test episodes the true risk reaches AUROC {interval(ms.oracle.auroc)}."
               if ms.oracle is not None else no_ceiling_sentence(n_test))
    return {"ceiling": ceiling, "news_auroc": interval(ms.models["news2"].auroc),
            "miss_auroc": interval(ms.models["missingness"].auroc)}


def choose_best_baseline(data: dict[str, EpisodeSet], ms: ModelSet, cfg: ComparisonConfig) -> BestBaseline:
    """The baseline with the highest AUROC of its raw validation scores (test plays no part in the choice),
    and the LSTM minus it on test, paired on the same subject resamples."""
    val, test = data["val"], data["test"]
    scores = {k: point_metrics(val.y, p)["auroc"] for k, p in ms.p_val.items() if k != "lstm"}
    best = max(scores, key=scores.__getitem__)
    return BestBaseline(model=best, validation_auroc=scores,
                        comparison=comparison(test, ms.raw["lstm"], ms.raw[best], cfg.n_boot, cfg.seed))


def best_facts(best: BestBaseline, ms: ModelSet) -> dict[str, Any]:
    """The best baseline on validation, its validation and test AUROC, and the LSTM minus it on test with
    the verdict its interval supports."""
    name = MODEL_NAMES[best.model].lower()
    return {"best": name, "best_val": best.validation_auroc[best.model],
            "best_test": interval(ms.models[best.model].auroc),
            "best_diff": interval(best.comparison.auroc.difference, signed=True),
            "best_verdict": difference_verdict(best.comparison.auroc.difference, "LSTM", name)}


def validation_table(best: BestBaseline) -> pd.DataFrame:
    """Every baseline's raw validation AUROC, the chosen one marked."""
    return pd.DataFrame([{"model": MODEL_NAMES[k], "validation AUROC": round(v, 3),
                          "chosen": "best on validation" if k == best.model else ""}
                         for k, v in best.validation_auroc.items()])


def paired_table(paired: Comparison, a: str = "LSTM", b: str = "logistic regression") -> pd.DataFrame:
    """AUROC and AUPRC of A and B on test, A minus B with its paired interval, and the bootstrap p-value."""
    return pd.DataFrame([{"metric": k, a: round(d.a, 3), b: round(d.b, 3),
                          "difference (95 % interval)": interval(d.difference, signed=True),
                          "p": p_value_text(d.p_value, d.n_boot)}
                         for k, d in (("AUROC", paired.auroc), ("AUPRC", paired.auprc))])


def paired_facts(paired: Comparison) -> dict[str, Any]:
    """LSTM minus the regression on test, with its interval and the verdict it supports."""
    return {"diff": interval(paired.auroc.difference, signed=True),
            "verdict": difference_verdict(paired.auroc.difference, "LSTM", "logistic regression")}


def improvement_table(models: dict[str, ModelEvaluation]) -> pd.DataFrame:
    """Each test metric of the LSTM and the regression, and the improvement signed so positive is better."""
    return pd.DataFrame(improvement_rows(models["lstm"], models["logistic_regression"]),
                        columns=["metric", "LSTM", "logistic regression", "improvement"]).set_index("metric")


def run_seeds(data: dict[str, EpisodeSet], ms: ModelSet, cfg: ComparisonConfig) -> SeedSummary:
    """The LSTM over `cfg.n_seeds` seeds (the first is chapter 3's model, the others retrained on the same
    data and configuration), each run's raw test AUROC paired with the regression's."""
    test, reference = data["test"], ms.raw["logistic_regression"]
    runs = [seed_run(cfg.seed, ms.raw["lstm"], test, reference, cfg.n_boot)]
    for s in range(cfg.seed + 1, cfg.seed + cfg.n_seeds):
        p, secs = train_seed(data["train"], data["val"], test, cfg.lstm, s)
        runs.append(seed_run(s, p, test, reference, cfg.n_boot, secs))
    return SeedSummary(seeds=[r.seed for r in runs], auroc=[r.auroc for r in runs], auprc=[r.auprc for r in runs],
                       diff_auroc=[r.diff_auroc for r in runs], seconds=[r.seconds for r in runs])


def seed_table(seeds: SeedSummary) -> pd.DataFrame:
    """One row per seed: raw test AUROC and AUPRC, and LSTM minus regression with its paired interval."""
    return pd.DataFrame({"seed": seeds.seeds, "AUROC": seeds.auroc, "AUPRC": seeds.auprc,
                         "LSTM minus regression, AUROC": [interval(d, signed=True) for d in seeds.diff_auroc]}
                        ).round(4)


def seed_facts(seeds: SeedSummary) -> dict[str, Any]:
    """The seeds' AUROC and their difference from the regression as mean ± SD (range), and how many
    paired intervals lie below and above zero."""
    def summary(key: str) -> SimpleNamespace:
        return SimpleNamespace(**dict(zip(("mean", "sd", "min", "max"), seeds.spread(key))))

    return {"n_seeds": len(seeds.seeds), "seed_auroc": spread(summary("auroc")),
            "seed_diff": spread(summary("diff_auroc"), signed=True), "seed_verdict": runs_verdict(seeds.diff_auroc)}


def decision_grid(marks: dict[str, float]) -> np.ndarray:
    """Threshold probabilities 0.01, 0.02, ... up to 1.5 times the highest mark (between 0.6 and 0.95)."""
    top = min(0.95, max(0.6, 1.5 * max(marks.values())))
    return np.round(np.arange(0.01, top + 1e-9, 0.01), 4)


def decision_section(test: EpisodeSet, ms: ModelSet, cfg: ComparisonConfig) -> DecisionCurve:
    """Net benefit of every model's calibrated test probabilities, treat-all and treat-none, marked at the
    LSTM's F1-optimal and 90 % sensitivity thresholds; at the first, the LSTM's net benefit and its
    difference from treating everyone with subject-bootstrap intervals."""
    lstm = ms.models["lstm"]
    marks = {"max F1": lstm.threshold, "90 % sensitivity": lstm.sensitivity_threshold}
    grid = decision_grid(marks)
    dc = decision_curve(test.y, {MODEL_NAMES[k]: p for k, p in ms.calibrated.items()}, grid)
    nb = net_benefit_interval(test.y, ms.calibrated["lstm"], lstm.threshold, groups=test.subject_ids,
                              n_boot=cfg.n_boot, seed=cfg.seed)
    at = NetBenefitAt(threshold=lstm.threshold, model=nb["model"], treat_all=nb["treat all"],
                      difference=nb["difference"])
    return DecisionCurve(thresholds=grid, net_benefit={k: v for k, v in dc.items() if k != "threshold"}, marks=marks,
                         at_threshold=at)


def net_benefit_verdict(at: NetBenefitAt) -> str:
    """Whether acting on the model beats treating no one (net benefit above 0) and treating everyone (the
    paired difference above 0), read from the intervals."""
    if at.model.ci_low > 0 and at.difference.ci_low > 0:
        return "acting on the LSTM beats both treating everyone and treating no one: both intervals lie above zero"
    worse = [name for name, iv in (("treating no one", at.model), ("treating everyone", at.difference))
             if iv.ci_high < 0]
    if worse:
        return f"acting on the LSTM does worse than {' and '.join(worse)}: the interval lies below zero"
    unresolved = [name for name, iv in (("treating no one", at.model), ("treating everyone", at.difference))
                  if not iv.excludes(0)]
    return (f"the interval includes zero, so this test set cannot tell acting on the LSTM from "
            f"{' or '.join(unresolved)}")


def decision_table(decision: DecisionCurve) -> pd.DataFrame:
    """Net benefit of each policy at the grid threshold nearest each marked threshold."""
    at = {name: int(np.abs(decision.thresholds - x).argmin()) for name, x in decision.marks.items()}
    return pd.DataFrame({f"{n} (t = {decision.thresholds[i]:.2f})": {k: round(float(v[i]), 4)
                                                                     for k, v in decision.net_benefit.items()}
                         for n, i in at.items()})


def decision_facts(decision: DecisionCurve) -> dict[str, Any]:
    """At the LSTM's F1-optimal threshold: its net benefit and treating everyone's with intervals, the
    difference, and the verdict the intervals support."""
    at = decision.at_threshold
    return {"t_f1": at.threshold, "nb_lstm": interval(at.model, 4), "nb_all": interval(at.treat_all, 4),
            "nb_diff": interval(at.difference, 4, signed=True), "nb_verdict": net_benefit_verdict(at)}


def run_learning_curve(data: dict[str, EpisodeSet], ms: ModelSet, cfg: ComparisonConfig) -> LearningCurve:
    """The LSTM, the regression and the boosted trees refitted on nested subsets of training subjects."""
    fitters = {"lstm": lstm_fitter(cfg.lstm, seed=cfg.seed), "logistic_regression": logistic_fitter(),
               "gbt": gbt_fitter(cfg.seed)}
    sizes, auroc = learning_curve(data["train"], data["val"], data["test"], fitters, cfg.learning_sizes,
                                  {k: ms.raw[k] for k in fitters}, n_boot=cfg.n_boot, seed=cfg.seed)
    return LearningCurve(sizes=sizes, auroc=auroc)


def learning_table(learning: LearningCurve) -> pd.DataFrame:
    """Test AUROC with its interval per model (columns) and training size (rows)."""
    return pd.DataFrame({MODEL_NAMES[k]: [interval(iv) for iv in v] for k, v in learning.auroc.items()},
                        index=pd.Index(learning.sizes, name="training episodes"))


def learning_facts(learning: LearningCurve) -> dict[str, Any]:
    """Each model's AUROC change from the second-largest training size to all of it, and for which models
    the smaller size's AUROC lies below the full-size interval (evidence of a gain) or inside it (none)."""
    if len(learning.sizes) < 2:
        return {"lc_gain": "only one size was run", "lc_last": "-", "lc_all": f"{learning.sizes[-1]:,}",
                "lc_verdict": "With one training size there is no curve to read."}
    name = {k: model_word(MODEL_NAMES[k]) for k in learning.auroc}
    gain = "; ".join(f"{name[k]} {v[-1].value - v[-2].value:+.3f}" for k, v in learning.auroc.items())
    grew = [name[k] for k, v in learning.auroc.items() if v[-2].value < v[-1].ci_low]
    flat = [name[k] for k, v in learning.auroc.items() if v[-2].value >= v[-1].ci_low]
    parts = ([f"for {and_list(grew)} the smaller set's AUROC lies below the full set's interval, which suggests "
              "more data still helped"] if grew else []) + (
        [f"for {and_list(flat)} it lies inside or above that interval, so the change is no evidence of a gain"]
        if flat else [])
    text = "; ".join(parts)
    return {"lc_gain": gain, "lc_last": f"{learning.sizes[-2]:,}", "lc_all": f"{learning.sizes[-1]:,}",
            "lc_verdict": text[0].upper() + text[1:] + "."}


def subgroup_section(icu_dir: Path, test: EpisodeSet, ms: ModelSet, cfg: ComparisonConfig,
                     keep: tuple[str, ...] = ("lstm", "logistic_regression")) -> Subgroups:
    """AUROC and calibration-in-the-large of `keep` by age band, sex and admission type (from the
    generator's `latent.csv`), or why there are none."""
    attributes = episode_attributes(icu_dir, test.stays)
    if attributes is None:
        return Subgroups(available=False, reason=NO_ATTRIBUTES, rows=[])
    rows = subgroup_rows(test.y, {k: ms.raw[k] for k in keep}, {k: ms.calibrated[k] for k in keep}, attributes,
                         test.subject_ids, n_boot=cfg.n_boot, seed=cfg.seed)
    return Subgroups(available=True, reason="", rows=rows)


def subgroup_table(sub: Subgroups) -> pd.DataFrame:
    """The subgroup rows as the report writes them (`report.subgroup_table_rows`), or the reason for none."""
    return pd.DataFrame(subgroup_table_rows(sub), columns=SUBGROUP_COLUMNS) if sub.rows else pd.DataFrame(
        {"note": [sub.reason]})


def run_ablation(cfg: ComparisonConfig) -> Ablation | None:
    """The missingness-mechanism ablation (`assemble.missingness_ablation`) for the four models, or None on
    external data (it needs the generator)."""
    if cfg.external:
        return None
    fitters = {"lstm": lstm_fitter(cfg.lstm, seed=cfg.seed), "logistic_regression": logistic_fitter(),
               "gbt": gbt_fitter(seed=cfg.seed), "missingness": missingness_fitter()}
    return missingness_ablation(cfg.ablation_episodes, fitters, seed=cfg.seed, n_boot=cfg.n_boot)


def ablation_table(ablation: Ablation | None) -> pd.DataFrame:
    """Test AUROC with its interval per setting (rows) and model (columns)."""
    if ablation is None:
        return pd.DataFrame({"note": ["not run on external data"]})
    rows = [{"setting": r.setting, "model": MODEL_NAMES[r.model], "AUROC": interval(r.auroc)} for r in ablation.rows]
    table = pd.DataFrame(rows).pivot(index="setting", columns="model", values="AUROC")
    return table.loc[list(dict.fromkeys(r["setting"] for r in rows)), list(dict.fromkeys(r["model"] for r in rows))]


def ablation_facts(ablation: Ablation | None, headline: Comparison, n_train: int) -> dict[str, Any]:
    """What observation counts reach with every mechanism on and with MAR and MNAR off, how the models on
    measured values move, and the LSTM minus the regression there set beside the headline comparison
    (`headline`, on the main split of `n_train` training episodes)."""
    if ablation is None:
        return {"ablation": "The ablation needs the generator, so it is not run on external data.", "abl_n": "-",
                "abl_pair": ""}
    cell = {(r.setting, r.model): r.auroc for r in ablation.rows}
    on, off = cell[("all mechanisms on", "missingness")], cell[("MAR and MNAR off", "missingness")]
    moves = "; ".join(f"{model_word(MODEL_NAMES[m])} {cell[('all mechanisms on', m)].value:.3f} to "
                      f"{cell[('MAR and MNAR off', m)].value:.3f}" for m in ("lstm", "logistic_regression", "gbt"))
    return {"ablation": f"With every mechanism on, observation counts alone reach AUROC {interval(on)}; with MAR and "
                        f"MNAR off, {interval(off)}. The models on measured values move as follows: {moves}.",
            "abl_n": f"{ablation.n_episodes:,}", "abl_pair": ablation_pair_sentence(ablation, headline, n_train)}


def ablation_pair_sentence(ablation: Ablation, headline: Comparison, n_train: int) -> str:
    """The LSTM minus the regression on the ablation's own data with every mechanism on, against the
    headline: whether the ablation agrees, reverses it, or cannot tell them apart, and on how much data."""
    diff = ablation.diff_auroc.get("all mechanisms on")
    if diff is None:
        return ""
    main = headline.auroc.difference
    opening = (f"With every mechanism on, the LSTM minus the regression is {interval(diff, signed=True)} on these "
               f"datasets ({ablation.n_train:,} training and {ablation.n_test:,} test episodes, generated afresh) "
               f"against {interval(main, signed=True)} in the main comparison ({n_train:,} training episodes). ")
    if not diff.excludes(0):
        return opening + ("Its interval includes zero: on this small test split the two models cannot be told "
                          "apart, so the order of their point values here is noise, not evidence against the "
                          "main comparison.")
    if np.sign(diff.value) == np.sign(main.value):
        return opening + "Its interval excludes zero on the same side as the main comparison's point value."
    return opening + ("Its interval excludes zero on the other side of the main comparison's point value: on these "
                      "smaller, freshly generated datasets the order of the two models is reversed. Nothing here "
                      "explains it beyond the difference in data; the main comparison, on more training episodes "
                      "and a larger test split, is the one the book's verdict rests on.")


def run_patient_kfold(data: dict[str, EpisodeSet], cfg: ComparisonConfig) -> KFoldResult:
    """The LSTM and the regression in a patient-grouped k-fold over train and validation pooled."""
    pool = EpisodeSet.concat([data["train"], data["val"]])
    fitters = {"lstm": lstm_fitter(cfg.kfold_lstm, seed=cfg.seed), "logistic_regression": logistic_fitter()}
    return kfold_result(run_kfold(pool, fitters, KFoldConfig(n_splits=cfg.kfold_splits, seed=cfg.seed),
                                  progress=False))


def kfold_table(kfold: KFoldResult) -> pd.DataFrame:
    """Mean ± SD over folds of each metric (rows, in words) per model (columns)."""
    return pd.DataFrame({MODEL_NAMES.get(k, "true-risk oracle"): {
        METRIC_WORDS[m]: f"{s[m]['mean']:.3f} ± {s[m]['sd']:.3f}" for m in KFOLD_KEYS if m in s}
        for k, s in kfold.summary.items()}).rename_axis("metric")


def kfold_facts(kfold: KFoldResult, cfg: ComparisonConfig) -> dict[str, Any]:
    """Folds and the LSTM's epoch cap, both models' mean ± SD AUROC, the per-fold differences and how many
    are positive."""
    ks = kfold.summary
    both = {k: f"{ks[k]['auroc']['mean']:.3f} ± {ks[k]['auroc']['sd']:.3f}" for k in ("lstm", "logistic_regression")}
    return {"k": kfold.n_splits, "k_epochs": cfg.kfold_lstm.max_epochs, "k_lstm": both["lstm"], "k_lr": both["logistic_regression"],
            "k_diffs": ", ".join(f"{d:+.3f}" for d in kfold.diff_auroc),
            "k_pos": sign_verdict(kfold.diff_auroc),
            "k_oracle": (f"; the oracle's is {ks['oracle']['auroc']['mean']:.3f}" if "oracle" in ks
                         else " (no known true risk here)"), "k_seconds": f"{kfold.seconds:.0f}"}


def robustness_facts(r: MortalityResults, cfg: ComparisonConfig) -> dict[str, Any]:
    """The sentences of chapter 7's robustness sections (seeds, decision curve, learning curve, subgroups,
    ablation, k-fold), read back from the typed results for the report of chapter 8."""
    needed = {"seeds": r.seeds, "decision_curve": r.decision_curve, "learning_curve": r.learning_curve,
              "subgroups": r.subgroups, "kfold": r.kfold, "comparison": r.comparison, "data": r.data}
    missing = [k for k, v in needed.items() if v is None]
    if missing:
        raise ValueError(f"the results lack {missing}: run chapter 07 before the report")
    return {**seed_facts(r.seeds), **decision_facts(r.decision_curve), **learning_facts(r.learning_curve),
            "subgroups": subgroup_sentence(r.subgroups), **kfold_facts(r.kfold, cfg),
            **ablation_facts(r.ablation, r.comparison, r.data.splits["train"].n)}


def save_chapter(results_dir: Path, runs: dict[str, BaselineRun], ms: ModelSet, timings: dict[str, float],
                 **sections: Any) -> MortalityResults:
    """Write the chapter's sections, the baselines and the timings into the typed results, and the public
    replication's `metrics_summary.json` (LSTM against the regression) beside the model."""
    baselines = {k: BaselineRecord(evaluation=r.evaluated.metrics, notes=r.notes, seconds=r.seconds)
                 for k, r in runs.items()}
    merged = update_results(results_dir, baselines=baselines, timings=timings, **sections)
    write_json(Path(results_dir) / "mortality" / "metrics_summary.json",
               metrics_summary(ms.models["lstm"], ms.models["logistic_regression"]))
    return merged
