"""The mortality technical report and the TRIPOD+AI checklist, rendered as Markdown from typed results.

`render_report(results)` turns the run's `MortalityResults` (`ehrlib.mortality.results`, written by
chapters 03, 04 and 07) into the report page of chapter 08: model, data, test metrics with
intervals, calibration, threshold, baselines, seeds, k-fold validation, decision curve, learning
curve, subgroups, ablation, comparison with published figures, limits; `tripod_checklist(results)`
lists the TRIPOD+AI items with where the book answers each. Fields are read as attributes of the
validated records (no fallbacks): a section whose chapter has not run is `None` and is said so.
Every number in the text comes from `results`; the only typed-in figures are the published anchors
in `PUBLISHED_ANCHORS`, which are other studies' results (with their sources), never ours.
Headings start at `level` (default 2, under the notebook's `#` title) and never skip a level, so the
output is valid MyST.
"""

from __future__ import annotations

from typing import Any

from ehrlib.booktext import interval
from ehrlib.evaluation.bootstrap import Interval
from ehrlib.evaluation.calibration import calibrator_name
from ehrlib.evaluation.metrics import LOWER_IS_BETTER, relative_improvement
from ehrlib.evaluation.protocol import AT_THRESHOLD, CalibrationStats, ModelEvaluation
from ehrlib.mortality.results import MortalityResults, Subgroups

# Published figures, each from the source its row names: Rajkomar et al. 2018 (npj Digital Medicine 1:18,
# doi 10.1038/s41746-018-0029-1), Table 2; Harutyunyan et al. 2019 (Scientific Data 6:96, doi
# 10.1038/s41597-019-0103-9) and the example output in mimic3-benchmarks' `mimic3benchmark/evaluation/README.md`
# (github.com/YerevaNN/mimic3-benchmarks); the README of the public replication this book starts from. These
# are other studies' results on real (or the replication's own synthetic) data, quoted for context.
PUBLISHED_ANCHORS: tuple[dict[str, str], ...] = (
    {"source": "Rajkomar et al. 2018, npj Digit Med 1:18, Table 2",
     "setting": "inpatient mortality, 24 h after admission, deep models (hospital A / B)",
     "auroc": "0.95 / 0.93", "auprc": "not reported"},
    {"source": "Rajkomar et al. 2018, Table 2",
     "setting": "augmented Early Warning Score baseline, 24 h after admission (A / B)",
     "auroc": "0.85 / 0.86", "auprc": "not reported"},
    {"source": "Harutyunyan et al. 2019 (mimic3-benchmarks)",
     "setting": "MIMIC-III in-hospital mortality, logistic regression",
     "auroc": "0.848", "auprc": "0.474"},
    {"source": "mimic3-benchmarks evaluation README",
     "setting": "MIMIC-III in-hospital mortality, LSTM",
     "auroc": "0.870 (0.852 to 0.887)", "auprc": "0.533"},
    {"source": "Public replication README (its own synthetic data)",
     "setting": "its LSTM / its logistic regression (label-driven data: see Limits)",
     "auroc": "0.8638 / 0.7042", "auprc": "0.6396 / 0.4564"},
)

MODEL_NAMES = {"lstm": "LSTM + focal loss", "logistic_regression": "Logistic regression (benchmark)",
               "gbt": "Gradient-boosted trees", "missingness": "Missingness only (observation counts)",
               "news2": "NEWS2-style score"}
LABELS = {"auroc": "AUROC", "auprc": "AUPRC", "recall": "recall", "precision": "precision",
          "specificity": "specificity", "f1": "F1", "accuracy": "accuracy", "brier": "Brier", "ece": "ECE",
          "ici": "ICI"}


def no_ceiling_sentence(n_test: int, what: str = "test episodes") -> str:
    """The sentence a chapter or the report shows instead of the true-risk ceiling on real data."""
    return (f"The {n_test:,} {what} come without a `ground_truth.csv`: this dataset has no known true risk, "
            "so no ceiling (best achievable AUROC) is shown.")


