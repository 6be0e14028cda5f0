"""The mortality technical report, rendered as Markdown from the run's metrics file.

`render_report(metrics)` turns `data/results/<profile>/mortality_metrics.json` (written by chapters
03, 04 and 07) into the report page of chapter 08: model, data, test metrics with intervals,
calibration, threshold, baselines, k-fold validation, comparison with published figures, limits.
Every number in the text comes from `metrics`; the only typed-in figures are the published anchors
in `PUBLISHED_ANCHORS`, which are other studies' results (with their sources), never ours.
Headings start at `level` (default 2, under the notebook's `#` title) and never skip a level, so the
output is valid MyST.
"""

from __future__ import annotations

from typing import Any

# Published figures, copied from /work/shared/REFERENCE.md ("Published results (anchors)"). These are
# other studies' results on real (or the replication's own synthetic) data, quoted for context.
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
     "auroc": "0.870 (95 % CI 0.852-0.887)", "auprc": "0.533"},
    {"source": "Public replication README (its own synthetic data)",
     "setting": "its LSTM / its logistic regression (label-driven data: see Limits)",
     "auroc": "0.8638 / 0.7042", "auprc": "0.6396 / 0.4564"},
)

MODEL_NAMES = {"lstm": "LSTM + focal loss (calibrated)", "logistic_regression": "Logistic regression (benchmark)",
               "gbt": "Gradient-boosted trees", "news2": "NEWS2-style score (calibrated)"}


def _oracle(m: dict[str, Any]) -> dict[str, Any] | None:
    """The run's true-risk oracle metrics, or None when the dataset has no known true risk (real data)."""
    o = m.get("oracle")
    return o if isinstance(o, dict) and "auroc" in o else None


def no_ceiling_sentence(n_test: int, what: str = "test episodes") -> str:
    """The sentence a chapter or the report shows instead of the true-risk ceiling on real data."""
    return (f"The {n_test:,} {what} come without a `ground_truth.csv`: this dataset has no known true risk, "
            "so no ceiling (best achievable AUROC) is shown.")


def _v(entry: Any) -> float:
    return float(entry["value"]) if isinstance(entry, dict) else float(entry)


def _ci(entry: Any, digits: int = 3) -> str:
    """'0.812 (95 % CI 0.790-0.833)' for an interval entry, or the bare number."""
    if isinstance(entry, dict) and "ci_low" in entry:
        return f"{entry['value']:.{digits}f} (95 % CI {entry['ci_low']:.{digits}f}-{entry['ci_high']:.{digits}f})"
    return f"{_v(entry):.{digits}f}"


def _pct(x: float) -> str:
    return f"{100 * x:.1f} %"


def _monitor(name: str) -> str:
    return {"val_auroc": "AUROC", "val_auprc": "AUPRC", "val_loss": "loss"}.get(name, name)


def _p_value(p: float, n_boot: int) -> str:
    return f"p < {1 / n_boot:.3g}" if p == 0 and n_boot else f"p = {p:.3f}"


def _h(level: int, text: str) -> str:
    return f"{'#' * level} {text}\n"


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def _section_model(m: dict[str, Any], level: int) -> str:
    tr = m.get("lstm_training", {})
    cfg = tr.get("config", {})
    out = [_h(level, "Model")]
    if cfg:
        dense = " -> ".join(f"Dense({d}, ReLU, L2 {cfg.get('l2')}) -> Dropout({cfg.get('head_dropout')})"
                            for d in cfg.get("dense", []))
        out.append(f"Input (48 hourly steps x features) -> Masking -> LSTM({cfg.get('units')}, dropout "
                   f"{cfg.get('dropout')}, recurrent dropout {cfg.get('recurrent_dropout')}) -> {dense} -> "
                   f"Dense(1, sigmoid). Focal loss with gamma {cfg.get('gamma')} and alpha {cfg.get('alpha')} "
                   f"(alpha weighting the positive class), Adam with learning rate {cfg.get('learning_rate')}, "
                   f"batch {cfg.get('batch_size')}, up to {cfg.get('max_epochs')} epochs with early stopping "
                   f"on validation {_monitor(cfg.get('monitor', 'val_auroc'))} (patience {cfg.get('patience')}).")
    else:
        out.append("An LSTM over 48 hourly steps with a Masking layer, two regularised dense layers and a "
                   "sigmoid output, trained with focal loss (the training record holds no configuration).")
    facts = []
    if "epochs_run" in tr:
        facts.append(f"Training ran {tr['epochs_run']} epochs")
        if "best_epoch" in tr:
            facts.append(f"kept the weights of epoch {tr['best_epoch']}")
    if "seconds" in tr:
        facts.append(f"took {tr['seconds']:.0f} s of wall-clock time")
    if facts:
        out.append("\n" + ", ".join(facts[:-1]) + (" and " if len(facts) > 1 else "") + facts[-1] + ".")
    return "\n".join(out) + "\n"


