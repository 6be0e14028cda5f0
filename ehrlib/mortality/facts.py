"""The numbers and small tables the mortality chapters' prose reads, computed from the objects a chapter
holds (the dataset, the fitted preprocessor, the training result, the predictions) so that each chapter
cell is one call and its glue (`ehrlib.booktext.glue_values`). Values that are formatted text here are
formatted exactly as the prose shows them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ehrlib.booktext import interval, number
from ehrlib.evaluation.calibration import calibrator_name
from ehrlib.evaluation.metrics import ranking_metrics, reliability_bins
from ehrlib.icu.episodes import EpisodeSet
from ehrlib.mortality.losses import focal_loss_numpy
from ehrlib.mortality.lstm import predict_proba
from ehrlib.mortality.preprocessing import MortalityPreprocessor
from ehrlib.mortality.prose import compare_word
from ehrlib.mortality.report import no_ceiling_sentence


def split_table(data: dict[str, EpisodeSet]) -> pd.DataFrame:
    """Episodes, deaths and mortality (3 decimals) per split."""
    return pd.DataFrame.from_dict({name: {"episodes": len(es), "deaths": int(es.y.sum()),
                                          "mortality": round(float(es.y.mean()), 3)} for name, es in data.items()},
                                  orient="index")


def data_facts(data: dict[str, EpisodeSet], cleaning: pd.DataFrame, load_seconds: float) -> dict[str, Any]:
    """Chapter 3's data sentence: episodes, hours, variables, loading time and values cleaned."""
    train = data["train"]
    return {"n_cleaned": f"{int(cleaning[['removed', 'clipped']].to_numpy().sum()):,}",
            "n_episodes": f"{sum(len(es) for es in data.values()):,}", "n_hours": train.n_hours,
            "n_variables": len(train.variables), "load_seconds": load_seconds}


def masked_fractions(data: dict[str, EpisodeSet]) -> dict[str, float]:
    """Share of hours with no measurement at all (the steps the LSTM skips), per split."""
    return {name: float(MortalityPreprocessor.masked_steps(es).mean()) for name, es in data.items()}


def preprocessor_table(prep: MortalityPreprocessor) -> pd.DataFrame:
    """The fitted preprocessor's median, mean and standard deviation per variable (2 decimals)."""
    return pd.DataFrame({"median": prep.medians, "mean": prep.means, "std": prep.stds}, index=prep.variables).round(2)


def preprocessing_facts(prep: MortalityPreprocessor, train: EpisodeSet, masked: dict[str, float]) -> dict[str, Any]:
    """Chapter 3's preprocessing sentence: observed cells, masked hours per split, features, mask value."""
    return {"observed": f"{train.mask.mean():.1%}", "masked_train": f"{masked['train']:.1%}",
            "masked_val": f"{masked['val']:.1%}", "masked_test": f"{masked['test']:.1%}",
            "n_features": prep.n_features, "mask_value": f"{prep.mask_value:g}"}


def focal_facts(alpha: float = 0.25, gamma: float = 2.0) -> dict[str, Any]:
    """Cross-entropy and focal loss of an easy survivor (predicted risk 0.1), and their ratio."""
    easy = float(focal_loss_numpy(np.array([0]), np.array([0.1]), gamma=gamma, alpha=alpha)[0])
    ce_easy = float(-np.log(0.9))
    return {"ce_easy": ce_easy, "focal_easy": easy, "easy_ratio": f"{ce_easy / easy:.0f}"}


def training_facts(result: Any, n_train: int) -> dict[str, Any]:
    """Chapter 3's training sentence and learning-curve sentence from the `TrainResult`."""
    history, best, k = result.history, result.best, result.best_epoch - 1
    return {
        "epochs_run": result.epochs_run, "train_seconds": f"{result.seconds:.0f}",
        "seconds_per_epoch": result.seconds_per_epoch, "xla": "with" if result.xla else "without",
        "n_train": f"{n_train:,}", "best_epoch": result.best_epoch,
        "best_val_auroc": best["val_auroc"], "best_val_auprc": best["val_auprc"],
        "loss_first": history["loss"][0], "loss_last": history["loss"][-1],
        "val_loss_first": history["val_loss"][0], "val_loss_last": history["val_loss"][-1],
        "gap": f"{history['auroc'][k] - history['val_auroc'][k]:+.3f}",
        "val_auroc_first": history["val_auroc"][0], "val_auroc_max": max(history["val_auroc"]),
    }


@dataclass(frozen=True)
class RawScores:
    """The LSTM's raw validation and test predictions, its validation ranking metrics and the true
    risk's validation AUROC (None without a true risk)."""

    p_val: np.ndarray
    p_test: np.ndarray
    val_scores: dict[str, float]
    oracle_val: float | None
    table: pd.DataFrame