def verdict(diff: Interval, better: str, worse: str) -> str:
    """A comparison phrased from a difference's interval: `better`, `worse`, or no clear difference."""
    if diff.ci_low > 0:
        return better
    if diff.ci_high < 0:
        return worse
    return "no difference the test set can resolve (the interval includes zero)"


def _pct(x: float) -> str:
    return f"{100 * x:.1f} %"


def p_value_text(p: float, n_boot: int) -> str:
    """A bootstrap p-value as text: "p < 0.005" when no replicate crossed zero, else "p = 0.123"."""
    return f"p < {1 / n_boot:.3g}" if p == 0 and n_boot else f"p = {p:.3f}"


def _h(level: int, text: str) -> str:
    return f"{'#' * level} {text}\n"


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def _section_model(r: MortalityResults) -> str:
    tr = r.training
    c = tr.config
    dense = " -> ".join(f"Dense({d}, ReLU, L2 {c['l2']}) -> Dropout({c['head_dropout']})" for d in c["dense"])
    return "\n".join([
        f"Input (48 hourly steps x {tr.n_features} features) -> Masking -> LSTM({c['units']}, dropout "
        f"{c['dropout']}, recurrent dropout {c['recurrent_dropout']}) -> {dense} -> Dense(1, sigmoid); "
        f"{tr.n_parameters:,} trainable parameters. Focal loss with gamma {c['gamma']} and alpha {c['alpha']}, "
        f"Adam with learning rate {c['learning_rate']}, batch {c['batch_size']}, up to {c['max_epochs']} epochs "
        f"with early stopping on validation AUROC (patience {c['patience']}).",
        f"\nTraining ran {tr.epochs_run} epochs, kept the weights of epoch {tr.best_epoch} and took "
        f"{tr.seconds:.0f} s of wall-clock time."]) + "\n"


def _section_data(r: MortalityResults) -> str:
    out: list[str] = []
    if r.data is None:
        out.append("The data summary of chapter 7 was not written in this run.")
        return "\n".join(out) + "\n"
    d = r.data
    rows = [[s, f"{c.n:,}", f"{c.subjects:,}", f"{c.deaths:,}", _pct(c.prevalence)] for s, c in d.splits.items()]
    kind = "Synthetic ICU episodes" if d.has_true_risk else "ICU episodes (no known true risk)"
    out.append(f"{kind} in the MIMIC-III benchmark layout ({d.n_variables} variables, 48 hourly steps), "
               "split by patient:\n")
    out.append(_table(["split", "episodes", "subjects", "deaths", "mortality"], rows))
    return "\n".join(out) + "\n"


def _section_metrics(r: MortalityResults) -> str:
    m = r.lstm
    out: list[str] = []
    out.append(f"Scored once on the {m.n:,} test episodes. AUROC and AUPRC rank the raw scores; the threshold "
               f"metrics use the calibrated probabilities and the threshold chosen on validation. Intervals (in brackets, 95 %): "
               f"{m.n_boot} bootstrap resamples of the test {m.resampling_unit}s.\n")
    rows = [["AUROC (raw scores)", interval(m.auroc)], ["AUPRC (raw scores)", interval(m.auprc)]]
    rows += [[LABELS[k].capitalize() if k != "f1" else "F1", interval(m.at_threshold[k])] for k in AT_THRESHOLD]
    out.append(_table(["metric", "LSTM"], rows))
    (tn, fp), (fn, tp) = m.confusion_matrix
    out.append(f"Confusion matrix at the threshold: {tp} deaths flagged, {fn} missed, {fp} false alarms, "
               f"{tn} survivors correctly not flagged.")
    if r.oracle is None:
        out.append("\n" + no_ceiling_sentence(m.n))
    else:
        out.append(f"\nThe best achievable on this test set, ranking by the generator's true risk, is AUROC "
                   f"{interval(r.oracle.auroc)} and AUPRC {interval(r.oracle.auprc)}. " + oracle_gap_sentence(r))
    return "\n".join(out) + "\n"