def _section_data(m: dict[str, Any], level: int) -> str:
    d = m.get("data", {})
    out = [_h(level, "Data")]
    if d:
        rows = [[s, f"{d[s]['n']:,}", f"{d[s]['deaths']:,}", _pct(d[s]["prevalence"])]
                for s in ("train", "val", "test") if s in d]
        kind = "Synthetic ICU episodes" if _oracle(m) is not None else "ICU episodes (no known true risk)"
        out.append(f"{kind} in the MIMIC-III benchmark layout ({d.get('n_variables', 'several')} "
                   "variables, 48 hourly steps), split by patient:\n")
        out.append(_table(["split", "episodes", "deaths", "mortality"], rows))
    else:
        test = m.get("lstm", {})
        out.append(f"The test split holds {test.get('n', 0):,} episodes with mortality "
                   f"{_pct(test.get('prevalence', 0.0))} (split sizes were not recorded in this run).")
    return "\n".join(out) + "\n"


def _section_metrics(m: dict[str, Any], level: int) -> str:
    lstm = m["lstm"]
    out = [_h(level, "Test metrics")]
    out.append(f"Scored once on the {lstm['n']:,} test episodes (calibrated probabilities, threshold chosen on "
               f"validation; intervals: {lstm.get('n_boot', 'percentile')} bootstrap resamples of the test set).\n")
    rows = [["AUROC", _ci(lstm["auroc"])], ["AUPRC", _ci(lstm["auprc"])]]
    rows += [[k.capitalize() if k != "f1" else "F1", f"{lstm[k]:.3f}"]
             for k in ("recall", "precision", "specificity", "f1", "accuracy")]
    rows += [["Brier score", f"{lstm['brier']:.4f}"], ["ECE (10 bins)", f"{lstm['ece']:.4f}"]]
    out.append(_table(["metric", "LSTM"], rows))
    (tn, fp), (fn, tp) = lstm["confusion_matrix"]
    out.append(f"Confusion matrix at the threshold: {tp} deaths flagged, {fn} missed, {fp} false alarms, "
               f"{tn} survivors correctly not flagged.")
    o = _oracle(m)
    if o is None:
        out.append("\n" + no_ceiling_sentence(int(lstm["n"])))
    else:
        out.append(f"\nThe best achievable on this test set, ranking by the generator's true risk, is AUROC "
                   f"{_v(o['auroc']):.3f} and AUPRC {_v(o['auprc']):.3f}: the LSTM reaches "
                   f"{_pct(_v(lstm['auroc']) / _v(o['auroc']))} of the oracle AUROC.")
    return "\n".join(out) + "\n"


def _section_calibration(m: dict[str, Any], level: int) -> str:
    lstm = m["lstm"]
    raw, cal = lstm.get("raw", {}), lstm.get("calibration", {})
    out = [_h(level, "Calibration")]
    if raw and cal:
        rows = [[name, f"{d['brier']:.4f}", f"{d['ece']:.4f}", f"{d['slope']:.2f}", f"{d['intercept']:.2f}"]
                for name, d in (("raw (focal loss)", raw), ("isotonic, fitted on validation", cal))]
        out.append("An isotonic regression fitted on the validation predictions maps the network's scores to "
                   "probabilities. On the test set:\n")
        out.append(_table(["probabilities", "Brier", "ECE", "slope", "intercept"], rows))
        better = "lowers" if cal["ece"] < raw["ece"] else "does not lower"
        out.append(f"Calibration {better} the expected calibration error ({raw['ece']:.4f} -> {cal['ece']:.4f}); "
                   "slope 1 and intercept 0 would be perfect.")
    else:
        out.append("Calibration statistics were not recorded in this run.")
    return "\n".join(out) + "\n"