def raw_scores(model: Any, prep: MortalityPreprocessor, val: EpisodeSet, test: EpisodeSet) -> RawScores:
    """Predict validation and test, score validation, and set it beside the true risk (the table:
    AUROC, AUPRC and mean prediction, 3 decimals)."""
    p_val = predict_proba(model, prep.transform(val))
    p_test = predict_proba(model, prep.transform(test))
    val_scores = ranking_metrics(val.y, p_val)
    columns = {"LSTM (raw)": [val_scores["auroc"], val_scores["auprc"], p_val.mean()]}
    oracle_val = None
    if val.true_risk is not None:
        oracle = ranking_metrics(val.y, val.true_risk)
        oracle_val = oracle["auroc"]
        columns["true risk (oracle)"] = [oracle["auroc"], oracle["auprc"], val.true_risk.mean()]
    table = pd.DataFrame(columns, index=["AUROC", "AUPRC", "mean prediction"]).round(3)
    return RawScores(p_val=p_val, p_test=p_test, val_scores=val_scores, oracle_val=oracle_val, table=table)


def raw_score_facts(scores: RawScores, val: EpisodeSet) -> dict[str, Any]:
    """Chapter 3's sentence on the raw validation scores: AUROC, AUPRC, the ceiling, the mean output."""
    s, o, p = scores.val_scores, scores.oracle_val, scores.p_val
    ceiling = (f"against {o:.3f} for the true risk, {o - s['auroc']:.3f} below that ceiling" if o is not None
               else no_ceiling_sentence(len(val), "validation episodes"))
    return {"val_auroc": s["auroc"], "val_auprc": s["auprc"], "ceiling": ceiling, "mean_p": p.mean(),
            "side": compare_word(p.mean(), val.y.mean()), "val_mortality": f"{val.y.mean():.1%}"}


def prediction_table(parts: dict[str, tuple[EpisodeSet, np.ndarray]]) -> pd.DataFrame:
    """Episodes, subjects, deaths, mortality and mean raw prediction per split (`parts`: split to episodes
    and predictions), one row per split."""
    return pd.DataFrame({name: {"episodes": len(es), "subjects": len(np.unique(es.subject_ids)),
                                "deaths": int(es.y.sum()), "mortality": round(float(es.y.mean()), 3),
                                "mean raw p": round(float(p.mean()), 3)} for name, (es, p) in parts.items()}).T


def prediction_facts(val: EpisodeSet, test: EpisodeSet, p_val: np.ndarray) -> dict[str, Any]:
    """Chapter 4's sentence on the predictions: split sizes and mortality, the mean raw validation
    prediction and the share of test subjects with more than one stay."""
    multi = float(np.mean(np.unique(test.subject_ids, return_counts=True)[1] > 1))
    return {"n_val": f"{len(val):,}", "val_mort": f"{val.y.mean():.1%}", "n_test": f"{len(test):,}",
            "test_mort": f"{test.y.mean():.1%}", "mean_raw": p_val.mean(), "multi": f"{multi:.1%}"}


def calibration_table(m: Any) -> pd.DataFrame:
    """Brier, ECE (with intervals), ICI, slope, intercept and exact 0/1 predictions of the raw and the
    calibrated test predictions of `m` (`ModelEvaluation.metrics`)."""
    rows = {"raw (focal loss)": m.raw, f"{calibrator_name(m.calibrator)} (fitted on validation)": m.calibrated}
    return pd.DataFrame({name: {"Brier": interval(c.brier, 4), "ECE": interval(c.ece, 4), "ICI": interval(c.ici, 4),
                                "slope": interval(c.slope, 2), "intercept": interval(c.intercept, 2),
                                "exactly 0 or 1": c.n_exact_zero + c.n_exact_one}
                         for name, c in rows.items() if c is not None}).T


def noise_floor_sentence(ece: Any, oracle: Any | None) -> str:
    """How a model's test ECE compares with the generator's true risk scored the same way (the ECE that
    chance alone leaves on a test set of this size): inside that interval or above its upper end."""
    if oracle is None:
        return "This dataset has no known true risk, so the ECE noise floor cannot be shown."
    where = ("within the range of the true risk's own ECE, the floor that sampling noise puts under any model on "
             "a test set of this size: comparable to it, though a point inside another's interval is no test"
             if ece.value <= oracle.ece.ci_high else
             "above that range: more miscalibration than chance alone leaves on a test set of this size")
    return (f"The generator's true risk, scored the same way, has ECE {interval(oracle.ece, 4)} and ICI "
            f"{interval(oracle.ici, 4)}; the calibrated ECE of {number(ece.value, 4)} lies {where}.")


def ideal_sentence(iv: Any, ideal: float) -> str:
    """Whether an interval holds its ideal value (slope 1, intercept 0): "includes 1" or "excludes 1"."""
    return f"{'includes' if iv.ci_low <= ideal <= iv.ci_high else 'excludes'} {ideal:g}"