def oracle_gap_sentence(r: MortalityResults) -> str:
    """The LSTM's AUROC minus the true risk's: with its paired interval when chapter 7 computed it, else
    the difference of the two point estimates."""
    if r.oracle_gaps is not None and "lstm" in r.oracle_gaps:
        return (f"The LSTM's AUROC minus the true risk's, paired on the same subject resamples, is "
                f"{interval(r.oracle_gaps['lstm'], signed=True)}.")
    return f"The LSTM's AUROC is {r.oracle.auroc.value - r.lstm.auroc.value:.3f} below it (point estimates)."


def _calibration_row(name: str, c: CalibrationStats) -> list[str]:
    return [name, interval(c.brier, 4), interval(c.ece, 4), interval(c.ici, 4), interval(c.slope, 2), interval(c.intercept, 2),
            f"{c.n_exact_zero + c.n_exact_one}"]


def _section_calibration(r: MortalityResults) -> str:
    m = r.lstm
    out: list[str] = []
    losses = ", ".join(f"{calibrator_name(k)} {v:.4f}" for k, v in m.calibrator_cv_log_loss.items())
    out.append(f"The calibrator was chosen on validation by cross-validated log loss ({losses}): **{calibrator_name(m.calibrator)}**. "
               "On the test set:\n")
    rows = ([_calibration_row("raw (focal loss)", m.raw)] if m.raw is not None else [])
    rows.append(_calibration_row(f"{calibrator_name(m.calibrator)}, fitted on validation", m.calibrated))
    out.append(_table(["probabilities", "Brier", "ECE (10 bins)", "ICI", "slope", "intercept", "exact 0 or 1"], rows))
    if r.oracle is not None:
        out.append(f"The generator's true risk itself has ECE {interval(r.oracle.ece, 4)} and ICI {interval(r.oracle.ici, 4)} on "
                   "this test set: the noise floor that finite samples put under any model's ECE.")
    return "\n".join(out) + "\n"


def _section_threshold(r: MortalityResults) -> str:
    m = r.lstm
    t = m.at_threshold
    s = m.at_sensitivity
    return (f"The threshold {m.threshold:.3f} maximises F1 on the validation set (validation F1 {m.validation_f1:.3f}); "
            f"on test it gives recall {t['recall'].value:.3f}, precision {t['precision'].value:.3f} and F1 "
            f"{t['f1'].value:.3f}. A clinician preferring {_pct(m.sensitivity_target)} sensitivity would use "
            f"threshold {m.sensitivity_threshold:.3f} (chosen on validation): on test, recall {s['recall']:.3f}, "
            f"specificity {s['specificity']:.3f}, precision {s['precision']:.3f}.\n")


def ordered(keys: Any) -> list[str]:
    """Model keys in the report's order: LSTM, then the known baselines, then any others."""
    keys = list(keys)
    return [k for k in MODEL_NAMES if k in keys] + sorted(k for k in keys if k not in MODEL_NAMES)


def models_of(r: MortalityResults) -> dict[str, ModelEvaluation]:
    """Every evaluated model of the run (the LSTM first), by key."""
    found = {"lstm": r.lstm} if r.lstm is not None else {}
    found.update({k: b.evaluation for k, b in (r.baselines or {}).items()})
    return {k: found[k] for k in ordered(found)}


ORACLE_GAP = "AUROC minus the true risk's"