def _section_threshold(m: dict[str, Any], level: int) -> str:
    lstm = m["lstm"]
    tc = lstm.get("threshold_choice", {})
    out = [_h(level, "Decision threshold"), "\n"]
    out.append(f"The threshold {lstm['threshold']:.3f} maximises F1 on the validation set"
               + (f" (validation F1 {tc['validation_f1']:.3f})" if "validation_f1" in tc else "")
               + f"; on test it gives recall {lstm['recall']:.3f}, precision {lstm['precision']:.3f} "
               f"and F1 {lstm['f1']:.3f}.")
    op = lstm.get("sensitivity_operating_point")
    if op:
        out.append(f" A clinician preferring {_pct(op['target'])} sensitivity would use threshold "
                   f"{op['threshold']:.3f} (chosen on validation): on test, recall {op['recall']:.3f}, "
                   f"specificity {op['specificity']:.3f}, precision {op['precision']:.3f}.")
    return "".join(out) + "\n"


def _ordered(keys: Any) -> list[str]:
    """Model keys in the report's order: LSTM, then the known baselines, then any others."""
    keys = list(keys)
    return [k for k in MODEL_NAMES if k in keys] + sorted(k for k in keys if k not in MODEL_NAMES)


def _model_rows(m: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    models = {k: v for k, v in m.get("baselines", {}).items() if isinstance(v, dict) and "auroc" in v}
    if "lstm" in m:
        models["lstm"] = m["lstm"]
    return [(k, models[k]) for k in _ordered(models)]


def _section_baselines(m: dict[str, Any], level: int) -> str:
    out = [_h(level, "Baselines")]
    rows = _model_rows(m)
    if len(rows) > 1:
        oracle = _v(_oracle(m)["auroc"]) if _oracle(m) is not None else None
        table = [[MODEL_NAMES.get(k, k), _ci(v["auroc"]), _ci(v["auprc"]), f"{v['f1']:.3f}", f"{v['brier']:.4f}"]
                 for k, v in rows]
        header = ["model", "AUROC", "AUPRC", "F1", "Brier"]
        out.append("All models were fitted on the training split, calibrated and thresholded on validation, and "
                   "scored once on test.\n")
        out.append(_table(header, table))
        if oracle is not None:
            out.append(f"For scale: the true-risk oracle reaches AUROC {oracle:.3f} on the same test set.")
        cmp = m.get("comparison", {}).get("lstm_vs_lr")
        if cmp:
            a = cmp["auroc"]
            verdict = ("the interval excludes zero" if a["ci_low"] > 0 or a["ci_high"] < 0
                       else "the interval includes zero: no clear difference")
            out.append(f"\nPaired bootstrap on the test set, LSTM minus logistic regression: AUROC difference "
                       f"{a['value']:+.3f} (95 % CI {a['ci_low']:+.3f} to {a['ci_high']:+.3f}, "
                       f"{_p_value(a['p_value'], a.get('n_boot', 0))}); "
                       f"{verdict}. AUPRC difference {cmp['auprc']['value']:+.3f} "
                       f"({cmp['auprc']['ci_low']:+.3f} to {cmp['auprc']['ci_high']:+.3f}).")
    else:
        out.append("The baselines of chapter 7 were not run.")
    return "\n".join(out) + "\n"


def _section_kfold(m: dict[str, Any], level: int) -> str:
    out = [_h(level, "K-fold validation")]
    kf = m.get("kfold")
    if not kf:
        out.append("K-fold validation was not run.")
        return "\n".join(out) + "\n"
    cfg, summ = kf["config"], kf["summary"]
    out.append(f"{cfg['n_splits']} folds over the {cfg['n_episodes']:,} training and validation episodes, "
               "stratified and grouped by patient; in each fold the preprocessor, model, calibrator and threshold "
               "were fitted on the training part (an inner validation set, by patient, for early stopping, "
               "calibration and threshold) and scored on the held-out fold. Mean ± SD across folds:\n")
    names = _ordered(k for k in summ if k != "oracle")  # the oracle only exists on synthetic data
    keys = ("auroc", "auprc", "f1", "brier")
    rows = [[MODEL_NAMES.get(n, n)] + [f"{summ[n][k]['mean']:.3f} ± {summ[n][k]['sd']:.3f}" for k in keys]
            for n in names]
    if "oracle" in summ:
        rows.append(["true-risk oracle"] + [f"{summ['oracle'][k]['mean']:.3f} ± {summ['oracle'][k]['sd']:.3f}"
                                            if k in summ["oracle"] else "-" for k in keys])
    out.append(_table(["model", "AUROC", "AUPRC", "F1", "Brier"], rows))
    return "\n".join(out) + "\n"


def _section_anchors(m: dict[str, Any], anchors: tuple[dict[str, str], ...], level: int) -> str:
    out = [_h(level, "Comparison with published figures")]
    caveat = ("they are not comparable one to one with numbers on synthetic data" if _oracle(m) is not None
              else "cohorts, time windows and splits differ, so compare with care")
    out.append("Published results on real MIMIC-III or hospital data (and the public replication's own figures), "
               f"quoted for context; {caveat}.\n")
    out.append(_table(["source", "setting", "AUROC", "AUPRC"],
                      [[a["source"], a["setting"], a["auroc"], a["auprc"]] for a in anchors]))
    ours = [[MODEL_NAMES.get(k, k), f"{_v(v['auroc']):.3f}", f"{_v(v['auprc']):.3f}"] for k, v in _model_rows(m)]
    o = _oracle(m)
    if o is not None:
        ours.append(["true-risk oracle", f"{_v(o['auroc']):.3f}", f"{_v(o['auprc']):.3f}"])
    out.append(f"\nThis run, on its {'synthetic ' if o is not None else ''}test set:\n")
    out.append(_table(["model", "AUROC", "AUPRC"], ours))
    return "\n".join(out) + "\n"


def _section_timings(m: dict[str, Any], level: int) -> str:
    out = [_h(level, "Run time")]
    t = dict(m.get("timings", {}))
    if "seconds" in m.get("lstm_training", {}):
        t = {"lstm_training_seconds": m["lstm_training"]["seconds"], **t}
    if t:
        out.append("Wall-clock times measured in this build (on a shared machine, so indicative only):\n")
        out.append(_table(["step", "seconds"], [[k.removesuffix("_seconds").replace("_", " "), f"{float(v):.1f}"]
                                                for k, v in t.items()]))
    else:
        out.append("No timings were recorded in this run.")
    return "\n".join(out) + "\n"


def _section_limits(m: dict[str, Any], level: int) -> str:
    out = [_h(level, "Limits")]
    o = _oracle(m)
    if o is not None:
        items = ["The data are synthetic: labels are drawn from a latent risk the generator knows, and the "
                 "measurements follow the patient's simulated state, not the label. Absolute numbers say how well "
                 "each method recovers that simulated risk, not how it would do in a hospital."]
    else:
        items = ["This dataset has no known true risk, so how far each model is from the best achievable ranking "
                 "cannot be measured; only the comparison between the models and with published figures remains."]
    lstm = m.get("lstm", {})
    if o is not None and lstm:
        gap = _v(o["auroc"]) - _v(lstm["auroc"])
        items.append(f"The LSTM's AUROC is {gap:.3f} below the true-risk oracle on the same test set: that much "
                     "ranking ability is left on the table.")
    cmp = m.get("comparison", {}).get("lstm_vs_lr")
    if cmp and cmp["auroc"]["ci_low"] <= 0 <= cmp["auroc"]["ci_high"]:
        items.append("The LSTM does not beat the benchmark logistic regression by a margin the test set can "
                     "resolve (the paired interval includes zero).")
    elif cmp and cmp["auroc"]["ci_high"] < 0:
        items.append("The benchmark logistic regression ranks patients better than the LSTM on this test set.")
    if lstm and "calibration" in lstm and lstm["calibration"].get("ece", 0) > 0.05:
        items.append(f"Even after isotonic calibration the ECE is {lstm['calibration']['ece']:.3f}.")
    if lstm and lstm.get("precision", 1) < 0.5:
        items.append(f"At the F1-optimal threshold, fewer than half of the flagged patients die (precision "
                     f"{lstm['precision']:.3f}): alarms would be mostly false.")
    kf = m.get("kfold")
    if kf and "lstm" in kf.get("summary", {}):
        items.append(f"Across folds the LSTM's AUROC varies with SD {kf['summary']['lstm']['auroc']['sd']:.3f}.")
    news = m.get("baselines", {}).get("news2", {}).get("notes", {})
    if news.get("consciousness_from_gcs"):
        items.append("The NEWS2-style score takes consciousness from the Glasgow coma scale (total below 15 counts as "
                     "not alert) and has no supplemental-oxygen data, so it is an adaptation (see chapter 7), and the "
                     "comparison with Rajkomar et al.'s early-warning score is only indicative.")
    else:
        items.append("No consciousness or supplemental-oxygen data exist here, so the NEWS2-style score is an "
                     "adaptation (see chapter 7), and the comparison with Rajkomar et al.'s early-warning score is "
                     "only indicative.")
    out += [f"- {t}" for t in items]
    return "\n".join(out) + "\n"


def render_report(metrics: dict[str, Any], anchors: tuple[dict[str, str], ...] = PUBLISHED_ANCHORS,
                  level: int = 2) -> str:
    """Markdown report of a mortality run from its metrics dict; headings start at `level`.

    Requires the `"lstm"` section (chapter 04); every other section says plainly when its part of the
    run is missing.
    """
    if "lstm" not in metrics:
        raise ValueError("metrics have no 'lstm' section: run chapters 03 and 04 first")
    if not 1 <= level <= 5:
        raise ValueError(f"heading level must be 1..5, got {level}")
    parts = [
        _section_model(metrics, level), _section_data(metrics, level), _section_metrics(metrics, level),
        _section_calibration(metrics, level), _section_threshold(metrics, level),
        _section_baselines(metrics, level), _section_kfold(metrics, level),
        _section_anchors(metrics, anchors, level), _section_timings(metrics, level),
        _section_limits(metrics, level),
    ]
    return "\n".join(parts)


# ---------------------------------------------------------------- comparison tables and summary file


def comparison_rows(models: dict[str, dict[str, Any]], oracle_auroc: float | None = None) -> list[dict[str, Any]]:
    """One row per model for the comparison table: AUROC/AUPRC with intervals, threshold metrics,
    Brier, ECE, and (when given) the true-risk oracle's AUROC and the share of it the model reaches."""
    rows = []
    for key, m in models.items():
        row: dict[str, Any] = {"model": MODEL_NAMES.get(key, key), "AUROC": _ci(m["auroc"]), "AUPRC": _ci(m["auprc"])}
        row.update({"recall": float(m["recall"]), "precision": float(m["precision"]), "F1": float(m["f1"]),
                    "Brier": float(m["brier"]), "ECE": float(m["ece"])})
        if oracle_auroc is not None:
            row["oracle AUROC"] = float(oracle_auroc)
            row["AUROC / oracle"] = _v(m["auroc"]) / oracle_auroc
        rows.append(row)
    return rows


SUMMARY_KEYS = ("auroc", "auprc", "recall", "precision", "specificity", "f1", "accuracy", "brier", "ece")


def metrics_summary(lstm: dict[str, Any], baseline: dict[str, Any], extra: dict[str, Any] | None = None
                    ) -> dict[str, Any]:
    """The replication's `metrics_summary.json`: deep-learning and baseline test metrics side by side,
    the relative improvement (%) of the former over the latter, and the threshold."""
    dl = {k: _v(lstm[k]) for k in SUMMARY_KEYS if k in lstm}
    bl = {k: _v(baseline[k]) for k in SUMMARY_KEYS if k in baseline}
    improvement = {k: 100 * (dl[k] - bl[k]) / abs(bl[k]) for k in dl if k in bl and bl[k]}
    out = {"deep_learning": dl, "baseline": bl, "improvement_percent": improvement,
           "optimal_threshold": float(lstm["threshold"]),
           "intervals": {name: {k: m[k] for k in ("auroc", "auprc")} for name, m in
                         (("deep_learning", lstm), ("baseline", baseline))}}
    out.update(extra or {})
    return out