def calibration_facts(m: Any, oracle: Any | None) -> dict[str, Any]:
    """Chapter 4's calibration sentences: the calibrator chosen and its rival with their cross-validated
    log losses; ECE, ICI, slope and intercept before and after, with intervals and whether the calibrated
    slope and intercept intervals hold their ideal values; and the true risk's ECE as the floor."""
    other = [k for k in m.calibrator_cv_log_loss if k != m.calibrator][0]
    c, r = m.calibrated, m.raw
    return {"calibrator": calibrator_name(m.calibrator), "other": calibrator_name(other), "loss_best": m.calibrator_cv_log_loss[m.calibrator],
            "loss_other": m.calibrator_cv_log_loss[other], "raw_ece": interval(r.ece, 4),
            "cal_ece": interval(c.ece, 4), "raw_ici": interval(r.ici, 4), "cal_ici": interval(c.ici, 4),
            "raw_slope": interval(r.slope, 2), "cal_slope": interval(c.slope, 2), "raw_int": interval(r.intercept, 2),
            "cal_int": interval(c.intercept, 2), "slope_ideal": ideal_sentence(c.slope, 1.0),
            "int_ideal": ideal_sentence(c.intercept, 0.0), "floor": noise_floor_sentence(c.ece, oracle)}


def worst_bin_facts(y: np.ndarray, p: np.ndarray) -> dict[str, Any]:
    """The reliability bin whose mean prediction is furthest from its observed fraction: its left edge,
    mean prediction, observed fraction and size."""
    bins = reliability_bins(y, p)
    worst = int(np.argmax(np.abs(bins["mean_predicted"] - bins["fraction_positive"])))
    return {"worst_left": bins["bin_left"][worst], "worst_pred": bins["mean_predicted"][worst],
            "worst_obs": bins["fraction_positive"][worst], "worst_n": int(bins["count"][worst])}


def threshold_facts(m: Any, y: np.ndarray, p_cal: np.ndarray) -> dict[str, Any]:
    """Chapter 4's discrimination and threshold sentences: AUROC and AUPRC with intervals, the calibrated
    AUROC and the ties' effect, both thresholds and the metrics at them."""
    cal_auroc = ranking_metrics(y, p_cal)["auroc"]
    t, s = m.at_threshold, m.at_sensitivity
    return {"auroc": interval(m.auroc), "auprc": interval(m.auprc), "cal_auroc": cal_auroc,
            "tie_effect": (f"{cal_auroc - m.auroc.value:+.4f}" if abs(cal_auroc - m.auroc.value) >= 5e-5
                           else "0 (this calibration map keeps every distinct score distinct)"), "threshold": m.threshold, "val_f1": m.validation_f1,
            "sens_threshold": m.sensitivity_threshold, "recall": t["recall"].value,
            "precision": t["precision"].value, "op_recall": s["recall"], "op_precision": s["precision"],
            "op_specificity": s["specificity"]}


def ceiling_facts(m: Any, oracle: Any | None, n_test: int) -> dict[str, Any]:
    """Chapter 4's sentence setting the LSTM's test AUROC and AUPRC beside the true risk's."""
    return {"ceiling": (f"The true risk reaches AUROC {interval(oracle.auroc)} and AUPRC "
                        f"{oracle.auprc.value:.3f} on test; the LSTM's raw scores reach {m.auroc.value:.3f} and "
                        f"{m.auprc.value:.3f}." if oracle is not None else no_ceiling_sentence(n_test))}


def curves_with_oracle(test: EpisodeSet, named: dict[str, np.ndarray]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """(labels, scores) per named test prediction, with the true risk (oracle) added when known."""
    curves = {name: (test.y, p) for name, p in named.items()}
    if test.true_risk is not None:
        curves["true risk (oracle)"] = (test.y, test.true_risk)
    return curves


def report_facts(results: Any) -> dict[str, Any]:
    """Chapter 8's closing sentences from the typed results: epochs, last training and validation AUROC
    and their gap, the test AUROC with its interval, the seeds' spread and the AUROCs set beside it."""
    history, lstm, oracle, base = results.training.history, results.lstm, results.oracle, results.baselines
    seeds = (f"over {len(results.seeds.seeds)} seeds the mean is {results.seeds.spread('auroc')[0]:.3f} "
             f"± {results.seeds.spread('auroc')[1]:.4f} (mean ± SD), and chapter 3's model alone reaches "
             if results.seeds is not None else "chapter 3's model reaches ")
    others = (f" against {oracle.auroc.value:.3f} for the generator's true risk" if oracle is not None
              else " (this dataset has no known true risk, so no ceiling is shown)")
    if base is not None:
        others += (f" and {base['logistic_regression'].evaluation.auroc.value:.3f} for the benchmark logistic "
                   "regression")
    return {"epochs": len(history["loss"]), "train_auroc": history["auroc"][-1],
            "val_auroc": history["val_auroc"][-1], "gap": f"{history['auroc'][-1] - history['val_auroc'][-1]:+.3f}",
            "auroc": interval(lstm.auroc), "seeds": seeds, "others": others}