def comparison_rows(models: dict[str, ModelEvaluation], oracle_gaps: dict[str, Interval] | None = None
                    ) -> list[dict[str, Any]]:
    """One row per model: AUROC/AUPRC (raw) with intervals, threshold metrics, calibrated Brier/ECE/ICI,
    the calibrator, and (when given) its AUROC minus the true risk's, paired on the same resamples."""
    rows = []
    for key, m in models.items():
        row: dict[str, Any] = {"model": MODEL_NAMES.get(key, key), "AUROC": interval(m.auroc), "AUPRC": interval(m.auprc)}
        row.update({"recall": m.at_threshold["recall"].value, "precision": m.at_threshold["precision"].value,
                    "F1": m.at_threshold["f1"].value, "Brier": m.calibrated.brier.value,
                    "ECE": m.calibrated.ece.value, "ICI": m.calibrated.ici.value, "calibrator": calibrator_name(m.calibrator)})
        if oracle_gaps is not None:
            row[ORACLE_GAP] = interval(oracle_gaps[key], signed=True)
        rows.append(row)
    return rows


def _section_baselines(r: MortalityResults) -> str:
    out: list[str] = []
    if r.baselines is None:
        out.append("The baselines of chapter 7 were not run.")
        return "\n".join(out) + "\n"
    table = [[MODEL_NAMES.get(k, k), interval(m.auroc), interval(m.auprc), f"{m.at_threshold['f1'].value:.3f}",
              f"{m.calibrated.brier.value:.4f}", f"{m.calibrated.ece.value:.4f}", calibrator_name(m.calibrator)]
             for k, m in models_of(r).items()]
    out.append("All models were fitted on the training split, calibrated and thresholded on validation, and "
               "scored once on test (AUROC/AUPRC on raw scores).\n")
    out.append(_table(["model", "AUROC", "AUPRC", "F1", "Brier", "ECE", "calibrator"], table))
    if r.oracle is not None:
        out.append(f"For scale: the true-risk oracle reaches AUROC {r.oracle.auroc.value:.3f} on the same test set.")
    if r.comparison is not None:
        a, p = r.comparison.auroc, r.comparison.auprc
        out.append(f"\nPaired subject bootstrap on the test set, LSTM minus logistic regression (raw scores): AUROC "
                   f"difference {interval(a.difference, signed=True)} ({p_value_text(a.p_value, a.n_boot)}): "
                   f"{verdict(a.difference, 'the LSTM ranks better', 'the regression ranks better')}. AUPRC "
                   f"difference {interval(p.difference, signed=True)}.")
    if r.best_baseline is not None:
        b = r.best_baseline
        out.append(f"\nThe best baseline on validation AUROC is the {MODEL_NAMES.get(b.model, b.model).lower()} "
                   f"({b.validation_auroc[b.model]:.3f}); on test the LSTM minus it is "
                   f"{interval(b.comparison.auroc.difference, signed=True)}: "
                   f"{verdict(b.comparison.auroc.difference, 'the LSTM ranks better', 'the baseline ranks better')}.")
    return "\n".join(out) + "\n"


def improvement_rows(model: ModelEvaluation, reference: ModelEvaluation) -> list[list[str]]:
    """Rows (metric, model, reference, improvement %) with the sign fixed so positive always means better."""
    pairs = {"auroc": (model.auroc.value, reference.auroc.value), "auprc": (model.auprc.value, reference.auprc.value),
             **{k: (model.at_threshold[k].value, reference.at_threshold[k].value) for k in AT_THRESHOLD},
             "brier": (model.calibrated.brier.value, reference.calibrated.brier.value),
             "ece": (model.calibrated.ece.value, reference.calibrated.ece.value),
             "ici": (model.calibrated.ici.value, reference.calibrated.ici.value)}
    return [[LABELS[k] + (" (lower is better)" if k in LOWER_IS_BETTER else ""), f"{a:.4f}", f"{b:.4f}",
             f"{relative_improvement(k, a, b):+.1f} %"] for k, (a, b) in pairs.items()]


def _section_improvement(r: MortalityResults) -> str:
    out: list[str] = []
    if r.baselines is None:
        out.append("The baselines of chapter 7 were not run.")
        return "\n".join(out) + "\n"
    out.append("Improvement is signed so that a positive value is always better for the LSTM (for Brier, ECE and "
               "ICI, lower values are better). Threshold metrics depend on each model's own threshold.\n")
    out.append(_table(["metric", "LSTM", "logistic regression", "improvement"],
                      improvement_rows(r.lstm, r.baselines["logistic_regression"].evaluation)))
    return "\n".join(out) + "\n"


def _section_seeds(r: MortalityResults) -> str:
    out: list[str] = []
    if r.seeds is None:
        out.append("The LSTM was trained with one seed only in this run.")
        return "\n".join(out) + "\n"
    s = r.seeds
    mean, sd, lo, hi = s.spread("auroc")
    dmean, dsd, dlo, dhi = s.spread("diff_auroc")
    rows = [[str(seed), f"{a:.3f}", f"{p:.3f}", interval(d, signed=True)]
            for seed, a, p, d in zip(s.seeds, s.auroc, s.auprc, s.diff_auroc)]
    out.append(f"The LSTM retrained with {len(s.seeds)} seeds (same data and configuration) reaches a raw test "
               f"AUROC of {mean:.4f} ± {sd:.4f} (mean ± SD; range {lo:.4f}-{hi:.4f}); minus the regression, "
               f"{dmean:+.4f} ± {dsd:.4f} (range {dlo:+.4f} to {dhi:+.4f}).\n")
    out.append(_table(["seed", "AUROC", "AUPRC", "LSTM - LR AUROC (95 % CI)"], rows))
    return "\n".join(out) + "\n"


def _section_kfold(r: MortalityResults) -> str:
    out: list[str] = []
    if r.kfold is None:
        out.append("K-fold validation was not run.")
        return "\n".join(out) + "\n"
    kf = r.kfold
    out.append(f"{kf.n_splits} folds over the {kf.n_episodes:,} training and validation episodes, stratified and "
               "grouped by patient; in each fold the preprocessor, model, calibrator and threshold were fitted on "
               "the training part (an inner validation set, by patient, for early stopping, calibration and "
               "threshold) and scored on the held-out fold. Mean ± SD across folds:\n")
    keys = ("auroc", "auprc", "f1", "brier")
    names = [n for n in ordered(kf.summary) if n != "oracle"] + (["oracle"] if "oracle" in kf.summary else [])
    rows = [[MODEL_NAMES.get(n, "true-risk oracle" if n == "oracle" else n)]
            + [f"{kf.summary[n][k]['mean']:.3f} ± {kf.summary[n][k]['sd']:.3f}" if k in kf.summary[n] else "-"
               for k in keys] for n in names]
    out.append(_table(["model", "AUROC", "AUPRC", "F1", "Brier"], rows))
    out.append("LSTM minus regression AUROC per fold: " + ", ".join(f"{d:+.3f}" for d in kf.diff_auroc) + ".")
    return "\n".join(out) + "\n"


def _section_decision(r: MortalityResults) -> str:
    out: list[str] = []
    if r.decision_curve is None:
        out.append("The decision curve was not computed in this run.")
        return "\n".join(out) + "\n"
    dc = r.decision_curve
    rows = []
    for name, t in dc.marks.items():
        i = int(abs(dc.thresholds - t).argmin())
        rows.append([f"{name} ({dc.thresholds[i]:.2f})"] + [f"{dc.net_benefit[k][i]:.4f}" for k in dc.net_benefit])
    out.append("Net benefit (true positives minus weighted false positives, per patient) of acting on each "
               "model's calibrated probabilities, at the grid threshold nearest each marked point:\n")
    out.append(_table(["threshold"] + list(dc.net_benefit), rows))
    if dc.at_threshold is not None:
        at = dc.at_threshold
        out.append(f"At the LSTM's F1-optimal threshold ({at.threshold:.3f}) its net benefit is "
                   f"{interval(at.model, 4)} against {interval(at.treat_all, 4)} for treating everyone; the "
                   f"difference is {interval(at.difference, 4, signed=True)} (subject bootstrap, paired).")
    return "\n".join(out) + "\n"


def _section_learning(r: MortalityResults) -> str:
    out: list[str] = []
    if r.learning_curve is None:
        out.append("The learning curve was not computed in this run.")
        return "\n".join(out) + "\n"
    lc = r.learning_curve
    rows = [[f"{n:,}"] + [interval(lc.auroc[m][i]) for m in lc.auroc] for i, n in enumerate(lc.sizes)]
    out.append("Test AUROC (raw scores) against the number of training episodes (whole subjects subsampled; "
               "validation and test fixed):\n")
    out.append(_table(["training episodes"] + [MODEL_NAMES.get(m, m) for m in lc.auroc], rows))
    return "\n".join(out) + "\n"


SUBGROUP_COLUMNS = ["attribute", "level", "model", "episodes", "deaths", "AUROC", "calibration-in-the-large"]


def subgroup_table_rows(sub: Subgroups) -> list[list[str]]:
    """One row per subgroup and model (`SUBGROUP_COLUMNS`): episodes, deaths, AUROC of the raw scores and
    calibration-in-the-large of the calibrated probabilities, with their subject-bootstrap intervals."""
    return [[g.attribute, g.level, MODEL_NAMES.get(g.model, g.model), f"{g.n:,}", f"{g.deaths:,}",
             interval(g.auroc) if g.auroc is not None else "too few deaths", interval(g.citl, signed=True)]
            for g in sub.rows]


def subgroup_sentence(sub: Subgroups, model: str = "lstm") -> str:
    """The range of `model`'s subgroup AUROC and how many of its subgroups' calibration-in-the-large
    intervals exclude zero (or why there are no subgroups)."""
    ranked = [g for g in sub.rows if g.model == model and g.auroc is not None]
    if not ranked:
        return sub.reason or "No subgroup has enough deaths and survivors to rank."
    lo, hi = min(ranked, key=lambda g: g.auroc.value), max(ranked, key=lambda g: g.auroc.value)
    own = [g for g in sub.rows if g.model == model]
    name = "LSTM" if model == "lstm" else MODEL_NAMES.get(model, model)
    worst = max(own, key=lambda g: abs(g.citl.value))
    side = "over-predicts" if worst.citl.value > 0 else "under-predicts"
    c = worst.citl
    size = (interval(Interval(abs(c.value), *sorted((abs(c.ci_low), abs(c.ci_high))))) if c.excludes(0)
            else interval(c, signed=True))
    return (f"The {name}'s subgroup AUROC ranges from {lo.auroc.value:.3f} ({lo.attribute} {lo.level}) to "
            f"{hi.auroc.value:.3f} ({hi.attribute} {hi.level}); {sum(g.citl.excludes(0) for g in own)} of its "
            f"{len(own)} subgroups have a calibration-in-the-large interval that excludes zero. It is furthest "
            f"off in {worst.attribute} {worst.level} ({worst.n:,} episodes, {worst.deaths:,} deaths), where it "
            f"{side} mortality by {size}"
            f"{'' if worst.citl.excludes(0) else '; the interval includes zero'}.")


def _section_subgroups(r: MortalityResults) -> str:
    out: list[str] = []
    if r.subgroups is None:
        out.append("Subgroups were not evaluated in this run.")
    elif not r.subgroups.available:
        out.append(r.subgroups.reason)
    else:
        out.append("AUROC (raw scores) and calibration-in-the-large (mean calibrated risk minus observed mortality; "
                   "0 is ideal) within each subgroup of the test set, with subject-bootstrap intervals:\n")
        out.append(_table(SUBGROUP_COLUMNS, subgroup_table_rows(r.subgroups)))
        out.append(subgroup_sentence(r.subgroups))
    return "\n".join(out) + "\n"


def _section_ablation(r: MortalityResults) -> str:
    out: list[str] = []
    if r.ablation is None:
        out.append("The missingness ablation was not run.")
        return "\n".join(out) + "\n"
    ab = r.ablation
    settings = list(dict.fromkeys(row.setting for row in ab.rows))
    models = list(dict.fromkeys(row.model for row in ab.rows))
    cell = {(row.setting, row.model): interval(row.auroc) for row in ab.rows}
    out.append(f"Datasets of {ab.n_episodes:,} episodes generated with the missing-at-random and missing-not-at-random "
               "mechanisms switched off, otherwise identical; test AUROC of each model:\n")
    out.append(_table(["setting"] + [MODEL_NAMES.get(m, m) for m in models],
                      [[s] + [cell[(s, m)] for m in models] for s in settings]))
    return "\n".join(out) + "\n"


def _section_anchors(r: MortalityResults, anchors: tuple[dict[str, str], ...]) -> str:
    out: list[str] = []
    caveat = ("they are not comparable one to one with numbers on synthetic data" if r.oracle is not None
              else "cohorts, time windows and splits differ, so compare with care")
    out.append("Published results on real MIMIC-III or hospital data (and the public replication's own figures), "
               f"quoted for context; {caveat}.\n")
    out.append(_table(["source", "setting", "AUROC", "AUPRC"],
                      [[a["source"], a["setting"], a["auroc"], a["auprc"]] for a in anchors]))
    ours = [[MODEL_NAMES.get(k, k), f"{m.auroc.value:.3f}", f"{m.auprc.value:.3f}"] for k, m in models_of(r).items()]
    if r.oracle is not None:
        ours.append(["true-risk oracle", f"{r.oracle.auroc.value:.3f}", f"{r.oracle.auprc.value:.3f}"])
    out.append(f"\nThis run, on its {'synthetic ' if r.oracle is not None else ''}test set:\n")
    out.append(_table(["model", "AUROC", "AUPRC"], ours))
    return "\n".join(out) + "\n"


def _section_timings(r: MortalityResults) -> str:
    out: list[str] = []
    t = {"lstm_training_seconds": r.training.seconds, **r.timings}
    out.append("Wall-clock times measured in this build (on a shared machine, so indicative only):\n")
    out.append(_table(["step", "seconds"], [[k.removesuffix("_seconds").replace("_", " "), f"{float(v):.1f}"]
                                            for k, v in t.items()]))
    return "\n".join(out) + "\n"


def limits(r: MortalityResults) -> list[str]:
    """The report's list of limits, each phrased from this run's numbers."""
    m = r.lstm
    if r.oracle is not None:
        items = ["The data are synthetic: labels are drawn from a latent risk the generator knows, and the "
                 "measurements follow the patient's simulated state, not the label. Absolute numbers say how well "
                 "each method recovers that simulated risk, not how it would do in a hospital.",
                 oracle_gap_sentence(r).rstrip(".") + ": that much ranking ability is left on the table."]
    else:
        items = ["This dataset has no known true risk, so how far each model is from the best achievable ranking "
                 "cannot be measured; only the comparison between the models and with published figures remains."]
    if r.comparison is not None:
        items.append("LSTM against the benchmark logistic regression on test: "
                     + verdict(r.comparison.auroc.difference, "the LSTM ranks better.",
                               "the regression ranks better.").rstrip(".") + ".")
    precision = m.at_threshold["precision"]
    if precision.ci_high < 0.5:
        items.append(f"At the F1-optimal threshold, fewer than half of the flagged patients die (precision "
                     f"{interval(precision)}, the whole interval below one half): alarms would be mostly false.")
    elif precision.value < 0.5:
        items.append(f"At the F1-optimal threshold about {round(10 * precision.value)} in 10 flagged patients die "
                     f"(precision {interval(precision)}): many alarms would be false.")
    if r.kfold is not None and "lstm" in r.kfold.summary:
        items.append(f"Across folds the LSTM's AUROC varies with SD {r.kfold.summary['lstm']['auroc']['sd']:.3f}.")
    news = r.baselines["news2"].notes if r.baselines is not None else None
    if news is not None:
        parts = [("consciousness from the Glasgow coma scale" if news["consciousness_from_gcs"]
                  else "no consciousness item (the data chart none)"),
                 ("supplemental oxygen from FiO2" if news["oxygen_from_fio2"] else "no supplemental-oxygen item")]
        items.append(f"The NEWS2-style score has {parts[0]} and {parts[1]}, so it is an adaptation (see chapter 7) "
                     "and the comparison with Rajkomar et al.'s early-warning score is only indicative.")
    return items


def _section_limits(r: MortalityResults) -> str:
    return "\n".join(f"- {t}" for t in limits(r)) + "\n"


#: The report's sections in order: key, heading, and the function writing its body from the results.
REPORT_SECTIONS: tuple[tuple[str, str, Any], ...] = (
    ("model", "Model", _section_model), ("data", "Data", _section_data),
    ("metrics", "Test metrics", _section_metrics), ("calibration", "Calibration", _section_calibration),
    ("threshold", "Decision threshold", _section_threshold), ("baselines", "Baselines", _section_baselines),
    ("improvement", "LSTM against the benchmark regression, metric by metric", _section_improvement),
    ("seeds", "Seeds", _section_seeds), ("kfold", "K-fold validation", _section_kfold),
    ("decision", "Decision curve", _section_decision), ("learning", "Learning curve", _section_learning),
    ("subgroups", "Subgroups", _section_subgroups), ("ablation", "Missingness ablation", _section_ablation),
    ("anchors", "Comparison with published figures", None), ("timings", "Run time", _section_timings),
    ("limits", "Limits", _section_limits))


def section(name: str, results: MortalityResults, anchors: tuple[dict[str, str], ...] = PUBLISHED_ANCHORS) -> str:
    """The body (Markdown, no heading) of one report section, by its key in `REPORT_SECTIONS`."""
    if results.lstm is None or results.training is None:
        raise ValueError("results have no 'lstm' or 'training' section: run chapters 03 and 04 first")
    found = {key: fn for key, _, fn in REPORT_SECTIONS}
    if name not in found:
        raise ValueError(f"no report section {name!r}; known: {sorted(found)}")
    return _section_anchors(results, anchors) if name == "anchors" else found[name](results)


def render_report(results: MortalityResults, anchors: tuple[dict[str, str], ...] = PUBLISHED_ANCHORS,
                  level: int = 2) -> str:
    """Markdown report of a mortality run, every section under its heading; headings at `level`. Needs
    chapters 03 and 04's sections."""
    if not 1 <= level <= 5:
        raise ValueError(f"heading level must be 1..5, got {level}")
    return "\n".join(_h(level, title) + "\n" + section(key, results, anchors) for key, title, _ in REPORT_SECTIONS)


def metrics_summary(lstm: ModelEvaluation, baseline: ModelEvaluation) -> dict[str, Any]:
    """The replication's `metrics_summary.json`: LSTM and baseline test metrics side by side, the
    improvement (%) of the former over the latter (positive = better, also for lower-is-better
    metrics), and the threshold."""
    def flat(m: ModelEvaluation) -> dict[str, float]:
        return {"auroc": m.auroc.value, "auprc": m.auprc.value, **{k: m.at_threshold[k].value for k in AT_THRESHOLD},
                "brier": m.calibrated.brier.value, "ece": m.calibrated.ece.value}

    dl, bl = flat(lstm), flat(baseline)
    return {"deep_learning": dl, "baseline": bl,
            "improvement_percent": {k: relative_improvement(k, dl[k], bl[k]) for k in dl},
            "lower_is_better": sorted(LOWER_IS_BETTER & set(dl)), "optimal_threshold": lstm.threshold}
